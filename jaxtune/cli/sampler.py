"""The sampler options of ``jaxtune sweep``: ``--sampler``, ``--batch`` and TOML's ``sampler``.

A config file names its sampler as ``sampler = "tpe"``, or as a table::

    [sampler]
    kind = "tpe"  # random, grid, quasi_random, tpe, cmaes or gp
    batch = 32  # proposals per round of a model-based sampler (default 64)

``--sampler`` and ``--batch`` on the command line win over the file. A bad value exits
with status 2 and one line naming the flag or key and the allowed values, before anything
is written. This module imports nothing heavy: the command's ``--help`` stays fast.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import Any

__all__ = [
    "SAMPLER_NAMES",
    "add_sampler_arguments",
    "sampler_for_resume",
    "sampler_options",
    "sampler_times_line",
]

#: Every sampler a config or the command line may name (``jaxtune.sweep``'s ``SAMPLERS``
#: and ``model_rounds.MODEL_SAMPLERS``; a test keeps them equal).
SAMPLER_NAMES = ("random", "grid", "quasi_random", "tpe", "cmaes", "gp")
DEFAULT_BATCH = 64


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def add_sampler_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--sampler`` (one of :data:`SAMPLER_NAMES`) and ``--batch`` to a parser.

    Args:
        parser: the ``sweep`` subcommand's parser.

    Examples:
        >>> p = argparse.ArgumentParser()
        >>> add_sampler_arguments(p)
        >>> p.parse_args(["--sampler", "tpe", "--batch", "32"])
        Namespace(sampler='tpe', batch=32)
    """
    parser.add_argument(
        "--sampler",
        choices=SAMPLER_NAMES,
        help="random (default), grid, quasi_random, or model-based (Optuna's): tpe, cmaes, gp",
    )
    parser.add_argument(
        "--batch",
        type=_positive_int,
        help=f"proposals per round of tpe, cmaes or gp (default {DEFAULT_BATCH})",
    )


def sampler_options(
    value: Any, flag: str | None, batch_flag: int | None, where: str
) -> tuple[str, int]:
    """The sampler and batch of a sweep from its config value and the flags.

    Args:
        value: the config's ``sampler``: None, a name, or a table ``{kind, batch}``.
        flag: ``--sampler`` (None when not given).
        batch_flag: ``--batch`` (None when not given).
        where: the config file's name, for messages.

    Returns:
        ``(sampler, batch)``.

    Raises:
        ValueError: one line naming ``sampler`` (or a key of its table) and what it allows.

    Examples:
        >>> sampler_options({"kind": "tpe", "batch": 16}, None, None, "a.toml")
        ('tpe', 16)
        >>> sampler_options("tpe", "cmaes", 8, "a.toml")
        ('cmaes', 8)
    """
    table: Mapping[str, Any] = {}
    if isinstance(value, Mapping):
        table = value
        unknown = sorted(set(table) - {"kind", "batch"})
        if unknown:
            raise ValueError(f"{where}: unknown key 'sampler.{unknown[0]}'; known: kind, batch")
        value = table.get("kind")
    name = flag or value or "random"
    if not isinstance(name, str) or name not in SAMPLER_NAMES:
        key = "sampler.kind" if table else "sampler"
        raise ValueError(f"{where}: {key!r} must be one of {list(SAMPLER_NAMES)}, got {name!r}")
    batch = batch_flag if batch_flag is not None else table.get("batch", DEFAULT_BATCH)
    if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
        raise ValueError(f"{where}: 'sampler.batch' must be an integer >= 1, got {batch!r}")
    return name, batch


def sampler_for_resume(meta: Mapping[str, Any], path: str) -> tuple[str, int]:
    """The sampler and batch a stored sweep was made with, to resume it.

    Args:
        meta: the store's metadata.
        path: the store's folder, for messages.

    Returns:
        ``(sampler, batch)``.

    Raises:
        ValueError: the sweep used an Optuna sampler object, which a command cannot
            rebuild.

    Examples:
        >>> sampler_for_resume({"sampler": "tpe", "batch": 16}, "runs/x")
        ('tpe', 16)
    """
    name = meta["sampler"]
    if name not in SAMPLER_NAMES:
        raise ValueError(
            f"{path}: this sweep's sampler is an object ({name}); resume it from Python "
            "with the same Sweep(..., sampler=...)"
        )
    return name, int(meta.get("batch", DEFAULT_BATCH))


def sampler_times_line(meta: Mapping[str, Any]) -> str | None:
    """One line on a model-based sweep's rounds: the sampler's time next to evaluation's.

    Args:
        meta: the store's metadata (``meta["sampler_times"]``, one entry per round).

    Returns:
        The line, or None for a sweep without a model-based sampler.

    Examples:
        >>> times = [{"ask_s": 0.2, "tell_s": 0.01, "eval_s": 1.5, "trials": 64}] * 2
        >>> sampler_times_line({"sampler": "tpe", "sampler_times": times})
        'tpe: 2 rounds (128 trials); per round the sampler took 0.21-0.21 s, evaluation 1.5-1.5 s'
    """
    times = meta.get("sampler_times")
    if not times:
        return None
    own = [t["ask_s"] + t["tell_s"] for t in times]
    ev = [t["eval_s"] for t in times]
    return (
        f"{meta.get('sampler')}: {len(times)} rounds ({sum(t['trials'] for t in times)} "
        f"trials); per round the sampler took {min(own):.2f}-{max(own):.2f} s, evaluation "
        f"{min(ev):.2g}-{max(ev):.2g} s"
    )
