"""Tests for jaxtune.plots: figures are written as real PNGs and show what they claim."""

import sys

import jax
import numpy as np
import pytest

from jaxtune import plots
from jaxtune.space import Choice, IntUniform, LogUniform, OneMinusLogUniform, Space

pytest.importorskip("matplotlib")

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def assert_png(path, min_bytes=10_000):
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC
    assert min_bytes < len(data) < 2_000_000  # a real picture, not an empty canvas


def test_grid_vs_random_writes_a_png_showing_5_vs_25_values(tmp_path):
    path = tmp_path / "grid_vs_random.png"
    fig = plots.grid_vs_random(path, key=jax.random.key(0), n=25)
    assert_png(path)
    grid_ax, random_ax = fig.axes
    assert grid_ax.get_title() == "Grid: 5 distinct values of alpha"
    assert random_ax.get_title() == "Random: 25 distinct values of alpha"
    # The points drawn are the trials: 25 per panel, 5 vs 25 distinct x values.
    grid_x = grid_ax.collections[0].get_offsets()[:, 0]
    random_x = random_ax.collections[0].get_offsets()[:, 0]
    assert len(grid_x) == len(random_x) == 25
    assert len(np.unique(grid_x)) == 5 and len(np.unique(random_x)) == 25
    np.testing.assert_allclose(np.unique(grid_x), np.geomspace(1e-4, 1, 5), rtol=1e-5)


def test_grid_vs_random_needs_a_square_budget():
    with pytest.raises(ValueError, match="n must be a perfect square"):
        plots.grid_vs_random(None, n=24)


def test_samples_writes_a_png_with_axes_on_each_scale(tmp_path, key):
    space = Space(lr=LogUniform(1e-4, 1.0), beta=OneMinusLogUniform(0.9, 0.999))
    s = space.random(key, 100)
    path = tmp_path / "samples.png"
    fig = plots.samples(s, space, "lr", "beta", path=path)
    assert_png(path)
    ax = fig.axes[0]
    assert (ax.get_xscale(), ax.get_yscale()) == ("log", "logit")
    assert "1 - beta" in ax.get_ylabel()
    np.testing.assert_allclose(ax.collections[0].get_offsets()[:, 0], s["lr"], rtol=1e-6)
    # Rug: one tick per trial along each axis, at the trial's value.
    x_rug, y_rug = ax.lines
    np.testing.assert_allclose(x_rug.get_xdata(), s["lr"], rtol=1e-6)
    np.testing.assert_allclose(y_rug.get_ydata(), s["beta"], rtol=1e-6)
    lo, hi = ax.get_xlim()
    assert lo < 1e-4 and hi > 1.0  # the whole range is shown


def test_samples_draws_string_choices_as_categories_on_given_axes(key):
    from matplotlib.figure import Figure

    space = Space(opt=Choice(["sgd", "adam", "rmsprop"]), units=IntUniform(1, 64, log=True))
    fig = Figure()
    ax = fig.add_subplot()
    assert plots.samples(space.random(key, 30), space, "opt", "units", ax=ax) is fig
    assert [t.get_text() for t in ax.get_xticklabels()] == ["sgd", "adam", "rmsprop"]
    assert ax.get_yscale() == "log"


def test_samples_rejects_an_unknown_dimension(key):
    space = Space(lr=LogUniform(1e-4, 1.0))
    with pytest.raises(ValueError, match="unknown dimension 'beta'"):
        plots.samples(space.random(key, 4), space, "lr", "beta")


def test_missing_matplotlib_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)  # import now fails
    with pytest.raises(ImportError, match=r"jaxtune\[plots\]"):
        plots.grid_vs_random(None)
