"""Checks of a search space against the built-in task, and the default sweep's space.

:func:`check_space` is what :meth:`jaxtune.Task.prepare` runs before anything is written
to disk: every name of the space must mean something to the task, and every value a
dimension can take must be allowed (:mod:`jaxtune.hyperparams`).
"""

from __future__ import annotations

import difflib
import math
import os
from typing import TYPE_CHECKING, Any

from jaxtune import hyperparams
from jaxtune.limits import MAX_CLASSES
from jaxtune.space import (
    Choice,
    Dimension,
    Fixed,
    IntUniform,
    LogUniform,
    OneMinusLogUniform,
    Space,
)
from jaxtune.train.optax_any import DECAY_HYPERPARAMS
from jaxtune.train.optimizers import FAMILIES

if TYPE_CHECKING:
    from jaxtune.sweep.task import Task

__all__ = [
    "bounds",
    "check_scheduled",
    "check_space",
    "check_task_objective",
    "check_task_sizes",
    "default_space",
]


def bounds(dim: Dimension) -> tuple[float, float]:
    """Smallest and largest numeric value of a dimension without labels.

    Examples:
        >>> bounds(Choice([32, 64])), bounds(LogUniform(1e-3, 1.0))
        ((32.0, 64.0), (0.001, 1.0))
    """
    if isinstance(dim, Fixed):
        return float(dim.value), float(dim.value)
    if isinstance(dim, Choice):
        return float(min(dim.values)), float(max(dim.values))
    return float(dim.low), float(dim.high)


def check_space(space: Space, task: Task, n_train: int | None = None) -> None:
    """Validate a space for the built-in task; raise ``ValueError`` naming the dimension.

    Every name must be a row of :data:`jaxtune.hyperparams.TABLE`, and every value the
    dimension can take must lie in that row's range (labels among its values). With an
    optax optimizer or factory (``task.optimizer`` not a family, and no ``optimizer``
    dimension), optimizer names must be the factory's numeric arguments; one that is not
    in the table is only checked to take finite numbers.

    Args:
        space: the search space.
        task: the task it is for.
        n_train: training-set size, to bound ``batch_size``.
    """
    spec = None if "optimizer" in space else task.optimizer_spec()
    takes = set(spec.arguments) if spec else set()
    trainer_names = {*DECAY_HYPERPARAMS, *hyperparams.MASKED, *hyperparams.STATIC}
    for name in space.names:
        dim = space[name]
        if spec is not None and name not in trainer_names and name not in takes:
            raise ValueError(
                f"space.{name}: optimizer {spec.name!r} takes no argument {name!r}; "
                f"it takes {list(spec.hyperparams)}"
            )
        if name not in hyperparams.TABLE and name in takes:
            _check_finite(name, dim)
            continue
        if name not in hyperparams.TABLE:
            raise ValueError(
                f"space: unknown hyperparameter {name!r}; known: {sorted(hyperparams.TABLE)}"
            )
        row = hyperparams.TABLE[name]
        if dim.static and row.kind != "static":
            raise ValueError(
                f"space.{name}: static=True is for a user's function; the built-in task "
                f"decides what is static ({', '.join(hyperparams.STATIC)}): leave it out"
            )
        if dim.labels is not None:
            bad = [v for v in dim.labels if v not in (row.values or ())]
            if bad:
                raise ValueError(f"space.{name}: {bad} not allowed; {row.range_text()}")
            continue
        if row.kind == "static" and row.values is not None:
            raise ValueError(f"space.{name}: values must be labels, {row.range_text()}")
        low, high = bounds(dim)
        hyperparams.check_bounds(name, low, high)
        if name == "batch_size" and n_train is not None and high > n_train:
            raise ValueError(
                f"space.batch_size: values must lie in [1, {n_train}] (the training set), "
                f"got [{low:g}, {high:g}]"
            )
        if row.integer and not isinstance(dim, IntUniform | Choice | Fixed):
            raise ValueError(f"space.{name}: must be an integer dimension (IntUniform, Choice)")
        if row.integer and isinstance(dim, Choice | Fixed):
            values = list(dim.values) if isinstance(dim, Choice) else [dim.value]
            bad = [v for v in values if isinstance(v, bool) or float(v) != math.floor(float(v))]
            if bad:
                raise ValueError(f"space.{name}: values must be integers, got {bad}")
    _check_optimizer_names(space, task, spec is None)
    if task.model != "mlp" and ({"hidden", "layers"} & set(space.names)):
        raise ValueError("space: hidden and layers apply to task.model='mlp' only")


def check_task_sizes(space: Space, task: Task, data: Any) -> None:
    """Sizes the built-in task would allocate, checked against its data and the limits.

    Runs in :meth:`jaxtune.Task.prepare`, before the store is created.

    Args:
        space: the sweep's space.
        task: the task.
        data: its loaded :class:`jaxtune.datasets.Dataset`.

    Raises:
        ValueError: ``task.batch_size`` larger than the training set, or a dataset
            with more than :data:`jaxtune.limits.MAX_CLASSES` classes.
    """
    n_train = int(data.x_train.shape[0])
    if "batch_size" not in space and task.batch_size > n_train:
        raise ValueError(
            f"task.batch_size must lie in [1, {n_train}] (the training set of "
            f"task.dataset {task.dataset!r}), got {task.batch_size}"
        )
    n_classes = getattr(data, "n_classes", None)
    if n_classes is not None and n_classes > MAX_CLASSES:
        raise ValueError(
            f"task.dataset {task.dataset!r}: its largest label, {n_classes - 1}, makes "
            f"{n_classes} classes (the output layer's width); at most {MAX_CLASSES}: "
            "labels must be 0 .. n_classes - 1"
        )


def check_arguments(
    *,
    seed: Any,
    store: Any,
    chunk_size: Any,
    maximize: Any,
    exact: Any,
    overwrite: Any,
    cache: Any,
) -> None:
    """Refuse a bad plain argument of ``Sweep(...)`` in one line naming it.

    Examples:
        >>> plain = dict(chunk_size="auto", maximize=None, exact=False, overwrite=False)
        >>> check_arguments(seed=-1, store="runs/a", cache=None, **plain)
        Traceback (most recent call last):
        ...
        ValueError: seed must be an integer in [0, 2**31), got -1
    """
    from jaxtune import parallel

    if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed < 2**31:
        raise ValueError(f"seed must be an integer in [0, 2**31), got {seed!r}")
    if not isinstance(store, str | os.PathLike) or not os.fspath(store).strip():
        raise ValueError(f"store must be a folder path, got {store!r}")
    parallel.check_chunk_size(chunk_size)
    for name, value in (("maximize", maximize), ("cache", cache)):
        if value is not None and not isinstance(value, bool):
            raise ValueError(f"{name} must be True, False or None, got {value!r}")
    for name, flag in (("exact", exact), ("overwrite", overwrite)):
        if not isinstance(flag, bool):
            raise ValueError(f"{name} must be True or False, got {flag!r}")
    if exact and chunk_size not in ("auto", 1):
        raise ValueError(
            f"exact=True runs one trial per program (chunk_size=1); got chunk_size="
            f"{chunk_size!r}: leave chunk_size out"
        )


def objective_of(task: Any, objective: Any, maximize: bool | None) -> tuple[str, bool]:
    """The sweep's objective and direction: the task's own unless given, checked.

    The task knows the direction of its own objective only; any other is minimized
    unless ``maximize`` says otherwise. Never guessed from a name.
    """
    objective = objective or task.objective
    if not isinstance(objective, str):
        raise ValueError(f"objective must be a string, got {objective!r}")
    check_objective = getattr(task, "check_objective", None)
    if check_objective is not None:
        check_objective(objective)
    if maximize is None:
        maximize = task.maximize if objective == task.objective else False
    return objective, maximize


def check_scheduled(
    space: Space, backend: object, scheduler: object = None, task: object = None
) -> None:
    """Raises ValueError when a sweep under a scheduler cannot run as configured.

    Runs in ``Sweep(...)``, before the store is created: a refusal leaves no folder.

    Args:
        space: the sweep's space: it must not search ``epochs`` (the scheduler decides).
        backend: the sweep's backend, or None for this process (rungs need this process).
        scheduler: the scheduler; a PBT's ``explore`` import path is loaded now (a
            missing or non-callable one is refused).
        task: the sweep's task; PBT needs ``seeds_per_trial == 1`` (one model per lane).
    """
    if backend is not None:
        raise ValueError(
            "backend: a scheduler's rungs run in this process only for now (the Ray "
            "backend runs plain rounds and zoom rounds); leave out scheduler or backend"
        )
    if "epochs" in space:
        raise ValueError(
            "scheduler: the space has an 'epochs' dimension; a scheduler decides "
            "how long each trial trains, so leave epochs out of the space "
            "(space.without('epochs'))"
        )
    fn = getattr(task, "fn", None)  # a user's function (FunctionTask)
    if (
        scheduler is not None
        and fn is not None
        and not (hasattr(fn, "init") and (hasattr(fn, "run") or hasattr(fn, "epoch")))
    ):
        raise TypeError(
            "scheduler: stops trials between epochs, so the task must offer init(hparams, "
            "key) -> state and epoch(state, hparams) -> (state, metrics) (docs/asha.md: 'Your "
            "own training loop'), or be a trainer of jaxtune.make_train; a plain "
            "train(hparams, key) function trains straight through: leave scheduler out"
        )
    if getattr(scheduler, "kind", None) != "pbt":
        return
    seeds = getattr(task, "seeds_per_trial", 1)
    if seeds != 1:
        raise ValueError(
            f"PBT: task.seeds_per_trial must be 1 (one model per lane), got {seeds!r}"
        )
    explore = scheduler.explore_fn()  # type: ignore[attr-defined]
    if explore is not None and not callable(explore):
        raise ValueError(
            f"scheduler.explore: {scheduler.explore!r} is not a function "  # type: ignore[attr-defined]
            "explore(hparams, key) -> hparams"
        )


def _check_optimizer_names(space: Space, task: Task, families_only: bool) -> None:
    """Refuse an optimizer hyperparameter that no optimizer of the sweep reads.

    ``momentum`` with ``optimizer = "adam"`` would be sampled and stored, and ignored by
    every trial: the ranking would credit a number that changed nothing.
    """
    if not families_only:
        return  # an optax optimizer or factory: its arguments are checked by name
    if "optimizer" in space:
        dim = space["optimizer"]
        used = [str(v) for v in (dim.labels or [getattr(dim, "value", "")])]
    else:
        used = [str(task.optimizer)]
    if not all(f in FAMILIES for f in used):
        return
    read = {n for f in used for n in FAMILIES[f]}
    every = {n for names in FAMILIES.values() for n in names}
    for name in space.names:
        if name in every and name not in read:
            which = used[0] if len(used) == 1 else used
            raise ValueError(
                f"space.{name}: optimizer {which!r} does not read {name!r} (it would be "
                f"sampled and ignored); it reads {sorted(read)}: leave {name} out or "
                "choose an optimizer that reads it"
            )


def check_task_objective(task: Task, objective: str) -> None:
    """Refuse an objective the built-in task does not report, before anything trains.

    Args:
        task: the task (its data loaded: the metric depends on it).
        objective: the sweep's objective.

    Raises:
        ValueError: naming the objective, the closest known name and every known name.
    """
    from jaxtune.sweep.outputs import history_names

    metric = "accuracy" if task.maximize else "mse"
    names = history_names(metric, task.seeds_per_trial > 1)
    if objective in names:
        return
    close = difflib.get_close_matches(objective, names, n=1, cutoff=0.5)
    advice = f"did you mean {close[0]!r}? " if close else ""
    raise ValueError(
        f"objective {objective!r} is not a metric of the built-in task: {advice}known: {names}"
    )


def _check_finite(name: str, dim: Dimension) -> None:
    """A numeric argument of a user's optimizer: numbers, finite; no other range known."""
    if dim.labels is not None:
        raise ValueError(f"space.{name}: an optimizer argument takes numbers, not labels")
    low, high = bounds(dim)
    if not (math.isfinite(low) and math.isfinite(high)):
        raise ValueError(f"space.{name}: values must be finite, got [{low:g}, {high:g}]")


def default_space() -> Space:
    """The default sweep's space: every kind of hyperparameter of the design note.

    Traced: learning rate (log-uniform), momentum (log-uniform on 1-beta), the decay
    system and its inverse-time rate; masked: hidden units, layers, epochs; static: the
    mini-batch size.
    """
    return Space(
        learning_rate=LogUniform(1e-3, 1.0),
        momentum=OneMinusLogUniform(0.5, 0.99),
        hidden=IntUniform(16, 64),
        layers=IntUniform(1, 2),
        epochs=IntUniform(4, 12),
        decay_system=Choice(["none", "inverse_time", "exponential", "sqrt_epoch"]),
        decay_rate=LogUniform(0.01, 1.0),
        batch_size=Choice([32, 64]),
    )
