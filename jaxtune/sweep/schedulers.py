"""Early stopping between rounds of training: successive halving and Hyperband.

A scheduler only *plans*: it splits a sweep's trials into brackets and each bracket into
rungs, ``(lanes, epochs)``. Rung ``k`` trains its lanes until they have ``epochs`` in
total; the best ``1 / eta`` of them by the objective (ties by trial id) continue from
their exact training state, gathered into a smaller batch, while the rest stop. Since the
rung sizes are known in advance, the set of compiled programs stays small and does not
grow with the number of trials. :mod:`jaxtune.sweep.rungs` runs the plan.

With ``n`` configurations, reduction factor ``eta`` and rungs at ``r, r eta, r eta^2...``
epochs, rung ``k`` keeps ``floor(n / eta^k)`` lanes. Hyperband (Li et al. 2018) runs
successive halving in brackets ``s = s_max .. 0``, ``s_max = floor(log_eta(R / r_min))``,
each starting ``n_s = ceil((s_max + 1) / (s + 1) * eta^s)`` configurations at
``r_s = R eta^-s`` epochs.

Differences from Optuna's and Ray Tune's pruners: theirs decide asynchronously, one
trial at a time, as reports arrive; here a rung waits for all its lanes and promotes the
best exactly (synchronous successive halving, as in the paper), which is what lets the
survivors keep training in one batched program. Optuna's and Ray's default reduction
factor is 4; here it is 3, as in the Hyperband paper.

Example:
    >>> (plan,) = SuccessiveHalving(min_epochs=1, reduction_factor=3, max_epochs=27).brackets(81)
    >>> [(r.lanes, r.epochs) for r in plan]
    [(81, 1), (27, 3), (9, 9), (3, 27)]
    >>> [b[0] for b in Hyperband(min_epochs=1, max_epochs=9, reduction_factor=3).brackets()]
    [Rung(lanes=9, epochs=1), Rung(lanes=5, epochs=3), Rung(lanes=3, epochs=9)]
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, NamedTuple

from jaxtune.limits import MAX_EPOCHS, MAX_TRIALS, check_count, is_int
from jaxtune.sweep.pbt import PBT

__all__ = ["PBT", "SCHEDULERS", "Hyperband", "Rung", "SuccessiveHalving", "scheduler_from_dict"]


class Rung(NamedTuple):
    """One rung of a bracket."""

    lanes: int  # trials that train in this rung
    epochs: int  # epochs each of them has trained by the end of the rung


def _check_int(name: str, value: Any, low: int, high: int | None = None) -> int:
    if high is not None:
        return check_count(f"scheduler.{name}", value, high, low)
    if not is_int(value) or value < low:
        raise ValueError(f"scheduler.{name} must be an integer >= {low}, got {value!r}")
    return int(value)


def _rungs(n: int, first: int, last: int, eta: int) -> list[Rung]:
    """Successive halving of ``n`` lanes from ``first`` to ``last`` epochs."""
    rungs, lanes, epochs = [], n, first
    while True:
        rungs.append(Rung(lanes, min(epochs, last)))
        if epochs >= last or lanes // eta < 1:
            return rungs
        lanes, epochs = lanes // eta, epochs * eta


@dataclasses.dataclass(frozen=True)
class SuccessiveHalving:
    """Synchronous successive halving over all of a sweep's trials.

    Attributes:
        min_epochs: epochs of the first rung.
        reduction_factor: ``eta``: each rung keeps the best ``1 / eta`` and trains them
            ``eta`` times as long.
        max_epochs: epochs of the last rung (None: the task's own epochs).
    """

    min_epochs: int = 1
    reduction_factor: int = 3
    max_epochs: int | None = None

    kind = "successive_halving"

    def __post_init__(self) -> None:
        _check_int("min_epochs", self.min_epochs, 1, MAX_EPOCHS)
        _check_int("reduction_factor", self.reduction_factor, 2)
        if self.max_epochs is not None:
            _check_int("max_epochs", self.max_epochs, self.min_epochs, MAX_EPOCHS)

    def with_max_epochs(self, epochs: int) -> SuccessiveHalving:
        """This scheduler with ``max_epochs`` filled in when it was left out."""
        if self.max_epochs is not None:
            return self
        return dataclasses.replace(self, max_epochs=max(epochs, self.min_epochs))

    def brackets(self, n_trials: int) -> list[list[Rung]]:
        """One bracket of ``n_trials`` lanes."""
        top = self.max_epochs if self.max_epochs is not None else self.min_epochs
        n = check_count("n_trials", n_trials, MAX_TRIALS)
        return [_rungs(n, self.min_epochs, top, self.reduction_factor)]

    def n_trials(self, requested: int) -> int:
        """Trials the plan uses: all that were asked for."""
        return requested

    def to_dict(self) -> dict[str, Any]:
        """Plain values for the store and config files."""
        return {"kind": self.kind, **dataclasses.asdict(self)}


@dataclasses.dataclass(frozen=True)
class Hyperband:
    """Hyperband: successive halving in brackets that trade breadth for depth.

    One Hyperband iteration; its brackets fix the number of trials (as a grid does).

    Attributes:
        min_epochs: ``r_min``, the fewest epochs a configuration trains.
        max_epochs: ``R``, the most.
        reduction_factor: ``eta``.
    """

    min_epochs: int = 1
    max_epochs: int = 27
    reduction_factor: int = 3

    kind = "hyperband"

    def __post_init__(self) -> None:
        _check_int("min_epochs", self.min_epochs, 1, MAX_EPOCHS)
        _check_int("max_epochs", self.max_epochs, self.min_epochs, MAX_EPOCHS)
        _check_int("reduction_factor", self.reduction_factor, 2)
        planned = self.n_trials(0)
        if planned > MAX_TRIALS:
            raise ValueError(
                f"scheduler: Hyperband(min_epochs={self.min_epochs}, max_epochs="
                f"{self.max_epochs}, reduction_factor={self.reduction_factor}) plans "
                f"{planned} trials; at most {MAX_TRIALS}: lower max_epochs or raise "
                "min_epochs or reduction_factor"
            )

    def with_max_epochs(self, epochs: int) -> Hyperband:
        """Hyperband always names its ``max_epochs``."""
        return self

    def brackets(self, n_trials: int | None = None) -> list[list[Rung]]:
        """Brackets ``s = s_max .. 0`` (``n_trials`` is set by the plan)."""
        eta, big, small = self.reduction_factor, self.max_epochs, self.min_epochs
        s_max = math.floor(math.log(big / small, eta) + 1e-9)
        out = []
        for s in range(s_max, -1, -1):
            n = math.ceil((s_max + 1) / (s + 1) * eta**s)
            first = max(small, round(big * eta ** (-s)))
            out.append(_rungs(n, first, big, eta)[: s + 1])
        return out

    def n_trials(self, requested: int) -> int:
        """Trials of one iteration: the sum of the brackets' first rungs."""
        return sum(b[0].lanes for b in self.brackets())

    def to_dict(self) -> dict[str, Any]:
        """Plain values for the store and config files."""
        return {"kind": self.kind, **dataclasses.asdict(self)}


SCHEDULERS = {"successive_halving": SuccessiveHalving, "hyperband": Hyperband, "pbt": PBT}
_ALIASES = {"sh": "successive_halving", "asha": "successive_halving", "hb": "hyperband"}


def scheduler_from_dict(spec: Any) -> SuccessiveHalving | Hyperband | PBT | None:
    """A scheduler from its dict form (``{"kind": "hyperband", ...}``), a name, or None.

    Example:
        >>> scheduler_from_dict({"kind": "sh", "max_epochs": 9})
        SuccessiveHalving(min_epochs=1, reduction_factor=3, max_epochs=9)
    """
    if spec is None or isinstance(spec, SuccessiveHalving | Hyperband | PBT):
        return spec
    if isinstance(spec, str):
        spec = {"kind": spec}
    if not isinstance(spec, dict) or "kind" not in spec:
        raise ValueError(f"scheduler must be a table with a 'kind', got {spec!r}")
    fields = dict(spec)
    kind = _ALIASES.get(fields.get("kind"), fields.pop("kind"))
    fields.pop("kind", None)
    if kind not in SCHEDULERS:
        raise ValueError(f"scheduler.kind must be one of {sorted(SCHEDULERS)}, got {kind!r}")
    cls = SCHEDULERS[kind]
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(fields) - known)
    if unknown:
        raise ValueError(f"scheduler: unknown key {unknown[0]!r}; known: {sorted(known)}")
    return cls(**fields)
