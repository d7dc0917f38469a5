"""Property-based tests (Hypothesis) for jaxtune.schedules: formulas, order, vmap, errors.

Each example draws a batch of ``B`` argument sets and ``M`` step counts. One jitted,
vmapped program per schedule (and number of piecewise boundaries) evaluates the whole
batch with traced arguments, so examples reuse it instead of tracing again; the same
arguments as concrete Python numbers go through the eager, validated path.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from jaxtune import schedules as S  # noqa: N812 (as in test_schedules.py)

B = 4  # argument sets per example
M = 16  # step counts per example
RTOL = 1e-6  # float32 against the float64 formula: a few roundings of 6e-8 each
LOW = 1e-30  # below it float32 loses relative precision (subnormals flush to 0 on CPU)
# No deadline (a first call compiles), no example database (no .hypothesis/ folder).
FAST = settings(max_examples=40, deadline=None, database=None)


@dataclass(frozen=True)
class Law:
    """One schedule: its builder, valid argument strategies and float64 formula.

    Attributes:
        build: the jaxtune function, called with keyword arguments.
        args: a strategy per argument, drawing valid concrete values.
        formula: ``(args, count) -> value`` in float64 NumPy; ``args`` hold arrays of
            shape ``(B, 1)`` (``(B, 1, L)`` for boundaries and scales), ``count`` shape
            ``(1, M)``.
    """

    build: Callable[..., optax.Schedule]
    args: dict[str, st.SearchStrategy]
    formula: Callable[[dict[str, np.ndarray], np.ndarray], np.ndarray]


def tau(count: np.ndarray, steps: np.ndarray) -> np.ndarray:
    """The 1-based epoch number of a 0-based step count: ``count // S + 1``."""
    return np.floor_divide(count, steps) + 1


def piecewise(a: dict[str, np.ndarray], count: np.ndarray) -> np.ndarray:
    """``alpha0 * prod(s_i for b_i <= count // S)``: the manual decay in float64."""
    done = np.floor_divide(count, a["steps_per_epoch"])[..., None] >= a["boundaries"]
    return a["init_value"] * np.prod(np.where(done, a["scales"], 1.0), axis=-1)


INIT = st.floats(-4, 1).map(lambda e: 10.0**e)  # 1e-4 .. 10, log-uniform
STEPS = st.integers(1, 1000)
LAWS: dict[str, Law] = {
    "constant": Law(
        S.constant_schedule, {"init_value": INIT}, lambda a, c: a["init_value"] + 0 * c
    ),
    "inverse_time": Law(
        S.inverse_time_decay,
        {
            "init_value": INIT,
            "decay_rate": st.just(0.0) | st.floats(0, 10),
            "steps_per_epoch": STEPS,
        },
        lambda a, c: a["init_value"] / (1 + a["decay_rate"] * tau(c, a["steps_per_epoch"])),
    ),
    "exponential": Law(
        S.exponential_decay,
        {"init_value": INIT, "steps_per_epoch": STEPS, "base": st.just(1.0) | st.floats(1e-3, 1)},
        lambda a, c: a["base"] ** tau(c, a["steps_per_epoch"]) * a["init_value"],
    ),
    "sqrt_epoch": Law(
        S.sqrt_epoch_decay,
        {"init_value": INIT, "steps_per_epoch": STEPS, "k": st.floats(1e-3, 10)},
        lambda a, c: a["k"] / np.sqrt(tau(c, a["steps_per_epoch"])) * a["init_value"],
    ),
    "sqrt_step": Law(
        S.sqrt_step_decay,
        {"init_value": INIT, "k": st.floats(1e-3, 10)},
        lambda a, c: a["k"] / np.sqrt(c + 1.0) * a["init_value"],
    ),
    "piecewise": Law(
        S.piecewise_decay,
        {"init_value": INIT, "steps_per_epoch": STEPS},  # + boundaries, scales: see below
        piecewise,
    ),
}
# Counts: near the start (epoch edges) and far out; sorted, so order can be checked.
COUNTS = st.lists(
    st.integers(0, 3000) | st.integers(0, 10**6), min_size=M - 1, max_size=M - 1
).map(lambda c: np.sort(np.asarray([0, *c], np.int32)))


@st.composite
def batches(draw: st.DrawFn, name: str) -> list[dict[str, Any]]:
    """``B`` valid argument sets for schedule ``name``, as concrete Python values.

    Args:
        draw: Hypothesis' draw function.
        name: a key of ``LAWS``.

    Returns:
        Keyword-argument dicts. Piecewise ones share one number ``L`` (0 to 3) of
        sorted boundaries (epochs 0 to 200) with scales in ``[1e-3, 1]``.
    """
    n = draw(st.integers(0, 3))
    rows = []
    for _ in range(B):
        row = {k: draw(s) for k, s in LAWS[name].args.items()}
        if name == "piecewise":
            row["boundaries"] = sorted(draw(st.lists(st.integers(0, 200), min_size=n, max_size=n)))
            row["scales"] = draw(st.lists(st.floats(1e-3, 1), min_size=n, max_size=n))
        rows.append(row)
    return rows


def stack(rows: list[dict[str, Any]]) -> dict[str, np.ndarray]:
    """Stacks argument sets into arrays: int32 for integer arguments, float32 otherwise."""
    dtype = {"steps_per_epoch": np.int32, "boundaries": np.int32}
    return {k: np.asarray([r[k] for r in rows], dtype.get(k, np.float32)) for k in rows[0]}


@functools.cache
def batched(name: str) -> Callable[[dict[str, jax.Array], jax.Array], jax.Array]:
    """One jitted program: schedule ``name`` vmapped over its (traced) arguments.

    Args:
        name: a key of ``LAWS``.

    Returns:
        ``(args, counts) -> values`` of shape ``(B, M)``; args hold arrays of shape
        ``(B,)`` or ``(B, L)``, counts shape ``(M,)``.
    """
    build = LAWS[name].build
    return jax.jit(jax.vmap(lambda args, counts: build(**args)(counts), in_axes=(0, None)))


def expected(name: str, args: dict[str, np.ndarray], counts: np.ndarray) -> np.ndarray:
    """The float64 formula, shape ``(B, M)``, from the float32 arguments the program saw.

    Rounding the arguments first keeps their own float32 error (raised to the power
    ``tau`` in an exponential decay) out of the comparison.
    """
    a = {k: v.astype(np.float64)[:, None] for k, v in args.items()}
    return LAWS[name].formula(a, counts.astype(np.float64)[None, :])


@pytest.mark.parametrize("name", list(LAWS))
@FAST
@given(data=st.data())
def test_schedule_is_its_formula_finite_positive_and_non_increasing(name, data):
    rows, counts = data.draw(batches(name)), data.draw(COUNTS)
    args = stack(rows)
    got = np.asarray(batched(name)(args, counts), np.float64)
    want = expected(name, args, counts)
    assert got.shape == (B, M) and np.all(np.isfinite(got))
    big = want >= LOW
    np.testing.assert_allclose(got[big], want[big], rtol=RTOL)
    assert np.all(got[big] > 0)
    assert np.all((got[~big] >= 0) & (got[~big] <= LOW))  # underflow only toward 0
    # d >= 0, base <= 1, k > 0, scales <= 1: the formulas never increase with count,
    # and neither do their float32 values (every operation rounds monotonically).
    assert np.all(np.diff(got, axis=1) <= 0)
    # Concrete Python arguments (validated, eager): the same values as the vmapped row.
    for row, values in zip(rows, got, strict=True):
        scalar = np.asarray(LAWS[name].build(**row)(jnp.asarray(counts)), np.float64)
        np.testing.assert_allclose(scalar, values, rtol=RTOL, atol=LOW)


# exponential_decay was a bug here: a concrete scalar tau took jnp.power's integer path.
@pytest.mark.parametrize("name", list(LAWS))
@settings(FAST, max_examples=15)
@given(data=st.data())
def test_scalar_count_gives_the_value_of_an_array_count(name, data):
    row, counts = data.draw(batches(name))[0], data.draw(COUNTS)[::5]
    schedule = LAWS[name].build(**row)
    array = np.asarray(schedule(jnp.asarray(counts)), np.float64)
    for count, value in zip(counts.tolist(), array, strict=True):
        assert float(schedule(count)) == pytest.approx(value, rel=RTOL, abs=LOW)


def test_exponential_decay_at_a_scalar_count_is_its_formula():
    schedule = S.exponential_decay(1.0, steps_per_epoch=1, base=0.999)
    want = float(np.float32(0.999)) ** 10_000  # tau = 9999 // 1 + 1
    assert float(schedule(jnp.asarray([9999]))[0]) == pytest.approx(want, rel=RTOL)  # passes
    assert float(schedule(9999)) == pytest.approx(want, rel=RTOL)  # was 4.51829e-05, 8e-5 off


@settings(FAST, max_examples=25)
@given(
    rows=st.tuples(*(batches(name) for name in LAWS)),
    index=st.lists(st.integers(0, len(LAWS) - 1), min_size=B, max_size=B),
    counts=COUNTS,
)
def test_switch_schedule_vmapped_over_the_index_picks_that_schedule(rows, index, counts):
    args = [stack(r) for r in rows]
    got = np.asarray(switched()(args, np.asarray(index, np.int32), counts))
    names = list(LAWS)
    want = {j: np.asarray(batched(names[j])(args[j], counts)) for j in set(index)}
    for i, j in enumerate(index):
        np.testing.assert_allclose(got[i], want[j][i], rtol=RTOL, atol=LOW)


@functools.cache
def switched() -> Callable:
    """One jitted program: ``switch_schedule`` over every law, vmapped over the index.

    Returns:
        ``(args per law, index (B,), counts (M,)) -> values (B, M)``.
    """

    def one(args: list[dict[str, jax.Array]], index: jax.Array, counts: jax.Array) -> jax.Array:
        schedules = [law.build(**a) for law, a in zip(LAWS.values(), args, strict=True)]
        return S.switch_schedule(index, schedules)(counts)

    return jax.jit(jax.vmap(one, in_axes=(0, 0, None)))


# -- invalid concrete arguments ------------------------------------------------------------

NAN_INF = st.sampled_from([math.nan, math.inf, -math.inf])
NOT_POSITIVE = st.floats(-1e30, 0) | NAN_INF
INVALID: dict[str, st.SearchStrategy] = {
    "init_value": NOT_POSITIVE,
    "k": NOT_POSITIVE,
    # Invalid in float32 too (the values may arrive as float32 arrays): -1e-50 is -0.0
    # there, 1 + 1e-9 is 1.0.
    "decay_rate": st.floats(-1e30, -1e-30) | NAN_INF,
    "base": st.floats(-1e30, 0) | st.floats(1.001, 1e30) | NAN_INF,
    "steps_per_epoch": st.integers(-(10**9), 0)
    | st.floats(-1e30, 0.5)
    | st.integers(1, 10**4).map(lambda v: v + 0.5)
    | st.sampled_from([math.nan, -math.inf, math.inf]),
    # One bad entry among valid ones: negative, or out of order.
    "boundaries": st.sampled_from([[-1, 3], [4, 2], [0, -5], [7, 6]]),
    "scales": st.sampled_from([[-0.5, 0.1], [0.5, math.nan], [math.inf, 0.5], [0.1, -1e-9]]),
}
VALID = {"init_value": 0.1, "decay_rate": 1.0, "steps_per_epoch": 7, "base": 0.9, "k": 2.0}
VALID |= {"boundaries": [2, 5], "scales": [0.1, 0.5]}
CASES = [(n, a) for n, law in LAWS.items() for a in law.args]
CASES += [("piecewise", "boundaries"), ("piecewise", "scales")]


@FAST
@given(
    case=st.sampled_from(CASES).flatmap(
        lambda c: st.tuples(st.just(c[0]), st.just(c[1]), INVALID[c[1]])
    ),
    wrap=st.sampled_from([lambda v: v, np.asarray, lambda v: np.asarray(v, np.float32)]),
)
@example(case=("sqrt_epoch", "steps_per_epoch", math.inf), wrap=lambda v: v)  # was a bug
def test_invalid_concrete_argument_raises_value_error_naming_it(case, wrap):
    name, arg, bad = case
    law = LAWS[name]
    kwargs = {k: VALID[k] for k in law.args}
    if name == "piecewise":
        kwargs |= {"boundaries": VALID["boundaries"], "scales": VALID["scales"]}
    kwargs[arg] = wrap(bad)
    with pytest.raises(ValueError, match=rf"^{re.escape(arg)} must be "):
        law.build(**kwargs)


@FAST
@given(n=st.integers(1, 6), index=st.integers(-(10**6), 10**6))
def test_switch_schedule_rejects_a_concrete_index_out_of_range(n, index):
    schedules = [S.constant_schedule(0.1 * (i + 1)) for i in range(n)]
    if 0 <= index < n:
        assert float(S.switch_schedule(index, schedules)(3)) == pytest.approx(0.1 * (index + 1))
    else:
        with pytest.raises(ValueError, match=r"^index must be in \[0, "):
            S.switch_schedule(index, schedules)
