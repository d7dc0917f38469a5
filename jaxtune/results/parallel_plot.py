"""Parallel coordinates of a sweep's best trials: one vertical axis per hyperparameter.

Part of :mod:`jaxtune.plots` (re-exported there); matplotlib is imported lazily.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from jaxtune.results.axes import PathLike, new_axes, save
from jaxtune.space import IntUniform, LogUniform, OneMinusLogUniform, Space

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["parallel_coordinates"]


def _scale_note(dim: Any) -> str:
    if isinstance(dim, LogUniform) or (isinstance(dim, IntUniform) and dim.log):
        return "\n(log)"
    if isinstance(dim, OneMinusLogUniform):
        return "\n(log 1-x)"
    return ""


def _fmt_value(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def parallel_coordinates(results: Any, k: int = 20, path: PathLike | None = None) -> Figure:
    """The ``k`` best trials as lines across one vertical axis per searched hyperparameter.

    Each axis is its dimension's unit scale (``Space.to_unit``: log for a learning rate,
    log of ``1 - x`` for a momentum), bottom = low bound, top = high bound, with the
    bounds written at its ends; a Choice shows each value at its category position.
    Lines are colored by the objective; the best trial is drawn last and thickest.

    Args:
        results: a :class:`jaxtune.results.Results`.
        k: how many of the best non-diverged trials to draw.
        path: where to write the figure; None writes nothing.

    Returns:
        The Figure: the axes, then the colorbar of the objective.

    Examples:
        >>> from jaxtune.results import Results
        >>> from jaxtune.store import TrialRecord
        >>> space = Space(lr=LogUniform(1e-4, 1), opt=["sgd", "adam"], bs=64)
        >>> trials = [
        ...     TrialRecord(i, 0, "", {"lr": lr, "opt": o, "bs": 64}, "ok", 0, {"val_loss": lr})
        ...     for i, (lr, o) in enumerate([(0.1, "sgd"), (0.01, "adam"), (0.001, "sgd")])
        ... ]
        >>> results = Results(tuple(trials), {"space": space.to_dict()}, (), "demo")
        >>> fig = parallel_coordinates(results, k=2)
        >>> ax = fig.axes[0]
        >>> [t.get_text() for t in ax.get_xticklabels()], len(ax.lines) - 2  # minus 2 axes
        (['lr\\n(log)', 'opt'], 2)
    """
    if not isinstance(k, int) or isinstance(k, bool) or k < 1:
        raise ValueError(f"k must be an integer >= 1, got {k!r}")
    space = Space.from_dict(results.meta["space"])  # round 0: every round lies inside it
    names = [name for name, dim in space.items() if dim.kind != "fixed"]
    if not names:
        raise ValueError("parallel_coordinates: every dimension is fixed; nothing to draw")
    best = results.best(k)
    if not best:
        raise ValueError("parallel_coordinates: no finished, non-diverged trial to draw")
    encoded = space.encode([{n: t.hparams[n] for n in space.names} for t in best])
    u = np.asarray(space.to_unit(encoded))[:, [space.names.index(n) for n in names]]
    score = np.array([t.final[results.objective] for t in best], float)

    fig, ax = new_axes(None, figsize=(max(6.0, 2.0 * len(names) + 2.5), 4.8))
    from matplotlib import colormaps
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    lo, hi = float(score.min()), float(score.max())
    norm = Normalize(lo, hi if hi > lo else lo + 1.0)
    cmap = colormaps["viridis" if results.maximize else "viridis_r"]  # best is yellow
    xs = np.arange(len(names))
    for x in xs:
        ax.axvline(x, color="0.55", linewidth=0.8, zorder=1)
    for rank in reversed(range(len(best))):  # the best last, on top
        ax.plot(
            xs,
            u[rank],
            color=cmap(norm(score[rank])),
            linewidth=2.6 if rank == 0 else 1.2,
            alpha=0.9,
            marker="o",
            markersize=3,
            zorder=2 + len(best) - rank,
        )
    for x, name in zip(xs, names, strict=True):
        dim = space[name]
        options = dim.values if dim.kind == "choice" else (dim.low, dim.high)
        where = np.asarray(dim.to_unit(dim.encode(options)))
        for value, y in zip(options, where.tolist(), strict=True):
            ax.text(x + 0.05, y, _fmt_value(value), fontsize="small", va="center")
    ax.set_xticks(xs, [name + _scale_note(space[name]) for name in names], fontsize="medium")
    ax.set_xlim(-0.3, len(names) - 0.3)  # room for the last axis's value labels
    ax.set_ylim(-0.06, 1.06)
    ax.set_yticks([0.0, 1.0], ["low", "high"])
    ax.set_title(f"Top {len(best)} trials by {results.objective}", fontsize="medium")
    better = "higher" if results.maximize else "lower"
    fig.colorbar(
        ScalarMappable(norm=norm, cmap=cmap),
        ax=ax,
        label=f"{results.objective} ({better} is better)",
    )
    save(fig, path)
    return fig
