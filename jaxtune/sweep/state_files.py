"""The files a sweep keeps of its training states (``<store>/rungs/*.npz``).

PBT boundaries (:mod:`jaxtune.sweep.pbt_files`)
write them with :func:`write_npz` and read them back with :func:`read_npz`. Every file
carries the sweep's token (a random string made with the store, kept in its metadata:
:func:`jaxtune.sweep.stored.token`): a file without this sweep's token (left by another
sweep in the same folder), one that cannot be read (damaged) or a symbolic link is
removed and recomputed, never adopted. Files are written through unpredictable temporary
names (``mkstemp``) and renamed into place, never through a link.

Example:
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "a.npz"
    >>> write_npz(path, {"a": np.arange(3)}, token="mine")
    >>> read_npz(path, "mine")["a"].tolist()
    [0, 1, 2]
    >>> read_npz(path, "another") is None, path.exists()
    (True, False)
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np

__all__ = ["TOKEN_FIELD", "read_npz", "read_npz_damaged", "state_dir", "write_npz"]

log = logging.getLogger("jaxtune.sweep")

#: The array of a state file that holds the token of the sweep that wrote it.
TOKEN_FIELD = "sweep_token"


def state_dir(folder: str | os.PathLike[str]) -> Path:
    """The folder of a store's saved states, ``<folder>/rungs``, created if needed.

    Raises:
        StoreError: ``rungs`` is a symbolic link or not a folder (states would be
            written somewhere else): one line saying to remove it.
    """
    from jaxtune.store import StoreError

    path = Path(folder) / "rungs"
    if path.is_symlink() or (path.exists() and not path.is_dir()):
        raise StoreError(
            f"store {os.fspath(folder)!r}: {str(path)!r} is a symbolic link or not a "
            "folder; a store keeps its states in a folder of its own: remove it, then resume"
        )
    path.mkdir(mode=0o700, exist_ok=True)
    return path


def write_npz(path: Path, arrays: Mapping[str, np.ndarray], token: str | None = None) -> None:
    """Writes ``arrays`` to ``path`` atomically: a temporary file, fsync, then a rename,
    so a kill leaves either the old file or the whole new one, never a torn one.

    The temporary file has an unpredictable name (``mkstemp``, created exclusively in the
    same folder), and the rename replaces whatever ``path`` was (a symbolic link too)
    without writing through it.

    Args:
        path: the file.
        arrays: the arrays, by name.
        token: the sweep's token, stored as :data:`TOKEN_FIELD` (see :func:`read_npz`).

    Raises:
        OSError: the folder cannot be written (disk full, read-only); no file is left.
    """
    if token is not None:
        arrays = {**arrays, TOKEN_FIELD: np.asarray(token)}
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(e, OSError) and e.filename is None:  # name the file in the message
            raise OSError(e.errno, e.strerror or str(e), os.fspath(path)) from e
        raise


def read_npz(path: Path, token: str | None) -> dict[str, np.ndarray] | None:
    """The arrays of the state file ``path`` if this sweep wrote it, else None.

    A file that is not a regular file (a symbolic link), cannot be read (damaged:
    ``BadZipFile``, truncated), or does not hold ``token`` (another sweep's, or one that
    predates tokens) is removed, with one log line: the caller recomputes it, as it
    would a missing file.

    Args:
        path: the file.
        token: the sweep's token (None: only files without a token are this sweep's).

    Returns:
        The arrays by name (without the token), or None.
    """
    why = None
    arrays: dict[str, np.ndarray] = {}
    if path.is_symlink() or not path.is_file():
        why = "not a regular file"
    else:
        try:
            # Our own file object (never through a link): numpy leaves it open when
            # the file is not a zip.
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
            with os.fdopen(fd, "rb") as f, np.load(f, allow_pickle=False) as z:
                arrays = {name: z[name] for name in z.files}
        except Exception as e:  # BadZipFile, EOFError, OSError, ValueError...
            why = f"damaged ({type(e).__name__})"
    if why is None:
        found = arrays.pop(TOKEN_FIELD, None)
        found = None if found is None else str(found)
        if found != token:
            why = "written by another sweep"
    if why is None:
        return arrays
    log.warning("%s: %s; ignored and recomputed", path, why)
    with contextlib.suppress(OSError):
        path.unlink()
    return None


def read_npz_damaged(path: Path) -> None:
    """Remove a state file whose arrays are not what they should be (logged)."""
    log.warning("%s: damaged (missing or malformed arrays); ignored and recomputed", path)
    with contextlib.suppress(OSError):
        path.unlink()
