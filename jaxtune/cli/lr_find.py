"""``jaxtune lr-find``: the learning-rate range test of a config's task."""

from __future__ import annotations

import argparse
import math
import os
from typing import Any

from jaxtune.cli.config import UsageError, count, nonempty, positive, read_config, typed
from jaxtune.limits import MAX_LR_FIND_STEPS, MAX_SEEDS_PER_TRIAL

__all__ = ["add_parser", "run"]


def add_parser(sub: Any) -> None:
    """Adds the ``lr-find`` subcommand and its options.

    Args:
        sub: the command's argparse subparsers.
    """
    c = sub.add_parser("lr-find", help="learning-rate range test of a config's task")
    c.add_argument("config", nargs="?", help="a TOML config file; its [task] is used")
    c.add_argument("--out", type=nonempty, help="folder of the PNG (default runs/lr_find)")
    c.add_argument(
        "--steps", type=count(2, MAX_LR_FIND_STEPS), default=100,
        help=f"mini-batches (default 100, at most {MAX_LR_FIND_STEPS})",
    )  # fmt: skip
    c.add_argument("--min-lr", type=positive, default=1e-7, help="first rate (default 1e-7)")
    c.add_argument("--max-lr", type=positive, default=10.0, help="last rate (default 10)")
    c.add_argument(
        "--seeds", type=count(1, MAX_SEEDS_PER_TRIAL), default=1,
        help=f"lanes, one per init seed (at most {MAX_SEEDS_PER_TRIAL})",
    )  # fmt: skip


def run(args: argparse.Namespace) -> int:
    """``jaxtune lr-find``: the range test of the config's task (its default optimizer and
    mini-batch size); prints the suggestions per lane and writes ``<out>/lr_find.png``.

    Args:
        args: the parsed command line (``config``, ``out``, ``steps``, ``min_lr``,
            ``max_lr``, ``seeds``).

    Returns:
        The exit status, 0.

    Raises:
        UsageError: a bad config, data file, folder or range (exit status 2).
    """
    import jax

    from jaxtune.sweep import Task
    from jaxtune.train.lr_find import lr_find

    config = read_config(args.config) if args.config else {}
    where = args.config or "arguments"
    task_dict = config.get("task", {})
    if not isinstance(task_dict, dict):
        raise UsageError(f"{where}: 'task' must be a table")
    seed = typed(config, "seed", int, where) or 0
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
