"""Asynchronous successive halving (ASHA, Li et al. 2020) on the lanes of one program.

Rungs sit at ``min_epochs * eta**k`` epochs below ``max_epochs``. When a trial reaches a
rung, it is compared with every trial that reached that rung before it: if its objective
is worse than the ``1 - 1/eta`` quantile of theirs, it stops; otherwise it trains on.
Nothing waits for a rung to fill, so a lane freed by a stopped trial is refilled at once
and no trial is ever paused. A trial that reaches ``max_epochs`` is finished.

Side by side with the tools users know:

- Ray Tune's ``ASHAScheduler(grace_period=min_epochs, reduction_factor=eta,
  max_t=max_epochs, brackets=1)``: the same rule, the same cutoff
  (``nanpercentile(recorded, (1 - 1/eta) * 100)``), the first trial at a rung always
  continues. One bracket only.
- Optuna's ``SuccessiveHalvingPruner(min_resource=min_epochs, reduction_factor=eta)``: the
  same rungs, but a trial continues only when it ranks within the top
  ``len(rung) // eta`` (at least the best one) of the rung, itself included: stricter
  while a rung holds few trials. Its rungs also go on past ``max_epochs``; here the last
  rung is always ``max_epochs``.
- The paper's ASHA promotes a paused trial when a worker frees up; lanes never pause,
  so here (as in Ray and Optuna) the decision is taken when the trial reaches the rung.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np

from jaxtune.strategies.base import CONTINUE, STOP, EpochBudget, Report, better

__all__ = ["ASHA"]


@dataclasses.dataclass(frozen=True)
class ASHA(EpochBudget):
    """Asynchronous successive halving: stop a trial at a rung if it trails the rung.

    Attributes:
        max_epochs: epochs of a trial that is never stopped (Ray's ``max_t``); None: the
            task's own ``epochs``.
        min_epochs: the first rung (Ray's ``grace_period``, Optuna's ``min_resource``).
        reduction_factor: ``eta``: rungs are ``eta`` times apart and about ``1/eta`` of the
            trials reaching a rung go on.
        lanes: trials trained at once (None: ``min(n_trials, 64)``).

    Examples:
        >>> from jaxtune.strategies import Report
        >>> asha = ASHA(max_epochs=9, min_epochs=1, reduction_factor=3)
        >>> asha.rungs()
        [1, 3]
        >>> state = asha.init(maximize=True)
        >>> state, out = asha.decide(state, [Report(0, 1, 0.5), Report(1, 1, 0.9)])
        >>> out
        ['continue', 'continue']
        >>> state, out = asha.decide(state, [Report(2, 1, 0.6)])
        >>> out  # below the 2/3 quantile of 0.5 and 0.9
        ['stop']
    """

    max_epochs: int | None = None
    min_epochs: int = 1
    reduction_factor: int = 3
    lanes: int | None = None

    kind = "asha"

    def rungs(self) -> list[int]:
        """The epochs at which trials are compared (``max_epochs`` excluded)."""
        top = self.max_epochs or self.min_epochs
        out, epochs = [], self.min_epochs
        while epochs < top:
            out.append(epochs)
            epochs *= self.reduction_factor
        return out

    def init(self, maximize: bool) -> dict[str, Any]:
        """No trial has reached a rung yet."""
        return {"maximize": bool(maximize), "rungs": {str(r): {} for r in self.rungs()}}

    def decide(
        self, state: dict[str, Any], reports: list[Report]
    ) -> tuple[dict[str, Any], list[str]]:
        """Stop each report that trails its rung; finish those at ``max_epochs``."""
        rungs = {k: dict(v) for k, v in state["rungs"].items()}
        maximize, out = state["maximize"], []
        for r in reports:
            if math.isnan(r.value) or r.epoch >= (self.max_epochs or self.min_epochs):
                out.append(STOP)
                continue
            recorded = rungs.get(str(r.epoch))
            if recorded is None:  # between rungs
                out.append(CONTINUE)
                continue
            decision = CONTINUE
            if recorded:
                q = (1 - 1 / self.reduction_factor) * 100
                values = np.asarray(list(recorded.values()), np.float64)
                cutoff = float(np.percentile(values, q if maximize else 100 - q))
                if better(cutoff, r.value, maximize):
                    decision = STOP
            recorded[str(r.trial)] = float(r.value)
            rungs[str(r.epoch)] = recorded
            out.append(decision)
        return {**state, "rungs": rungs}, out

    def to_dict(self) -> dict[str, Any]:
        """Plain values for the store and config files."""
        return {"kind": self.kind, **dataclasses.asdict(self)}
