"""Learning-rate decay schedules whose every numeric argument may be traced.

Each function returns an :data:`optax.Schedule`: a pure function ``count -> learning
rate`` that works under :func:`jax.jit`, :func:`jax.vmap` and :func:`jax.grad`. optax's own
``exponential_decay`` and ``warmup_cosine_decay_schedule`` branch in Python on their
arguments and raise ``TracerBoolConversionError`` when one of them is traced; nothing here
does, so a sweep can vmap over the initial rate, the decay rate, the base, ``k``, the
number of steps per epoch, the boundaries and scales of a manual decay, and even over the
choice of decay system (:func:`switch_schedule`).

Conventions, as in the course notes. optax's step ``count`` starts at 0; with ``S`` steps
per epoch the epoch number and mini-batch number both start at 1:

.. math::

    \\tau = \\lfloor \\mathrm{count} / S \\rfloor + 1, \\qquad t = \\mathrm{count} + 1.

So the very first update already uses the decayed value for ``tau = 1`` (for example
``alpha0 / (1 + d)`` for inverse-time decay), exactly as the formulas are written.

Validation: a concrete (Python or NumPy) argument outside its range raises ``ValueError``
naming the argument and the range, at the moment the schedule is built. A traced argument
cannot be checked without a host round trip, so it is not: validate sampled values in the
search space, where they enter.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

__all__ = [
    "constant_schedule",
    "exponential_decay",
    "inverse_time_decay",
    "piecewise_decay",
    "sqrt_epoch_decay",
    "sqrt_step_decay",
    "switch_schedule",
]

ArrayLike = jax.typing.ArrayLike


# --------------------------------------------------------------------------- validation


def _concrete(value: Any) -> np.ndarray | None:
    """The value as a NumPy array, or None when it is traced (and cannot be checked)."""
    if isinstance(value, jax.core.Tracer):
        return None
    try:
        return np.asarray(value)
    except TypeError as err:  # e.g. a string or a dict
        raise TypeError(f"expected a number or array, got {type(value).__name__}") from err


def _check(name: str, value: Any, ok: Callable[[np.ndarray], np.ndarray], allowed: str) -> None:
    """Raise ValueError naming ``name`` and ``allowed`` if a concrete ``value`` is not ok."""
    try:
        arr = _concrete(value)
    except TypeError as err:
        raise TypeError(f"{name}: {err}") from None
    if arr is None:
        return
    if not np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.complexfloating):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    if not np.all(ok(arr)):
        raise ValueError(f"{name} must be {allowed}, got {value!r}")


def _check_positive(name: str, value: Any) -> None:
    _check(name, value, lambda a: np.isfinite(a) & (a > 0), "a finite number > 0")


def _check_steps(value: Any) -> None:
    _check(
        "steps_per_epoch",
        value,
        lambda a: np.isfinite(a) & (a >= 1) & (a == np.floor(a)),
        "an integer >= 1",
    )


def _epoch(count: ArrayLike, steps_per_epoch: ArrayLike) -> jax.Array:
    """The 1-based epoch number tau of a 0-based step count."""
    return jnp.floor_divide(count, steps_per_epoch) + 1


# --------------------------------------------------------------------------- schedules


def constant_schedule(init_value: ArrayLike) -> optax.Schedule:
    """A constant learning rate (no decay).

    .. math::

        \\alpha = \\alpha_0

    Args:
        init_value: alpha0, > 0; may be traced.

    Returns:
        A schedule ``count -> init_value`` (broadcast to the shape of ``count``).

    Examples:
        >>> import jaxtune
        >>> sched = jaxtune.constant_schedule(0.1)
        >>> print(round(float(sched(0)), 6), round(float(sched(1000)), 6))
        0.1 0.1
    """
    _check_positive("init_value", init_value)

    def schedule(count: ArrayLike) -> jax.Array:
        return init_value * jnp.ones(jnp.shape(count))

    return schedule


def inverse_time_decay(
    init_value: ArrayLike, decay_rate: ArrayLike, steps_per_epoch: ArrayLike
) -> optax.Schedule:
    """Inverse-time decay per epoch.

    .. math::

        \\alpha = \\frac{\\alpha_0}{1 + d \\, \\tau},
        \\qquad \\tau = \\lfloor \\mathrm{count} / S \\rfloor + 1

    The first step (count 0, tau 1) gets ``alpha0 / (1 + d)``.

    Args:
        init_value: alpha0, > 0.
        decay_rate: d, >= 0 (0 means no decay).
        steps_per_epoch: S, an integer >= 1.

    Returns:
        A schedule ``count -> learning rate``.

    Examples:
        >>> import jaxtune
        >>> sched = jaxtune.inverse_time_decay(0.1, decay_rate=1.0, steps_per_epoch=10)
        >>> [round(float(sched(c)), 6) for c in (0, 9, 10, 20)]
        [0.05, 0.05, 0.033333, 0.025]
    """
    _check_positive("init_value", init_value)
    _check("decay_rate", decay_rate, lambda a: np.isfinite(a) & (a >= 0), "a finite number >= 0")
    _check_steps(steps_per_epoch)

    def schedule(count: ArrayLike) -> jax.Array:
        return init_value / (1 + decay_rate * _epoch(count, steps_per_epoch))

    return schedule


def exponential_decay(
    init_value: ArrayLike, steps_per_epoch: ArrayLike, base: ArrayLike = 0.95
) -> optax.Schedule:
    """Exponential decay per epoch.

    .. math::

        \\alpha = b^{\\tau} \\, \\alpha_0,
        \\qquad \\tau = \\lfloor \\mathrm{count} / S \\rfloor + 1

    The first step gets ``base * alpha0``. Unlike ``optax.exponential_decay``, ``base``
    may be traced.

    Args:
        init_value: alpha0, > 0.
        steps_per_epoch: S, an integer >= 1.
        base: b, in (0, 1] (1 means no decay). The course notes use 0.95.

    Returns:
        A schedule ``count -> learning rate``.

    Examples:
        >>> import jaxtune
        >>> sched = jaxtune.exponential_decay(0.1, steps_per_epoch=10, base=0.5)
        >>> [round(float(sched(c)), 6) for c in (0, 10, 25)]
        [0.05, 0.025, 0.0125]
    """
    _check_positive("init_value", init_value)
    _check_steps(steps_per_epoch)
    _check("base", base, lambda a: (a > 0) & (a <= 1), "in (0, 1]")

    def schedule(count: ArrayLike) -> jax.Array:
        # A float exponent: a concrete integer one takes jnp's repeated-multiplication path,
        # whose rounding grows with tau (1e-4 relative at tau = 1e4).
        tau = _epoch(count, steps_per_epoch).astype(jnp.result_type(float))
        return jnp.power(base, tau) * init_value

    return schedule


def sqrt_epoch_decay(
    init_value: ArrayLike, steps_per_epoch: ArrayLike, k: ArrayLike = 1.0
) -> optax.Schedule:
    """Square-root decay per epoch.

    .. math::

        \\alpha = \\frac{k}{\\sqrt{\\tau}} \\, \\alpha_0,
        \\qquad \\tau = \\lfloor \\mathrm{count} / S \\rfloor + 1

    The whole first epoch gets ``k * alpha0``.

    Args:
        init_value: alpha0, > 0.
        steps_per_epoch: S, an integer >= 1.
        k: the constant k, > 0.

    Returns:
        A schedule ``count -> learning rate``.

    Examples:
        >>> import jaxtune
        >>> sched = jaxtune.sqrt_epoch_decay(0.1, steps_per_epoch=10, k=1.0)
        >>> [round(float(sched(c)), 6) for c in (0, 9, 30)]
        [0.1, 0.1, 0.05]
    """
    _check_positive("init_value", init_value)
    _check_steps(steps_per_epoch)
    _check_positive("k", k)

    def schedule(count: ArrayLike) -> jax.Array:
        return k / jnp.sqrt(_epoch(count, steps_per_epoch)) * init_value

    return schedule


def sqrt_step_decay(init_value: ArrayLike, k: ArrayLike = 1.0) -> optax.Schedule:
    """Square-root decay per mini-batch.

    .. math::

        \\alpha = \\frac{k}{\\sqrt{t}} \\, \\alpha_0, \\qquad t = \\mathrm{count} + 1

    The first step gets ``k * alpha0``.

    Args:
        init_value: alpha0, > 0.
        k: the constant k, > 0.

    Returns:
        A schedule ``count -> learning rate``.

    Examples:
        >>> import jaxtune
        >>> sched = jaxtune.sqrt_step_decay(0.1, k=2.0)
        >>> [round(float(sched(c)), 6) for c in (0, 3, 99)]
        [0.2, 0.1, 0.02]
    """
    _check_positive("init_value", init_value)
    _check_positive("k", k)

    def schedule(count: ArrayLike) -> jax.Array:
        return k / jnp.sqrt(jnp.asarray(count) + 1) * init_value

    return schedule


def piecewise_decay(
    init_value: ArrayLike,
    steps_per_epoch: ArrayLike,
    boundaries: Sequence[int] | ArrayLike,
    scales: Sequence[float] | ArrayLike,
) -> optax.Schedule:
    """Manual decay written down ahead of time, in epochs.

    With the 0-based epoch index ``e = count // S`` (that is ``tau - 1``), the rate is
    multiplied by ``scales[i]`` once ``boundaries[i]`` whole epochs are done, cumulatively
    (like ``optax.piecewise_constant_schedule``, but counted in epochs):

    .. math::

        \\alpha = \\alpha_0 \\prod_{i \\,:\\, e \\ge b_i} s_i,
        \\qquad e = \\lfloor \\mathrm{count} / S \\rfloor

    The first step gets ``alpha0`` unless a boundary is 0.

    Args:
        init_value: alpha0, > 0.
        steps_per_epoch: S, an integer >= 1.
        boundaries: epoch counts b_i, sorted, >= 0; a sequence or a 1-D array (traced
            arrays allowed, of a fixed length).
        scales: factors s_i >= 0, one per boundary.

    Returns:
        A schedule ``count -> learning rate``.

    Examples:
        >>> import jaxtune
        >>> sched = jaxtune.piecewise_decay(
        ...     1.0, steps_per_epoch=10, boundaries=[2, 5], scales=[0.1, 0.5]
        ... )
        >>> [round(float(sched(c)), 6) for c in (0, 19, 20, 49, 50)]
        [1.0, 1.0, 0.1, 0.1, 0.05]
    """
    _check_positive("init_value", init_value)
    _check_steps(steps_per_epoch)
    if np.ndim(boundaries) != 1 or np.ndim(scales) != 1:
        raise ValueError(
            "boundaries and scales must be 1-D sequences, got shapes "
            f"{np.shape(boundaries)} and {np.shape(scales)}"
        )
    if np.shape(boundaries) != np.shape(scales):
        raise ValueError(
            "boundaries and scales must have the same length, got "
            f"{np.shape(boundaries)[0]} and {np.shape(scales)[0]}"
        )
    _check(
        "boundaries",
        boundaries,
        lambda a: (a >= 0) & np.concatenate([[True], np.diff(a) >= 0]),
        "sorted (non-decreasing) epoch counts >= 0",
    )
    _check("scales", scales, lambda a: np.isfinite(a) & (a >= 0), "finite numbers >= 0")
    b = jnp.asarray(boundaries)
    s = jnp.asarray(scales)

    def schedule(count: ArrayLike) -> jax.Array:
        e = jnp.floor_divide(count, steps_per_epoch)
        # Compare every count with every boundary on a trailing axis.
        lead = (1,) * jnp.ndim(e)
        done = jnp.expand_dims(e, -1) >= jnp.reshape(b, (*lead, -1))
        return init_value * jnp.prod(jnp.where(done, jnp.reshape(s, (*lead, -1)), 1.0), axis=-1)

    return schedule


def switch_schedule(index: ArrayLike, schedules: Sequence[optax.Schedule]) -> optax.Schedule:
    """Pick one of several schedules by an integer index that may be traced.

    One compiled program can then sweep over the decay system itself: each trial carries
    its own index. All schedules are evaluated (each is a handful of scalar operations)
    and the chosen value is selected, which is what ``lax.switch`` does under ``vmap``
    anyway.

    .. math::

        \\alpha(\\mathrm{count}) = \\mathrm{schedules}[i](\\mathrm{count})

    Args:
        index: i, an integer in ``[0, len(schedules))``. A traced index out of range is
            clipped to the nearest end.
        schedules: the candidate schedules.

    Returns:
        A schedule ``count -> schedules[index](count)``.

    Examples:
        >>> import jaxtune
        >>> systems = [
        ...     jaxtune.constant_schedule(0.1),
        ...     jaxtune.sqrt_step_decay(0.1),
        ... ]
        >>> sched = jaxtune.switch_schedule(1, systems)
        >>> round(float(sched(3)), 6)
        0.05
    """
    schedules = tuple(schedules)
    if not schedules:
        raise ValueError("schedules must hold at least one schedule, got none")
    if not all(callable(s) for s in schedules):
        raise TypeError("schedules must be callables count -> learning rate")
    arr = _concrete(index)
    if arr is not None:
        if arr.ndim != 0 or not np.issubdtype(arr.dtype, np.integer):
            raise TypeError(f"index must be a scalar integer, got {index!r}")
        if not 0 <= int(arr) < len(schedules):
            raise ValueError(
                f"index must be in [0, {len(schedules) - 1}] "
                f"(one of {len(schedules)} schedules), got {int(arr)}"
            )

    def schedule(count: ArrayLike) -> jax.Array:
        values = jnp.stack([jnp.broadcast_to(s(count), jnp.shape(count)) for s in schedules])
        return jnp.take(values, index, axis=0, mode="clip")

    return schedule
