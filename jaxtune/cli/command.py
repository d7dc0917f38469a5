"""The parser and ``main`` of the ``jaxtune`` command (usage: :mod:`jaxtune.cli`)."""

from __future__ import annotations

import argparse
import os
import signal
import sqlite3
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from jaxtune.cli import lr_find, stores
from jaxtune.cli.cache import enable_cache
from jaxtune.cli.config import (
    UsageError,
    count,
    nonempty,
    package_name,
    positive,
    read_config,
    typed,
)
from jaxtune.cli.failures import missing_extra, one_line, os_error_line
from jaxtune.cli.sampler import (
    add_sampler_arguments,
    sampler_for_resume,
    sampler_options,
    sampler_times_line,
)
from jaxtune.limits import MAX_TRIALS

__all__ = ["main"]


class _Parser(argparse.ArgumentParser):
    """argparse, but a mistake is one line (no usage block) and exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"jaxtune: error: {message}\n")


def _parser() -> argparse.ArgumentParser:
    from jaxtune import __version__

    p = _Parser(prog="jaxtune", description="Hyperparameter sweeps of JAX/Flax models.")
    p.add_argument("--version", action="version", version=f"jaxtune {__version__}")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    s = sub.add_parser("sweep", help="run a sweep (the default: digits, an MLP, 256 trials)")
    s.add_argument("config", nargs="?", help="a TOML config file (see examples/)")
    s.add_argument(
        "--trials", type=count(1, MAX_TRIALS), help=f"number of trials (default 256, at most "
        f"{MAX_TRIALS})"
    )  # fmt: skip
    s.add_argument(
        "--dataset", type=nonempty, help="digits, synthetic or a path to an .npz with x and y"
    )
    s.add_argument("--out", type=nonempty, help="the sweep's folder (default runs/<dataset>)")
    s.add_argument("--seed", type=count(0), help="seed of sampling and training (default 0)")
    add_sampler_arguments(s)
    s.add_argument(
        "--overwrite",
        action="store_true",
        help="empty the --out store first (its sweep.db, saved states and study), e.g. when "
        "it holds another sweep",
    )
    s.add_argument(
        "--data-order", choices=("shared", "per_trial"), help="mini-batch order (default shared)"
    )
    s.add_argument(
        "--scheduler",
        choices=("successive_halving", "sh", "hyperband", "asha", "pbt"),
        help="stop bad trials early (asha: after any epoch, in lanes), or population-based "
        "training (pbt); defaults, a [scheduler] table sets the rest",
    )
    for name, text in (
        ("show", "print the best trials of a sweep"),
        ("resume", "finish a sweep that was interrupted"),
        ("zoom", "run a coarse-to-fine round around the best trials"),
        ("plot", "write PNG pictures of a sweep"),
    ):
        c = sub.add_parser(name, help=text)
        c.add_argument("store", help="the sweep's folder, e.g. runs/digits")
        if name == "show":
            c.add_argument("--top", type=count(1), default=10, help="rows of the table")
        if name == "zoom":
            c.add_argument("--top-k", type=count(1), default=10, help="best trials to zoom around")
            c.add_argument(
                "--trials", type=count(1, MAX_TRIALS), help=f"trials of the new round (at most "
                f"{MAX_TRIALS})"
            )  # fmt: skip
        if name == "plot":
            c.add_argument(
                "--out", type=nonempty, help="folder for the PNGs (default <store>/plots)"
            )
    lr_find.add_parser(sub)
    stores.add_parsers(sub)
    for c in (s, *[sub.choices[n] for n in ("resume", "zoom", "lr-find")]):
        c.add_argument(
            "--allow-import",
            action="append",
            default=[],
            type=package_name,
            metavar="PACKAGE",
            help="load import paths (model, dataset, optimizer, explore) of the config or "
            "store from this package; they run its code (repeatable; default: none)",
        )
    for c in (s, sub.choices["resume"]):
        c.add_argument(
            "--timeout",
            type=positive,
            metavar="SECONDS",
            help="start no new work after SECONDS (what ran is kept); resume goes on",
        )
    for c in (s, *[sub.choices[n] for n in ("resume", "zoom")]):
        c.add_argument("--quiet", action="store_true", help="no progress bar")
        c.add_argument("--no-cache", action="store_true", help="no compilation cache on disk")
        c.add_argument("--backend", choices=("local", "ray"), help="where chunks run")
        c.add_argument(
            "--tensorboard", type=nonempty, metavar="LOGDIR",
            help="write each trial as a TensorBoard run under LOGDIR (jaxtune[tensorboard])",
        )  # fmt: skip
        c.add_argument(
            "--mlflow", type=nonempty, metavar="URI",
            help="log each trial as an MLflow run at tracking URI (jaxtune[mlflow])",
        )  # fmt: skip
    return p


def _loggers(args: argparse.Namespace) -> list[Any]:
    """The callbacks ``--tensorboard`` and ``--mlflow`` turn on."""
    from jaxtune import loggers

    out: list[Any] = []
    if getattr(args, "tensorboard", None):
        out.append(loggers.TensorBoardLogger(args.tensorboard))
    if getattr(args, "mlflow", None):
        out.append(loggers.MLflowLogger(args.mlflow))
    return out


def _sweep_from_args(args: argparse.Namespace) -> Any:
    from jaxtune.space import Space
    from jaxtune.sweep import Sweep, Task, default_space

    config = read_config(args.config) if args.config else {}
    where = args.config or "arguments"
    task_dict = config.get("task", {})
    if not isinstance(task_dict, dict):
        raise UsageError(f"{where}: 'task' must be a table")
    task_dict = dict(task_dict)
    if "model" in config:  # keyword arguments of an import-path [task] model
        if not isinstance(config["model"], dict):
            raise UsageError(f"{where}: 'model' must be a table of keyword arguments")
        task_dict["model_kwargs"] = config["model"]
    if args.dataset:
        task_dict["dataset"] = args.dataset
    if args.data_order:
        task_dict["data_order"] = args.data_order
    task = Task.from_dict(task_dict)
    space_spec = config.get("space")
    if space_spec is not None and not isinstance(space_spec, dict):
        raise UsageError(f"{where}: 'space' must be a table")
    if space_spec is not None and not space_spec:
        raise UsageError(
            f"{where}: the [space] table is empty; name at least one hyperparameter, or "
            "leave [space] out for the default space"
        )
    space = Space.from_dict(space_spec) if space_spec else default_space()
    trials = args.trials if args.trials is not None else typed(config, "trials", int, where)
    seed = args.seed if args.seed is not None else typed(config, "seed", int, where)
    batch_flag = getattr(args, "batch", None)
    sampler, batch = sampler_options(config.get("sampler"), args.sampler, batch_flag, where)
    dataset_name = Path(task.dataset.split(":")[-1]).stem  # a file, or module:function
    out = args.out or typed(config, "out", str, where)
    if out is not None and not out.strip():
        raise UsageError(f"{where}: 'out' must name a folder, got {out!r}")
    out = out or os.path.join("runs", dataset_name)
    chunk = config.get("chunk_size", "auto")
    scheduler = config.get("scheduler")
    if args.scheduler:
        scheduler = {**(scheduler if isinstance(scheduler, dict) else {}), "kind": args.scheduler}
    dropped = scheduler is not None and not space_spec and "epochs" in space
    if dropped:
        space = space.without("epochs")
    requested = 256 if trials is None else trials
    sweep = Sweep(
        space,
        task,
        requested,
        sampler=sampler,
        batch=batch,
        seed=0 if seed is None else seed,
        store=out,
        chunk_size=chunk,
        quiet=args.quiet,
        scheduler=scheduler,
        backend=_backend(args, config.get("backend")),
        callbacks=_loggers(args),
        overwrite=getattr(args, "overwrite", False),
        timeout=getattr(args, "timeout", None),
    )
    if dropped:  # said once the sweep is accepted: a mistake stays one line
        print(
            "jaxtune: the scheduler decides how long each trial trains: 'epochs' left out "
            "of the default space",
            file=sys.stderr,
        )
    if sweep.n_trials != requested and sweep.scheduler is not None:
        print(
            f"jaxtune: {sweep.scheduler.kind} sets the number of trials itself: "
            f"{sweep.n_trials}, not the {requested} asked for",
            file=sys.stderr,
        )
    return sweep


def _backend(args: argparse.Namespace, configured: Any) -> Any:
    """``--backend`` wins over the config's (or the store's) ``backend``."""
    chosen = getattr(args, "backend", None)
    if chosen is None or (isinstance(configured, dict) and configured.get("kind") == chosen):
        return configured  # a [backend] table of the same kind keeps its options
    return chosen


def _sweep_from_store(path: str, quiet: bool, args: argparse.Namespace | None = None) -> Any:
    from jaxtune.store import Store
    from jaxtune.sweep import Sweep, Task

    store = Store.read(path)
    try:
        meta = store.meta()
    finally:
        store.close()
    if "function" in meta.get("task", {}):
        raise UsageError(
            f"{path}: this sweep trains a Python function ({meta['task']['function']}); "
            "resume it from Python with the same Sweep(...)"
        )
    sampler, batch = sampler_for_resume(meta, path)
    return Sweep(
        meta["space"],
        Task.from_dict(meta["task"]),
        meta["n_trials"],
        sampler=sampler,
        batch=batch,
        seed=meta["seed"],
        store=path,
        chunk_size=meta.get("chunk_size", "auto"),
        objective=meta.get("objective"),
        maximize=meta.get("maximize"),
        scheduler=meta.get("scheduler"),
        quiet=quiet,
        backend=_backend(args, meta.get("backend")),  # the sweep's own, unless --backend
        callbacks=_loggers(args) if args is not None else None,
        timeout=getattr(args, "timeout", None),
    )


def _setup(args: argparse.Namespace) -> Any:
    """Everything that reads user input: a mistake here is a usage error (status 2)."""
    from jaxtune import results as results_mod

    if args.command in ("show", "plot"):
        return results_mod.load(args.store)
    if args.command in ("lr-find", "ls", "rm"):
        return None  # their run reads its input
    if args.command == "sweep":
        return _sweep_from_args(args)
    return _sweep_from_store(args.store, args.quiet, args)


def _run(args: argparse.Namespace, target: Any) -> int:
    if args.command == "lr-find":
        return lr_find.run(args)
    if args.command in ("ls", "rm"):
        return stores.run(args)
    if args.command == "show":
        print(target.summary(args.top))
        return 0
    if args.command == "plot":
        from jaxtune.results import plots

        out = args.out or os.path.join(args.store, "plots")
        if args.out is None and os.path.islink(out):  # a store's own folder is its own
            raise UsageError(f"{out}: is a symbolic link; remove it or pass --out")
        if os.path.exists(out) and not os.path.isdir(out):
            raise UsageError(f"--out {out}: exists and is not a folder")
        if not target.ok():
            print("jaxtune: no finished, non-diverged trial: curves left empty", file=sys.stderr)
        for path in plots.sweep_report(target, out):
            print(path)
        return 0
    enable_cache(args)
    started = time.perf_counter()
    res = target.zoom(args.top_k, args.trials) if args.command == "zoom" else target.run()
    if args.command == "zoom":
        print(_zoomed(res.rounds))
    print(res.summary(10))
    line = sampler_times_line(res.meta)
    if line:
        print(line)
    print(f"stored in {res.path}; {time.perf_counter() - started:.1f} s")
    return 0


def _zoomed(rounds: Sequence[dict[str, Any]]) -> str:
    """What a zoom round narrowed: one line per dimension, old range -> new range.

    Examples:
        >>> old = {"lr": {"type": "log_uniform", "low": 1e-4, "high": 1.0}, "bs": 64}
        >>> new = {"lr": {"type": "log_uniform", "low": 1e-3, "high": 0.1}, "bs": 64}
        >>> print(_zoomed([{"round": 0, "space": old}, {"round": 1, "space": new}]))
        zoom round 1 narrowed the space:
          lr: LogUniform(0.0001, 1.0) -> LogUniform(0.001, 0.1)
          bs: Fixed(64) (unchanged)
    """
    from jaxtune.space import Space

    before, after = (Space.from_dict(r["space"]) for r in rounds[-2:])
    lines = [f"zoom round {rounds[-1]['round']} narrowed the space:"]
    for name, dim in after.items():
        old = before.get(name)
        lines.append(
            f"  {name}: {old!r} (unchanged)" if old == dim else f"  {name}: {old!r} -> {dim!r}"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``jaxtune`` command; returns the exit status.

    Import paths in a config or a store are loaded only from the packages named by
    ``--allow-import`` (none by default; ``show`` and ``plot`` load none): see
    :func:`jaxtune.train.importpath.allowed_imports`.
    """
    from jaxtune.train.importpath import allowed_imports

    args = _parser().parse_args(argv)
    with allowed_imports(getattr(args, "allow_import", None) or ()):
        return _main(args)


def _main(args: argparse.Namespace) -> int:
    from jaxtune.store import StoreError
    from jaxtune.sweep import SweepMismatchError

    # A polite kill (SIGTERM) stops like Ctrl-C: finished chunks are committed already.
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _terminate) if main_thread else None
    try:
        target = _setup(args)
    except (UsageError, ValueError, TypeError, FileNotFoundError, sqlite3.DatabaseError) as e:
        print(f"jaxtune: error: {one_line(e)}", file=sys.stderr)
        return 2
    except ImportError as e:
        return missing_extra(e)
    try:
        return _run(args, target)
    except (StoreError, SweepMismatchError, UsageError, ValueError) as e:
        print(f"jaxtune: error: {one_line(e)}", file=sys.stderr)
        return 2
    except ImportError as e:
        return missing_extra(e)
    except OSError as e:  # a state file, the study journal or a plot could not be written
        print(f"jaxtune: error: {os_error_line(e, args, target)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as e:
        store = getattr(args, "store", None) or getattr(target, "path", "")
        print(
            f"jaxtune: {'terminated' if isinstance(e, _Terminated) else 'interrupted'}; "
            f"finished chunks are stored: run 'jaxtune resume {store}' to finish",
            file=sys.stderr,
        )
        return 143 if isinstance(e, _Terminated) else 130
    finally:
        if main_thread:
            signal.signal(signal.SIGTERM, previous)


class _Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the sweep is, so it unwinds as Ctrl-C does."""


def _terminate(signum: int, frame: Any) -> None:
    raise _Terminated()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
