"""Tests for jaxtune.analysis: importance through Optuna, and the sweep as an Optuna study."""

import dataclasses
import math
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxtune import analysis, plots
from jaxtune.space import (
    Choice,
    Fixed,
    IntUniform,
    LogUniform,
    OneMinusLogUniform,
    Space,
    Uniform,
)
from jaxtune.sweep import Sweep

optuna = pytest.importorskip("optuna")

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
SEARCHED = ["lr", "momentum", "width", "opt"]


def only_lr_matters(hp, key):
    # The loss is lowest at lr = 1e-2, with a little noise; nothing else enters.
    return {"val_loss": (jnp.log10(hp["lr"]) + 2.0) ** 2 + 0.001 * jax.random.normal(key)}


@pytest.fixture(scope="module")
def lr_sweep(tmp_path_factory):
    space = Space(
        lr=LogUniform(1e-4, 1.0),
        momentum=OneMinusLogUniform(0.8, 0.999),
        width=IntUniform(8, 64),
        opt=Choice(["sgd", "adam"]),
        eps=Fixed(1e-8),  # never searched: left out of importance
    )
    store = tmp_path_factory.mktemp("lr_sweep") / "run"
    return Sweep(space, only_lr_matters, 96, store=str(store), chunk_size=96, quiet=True).run()


@pytest.fixture(scope="module")
def task_sweep(tmp_path_factory, tiny_npz):
    from jaxtune.task import Task

    space = Space(
        learning_rate=LogUniform(1e-3, 1.0),
        momentum=OneMinusLogUniform(0.5, 0.99),
        hidden=IntUniform(4, 16),
    )
    store = tmp_path_factory.mktemp("task_sweep") / "tiny"
    task = Task(dataset=tiny_npz, epochs=3, layers=1)
    return Sweep(space, task, 8, store=str(store), chunk_size=8, quiet=True).run()


def diverges_above_0_1(hp, key):
    # NaN above lr = 0.1: the sweep stores those trials as diverged.
    return {"val_loss": jnp.where(hp["lr"] > 0.1, jnp.nan, -jnp.log10(hp["lr"]))}


def diverging_sweep(path):
    space = Space(lr=LogUniform(1e-3, 1.0), opt=["sgd", "adam"])
    return Sweep(space, diverges_above_0_1, 16, store=str(path), chunk_size=16, quiet=True)


@pytest.fixture(scope="module")
def diverging(tmp_path_factory):
    return diverging_sweep(tmp_path_factory.mktemp("diverging") / "run").run()


# --------------------------------------------------------------------------- importance


@pytest.mark.parametrize("evaluator", ["fanova", "ped_anova", "mean_decrease_impurity"])
def test_importance_ranks_the_learning_rate_first_by_a_wide_margin(lr_sweep, evaluator):
    imp = analysis.importance(lr_sweep, evaluator=evaluator)
    assert sorted(imp) == sorted(SEARCHED)  # Fixed eps left out
    values = list(imp.values())
    assert values == sorted(values, reverse=True)
    assert math.isclose(sum(values), 1.0, rel_tol=1e-9)
    assert all(type(v) is float and v >= 0 for v in values)
    first, second = list(imp)[:2]
    assert first == "lr"
    # All three evaluators agree. Measured over sweep seeds 0-9 (96 trials): lr's share
    # 0.92-0.999 for fANOVA and MDI; PED-ANOVA, which only compares the best 10% (10
    # trials) with all, is noisier: 0.87-0.98, still at least 8x the runner-up.
    assert imp["lr"] > 0.8 and imp["lr"] > 5 * imp[second], imp


def test_ped_anova_follows_a_maximized_objective(tmp_path):
    def score(hp, key):
        # The highest scores need x > 0.9; the lowest come from y < 0.1. Ranking the wrong
        # way round would make y the important one.
        high = jnp.where(hp["x"] > 0.9, 10.0, 0.0)
        low = jnp.where(hp["y"] < 0.1, -10.0, 0.0)
        return {"score": high + low + 0.01 * jax.random.normal(key)}

    space = Space(x=Uniform(0.0, 1.0), y=Uniform(0.0, 1.0))
    store = str(tmp_path / "run")
    results = Sweep(
        space, score, 96, store=store, chunk_size=96, objective="score", maximize=True, quiet=True
    ).run()
    assert next(iter(results.importance(evaluator="ped_anova"))) == "x"
    # The same trials ranked for minimization: then y decides (so direction is used).
    minimized = dataclasses.replace(results, meta={**results.meta, "maximize": False})
    assert next(iter(minimized.importance(evaluator="ped_anova"))) == "y"


def test_importance_is_reproducible_and_the_seed_reaches_the_forest(lr_sweep):
    a = analysis.importance(lr_sweep, seed=1)
    assert analysis.importance(lr_sweep, seed=1) == a
    assert analysis.importance(lr_sweep, seed=2) != a


def test_importance_of_chosen_params_and_results_method(lr_sweep):
    imp = lr_sweep.importance(evaluator="ped_anova", params=["momentum", "lr"])
    assert next(iter(imp)) == "lr" and sorted(imp) == ["lr", "momentum"]
    given = optuna.importance.PedAnovaImportanceEvaluator()
    assert analysis.importance(lr_sweep, evaluator=given, params=["momentum", "lr"]) == imp


def test_importance_rejects_bad_arguments(lr_sweep):
    with pytest.raises(ValueError, match=r"\['eps'\] are not searched"):
        analysis.importance(lr_sweep, params=["lr", "eps"])
    with pytest.raises(ValueError, match="evaluator must be one of"):
        analysis.importance(lr_sweep, evaluator="shap")
    with pytest.raises(TypeError, match="list of names"):
        analysis.importance(lr_sweep, params="lr")


def test_importance_needs_two_trials_that_differ(diverging):
    results = diverging
    one_ok = type(results)(results.ok()[:1], results.meta, results.rounds, results.path)
    with pytest.raises(ValueError, match="at least 2 non-diverged trials"):
        analysis.importance(one_ok)
    same = [
        type(t)(t.trial, t.round, t.group, t.hparams, "ok", 0, {"val_loss": 1.0})
        for t in results.ok()
    ]
    flat = type(results)(tuple(same), results.meta, results.rounds, results.path)
    with pytest.raises(ValueError, match="nothing to explain"):
        analysis.importance(flat)


def test_forest_evaluators_without_sklearn_name_the_extra(lr_sweep, monkeypatch):
    def no_sklearn(**kw):
        raise ImportError("sklearn is missing")

    monkeypatch.setattr(optuna.importance, "FanovaImportanceEvaluator", no_sklearn)
    with pytest.raises(ImportError, match=r'jaxtune\[importance\].*"ped_anova"'):
        analysis.importance(lr_sweep, evaluator="fanova")


def test_missing_optuna_names_the_extra(lr_sweep, monkeypatch):
    monkeypatch.setitem(sys.modules, "optuna", None)  # import optuna now fails
    for fn in (analysis.importance, analysis.to_optuna):
        with pytest.raises(ImportError, match=r'pip install "jaxtune\[importance\]"'):
            fn(lr_sweep)


# --------------------------------------------------------------------------- to_optuna


def test_to_optuna_distributions_follow_each_scale(lr_sweep):
    study = analysis.to_optuna(lr_sweep)
    d = optuna.distributions
    assert study.trials[0].distributions == {
        "lr": d.FloatDistribution(1e-4, 1.0, log=True),
        "momentum": d.FloatDistribution(0.8, 0.999),  # no 1 - x log scale in Optuna
        "width": d.IntDistribution(8, 64),
        "opt": d.CategoricalDistribution(["sgd", "adam"]),
        "eps": d.CategoricalDistribution([1e-8]),
    }
    assert study.direction == optuna.study.StudyDirection.MINIMIZE
    assert len(study.trials) == 96
    # Trial numbers follow jaxtune's ids, and values are the final objective.
    for ft, t in zip(study.trials, lr_sweep.trials, strict=True):
        assert ft.number == t.trial == ft.user_attrs["jaxtune_trial"]
        assert ft.value == t.final["val_loss"]
        assert ft.params == t.hparams  # strings restored, fixed value included


def test_to_optuna_best_trial_direction_and_curves_of_a_maximized_task(task_sweep):
    assert task_sweep.objective == "val_accuracy" and task_sweep.maximize
    study = analysis.to_optuna(task_sweep)
    assert study.direction == optuna.study.StudyDirection.MAXIMIZE
    assert study.metric_names == ["val_accuracy"]
    best = task_sweep.best(1)[0]
    assert study.best_value == best.final["val_accuracy"]
    # Optuna breaks ties of the objective its own way (jaxtune: lower val_loss): its best
    # trial must be one of the tied ones, and the trial with jaxtune's best id must match.
    tied = {t.trial for t in task_sweep.ok() if t.final["val_accuracy"] == study.best_value}
    assert study.best_trial.number in tied
    mine = study.trials[best.trial]
    assert mine.value == study.best_value and mine.user_attrs["jaxtune_trial"] == best.trial
    assert set(mine.params) == set(best.hparams)
    for name, value in best.hparams.items():
        np.testing.assert_allclose(mine.params[name], value, rtol=1e-6)
    assert mine.user_attrs["val_loss"] == best.final["val_loss"]
    assert mine.user_attrs["best_epoch"] == best.final["best_epoch"]
    assert "val_accuracy" not in mine.user_attrs  # it is the value
    for ft, t in zip(study.trials, task_sweep.trials, strict=True):
        curve = t.curves["val_accuracy"]
        assert ft.intermediate_values == {
            e: v for e, v in enumerate(curve, start=1) if v is not None
        }
        assert len(ft.intermediate_values) == 3 or t.status == "diverged"


def test_diverged_trials_are_failed_not_ranked(diverging):
    results = diverging
    bad = results.diverged()
    assert 0 < len(bad) < len(results.trials)
    study = results.to_optuna()
    states = {ft.number: ft.state for ft in study.trials}
    assert {n for n, s in states.items() if s == optuna.trial.TrialState.FAIL} == {
        t.trial for t in bad
    }
    failed = study.trials[bad[0].trial]
    assert failed.value is None and failed.params == bad[0].hparams
    assert failed.user_attrs["jaxtune_status"] == "diverged"
    assert study.best_trial.number == results.best(1)[0].trial
    assert study.best_params == results.best(1)[0].hparams


def test_later_rounds_use_round_0_distributions(tmp_path):
    sweep = diverging_sweep(tmp_path / "run")
    sweep.run()
    results = sweep.zoom(top_k=3, n_trials=8)
    assert len(results.rounds) == 2 and len(results.trials) == 24
    narrow = Space.from_dict(results.rounds[1]["space"])["lr"]
    assert narrow.high < 0.2
    study = analysis.to_optuna(results)
    wide = optuna.distributions.FloatDistribution(1e-3, 1.0, log=True)
    assert all(ft.distributions["lr"] == wide for ft in study.trials)
    assert [ft.user_attrs["jaxtune_round"] for ft in study.trials] == [0] * 16 + [1] * 8


def test_to_optuna_refuses_a_value_outside_round_0(lr_sweep):
    t = lr_sweep.trials[0]
    wrong = type(t)(t.trial, 0, "", {**t.hparams, "lr": 2.0}, "ok", 0, t.final)
    results = type(lr_sweep)((wrong,), lr_sweep.meta, lr_sweep.rounds, lr_sweep.path)
    with pytest.raises(ValueError, match="outside round 0's dimension LogUniform"):
        analysis.to_optuna(results)


def test_sqlite_round_trip_and_logging_restored(task_sweep, tmp_path):
    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    verbosity = optuna.logging.get_verbosity()
    written = task_sweep.to_optuna(url)
    assert optuna.logging.get_verbosity() == verbosity
    assert written.study_name == "tiny"  # the sweep folder's name
    study = optuna.load_study(study_name="tiny", storage=url)
    assert study.direction == optuna.study.StudyDirection.MAXIMIZE
    assert study.user_attrs["jaxtune_objective"] == "val_accuracy"
    assert study.best_value == written.best_value
    loaded, mine = study.trials, written.trials
    assert [t.params for t in loaded] == [t.params for t in mine]
    assert [t.intermediate_values for t in loaded] == [t.intermediate_values for t in mine]
    assert [t.user_attrs for t in loaded] == [t.user_attrs for t in mine]
    with pytest.raises(optuna.exceptions.DuplicatedStudyError):
        task_sweep.to_optuna(url)
    assert task_sweep.to_optuna(url, study_name="again").study_name == "again"


# --------------------------------------------------------------------------- plots


def assert_png(path):
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC and len(data) > 5_000


def test_importance_bars_from_results_and_from_a_dict(lr_sweep, tmp_path):
    pytest.importorskip("matplotlib")
    fig = plots.importance_bars(lr_sweep, tmp_path / "imp.png", evaluator="ped_anova")
    assert_png(tmp_path / "imp.png")
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels[-1] == "lr" and sorted(labels) == sorted(SEARCHED)  # largest on top
    widths = [p.get_width() for p in ax.patches]
    assert widths == sorted(widths) and widths[-1] > 0.8
    fig = plots.importance_bars({"a": 0.25, "b": 0.75}, tmp_path / "d.png")
    assert_png(tmp_path / "d.png")
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["a", "b"]


def test_parallel_coordinates_draws_the_top_k_on_unit_axes(lr_sweep, tmp_path):
    pytest.importorskip("matplotlib")
    fig = plots.parallel_coordinates(lr_sweep, k=10, path=tmp_path / "pc.png")
    assert_png(tmp_path / "pc.png")
    ax, colorbar = fig.axes
    assert colorbar.get_ylabel() == "val_loss (lower is better)"
    ticks = [t.get_text().split("\n")[0] for t in ax.get_xticklabels()]
    assert ticks == SEARCHED  # Fixed eps has no axis
    trials = [line for line in ax.lines if len(line.get_xdata()) == len(SEARCHED)]
    assert len(trials) == 10
    # The last line drawn is the best trial; its lr sits at its log-scale position.
    best = lr_sweep.best(1)[0]
    expected = (math.log10(best.hparams["lr"]) + 4.0) / 4.0
    np.testing.assert_allclose(trials[-1].get_ydata()[0], expected, rtol=1e-5)
    assert trials[-1].get_ydata()[3] in (0.25, 0.75)  # a choice sits mid-category
    assert {t.get_text() for t in ax.texts} >= {"sgd", "adam", "0.0001", "1", "8", "64"}
