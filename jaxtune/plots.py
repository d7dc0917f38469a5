"""Figures for search spaces and sweeps.

matplotlib is optional (``pip install 'jaxtune[plots]'``) and imported inside each
function. Figures are built with :class:`matplotlib.figure.Figure`, never through
``pyplot``: nothing opens a window or keeps global state, so plotting works on headless
machines and in threads. Every function returns its Figure and, given ``path``, writes
it (the format follows the file suffix, e.g. PNG).

Axes follow each dimension's scale: log for LogUniform (and IntUniform with
``log=True``), logit for OneMinusLogUniform (near 1 it spreads the decades of ``1 - x``
evenly, ticks read 0.9, 0.99, 0.999), category ticks for a Choice of strings.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import jax
import numpy as np

from jaxtune.space import IntUniform, LogUniform, OneMinusLogUniform, Space, Uniform

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "grid_vs_random",
    "learning_curves",
    "learning_rates",
    "metric_vs_hyperparameter",
    "samples",
    "sweep_report",
]

PathLike = str | os.PathLike[str]

_PAD = 0.08  # axis padding beyond a dimension's bounds, as a fraction of its scale


def _figure_class() -> type[Figure]:
    try:
        from matplotlib.figure import Figure
    except ImportError as error:
        raise ImportError(
            "jaxtune.plots needs matplotlib: pip install 'jaxtune[plots]'"
        ) from error
    return Figure


def _new_axes(ax: Axes | None, figsize: tuple[float, float]) -> tuple[Figure, Axes]:
    """The given axes and their figure, or a fresh single-axes figure."""
    if ax is not None:
        fig = ax.figure  # may be a SubFigure; savefig needs the root Figure
        while getattr(fig, "figure", fig) is not fig:
            fig = fig.figure
        return fig, ax
    fig = _figure_class()(figsize=figsize, layout="constrained")
    return fig, fig.add_subplot()


def _save(fig: Figure, path: PathLike | None, dpi: int = 100) -> None:
    if path is not None:
        fig.savefig(path, dpi=dpi)


def _limits(dim: Any) -> tuple[float, float] | None:
    """Axis limits: the dimension's bounds padded a little on its own scale."""
    if isinstance(dim, LogUniform) or (isinstance(dim, IntUniform) and dim.log):
        ratio = (dim.high / dim.low) ** _PAD
        return dim.low / ratio, dim.high * ratio
    if isinstance(dim, OneMinusLogUniform):
        ratio = ((1 - dim.low) / (1 - dim.high)) ** _PAD
        return 1 - (1 - dim.low) * ratio, 1 - (1 - dim.high) / ratio
    if isinstance(dim, (Uniform, IntUniform)):
        pad = _PAD * (dim.high - dim.low)
        return dim.low - pad, dim.high + pad
    return None  # Choice, Fixed: let matplotlib fit the values


def _set_axis(ax: Axes, which: str, name: str, dim: Any) -> None:
    """Scale, limits, label and (for labels) category ticks of one axis."""
    axis = ax.xaxis if which == "x" else ax.yaxis
    set_scale, set_lim, set_label = (
        (ax.set_xscale, ax.set_xlim, ax.set_xlabel)
        if which == "x"
        else (ax.set_yscale, ax.set_ylim, ax.set_ylabel)
    )
    label = name
    if isinstance(dim, LogUniform) or (isinstance(dim, IntUniform) and dim.log):
        set_scale("log")
        label = f"{name} (log scale)"
    elif isinstance(dim, OneMinusLogUniform):
        set_scale("logit")
        label = f"{name} (logit scale: decades of 1 - {name})"
    if dim.labels is not None:
        axis.set_ticks(range(len(dim.labels)), [str(v) for v in dim.labels])
        set_lim(-0.5, len(dim.labels) - 0.5)
    elif (lim := _limits(dim)) is not None:
        set_lim(*lim)
    set_label(label)


def _rug(ax: Axes, x: np.ndarray, y: np.ndarray, color: Any) -> None:
    """Marginal ticks along the bottom and left edges: the distinct values per axis."""
    style = {"color": color, "alpha": 0.6, "markersize": 8, "linestyle": "none"}
    ax.plot(x, np.full(len(x), 0.02), marker="|", transform=ax.get_xaxis_transform(), **style)
    ax.plot(np.full(len(y), 0.02), y, marker="_", transform=ax.get_yaxis_transform(), **style)


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

    Example:
        >>> space = Space(lr=LogUniform(1e-4, 1), beta=OneMinusLogUniform(0.9, 0.999))
        >>> fig = samples(space.random(jax.random.key(0), 50), space, "lr", "beta")
        >>> ax = fig.axes[0]
        >>> ax.get_xscale(), ax.get_yscale(), len(ax.collections[0].get_offsets())
        ('log', 'logit', 50)
    """
    for name in (x, y):
        if name not in space:
            raise ValueError(f"unknown dimension {name!r}; the space has {list(space.names)}")
    fig, ax = _new_axes(ax, figsize=(5.0, 4.2))
    xs, ys = np.asarray(samples[x]), np.asarray(samples[y])
    ax.scatter(xs, ys, s=18, color=color, alpha=0.8, edgecolors="none")
    _set_axis(ax, "x", x, space[x])
    _set_axis(ax, "y", y, space[y])
    _rug(ax, xs, ys, color)
    _save(fig, path)
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

    Example:
        >>> fig = grid_vs_random(None, n=16)
        >>> [ax.get_title() for ax in fig.axes]
        ['Grid: 4 distinct values of alpha', 'Random: 16 distinct values of alpha']
    """
    side = math.isqrt(n) if isinstance(n, int) and n >= 1 else 0
    if side * side != n:
        raise ValueError(f"n must be a perfect square >= 1 (a square grid), got {n!r}")
    key = jax.random.key(0) if key is None else key
    space = Space(alpha=LogUniform(1e-4, 1.0), epsilon=LogUniform(1e-10, 1e-6))
    fig = _figure_class()(figsize=(10.0, 4.4), layout="constrained")
    panels = (("Grid", space.grid(side), "C0"), ("Random", space.random(key, n), "C1"))
    for ax, (title, points, color) in zip(fig.subplots(1, 2), panels, strict=True):
        samples(points, space, "alpha", "epsilon", ax=ax, color=color)
        distinct = len(np.unique(np.asarray(points["alpha"])))
        ax.set_title(f"{title}: {distinct} distinct values of alpha")
    fig.suptitle(f"Same budget, {n} trials: random search tries more values of what matters")
    _save(fig, path)
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
    fig, ax = _new_axes(ax, figsize=(5.0, 3.8))
    ok = [
        t
        for t in results.trials
        if t.status == "ok" and t.final.get(results.objective) is not None
    ]
    if ok:
        xs = np.asarray(space.encode([{k: t.hparams[k] for k in space.names} for t in ok])[name])
        ys = np.array([t.final[results.objective] for t in ok])
        ax.scatter(xs, ys, s=14, alpha=0.7, edgecolors="none")
    bad = results.diverged()
    if bad:
        xb = np.asarray(space.encode([{k: t.hparams[k] for k in space.names} for t in bad])[name])
        ax.plot(
            xb,
            np.full(len(xb), 0.02),
            "x",
            color="C3",
            transform=ax.get_xaxis_transform(),
            label=f"diverged ({len(bad)})",
        )
        ax.legend(loc="best", fontsize="small")
    _set_axis(ax, "x", name, space[name])
    ax.set_ylabel(results.objective)
    _save(fig, path)
    return fig


def _top_curves(
    results: Any, k: int, metric: str, path: PathLike | None, ylabel: str, log: bool
) -> Figure:
    fig, ax = _new_axes(None, figsize=(6.0, 4.0))
    for rank, t in enumerate(results.best(k), start=1):
        values = np.array([np.nan if v is None else v for v in t.curves.get(metric, [])], float)
        ax.plot(
            np.arange(1, len(values) + 1), values, marker=".", label=f"#{rank} trial {t.trial}"
        )
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
    if log:
        ax.set_yscale("log")
    if ax.lines:
        ax.legend(fontsize="small")
    _save(fig, path)
    return fig


def learning_curves(
    results: Any, k: int = 5, metric: str = "val_loss", path: PathLike | None = None
) -> Figure:
    """Per-epoch ``metric`` of the ``k`` best trials (validation loss by default)."""
    return _top_curves(results, k, metric, path, metric, log=metric.endswith("loss"))


def learning_rates(results: Any, k: int = 5, path: PathLike | None = None) -> Figure:
    """The learning rate each of the ``k`` best trials used at the start of every epoch."""
    return _top_curves(results, k, "learning_rate", path, "learning rate (log scale)", log=True)


def sweep_report(results: Any, out_dir: PathLike, k: int = 5) -> list[str]:
    """Write the standard pictures of a sweep as PNG files into ``out_dir``.

    One ``metric_vs_<name>.png`` per searched (not fixed) hyperparameter, and
    ``learning_curves.png`` and ``learning_rates.png`` of the ``k`` best trials.

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
    for fname, make in (
        ("learning_curves.png", learning_curves),
        ("learning_rates.png", learning_rates),
    ):
        path = os.path.join(out_dir, fname)
        make(results, k, path=path)
        written.append(path)
    return written
