"""A crash-proof store of one sweep: SQLite through the standard library.

A store is a folder (``runs/NAME``) holding ``sweep.db`` and whatever plots are made from
it. The database is in WAL mode and every finished chunk of trials is written in one
transaction, so a process killed at any moment (SIGINT or SIGKILL) loses at most the chunk
in flight and never leaves a half-written trial. A trial is keyed by its id: writing it
twice is refused by the database itself, so a resumed sweep cannot duplicate one.

One process at a time: opening a store for writing takes an exclusive ``flock`` on
``runs/NAME/lock``, which the operating system releases when the process dies, however it
dies. A second writer is refused with :class:`StoreLockedError`. Reading never locks.

Tables:

- ``meta(key, value)``: JSON values: the space, the task config, the seed, versions,
  devices, the creation time;
- ``rounds(round, space, n_trials, sampler, seed, first_trial)``: one row per round of a
  coarse-to-fine search (round 0 is the first sweep);
- ``trials(trial, round, grp, hparams, status, diverged_epoch, final, curves, wall_time,
  finished_at)``: one row per finished trial; ``hparams``, ``final`` (summary metrics) and
  ``curves`` (per-epoch lists) are JSON.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import math
import os
import sqlite3
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["Store", "StoreLockedError", "TrialRecord"]

DB_NAME = "sweep.db"
LOCK_NAME = "lock"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS rounds (
    round INTEGER PRIMARY KEY,
    space TEXT NOT NULL,
    n_trials INTEGER NOT NULL,
    sampler TEXT NOT NULL,
    seed INTEGER NOT NULL,
    first_trial INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS trials (
    trial INTEGER PRIMARY KEY,
    round INTEGER NOT NULL REFERENCES rounds(round),
    grp TEXT NOT NULL,
    hparams TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('ok', 'diverged')),
    diverged_epoch INTEGER NOT NULL,
    final TEXT NOT NULL,
    curves TEXT NOT NULL,
    wall_time REAL NOT NULL,
    finished_at REAL NOT NULL
);
"""


class StoreLockedError(RuntimeError):
    """Another process is writing to this store."""


@dataclass(frozen=True)
class TrialRecord:
    """One finished trial, as stored.

    Attributes:
        trial: global trial id (unique over all rounds).
        round: the round it belongs to.
        group: a label of its static hyperparameters, e.g. ``"batch_size=64,optimizer=adam"``.
        hparams: its hyperparameters as plain Python values (strings restored).
        status: ``"ok"`` or ``"diverged"``.
        diverged_epoch: 1-based epoch of divergence, 0 if none.
        final: summary metrics (finite floats, or ``None`` when missing).
        curves: per-epoch lists by metric name; NaN (an epoch not run) stored as ``None``.
        wall_time: seconds of its chunk, divided evenly among the chunk's trials.
    """

    trial: int
    round: int
    group: str
    hparams: dict[str, Any]
    status: str
    diverged_epoch: int
    final: dict[str, float | None]
    curves: dict[str, list[float | None]] = field(default_factory=dict)
    wall_time: float = 0.0


def _json(value: Any) -> str:
    # allow_nan=False: JSON has no NaN; callers map NaN to None first. Keys keep their
    # order: a space's dimension order is what tables show.
    return json.dumps(value, allow_nan=False)


def clean_float(x: float) -> float | None:
    """``x`` as a float, or None when it is NaN or infinite (JSON-safe)."""
    x = float(x)
    return x if math.isfinite(x) else None


class Store:
    """A sweep's folder and database. Use :meth:`open` (write) or :meth:`read`.

    Example:
        >>> import tempfile
        >>> with Store.open(tempfile.mkdtemp() + "/demo") as store:
        ...     store.set_meta(seed=0)
        ...     first = store.add_round(0, space={}, n_trials=1, sampler="random", seed=0)
        ...     store.write_trials(
        ...         [TrialRecord(0, 0, "", {"lr": 0.1}, "ok", 0, {"val_loss": 0.5})]
        ...     )
        ...     sorted(store.finished_trials())
        [0]
    """

    def __init__(self, path: Path, conn: sqlite3.Connection, lock_fd: int | None) -> None:
        self.path = path
        self._conn = conn
        self._lock_fd = lock_fd

    # ----------------------------------------------------------------- opening

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> Store:
        """Open (creating if needed) a store for writing; takes the lock.

        Raises:
            StoreLockedError: another live process holds the store.
            ValueError: ``path`` exists and is not a folder.
        """
        path = Path(path)
        if path.exists() and not path.is_dir():
            raise ValueError(f"store: {str(path)!r} exists and is not a folder")
        path.mkdir(parents=True, exist_ok=True)
        fd = os.open(path / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise StoreLockedError(
                f"store {str(path)!r} is in use by another process; wait for it to finish "
                "or stop it, then resume"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        conn = cls._connect(path / DB_NAME)
        conn.executescript(_SCHEMA)
        return cls(path, conn, fd)

    @classmethod
    def read(cls, path: str | os.PathLike[str]) -> Store:
        """Open an existing store read-only (no lock; safe while a sweep writes).

        Raises:
            FileNotFoundError: no sweep database in ``path``.
        """
        path = Path(path)
        db = path / DB_NAME
        if not db.is_file():
            raise FileNotFoundError(f"no jaxtune sweep in {str(path)!r} (missing {DB_NAME})")
        return cls(path, cls._connect(db), None)

    @staticmethod
    def _connect(db: Path) -> sqlite3.Connection:
        conn = sqlite3.connect(db, timeout=30.0, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        # FULL: a transaction reported committed survives a power cut, not only a kill.
        conn.execute("PRAGMA synchronous=FULL")
        return conn

    def close(self) -> None:
        """Close the database and release the lock."""
        self._conn.close()
        if self._lock_fd is not None:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            os.close(self._lock_fd)
            self._lock_fd = None

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        if self._lock_fd is None:
            raise PermissionError("this store was opened read-only (Store.read)")
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield self._conn
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    # ----------------------------------------------------------------- metadata

    def set_meta(self, **values: Any) -> None:
        """Store JSON-serializable metadata values by key."""
        with self._transaction() as conn:
            conn.executemany(
                "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                [(k, _json(v)) for k, v in values.items()],
            )

    def meta(self) -> dict[str, Any]:
        """All metadata, decoded."""
        rows = self._conn.execute("SELECT key, value FROM meta").fetchall()
        return {k: json.loads(v) for k, v in rows}

    # ----------------------------------------------------------------- rounds

    def add_round(
        self, round: int, *, space: Mapping[str, Any], n_trials: int, sampler: str, seed: int
    ) -> int:
        """Record a new round; returns the id of its first trial."""
        with self._transaction() as conn:
            row = conn.execute(
                "SELECT COALESCE(MAX(first_trial + n_trials), 0) FROM rounds"
            ).fetchone()
            first = int(row[0])
            conn.execute(
                "INSERT INTO rounds (round, space, n_trials, sampler, seed, first_trial) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (round, _json(dict(space)), n_trials, sampler, seed, first),
            )
        return first

    def rounds(self) -> list[dict[str, Any]]:
        """Every round, in order, with its space decoded."""
        rows = self._conn.execute(
            "SELECT round, space, n_trials, sampler, seed, first_trial FROM rounds ORDER BY round"
        ).fetchall()
        keys = ("round", "space", "n_trials", "sampler", "seed", "first_trial")
        out = [dict(zip(keys, r, strict=True)) for r in rows]
        for r in out:
            r["space"] = json.loads(r["space"])
        return out

    # ----------------------------------------------------------------- trials

    def write_trials(self, records: Iterable[TrialRecord]) -> None:
        """Write finished trials in one transaction (all or none).

        Raises:
            sqlite3.IntegrityError: a trial id is already stored (nothing is written).
        """
        now = time.time()
        rows = [
            (
                r.trial,
                r.round,
                r.group,
                _json(r.hparams),
                r.status,
                r.diverged_epoch,
                _json(r.final),
                _json(r.curves),
                r.wall_time,
                now,
            )
            for r in records
        ]
        with self._transaction() as conn:
            conn.executemany(
                "INSERT INTO trials (trial, round, grp, hparams, status, diverged_epoch, "
                "final, curves, wall_time, finished_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )

    def finished_trials(self, round: int | None = None) -> set[int]:
        """Ids of the trials already stored (of one round, or all)."""
        if round is None:
            rows = self._conn.execute("SELECT trial FROM trials").fetchall()
        else:
            rows = self._conn.execute("SELECT trial FROM trials WHERE round = ?", (round,))
        return {int(r[0]) for r in rows}

    def trials(self) -> list[TrialRecord]:
        """Every stored trial, by id."""
        rows = self._conn.execute(
            "SELECT trial, round, grp, hparams, status, diverged_epoch, final, curves, "
            "wall_time FROM trials ORDER BY trial"
        ).fetchall()
        return [
            TrialRecord(
                trial=t,
                round=r,
                group=g,
                hparams=json.loads(h),
                status=s,
                diverged_epoch=d,
                final=json.loads(f),
                curves=json.loads(c),
                wall_time=w,
            )
            for t, r, g, h, s, d, f, c, w in rows
        ]

    def count(self) -> int:
        """Number of stored trials."""
        return int(self._conn.execute("SELECT COUNT(*) FROM trials").fetchone()[0])
