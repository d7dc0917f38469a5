"""Tests for jaxtune.schedules' decay schedules: formulas, jit, vmap, grad, optax integration.

Bad arguments are in ``test_schedule_checks.py``, manual decay (``set_hyperparams``) in
``test_manual_decay.py``.
"""

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
from schedule_helpers import STEPS, quadratic_grad, systems

from jaxtune import schedules as S  # noqa: N812 (short name for a long table)

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


def test_switch_schedule_picks_each_system_under_jit_and_vmap() -> None:
    counts = jnp.arange(5 * STEPS)
    indices = jnp.arange(6)
    batched = jax.jit(jax.vmap(lambda i: S.switch_schedule(i, systems(0.2))(counts)))(indices)
    for i, system in enumerate(systems(0.2)):
        np.testing.assert_allclose(np.asarray(batched[i]), np.asarray(system(counts)), rtol=1e-6)


def test_switch_schedule_vmaps_over_index_and_rate_together() -> None:
    idx = jnp.array([0, 1, 4, 5])
    lrs = jnp.array([0.1, 0.2, 0.3, 0.4])
    got = jax.vmap(lambda i, a: S.switch_schedule(i, systems(a))(3 * STEPS))(idx, lrs)
    want = [float(systems(float(a))[int(i)](3 * STEPS)) for i, a in zip(idx, lrs, strict=True)]
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-6)


def test_switch_schedule_grad() -> None:
    grad = jax.grad(lambda a: S.switch_schedule(1, systems(a))(50))(0.2)
    np.testing.assert_allclose(float(grad), 1 / (1 + 0.5 * tau(50)), rtol=1e-6)


# --------------------------------------------------------------------------- optax


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
            updates, state = opt.update(quadratic_grad(w), state, w)
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
