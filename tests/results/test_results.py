"""Results as Optuna users expect them: best_params, best_value, an exported study."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optuna
import pytest

import jaxtune
from jaxtune.space import Choice, LogUniform, Space
from jaxtune.store import TrialRecord
from jaxtune.sweep import Sweep


def _train(hparams, key):
    loss = (jnp.log10(hparams["lr"]) + 2.0) ** 2 + 0.01 * jax.random.uniform(key)
    # A string choice arrives as its Python value (one program per value).
    return {"val_loss": loss + 1.0 if hparams["opt"] == "adam" else loss}


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    store = str(tmp_path_factory.mktemp("r") / "bowl")
    space = Space(lr=LogUniform(1e-4, 1.0), opt=Choice(["sgd", "adam"]))
    return Sweep(space, _train, 8, store=store, chunk_size=4, quiet=True).run()


def test_best_params_and_best_value_are_the_best_trials(swept):
    best = min(swept.ok(), key=lambda t: t.final["val_loss"])
    assert swept.best_params == best.hparams
    assert swept.best_value == best.final["val_loss"]
    assert isinstance(swept.best_value, float)
    assert set(swept.best_params) == {"lr", "opt"} and swept.best_params["opt"] == "sgd"


def test_best_params_of_a_sweep_without_a_finished_trial(tmp_path):
    bad = TrialRecord(0, 0, "", {"lr": 1.0}, "diverged", 1, {"val_loss": None})
    results = jaxtune.Results((bad,), {"objective": "val_loss"}, (), "runs/none")
    with pytest.raises(ValueError, match=r"no finished, non-diverged trial .*1 diverged"):
        results.best_params  # noqa: B018
    with pytest.raises(ValueError, match="no finished"):
        results.best_value  # noqa: B018


def test_the_study_has_each_trials_start_and_end(swept):
    study = swept.to_optuna()
    assert study.best_params == swept.best_params
    assert study.best_value == pytest.approx(swept.best_value)
    for trial, record in zip(study.trials, swept.trials, strict=True):
        end = trial.datetime_complete.timestamp()
        assert end == pytest.approx(swept.finished_at[record.trial], abs=1e-3)
        took = (trial.datetime_complete - trial.datetime_start).total_seconds()
        assert took == pytest.approx(record.wall_time, abs=1e-3) and took > 0


def test_an_existing_study_is_refused_unless_loaded_or_overwritten(swept, tmp_path):
    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    first = swept.to_optuna(url)
    assert len(first.trials) == 8
    with pytest.raises(optuna.exceptions.DuplicatedStudyError, match="load_if_exists=True"):
        swept.to_optuna(url)
    # load_if_exists: the trials it lacks are added, none twice.
    partial = jaxtune.Results(swept.trials[:3], swept.meta, swept.rounds, swept.path)
    url2 = f"sqlite:///{tmp_path / 'two.db'}"
    assert len(partial.to_optuna(url2).trials) == 3
    loaded = swept.to_optuna(url2, load_if_exists=True)
    ids = [t.user_attrs["jaxtune_trial"] for t in loaded.trials]
    assert sorted(ids) == list(range(8))
    # overwrite: deleted and exported afresh.
    again = partial.to_optuna(url, overwrite=True)
    assert len(again.trials) == 3
    assert len(optuna.load_study(study_name="bowl", storage=url).trials) == 3
    with pytest.raises(ValueError, match="not both"):
        swept.to_optuna(url, load_if_exists=True, overwrite=True)


def test_optuna_habits_len_best_trial_and_trials_dataframe(swept):
    assert len(swept) == 8 == len(swept.trials)
    assert swept.best_trial == swept.best()[0]
    assert swept.best_trial.hparams == swept.best_params
    df = swept.trials_dataframe()
    assert list(df.index) == [t.trial for t in swept.trials]
    assert df.loc[swept.best_trial.trial, "val_loss"] == swept.best_value
    assert set(df["opt"]) <= {"sgd", "adam"}


def test_a_notebook_cell_shows_a_short_repr_and_an_html_table(swept):
    text = repr(swept)
    assert len(text.splitlines()) == 2 and len(text) < 300  # not the dataclass dump
    best = swept.best_trial
    assert swept.path in text and "8 trials (8 ok, 0 diverged)" in text
    assert f"best: trial {best.trial}, val_loss={best.final['val_loss']:.4g}" in text
    page = swept._repr_html_()
    assert page.startswith("<table") and page.endswith("</table>")
    head = page.split("<thead>")[1].split("</thead>")[0]
    assert head == (
        "<tr><th>rank</th><th>trial</th><th>lr</th><th>opt</th><th>val_loss</th>"
        "<th>epochs</th><th>status</th></tr>"
    )
    rows = page.split("<tbody>")[1].split("</tbody>")[0].split("</tr>")[:-1]
    assert len(rows) == 8
    first = rows[0].replace("<tr>", "").replace("</td>", "").split("<td>")[1:]
    assert first[:2] == ["1", str(best.trial)] and first[3] == best.hparams["opt"]
    assert first[-1] == "ok" and first[-2] == "-"  # a function's scalars: no epochs


def test_the_html_table_shows_the_top_20_and_escapes(tmp_path):
    trials = tuple(
        TrialRecord(i, 0, "", {"name": "<b>"}, "ok", 0, {"val_loss": float(i)}, {"x": [1.0] * 3})
        for i in range(30)
    )
    page = jaxtune.Results(trials, {"objective": "val_loss", "space": {"name": {}}}, (), "a&b")
    html = page._repr_html_()
    assert html.count("<tr>") == 21 and "<b>" not in html and "&lt;b&gt;" in html
    assert "a&amp;b: 30 trials" in html and "<td>3</td><td>ok</td>" in html
