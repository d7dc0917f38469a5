"""Tests for jaxtune.store: transactions, the lock, read-only access, clear errors.

Faults that need another process (kills, a full disk, a read-only folder) are in
tests/test_store_faults.py.
"""

from __future__ import annotations

import os
import random
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from jaxtune.store import (
    Store,
    StoreError,
    StoreLockedError,
    StoreNotStartedError,
    TrialRecord,
)

ROUND0 = dict(space={"lr": {"type": "log_uniform", "low": 0.01, "high": 1}}, n_trials=4)
ROUND0 |= dict(sampler="random", seed=0)
# A child process imports the store alone (stdlib only), not JAX: it starts in ~50 ms.
PRELUDE = (
    "import sys, types; pkg = types.ModuleType('jaxtune'); "
    f"pkg.__path__ = [{str(Path(__file__).parents[2] / 'jaxtune')!r}]; "
    "sys.modules['jaxtune'] = pkg; from jaxtune.store import Store\n"
)


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
    store.add_round(0, **ROUND0)
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
    code = PRELUDE + (
        "import os, signal; "
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


# ----------------------------------------------------------------- 1. an atomic start


def test_initialize_writes_meta_and_round_0_in_one_transaction(tmp_path) -> None:
    with Store.open(tmp_path / "run") as store:
        assert not store.started()
        assert store.initialize({"seed": 0, "space": {"b": 1, "a": 2}}, ROUND0) is True
        assert store.started() and store.meta()["seed"] == 0
        assert [(r["round"], r["n_trials"], r["first_trial"]) for r in store.rounds()] == [
            (0, 4, 0)
        ]
        # Already started: nothing is written, the caller compares meta() with its own.
        assert store.initialize({"seed": 9}, {**ROUND0, "n_trials": 8}) is False
        assert store.meta()["seed"] == 0 and len(store.rounds()) == 1


def test_a_bad_round_0_leaves_no_metadata_behind(tmp_path) -> None:
    with Store.open(tmp_path / "run") as store:
        with pytest.raises(ValueError, match="n_trials"):
            store.initialize({"seed": 0}, {**ROUND0, "n_trials": -5})
        with pytest.raises(ValueError, match="JSON"):
            store.initialize({"seed": 0, "lr": float("nan")}, ROUND0)
        assert store.meta() == {} and store.rounds() == [] and not store.started()
    with pytest.raises(StoreNotStartedError):
        Store.read(tmp_path / "run")


def test_metadata_without_round_0_is_a_store_not_started(tmp_path) -> None:
    # What the old two-transaction start left when killed between its two commits.
    with Store.open(tmp_path / "run") as store:
        store.set_meta(seed=1, space={})
    with pytest.raises(StoreNotStartedError, match="has not started yet"):
        Store.read(tmp_path / "run")
    with Store.open(tmp_path / "run") as store:
        assert store.initialize({"seed": 2}, ROUND0) is True
        assert store.meta() == {"seed": 2}  # the stale metadata is replaced, not merged
    with Store.read(tmp_path / "run") as reader:
        assert reader.rounds()[0]["n_trials"] == 4


# ----------------------------------------------------------------- 2. rounds are checked

_GOOD = dict(round=1, space={}, n_trials=3, sampler="random", seed=0)


@pytest.mark.parametrize(
    ("bad", "name"),
    [
        ({"n_trials": -5}, "n_trials"),
        ({"n_trials": 0}, "n_trials"),
        ({"n_trials": 2.5}, "n_trials"),
        ({"n_trials": True}, "n_trials"),
        ({"round": 0}, "round"),
        ({"round": 2}, "round"),
        ({"round": "1"}, "round"),
        ({"sampler": ""}, "sampler"),
        ({"sampler": None}, "sampler"),
        ({"seed": -1}, "seed"),
        ({"seed": 1.0}, "seed"),
        ({"space": [("lr", 1)]}, "space"),
    ],
)
def test_add_round_validates_before_committing(tmp_path, bad, name) -> None:
    with _new(tmp_path) as store:
        before = store.rounds()
        with pytest.raises(ValueError, match=rf"add_round: {name} must be"):
            store.add_round(**{**_GOOD, **bad})
        assert store.rounds() == before  # nothing committed
        assert store.add_round(**_GOOD) == 4  # and the store is still usable


# ----------------------------------------------------------------- 4. reading writes nothing


def _chunk(first: int, n: int = 4) -> list[TrialRecord]:
    return [_record(i) for i in range(first, first + n)]


def test_read_never_writes_the_store(tmp_path, monkeypatch) -> None:
    path = tmp_path / "run"
    with _new(tmp_path) as store:
        store.write_trials(_chunk(0))
    db = path / "sweep.db"
    assert not (path / "sweep.db-wal").exists()  # close() left sweep.db alone
    before, mtime = db.read_bytes(), db.stat().st_mtime_ns
    statements, connect = [], sqlite3.connect

    def traced(*args, **kwargs):
        conn = connect(*args, **kwargs)
        conn.set_trace_callback(statements.append)
        statements.append(f"connect {args[0]}")
        return conn

    monkeypatch.setattr(sqlite3, "connect", traced)
    reader = Store.read(path)
    assert [t.trial for t in reader.trials()] == [0, 1, 2, 3]
    reader.close()
    assert statements[0].startswith("connect file:") and "mode=ro" in statements[0]
    writes = ("journal_mode", "checkpoint", "insert", "create", "begin immediate", "vacuum")
    assert not [s for s in statements if any(w in s.lower() for w in writes)]
    assert db.read_bytes() == before and db.stat().st_mtime_ns == mtime


def test_read_sees_commits_still_in_the_wal_of_a_live_writer(tmp_path) -> None:
    path, db = tmp_path / "run", tmp_path / "run" / "sweep.db"
    with _new(tmp_path) as store:
        store.write_trials(_chunk(0))
        # A reader in the middle of a read keeps the next commit out of sweep.db for now.
        pinned = sqlite3.connect(db, isolation_level=None)
        pinned.execute("BEGIN")
        pinned.execute("SELECT COUNT(*) FROM trials").fetchone()
        store.write_trials(_chunk(4))
        before = db.read_bytes()
        reader = Store.read(path)
        assert reader.count() == 8 and reader.finished_trials() == set(range(8))
        reader.close()
        assert db.read_bytes() == before
        pinned.close()


# ----------------------------------------------------------------- 5. errors name the fix


def _foreign(kind: str, db: Path) -> None:
    if kind == "random bytes":
        db.write_bytes(random.Random(0).randbytes(8192))
    elif kind == "text":
        db.write_text("these are my notes, not a sweep\n" * 100)
    else:
        conn = sqlite3.connect(db)
        table = "users (name TEXT)" if kind == "other database" else "trials (id INT)"
        conn.execute(f"CREATE TABLE {table}")
        conn.commit()
        conn.close()


@pytest.mark.parametrize("kind", ["random bytes", "text", "other database", "other columns"])
def test_a_foreign_file_as_sweep_db_is_a_store_error(tmp_path, kind) -> None:
    path = tmp_path / "run"
    path.mkdir()
    _foreign(kind, path / "sweep.db")
    before = (path / "sweep.db").read_bytes()
    for opener in (Store.open, Store.read):
        with pytest.raises(StoreError) as info:
            opener(path)
        message = str(info.value)
        assert "\n" not in message and repr(str(path)) in message
        assert "not a jaxtune sweep" in message and "move it away" in message
    assert (path / "sweep.db").read_bytes() == before  # left as it was found
    Store.lock(path).release()  # the failed open released the lock


def test_out_naming_a_file_is_a_store_error(tmp_path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    for opener in (Store.open, Store.lock):
        with pytest.raises(StoreError, match=r"notes\.txt' exists and is not a folder"):
            opener(tmp_path / "notes.txt")
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_store_errors_are_one_family() -> None:
    assert issubclass(StoreLockedError, StoreError) and issubclass(StoreLockedError, RuntimeError)
    assert issubclass(StoreNotStartedError, StoreError) and issubclass(StoreError, ValueError)


# ----------------------------------------------------------------- 6. a cheap lock first


def test_lock_comes_first_and_refuses_a_second_writer_at_once(tmp_path) -> None:
    path = tmp_path / "run"
    lock = Store.lock(path)
    assert sorted(os.listdir(path)) == ["lock"]  # nothing else done yet
    started = time.perf_counter()
    for opener in (Store.lock, Store.open):
        with pytest.raises(StoreLockedError, match="in use by another process"):
            opener(path)
    assert time.perf_counter() - started < 0.5
    with Store.open(path, lock=lock) as store:  # borrows the lock taken before
        store.initialize({"seed": 0}, ROUND0)
    assert lock.held  # closing the store left the borrowed lock held
    with pytest.raises(StoreLockedError):
        Store.open(path)
    with pytest.raises(ValueError, match="not a held lock"):
        Store.open(tmp_path / "other", lock=lock)
    lock.release()
    with pytest.raises(ValueError, match="not a held lock"):
        Store.open(path, lock=lock)
    with Store.lock(path) as again, Store.open(path, lock=again) as store:
        assert store.started()
    Store.open(path).close()  # the with block released it


# ----------------------------------------------------------------- 7. a live copy


def test_backup_copies_a_live_store_into_one_file(tmp_path) -> None:
    path, copy = tmp_path / "run", tmp_path / "copy"
    with _new(tmp_path) as store:
        store.set_meta(seed=3)
        store.write_trials(_chunk(0))
        pinned = sqlite3.connect(path / "sweep.db", isolation_level=None)
        pinned.execute("BEGIN")
        pinned.execute("SELECT COUNT(*) FROM trials").fetchone()
        store.write_trials(_chunk(4))  # in the WAL only, for now
        reader = Store.read(path)
        assert reader.backup(copy) == copy / "sweep.db"
        with pytest.raises(StoreError, match="exists: choose another folder"):
            reader.backup(copy)
        reader.close()
        pinned.close()
        store.write_trials(_chunk(8))  # the writer goes on; the copy is a snapshot
    assert sorted(os.listdir(copy)) == ["sweep.db"]
    conn = sqlite3.connect(copy / "sweep.db")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    conn.close()
    backup = Store.read(copy)
    assert backup.count() == 8 and backup.meta() == {"seed": 3} and len(backup.rounds()) == 1
    backup.close()


# ----------------------------------------------------------------- 8. a store not started


@pytest.mark.parametrize("state", ["lock only", "empty file", "tables only"])
def test_a_store_not_started_yet_reads_as_not_started(tmp_path, state) -> None:
    path = tmp_path / "run"
    lock = Store.lock(path)
    if state == "empty file":
        (path / "sweep.db").touch()
    if state == "tables only":
        Store.open(path, lock=lock).close()
    with pytest.raises(StoreNotStartedError, match=r"sweep in '.*run' has not started yet"):
        Store.read(path)
    if state != "lock only":
        empty = Store.read(path, require_started=False)
        assert (empty.meta(), empty.rounds(), empty.trials(), empty.count()) == ({}, [], [], 0)
        assert empty.finished_trials() == set() and not empty.started()
        empty.close()
    lock.release()
