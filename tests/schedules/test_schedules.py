"""Tests for jaxtune.schedules: formulas, jit, vmap, grad, optax integration, errors."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxtune import schedules as S  # noqa: N812 (short name for a long table)

STEPS = 7  # steps per epoch, deliberately not a power of two
COUNTS = (0, 1, STEPS - 1, STEPS, 10 * STEPS + 3)


def tau(count: int, steps: int = STEPS) -> int:
    return count // steps + 1


@dataclass(frozen=True)
class Case:
    """One schedule: how to build it from keyword arguments, and its formula in float64."""

    name: str
    build: Callable[..., optax.Schedule]
    kwargs: dict[str, Any]
    formula: Callable[..., float]
    swept: tuple[str, ...]  # the numeric arguments a sweep may vmap over

    def make(self, **override: Any) -> optax.Schedule:
        return self.build(**{**self.kwargs, **override})

    def expected(self, count: int, **override: Any) -> float:
        return self.formula(count, **{**self.kwargs, **override})


def _piecewise(c, init_value, steps_per_epoch, boundaries, scales):
    e = c // steps_per_epoch
    return init_value * math.prod(s for b, s in zip(boundaries, scales, strict=True) if e >= b)


CASES = [
    Case(
        "constant",
        S.constant_schedule,
        dict(init_value=0.3),
        lambda c, init_value: init_value,
        ("init_value",),
    ),
    Case(
        "inverse_time",
        S.inverse_time_decay,
        dict(init_value=0.3, decay_rate=0.5, steps_per_epoch=STEPS),
        lambda c, init_value, decay_rate, steps_per_epoch: (
            init_value / (1 + decay_rate * tau(c, steps_per_epoch))
        ),
        ("init_value", "decay_rate", "steps_per_epoch"),
    ),
    Case(
        "exponential",
        S.exponential_decay,
        dict(init_value=0.3, steps_per_epoch=STEPS, base=0.95),
        lambda c, init_value, steps_per_epoch, base: base ** tau(c, steps_per_epoch) * init_value,
        ("init_value", "steps_per_epoch", "base"),
    ),
    Case(
        "sqrt_epoch",
        S.sqrt_epoch_decay,
        dict(init_value=0.3, steps_per_epoch=STEPS, k=1.5),
        lambda c, init_value, steps_per_epoch, k: (
            k / math.sqrt(tau(c, steps_per_epoch)) * init_value
        ),
        ("init_value", "steps_per_epoch", "k"),
    ),
    Case(
        "sqrt_step",
        S.sqrt_step_decay,
        dict(init_value=0.3, k=1.5),
        lambda c, init_value, k: k / math.sqrt(c + 1) * init_value,
        ("init_value", "k"),
    ),
    Case(
        "piecewise",
        S.piecewise_decay,
        dict(init_value=0.3, steps_per_epoch=STEPS, boundaries=(1, 3, 10), scales=(0.5, 0.1, 0.2)),
        _piecewise,
        ("init_value", "steps_per_epoch", "boundaries", "scales"),
    ),
]
IDS = [c.name for c in CASES]

# Eight values per swept argument, all valid; boundaries/scales vary as whole vectors.
SWEEP_VALUES: dict[str, list[Any]] = {
    "init_value": [1e-4, 1e-3, 3e-3, 0.01, 0.03, 0.1, 0.3, 1.0],
    "decay_rate": [0.0, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0],
    "steps_per_epoch": [1, 2, 3, 5, 7, 8, 13, 100],
    "base": [0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 1.0],
    "k": [0.1, 0.25, 0.5, 1.0, 1.5, 2.0, 3.0, 10.0],
    "boundaries": [(i, i + 2, i + 9) for i in range(8)],
    "scales": [(0.1 * (i + 1), 0.5, 0.9) for i in range(8)],
}


# --------------------------------------------------------------------------- formulas


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_formula_under_jit(case: Case) -> None:
    sched = jax.jit(case.make())
    for count in COUNTS:
        got = float(sched(jnp.asarray(count, jnp.int32)))
        np.testing.assert_allclose(got, case.expected(count), rtol=1e-6, err_msg=f"count {count}")


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_array_of_counts(case: Case) -> None:
    """A whole curve at once, as a plot would ask for it."""
    counts = np.arange(12 * STEPS)
    got = np.asarray(case.make()(jnp.asarray(counts)))
    want = np.array([case.expected(int(c)) for c in counts])
    np.testing.assert_allclose(got, want, rtol=1e-6)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_vmap_over_each_argument(case: Case) -> None:
    count = jnp.asarray(10 * STEPS + 3)
    for arg in case.swept:
        values = SWEEP_VALUES[arg]
        batched = jax.vmap(lambda v, arg=arg: case.make(**{arg: v})(count))(jnp.asarray(values))
        separate = [float(case.make(**{arg: v})(count)) for v in values]
        np.testing.assert_allclose(np.asarray(batched), separate, rtol=1e-6, err_msg=arg)
        want = [case.expected(int(count), **{arg: v}) for v in values]
        np.testing.assert_allclose(np.asarray(batched), want, rtol=1e-6, err_msg=arg)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_grad_in_init_value(case: Case) -> None:
    """Every schedule is linear in alpha0, so d alpha / d alpha0 = alpha / alpha0."""
    grad = jax.grad(lambda a: case.make(init_value=a)(50))(0.3)
    np.testing.assert_allclose(float(grad), case.expected(50) / 0.3, rtol=1e-6)


def test_traces_once_for_many_decay_rates() -> None:
    traces = 0

    @jax.jit
    def lr(decay_rate, count):
        nonlocal traces
        traces += 1
        return S.inverse_time_decay(0.1, decay_rate, STEPS)(count)

    for d in np.linspace(0.0, 5.0, 100, dtype=np.float32):
        np.testing.assert_allclose(float(lr(d, 30)), 0.1 / (1 + d * tau(30)), rtol=1e-6)
    assert traces == 1


def test_traced_optax_counterpart_fails_but_ours_works() -> None:
    """The reason this module exists: optax branches on decay_rate in Python."""

    def ours(rate):
        return S.exponential_decay(0.1, STEPS, base=rate)(20)

    with pytest.raises(jax.errors.TracerBoolConversionError):
        jax.vmap(lambda r: optax.exponential_decay(0.1, STEPS, r)(20))(jnp.array([0.5, 0.9]))
    got = jax.vmap(ours)(jnp.array([0.5, 0.9]))
    np.testing.assert_allclose(np.asarray(got), [0.1 * 0.5**3, 0.1 * 0.9**3], rtol=1e-6)


# --------------------------------------------------------------------------- switch


def _systems(lr):
    return [
        S.constant_schedule(lr),
        S.inverse_time_decay(lr, 0.5, STEPS),
        S.exponential_decay(lr, STEPS, 0.9),
        S.sqrt_epoch_decay(lr, STEPS),
        S.sqrt_step_decay(lr),
        S.piecewise_decay(lr, STEPS, [2], [0.1]),
    ]


def test_switch_schedule_picks_each_system_under_jit_and_vmap() -> None:
    counts = jnp.arange(5 * STEPS)
    indices = jnp.arange(6)
    batched = jax.jit(jax.vmap(lambda i: S.switch_schedule(i, _systems(0.2))(counts)))(indices)
    for i, system in enumerate(_systems(0.2)):
        np.testing.assert_allclose(np.asarray(batched[i]), np.asarray(system(counts)), rtol=1e-6)


def test_switch_schedule_vmaps_over_index_and_rate_together() -> None:
    idx = jnp.array([0, 1, 4, 5])
    lrs = jnp.array([0.1, 0.2, 0.3, 0.4])
    got = jax.vmap(lambda i, a: S.switch_schedule(i, _systems(a))(3 * STEPS))(idx, lrs)
    want = [float(_systems(float(a))[int(i)](3 * STEPS)) for i, a in zip(idx, lrs, strict=True)]
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-6)


def test_switch_schedule_grad() -> None:
    grad = jax.grad(lambda a: S.switch_schedule(1, _systems(a))(50))(0.2)
    np.testing.assert_allclose(float(grad), 1 / (1 + 0.5 * tau(50)), rtol=1e-6)


# --------------------------------------------------------------------------- optax


def _quadratic_grad(w):
    # J(w) = 0.5 * sum(c * w**2): an elongated bowl.
    return jnp.array([1.0, 10.0]) * w


def _hand_sgd(case: Case, steps: int = 20) -> np.ndarray:
    w = np.array([1.0, -1.0])
    for count in range(steps):
        w = w - case.expected(count) * np.array([1.0, 10.0]) * w
    return w


def _hand_adam(case: Case, steps: int = 20, b1=0.9, b2=0.999, eps=1e-8) -> np.ndarray:
    # float32 like optax: Adam on an oscillating bowl amplifies float64-vs-float32 rounding.
    f = np.float32
    w, m, v = np.array([1.0, -1.0], f), np.zeros(2, f), np.zeros(2, f)
    for count in range(steps):
        g = np.array([1.0, 10.0], f) * w
        m = f(b1) * m + f(1 - b1) * g
        v = f(b2) * v + f(1 - b2) * g * g
        m_hat = m / f(1 - f(b1) ** (count + 1))
        v_hat = v / f(1 - f(b2) ** (count + 1))
        w = w - f(case.expected(count)) * (m_hat / (np.sqrt(v_hat) + f(eps)))
    return w


def _run_optax(opt: optax.GradientTransformation, steps: int = 20) -> np.ndarray:
    @jax.jit
    def train(w):
        def step(carry, _):
            w, state = carry
            updates, state = opt.update(_quadratic_grad(w), state, w)
            return (optax.apply_updates(w, updates), state), None

        (w, _), _ = jax.lax.scan(step, (w, opt.init(w)), None, length=steps)
        return w

    return np.asarray(train(jnp.array([1.0, -1.0])))


@pytest.mark.parametrize("case", CASES, ids=IDS)
@pytest.mark.parametrize("inject", [False, True], ids=["plain", "inject_hyperparams"])
def test_as_optax_sgd_learning_rate(case: Case, inject: bool) -> None:
    case = Case(case.name, case.build, {**case.kwargs, "init_value": 0.05}, case.formula, ())
    factory = optax.inject_hyperparams(optax.sgd) if inject else optax.sgd
    got = _run_optax(factory(learning_rate=case.make()))
    np.testing.assert_allclose(got, _hand_sgd(case), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("case", CASES, ids=IDS)
@pytest.mark.parametrize("inject", [False, True], ids=["plain", "inject_hyperparams"])
def test_as_optax_adam_learning_rate(case: Case, inject: bool) -> None:
    # A small rate keeps Adam away from the optimum, where its nearly sign-like steps
    # oscillate and amplify rounding differences between optax and this reference.
    case = Case(case.name, case.build, {**case.kwargs, "init_value": 0.01}, case.formula, ())
    factory = optax.inject_hyperparams(optax.adam) if inject else optax.adam
    got = _run_optax(factory(learning_rate=case.make()))
    np.testing.assert_allclose(got, _hand_adam(case), rtol=1e-5, atol=1e-6)


# --------------------------------------------------------------------------- errors


BAD = [
    (S.constant_schedule, dict(init_value=0.0), "init_value"),
    (S.constant_schedule, dict(init_value=-1.0), "init_value"),
    (S.inverse_time_decay, dict(init_value=-0.1, decay_rate=1.0, steps_per_epoch=5), "init_value"),
    (S.inverse_time_decay, dict(init_value=0.1, decay_rate=-1.0, steps_per_epoch=5), "decay_rate"),
    (S.inverse_time_decay, dict(init_value=0.1, decay_rate=1.0, steps_per_epoch=0), "steps_per"),
    (S.inverse_time_decay, dict(init_value=0.1, decay_rate=1.0, steps_per_epoch=2.5), "steps_per"),
    (S.exponential_decay, dict(init_value=0.1, steps_per_epoch=5, base=0.0), "base"),
    (S.exponential_decay, dict(init_value=0.1, steps_per_epoch=5, base=1.5), "base"),
    (S.exponential_decay, dict(init_value=0.1, steps_per_epoch=-3), "steps_per_epoch"),
    (S.sqrt_epoch_decay, dict(init_value=0.1, steps_per_epoch=5, k=0.0), "k"),
    (S.sqrt_epoch_decay, dict(init_value=0.0, steps_per_epoch=5), "init_value"),
    (S.sqrt_step_decay, dict(init_value=0.1, k=-2.0), "k"),
    (S.sqrt_step_decay, dict(init_value=float("nan")), "init_value"),
    (
        S.piecewise_decay,
        dict(init_value=0.1, steps_per_epoch=5, boundaries=[3, 1], scales=[0.1, 0.1]),
        "boundaries",
    ),
    (
        S.piecewise_decay,
        dict(init_value=0.1, steps_per_epoch=5, boundaries=[-1, 2], scales=[0.1, 0.1]),
        "boundaries",
    ),
    (
        S.piecewise_decay,
        dict(init_value=0.1, steps_per_epoch=5, boundaries=[1, 2], scales=[0.1]),
        "same length",
    ),
    (
        S.piecewise_decay,
        dict(init_value=0.1, steps_per_epoch=5, boundaries=[1], scales=[-0.1]),
        "scales",
    ),
]


@pytest.mark.parametrize(
    ("build", "kwargs", "match"),
    BAD,
    ids=[f"{b.__name__}-{m}-{i}" for i, (b, _, m) in enumerate(BAD)],
)
def test_invalid_concrete_value_raises(build, kwargs, match) -> None:
    with pytest.raises(ValueError, match=match) as info:
        build(**kwargs)
    # The message names the allowed range, not only the argument.
    assert any(w in str(info.value) for w in ("must be", "same length"))


def test_switch_index_out_of_range() -> None:
    with pytest.raises(ValueError, match=r"index must be in \[0, 5\]"):
        S.switch_schedule(6, _systems(0.1))
    with pytest.raises(ValueError, match="index"):
        S.switch_schedule(-1, _systems(0.1))


def test_switch_index_wrong_type_and_empty() -> None:
    with pytest.raises(TypeError, match="index"):
        S.switch_schedule(1.5, _systems(0.1))
    with pytest.raises(ValueError, match="at least one"):
        S.switch_schedule(0, [])


def test_string_argument_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="init_value"):
        S.constant_schedule("0.1")


def test_traced_values_are_not_checked() -> None:
    """Documented: a traced value is not validated (it cannot be without a host sync)."""
    value = jax.jit(lambda a: S.constant_schedule(a)(0))(-1.0)
    assert float(value) == -1.0


# --------------------------------------------------------------------------- set_hyperparams


def _train_steps(opt, state, w, steps):
    for _ in range(steps):
        updates, state = opt.update(_quadratic_grad(w), state, w)
        w = optax.apply_updates(w, updates)
    return w, state


def test_set_hyperparams_scales_next_update_exactly() -> None:
    opt = optax.inject_hyperparams(optax.sgd)(learning_rate=0.05, momentum=None)
    w = jnp.array([1.0, -1.0])
    w, state = _train_steps(opt, opt.init(w), w, 5)
    before, _ = opt.update(_quadratic_grad(w), state, w)
    lowered = S.set_hyperparams(state, learning_rate=0.005)
    after, _ = opt.update(_quadratic_grad(w), lowered, w)
    np.testing.assert_allclose(np.asarray(after), np.asarray(before) * 0.1, rtol=1e-6)
    # The original state is untouched (pure function).
    assert float(state.hyperparams["learning_rate"]) == pytest.approx(0.05)


def test_set_hyperparams_nested_in_chain_under_jit() -> None:
    opt = optax.chain(
        optax.clip_by_global_norm(10.0),
        optax.inject_hyperparams(optax.adam)(learning_rate=0.01, b1=0.9),
    )
    w = jnp.array([1.0, -1.0])
    state = opt.init(w)
    new = jax.jit(lambda s: S.set_hyperparams(s, learning_rate=1e-3, b1=0.5))(state)
    inner = new[1]
    assert float(inner.hyperparams["learning_rate"]) == pytest.approx(1e-3)
    assert float(inner.hyperparams["b1"]) == pytest.approx(0.5)
    assert jax.tree_util.tree_structure(new) == jax.tree_util.tree_structure(state)


def test_set_hyperparams_on_state_batched_over_trials() -> None:
    n = 8
    opt = optax.inject_hyperparams(optax.sgd)(learning_rate=0.05)
    w = jnp.tile(jnp.array([1.0, -1.0]), (n, 1))
    state = jax.vmap(opt.init)(w)
    update = jax.vmap(lambda g, s, p: opt.update(g, s, p)[0])
    before = update(jax.vmap(_quadratic_grad)(w), state, w)
    factors = jnp.linspace(0.1, 0.8, n)
    lowered = S.set_hyperparams(state, learning_rate=0.05 * factors)
    after = update(jax.vmap(_quadratic_grad)(w), lowered, w)
    np.testing.assert_allclose(
        np.asarray(after), np.asarray(before) * np.asarray(factors)[:, None], rtol=1e-6
    )
    # One value for every trial is broadcast.
    same = S.set_hyperparams(state, learning_rate=0.01)
    np.testing.assert_allclose(np.asarray(same.hyperparams["learning_rate"]), np.full(n, 0.01))


def test_set_hyperparams_unknown_name_lists_held_names() -> None:
    state = optax.inject_hyperparams(optax.adam)(learning_rate=0.1).init(jnp.zeros(2))
    with pytest.raises(ValueError, match=r"no hyperparameter 'lr'.*'learning_rate'"):
        S.set_hyperparams(state, lr=0.01)


def test_set_hyperparams_without_inject_state() -> None:
    state = optax.sgd(0.1).init(jnp.zeros(2))
    with pytest.raises(ValueError, match=r"no optax\.inject_hyperparams state"):
        S.set_hyperparams(state, learning_rate=0.01)


def test_set_hyperparams_refuses_scheduled_name() -> None:
    opt = optax.inject_hyperparams(optax.sgd)(learning_rate=S.sqrt_step_decay(0.1))
    state = opt.init(jnp.zeros(2))
    with pytest.raises(ValueError, match="driven by a schedule"):
        S.set_hyperparams(state, learning_rate=0.01)


def test_set_hyperparams_wrong_shape() -> None:
    opt = optax.inject_hyperparams(optax.sgd)(learning_rate=0.05)
    state = jax.vmap(opt.init)(jnp.zeros((4, 2)))
    with pytest.raises(ValueError, match=r"learning_rate: a value of shape \(3,\)"):
        S.set_hyperparams(state, learning_rate=jnp.ones(3))
