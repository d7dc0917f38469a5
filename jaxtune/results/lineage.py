"""What population-based training did: each lane's lineage and the schedule it found.

A PBT sweep (:class:`jaxtune.PBT`) stores, for every lane and interval, the
hyperparameters it trained with, the lane whose state it started from (its parent) and
its objective at the interval's end (metadata ``pbt_lineage``). From those rows,
:func:`schedule` follows a trial back through its parents and returns the per-epoch
value of every hyperparameter along that path; :func:`population_plot` draws the
population's learning rate over epochs and the path of the best trial.

Examples:
    >>> def row(trial, k, epochs, parent, lr):
    ...     return dict(
    ...         trial=trial,
    ...         interval=k,
    ...         epochs=epochs,
    ...         parent=parent,
    ...         objective=None,
    ...         hparams={"lr": lr},
    ...     )
    >>> rows = [row(0, 0, [0, 2], 0, 0.1), row(1, 0, [0, 2], 1, 0.5),
    ...         row(0, 1, [2, 3], 1, 0.4), row(1, 1, [2, 3], 1, 0.5)]  # fmt: skip
    >>> schedule({"pbt_lineage": {"0": rows}}, 0)
    {'lr': [0.5, 0.5, 0.4]}
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from jaxtune.results.axes import PathLike, new_axes, save
from jaxtune.sweep.lane_round import LINEAGE_KEY

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["lineage", "path", "population_plot", "schedule"]

KEY = LINEAGE_KEY  # where PBT writes the lineage in the store's meta


def _meta(results_or_meta: Any) -> Mapping[str, Any]:
    return getattr(results_or_meta, "meta", results_or_meta)


def lineage(results_or_meta: Any) -> list[dict[str, Any]]:
    """Every stored lineage row of every round, by (interval, trial).

    Args:
        results_or_meta: a :class:`jaxtune.Results` or its ``meta`` dict.

    Returns:
        Rows ``{"trial", "interval", "epochs": [start, end], "parent", "objective",
        "hparams"}``; empty for a sweep without PBT.

    Examples:
        >>> lineage({"space": {}})
        []
    """
    stored = _meta(results_or_meta).get(KEY, {})
    rows = [r for rnd in sorted(stored, key=int) for r in stored[rnd]]
    return sorted(rows, key=lambda r: (r["interval"], r["trial"]))


def path(results_or_meta: Any, trial_id: int) -> list[dict[str, Any]]:
    """The rows of ``trial_id``'s lineage, first interval to last.

    Raises:
        ValueError: the sweep holds no lineage of ``trial_id``.

    Examples:
        >>> row = dict(trial=0, interval=0, epochs=[0, 1], parent=0, objective=None,
        ...            hparams={"lr": 0.1})  # fmt: skip
        >>> [r["interval"] for r in path({"pbt_lineage": {"0": [row]}}, 0)]
        [0]
    """
    rows = lineage(results_or_meta)
    by = {(r["trial"], r["interval"]): r for r in rows}
    last = max((r["interval"] for r in rows if r["trial"] == trial_id), default=None)
    if last is None:
        raise ValueError(
            f"trial_id: no PBT lineage of trial {trial_id!r} (a sweep with "
            "scheduler=jaxtune.PBT(...) stores one per trial)"
        )
    out, lane = [], trial_id
    for k in range(last, -1, -1):
        row = by[(lane, k)]
        out.append(row)
        lane = row["parent"]
    return out[::-1]


def schedule(results_or_meta: Any, trial_id: int) -> dict[str, list[Any]]:
    """Per-epoch values of every hyperparameter along ``trial_id``'s lineage.

    Args:
        results_or_meta: a :class:`jaxtune.Results` of a PBT sweep, or its ``meta``.
        trial_id: the trial (e.g. ``results.best()[0].trial``).

    Returns:
        ``{name: [value at epoch 1, epoch 2, ...]}``: the hyperparameters the model the
        trial ends with was trained with, epoch by epoch.
    """
    out: dict[str, list[Any]] = {}
    for row in path(results_or_meta, trial_id):
        start, end = row["epochs"]
        for name, value in row["hparams"].items():
            out.setdefault(name, []).extend([value] * (end - start))
    return out


_lineage_path = path  # population_plot's argument ``path`` is a file, as in every plot


def population_plot(
    results: Any,
    name: str = "learning_rate",
    trial_id: int | None = None,
    path: PathLike | None = None,
    ax: Axes | None = None,
) -> Figure:
    """Hyperparameter ``name`` of every lane over epochs, the best trial's path on top.

    Args:
        results: a :class:`jaxtune.Results` of a PBT sweep.
        name: the hyperparameter drawn (log axis when all values are positive).
        trial_id: whose path is highlighted (default: the best trial).
        path: where to write the figure (as every plot takes it); None writes nothing.
        ax: axes to draw on; None makes a figure.

    Returns:
        The Figure: faded steps for every lane and interval, a strong line for the path.
    """
    rows = lineage(results)
    if rows and name not in rows[0]["hparams"]:
        raise ValueError(f"name must be one of {sorted(rows[0]['hparams'])}, got {name!r}")
    fig, ax = new_axes(ax, figsize=(6.5, 4.0))
    trials = sorted({r["trial"] for r in rows})
    for t in trials:
        mine = [r for r in rows if r["trial"] == t]
        xs, ys = _steps(mine, name)
        ax.plot(xs, ys, color="0.6", alpha=0.4, linewidth=0.8)
    if trial_id is None and rows and results.best(1):  # none while no trial finished
        trial_id = results.best(1)[0].trial
    if trial_id is not None:
        xs, ys = _steps(_lineage_path(results, trial_id), name)
        ax.plot(xs, ys, color="C3", linewidth=2.2, label=f"trial {trial_id}'s lineage")
        ax.legend(fontsize="small")
    values = np.array([r["hparams"][name] for r in rows], float)
    if values.size and np.all(values > 0):
        ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel(name)
    ax.set_title(f"PBT: {name} of {len(trials)} lanes over epochs", fontsize="medium")
    save(fig, path)
    return fig


def _steps(rows: list[dict[str, Any]], name: str) -> tuple[list[float], list[float]]:
    xs: list[float] = []
    ys: list[float] = []
    for r in rows:
        start, end = r["epochs"]
        xs += [start, end]
        ys += [r["hparams"][name]] * 2
    return xs, ys
