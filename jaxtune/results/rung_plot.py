"""The picture of a sweep under a scheduler: the objective against epochs, by rung.

Each trial is one line from its first epoch to the epoch it stopped at; stopped trials
are faded, the ones that reached the top rung drawn strong, so a person sees where the
scheduler cut and whether the survivors kept improving.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from jaxtune.results.axes import PathLike, new_axes, save

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["budget", "rungs"]


def budget(results: Any) -> dict[str, float]:
    """Lane-epochs a scheduler spent, against a full sweep of the same trials.

    Returns:
        ``{"lane_epochs": spent, "full": trials x the top rung's epochs, "fraction": ...}``
        (``fraction`` 1.0 for a sweep without a scheduler).

    Examples:
        >>> from types import SimpleNamespace as NS
        >>> trials = [NS(final={"epochs_trained": e}) for e in (1, 1, 3)]
        >>> budget(NS(trials=trials))
        {'lane_epochs': 5.0, 'full': 9.0, 'fraction': 0.5555555555555556}
    """
    epochs = [t.final.get("epochs_trained") for t in results.trials]
    if not epochs or any(e is None for e in epochs):
        done = [t.final.get("epochs_completed") or 0 for t in results.trials]
        return {"lane_epochs": float(sum(done)), "full": float(sum(done)), "fraction": 1.0}
    spent, full = float(sum(epochs)), float(len(epochs) * max(epochs))
    return {"lane_epochs": spent, "full": full, "fraction": spent / full}


def rungs(results: Any, path: PathLike | None = None, metric: str | None = None) -> Figure:
    """The objective (or ``metric``) of every trial against epochs; stopped ones faded.

    Args:
        results: a :class:`jaxtune.Results` of a sweep with a scheduler (any sweep works;
            without one no trial is faded).
        path: where to save the PNG (None: do not save).
        metric: a per-epoch curve name; default the sweep's objective.

    Returns:
        The matplotlib Figure.
    """
    metric = metric or results.objective
    fig, ax = new_axes(None, figsize=(6.5, 4.0))
    top = max((t.final.get("rung") or 0 for t in results.trials), default=0)
    count = {True: 0, False: 0}
    for t in results.trials:
        count[(t.final.get("rung") or 0) < top] += 1
    labelled = set()
    for t in results.trials:
        values = np.array([np.nan if v is None else v for v in t.curves.get(metric, [])], float)
        if not len(values):
            continue
        stopped = (t.final.get("rung") or 0) < top
        name = f"stopped early ({count[True]})" if stopped else f"top rung ({count[False]})"
        ax.plot(
            np.arange(1, len(values) + 1),
            values,
            color="0.45" if stopped else "C0",
            alpha=0.45 if stopped else 0.9,
            linewidth=0.8 if stopped else 1.6,
            marker="o",  # a 1-epoch trial is one point: without a marker it is invisible
            markersize=2.5 if stopped else 3.5,
            label=name if name not in labelled else "_nolegend_",
        )
        labelled.add(name)
    if labelled:
        ax.legend(fontsize="small", title="trials")
    ax.set_xscale("log", base=3)
    ax.set_xlabel("epochs trained (log scale)")
    ax.set_ylabel(metric)
    b = budget(results)
    ax.set_title(
        f"{len(results.trials)} trials; {b['lane_epochs']:.0f} of {b['full']:.0f} "
        f"lane-epochs ({100 * b['fraction']:.0f}%)",
        fontsize="medium",
    )
    save(fig, path)
    return fig
