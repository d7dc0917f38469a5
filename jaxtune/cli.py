"""The ``jaxtune`` command: run, resume, zoom, show and plot sweeps.

::

    jaxtune sweep [CONFIG.toml] [--trials N] [--dataset digits|synthetic|PATH.npz]
                  [--out runs/NAME] [--seed S] [--batch B]
                  [--sampler random|grid|quasi_random|tpe|cmaes|gp]
    jaxtune show runs/NAME [--top K]
    jaxtune resume runs/NAME
    jaxtune zoom runs/NAME [--top-k K] [--trials N]
    jaxtune plot runs/NAME [--out DIR]
    jaxtune lr-find [CONFIG.toml] [--out DIR] [--steps N] [--min-lr A] [--max-lr B]

Bad input (an unknown key, a bad range, a wrong type, a missing file, an unknown dataset,
the store of another sweep, a store in use) exits with status 2 and one line naming the
key or file. See ``examples/sweep.toml`` for a config file.
"""

from __future__ import annotations

import argparse
import math
import os
import signal
import sqlite3
import sys
import threading
import time
import tomllib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from jaxtune.cli_sampler import (
    add_sampler_arguments,
    sampler_for_resume,
    sampler_options,
    sampler_times_line,
)

__all__ = ["main"]

_CONFIG_KEYS = (
    "trials",
    "sampler",
    "seed",
    "out",
    "chunk_size",
    "task",
    "model",
    "space",
    "scheduler",
)


class UsageError(Exception):
    """A bad argument or config value: exit status 2 with one line."""


class _Parser(argparse.ArgumentParser):
    """argparse, but a mistake is one line (no usage block) and exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"jaxtune: error: {message}\n")


def _count(minimum: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum}, got {value}")
        return value

    return parse


def _nonempty(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError("must not be empty")
    return text


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="jaxtune", description="Hyperparameter sweeps of JAX/Flax models.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    s = sub.add_parser("sweep", help="run a sweep (the default: digits, an MLP, 256 trials)")
    s.add_argument("config", nargs="?", help="a TOML config file (see examples/)")
    s.add_argument("--trials", type=_count(1), help="number of trials (default 256)")
    s.add_argument(
        "--dataset", type=_nonempty, help="digits, synthetic or a path to an .npz with x and y"
    )
    s.add_argument("--out", type=_nonempty, help="the sweep's folder (default runs/<dataset>)")
    s.add_argument("--seed", type=_count(0), help="seed of sampling and training (default 0)")
    add_sampler_arguments(s)
    s.add_argument(
        "--data-order", choices=("shared", "per_trial"), help="mini-batch order (default shared)"
    )
    s.add_argument(
        "--scheduler",
        choices=("successive_halving", "sh", "hyperband", "pbt"),
        help="stop bad trials early, or population-based training (pbt); defaults, a "
        "[scheduler] table sets the rest",
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
            c.add_argument("--top", type=_count(1), default=10, help="rows of the table")
        if name == "zoom":
            c.add_argument(
                "--top-k", type=_count(1), default=10, help="best trials to zoom around"
            )
            c.add_argument("--trials", type=_count(1), help="trials of the new round")
        if name == "plot":
            c.add_argument(
                "--out", type=_nonempty, help="folder for the PNGs (default <store>/plots)"
            )
    _lr_find_parser(sub)
    for c in (s, *[sub.choices[n] for n in ("resume", "zoom")]):
        c.add_argument("--quiet", action="store_true", help="no progress bar")
        c.add_argument("--no-cache", action="store_true", help="no compilation cache on disk")
    return p


def _read_config(path: str) -> dict[str, Any]:
    if os.path.isdir(path):
        raise UsageError(f"{path}: is a folder; give a TOML config file (see examples/)")
    if not os.path.isfile(path):
        raise UsageError(f"config file not found: {path}")
    try:
        with open(path, "rb") as f:
            config = tomllib.load(f)
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise UsageError(f"{path}: not a valid TOML text file: {e}") from None
    except OSError as e:
        raise UsageError(f"{path}: cannot read it: {e.strerror}") from None
    unknown = sorted(set(config) - set(_CONFIG_KEYS))
    if unknown:
        raise UsageError(f"{path}: unknown key {unknown[0]!r}; known: {list(_CONFIG_KEYS)}")
    return config


def _typed(config: dict[str, Any], key: str, kind: type, where: str) -> Any:
    value = config.get(key)
    if value is not None and (not isinstance(value, kind) or isinstance(value, bool)):
        raise UsageError(f"{where}: {key!r} must be {kind.__name__}, got {value!r}")
    return value


def _sweep_from_args(args: argparse.Namespace) -> Any:
    from jaxtune.space import Space
    from jaxtune.sweep import Sweep, Task, default_space

    config = _read_config(args.config) if args.config else {}
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
    space = Space.from_dict(space_spec) if space_spec else default_space()
    trials = args.trials if args.trials is not None else _typed(config, "trials", int, where)
    seed = args.seed if args.seed is not None else _typed(config, "seed", int, where)
    batch_flag = getattr(args, "batch", None)
    sampler, batch = sampler_options(config.get("sampler"), args.sampler, batch_flag, where)
    dataset_name = Path(task.dataset.split(":")[-1]).stem  # a file, or module:function
    out = args.out or _typed(config, "out", str, where) or os.path.join("runs", dataset_name)
    chunk = config.get("chunk_size", "auto")
    scheduler = config.get("scheduler")
    if args.scheduler:
        scheduler = {**(scheduler if isinstance(scheduler, dict) else {}), "kind": args.scheduler}
    return Sweep(
        space,
        task,
        256 if trials is None else trials,
        sampler=sampler,
        batch=batch,
        seed=0 if seed is None else seed,
        store=out,
        chunk_size=chunk,
        quiet=args.quiet,
        scheduler=scheduler,
    )


def _sweep_from_store(path: str, quiet: bool) -> Any:
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
    )


def _enable_cache(args: argparse.Namespace) -> None:
    if getattr(args, "no_cache", True):
        return
    from jaxtune import parallel

    default = os.path.join(os.path.expanduser("~"), ".cache", "jaxtune", "xla")
    parallel.enable_compilation_cache(os.environ.get("JAXTUNE_CACHE_DIR", default))
    # The auto chunk-size decisions too: a second run reuses them without timing again.
    parallel.enable_calibration_cache()


def _setup(args: argparse.Namespace) -> Any:
    """Everything that reads user input: a mistake here is a usage error (status 2)."""
    from jaxtune import results as results_mod

    if args.command in ("show", "plot"):
        return results_mod.load(args.store)
    if args.command == "lr-find":
        return None  # _lr_find_command reads its input
    if args.command == "sweep":
        return _sweep_from_args(args)
    return _sweep_from_store(args.store, args.quiet)


def _run(args: argparse.Namespace, target: Any) -> int:
    if args.command == "lr-find":
        return _lr_find_command(args)
    if args.command == "show":
        print(target.summary(args.top))
        return 0
    if args.command == "plot":
        from jaxtune.results import plots

        out = args.out or os.path.join(args.store, "plots")
        if os.path.exists(out) and not os.path.isdir(out):
            raise UsageError(f"--out {out}: exists and is not a folder")
        if not target.ok():
            print("jaxtune: no finished, non-diverged trial: curves left empty", file=sys.stderr)
        for path in plots.sweep_report(target, out):
            print(path)
        return 0
    _enable_cache(args)
    started = time.perf_counter()
    res = target.zoom(args.top_k, args.trials) if args.command == "zoom" else target.run()
    print(res.summary(10))
    line = sampler_times_line(res.meta)
    if line:
        print(line)
    print(f"stored in {res.path}; {time.perf_counter() - started:.1f} s")
    return 0


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text}")
    return value


def _lr_find_parser(sub: Any) -> None:
    c = sub.add_parser("lr-find", help="learning-rate range test of a config's task")
    c.add_argument("config", nargs="?", help="a TOML config file; its [task] is used")
    c.add_argument("--out", type=_nonempty, help="folder of the PNG (default runs/lr_find)")
    c.add_argument("--steps", type=_count(2), default=100, help="mini-batches (default 100)")
    c.add_argument("--min-lr", type=_positive, default=1e-7, help="first rate (default 1e-7)")
    c.add_argument("--max-lr", type=_positive, default=10.0, help="last rate (default 10)")
    c.add_argument("--seeds", type=_count(1), default=1, help="lanes, one per init seed")


def _lr_find_command(args: argparse.Namespace) -> int:
    """``jaxtune lr-find``: the range test of the config's task (its default optimizer and
    mini-batch size); prints the suggestions per lane and writes ``<out>/lr_find.png``."""
    import jax

    from jaxtune.sweep import Task
    from jaxtune.train.lr_find import lr_find

    config = _read_config(args.config) if args.config else {}
    where = args.config or "arguments"
    task_dict = config.get("task", {})
    if not isinstance(task_dict, dict):
        raise UsageError(f"{where}: 'task' must be a table")
    seed = _typed(config, "seed", int, where) or 0
    out = args.out or os.path.join("runs", "lr_find")
    if os.path.exists(out) and not os.path.isdir(out):
        raise UsageError(f"--out {out}: exists and is not a folder")
    if args.min_lr >= args.max_lr:
        raise UsageError(f"--min-lr {args.min_lr:g} must be below --max-lr {args.max_lr:g}")
    try:
        task = Task.from_dict(dict(task_dict))
        task.data()  # a bad data file is bad input too
    except (TypeError, FileNotFoundError, OSError) as e:
        raise UsageError(f"{where}: {e}") from None
    lanes = {"seeds": args.seeds} if args.seeds > 1 else None
    key = jax.random.key(seed)
    found = lr_find(task, args.min_lr, args.max_lr, args.steps, lanes=lanes, key=key)
    print(found.summary())
    if math.isfinite(found.suggestion()[0]):
        dim = found.space(0)  # a [space] line to paste into a sweep's config
        bounds = f"low = {dim.low:.3g}, high = {dim.high:.3g}"
        print(f'learning_rate = {{ type = "log_uniform", {bounds} }}')
    os.makedirs(out, exist_ok=True)
    path = os.path.join(out, "lr_find.png")
    found.plot(path)
    print(path)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``jaxtune`` command; returns the exit status."""
    from jaxtune.store import StoreError
    from jaxtune.sweep import SweepMismatchError

    args = _parser().parse_args(argv)
    # A polite kill (SIGTERM) stops like Ctrl-C: finished chunks are committed already.
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _terminate) if main_thread else None
    try:
        target = _setup(args)
    except (UsageError, ValueError, TypeError, FileNotFoundError, sqlite3.DatabaseError) as e:
        print(f"jaxtune: error: {_one_line(e)}", file=sys.stderr)
        return 2
    try:
        return _run(args, target)
    except (StoreError, SweepMismatchError, UsageError, ValueError) as e:
        print(f"jaxtune: error: {_one_line(e)}", file=sys.stderr)
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


def _one_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return text[0] if text else type(e).__name__


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
