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

Besides the six families, :func:`make_optimizer` takes any optax optimizer by name
(``"lion"``), an import path of a factory, or a callable returning an
``optax.GradientTransformation``: see :mod:`jaxtune.train.optax_any`. Its numeric
arguments are the trial's hyperparameter names, and the decay factor scales it the same
way.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax
from optax import tree_utils as otu

from jaxtune import hyperparams, schedules
from jaxtune.train.optax_any import AnyOptimizer

__all__ = [
    "DECAY_SYSTEMS",
    "FAMILIES",
    "HYPERPARAMS",
    "OPTIMIZER_DEFAULTS",
    "AnyOptimizer",
    "Decay",
    "decay_factor",
    "learning_rate_at",
    "make_optimizer",
    "resolve_optimizer",
]

# family -> (optax factory, {trial hyperparameter: the factory's argument}, fixed arguments)
_OPTAX: dict[str, tuple[Any, dict[str, str], dict[str, Any]]] = {
    "sgd": (optax.sgd, {"learning_rate": "learning_rate"}, {}),
    "momentum": (optax.sgd, {"learning_rate": "learning_rate", "momentum": "momentum"}, {}),
    "nesterov": (
        optax.sgd,
        {"learning_rate": "learning_rate", "momentum": "momentum"},
        {"nesterov": True},
    ),
    "rmsprop": (
        optax.rmsprop,
        {"learning_rate": "learning_rate", "rms_decay": "decay", "eps": "eps"},
        {},
    ),
    "adam": (optax.adam, {k: k for k in ("learning_rate", "b1", "b2", "eps")}, {}),
    "adamw": (
        optax.adamw,
        {k: k for k in ("learning_rate", "b1", "b2", "eps", "weight_decay")},
        {},
    ),
}
assert tuple(_OPTAX) == hyperparams.OPTIMIZERS  # the table names the same families

#: Optimizer families and the traced hyperparameters each one reads.
FAMILIES: dict[str, tuple[str, ...]] = {f: tuple(names) for f, (_, names, _) in _OPTAX.items()}

#: Decay systems, in the order a traced ``decay_system`` index refers to by default.
DECAY_SYSTEMS: tuple[str, ...] = hyperparams.DECAY_SYSTEMS

#: Values used for a hyperparameter a trial does not set (Adam's from the paper).
OPTIMIZER_DEFAULTS: dict[str, float] = hyperparams.defaults("traced")

#: Every numeric optimizer or decay hyperparameter a trial may carry.
HYPERPARAMS: tuple[str, ...] = hyperparams.TRACED


#: What names an optimizer: a family, an optax name or import path, a factory.
Optimizer = str | Callable[..., optax.GradientTransformation] | AnyOptimizer


def resolve_optimizer(optimizer: Optimizer) -> str | AnyOptimizer:
    """A family name as it is, anything else as an :class:`AnyOptimizer`.

    Args:
        optimizer: one of :data:`FAMILIES` (trial names mapped as in the family, e.g.
            ``rms_decay``), the name of an optax optimizer (``"lion"``), an import path
            ``"package.module:factory"``, or a callable returning an
            ``optax.GradientTransformation`` (``optax.lion``, a user's factory).

    Raises:
        ValueError: an unknown name, naming it.

    Examples:
        >>> resolve_optimizer("adam"), resolve_optimizer("lion").name
        ('adam', 'lion')
        >>> resolve_optimizer("nosuch")
        Traceback (most recent call last):
        ...
        ValueError: optimizer must be one of [...] or an optax optimizer, got 'nosuch'...
    """
    if isinstance(optimizer, AnyOptimizer) or (
        isinstance(optimizer, str) and optimizer in FAMILIES
    ):
        return optimizer
    try:
        return AnyOptimizer.resolve(optimizer)
    except ValueError as e:
        if isinstance(optimizer, str) and "has no optimizer" in str(e):
            raise ValueError(
                f"optimizer must be one of {sorted(FAMILIES)} or an optax optimizer, "
                f"got {optimizer!r} (optax has no optimizer of that name)"
            ) from None
        raise


class Decay(NamedTuple):
    """The static side of the decay systems; a trial's numbers pick and shape one.

    Attributes:
        systems: names from :data:`DECAY_SYSTEMS`; a trial's ``decay_system`` indexes them.
        boundaries: epochs at which the ``"piecewise"`` system multiplies the rate.
        scales: its factors, one per boundary.
    """

    systems: tuple[str, ...] = DECAY_SYSTEMS
    boundaries: tuple[int, ...] = ()
    scales: tuple[float, ...] = ()

    def factor(self, hparams: Mapping[str, Any], steps_per_epoch: int) -> optax.Schedule:
        """:func:`decay_factor` of a trial under these settings."""
        return decay_factor(
            hparams,
            steps_per_epoch,
            systems=self.systems,
            boundaries=self.boundaries,
            scales=self.scales,
        )


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

    Examples:
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
    family: Optimizer,
    hparams: Mapping[str, Any],
    steps_per_epoch: int,
    *,
    systems: Sequence[str] = DECAY_SYSTEMS,
    boundaries: Sequence[int] = (),
    scales: Sequence[float] = (),
    factor: optax.Schedule | None = None,
) -> optax.GradientTransformation:
    """An optax optimizer of a static family with traced hyperparameters.

    Args:
        family: one of :data:`FAMILIES` (static: it changes the program), or any
            optimizer :func:`resolve_optimizer` takes (``"lion"``, ``optax.lion``, a
            factory): then the trial's names are the factory's argument names.
        hparams: the trial's numbers, possibly traced; missing ones take
            :data:`OPTIMIZER_DEFAULTS` (a family) or the factory's defaults. Keys the
            optimizer does not read are ignored.
        steps_per_epoch: mini-batches per epoch (static).
        systems: decay systems the ``decay_system`` index refers to.
        boundaries: epoch boundaries of the ``"piecewise"`` system.
        scales: its cumulative factors.
        factor: the trial's decay factor when the caller built it already (then
            ``systems``, ``boundaries`` and ``scales`` are not read).

    Returns:
        ``optax.chain(inject_hyperparams(family)(...), scale_by_schedule(decay factor))``.
        Its first state holds the family's numbers, ``learning_rate`` among them, so
        :func:`jaxtune.set_hyperparams` changes them between epochs.

    Examples:
        >>> import jax.numpy as jnp, jaxtune.optimizers as O
        >>> opt = O.make_optimizer("adam", {"learning_rate": 0.1}, steps_per_epoch=10)
        >>> state = opt.init(jnp.zeros(2))
        >>> sorted(state[0].hyperparams)
        ['b1', 'b2', 'eps', 'eps_root', 'learning_rate']
        >>> opt = O.make_optimizer(optax.lion, {"learning_rate": 0.1, "b2": 0.9}, 10)
        >>> sorted(opt.init(jnp.zeros(2))[0].hyperparams)
        ['b2', 'learning_rate']
    """
    resolved = resolve_optimizer(family)
    hp = {**OPTIMIZER_DEFAULTS, **hparams}
    if isinstance(resolved, AnyOptimizer):
        inner = resolved.transformation(hparams)
    else:
        factory, names, fixed = _OPTAX[resolved]
        inner = optax.inject_hyperparams(factory)(
            **{arg: hp[name] for name, arg in names.items()}, **fixed
        )
    if factor is None:
        factor = decay_factor(
            hp, steps_per_epoch, systems=systems, boundaries=boundaries, scales=scales
        )
    return optax.chain(inner, optax.scale_by_schedule(factor))


def learning_rate_at(opt_state: optax.OptState, factor: optax.Schedule) -> jax.Array:
    """The learning rate the next update of a :func:`make_optimizer` state will use.

    Reads the outermost ``inject_hyperparams`` state's ``learning_rate`` and the outermost
    ``scale_by_schedule`` count, so a user's factory that nests its own is fine.

    Examples:
        >>> import jax.numpy as jnp, jaxtune.optimizers as O
        >>> hp = {"learning_rate": 0.1, "decay_system": 1, "decay_rate": 1.0}
        >>> state = O.make_optimizer("lion", hp, 10).init(jnp.zeros(2))
        >>> round(float(O.learning_rate_at(state, O.decay_factor(hp, 10))), 6)
        0.05
    """
    count = _outermost(opt_state, "count", _in_schedule_state)
    return jnp.asarray(_outermost(opt_state, "learning_rate", _in_hyperparams)) * factor(count)


def _outermost(tree: Any, key: str, filtering: Callable[..., bool]) -> Any:
    found = otu.tree_get_all_with_path(tree, key, filtering)
    if not found:
        raise KeyError(f"no {key!r} in this optimizer state")
    return min(found, key=lambda pair: len(pair[0]))[1]


def _in_hyperparams(path: tuple[Any, ...], _: Any) -> bool:
    return len(path) >= 2 and getattr(path[-2], "name", None) == "hyperparams"


def _in_schedule_state(path: tuple[Any, ...], _: Any) -> bool:
    return getattr(path[-1], "tuple_name", None) == "ScaleByScheduleState"
