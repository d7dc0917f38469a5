"""Tests for jaxtune.sweep, jaxtune.task and jaxtune.results through the whole path."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jaxtune.task import Task, check_space

import jaxtune
from jaxtune.space import Choice, Fixed, IntUniform, LogUniform, OneMinusLogUniform, Space
from jaxtune.sweep import Sweep, SweepMismatchError


def _space() -> Space:
    return Space(
        learning_rate=LogUniform(1e-2, 0.5),
        momentum=OneMinusLogUniform(0.5, 0.95),
        hidden=IntUniform(4, 16),
        epochs=IntUniform(1, 3),
        decay_system=Choice(["none", "exponential"]),
        batch_size=Choice([16, 32]),
    )


@pytest.fixture
def task(tiny_npz) -> Task:
    return Task(dataset=tiny_npz, epochs=3, layers=1)


def _by_trial(results):
    return {t.trial: t for t in results.trials}


def test_random_sweep_groups_by_static_values_and_stores_every_trial(task, tmp_path) -> None:
    results = Sweep(_space(), task, 12, store=str(tmp_path / "r"), chunk_size=4, quiet=True).run()
    trials = results.trials
    assert [t.trial for t in trials] == list(range(12))
    assert {t.group for t in trials} == {
        "optimizer=momentum,batch_size=16",
        "optimizer=momentum,batch_size=32",
    }
    for t in trials:
        assert t.group.endswith(f"batch_size={t.hparams['batch_size']}")
        assert t.hparams["decay_system"] in ("none", "exponential")
        # Each trial ran its own number of epochs inside one program of 3.
        assert t.final["epochs_completed"] == t.hparams["epochs"]
        assert sum(v is not None for v in t.curves["val_loss"]) == t.hparams["epochs"]
        assert 0.0 <= t.final["val_accuracy"] <= 1.0
    best = results.best(1)[0]
    assert best.final["val_accuracy"] == max(t.final["val_accuracy"] for t in trials)


def test_a_trial_in_a_sweep_equals_the_trial_trained_alone(task, tmp_path) -> None:
    """The sweep adds nothing to the numbers: trial 5 equals the trainer called alone."""
    sweep = Sweep(_space(), task, 8, store=str(tmp_path / "r"), chunk_size=4, quiet=True)
    results = sweep.run()
    space, t = sweep.space, _by_trial(results)[5]
    data = task.load_data()
    trainer = task.make_trainer(space, data, "momentum", t.hparams["batch_size"])
    encoded = space.encode([t.hparams])
    hp = {k: v[0] for k, v in encoded.items() if k != "batch_size"}
    key = jax.random.fold_in(jax.random.key(0), 5)
    alone = jax.jit(trainer)(hp, key)
    got = np.array([np.nan if v is None else v for v in t.curves["val_loss"]])
    np.testing.assert_allclose(got, np.asarray(alone.val_loss), rtol=1e-5)


def test_resume_runs_only_the_missing_trials(task, tmp_path, monkeypatch) -> None:
    path = str(tmp_path / "r")
    full = Sweep(_space(), task, 10, store=str(tmp_path / "full"), chunk_size=4, quiet=True).run()
    # A first run interrupted (an exception, as Ctrl-C would raise) after its first chunk.
    sweep = Sweep(_space(), task, 10, store=path, chunk_size=4, quiet=True)

    class InterruptedSweepError(Exception):
        pass

    calls = {"n": 0}
    original = jaxtune.parallel.run

    def interrupting_run(*args, **kwargs):
        user = kwargs["on_chunk"]

        def on_chunk(done, total, chunk):
            user(done, total, chunk)
            calls["n"] += 1
            if calls["n"] == 1:
                raise InterruptedSweepError

        return original(*args, **{**kwargs, "on_chunk": on_chunk})

    monkeypatch.setattr(jaxtune.parallel, "run", interrupting_run)
    with pytest.raises(InterruptedSweepError):
        sweep.run()
    monkeypatch.setattr(jaxtune.parallel, "run", original)
    partial = jaxtune.load(path)
    assert 0 < len(partial.trials) < 10
    resumed = Sweep(_space(), task, 10, store=path, chunk_size=4, quiet=True).run()
    assert [t.trial for t in resumed.trials] == list(range(10))
    for t in resumed.trials:
        ref = _by_trial(full)[t.trial]
        assert t.hparams == ref.hparams
        np.testing.assert_allclose(t.final["val_loss"], ref.final["val_loss"], rtol=1e-5)


def test_a_store_of_another_sweep_is_refused(task, tmp_path) -> None:
    path = str(tmp_path / "r")
    Sweep(_space(), task, 2, store=path, chunk_size=8, quiet=True).run()
    with pytest.raises(SweepMismatchError, match="seed"):
        Sweep(_space(), task, 2, store=path, seed=1, chunk_size=8, quiet=True).run()
    assert len(jaxtune.load(path).trials) == 2


@pytest.mark.parametrize("sampler", ["grid", "quasi_random"])
def test_other_samplers_through_the_whole_path(task, tmp_path, sampler) -> None:
    space = Space(learning_rate=LogUniform(1e-2, 0.5), hidden=IntUniform(4, 16))
    sweep = Sweep(
        space, task, 9, sampler=sampler, store=str(tmp_path / "r"), chunk_size=8, quiet=True
    )
    results = sweep.run()
    lrs = sorted({t.hparams["learning_rate"] for t in results.trials})
    assert len(results.trials) == 9
    if sampler == "grid":
        assert len(lrs) == 3  # a 3 x 3 grid: 3 distinct rates
        np.testing.assert_allclose(lrs, [1e-2, np.sqrt(1e-2 * 0.5), 0.5], rtol=1e-5)
    else:
        assert len(lrs) == 9
    again = Sweep(
        space, task, 9, sampler=sampler, store=str(tmp_path / "s"), chunk_size=8, quiet=True
    ).run()
    assert [t.hparams for t in again.trials] == [t.hparams for t in results.trials]


def test_user_train_function_through_the_whole_path(tmp_path) -> None:
    def train(hparams, key):
        # A noisy bowl whose minimum is at lr = 0.1: the sweep should find it.
        loss = (jnp.log10(hparams["lr"]) + 1.0) ** 2 + 0.01 * jax.random.uniform(key)
        return {"val_loss": loss, "width": hparams["width"] * 1.0}

    space = Space(lr=LogUniform(1e-4, 1.0), width=Choice([8, 16]))
    results = Sweep(
        space, train, 32, store=str(tmp_path / "u"), chunk_size="auto", quiet=True
    ).run()
    assert len(results.trials) == 32 and results.objective == "val_loss"
    best = results.best(1)[0]
    assert abs(np.log10(best.hparams["lr"]) + 1.0) < 0.3
    assert best.final["width"] == best.hparams["width"]


def test_diverged_trials_are_listed_apart(task, tmp_path) -> None:
    space = Space(learning_rate=Choice([0.05, 1e4]), hidden=Fixed(8))
    results = Sweep(space, task, 6, store=str(tmp_path / "d"), chunk_size=8, quiet=True).run()
    bad = results.diverged()
    assert bad and all(t.hparams["learning_rate"] == 1e4 for t in bad)
    assert all(t.hparams["learning_rate"] == 0.05 for t in results.best(10))
    text = results.summary()
    assert "diverged:" in text and "nan" not in text.lower()


def test_zoom_round_shrinks_the_space_around_the_best(task, tmp_path) -> None:
    sweep = Sweep(_space(), task, 12, store=str(tmp_path / "z"), chunk_size=8, quiet=True)
    sweep.run()
    results = sweep.zoom(top_k=3, n_trials=6)
    assert [r["round"] for r in results.rounds] == [0, 1]
    assert len(results.trials) == 18
    old, new = (
        Space.from_dict(results.rounds[0]["space"]),
        Space.from_dict(results.rounds[1]["space"]),
    )
    lr_old, lr_new = old["learning_rate"], new["learning_rate"]
    assert lr_old.low <= lr_new.low and lr_new.high <= lr_old.high
    assert (lr_new.high / lr_new.low) < (lr_old.high / lr_old.low)


def test_results_tables(task, tmp_path) -> None:
    results = Sweep(_space(), task, 6, store=str(tmp_path / "t"), chunk_size=8, quiet=True).run()
    df = jaxtune.load(str(tmp_path / "t")).to_pandas()
    assert list(df.index) == list(range(6))
    for col in ("learning_rate", "batch_size", "val_accuracy", "val_loss", "status", "group"):
        assert col in df.columns
    ranked = results.best(3)
    assert [t.final["val_accuracy"] for t in ranked] == sorted(
        (t.final["val_accuracy"] for t in ranked), reverse=True
    )
    lines = results.summary(3).splitlines()
    assert lines[1].split()[:3] == ["rank", "trial", "learning_rate"]
    assert lines[2].split()[1] == str(ranked[0].trial)
    curves = results.curves("val_loss")
    assert set(curves) == set(range(6))


@pytest.mark.parametrize(
    ("space", "match"),
    [
        (Space(learning_rat=LogUniform(0.1, 1.0)), "unknown hyperparameter 'learning_rat'"),
        (Space(momentum=Fixed(1.5)), "momentum"),
        (Space(decay_base=Fixed(2.0)), "decay_base"),
        (Space(hidden=IntUniform(0, 8)), "hidden"),
        (Space(optimizer=Choice(["sgd", "lbfgs"])), "optimizer"),
        (Space(decay_system=Choice(["none", "cosine"])), "decay_system"),
        (Space(batch_size=Choice([16, 100000])), "batch_size"),
    ],
)
def test_check_space_names_the_dimension(space, match) -> None:
    with pytest.raises(ValueError, match=match):
        check_space(space, Task(), n_train=1000)


def test_seeds_per_trial_report_mean_and_std(tiny_npz, tmp_path) -> None:
    task = Task(dataset=tiny_npz, epochs=2, layers=1, seeds_per_trial=3)
    space = Space(learning_rate=LogUniform(1e-2, 0.5), epochs=IntUniform(1, 2))
    results = Sweep(space, task, 4, store=str(tmp_path / "s"), chunk_size=4, quiet=True).run()
    for t in results.trials:
        assert t.final["val_accuracy_std"] is not None and t.final["val_accuracy_std"] >= 0
        # Epochs beyond the trial's own count were run by no seed: stored as None.
        assert sum(v is not None for v in t.curves["val_loss"]) == t.hparams["epochs"]
