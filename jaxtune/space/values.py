"""The values a dimension is made of: argument checks and the sample dtypes' limits.

Used by :mod:`jaxtune.space.dimensions` and :mod:`jaxtune.space.discrete` to check what a
dimension is built from, before anything is sampled.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

Label = str | bool | int | float

# Samples are float32 and int32: values validated in float64 must survive that cast.
F32_MAX = float(np.finfo(np.float32).max)
F32_TINY = float(np.finfo(np.float32).tiny)  # smallest normal float32 (CPUs flush below)
F32_BELOW_1 = 1.0 - 2.0**-24  # largest float32 below 1
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
F32_ENDS = (-F32_MAX, F32_MAX, "float32 samples")
INT32_ENDS = (INT32_MIN, INT32_MAX, "int32 samples")


def as_real(cls: str, arg: str, value: Any) -> float:
    """Checks that ``value`` is a finite real number (bool excluded) and returns a float."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{cls}: {arg} must be a real number, got {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"{cls}: {arg} must be finite, got {value!r}")
    return float(value)


def check_sample(cls: str, arg: str, value: float, low: float, high: float, why: str) -> None:
    """Raises ValueError unless ``low <= value <= high``: what survives the sample dtype."""
    if not low <= value <= high:
        ends = ", ".join(str(e) if isinstance(e, int) else f"{e:.9g}" for e in (low, high))
        raise ValueError(f"{cls}: {arg} must lie in [{ends}] ({why}), got {value}")


def check_float32(cls: str, arg: str, value: float) -> None:
    """Raises ValueError unless float32 holds ``value``: in range, and 0 or a normal number.

    Examples:
        >>> check_float32("Fixed", "value", 1e-3)
        >>> check_float32("Fixed", "value", 1e-170)
        Traceback (most recent call last):
        ...
        ValueError: Fixed: value must be 0 or at least 1.17549435e-38 in size ...
    """
    check_sample(cls, arg, value, *F32_ENDS)
    if value != 0 and abs(value) < F32_TINY:  # silently sampled as 0.0 otherwise
        raise ValueError(
            f"{cls}: {arg} must be 0 or at least {F32_TINY:.9g} in size "
            f"(float32 samples; smaller ones flush to 0), got {value}"
        )


def check_static(cls: str, value: Any) -> None:
    """``TypeError`` unless ``static`` is a bool (``static=1`` is a slip, not a choice).

    Examples:
        >>> check_static("Choice", True)
        >>> check_static("Choice", 1)
        Traceback (most recent call last):
        ...
        TypeError: Choice: static must be True or False, got 1
    """
    if not isinstance(value, bool):
        raise TypeError(f"{cls}: static must be True or False, got {value!r}")


def static_text(dim: Any) -> str:
    """``", static=True"`` for the repr of a static dimension, else ``""``.

    Examples:
        >>> from types import SimpleNamespace
        >>> static_text(SimpleNamespace(static=True)), static_text(SimpleNamespace(static=False))
        (', static=True', '')
    """
    return ", static=True" if dim.static else ""


def as_integer(cls: str, arg: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{cls}: {arg} must be an int, got {value!r}")
    return int(value)


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


def plain(value: Any) -> Any:
    """NumPy scalars become the matching Python scalars (so TOML/JSON can write them)."""
    return value.item() if isinstance(value, np.generic) else value


def typed_values(values: tuple[Any, ...]) -> tuple[tuple[type, Any], ...]:
    return tuple((type(v), v) for v in values)


def check_count(n: Any, arg: str = "n") -> int:
    """Checks a number of points or samples: a concrete int >= 1 (static under jit)."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise TypeError(f"{arg} must be an int (static under jit), got {n!r}")
    if n < 1:
        raise ValueError(f"{arg} must be >= 1, got {n}")
    return int(n)


def check_margin(margin: Any) -> float:
    margin = as_real("zoom", "margin", margin)
    if not 0.0 <= margin <= 1.0:
        raise ValueError(f"zoom: margin must be in [0, 1] (unit coordinates), got {margin}")
    return margin
