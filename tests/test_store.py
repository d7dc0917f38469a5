"""Tests for jaxtune.store: transactions, the lock, read-only access."""

from __future__ import annotations

import sqlite3
import subprocess
import sys

import pytest

from jaxtune.store import Store, StoreLockedError, TrialRecord


def _record(trial: int, **kw) -> TrialRecord:
    base = dict(
        round=0,
        group="",
        hparams={"lr": 0.1 * (trial + 1)},
        status="ok",
        diverged_epoch=0,
        final={"val_loss": 1.0 / (trial + 1)},
        curves={"val_loss": [2.0, None]},
    )
    return TrialRecord(trial=trial, **{**base, **kw})


def _new(tmp_path) -> Store:
    store = Store.open(tmp_path / "run")
    store.add_round(
        0,
        space={"lr": {"type": "log_uniform", "low": 0.01, "high": 1}},
        n_trials=4,
        sampler="random",
        seed=0,
    )
    return store


def test_round_trip_of_trials_and_meta(tmp_path) -> None:
    with _new(tmp_path) as store:
        store.set_meta(seed=3, space={"b": 1, "a": 2})
        store.write_trials([_record(0), _record(1, status="diverged", diverged_epoch=2)])
        assert store.finished_trials() == {0, 1}
        assert store.meta()["seed"] == 3
        assert list(store.meta()["space"]) == ["b", "a"]  # order kept for tables
    reader = Store.read(tmp_path / "run")
    trials = reader.trials()
    reader.close()
    assert trials[0] == _record(0)
    assert trials[1].status == "diverged" and trials[1].diverged_epoch == 2
    assert trials[0].curves["val_loss"] == [2.0, None]


def test_a_duplicate_trial_writes_nothing_of_its_chunk(tmp_path) -> None:
    with _new(tmp_path) as store:
        store.write_trials([_record(0)])
        with pytest.raises(sqlite3.IntegrityError):
            store.write_trials([_record(1), _record(0)])
        assert store.finished_trials() == {0}  # trial 1 was rolled back with its chunk


def test_nan_is_refused_rather_than_stored(tmp_path) -> None:
    with _new(tmp_path) as store, pytest.raises(ValueError, match="JSON"):
        store.write_trials([_record(0, final={"val_loss": float("nan")})])


def test_second_writer_is_refused_and_lock_released_on_close(tmp_path) -> None:
    store = _new(tmp_path)
    with pytest.raises(StoreLockedError, match="in use by another process"):
        Store.open(tmp_path / "run")
    store.close()
    Store.open(tmp_path / "run").close()


def test_lock_is_released_when_the_holder_is_killed(tmp_path) -> None:
    path = tmp_path / "run"
    code = (
        "import os, sys, signal; from jaxtune.store import Store; "
        f"s = Store.open({str(path)!r}); print('locked', flush=True); "
        "os.kill(os.getpid(), signal.SIGKILL)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == -9 and "locked" in out.stdout
    Store.open(path).close()  # the OS released the flock with the process


def test_read_only_store_cannot_write(tmp_path) -> None:
    _new(tmp_path).close()
    reader = Store.read(tmp_path / "run")
    with pytest.raises(PermissionError, match="read-only"):
        reader.write_trials([_record(0)])
    reader.close()


def test_read_of_a_folder_without_sweep(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match=r"no jaxtune sweep"):
        Store.read(tmp_path)


def test_rounds_number_trials_globally(tmp_path) -> None:
    with _new(tmp_path) as store:
        first = store.add_round(1, space={}, n_trials=3, sampler="random", seed=0)
        assert first == 4
        assert [r["first_trial"] for r in store.rounds()] == [0, 4]
