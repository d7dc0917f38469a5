"""Successive halving and Hyperband: plans, exact continuation of survivors, resume."""

from __future__ import annotations

import jax
import numpy as np
import pytest

from jaxtune.space import Choice, IntUniform, LogUniform, OneMinusLogUniform, Space
from jaxtune.strategies import lane_epochs
from jaxtune.sweep import Hyperband, SuccessiveHalving, Sweep, Task
from jaxtune.sweep.schedulers import Rung, scheduler_from_dict

SPACE = Space(
    learning_rate=LogUniform(0.01, 0.5),
    momentum=OneMinusLogUniform(0.5, 0.95),
    hidden=IntUniform(4, 16),
    batch_size=Choice([16, 32]),
)


def test_plans_follow_the_paper():
    (sh,) = SuccessiveHalving(min_epochs=1, reduction_factor=3, max_epochs=27).brackets(81)
    assert sh == [Rung(81, 1), Rung(27, 3), Rung(9, 9), Rung(3, 27)]
    hb = Hyperband(min_epochs=1, max_epochs=27, reduction_factor=3).brackets()
    # Li et al. 2018, Table 1 (R = 27, eta = 3): n_i and r_i of each bracket.
    assert [[(r.lanes, r.epochs) for r in b] for b in hb] == [
        [(27, 1), (9, 3), (3, 9), (1, 27)],
        [(12, 3), (4, 9), (1, 27)],
        [(6, 9), (2, 27)],
        [(4, 27)],
    ]
    assert Hyperband().n_trials(5) == 49
    assert lane_epochs([sh]) == 81 + 27 * 2 + 9 * 6 + 3 * 18


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        ({"kind": "bohb"}, "scheduler.kind"),
        ({"kind": "sh", "reduction_factor": 1}, "reduction_factor"),
        ({"kind": "hyperband", "max_epochs": 0}, "max_epochs"),
        ({"kind": "sh", "eta": 3}, "unknown key 'eta'"),
        (5, "scheduler must be a table"),
    ],
)
def test_bad_scheduler_settings_name_the_key(spec, match):
    with pytest.raises(ValueError, match=match):
        scheduler_from_dict(spec)


@pytest.fixture(scope="module")
def halved(tmp_path_factory, tiny_npz):
    store = tmp_path_factory.mktemp("sh") / "sweep"
    task = Task(dataset=tiny_npz, epochs=9)
    sweep = Sweep(
        SPACE, task, 9, store=str(store), chunk_size=4, quiet=True,
        scheduler=SuccessiveHalving(min_epochs=1, reduction_factor=3),
    )  # fmt: skip
    return sweep, sweep.run()


def test_successive_halving_stops_trials_at_their_rung(halved):
    _, res = halved
    assert len(res.trials) == 9
    rungs = sorted(t.final["rung"] for t in res.trials)
    assert rungs == [0] * 6 + [1] * 2 + [2]
    for t in res.trials:
        trained = {0: 1, 1: 3, 2: 9}[t.final["rung"]]
        assert t.final["epochs_trained"] == trained
        assert len(t.curves["val_loss"]) == trained
    assert res.best(1)[0].final["rung"] == 2  # the top rung ranks first


def test_a_promoted_trial_equals_the_same_trial_trained_straight(halved):
    _, res = halved
    top = res.best(1)[0]
    params, hist = res.retrain(top.trial, epochs=9)
    np.testing.assert_allclose(
        np.asarray(hist.val_loss), np.array(top.curves["val_loss"], dtype=float), rtol=1e-5
    )
    assert jax.tree_util.tree_leaves(params)


def test_a_killed_rung_resumes_to_the_same_result(tmp_path, tiny_npz, halved):
    _, expected = halved
    task = Task(dataset=tiny_npz, epochs=9)
    kw = dict(store=str(tmp_path / "s"), chunk_size=4, quiet=True)
    kw["scheduler"] = {"kind": "successive_halving", "reduction_factor": 3}
    sweep = Sweep(SPACE, task, 9, **kw)
    sweep.run()
    # Forget everything after rung 0 was trained, as if killed there: drop later files
    # and every committed trial of rungs >= 1.
    for path in (tmp_path / "s" / "rungs").glob("*_k[12]_*.npz"):
        path.unlink()
    import sqlite3

    with sqlite3.connect(tmp_path / "s" / "sweep.db") as conn:
        conn.execute("DELETE FROM trials WHERE json_extract(final, '$.rung') >= 1")
    again = Sweep(SPACE, task, 9, **kw).run()
    got = {t.trial: t.curves["val_loss"] for t in again.trials}
    want = {t.trial: t.curves["val_loss"] for t in expected.trials}
    assert got.keys() == want.keys()
    for trial, curve in want.items():
        np.testing.assert_allclose(np.array(got[trial], float), np.array(curve, float), rtol=1e-6)


def test_epochs_in_the_space_and_a_plain_function_are_refused(tmp_path, tiny_npz):
    with pytest.raises(ValueError, match="epochs"):
        Sweep(Space(epochs=IntUniform(1, 3)), Task(dataset=tiny_npz), 4,
              store=str(tmp_path / "a"), scheduler="sh")  # fmt: skip

    def train(hp, key):
        return {"val_loss": hp["learning_rate"]}

    with pytest.raises(TypeError, match="init"):  # in Sweep(...): before any file
        Sweep(Space(learning_rate=LogUniform(0.1, 1.0)), train, 4,
              store=str(tmp_path / "b"), scheduler="sh", quiet=True)  # fmt: skip
    assert not (tmp_path / "b").exists()


def test_summary_budget_and_the_rung_plot(halved, tmp_path):
    from jaxtune import plots

    _, res = halved
    text = res.summary(3)
    assert "rung" in text.splitlines()[1]
    b = plots.budget(res)
    assert b["lane_epochs"] == 6 * 1 + 2 * 3 + 1 * 9 and b["full"] == 9 * 9
    assert f"budget: {b['lane_epochs']:.0f} lane-epochs" in text
    fig = plots.rungs(res, tmp_path / "rungs.png")
    assert (tmp_path / "rungs.png").stat().st_size > 0
    lines = fig.axes[0].lines
    assert len(lines) == 9 and sum(line.get_alpha() > 0.5 for line in lines) == 1
