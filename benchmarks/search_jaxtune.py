"""jaxtune's search strategies, each a loop of :class:`jaxtune.Sweep` rounds until the
budget is spent.

Every round is a sweep in the run's work folder; its trials are read back with the time
each was committed (:attr:`jaxtune.results.Results.finished_at`), which is when a user
watching the store could have seen it. Rounds follow each other until the run is killed
at its budget; in-process (the quick test), a round that cannot finish before the budget
is not started (its expected length is the previous round's).

- ``jaxtune random`` / ``jaxtune Sobol`` / ``jaxtune TPE``: one sweep grown by
  ``round_trials`` trials per round (``sampler="random"``, ``"quasi_random"``, ``"tpe"``);
- ``jaxtune SH``: a successive-halving bracket of ``sh_trials`` configurations per round
  (1 to ``R`` epochs, eta 3), a new sample each round;
- ``jaxtune Hyperband`` / ``jaxtune TPE+HB``: one Hyperband iteration per round;
- ``jaxtune ASHA`` / ``jaxtune TPE+ASHA``: one sweep grown by ``round_trials`` trials per
  round under :class:`jaxtune.ASHA` (1 to ``R`` epochs, eta 3), random or TPE proposals
  asked as lanes free up;
- ``jaxtune PBT``: a population-based training sweep per round.

TPE (``Sweep(sampler="tpe")``) and PBT (``jaxtune.PBT``) are reported as
``n/a (not in this build)`` when the installed jaxtune lacks them.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

from search_curves import Recorder
from search_space import SearchProfile, SearchWorkload

import jaxtune

__all__ = ["JAXTUNE_STRATEGIES", "jaxtune_missing", "run_jaxtune"]

JAXTUNE_STRATEGIES = (
    "jaxtune random",
    "jaxtune Sobol",
    "jaxtune SH",
    "jaxtune Hyperband",
    "jaxtune PBT",
    "jaxtune ASHA",
    "jaxtune TPE",
    "jaxtune TPE+HB",
    "jaxtune TPE+ASHA",
)


def _has_sampler(name: str) -> bool:
    model = getattr(getattr(jaxtune.sweep, "model_rounds", None), "MODEL_SAMPLERS", ())
    return name in (*getattr(jaxtune.sweep, "SAMPLERS", ()), *model)


def jaxtune_missing(strategy: str) -> str | None:
    """Why ``strategy`` cannot run in this build, or None when it can."""
    if strategy == "jaxtune PBT" and not hasattr(jaxtune, "PBT"):
        return "n/a (not in this build)"
    if "TPE" in strategy and not _has_sampler("tpe"):
        return "n/a (not in this build)"
    if "ASHA" in strategy and not hasattr(jaxtune, "ASHA"):
        return "n/a (not in this build)"
    return None


def _sweep(wl: SearchWorkload, profile: SearchProfile, **kwargs: Any) -> Any:
    return jaxtune.Sweep(wl.space, wl.task, quiet=True, chunk_size=profile.chunk_size, **kwargs)


def run_jaxtune(
    strategy: str, wl: SearchWorkload, profile: SearchProfile, seed: int, rec: Recorder,
    workdir: str,
) -> None:  # fmt: skip
    """Runs one jaxtune strategy until ``rec``'s budget is spent.

    Args:
        strategy: one of :data:`JAXTUNE_STRATEGIES`.
        wl: the workload (its task is new: nothing is compiled yet).
        profile: sizes.
        seed: the run's seed (each round's sweep seed derives from it).
        rec: the run's recorder (each round's store is added to it).
        workdir: a fresh folder for the stores.
    """
    missing = jaxtune_missing(strategy)
    if missing:
        raise RuntimeError(missing)
    epochs = wl.max_epochs
    n = profile.round_trials
    hyperband = jaxtune.Hyperband(min_epochs=1, max_epochs=epochs, reduction_factor=3)
    halving = jaxtune.SuccessiveHalving(min_epochs=1, reduction_factor=3, max_epochs=epochs)
    asha = jaxtune.ASHA(min_epochs=1, reduction_factor=3, max_epochs=epochs)
    grown = os.path.join(workdir, "grown")  # one sweep, n more trials every round
    rounds: dict[str, Callable[[int], Any]] = {
        "jaxtune random": lambda r: _sweep(wl, profile, n_trials=n * (r + 1), seed=seed,
                                           store=grown),
        "jaxtune Sobol": lambda r: _sweep(wl, profile, n_trials=n * (r + 1), seed=seed,
                                          store=grown, sampler="quasi_random"),
        "jaxtune TPE": lambda r: _sweep(wl, profile, n_trials=n * (r + 1), seed=seed,
                                        store=grown, sampler="tpe"),
        "jaxtune SH": lambda r: _sweep(wl, profile, n_trials=profile.sh_trials,
                                       seed=seed * 1000 + r, scheduler=halving,
                                       store=os.path.join(workdir, f"r{r}")),
        "jaxtune Hyperband": lambda r: _sweep(wl, profile, n_trials=1, seed=seed * 1000 + r,
                                              scheduler=hyperband,
                                              store=os.path.join(workdir, f"r{r}")),
        "jaxtune TPE+HB": lambda r: _sweep(wl, profile, n_trials=1, seed=seed * 1000 + r,
                                           scheduler=hyperband, sampler="tpe",
                                           store=os.path.join(workdir, f"r{r}")),
        "jaxtune ASHA": lambda r: _sweep(wl, profile, n_trials=n * (r + 1), seed=seed,
                                         store=grown, scheduler=asha),
        "jaxtune TPE+ASHA": lambda r: _sweep(wl, profile, n_trials=n * (r + 1), seed=seed,
                                             store=grown, scheduler=asha, sampler="tpe"),
        "jaxtune PBT": lambda r: _sweep(wl, profile, n_trials=n, seed=seed * 1000 + r,
                                        scheduler=jaxtune.PBT(),  # type: ignore[attr-defined]
                                        store=os.path.join(workdir, f"r{r}")),
    }  # fmt: skip
    make = rounds[strategy]
    last = 0.0
    r = 0
    while r == 0 or not rec.expired():
        if r and not profile.isolate and rec.elapsed() + last > rec.budget_s:
            break  # in-process, a round that would end after the budget is not started
        if profile.max_rounds is not None and r >= profile.max_rounds:
            break
        start = time.perf_counter()
        sweep = make(r)
        rec.add_store(sweep.path)
        sweep.run()
        last = time.perf_counter() - start
        r += 1
