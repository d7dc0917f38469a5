"""Axis helpers shared by :mod:`jaxtune.plots`: each dimension drawn on its own scale.

matplotlib is imported lazily (the ``jaxtune[plots]`` extra), and figures are built with
:class:`matplotlib.figure.Figure`, never ``pyplot``, so nothing opens a window.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from typing import TYPE_CHECKING, Any

import numpy as np

from jaxtune.space import Choice, IntUniform, LogUniform, OneMinusLogUniform, Uniform

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

PathLike = str | os.PathLike[str]

_PAD = 0.08  # axis padding beyond a dimension's bounds, as a fraction of its scale
_LOGIT_TICKS = (0.1, 0.5, 0.8, 0.9, 0.95, 0.99, 0.995, 0.999, 0.9995, 0.9999, 0.99999)


def figure_class() -> type[Figure]:
    try:
        from matplotlib.figure import Figure
    except ImportError as error:
        raise ImportError(
            "jaxtune.plots needs matplotlib: pip install 'jaxtune[plots]'"
        ) from error
    return Figure


def new_axes(ax: Axes | None, figsize: tuple[float, float]) -> tuple[Figure, Axes]:
    """The given axes and their figure, or a fresh single-axes figure."""
    if ax is not None:
        fig = ax.figure  # may be a SubFigure; savefig needs the root Figure
        while getattr(fig, "figure", fig) is not fig:
            fig = fig.figure
        return fig, ax
    fig = figure_class()(figsize=figsize, layout="constrained")
    return fig, fig.add_subplot()


def save(fig: Figure, path: PathLike | None, dpi: int = 100) -> None:
    """Write ``fig`` to ``path`` (format from its suffix) atomically, never through a link.

    The picture goes to an unpredictable temporary file in the same folder (``mkstemp``),
    renamed over ``path``: a symbolic link there is replaced, its target left untouched.

    Raises:
        OSError: the folder cannot be written (no file is left behind).
    """
    if path is None:
        return
    path = os.fspath(path)
    name = os.path.basename(path)
    fmt = os.path.splitext(name)[1][1:].lower() or None
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=os.path.dirname(path) or ".")
    try:
        mask = os.umask(0)
        os.umask(mask)
        os.fchmod(fd, 0o666 & ~mask)  # as open() would have made it (mkstemp: 0600)
        with os.fdopen(fd, "wb") as f:
            fig.savefig(f, dpi=dpi, format=fmt)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def limits(dim: Any) -> tuple[float, float] | None:
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


def categories(dim: Any) -> tuple[Any, ...] | None:
    """The values a Choice draws as categories (numbers too: a batch size of 32 or 64 is
    two categories, not a 32-64 range); None for other dimensions."""
    return tuple(dim.values) if isinstance(dim, Choice) else None


def positions(dim: Any, encoded: Any) -> np.ndarray:
    """Where encoded values sit on ``dim``'s axis: a Choice's category index, else the value.

    Examples:
        >>> positions(Choice([32, 64]), [64, 32, 64]).tolist()
        [1, 0, 1]
    """
    values = np.asarray(encoded)
    if not isinstance(dim, Choice) or dim.labels is not None:  # labels: already indices
        return values
    index = {float(v): i for i, v in enumerate(dim.values)}
    return np.array([index[float(v)] for v in values.ravel()], dtype=int).reshape(values.shape)


def set_axis(ax: Axes, which: str, name: str, dim: Any) -> None:
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
        # Plain decimals where a reader expects them (0.9, 0.99), not 1 - 10^-k; minor
        # ticks unlabeled, or they collide near 0.5.
        from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter

        lo, hi = limits(dim)
        ticks = [t for t in _LOGIT_TICKS if lo <= t <= hi]
        axis.set_major_locator(FixedLocator(ticks))
        axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        axis.set_minor_formatter(NullFormatter())
    elif isinstance(dim, IntUniform):
        from matplotlib.ticker import MaxNLocator

        axis.set_major_locator(MaxNLocator(integer=True))
    if (values := categories(dim)) is not None:
        axis.set_ticks(range(len(values)), [str(v) for v in values])
        set_lim(-0.5, len(values) - 0.5)
    elif (lim := limits(dim)) is not None:
        set_lim(*lim)
    set_label(label)


def rug(ax: Axes, x: np.ndarray, y: np.ndarray, color: Any) -> None:
    """Marginal ticks along the bottom and left edges: the distinct values per axis."""
    style = {"color": color, "alpha": 0.6, "markersize": 8, "linestyle": "none"}
    ax.plot(x, np.full(len(x), 0.02), marker="|", transform=ax.get_xaxis_transform(), **style)
    ax.plot(np.full(len(y), 0.02), y, marker="_", transform=ax.get_yaxis_transform(), **style)
