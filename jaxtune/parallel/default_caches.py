"""The caches a sweep keeps on disk by default: compiled programs and chunk-size decisions.

Both the command line and the Python API (:class:`jaxtune.Sweep`) turn them on, so a
second run of the same sweep, in a notebook or a new process, loads its programs instead
of compiling them and reuses its ``chunk_size="auto"`` decisions. ``JAXTUNE_NO_CACHE=1``
(or ``--no-cache``, or ``Sweep(cache=False)``) turns them off. Compiled programs are code
that is loaded and run: a folder another user owns or every user can write is not used.

Examples:
    >>> unsafe_folder("/nonexistent/jaxtune-cache") is None
    True
"""

from __future__ import annotations

import os
import stat

import jax

from jaxtune.parallel.calibration_cache import calibration_cache_dir, enable_calibration_cache
from jaxtune.parallel.engine import enable_compilation_cache

__all__ = [
    "caches_off",
    "compilation_cache_folder",
    "configured_folder",
    "enable_default_caches",
    "unsafe_folder",
]


def caches_off() -> bool:
    """Whether ``JAXTUNE_NO_CACHE`` is set (to anything but ``""`` or ``"0"``)."""
    return os.environ.get("JAXTUNE_NO_CACHE", "") not in ("", "0")


def configured_folder() -> str | None:
    """The compilation cache folder jax already uses, or None."""
    return jax.config.jax_compilation_cache_dir or None


def compilation_cache_folder() -> str:
    """``$JAXTUNE_CACHE_DIR``, or ``~/.cache/jaxtune/xla``."""
    default = os.path.join(os.path.expanduser("~"), ".cache", "jaxtune", "xla")
    return os.environ.get("JAXTUNE_CACHE_DIR", default)


def enable_default_caches(*, keep_configured: bool = True) -> str | None:
    """Turn on the compilation and calibration caches in their default folders.

    Args:
        keep_configured: leave a compilation cache that jax already uses (set by the
            user or ``JAX_COMPILATION_CACHE_DIR``) as it is.

    Returns:
        Why the compilation cache folder was not used (one line), or None.
    """
    problem = None
    if not (keep_configured and configured_folder()):
        folder = compilation_cache_folder()
        why = unsafe_folder(folder)
        if why is None:
            enable_compilation_cache(folder)
        else:
            problem = (
                f"compilation cache {folder} {why}; not used (compiled programs there would "
                "run as code): fix it or set JAXTUNE_CACHE_DIR"
            )
    if calibration_cache_dir() is None:
        enable_calibration_cache()
    return problem


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
