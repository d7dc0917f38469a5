"""The command's caches on disk (:mod:`jaxtune.parallel.default_caches`), unless turned off."""

from __future__ import annotations

import argparse
import sys

__all__ = ["enable_cache"]


def enable_cache(args: argparse.Namespace) -> None:
    """The persistent compilation and calibration caches, unless ``--no-cache``.

    The compilation cache is ``$JAXTUNE_CACHE_DIR`` (default ``~/.cache/jaxtune/xla``),
    used only when this user owns it and nobody else can write it; ``JAXTUNE_NO_CACHE=1``
    turns both off as ``--no-cache`` does.
    """
    from jaxtune import parallel

    if getattr(args, "no_cache", True) or parallel.caches_off():
        return
    problem = parallel.enable_default_caches(keep_configured=False)
    if problem is not None:
        print(f"jaxtune: warning: {problem}", file=sys.stderr)
