"""A crash-proof store of one sweep: SQLite through the standard library.

A store is a folder (``runs/NAME``) holding ``sweep.db`` and whatever plots are made from
it. The database is in WAL mode and every finished chunk of trials is written in one
transaction, so a process killed at any moment (SIGINT or SIGKILL) loses at most the chunk
in flight and never leaves a half-written trial. A trial is keyed by its id: writing it
twice is refused by the database itself, so a resumed sweep cannot duplicate one. A new
sweep's metadata and round 0 are one transaction (:meth:`Store.initialize`), and every
commit is checkpointed from the WAL into ``sweep.db``: that file alone holds every trial.

One writer at a time: an exclusive ``flock`` on ``runs/NAME/lock`` (:meth:`Store.lock`:
cheap, take it before any slow setup), released by the OS when the process dies, however
it dies; a second writer gets :class:`StoreLockedError`. Reading never locks and never
writes ``sweep.db`` (SQLite ``mode=ro``). Failures of the disk or of SQLite raise a
:class:`StoreError` whose one line names the path and the fix.

To copy a live store, use ``Store.read(src).backup(dst)`` (SQLite's backup API: a
consistent snapshot, even mid-write); ``cp sweep.db`` is safe only once the sweep stopped.

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
import json
import math
import os
import sqlite3
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jaxtune.store.db import (
    COLUMNS,
    DB_NAME,
    LOCK_NAME,
    StoreError,
    StoreLock,
    StoreLockedError,
    StoreNotStartedError,
    check_round,
    check_schema,
    connect_read,
    connect_write,
    copy_db,
    guard,
    not_a_folder,
    refuse_links,
)

__all__ = [
    "Store",
    "StoreError",
    "StoreLock",
    "StoreLockedError",
    "StoreNotStartedError",
    "TrialRecord",
]


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

    Examples:
        >>> import tempfile
        >>> with Store.open(tempfile.mkdtemp() + "/demo") as store:
        ...     store.initialize({"seed": 0}, dict(space={}, n_trials=1, sampler="random", seed=0))
        ...     store.write_trials(
        ...         [TrialRecord(0, 0, "", {"lr": 0.1}, "ok", 0, {"val_loss": 0.5})]
        ...     )
        ...     sorted(store.finished_trials())
        True
        [0]
    """

    def __init__(self, path: Path, conn: sqlite3.Connection | None, lock: StoreLock | None):
        self.path, self._conn, self._lock = path, conn, lock
        self._own_lock = False
        self._ready = True  # all tables exist (a reader may find none yet)

    # ----------------------------------------------------------------- opening

    @staticmethod
    def lock(path: str | os.PathLike[str]) -> StoreLock:
        """Take the store's lock now (creating the folder), before any slow setup.

        Raises:
            StoreLockedError: another live process holds the store (refused at once).
            StoreError: ``path`` is a file, or the folder cannot be created or written.
        """
        return StoreLock.take(Path(path))

    @classmethod
    def open(cls, path: str | os.PathLike[str], *, lock: StoreLock | None = None) -> Store:
        """Open (creating if needed) a store for writing.

        Args:
            path: the store's folder.
            lock: a held :meth:`lock` of ``path``, borrowed: closing the store leaves it
                held. Default: take the lock (released by :meth:`close`).

        Raises:
            StoreLockedError: another live process holds the store.
            StoreError: ``path`` is a file, ``sweep.db`` is not a jaxtune sweep, or the
                disk is full or read-only.
        """
        path = Path(path)
        if path.exists() and not path.is_dir():
            raise not_a_folder(path)
        refuse_links(path)
        if lock is not None and not (lock.held and lock.path.resolve() == path.resolve()):
            raise ValueError(f"lock: not a held lock of {str(path)!r}")
        store = cls(path, None, lock or cls.lock(path))
        store._own_lock = lock is None
        try:
            with guard(path):
                store._conn = connect_write(path)
        except BaseException:
            if store._own_lock and store._lock is not None:
                store._lock.discard()  # a refused folder is left as it was
            store.close()
            raise
        return store

    @classmethod
    def read(cls, path: str | os.PathLike[str], *, require_started: bool = True) -> Store:
        """Open an existing store read-only: no lock, no write, safe while a sweep writes.

        Args:
            path: the store's folder.
            require_started: refuse a store whose start (round 0) is not committed yet;
                if False, such a store reads as empty.

        Raises:
            FileNotFoundError: no sweep database (nor lock) in ``path``.
            StoreNotStartedError: the sweep has not committed its start yet.
            StoreError: ``sweep.db`` is not a jaxtune sweep, or cannot be read.
        """
        path = Path(path)
        not_started = StoreNotStartedError(
            f"sweep in {str(path)!r} has not started yet (nothing committed): wait a moment "
            "if it is starting, or start it again if it crashed"
        )
        if not (path / DB_NAME).is_file():
            if (path / LOCK_NAME).is_file() and require_started:
                raise not_started
            raise FileNotFoundError(f"no jaxtune sweep in {str(path)!r} (missing {DB_NAME})")
        store = cls(path, None, None)
        try:
            with guard(path):
                store._conn = connect_read(path)
                store._ready = check_schema(store._conn, path)
            if require_started and not store.started():
                raise not_started
        except BaseException:
            store.close()
            raise
        return store

    def started(self) -> bool:
        """Whether a sweep's start (round 0) is committed."""
        return bool(self._select("SELECT 1 FROM rounds LIMIT 1"))

    def close(self) -> None:
        """Close the database and release the lock (if this store took it)."""
        if self._conn is not None:
            if self._lock is not None:  # leave an empty WAL: sweep.db alone is the store
                with contextlib.suppress(sqlite3.Error):
                    self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            self._conn.close()
        if self._own_lock and self._lock is not None:
            self._lock.release()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        if self._lock is None or not self._lock.held:
            raise PermissionError("this store was opened read-only (Store.read) or unlocked")
        with guard(self.path):
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
                self._conn.execute("COMMIT")
            except BaseException:
                if self._conn.in_transaction:  # a failed COMMIT may have rolled back
                    self._conn.execute("ROLLBACK")
                raise
        # Copy the commit from the WAL into sweep.db now: the file alone is complete, even
        # if the process is killed or the folder copied without its -wal. A failure (disk
        # full) loses nothing: the commit is safe in the WAL, and the next one retries.
        with contextlib.suppress(sqlite3.Error):
            self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)")

    def _select(self, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
        if not self._ready:
            return []
        with guard(self.path):
            return self._conn.execute(sql, params).fetchall()

    # ----------------------------------------------------------------- metadata

    def initialize(self, meta: Mapping[str, Any], first_round: Mapping[str, Any]) -> bool:
        """Start a new sweep: its metadata and round 0, in one transaction.

        Args:
            meta: JSON-serializable metadata.
            first_round: :meth:`add_round`'s keywords (``space``, ``n_trials``, ``sampler``,
                ``seed``) for round 0.

        Returns:
            True if written; False (nothing written) if the store has started already:
            then compare :meth:`meta` with yours. Metadata left without a round (by a
            crash inside an older two-step start) is replaced.
        """
        with self._transaction() as conn:
            if conn.execute("SELECT 1 FROM rounds LIMIT 1").fetchone():
                return False
            conn.execute("DELETE FROM meta")
            self._put_meta(conn, meta)
            self._put_round(conn, 0, **first_round)
        return True

    def set_meta(self, **values: Any) -> None:
        """Store JSON-serializable metadata values by key."""
        with self._transaction() as conn:
            self._put_meta(conn, values)

    @staticmethod
    def _put_meta(conn: sqlite3.Connection, values: Mapping[str, Any]) -> None:
        conn.executemany(
            "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
            [(k, _json(v)) for k, v in values.items()],
        )

    def meta(self) -> dict[str, Any]:
        """All metadata, decoded."""
        return {k: json.loads(v) for k, v in self._select("SELECT key, value FROM meta")}

    # ----------------------------------------------------------------- rounds

    def add_round(
        self, round: int, *, space: Mapping[str, Any], n_trials: int, sampler: str, seed: int
    ) -> int:
        """Record a new round; returns the id of its first trial.

        Raises:
            ValueError: a bad argument (``round`` must be the last round + 1); nothing
                is written.
        """
        with self._transaction() as conn:
            return self._put_round(
                conn, round, space=space, n_trials=n_trials, sampler=sampler, seed=seed
            )

    @staticmethod
    def _put_round(
        conn: sqlite3.Connection, round: int, *, space: Any, n_trials: int, sampler: str, seed: int
    ) -> int:
        last, first = conn.execute(
            "SELECT MAX(round), COALESCE(MAX(first_trial + n_trials), 0) FROM rounds"
        ).fetchone()
        check_round(round, 0 if last is None else last + 1, space, n_trials, sampler, seed)
        conn.execute(
            "INSERT INTO rounds (round, space, n_trials, sampler, seed, first_trial) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (int(round), _json(dict(space)), int(n_trials), sampler, int(seed), int(first)),
        )
        return int(first)

    def rounds(self) -> list[dict[str, Any]]:
        """Every round, in order, with its space decoded."""
        rows = self._select(
            "SELECT round, space, n_trials, sampler, seed, first_trial FROM rounds ORDER BY round"
        )
        out = [dict(zip(COLUMNS["rounds"], r, strict=True)) for r in rows]
        for r in out:
            r["space"] = json.loads(r["space"])
        return out

    # ----------------------------------------------------------------- trials

    def write_trials(self, records: Iterable[TrialRecord]) -> None:
        """Write finished trials in one transaction (all or none).

        Raises:
            sqlite3.IntegrityError: a trial id is already stored (nothing is written).
            StoreError: the disk is full or read-only (nothing of this chunk is written).
        """
        now = time.time()
        rows = [
            (
                *(r.trial, r.round, r.group, r.status, r.diverged_epoch, r.wall_time, now),
                *map(_json, (r.hparams, r.final, r.curves)),
            )
            for r in records
        ]
        with self._transaction() as conn:
            conn.executemany(
                "INSERT INTO trials (trial, round, grp, status, diverged_epoch, wall_time, "
                "finished_at, hparams, final, curves) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )

    def finished_trials(self, round: int | None = None) -> set[int]:
        """Ids of the trials already stored (of one round, or all)."""
        if round is None:
            rows = self._select("SELECT trial FROM trials")
        else:
            rows = self._select("SELECT trial FROM trials WHERE round = ?", (round,))
        return {int(r[0]) for r in rows}

    def trials(self) -> list[TrialRecord]:
        """Every stored trial, by id."""
        rows = self._select(
            "SELECT trial, round, grp, hparams, status, diverged_epoch, final, curves, "
            "wall_time FROM trials ORDER BY trial"
        )
        loads = json.loads
        return [
            TrialRecord(t, r, g, loads(h), s, d, loads(f), loads(c), w)
            for t, r, g, h, s, d, f, c, w in rows
        ]

    def count(self) -> int:
        """Number of stored trials."""
        rows = self._select("SELECT COUNT(*) FROM trials")
        return int(rows[0][0]) if rows else 0

    # ----------------------------------------------------------------- copying

    def backup(self, dest: str | os.PathLike[str]) -> Path:
        """Copy this store into the folder ``dest``, even while a sweep writes to it.

        SQLite's backup API copies a consistent snapshot into one self-contained file
        (rollback journal, no ``-wal``); ``Store.read(dest)`` reads it. Returns its path.

        Raises:
            StoreError: ``dest`` already holds a sweep, or cannot be written.
        """
        return copy_db(self._conn, Path(dest))
