"""The one task interface: direction of the objective, a trainer as the task, retrain."""

from __future__ import annotations

import jax
import numpy as np
import pytest

import jaxtune
from jaxtune.cli import main
from jaxtune.space import Choice, IntUniform, LogUniform, OneMinusLogUniform, Space
from jaxtune.sweep import FunctionTask, Sweep, Task, as_task

SPACE = Space(
    learning_rate=LogUniform(0.01, 0.5),
    momentum=OneMinusLogUniform(0.5, 0.95),
    hidden=IntUniform(4, 16),
    epochs=IntUniform(2, 4),
    batch_size=Choice([16, 32]),
)


@pytest.fixture(scope="module")
def swept(tmp_path_factory, tiny_npz):
    store = tmp_path_factory.mktemp("task") / "sweep"
    task = Task(dataset=tiny_npz, epochs=4)
    return Sweep(SPACE, task, 12, seed=1, store=str(store), chunk_size=4, quiet=True).run()


def test_retrain_reproduces_the_stored_curve_of_the_best_trial(swept):
    best = swept.best(1)[0]
    params, hist = swept.retrain(best.trial)
    stored = np.array(best.curves["val_accuracy"], dtype=float)
    n = int(best.final["epochs_completed"])
    np.testing.assert_allclose(np.asarray(hist.val_metric)[:n], stored[:n], rtol=1e-5)
    np.testing.assert_allclose(
        np.asarray(hist.val_loss)[:n], np.array(best.curves["val_loss"][:n]), rtol=1e-5
    )
    assert jax.tree_util.tree_leaves(params)  # the model comes back


def test_retrain_longer_and_bad_arguments(swept):
    trial = swept.best(1)[0].trial
    _, hist = swept.retrain(trial, epochs=6)
    assert hist.val_loss.shape == (6,) and np.isfinite(np.asarray(hist.val_loss)).all()
    with pytest.raises(ValueError, match="trial_id"):
        swept.retrain(10_000)
    with pytest.raises(ValueError, match="epochs"):
        swept.retrain(trial, epochs=0)


def _f1_like(hp, key):
    # Higher is better, and its name says nothing about it.
    score = 1.0 - (jax.numpy.log10(hp["learning_rate"]) + 1.5) ** 2
    return {"f1": score, "val_loss": -score}


def test_a_metric_named_f1_with_maximize_ranks_highest_first(tmp_path, capsys):
    space = Space(learning_rate=LogUniform(1e-3, 1.0))
    store = str(tmp_path / "f1")
    res = Sweep(
        space, _f1_like, 16, store=store, objective="f1", maximize=True, chunk_size=16, quiet=True
    ).run()
    scores = [t.final["f1"] for t in res.trials]
    assert res.best(1)[0].final["f1"] == max(scores)
    ranked = [t.final["f1"] for t in res.best(16)]
    assert ranked == sorted(scores, reverse=True)
    assert "(higher is better)" in res.summary(3)
    assert main(["show", store, "--top", "3"]) == 0
    rows = capsys.readouterr().out.splitlines()[2:5]
    shown = [float(r.split()[3]) for r in rows]
    assert shown == pytest.approx(sorted(scores, reverse=True)[:3], rel=1e-3)


def test_direction_comes_from_the_task_never_from_a_name(tiny_npz):
    data = jaxtune.datasets.from_npz(tiny_npz)
    trainer = jaxtune.make_train(data, batch_size=32, max_epochs=1)
    task = as_task(trainer)
    assert isinstance(task, FunctionTask)
    assert (task.objective, task.maximize) == ("val_accuracy", True)
    assert FunctionTask(_f1_like, objective="f1").maximize is False  # said nothing: minimize
    with pytest.raises(ValueError, match="maximize"):
        jaxtune.make_train(data, metric_fn=lambda out, y: out[:, 0], metric_name="f1")
    own = jaxtune.make_train(
        data, metric_fn=lambda out, y: out[:, 0], metric_name="f1", maximize=True
    )
    assert (as_task(own).objective, as_task(own).maximize) == ("val_f1", True)


def test_a_trainer_as_the_task_is_maximized_by_default(tmp_path, tiny_npz):
    data = jaxtune.datasets.from_npz(tiny_npz)
    trainer = jaxtune.make_train(data, batch_size=32, max_epochs=2)
    space = Space(learning_rate=LogUniform(0.01, 0.5))
    sweep = Sweep(space, trainer, 8, store=str(tmp_path / "t"), chunk_size=8, quiet=True)
    assert (sweep.objective, sweep.maximize) == ("val_accuracy", True)
    res = sweep.run()
    accs = [t.final["val_accuracy"] for t in res.ok()]
    assert res.best(1)[0].final["val_accuracy"] == max(accs)
