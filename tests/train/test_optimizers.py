"""Tests for jaxtune.optimizers: each family and decay system against optax itself."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxtune import optimizers as O  # noqa: N812
from jaxtune import schedules

STEPS = 5
HP = {
    "learning_rate": 0.03,
    "momentum": 0.8,
    "rms_decay": 0.85,
    "b1": 0.8,
    "b2": 0.99,
    "eps": 1e-6,
    "weight_decay": 0.01,
    "decay_rate": 0.5,
    "decay_base": 0.9,
    "decay_k": 1.5,
}


def _reference_schedule(system: str, lr: float) -> optax.Schedule:
    return {
        "none": schedules.constant_schedule(lr),
        "inverse_time": schedules.inverse_time_decay(lr, HP["decay_rate"], STEPS),
        "exponential": schedules.exponential_decay(lr, STEPS, HP["decay_base"]),
        "sqrt_epoch": schedules.sqrt_epoch_decay(lr, STEPS, HP["decay_k"]),
        "sqrt_step": schedules.sqrt_step_decay(lr, HP["decay_k"]),
        "piecewise": schedules.piecewise_decay(lr, STEPS, [1, 3], [0.5, 0.2]),
    }[system]


def _reference_optimizer(family: str, sched: optax.Schedule) -> optax.GradientTransformation:
    return {
        "sgd": lambda: optax.sgd(sched),
        "momentum": lambda: optax.sgd(sched, momentum=HP["momentum"]),
        "nesterov": lambda: optax.sgd(sched, momentum=HP["momentum"], nesterov=True),
        "rmsprop": lambda: optax.rmsprop(sched, decay=HP["rms_decay"], eps=HP["eps"]),
        "adam": lambda: optax.adam(sched, b1=HP["b1"], b2=HP["b2"], eps=HP["eps"]),
        "adamw": lambda: optax.adamw(
            sched, b1=HP["b1"], b2=HP["b2"], eps=HP["eps"], weight_decay=HP["weight_decay"]
        ),
    }[family]()


def _trajectory(opt: optax.GradientTransformation, steps: int = 4 * STEPS) -> jax.Array:
    def grad(w):
        return jnp.array([1.0, 10.0, 0.5]) * w + jnp.array([0.1, -0.2, 0.3])

    def step(carry, _):
        w, state = carry
        updates, state = opt.update(grad(w), state, w)
        w = optax.apply_updates(w, updates)
        return (w, state), w

    w0 = jnp.array([1.0, -1.0, 2.0])
    return jax.lax.scan(step, (w0, opt.init(w0)), None, length=steps)[1]


@pytest.mark.parametrize("family", sorted(O.FAMILIES))
@pytest.mark.parametrize("system", O.DECAY_SYSTEMS)
def test_family_and_system_equal_optax_with_the_schedule(family: str, system: str) -> None:
    hp = {**HP, "decay_system": O.DECAY_SYSTEMS.index(system)}
    ours = jax.jit(
        lambda hp: _trajectory(
            O.make_optimizer(family, hp, STEPS, boundaries=(1, 3), scales=(0.5, 0.2))
        )
    )(hp)
    ref = _trajectory(
        _reference_optimizer(family, _reference_schedule(system, HP["learning_rate"]))
    )
    np.testing.assert_allclose(np.asarray(ours), np.asarray(ref), rtol=1e-5, atol=1e-7)


def test_every_number_vmaps_in_one_program() -> None:
    """One compiled program for 6 trials that differ in every number and decay system."""
    n = len(O.DECAY_SYSTEMS)
    batch = {k: jnp.full((n,), v) for k, v in HP.items()}
    batch["learning_rate"] = jnp.linspace(0.01, 0.06, n)
    batch["decay_system"] = jnp.arange(n)
    got = jax.vmap(lambda hp: _trajectory(O.make_optimizer("adam", hp, STEPS)))(batch)
    for i, system in enumerate(O.DECAY_SYSTEMS):
        lr = float(batch["learning_rate"][i])
        sched = _reference_schedule(system, lr) if system != "piecewise" else None
        if sched is None:  # no boundaries given: piecewise falls back to constant
            sched = schedules.constant_schedule(lr)
        ref = _trajectory(_reference_optimizer("adam", sched))
        np.testing.assert_allclose(np.asarray(got[i]), np.asarray(ref), rtol=1e-5, atol=1e-7)


def test_defaults_are_adam_paper_values() -> None:
    state = O.make_optimizer("adam", {}, STEPS).init(jnp.zeros(2))
    hp = {k: float(v) for k, v in state[0].hyperparams.items()}
    assert hp["b1"] == pytest.approx(0.9)
    assert hp["b2"] == pytest.approx(0.999)
    assert hp["eps"] == pytest.approx(1e-8)


def test_learning_rate_at_follows_manual_change() -> None:
    opt = O.make_optimizer("momentum", {"learning_rate": 0.1, "decay_system": 1}, STEPS)
    factor = O.decay_factor({"decay_system": 1}, STEPS)
    state = opt.init(jnp.zeros(2))
    np.testing.assert_allclose(float(O.learning_rate_at(state, factor)), 0.1 / 2, rtol=1e-6)
    state = schedules.set_hyperparams(state, learning_rate=0.01)
    np.testing.assert_allclose(float(O.learning_rate_at(state, factor)), 0.01 / 2, rtol=1e-6)


def test_unknown_family_and_system() -> None:
    with pytest.raises(ValueError, match="optimizer must be one of"):
        O.make_optimizer("nosuch", {}, STEPS)  # lbfgs etc. are optax names now
    with pytest.raises(ValueError, match="decay systems must be among"):
        O.decay_factor({}, STEPS, systems=("cosine",))
