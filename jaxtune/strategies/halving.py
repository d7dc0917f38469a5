"""Successive halving and Hyperband on lanes: plans, pause at a rung, promote the best.

A plan splits a round's trials into brackets and each bracket into rungs ``(lanes,
epochs)``. A trial of rung ``k`` trains until it has ``epochs`` and pauses (its state is
kept off the lanes); once every trial of the rung has reported, the best ``lanes`` of the
next rung (by the objective, ties by trial number) resume from their exact state and the
rest are committed as stopped. This is synchronous successive halving, as in the papers;
only the trials of one bracket wait for one another, so lanes freed by a paused trial
train the next proposals or another bracket meanwhile.

With ``n`` configurations, reduction factor ``eta`` and rungs at ``r, r eta, r eta^2...``
epochs, rung ``k`` keeps ``floor(n / eta^k)`` lanes, and at least one, so the best trial
always reaches ``max_epochs``. Hyperband (Li et al. 2018) runs successive halving in
brackets ``s = s_max .. 0``, ``s_max = floor(log_eta(R / r_min))``, each starting
``n_s = ceil((s_max + 1) / (s + 1) * eta^s)`` configurations, rung ``i`` of bracket ``s``
at ``round(R eta^(i - s))`` epochs: every bracket ends at ``R`` exactly, also when ``R``
is not a power of ``eta``.

Examples:
    >>> (plan,) = SuccessiveHalving(min_epochs=1, reduction_factor=3, max_epochs=27).brackets(81)
    >>> [(r.lanes, r.epochs) for r in plan]
    [(81, 1), (27, 3), (9, 9), (3, 27)]
    >>> [b[-1].epochs for b in Hyperband(max_epochs=100).brackets()]
    [100, 100, 100, 100, 100]
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any, NamedTuple

from jaxtune.limits import MAX_TRIALS, check_count
from jaxtune.strategies.base import CONTINUE, PAUSE, STOP, EpochBudget, Report, check_int

__all__ = ["Hyperband", "Rung", "SuccessiveHalving", "lane_epochs"]


class Rung(NamedTuple):
    """One rung of a bracket."""

    lanes: int  # trials that train in this rung
    epochs: int  # epochs each of them has trained by the end of the rung


def lane_epochs(brackets: Sequence[Sequence[Rung]]) -> int:
    """Epochs trained over all lanes of a plan (the budget a scheduler spends).

    Examples:
        >>> lane_epochs(SuccessiveHalving(max_epochs=27).brackets(81))
        243
    """
    total = 0
    for rungs in brackets:
        prev = 0
        for rung in rungs:
            total += rung.lanes * (rung.epochs - prev)
            prev = rung.epochs
    return total


def _rungs(n: int, first: int, last: int, eta: int) -> list[Rung]:
    """Successive halving of ``n`` lanes from ``first`` to ``last`` epochs."""
    rungs, lanes, epochs = [], n, first
    while True:
        rungs.append(Rung(lanes, min(epochs, last)))
        if epochs >= last:
            return rungs
        lanes, epochs = max(lanes // eta, 1), epochs * eta


class _Halving:
    """Pause, rank and promote by a plan: what successive halving and Hyperband share."""

    reduction_factor: int
    lanes: int | None

    def _plan(self) -> list[list[Rung]]:
        return self.brackets(getattr(self, "_n", None))

    def init(self, maximize: bool) -> dict[str, Any]:
        """Every bracket at its first rung, its trials by number (in plan order)."""
        brackets, start = [], 0
        for rungs in self._plan():
            members = list(range(start, start + rungs[0].lanes))
            brackets.append({"rung": 0, "members": members, "reported": {}})
            start += rungs[0].lanes
        return {"maximize": bool(maximize), "brackets": brackets}

    def _bracket_of(self, state: dict[str, Any], number: int) -> int:
        for b, bracket in enumerate(state["brackets"]):
            if number in bracket["members"]:
                return b
        raise ValueError(f"trial {number} is in no bracket of the plan")

    def decide(
        self, state: dict[str, Any], reports: list[Report]
    ) -> tuple[dict[str, Any], list[str]]:
        """Pause a trial at its rung's epochs (stop it at the last rung)."""
        plan, out = self._plan(), []
        brackets = [dict(b, reported=dict(b["reported"])) for b in state["brackets"]]
        for r in reports:
            b = self._bracket_of(state, r.trial)
            rungs, bracket = plan[b], brackets[b]
            if r.epoch < rungs[bracket["rung"]].epochs and not math.isnan(r.value):
                out.append(CONTINUE)
                continue
            bracket["reported"][str(r.trial)] = r.value
            last = bracket["rung"] == len(rungs) - 1
            out.append(STOP if last or math.isnan(r.value) else PAUSE)
        return {**state, "brackets": brackets}, out

    def schedule(
        self, state: dict[str, Any], paused: list[int]
    ) -> tuple[dict[str, Any], list[int], list[int]]:
        """Promote the best of every full rung: ``(state, resume, stop)``."""
        plan, sign = self._plan(), -1.0 if state["maximize"] else 1.0
        resume, stop, brackets = [], [], []
        for b, bracket in enumerate(state["brackets"]):
            rungs, k = plan[b], bracket["rung"]
            members, reported = bracket["members"], bracket["reported"]
            if k == len(rungs) - 1 or len(reported) < len(members):
                brackets.append(bracket)
                continue
            ok = [t for t in members if not math.isnan(reported[str(t)])]
            ranked = sorted(ok, key=lambda t: (sign * reported[str(t)], t))
            keep = sorted(ranked[: rungs[k + 1].lanes])
            resume += keep
            stop += [t for t in members if t not in keep and t in paused]
            brackets.append({"rung": k + 1, "members": keep, "reported": {}})
        return {**state, "brackets": brackets}, resume, stop

    def rung_of(self, number: int, epochs: int) -> int:
        """The last rung of ``number``'s bracket that ``epochs`` reached."""
        start = 0
        for rungs in self._plan():
            if number < start + rungs[0].lanes:
                return max(0, sum(1 for r in rungs if r.epochs <= epochs) - 1)
            start += rungs[0].lanes
        return 0

    def to_dict(self) -> dict[str, Any]:
        """Plain values for the store and config files."""
        fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.init}
        return {"kind": self.kind, **fields}


@dataclasses.dataclass(frozen=True)
class SuccessiveHalving(_Halving, EpochBudget):
    """Synchronous successive halving over all of a round's trials.

    Attributes:
        min_epochs: epochs of the first rung.
        reduction_factor: ``eta``: each rung keeps the best ``1 / eta`` (at least one)
            and trains them ``eta`` times as long.
        max_epochs: epochs of the last rung (None: the task's own epochs).
        lanes: trials trained at once (None: ``min(n_trials, 64)``).
    """

    min_epochs: int = 1
    reduction_factor: int = 3
    max_epochs: int | None = None
    lanes: int | None = None
    _n: int = dataclasses.field(default=1, init=False, repr=False, compare=False)  # planned

    kind = "successive_halving"

    def for_trials(self, n_trials: int) -> SuccessiveHalving:
        """This scheduler planning ``n_trials`` trials (the round's)."""
        out = dataclasses.replace(self)
        object.__setattr__(out, "_n", check_int("scheduler", "n_trials", n_trials, 1))  # frozen
        return out

    def brackets(self, n_trials: int) -> list[list[Rung]]:
        """One bracket of ``n_trials`` lanes."""
        top = self.max_epochs if self.max_epochs is not None else self.min_epochs
        n = check_count("n_trials", n_trials, MAX_TRIALS)
        return [_rungs(n, self.min_epochs, top, self.reduction_factor)]


@dataclasses.dataclass(frozen=True)
class Hyperband(_Halving, EpochBudget):
    """Hyperband: successive halving in brackets that trade breadth for depth.

    One Hyperband iteration; its brackets fix the number of trials (as a grid does).

    Attributes:
        min_epochs: ``r_min``, the fewest epochs a configuration trains.
        max_epochs: ``R``, the most.
        reduction_factor: ``eta``.
        lanes: trials trained at once (None: ``min(n_trials, 64)``).
    """

    min_epochs: int = 1
    max_epochs: int = 27
    reduction_factor: int = 3
    lanes: int | None = None

    kind = "hyperband"

    def __post_init__(self) -> None:
        super().__post_init__()
        planned = self.n_trials(0)
        if planned > MAX_TRIALS:
            raise ValueError(
                f"scheduler: Hyperband(min_epochs={self.min_epochs}, max_epochs="
                f"{self.max_epochs}, reduction_factor={self.reduction_factor}) plans "
                f"{planned} trials; at most {MAX_TRIALS}: lower max_epochs or raise "
                "min_epochs or reduction_factor"
            )

    def for_trials(self, n_trials: int) -> Hyperband:
        """Hyperband plans its own number of trials."""
        return self

    def brackets(self, n_trials: int | None = None) -> list[list[Rung]]:
        """Brackets ``s = s_max .. 0`` (``n_trials`` is set by the plan)."""
        eta, big, small = self.reduction_factor, self.max_epochs, self.min_epochs
        s_max = math.floor(math.log(big / small, eta) + 1e-9)
        out = []
        for s in range(s_max, -1, -1):
            n = math.ceil((s_max + 1) / (s + 1) * eta**s)
            rungs = [Rung(max(n // eta**i, 1), round(big * eta ** (i - s))) for i in range(s + 1)]
            out.append([r._replace(epochs=max(small, r.epochs)) for r in rungs])
        return out

    def n_trials(self, requested: int) -> int:
        """Trials of one iteration: the sum of the brackets' first rungs."""
        return sum(b[0].lanes for b in self.brackets())
