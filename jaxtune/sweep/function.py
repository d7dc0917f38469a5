"""A user's own ``train(hparams, key)`` as a sweep task, and :func:`as_task`.

Any pure function of one trial's hyperparameters (a dict of traced scalars) and a PRNG
key that returns a dict of numbers and per-epoch curves, one bare number (the objective),
or a :class:`jaxtune.History` can be swept. A trainer from :func:`jaxtune.make_train`
passed as the task keeps its own metric and direction; any other function is ranked by
``val_loss``, lower is better, unless told otherwise.

:meth:`FunctionTask.prepare` traces the function on one trial before anything trains or
is written (:func:`jaxtune.sweep.outputs.probe`): what it returns is checked there, and
its traced program is the sweep's fingerprint (:mod:`jaxtune.sweep.fingerprint`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import jax

from jaxtune.lanes import LoopTrain, is_loop
from jaxtune.space import Space
from jaxtune.sweep import fingerprint as fp
from jaxtune.sweep.outputs import Probe, check_objective, probe
from jaxtune.sweep.task import Group, SweepTask, Task, TrainFn

__all__ = ["FunctionTask", "as_task"]


@dataclasses.dataclass(frozen=True, eq=False)
class FunctionTask:
    """A user's pure ``fn(hparams, key)`` as a task: one group, no space checks.

    Attributes:
        fn: the training function; every name of the space reaches it, traced.
        objective: the output that ranks trials. Default: the trainer's ``objective``
            (e.g. ``val_accuracy``) for a :func:`jaxtune.make_train` trainer, else
            ``val_loss``.
        maximize: whether higher is better. Default: the trainer's direction for its own
            objective, else False.

    Example:
        >>> from jaxtune.space import Uniform
        >>> task = FunctionTask(lambda hp, key: {"val_loss": hp["x"] ** 2})
        >>> task.objective, task.maximize, task.group_of(None, {"x": 0.5})
        ('val_loss', False, ())
        >>> task.prepare(Space(x=Uniform(0, 1)))
        >>> task.outputs.fields
        {'val_loss': ()}
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
        hparams = {k: v[0] for k, v in sample.items()}
        found = probe(self.fn, hparams, jax.random.key(0))
        object.__setattr__(self, "_probe", found)

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
        """One group: a function has no static hyperparameters."""
        return ()

    def trainer(self, space: Space, group: Group) -> TrainFn:
        """The function itself."""
        return self.fn


def as_task(task: Any) -> SweepTask:
    """The task interface of ``task``: a :class:`Task` or other :class:`SweepTask` as it
    is, a callable wrapped in :class:`FunctionTask`, ``None`` the default :class:`Task`.

    Example:
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
