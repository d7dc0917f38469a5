"""The command's caches on disk: compiled programs are code, so their folder is checked.

Example:
    >>> unsafe_folder("/nonexistent/jaxtune-cache") is None
    True
"""

from __future__ import annotations

import argparse
import os
import stat
import sys

__all__ = ["enable_cache", "unsafe_folder"]


def enable_cache(args: argparse.Namespace) -> None:
    """The persistent compilation and calibration caches, unless ``--no-cache``.

    The compilation cache is ``$JAXTUNE_CACHE_DIR`` (default ``~/.cache/jaxtune/xla``),
    used only when this user owns it and nobody else can write it.
    """
    if getattr(args, "no_cache", True):
        return
    from jaxtune import parallel

    default = os.path.join(os.path.expanduser("~"), ".cache", "jaxtune", "xla")
    folder = os.environ.get("JAXTUNE_CACHE_DIR", default)
    problem = unsafe_folder(folder)
    if problem is None:
        parallel.enable_compilation_cache(folder)
    else:  # compiled programs are code: a folder others can write is not trusted
        print(
            f"jaxtune: warning: compilation cache {folder} {problem}; not used (compiled "
            "programs there would run as code): fix it or set JAXTUNE_CACHE_DIR",
            file=sys.stderr,
        )
    # The auto chunk-size decisions too: a second run reuses them without timing again.
    parallel.enable_calibration_cache()


def unsafe_folder(folder: str) -> str | None:
    """Why ``folder`` (a cache of code) is not safe to use, or None (also when missing)."""
    try:
        info = os.lstat(folder)
    except FileNotFoundError:
        return None
    except OSError as e:
        return f"cannot be checked ({e.strerror})"
    if stat.S_ISLNK(info.st_mode):
        target = os.path.realpath(folder)
        problem = unsafe_folder(target) if target != folder else "is a symbolic link loop"
        return None if problem is None else f"(a link to {target}) {problem}"
    if not stat.S_ISDIR(info.st_mode):
        return "is not a folder"
    if info.st_uid != os.getuid():
        return "belongs to another user"
    if info.st_mode & 0o002:
        return f"is writable by every user (mode {stat.S_IMODE(info.st_mode):o})"
    return None
