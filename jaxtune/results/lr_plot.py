"""The picture of a learning-rate range test (:func:`jaxtune.lr_find`).

Smoothed loss against the learning rate on a log axis, one line per lane, each lane's
suggestions marked: a circle at ``"steepest"``, a triangle at ``"valley"``. Built with
:class:`matplotlib.figure.Figure` (never ``pyplot``), like :mod:`jaxtune.results.plots`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from jaxtune.results.axes import PathLike, new_axes, save

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["plot_lr_find"]

_MARKERS = {"steepest": "o", "valley": "v"}


def plot_lr_find(result: Any, path: PathLike | None = None, ax: Axes | None = None) -> Figure:
    """Smoothed loss vs learning rate (log scale) of every lane, suggestions marked.

    Args:
        result: a :class:`jaxtune.train.lr_find.LRFind`.
        path: where to write the figure (format from the suffix); None writes nothing.
        ax: axes to draw on; None makes a new figure.

    Returns:
        The Figure.

    Examples:
        >>> import numpy as np
        >>> from jaxtune.train.lr_find import LRFind
        >>> lrs = np.geomspace(1e-4, 1, 50)
        >>> loss = np.stack([2 - np.tanh(np.log10(lrs) + 2.5), 2 - np.tanh(np.log10(lrs) + 2)])
        >>> found = LRFind(lrs, loss, loss, np.array([50, 50]), {"momentum": np.array([0.0, 0.9])})
        >>> fig = plot_lr_find(found)
        >>> ax = fig.axes[0]
        >>> ax.get_xscale(), [line.get_label() for line in ax.get_lines()[:2]]
        ('log', ['momentum=0', 'momentum=0.9'])
    """
    fig, ax = new_axes(ax, figsize=(6.0, 4.2))
    lrs = np.asarray(result.learning_rates)
    suggestions = {m: result.suggestion(m) for m in _MARKERS}
    lines = [
        ax.plot(lrs, result.smoothed[lane], label=result.lane_label(lane))[0]
        for lane in range(result.num_lanes)
    ]
    for lane, line in enumerate(lines):
        for method, marker in _MARKERS.items():
            lr = suggestions[method][lane]
            if np.isfinite(lr):
                i = int(np.argmin(np.abs(np.log(lrs) - np.log(lr))))
                ax.plot(lr, result.smoothed[lane, i], marker, color=line.get_color(), markersize=8)
    finite = result.smoothed[np.isfinite(result.smoothed)]
    head = result.smoothed[:, :5][np.isfinite(result.smoothed[:, :5])]
    if head.size and head.max() > finite.min():  # keep the blow-up from squashing the rest
        low, start = float(finite.min()), float(head.max())
        ax.set_ylim(low - 0.05 * (start - low), start + 0.25 * (start - low))
    ax.set_xscale("log")
    ax.set_xlabel("learning rate (log scale)")
    ax.set_ylabel("smoothed training loss")
    ax.set_title("learning-rate range test: o steepest, v valley")
    ax.legend(fontsize="small")
    save(fig, path)
    return fig
