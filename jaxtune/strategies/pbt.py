"""Population-based training (Jaderberg et al. 2017) as a lane strategy.

Every static group of a round is one population, all its trials on lanes at once. Every
``interval_epochs`` the population is ranked by the objective; each lane in the bottom
quantile answers :class:`~jaxtune.strategies.base.Copy`: it takes the whole training
state (parameters, optimizer state, epoch counter), the curves and the hyperparameters
of a random lane of the top quantile (*exploit*; the runtime gathers the state on
device), then *explores*: every searchable hyperparameter is resampled from the space
with probability ``resample_probability``, otherwise moved by a factor drawn from
``perturbation_factors`` on its own scale, and clipped to the space
(:mod:`jaxtune.strategies.explore`). The population thus discovers a hyperparameter
*schedule*. A lane that diverges (NaN) between boundaries copies a top lane at once,
without exploring, so it never trains NaN until the next boundary.

Defaults and semantics follow Ray Tune's ``PopulationBasedTraining``
(``perturbation_interval``, ``quantile_fraction``, ``resample_probability``,
``perturbation_factors``). Differences:

- synchronous: every interval waits for the whole population (Ray's ``synch=True``);
  Ray's default is asynchronous, one trial at a time as its reports arrive;
- every non-fixed dimension of the space is explored (Ray: only those named in
  ``hyperparam_mutations``); masked (``hidden``, ``layers``) and static hyperparameters
  are copied, never perturbed; an interval's length is in epochs, not ``time_attr``;
- a factor acts on the dimension's own scale: ``x * f`` for log-uniform, uniform and
  integer dimensions (integers rounded, as Ray's ``int(x * f)`` but rounded), ``1 - (1 -
  x) * f`` for one-minus-log dimensions (Ray would scale ``x``), a neighbouring value
  for a choice (as Ray); results are clipped to the space (Ray does not clip);
- ``explore`` is a pure, traced ``explore(hparams, key) -> hparams`` of one lane's
  encoded values, run on device (Ray's ``custom_explore_fn`` edits a Python dict); it
  replaces the default perturbation and its result is clipped to the space too;
- exploited lanes also copy the parent's recorded curves, so a trial's curves are those
  of the model it ends with; its stored hyperparameters are those of its last interval;
- the lineage (per trial and interval: hyperparameters, parent, objective) is the
  strategy's own state, saved with the runtime's snapshots.

Examples:
    >>> pbt = PBT(interval_epochs=2, max_epochs=6)
    >>> pbt.boundaries()
    [(0, 2), (2, 4), (4, 6)]
    >>> pbt.n_quantile(8), pbt.to_dict()["kind"]
    (2, 'pbt')
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from jaxtune.limits import MAX_EPOCHS, check_count, is_int
from jaxtune.strategies.base import CONTINUE, STOP, Copy, Report
from jaxtune.strategies.explore import explorer

__all__ = ["PBT"]


def _positive_int(name: str, value: Any, low: int = 1) -> int:
    if not is_int(value) or value < low:
        raise ValueError(f"scheduler.{name} must be an integer >= {low}, got {value!r}")
    return check_count(f"scheduler.{name}", value, MAX_EPOCHS, low)  # epochs: bounded


def _fraction(name: str, value: Any, high: float) -> float:
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    if not ok or not 0.0 <= value <= high:
        raise ValueError(f"scheduler.{name} must be a number in [0, {high}], got {value!r}")
    return float(value)


def _explore_name(explore: Any) -> str | None:
    if explore is None or isinstance(explore, str):
        return explore
    module = getattr(explore, "__module__", "?")
    return f"{module}:{getattr(explore, '__qualname__', repr(explore))}"


@dataclasses.dataclass(frozen=True)
class PBT:
    """Synchronous population-based training over all of a sweep's trials.

    Attributes:
        interval_epochs: epochs between two exploit/explore steps (Ray's
            ``perturbation_interval``), >= 1. With ``interval_epochs >= max_epochs``
            nothing is exploited: the sweep equals a plain one of the same trials.
        quantile_fraction: share of the population in the bottom (replaced) and in the
            top (copied) quantile, in ``[0, 0.5]``; ``ceil(n * fraction)`` lanes, at
            most ``n // 2``, as in Ray.
        resample_probability: chance that an explored hyperparameter is drawn afresh
            from the space instead of perturbed, in ``[0, 1]``.
        perturbation_factors: the factors a perturbation picks from, uniformly; each
            > 0.
        max_epochs: epochs every lane trains (None: the task's own epochs).
        explore: None (the default perturbation), a pure ``explore(hparams, key) ->
            hparams`` of one lane's encoded values, or its import path
            ``"package.module:function"``.
    """

    interval_epochs: int = 2
    quantile_fraction: float = 0.25
    resample_probability: float = 0.25
    perturbation_factors: tuple[float, ...] = (0.8, 1.2)
    max_epochs: int | None = None
    explore: Callable[..., Any] | str | None = None
    _seed: int = dataclasses.field(default=0, init=False, repr=False, compare=False)

    kind = "pbt"

    def __post_init__(self) -> None:
        _positive_int("interval_epochs", self.interval_epochs)
        _fraction("quantile_fraction", self.quantile_fraction, 0.5)
        _fraction("resample_probability", self.resample_probability, 1.0)
        factors = self.perturbation_factors
        if isinstance(factors, str) or not isinstance(factors, tuple | list) or not factors:
            raise ValueError(
                f"scheduler.perturbation_factors must be a non-empty list of numbers > 0, "
                f"got {factors!r}"
            )
        for f in factors:
            if isinstance(f, bool) or not isinstance(f, int | float) or not 0 < f < math.inf:
                raise ValueError(
                    f"scheduler.perturbation_factors must hold numbers > 0, got {f!r}"
                )
        object.__setattr__(self, "perturbation_factors", tuple(float(f) for f in factors))
        if self.max_epochs is not None:
            _positive_int("max_epochs", self.max_epochs)
        ex = self.explore
        if ex is not None and not callable(ex) and not (isinstance(ex, str) and ":" in ex):
            raise ValueError(
                "scheduler.explore must be None, a function explore(hparams, key) or an "
                f"import path 'package.module:function', got {ex!r}"
            )

    def with_max_epochs(self, epochs: int) -> PBT:
        """This scheduler with ``max_epochs`` filled in when it was left out."""
        if self.max_epochs is not None:
            return self
        return dataclasses.replace(self, max_epochs=max(int(epochs), 1))

    def boundaries(self) -> list[tuple[int, int]]:
        """``(start, end)`` epochs of every interval; the last may be shorter."""
        top = self.max_epochs if self.max_epochs is not None else self.interval_epochs
        starts = range(0, top, self.interval_epochs)
        return [(s, min(s + self.interval_epochs, top)) for s in starts]

    def seeded(self, seed: int) -> PBT:
        """This strategy drawing its donors from ``seed`` (the sweep's and the round's)."""
        out = dataclasses.replace(self)
        object.__setattr__(out, "_seed", int(seed))  # frozen
        return out

    def lanes_for(self, populations: list[int]) -> int:
        """Lanes per group: the largest population (every member trains at once)."""
        return max(populations)

    def n_quantile(self, population: int) -> int:
        """Lanes in each quantile of a population (Ray's rounding, non-overlapping)."""
        q = math.ceil(population * self.quantile_fraction)
        return min(q, population // 2)

    def n_trials(self, requested: int) -> int:
        """The population: all the trials asked for."""
        return requested

    def explore_fn(self) -> Callable[..., Any] | None:
        """The user's explore function (loaded from its import path), or None."""
        if isinstance(self.explore, str):
            from jaxtune.train.importpath import load_object

            return load_object(self.explore, where="scheduler.explore")
        return self.explore

    def explorer(self, dims: Mapping[str, Any]) -> Callable[..., dict[str, Any]]:
        """The jitted explore step of one lane over ``dims`` (name -> dimension)."""
        return explorer(
            dims,
            factors=self.perturbation_factors,
            resample_probability=self.resample_probability,
            explore=self.explore_fn(),
        )

    # -------------------------------------------------------------- the strategy

    def init(self, maximize: bool) -> dict[str, Any]:
        """No interval ended yet; every trial its own parent."""
        return {"maximize": bool(maximize), "parent": {}, "lineage": []}

    def decide(
        self, state: dict[str, Any], reports: list[Report]
    ) -> tuple[dict[str, Any], list[Any]]:
        """At an interval's end: lineage rows, then the bottom quantile copies the top."""
        parent, rows = dict(state["parent"]), list(state["lineage"])
        sign = -1.0 if state["maximize"] else 1.0
        ends = {end: k for k, (_, end) in enumerate(self.boundaries())}
        out: list[Any] = [CONTINUE] * len(reports)
        groups: dict[int, list[int]] = {}
        for j, r in enumerate(reports):
            groups.setdefault(r.group, []).append(j)
        for g, idx in sorted(groups.items()):
            epoch = reports[idx[0]].epoch
            if any(reports[j].epoch != epoch for j in idx):
                raise RuntimeError("PBT: the lanes of a population must be at one epoch")
            k = ends.get(epoch)
            for j in idx if k is not None else ():
                r = reports[j]
                start, end = self.boundaries()[k]
                rows.append(
                    {
                        "trial": r.trial,
                        "interval": k,
                        "epochs": [start, end],
                        "parent": parent.get(str(r.trial), r.trial),
                        "objective": None if math.isnan(r.value) else r.value,
                        "hparams": r.hparams,
                    }
                )
                parent[str(r.trial)] = r.trial
            if epoch >= (self.max_epochs or 0):
                for j in idx:
                    out[j] = STOP
                continue

            def bad(j: int) -> tuple[float, int]:
                value = reports[j].value
                return (math.inf if math.isnan(value) else sign * value), reports[j].trial

            ranked = sorted(idx, key=bad)  # best first, NaN last, ties by trial
            q = self.n_quantile(len(idx))
            donors = [reports[j].trial for j in ranked[:q] if not math.isnan(reports[j].value)]
            replaced = set(ranked[len(idx) - q :]) if k is not None else set()
            rng = np.random.default_rng([self._seed, g, epoch])
            for j in idx:
                r = reports[j]
                if not (j in replaced or math.isnan(r.value)):
                    continue
                if not donors:  # nothing to copy: a diverged trial ends here
                    out[j] = STOP if math.isnan(r.value) else CONTINUE
                    continue
                donor = donors[int(rng.integers(len(donors)))]
                out[j] = Copy(donor, explore=j in replaced)
                parent[str(r.trial)] = donor  # the rest of this interval descends from it
        return {**state, "parent": parent, "lineage": rows}, out

    def to_dict(self) -> dict[str, Any]:
        """Plain values for the store and config files (a function by its name)."""
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.init}
        d["perturbation_factors"] = list(self.perturbation_factors)
        d["explore"] = _explore_name(self.explore)
        return {"kind": self.kind, **d}
