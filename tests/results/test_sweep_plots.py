"""`jaxtune plot` as a new user reads it: the right pictures, titled, labelled, legible."""

from __future__ import annotations

from pathlib import Path

import jax.numpy as jnp
import numpy as np
import pytest

import jaxtune
from jaxtune import plots

pytest.importorskip("matplotlib")


def _curves(hparams, key):
    epochs = jnp.arange(1, 4, dtype=jnp.float32)
    loss = hparams["lr"] * 10.0 / epochs + hparams["batch_size"] / 1000.0
    return {"val_loss": loss, "val_accuracy": 1.0 - loss / 20.0}


SPACE = jaxtune.Space(
    lr=jaxtune.LogUniform(1e-3, 1.0), batch_size=jaxtune.Choice([32, 64]), opt=["sgd", "adam"]
)


@pytest.fixture(scope="module")
def function_sweep(tmp_path_factory):
    store = str(tmp_path_factory.mktemp("f") / "s")
    return jaxtune.Sweep(
        SPACE, _curves, 12, store=store, quiet=True, objective="val_accuracy", maximize=True
    ).run()


def test_a_function_sweeps_report_has_no_empty_learning_rates_picture(function_sweep, tmp_path):
    written = [Path(p).name for p in plots.sweep_report(function_sweep, tmp_path)]
    assert sorted(written) == [
        "learning_curves.png",
        "metric_vs_batch_size.png",
        "metric_vs_lr.png",
        "metric_vs_opt.png",
    ]


def test_learning_curves_show_the_objective_that_ranks_with_a_title(function_sweep):
    ax = plots.learning_curves(function_sweep, k=3).axes[0]
    assert ax.get_ylabel() == "val_accuracy"
    assert ax.get_title() == (
        "val_accuracy per epoch of the 3 best trials by val_accuracy (higher is better)"
    )
    best = function_sweep.best(1)[0]
    np.testing.assert_allclose(ax.lines[0].get_ydata(), best.curves["val_accuracy"], rtol=1e-6)
    loss = plots.learning_curves(function_sweep, k=12, metric="val_loss").axes[0]
    assert loss.get_yscale() == "log" and loss.get_ylabel() == "val_loss (log scale)"


def test_a_numeric_choice_is_drawn_on_a_categorical_axis(function_sweep):
    ax = plots.metric_vs_hyperparameter(function_sweep, "batch_size").axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["32", "64"]
    assert ax.get_xlim() == (-0.5, 1.5)
    xs = ax.collections[0].get_offsets()[:, 0]
    want = [[32, 64].index(t.hparams["batch_size"]) for t in function_sweep.ok()]
    assert sorted(xs.tolist()) == sorted(want)


def test_parallel_coordinates_labels_are_legible_and_inside(function_sweep):
    fig = plots.parallel_coordinates(function_sweep, k=5)
    ax = fig.axes[0]
    assert min(t.get_fontsize() for t in ax.texts) >= 8  # was x-small, 6.9 points
    right = ax.get_xlim()[1]
    assert max(t.get_position()[0] for t in ax.texts) < right - 0.2  # room for the text


@pytest.fixture(scope="module")
def halved(tmp_path_factory, tiny_npz):
    return jaxtune.Sweep(
        jaxtune.Space(learning_rate=jaxtune.LogUniform(1e-2, 0.5)),
        jaxtune.Task(dataset=tiny_npz),
        9,
        store=str(tmp_path_factory.mktemp("sh") / "s"),
        quiet=True,
        scheduler=jaxtune.SuccessiveHalving(max_epochs=3),
    ).run()


def test_the_rung_plot_has_a_legend_and_shows_one_epoch_trials(halved):
    ax = plots.rungs(halved).axes[0]
    legend = {t.get_text() for t in ax.get_legend().get_texts()}
    assert legend == {"stopped early (6)", "top rung (3)"}  # rungs of 9 and 3 lanes
    single = [line for line in ax.lines if len(line.get_xdata()) == 1]
    assert len(single) == 6 and all(line.get_marker() == "o" for line in single)


def test_a_pbt_sweeps_report_has_no_rung_picture(tmp_path, tiny_npz):
    results = jaxtune.Sweep(
        jaxtune.Space(learning_rate=jaxtune.LogUniform(1e-2, 0.5)),
        jaxtune.Task(dataset=tiny_npz, epochs=2),
        4,
        store=str(tmp_path / "pbt"),
        quiet=True,
        scheduler=jaxtune.PBT(interval_epochs=1),
    ).run()
    written = sorted(Path(p).name for p in plots.sweep_report(results, tmp_path / "png"))
    assert written == [
        "learning_curves.png",
        "learning_rates.png",
        "metric_vs_learning_rate.png",
        "pbt.png",
    ]
