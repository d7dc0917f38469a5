"""A user's own ``train(hparams, key)`` as a sweep task, and :func:`as_task`.

Any pure function of one trial's hyperparameters and a PRNG key that returns a dict of
numbers and per-epoch curves, one bare number (the objective), or a
:class:`jaxtune.History` can be swept. A trainer from :func:`jaxtune.make_train`
passed as the task keeps its own metric and direction; any other function is ranked by
``val_loss``, lower is better, unless told otherwise.

:meth:`FunctionTask.prepare` traces the function on one trial before anything trains or
is written (:func:`jaxtune.sweep.outputs.probe`): what it returns is checked there, and
its traced program is the sweep's fingerprint (:mod:`jaxtune.sweep.fingerprint`).

What reaches the function: numbers of an ordinary dimension as traced scalars (one
compiled program serves every value, trials batched with ``vmap``); the values of a
*static* dimension (``static=True``) and of every dimension of strings or booleans as
plain Python values (``"relu"``, ``True``, ``64``), so a Python ``if`` or a layer width
works as written. Trials are grouped by their static values, one program per group. A
:func:`jaxtune.make_train` trainer keeps reading a label dimension (``decay_system``)
as its index: for it only ``static=True`` dimensions are plain values.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import jax
import numpy as np

from jaxtune.lanes import LoopTrain, is_loop
from jaxtune.space import Space
from jaxtune.sweep import fingerprint as fp
from jaxtune.sweep.outputs import Probe, check_objective, probe
from jaxtune.sweep.task import Group, SweepTask, Task, TrainFn
from jaxtune.train import Trainer

__all__ = ["FunctionTask", "WithStatic", "as_task", "static_names"]


def static_names(space: Space, *, labels: bool = True) -> tuple[str, ...]:
    """Names whose values reach a user's function as plain Python values, in order.

    The dimensions declared ``static=True`` and, with ``labels`` (a user's function),
    every dimension of strings or booleans: a traced index would silently compare
    unequal to ``"relu"``. A :func:`jaxtune.make_train` trainer reads a label dimension
    (``decay_system``) as its index, so for it ``labels=False``.

    Examples:
        >>> from jaxtune.space import Choice, IntUniform, LogUniform
        >>> space = Space(
        ...     lr=LogUniform(1e-3, 1), act=["tanh", "relu"], width=IntUniform(8, 64, static=True)
        ... )
        >>> static_names(space), static_names(space, labels=False)
        (('act', 'width'), ('width',))
    """
    return tuple(k for k, d in space.items() if d.static or (labels and d.labels is not None))


_DESCRIBED = frozenset({"metric_name", "maximize", "objective", "max_epochs"})
_LOCAL = frozenset({"_probe", "_checked", "_trainers"})  # kept out of a pickled task


class WithStatic:
    """``fn`` of one static group: the group's plain values merged into the traced ones.

    A trainer's description (``metric_name``, ``maximize``, ``objective``,
    ``max_epochs``) is the function's own; its ``init``/``run`` are not offered (they
    would skip the static values), so a scheduler refuses a static group.

    Examples:
        >>> fn = WithStatic(lambda hp, key: hp["x"] * hp["k"], (("k", 3),), ("x", "k"))
        >>> float(fn({"x": np.float32(2.0)}, None))
        6.0
    """

    def __init__(self, fn: TrainFn, group: Group, names: tuple[str, ...]) -> None:
        self.fn, self.group, self.names = fn, tuple(group), tuple(names)
        # Named as the function (the calibration cache keys on module and qualname).
        self.__module__ = getattr(fn, "__module__", type(fn).__module__)
        self.__qualname__ = getattr(fn, "__qualname__", type(fn).__qualname__)

    def __call__(self, hparams: Mapping[str, Any], key: Any) -> Any:
        static = dict(self.group)
        return self.fn({k: static[k] if k in static else hparams[k] for k in self.names}, key)

    def __getattr__(self, name: str) -> Any:
        if name not in _DESCRIBED:  # "fn", "group", "names" not set yet: copy, pickle
            raise AttributeError(name)
        return getattr(self.fn, name)

    def __repr__(self) -> str:
        return f"WithStatic({self.fn!r}, {self.group!r})"


@dataclasses.dataclass(frozen=True, eq=False)
class FunctionTask:
    """A user's pure ``fn(hparams, key)`` as a task: one group per static value.

    Attributes:
        fn: the training function; every name of the space reaches it: traced numbers,
            or plain Python values for :func:`static_names` (see the module docstring).
        objective: the output that ranks trials. Default: the trainer's ``objective``
            (e.g. ``val_accuracy``) for a :func:`jaxtune.make_train` trainer, else
            ``val_loss``.
        maximize: whether higher is better. Default: the trainer's direction for its own
            objective, else False.

    Examples:
        >>> from jaxtune.space import Uniform
        >>> task = FunctionTask(lambda hp, key: {"val_loss": hp["x"] ** 2})
        >>> space = Space(x=Uniform(0, 1))
        >>> task.objective, task.maximize, task.group_of(space, {"x": 0.5})
        ('val_loss', False, ())
        >>> task.prepare(space)
        >>> task.outputs.fields
        {'val_loss': ()}

        A Python ``if`` on a string choice, a width used as a shape:

        >>> import jax.numpy as jnp
        >>> from jaxtune.space import IntUniform
        >>> def train(hp, key):
        ...     h = jnp.ones(hp["width"]) * hp["x"]
        ...     return {"val_loss": jnp.sum(jnp.tanh(h) if hp["act"] == "tanh" else h)}
        >>> task = FunctionTask(train)
        >>> space = Space(
        ...     x=Uniform(0, 1), act=["tanh", "relu"], width=IntUniform(2, 4, static=True)
        ... )
        >>> task.prepare(space)
        >>> group = task.group_of(space, {"x": 0.5, "act": "relu", "width": 3})
        >>> group
        (('act', 'relu'), ('width', 3))
        >>> float(task.trainer(space, group)({"x": jnp.float32(0.5)}, None)["val_loss"])
        1.5
    """

    fn: TrainFn
    objective: str = ""
    maximize: bool | None = None

    def __post_init__(self) -> None:
        if not callable(self.fn):
            raise TypeError(f"task must be a jaxtune Task or a callable, got {self.fn!r}")
        own = getattr(self.fn, "objective", None)
        objective = self.objective or own or "val_loss"
        if not isinstance(objective, str):
            raise ValueError(f"objective must be a string, got {objective!r}")
        maximize = self.maximize
        if maximize is None:
            maximize = bool(getattr(self.fn, "maximize", False)) if objective == own else False
        object.__setattr__(self, "objective", objective)
        object.__setattr__(self, "maximize", bool(maximize))

    def __getstate__(self) -> dict[str, Any]:
        # What prepare() traced (a jaxpr holds jax tracebacks, which do not pickle) stays
        # here: a Ray worker only needs the function and its groups' trainers.
        return {k: v for k, v in self.__dict__.items() if k not in _LOCAL}

    @property
    def name(self) -> str:
        """``module.qualname`` of the function."""
        fn = self.fn
        return f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', repr(fn))}"

    def prepare(self, space: Space, seed: int = 0) -> None:
        """Trace the function on one trial and check what it returns; nothing runs.

        The trial: one random sample of ``space`` (drawn from ``seed``) and
        ``jax.random.key(0)``. Raises ``ValueError`` naming the problem: an output that
        is not a number or a per-epoch curve (a PRNG key, a string, a matrix), the
        arguments in hyperoptax's ``fn(key, params)`` order, or a hyperparameter the space
        lacks. The sweep then checks its objective (:meth:`check_objective`).
        """
        sample = space.random(jax.random.key(seed), 1)
        static = dict(self.group_of(space, space.decode(sample)[0]))
        hparams = {k: static[k] if k in static else v[0] for k, v in sample.items()}
        found = probe(self.fn, hparams, jax.random.key(0), space)
        object.__setattr__(self, "_probe", found)
        self.__dict__["_checked"] = {(space, tuple(static.items())): hparams}

    @property
    def outputs(self) -> Probe:
        """What one trial returns, as :meth:`prepare` found it."""
        found = getattr(self, "_probe", None)
        if found is None:
            raise RuntimeError("FunctionTask.prepare(space) has not run yet")
        return found

    def check_objective(self, objective: str) -> None:
        """``ValueError`` (with the closest name) when ``objective`` is not an output."""
        check_objective(self.outputs, objective, getattr(self.fn, "metric_name", "metric"))

    def fingerprint(self) -> dict[str, str]:
        """Digests of the traced program of one trial and of the source (if found)."""
        digests = {"program": fp.program_digest(self.outputs.jaxpr)}
        source = fp.source_digest(self.fn)
        if source is not None:
            digests["source"] = source
        return digests

    def identity(self) -> dict[str, Any]:
        """The function's name (its program is compared through its fingerprint)."""
        return {"function": self.name}

    def group_of(self, space: Space, trial: Mapping[str, Any]) -> Group:
        """``((name, value), ...)`` of the trial's :func:`static_names` (plain values)."""
        names = static_names(space, labels=not isinstance(self.fn, Trainer))
        return tuple((k, _plain(trial[k])) for k in names)

    def trainer(self, space: Space, group: Group) -> TrainFn:
        """The function itself, or for a static group its :class:`WithStatic` (one per group)."""
        if not group:
            return self.fn
        cache = self.__dict__.setdefault("_trainers", {})
        key = (space, tuple(group))
        if key not in cache:
            self._check_group(space, tuple(group))
            cache[key] = WithStatic(self.fn, group, space.names)
        return cache[key]

    def _check_group(self, space: Space, group: Group) -> None:
        """Trace a static group :meth:`prepare` did not (a Python branch of its own may
        use a traced value as a size): the same one-line errors, before it compiles."""
        checked = self.__dict__.get("_checked")
        if not checked or (space, group) in checked:
            return
        traced = next(iter(checked.values()))
        static = dict(group)
        if set(traced) != set(space.names):
            return  # another space's trial: nothing to trace it with
        hparams = {k: static[k] if k in static else traced[k] for k in space.names}
        probe(self.fn, hparams, jax.random.key(0), space)
        checked[(space, group)] = hparams


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def as_task(task: Any) -> SweepTask:
    """The task interface of ``task``: a :class:`Task` or other :class:`SweepTask` as it
    is, a callable wrapped in :class:`FunctionTask`, ``None`` the default :class:`Task`.

    Examples:
        >>> as_task(None) == Task(), type(as_task(lambda hp, key: {})).__name__
        (True, 'FunctionTask')
    """
    if task is None:
        return Task()
    if is_loop(task) and not callable(task):
        epochs = getattr(task, "max_epochs", None)
        if not isinstance(epochs, int) or isinstance(epochs, bool) or epochs < 1:
            raise ValueError(
                "task: a training loop (init and epoch) needs an integer attribute "
                f"max_epochs >= 1 (epochs a trial trains unless a scheduler stops it), got "
                f"{epochs!r}"
            )
        return FunctionTask(LoopTrain(task, epochs))
    # Task first: a protocol check would evaluate Task's properties (and load its data).
    if isinstance(task, Task | FunctionTask) or isinstance(task, SweepTask):  # noqa: SIM101
        return task
    return FunctionTask(task)
