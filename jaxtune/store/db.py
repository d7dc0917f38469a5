"""The plumbing of :mod:`jaxtune.store`: schema, connections, the folder's lock, backups,
and errors that name the path and the fix. Public names are re-exported by the store.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import numbers
import os
import sqlite3
import stat
import urllib.parse
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

DB_NAME = "sweep.db"
LOCK_NAME = "lock"
COLUMNS = {
    "meta": ("key", "value"),
    "rounds": ("round", "space", "n_trials", "sampler", "seed", "first_trial"),
    "trials": (
        "trial", "round", "grp", "hparams", "status", "diverged_epoch", "final", "curves",
        "wall_time", "finished_at",
    ),
}  # fmt: skip
SCHEMA = """
BEGIN IMMEDIATE;
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS rounds (
    round INTEGER PRIMARY KEY, space TEXT NOT NULL, n_trials INTEGER NOT NULL,
    sampler TEXT NOT NULL, seed INTEGER NOT NULL, first_trial INTEGER NOT NULL
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
COMMIT;
"""

# Primary SQLite result codes (the low byte of an extended code).
_PERM, _READONLY, _IOERR, _CORRUPT, _FULL, _CANTOPEN, _AUTH, _NOTADB = 3, 8, 10, 11, 13, 14, 23, 26


class StoreError(ValueError):
    """A store cannot be opened, read or written; the message names the path and the fix."""


class StoreLockedError(StoreError, RuntimeError):
    """Another process is writing to this store."""


class StoreNotStartedError(StoreError):
    """The store holds no committed sweep yet (starting, or crashed before it started)."""


def _code(e: BaseException) -> int:
    return (getattr(e, "sqlite_errorcode", 0) or 0) & 0xFF


def fault(path: Path, e: BaseException) -> StoreError:
    """``e`` (from SQLite or the OS) as a one-line :class:`StoreError` naming ``path``."""
    code, err = _code(e), getattr(e, "errno", None)
    resume = f"then run 'jaxtune resume {path}'"
    if code == _FULL or err in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        what = f"database or disk is full: free space and {resume}"
    elif code == _IOERR:
        what = f"disk I/O error (disk full, file-size limit or failing disk): free space, {resume}"
    elif code in (_PERM, _READONLY, _AUTH) or err in (errno.EACCES, errno.EPERM, errno.EROFS):
        what = f"permission denied or read-only file system: fix its permissions, {resume}"
    elif code == _CANTOPEN:
        what = "cannot open the database: check that the folder exists and is readable"
    elif code in (_CORRUPT, _NOTADB):
        what = f"{DB_NAME} is not a jaxtune sweep (foreign or damaged file): move it away"
    else:
        what = "unexpected database error"
    detail = " ".join(str(e).split())
    return StoreError(f"store {str(path)!r}: {what} ({type(e).__name__}: {detail})")


def not_a_folder(path: Path) -> StoreError:
    return StoreError(f"store {str(path)!r} exists and is not a folder: choose another folder")


def _linked(path: Path, name: str) -> StoreError:
    return StoreError(
        f"store {str(path)!r}: {name!r} is a symbolic link; a store's files must be its "
        "own (a link could make jaxtune write elsewhere): remove it, then run again"
    )


def refuse_links(path: Path) -> None:
    """Refuse a store folder whose database, journal or lock is a symbolic link.

    Raises:
        StoreError: one line naming the link.
    """
    for name in (DB_NAME, DB_NAME + "-wal", DB_NAME + "-shm", DB_NAME + "-journal", LOCK_NAME):
        if (path / name).is_symlink():
            raise _linked(path, name)


class StoreLock:
    """The exclusive lock of a store's folder (:meth:`jaxtune.store.Store.lock`).

    A context manager: leaving it releases the lock. The operating system releases it
    too when the process dies, however it dies.
    """

    def __init__(self, path: Path, fd: int, created: tuple[bool, bool] = (False, False)) -> None:
        self.path, self._fd = path, fd
        self._created = created  # (the folder, the lock file) made by this lock

    def discard(self) -> None:
        """Release the lock and remove what taking it created (the lock file, an empty
        folder): a store refused as it opened leaves the folder as it was."""
        made_dir, made_file = self._created
        if self._fd is not None and made_file:
            with contextlib.suppress(OSError):
                os.unlink(self.path / LOCK_NAME)
        self.release()
        if made_dir:
            with contextlib.suppress(OSError):
                os.rmdir(self.path)  # only if empty

    @classmethod
    def take(cls, path: Path) -> StoreLock:
        """Create the folder if needed and lock it, or refuse at once."""
        if path.exists() and not path.is_dir():
            raise not_a_folder(path)
        refuse_links(path)
        made_dir, made_file = not path.exists(), False
        try:
            path.mkdir(parents=True, exist_ok=True)
            # Never through a link (O_NOFOLLOW), never a FIFO or device (O_NONBLOCK, then
            # a check), and nothing written before the checks and the lock.
            flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
            try:
                fd = os.open(path / LOCK_NAME, flags | os.O_EXCL, 0o644)
                made_file = True
            except FileExistsError:
                fd = os.open(path / LOCK_NAME, flags, 0o644)
        except OSError as e:
            if e.errno == errno.ELOOP:
                raise _linked(path, LOCK_NAME) from None
            raise fault(path, e) from e
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_nlink != 1:
            os.close(fd)
            raise StoreError(
                f"store {str(path)!r}: {LOCK_NAME!r} is not a plain file of its own (a "
                "hard link, FIFO or device): remove it, then run again"
            )
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise StoreLockedError(
                f"store {str(path)!r} is in use by another process; wait for it to finish "
                "or stop it, then resume"
            ) from None
        try:  # the pid is only a hint for people
            os.ftruncate(fd, 0)
            os.write(fd, str(os.getpid()).encode())
        except OSError:
            pass
        return cls(path, fd, (made_dir, made_file))

    @property
    def held(self) -> bool:
        """Whether this lock is still held."""
        return self._fd is not None

    def release(self) -> None:
        """Release the lock (idempotent)."""
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> StoreLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def connect_read(path: Path) -> sqlite3.Connection:
    """A read-only connection to ``path``'s database that never writes ``sweep.db``.

    SQLite's ``mode=ro`` (no journal-mode change, no checkpoint). A WAL reader needs the
    ``-wal`` and ``-shm`` files; in a read-only folder that lacks them, the database is
    opened ``immutable`` instead: the writer checkpoints after every commit, so the file
    alone holds every committed trial.

    Raises:
        sqlite3.DatabaseError: not a database, or it cannot be read.
    """
    uri = "file:" + urllib.parse.quote(str((path / DB_NAME).absolute())) + "?mode=ro"
    conn = None
    try:
        conn = sqlite3.connect(uri, uri=True, timeout=30.0)
        conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
    except sqlite3.OperationalError as e:
        if conn is not None:
            conn.close()
        if _code(e) not in (_CANTOPEN, _READONLY) or os.access(path, os.W_OK):
            raise
        conn = sqlite3.connect(uri + "&immutable=1", uri=True)
    except BaseException:
        if conn is not None:
            conn.close()
        raise
    conn.execute("PRAGMA query_only=1")
    return conn


@contextlib.contextmanager
def guard(path: Path) -> Iterator[None]:
    """Turn SQLite and OS errors into :func:`fault` (a duplicate trial stays itself)."""
    try:
        yield
    except (sqlite3.IntegrityError, sqlite3.ProgrammingError):
        raise
    except (sqlite3.DatabaseError, OSError) as e:
        raise fault(path, e) from e


def check_schema(conn: sqlite3.Connection, path: Path) -> bool:
    """Refuse a database with foreign tables, triggers, views or indexes; return whether
    all of our tables exist.

    A trigger (or view) planted in ``sweep.db`` would run inside jaxtune's own writes,
    e.g. rewrite stored results: only our tables and SQLite's automatic indexes of their
    keys are accepted.
    """
    objects = conn.execute("SELECT type, name, tbl_name FROM sqlite_master").fetchall()
    foreign = [
        f"{kind} {name!r}"
        for kind, name, table in objects
        if kind != "table"
        and not (kind == "index" and table in COLUMNS and name.startswith("sqlite_autoindex_"))
    ]
    if foreign:
        raise StoreError(
            f"store {str(path)!r}: {DB_NAME} is not a jaxtune sweep (it has "
            f"{', '.join(sorted(foreign))}, which jaxtune never makes): move it away, or "
            "choose another folder"
        )
    names = [name for kind, name, _ in objects if kind == "table"]
    cols = {n: tuple(r[1] for r in conn.execute(f"PRAGMA table_info({n!r})")) for n in names}
    wrong = [n for n in names if cols[n] != COLUMNS.get(n)]
    if wrong:
        raise StoreError(
            f"store {str(path)!r}: {DB_NAME} is not a jaxtune sweep (it has "
            f"{', '.join(sorted(wrong))}): move it away, or choose another folder"
        )
    return set(names) >= set(COLUMNS)


def connect_write(path: Path) -> sqlite3.Connection:
    """A connection that writes ``path``'s database, creating its tables if needed."""
    conn = sqlite3.connect(path / DB_NAME, timeout=30.0, isolation_level=None)
    try:
        check_schema(conn, path)  # before any write: a foreign file stays untouched
        conn.execute("PRAGMA journal_mode=WAL")
        # FULL: a transaction reported committed survives a power cut, not only a kill.
        conn.execute("PRAGMA synchronous=FULL")
        conn.executescript(SCHEMA)
    except BaseException:
        conn.close()
        raise
    return conn


def copy_db(conn: sqlite3.Connection, dest: Path) -> Path:
    """Back up ``conn``'s database into ``dest/sweep.db`` (see ``Store.backup``)."""
    target, tmp = dest / DB_NAME, dest / (DB_NAME + ".tmp")
    if target.exists():
        raise StoreError(f"backup: {str(target)!r} exists: choose another folder")
    try:
        dest.mkdir(parents=True, exist_ok=True)
        out = sqlite3.connect(tmp, isolation_level=None)
        try:
            conn.backup(out)
            out.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
        finally:
            out.close()
        os.replace(tmp, target)  # a copy is whole or absent
    except (sqlite3.DatabaseError, OSError) as e:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise fault(dest, e) from e
    return target


def _is_int(x: Any) -> bool:
    return isinstance(x, numbers.Integral) and not isinstance(x, bool)


def check_round(round: Any, nxt: int, space: Any, n_trials: Any, sampler: Any, seed: Any) -> None:
    """Raise ValueError naming the first bad argument of ``Store.add_round``."""
    for name, value, ok, want in (
        ("round", round, _is_int(round) and round == nxt, f"the next round, {nxt}"),
        ("n_trials", n_trials, _is_int(n_trials) and n_trials >= 1, "an integer >= 1"),
        ("sampler", sampler, isinstance(sampler, str) and sampler, "a non-empty string"),
        ("seed", seed, _is_int(seed) and seed >= 0, "an integer >= 0"),
        ("space", space, isinstance(space, Mapping), "a dict"),
    ):
        if not ok:
            raise ValueError(f"add_round: {name} must be {want}, got {value!r}")
