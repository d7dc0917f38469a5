"""The strategy interface: what a lane does after each boundary of the lane runtime.

A strategy is two pure functions on a JSON-able state, in the manner of optax's
``init``/``update``: :meth:`Strategy.init` makes the state, :meth:`Strategy.decide` takes
the state and the reports of one boundary and returns the new state and one
:data:`CONTINUE`, :data:`STOP`, :data:`PAUSE` or :class:`Copy` per report. A strategy that
pauses also
has ``schedule(state, paused) -> (state, resume, stop)``: asked before lanes are
refilled, it names the paused trials to put back on lanes and those to commit as
stopped (successive halving promotes a full rung's best this way).

The runtime (:mod:`jaxtune.lanes`) trains, persists and refills lanes; the proposer
(:mod:`jaxtune.proposers`) suggests the hyperparameters of new trials. The three never
reach into one another, so any strategy works with any proposer, and the state is saved
with each snapshot and restored on resume as it is.

Reports of one boundary come sorted by trial id, so a strategy's decisions depend only on
what it was told, never on timing: a resumed sweep decides exactly as the uninterrupted
one did. A diverged trial (NaN value) is stopped by the runtime unless its strategy
answers :class:`Copy` for it.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, NamedTuple, Protocol, runtime_checkable

from jaxtune.limits import MAX_EPOCHS, MAX_TRIALS, check_count, is_int

__all__ = [
    "CONTINUE",
    "PAUSE",
    "STOP",
    "Copy",
    "EpochBudget",
    "Report",
    "Strategy",
    "better",
    "check_int",
]

#: Train the lane one more step of the runtime.
CONTINUE = "continue"
#: The trial is finished: the runtime commits it and refills its lane.
STOP = "stop"
#: Keep the trial's state off the lanes until the strategy's ``schedule`` resumes it (or
#: stops it); its lane is refilled meanwhile.
PAUSE = "pause"


class Copy(NamedTuple):
    """The lane goes on from another lane's state (PBT's exploit), its trial unchanged.

    The lane takes ``source``'s training state, epoch count, curves and hyperparameters;
    with ``explore`` the runtime then moves those hyperparameters (the strategy's
    ``explorer``). ``source`` must be a busy trial of the same static group.
    """

    source: int  # the trial whose state the lane takes
    explore: bool = True  # perturb the copied hyperparameters


class Report(NamedTuple):
    """One busy lane's result at a boundary."""

    trial: int  # the trial's number in its round (its id is the round's first + number)
    epoch: int  # epochs the trial has trained so far (1-based count)
    value: float  # the objective after that epoch; NaN when the trial diverged
    group: int = 0  # its static group (lanes of different groups never copy each other)
    hparams: dict[str, Any] | None = None  # what it trained with in that epoch


@runtime_checkable
class Strategy(Protocol):
    """What a search strategy answers. ``max_epochs`` bounds every trial's training.

    Attributes:
        max_epochs: the most epochs any trial trains (the runtime stops a trial there).
    """

    max_epochs: int

    def init(self, maximize: bool) -> dict[str, Any]:
        """The strategy's first state (JSON values only: it is saved with checkpoints)."""

    def decide(
        self, state: dict[str, Any], reports: list[Report]
    ) -> tuple[dict[str, Any], list[str]]:
        """The new state and a decision (``CONTINUE``, ``STOP``...) per report, in order."""


def better(a: float, b: float, maximize: bool) -> bool:
    """Whether objective ``a`` is strictly better than ``b`` (NaN is never better).

    Examples:
        >>> better(0.9, 0.8, True), better(0.9, 0.8, False), better(math.nan, 0.1, True)
        (True, False, False)
    """
    if math.isnan(a):
        return False
    if math.isnan(b):
        return True
    return a > b if maximize else a < b


def check_int(owner: str, name: str, value: Any, low: int) -> int:
    """``value`` when it is an integer >= ``low``; else a ``ValueError`` naming it.

    Examples:
        >>> check_int("asha", "reduction_factor", 3, 2)
        3
    """
    if not is_int(value) or value < low:
        raise ValueError(f"{owner}.{name} must be an integer >= {low}, got {value!r}")
    return int(value)


class EpochBudget:
    """What rung-based strategies share: checked settings and ``max_epochs`` filled in.

    A frozen dataclass with ``min_epochs``, ``reduction_factor``, ``max_epochs`` (None:
    the task's own epochs) and ``lanes`` (None: the runtime's default) mixes it in.
    """

    min_epochs: int
    reduction_factor: int
    max_epochs: int | None
    lanes: int | None

    def __post_init__(self) -> None:
        check_count("scheduler.min_epochs", self.min_epochs, MAX_EPOCHS)
        check_int("scheduler", "reduction_factor", self.reduction_factor, 2)
        if self.max_epochs is not None:
            check_count("scheduler.max_epochs", self.max_epochs, MAX_EPOCHS, self.min_epochs)
        if self.lanes is not None:
            check_count("scheduler.lanes", self.lanes, MAX_TRIALS)

    def with_max_epochs(self, epochs: int) -> Any:
        """This strategy with ``max_epochs`` filled in when it was left out."""
        if self.max_epochs is not None:
            return self
        return dataclasses.replace(self, max_epochs=max(epochs, self.min_epochs))

    def n_trials(self, requested: int) -> int:
        """Trials the sweep runs: all that were asked for."""
        return requested
