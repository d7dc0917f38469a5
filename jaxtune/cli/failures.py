"""The command's failures in one line: a missing extra, a failed write, any message.

Examples:
    >>> one_line(ValueError("first\\nsecond"))
    'first'
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

__all__ = ["missing_extra", "one_line", "os_error_line"]


def missing_extra(e: ImportError) -> int:
    """A missing optional package that jaxtune names with its extra: one line, status 1.

    Any other ImportError (a bug, a user's module) keeps its traceback.
    """
    if "pip install" not in str(e):
        raise e
    print(f"jaxtune: error: {one_line(e)}", file=sys.stderr)
    return 1


def os_error_line(e: OSError, args: argparse.Namespace, target: Any) -> str:
    """One line for a failed write: the file, the reason, and what to do next."""
    what = e.filename or "a file"
    reason = e.strerror or type(e).__name__
    store = getattr(target, "path", None) or getattr(args, "store", None)
    if args.command in ("sweep", "resume", "zoom"):
        after = f"then run 'jaxtune resume {store}' (finished trials are stored)"
    else:
        after = "then run it again"
    return f"cannot write {what}: {reason}; free space or fix the folder's permissions, {after}"


def one_line(e: BaseException) -> str:
    """The first line of an error's message (its type where it has none)."""
    text = str(e).strip().splitlines()
    return text[0] if text else type(e).__name__
