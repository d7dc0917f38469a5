"""A lane runtime's snapshot on disk: one ``.npz``, written atomically, bound to its sweep.

The file holds the runtime's arrays and its JSON bookkeeping (``info``) plus the token of
the sweep that wrote it. :func:`load` returns None for a file that is missing, torn,
damaged or written by another sweep (another token): such a file is never adopted, the
round is recomputed from its start instead (committed trials are skipped, with the same
numbers).
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["load", "save"]


def save(path: Path, token: str, info: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
    """Write a snapshot: a fresh temporary file in the same folder, fsync, rename.

    A link at ``path`` is replaced, never written through; a linked folder is refused
    (``OSError``), since the states would land wherever it points.
    """
    if path.parent.is_symlink():
        raise OSError(f"{path.parent} is a symbolic link; remove it (states stay in the store)")
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps({"token": token, "info": info}, default=_plain)
    fd, tmp = tempfile.mkstemp(prefix=".snapshot-", suffix=".npz", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, _info=np.frombuffer(text.encode(), np.uint8), **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:  # name the snapshot: the command's one line says which file
        Path(tmp).unlink(missing_ok=True)
        raise OSError(e.errno, e.strerror or str(e), str(path)) from e
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load(path: Path, token: str) -> tuple[dict[str, Any], dict[str, np.ndarray]] | None:
    """The snapshot at ``path`` if this sweep (``token``) wrote it, else None."""
    if path.is_symlink() or not path.is_file():
        return None
    try:
        # Our own handle: numpy leaks its file when the archive is damaged.
        with open(path, "rb") as f, np.load(f, allow_pickle=False) as z:
            head = json.loads(z["_info"].tobytes().decode())
            if head.get("token") != token:
                return None
            arrays = {k: z[k] for k in z.files if k != "_info"}
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return None
    return head["info"], arrays


def _plain(x: Any) -> Any:
    if isinstance(x, np.generic):
        return x.item()
    raise TypeError(f"not a JSON value: {x!r}")
