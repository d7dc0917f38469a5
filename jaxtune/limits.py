"""The documented size limits: what jaxtune refuses before allocating anything.

Each limit is far above what a sweep on one machine uses, and far below what makes a
process allocate terabytes, abort in an XLA check or run for weeks without a word: a
value beyond it is refused in one line naming the argument and the allowed range,
where the value enters and before anything is written to disk.

Examples:
    >>> check_count("n_trials", 8, MAX_TRIALS)
    8
    >>> check_count("n_trials", 10**9, MAX_TRIALS)
    Traceback (most recent call last):
    ...
    ValueError: n_trials must be an integer in [1, 100000], got 1000000000
"""

from __future__ import annotations

import math
import numbers
from typing import Any

__all__ = [
    "MAX_CLASSES",
    "MAX_EPOCHS",
    "MAX_LR_FIND_STEPS",
    "MAX_SEEDS_PER_TRIAL",
    "MAX_TRIALS",
    "check_count",
    "check_seconds",
    "is_int",
]

#: Trials of one round (``n_trials``, ``--trials``, a zoom round, a Hyperband plan).
MAX_TRIALS = 100_000
#: Epochs of a trial (``epochs``, a scheduler's ``max_epochs``).
MAX_EPOCHS = 10_000
#: Classes of a classification dataset (its largest label + 1): the output layer's width.
MAX_CLASSES = 10_000
#: Seeds trained per trial (``task.seeds_per_trial``, ``lr-find --seeds``).
MAX_SEEDS_PER_TRIAL = 1_000
#: Mini-batches of a learning-rate range test (``lr-find --steps``).
MAX_LR_FIND_STEPS = 100_000


def is_int(value: Any) -> bool:
    """Whether ``value`` is an integer (Python's or NumPy's), never a bool."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def check_count(name: str, value: Any, maximum: int, minimum: int = 1) -> int:
    """``value`` as an ``int`` if it is an integer in ``[minimum, maximum]``.

    Args:
        name: the argument, for the message.
        value: what was given (a NumPy integer is accepted).
        maximum: the largest value allowed.
        minimum: the smallest value allowed.

    Returns:
        ``int(value)``.

    Raises:
        ValueError: naming ``name`` and the allowed range.
    """
    if not is_int(value) or not minimum <= value <= maximum:
        raise ValueError(f"{name} must be an integer in [{minimum}, {maximum}], got {value!r}")
    return int(value)


def check_seconds(name: str, value: Any) -> float | None:
    """``value`` as a float if it is None or a finite number of seconds > 0.

    Examples:
        >>> check_seconds("timeout", 2), check_seconds("timeout", None)
        (2.0, None)
    """
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < math.inf:
        raise ValueError(f"{name} must be a number of seconds > 0 (or None), got {value!r}")
    return float(value)
