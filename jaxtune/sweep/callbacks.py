"""Callbacks of a sweep: user code told of every trial as it is committed to the store.

``Sweep(..., callbacks=[fn, ...])`` calls each ``fn(record)`` once per trial, right after
the trial's chunk (or, under a lane strategy, its boundary) is committed to the store, with the
trial's :class:`jaxtune.store.TrialRecord` as stored (hyperparameters, final metrics,
per-epoch curves, status). It is Optuna's ``callbacks=[fn]`` of ``study.optimize`` with
the record in place of ``(study, frozen_trial)``; read the sweep so far with
``jaxtune.load(path)``. Every strategy (plain rounds, model-based rounds, successive
halving, Hyperband, PBT) commits through one writer
(:class:`jaxtune.sweep.progress.ChunkWriter`), which calls them. A trial committed by an
earlier, interrupted run is not told again on resume; an exception in a callback stops
the sweep (the trial is already stored; ``jaxtune resume`` goes on). Built-in callbacks:
:class:`jaxtune.loggers.TensorBoardLogger` and :class:`jaxtune.loggers.MLflowLogger`.

A callback that also has an ``on_event(event)`` method is told what a lane strategy
decides at each boundary (:func:`tell_event`), as Ray Tune's ``Callback.on_trial_*``
hooks are: a dict with ``"event"`` (``"stop"``, ``"pause"``, ``"resume"`` or
``"copy"``), ``"trial"`` (its id), ``"round"``, ``"epoch"`` (epochs trained so far),
and for a copy ``"source"`` (the id whose state it takes), for a stop ``"early"``
(stopped before ``max_epochs``). Events are told as they happen, before the trials of
their boundary are committed; after a resume the boundaries since the last snapshot
are decided again, and their events told again.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["Callback", "check_callbacks", "tell_event"]

Callback = Callable[[Any], Any]
"""``callback(record)``; its return value is ignored."""


def check_callbacks(callbacks: Sequence[Callback] | None) -> tuple[Callback, ...]:
    """``callbacks`` as a tuple, each checked to be callable.

    Args:
        callbacks: None, or a list or tuple of ``callback(record)`` callables.

    Returns:
        The callbacks, in order.

    Raises:
        TypeError: naming ``callbacks`` and the first item that is not callable.

    Examples:
        >>> def log(record): ...
        >>> check_callbacks([log]) == (log,)
        True
        >>> check_callbacks(log)
        Traceback (most recent call last):
        ...
        TypeError: callbacks must be a list of callables callback(record), got <function log ...>
    """
    if callbacks is None:
        return ()
    if not isinstance(callbacks, list | tuple):
        raise TypeError(
            f"callbacks must be a list of callables callback(record), got {callbacks!r}"
        )
    for i, fn in enumerate(callbacks):
        if not callable(fn):
            raise TypeError(f"callbacks[{i}] must be a callable callback(record), got {fn!r}")
    return tuple(callbacks)


def tell_event(callbacks: Sequence[Callback], event: dict[str, Any]) -> None:
    """Tell ``event`` to every callback that has an ``on_event`` method.

    Examples:
        >>> class Seen(list):
        ...     def __call__(self, record): ...
        ...     def on_event(self, event):
        ...         self.append(event["event"])
        >>> seen = Seen()
        >>> tell_event([seen, print], {"event": "pause", "trial": 3, "round": 0, "epoch": 1})
        >>> seen
        ['pause']
    """
    for fn in callbacks:
        hook = getattr(fn, "on_event", None)
        if callable(hook):
            hook(event)
