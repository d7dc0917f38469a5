"""Figures for search spaces and sweeps.

matplotlib is optional (``pip install 'jaxtune[plots]'``) and imported inside each
function. Figures are built with :class:`matplotlib.figure.Figure`, never through
``pyplot``: nothing opens a window or keeps global state, so plotting works on headless
machines and in threads. Every function returns its Figure and, given ``path``, writes
it (the format follows the file suffix, e.g. PNG).

Axes follow each dimension's scale: log for LogUniform (and IntUniform with
``log=True``), logit for OneMinusLogUniform (near 1 it spreads the decades of ``1 - x``
evenly; ticks read 0.9, 0.99, 0.999), category ticks for a Choice of strings.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import jax
import numpy as np

from jaxtune.results.axes import PathLike, figure_class, new_axes, positions, rug, save, set_axis
from jaxtune.results.lineage import population_plot
from jaxtune.results.parallel_plot import parallel_coordinates
from jaxtune.results.rung_plot import budget, rungs
from jaxtune.space import IntUniform, LogUniform, OneMinusLogUniform, Space  # noqa: F401

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "budget",
    "grid_vs_random",
    "importance_bars",
    "learning_curves",
    "learning_rates",
    "metric_vs_hyperparameter",
    "parallel_coordinates",
    "population_plot",
    "rungs",
    "samples",
    "sweep_report",
]


def samples(
    samples: Mapping[str, Any],
    space: Space,
    x: str,
    y: str,
    path: PathLike | None = None,
    ax: Axes | None = None,
    *,
    color: Any = "C0",
) -> Figure:
    """Scatter of two dimensions of a sample set, each on its scale, with rug ticks.

    Args:
        samples: a sample set drawn from ``space`` (encoded values).
        space: the Space that describes the scales.
        x: name of the dimension on the horizontal axis.
        y: name of the dimension on the vertical axis.
        path: where to write the figure; None writes nothing.
        ax: axes to draw on (e.g. one panel of a larger figure); None makes a figure.
        color: a matplotlib color for the points and rug ticks.

    Returns:
        The Figure holding the axes.

    Examples:
        >>> space = Space(lr=LogUniform(1e-4, 1), beta=OneMinusLogUniform(0.9, 0.999))
        >>> fig = samples(space.random(jax.random.key(0), 50), space, "lr", "beta")
        >>> ax = fig.axes[0]
        >>> ax.get_xscale(), ax.get_yscale(), len(ax.collections[0].get_offsets())
        ('log', 'logit', 50)
    """
    for name in (x, y):
        if name not in space:
            raise ValueError(f"unknown dimension {name!r}; the space has {list(space.names)}")
    fig, ax = new_axes(ax, figsize=(5.0, 4.2))
    xs, ys = positions(space[x], samples[x]), positions(space[y], samples[y])
    ax.scatter(xs, ys, s=18, color=color, alpha=0.8, edgecolors="none")
    set_axis(ax, "x", x, space[x])
    set_axis(ax, "y", y, space[y])
    rug(ax, xs, ys, color)
    save(fig, path)
    return fig


def grid_vs_random(path: PathLike | None, *, key: jax.Array | None = None, n: int = 25) -> Figure:
    """Grid search next to random search at the same budget (the course's Figure 60).

    With 25 trials a 5 x 5 grid tries only 5 distinct values of the important
    hyperparameter (the learning rate alpha); random search tries 25. Epsilon, which
    hardly matters, is the other axis. The rug ticks under each panel show the distinct
    values of alpha.

    Args:
        path: where to write the figure (e.g. ``"grid_vs_random.png"``); None: nowhere.
        key: PRNG key of the random panel; None uses ``jax.random.key(0)``.
        n: the budget, a perfect square (the grid is ``sqrt(n)`` per side).

    Returns:
        The Figure, two panels.

    Examples:
        >>> fig = grid_vs_random(None, n=16)
        >>> [ax.get_title() for ax in fig.axes]
        ['Grid: 4 distinct values of alpha', 'Random: 16 distinct values of alpha']
    """
    side = math.isqrt(n) if isinstance(n, int) and n >= 1 else 0
    if side * side != n:
        raise ValueError(f"n must be a perfect square >= 1 (a square grid), got {n!r}")
    key = jax.random.key(0) if key is None else key
    space = Space(alpha=LogUniform(1e-4, 1.0), epsilon=LogUniform(1e-10, 1e-6))
    fig = figure_class()(figsize=(10.0, 4.4), layout="constrained")
    panels = (("Grid", space.grid(side), "C0"), ("Random", space.random(key, n), "C1"))
    for ax, (title, points, color) in zip(fig.subplots(1, 2), panels, strict=True):
        samples(points, space, "alpha", "epsilon", ax=ax, color=color)
        distinct = len(np.unique(np.asarray(points["alpha"])))
        ax.set_title(f"{title}: {distinct} distinct values of alpha")
    fig.suptitle(f"Same budget, {n} trials: random search tries more values of what matters")
    save(fig, path)
    return fig


# --------------------------------------------------------------------------- sweeps


def metric_vs_hyperparameter(
    results: Any, name: str, path: PathLike | None = None, ax: Axes | None = None
) -> Figure:
    """The objective of every trial against one hyperparameter, on that dimension's scale.

    Args:
        results: a :class:`jaxtune.results.Results`.
        name: a dimension of the sweep's space.
        path: where to write the figure; None writes nothing.
        ax: axes to draw on; None makes a figure.

    Returns:
        The Figure. Diverged trials are drawn as red crosses at the bottom.
    """
    space = Space.from_dict(results.meta["space"])
    if name not in space:
        raise ValueError(f"unknown hyperparameter {name!r}; the sweep has {list(space.names)}")
    fig, ax = new_axes(ax, figsize=(5.0, 3.8))
    ok = [
        t
        for t in results.trials
        if t.status == "ok" and t.final.get(results.objective) is not None
    ]
    if ok:
        xs = _where(space, name, ok)
        ys = np.array([t.final[results.objective] for t in ok])
        ax.scatter(xs, ys, s=14, alpha=0.7, edgecolors="none")
    bad = results.diverged()
    if bad:
        xb = _where(space, name, bad)
        ax.plot(
            xb,
            np.full(len(xb), 0.02),
            "x",
            color="C3",
            transform=ax.get_xaxis_transform(),
            label=f"diverged ({len(bad)})",
        )
        ax.legend(loc="best", fontsize="small")
    set_axis(ax, "x", name, space[name])
    ax.set_ylabel(results.objective)
    save(fig, path)
    return fig


def _where(space: Space, name: str, trials: list[Any]) -> np.ndarray:
    """The trials' positions on dimension ``name``'s axis."""
    encoded = space.encode([{k: t.hparams[k] for k in space.names} for t in trials])
    return positions(space[name], encoded[name])


def _top_curves(
    results: Any, k: int, metric: str, path: PathLike | None, ylabel: str, log: bool
) -> Figure:
    fig, ax = new_axes(None, figsize=(6.0, 4.0))
    best = results.best(k)
    for rank, t in enumerate(best, start=1):
        values = np.array([np.nan if v is None else v for v in t.curves.get(metric, [])], float)
        ax.plot(
            np.arange(1, len(values) + 1), values, marker=".", label=f"#{rank} trial {t.trial}"
        )
    ax.set_xlabel("epoch")
    ax.set_ylabel(f"{ylabel} (log scale)" if log else ylabel)
    if log:
        ax.set_yscale("log")
    if ax.lines:
        ax.legend(fontsize="small")
    better = "higher" if results.maximize else "lower"
    ax.set_title(
        f"{metric} per epoch of the {len(best)} best trials by {results.objective} "
        f"({better} is better)",
        fontsize="medium",
    )
    save(fig, path)
    return fig


def learning_curves(
    results: Any, k: int = 5, metric: str | None = None, path: PathLike | None = None
) -> Figure:
    """Per-epoch ``metric`` of the ``k`` best trials.

    Args:
        results: a :class:`jaxtune.results.Results`.
        k: how many of the best trials.
        metric: a per-epoch curve; default the objective that ranks them (its curve, as
            ``val_accuracy`` for the built-in task), else ``val_loss``.
        path: where to write the figure; None writes nothing.

    Returns:
        The Figure, titled with the metric and the ranking; a log axis (labelled so)
        where the values are positive and span decades.
    """
    best = results.best(k)
    if metric is None:
        has = any(results.objective in t.curves for t in best)
        metric = results.objective if has else "val_loss"
    values = [v for t in best for v in t.curves.get(metric, []) if v is not None]
    # A log axis where the values are positive and span decades, whatever the name.
    log = bool(values) and min(values) > 0 and max(values) / min(values) > 20
    return _top_curves(results, k, metric, path, metric, log=log)


def learning_rates(results: Any, k: int = 5, path: PathLike | None = None) -> Figure:
    """The learning rate each of the ``k`` best trials used at the start of every epoch."""
    return _top_curves(results, k, "learning_rate", path, "learning rate", log=True)


def sweep_report(results: Any, out_dir: PathLike, k: int = 5) -> list[str]:
    """Write the standard pictures of a sweep as PNG files into ``out_dir``.

    One ``metric_vs_<name>.png`` per searched (not fixed) hyperparameter,
    ``learning_curves.png`` of the ``k`` best trials and, when the trials record their
    learning rate (the built-in trainer), ``learning_rates.png``; when a strategy stopped
    trials early ``rungs.png``, when PBT left a lineage ``pbt.png`` (:func:`population_plot`).

    Returns:
        The paths written.
    """
    os.makedirs(out_dir, exist_ok=True)
    written = []
    space = Space.from_dict(results.meta["space"])
    for name in results.hyperparameters:
        if space[name].kind == "fixed":  # nothing was searched
            continue
        path = os.path.join(out_dir, f"metric_vs_{name}.png")
        metric_vs_hyperparameter(results, name, path)
        written.append(path)
    pictures = [("learning_curves.png", learning_curves)]
    if any("learning_rate" in t.curves for t in results.trials):  # not a function's sweep
        pictures.append(("learning_rates.png", learning_rates))
    if results.stopped_early:  # a strategy stopped trials at rungs
        pictures.append(("rungs.png", lambda r, k, path: rungs(r, path)))
    if results.meta.get("pbt_lineage") and "learning_rate" in results.hyperparameters:
        pictures.append(("pbt.png", lambda r, k, path: population_plot(r, path=path)))
    for fname, make in pictures:
        path = os.path.join(out_dir, fname)
        make(results, k, path=path)
        written.append(path)
    return written


# --------------------------------------------------------------------------- analysis


def importance_bars(
    results_or_dict: Any,
    path: PathLike | None = None,
    ax: Axes | None = None,
    *,
    evaluator: str = "fanova",
) -> Figure:
    """Hyperparameter importance as horizontal bars, the most important on top.

    Args:
        results_or_dict: ``{name: importance}`` (e.g. from
            :func:`jaxtune.analysis.importance`), or a :class:`jaxtune.results.Results`
            whose importance is computed here (needs ``jaxtune[importance]``).
        path: where to write the figure; None writes nothing.
        ax: axes to draw on; None makes a figure.
        evaluator: the evaluator used when given a Results.

    Returns:
        The Figure; each bar is labelled with its share.

    Examples:
        >>> fig = importance_bars({"lr": 0.8, "momentum": 0.15, "units": 0.05})
        >>> ax = fig.axes[0]
        >>> [t.get_text() for t in ax.get_yticklabels()], len(ax.patches)
        (['units', 'momentum', 'lr'], 3)
    """
    if isinstance(results_or_dict, Mapping):
        scores = {str(k): float(v) for k, v in results_or_dict.items()}
        title = "Hyperparameter importance"
    else:
        scores = results_or_dict.importance(evaluator=evaluator)
        title = f"Hyperparameter importance ({evaluator}, {results_or_dict.objective})"
    if not scores:
        raise ValueError("importance_bars: no importance to draw")
    # barh draws the first bar at the bottom: ascending order puts the largest on top.
    names = sorted(scores, key=lambda name: scores[name])
    values = [scores[name] for name in names]
    fig, ax = new_axes(ax, figsize=(5.0, 1.2 + 0.35 * len(names)))
    bars = ax.barh(range(len(names)), values, color="C0")
    ax.bar_label(bars, labels=[f"{v:.2f}" for v in values], padding=3, fontsize="small")
    ax.set_yticks(range(len(names)), names)
    ax.set_xlim(0.0, max(max(values), 1e-12) * 1.18)  # room for the labels
    ax.set_xlabel("importance (share of the total)")
    ax.set_title(title, fontsize="medium")
    save(fig, path)
    return fig
