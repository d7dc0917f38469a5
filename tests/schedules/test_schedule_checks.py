"""Tests for jaxtune.schedules' argument checks: each concrete bad value names its range."""

from __future__ import annotations

import jax
import pytest
from schedule_helpers import systems

from jaxtune import schedules as S  # noqa: N812 (short name for a long table)

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
        S.switch_schedule(6, systems(0.1))
    with pytest.raises(ValueError, match="index"):
        S.switch_schedule(-1, systems(0.1))


def test_switch_index_wrong_type_and_empty() -> None:
    with pytest.raises(TypeError, match="index"):
        S.switch_schedule(1.5, systems(0.1))
    with pytest.raises(ValueError, match="at least one"):
        S.switch_schedule(0, [])


def test_string_argument_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="init_value"):
        S.constant_schedule("0.1")


def test_traced_values_are_not_checked() -> None:
    """Documented: a traced value is not validated (it cannot be without a host sync)."""
    value = jax.jit(lambda a: S.constant_schedule(a)(0))(-1.0)
    assert float(value) == -1.0
