"""Optimizer families and decay systems whose every number is a traced hyperparameter.

A trial's optimizer is built from a *static* family name and a dict of *traced* numbers,
so one compiled program serves every learning rate, momentum, Adam beta, epsilon, weight
decay, decay system and decay parameter of a sweep.

The learning rate used at step ``count`` is

.. math::

    \\alpha(\\mathrm{count}) = \\alpha_0 \\cdot f_{s}(\\mathrm{count})

where ``alpha0`` (``learning_rate``) is held as a number in an
``optax.inject_hyperparams`` state, so :func:`jaxtune.set_hyperparams` can lower it by hand
(manual decay), and ``f_s`` is the decay factor of the trial's decay system ``s``: one of
:data:`DECAY_SYSTEMS`, built from :mod:`jaxtune.schedules` with ``init_value=1``. Every
schedule there is linear in its initial value, so scaling the optimizer's update by
``f_s(count)`` after the family's own transform equals passing the full schedule as the
family's ``learning_rate`` (weight decay in adamw is scaled too, as optax does).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import optax

from jaxtune import schedules

__all__ = [
    "DECAY_SYSTEMS",
    "FAMILIES",
    "HYPERPARAMS",
    "OPTIMIZER_DEFAULTS",
    "decay_factor",
    "learning_rate_at",
    "make_optimizer",
]

#: Optimizer families and the traced hyperparameters each one reads.
FAMILIES: dict[str, tuple[str, ...]] = {
    "sgd": ("learning_rate",),
    "momentum": ("learning_rate", "momentum"),
    "nesterov": ("learning_rate", "momentum"),
    "rmsprop": ("learning_rate", "rms_decay", "eps"),
    "adam": ("learning_rate", "b1", "b2", "eps"),
    "adamw": ("learning_rate", "b1", "b2", "eps", "weight_decay"),
}

#: Decay systems, in the order a traced ``decay_system`` index refers to by default.
DECAY_SYSTEMS: tuple[str, ...] = (
    "none",
    "inverse_time",
    "exponential",
    "sqrt_epoch",
    "sqrt_step",
    "piecewise",
)

#: Values used for a hyperparameter a trial does not set (Adam's from the paper).
OPTIMIZER_DEFAULTS: dict[str, float] = {
    "learning_rate": 0.01,
    "momentum": 0.9,
    "rms_decay": 0.9,
    "b1": 0.9,
    "b2": 0.999,
    "eps": 1e-8,
    "weight_decay": 1e-4,
    "decay_system": 0,
    "decay_rate": 1.0,  # d of inverse-time decay
    "decay_base": 0.95,  # base of exponential decay
    "decay_k": 1.0,  # k of the square-root decays
}

#: Every numeric optimizer or decay hyperparameter a trial may carry.
HYPERPARAMS: tuple[str, ...] = tuple(OPTIMIZER_DEFAULTS)


def decay_factor(
    hparams: Mapping[str, Any],
    steps_per_epoch: int,
    *,
    systems: Sequence[str] = DECAY_SYSTEMS,
    boundaries: Sequence[int] = (),
    scales: Sequence[float] = (),
) -> optax.Schedule:
    """The decay factor ``f_s(count)`` of a trial, ``alpha / alpha0``.

    Args:
        hparams: the trial's numbers (may be traced): ``decay_system`` (an index into
            ``systems``), ``decay_rate``, ``decay_base``, ``decay_k``; missing ones take
            :data:`OPTIMIZER_DEFAULTS`.
        steps_per_epoch: mini-batches per epoch (static).
        systems: names from :data:`DECAY_SYSTEMS`, in the order the index refers to.
        boundaries: epoch boundaries of the ``"piecewise"`` system (static).
        scales: its cumulative factors.

    Returns:
        A schedule ``count -> factor``, 1 at every step for ``"none"``.

    Example:
        >>> import jaxtune.optimizers as O
        >>> f = O.decay_factor({"decay_system": 1, "decay_rate": 1.0}, steps_per_epoch=10)
        >>> round(float(f(0)), 6), round(float(f(10)), 6)
        (0.5, 0.333333)
    """
    unknown = sorted(set(systems) - set(DECAY_SYSTEMS))
    if unknown or not systems:
        raise ValueError(f"decay systems must be among {list(DECAY_SYSTEMS)}, got {list(systems)}")
    hp = {**OPTIMIZER_DEFAULTS, **hparams}
    one = 1.0
    build = {
        "none": lambda: schedules.constant_schedule(one),
        "inverse_time": lambda: schedules.inverse_time_decay(
            one, hp["decay_rate"], steps_per_epoch
        ),
        "exponential": lambda: schedules.exponential_decay(one, steps_per_epoch, hp["decay_base"]),
        "sqrt_epoch": lambda: schedules.sqrt_epoch_decay(one, steps_per_epoch, hp["decay_k"]),
        "sqrt_step": lambda: schedules.sqrt_step_decay(one, hp["decay_k"]),
        "piecewise": lambda: (
            schedules.piecewise_decay(one, steps_per_epoch, boundaries, scales)
            if len(boundaries)
            else schedules.constant_schedule(one)
        ),
    }
    chosen = [build[name]() for name in systems]
    if len(chosen) == 1:
        return chosen[0]
    return schedules.switch_schedule(hp["decay_system"], chosen)


def make_optimizer(
    family: str,
    hparams: Mapping[str, Any],
    steps_per_epoch: int,
    *,
    systems: Sequence[str] = DECAY_SYSTEMS,
    boundaries: Sequence[int] = (),
    scales: Sequence[float] = (),
) -> optax.GradientTransformation:
    """An optax optimizer of a static family with traced hyperparameters.

    Args:
        family: one of :data:`FAMILIES` (static: it changes the program).
        hparams: the trial's numbers, possibly traced; missing ones take
            :data:`OPTIMIZER_DEFAULTS`. Keys the family does not read are ignored.
        steps_per_epoch: mini-batches per epoch (static).
        systems: decay systems the ``decay_system`` index refers to.
        boundaries: epoch boundaries of the ``"piecewise"`` system.
        scales: its cumulative factors.

    Returns:
        ``optax.chain(inject_hyperparams(family)(...), scale_by_schedule(decay factor))``.
        Its first state holds the family's numbers, ``learning_rate`` among them, so
        :func:`jaxtune.set_hyperparams` changes them between epochs.

    Example:
        >>> import jax.numpy as jnp, jaxtune.optimizers as O
        >>> opt = O.make_optimizer("adam", {"learning_rate": 0.1}, steps_per_epoch=10)
        >>> state = opt.init(jnp.zeros(2))
        >>> sorted(state[0].hyperparams)
        ['b1', 'b2', 'eps', 'eps_root', 'learning_rate']
    """
    if family not in FAMILIES:
        raise ValueError(f"optimizer must be one of {sorted(FAMILIES)}, got {family!r}")
    hp = {**OPTIMIZER_DEFAULTS, **hparams}
    lr = hp["learning_rate"]
    if family == "sgd":
        inner = optax.inject_hyperparams(optax.sgd)(learning_rate=lr)
    elif family in ("momentum", "nesterov"):
        inner = optax.inject_hyperparams(optax.sgd)(
            learning_rate=lr, momentum=hp["momentum"], nesterov=family == "nesterov"
        )
    elif family == "rmsprop":
        inner = optax.inject_hyperparams(optax.rmsprop)(
            learning_rate=lr, decay=hp["rms_decay"], eps=hp["eps"]
        )
    elif family == "adam":
        inner = optax.inject_hyperparams(optax.adam)(
            learning_rate=lr, b1=hp["b1"], b2=hp["b2"], eps=hp["eps"]
        )
    else:
        inner = optax.inject_hyperparams(optax.adamw)(
            learning_rate=lr,
            b1=hp["b1"],
            b2=hp["b2"],
            eps=hp["eps"],
            weight_decay=hp["weight_decay"],
        )
    factor = decay_factor(
        hp, steps_per_epoch, systems=systems, boundaries=boundaries, scales=scales
    )
    return optax.chain(inner, optax.scale_by_schedule(factor))


def learning_rate_at(opt_state: optax.OptState, factor: optax.Schedule) -> jax.Array:
    """The learning rate the next update of a :func:`make_optimizer` state will use."""
    inner, sched = opt_state[0], opt_state[1]
    return jnp.asarray(inner.hyperparams["learning_rate"]) * factor(sched.count)
