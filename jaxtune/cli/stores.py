"""``jaxtune ls`` and ``jaxtune rm``: the sweeps under a folder, and deleting one.

A *store* is a folder holding a jaxtune ``sweep.db`` (:mod:`jaxtune.store`). ``ls`` walks
a folder (default ``runs``) and prints one line per store: its path, trials done of the
total its rounds ask for, the best objective, and whether it is finished. ``rm`` deletes
one store's folder, after checking that it is a jaxtune store and that no sweep is
writing to it; it asks first, unless ``--yes``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path
from typing import Any

from jaxtune.cli.config import UsageError, nonempty

__all__ = ["add_parsers", "describe", "list_stores", "remove", "run"]

DB_NAME = "sweep.db"


def add_parsers(sub: Any) -> None:
    """Adds the ``ls`` and ``rm`` subcommands.

    Args:
        sub: the command's argparse subparsers.
    """
    c = sub.add_parser("ls", help="list the sweeps under a folder (default runs)")
    c.add_argument("folder", nargs="?", default="runs", type=nonempty, help="where to look")
    c = sub.add_parser("rm", help="delete a sweep's folder (asks first)")
    c.add_argument("store", type=nonempty, help="the sweep's folder, e.g. runs/digits")
    c.add_argument("--yes", action="store_true", help="delete without asking")


def list_stores(folder: str | os.PathLike[str]) -> list[Path]:
    """The folders under ``folder`` (itself included) that hold a ``sweep.db``, sorted.

    Raises:
        UsageError: ``folder`` is not a folder.
    """
    root = Path(folder)
    if not root.is_dir():
        raise UsageError(f"ls: {str(root)!r} is not a folder")
    found = [Path(d) for d, _, files in os.walk(root) if DB_NAME in files]
    return sorted(found)


def describe(path: Path) -> str:
    """One line: the store's path, trials done/total, the best objective, its status."""
    from jaxtune.results import Results
    from jaxtune.store import Store, StoreError

    try:
        with Store.read(path) as store:
            results = Results.from_store(store)
    except (StoreError, FileNotFoundError, OSError) as e:
        return f"{path}  not readable: {str(e).splitlines()[0]}"
    total = sum(r["n_trials"] for r in results.rounds)
    done = len(results)
    best = results.best(1)
    value = best[0].final.get(results.objective) if best else None
    shown = "-" if value is None else f"{value:.4g}"
    status = "finished" if done >= total else f"unfinished: jaxtune resume {path}"
    return f"{path}  {done}/{total} trials  best {results.objective}={shown}  {status}"


def remove(path: str | os.PathLike[str]) -> int:
    """Delete the store at ``path``, folder and all, under its lock; returns its trials.

    Raises:
        UsageError: ``path`` is not a folder, or holds no jaxtune store.
        StoreLockedError: a sweep is writing to it.
    """
    from jaxtune.store import Store, StoreError

    folder = Path(path)
    if not folder.is_dir():
        raise UsageError(f"rm: {str(folder)!r} is not a folder")
    try:
        with Store.read(folder, require_started=False) as store:
            n = len(store.finished_trials())
    except (FileNotFoundError, StoreError) as e:
        raise UsageError(
            f"rm: {str(folder)!r} is not a jaxtune store ({str(e).splitlines()[0]}); "
            "nothing deleted"
        ) from None
    with Store.lock(folder):  # refused at once while a sweep writes
        shutil.rmtree(folder)
    return n


def run(args: argparse.Namespace) -> int:
    """``jaxtune ls`` or ``jaxtune rm``; returns the exit status.

    Raises:
        UsageError: a bad folder, not a store, or ``rm`` without a terminal nor ``--yes``.
    """
    if args.command == "ls":
        stores = list_stores(args.folder)
        if not stores:
            print(f"jaxtune: no sweep under {args.folder}", file=sys.stderr)
        for path in stores:
            print(describe(path))
        return 0
    folder = Path(args.store)
    if not args.yes:
        if not folder.is_dir():
            raise UsageError(f"rm: {str(folder)!r} is not a folder")
        if not sys.stdin.isatty():
            raise UsageError(f"rm: pass --yes to delete {str(folder)!r} without asking")
        answer = input(f"delete {folder} and everything in it? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            print("jaxtune: nothing deleted", file=sys.stderr)
            return 1
    n = remove(folder)
    print(f"deleted {folder} ({n} trials)")
    return 0
