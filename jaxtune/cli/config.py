"""What the ``jaxtune`` command reads: config files, typed values and argument types.

Every mistake raises :class:`UsageError` (or argparse's ``ArgumentTypeError``), which the
command turns into one line and exit status 2.
"""

from __future__ import annotations

import argparse
import os
import tomllib
from collections.abc import Callable
from typing import Any

__all__ = [
    "CONFIG_KEYS",
    "UsageError",
    "count",
    "nonempty",
    "package_name",
    "positive",
    "read_config",
    "typed",
]

CONFIG_KEYS = (
    "trials",
    "sampler",
    "seed",
    "out",
    "chunk_size",
    "task",
    "model",
    "space",
    "scheduler",
    "backend",
)


class UsageError(Exception):
    """A bad argument or config value: exit status 2 with one line."""


def count(minimum: int, maximum: int | None = None) -> Callable[[str], int]:
    """An argparse type: an integer >= ``minimum`` (and <= ``maximum``, if given).

    Args:
        minimum: the smallest value allowed.
        maximum: the largest value allowed (a documented limit,
            :mod:`jaxtune.limits`), or None.

    Returns:
        The parser, for ``add_argument(type=...)``.

    Examples:
        >>> count(1)("3")
        3
        >>> count(1, 10)("11")
        Traceback (most recent call last):
        ...
        argparse.ArgumentTypeError: must be an integer in [1, 10], got 11
    """

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if maximum is not None and not minimum <= value <= maximum:
            raise argparse.ArgumentTypeError(
                f"must be an integer in [{minimum}, {maximum}], got {value}"
            )
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum}, got {value}")
        return value

    return parse


def nonempty(text: str) -> str:
    """An argparse type: a string that is not blank.

    Args:
        text: the argument as given.

    Returns:
        ``text`` itself.

    Raises:
        argparse.ArgumentTypeError: ``text`` is empty or only spaces.
    """
    if not text.strip():
        raise argparse.ArgumentTypeError("must not be empty")
    return text


def package_name(text: str) -> str:
    """An argparse type: a dotted Python package or module name (``--allow-import``).

    Args:
        text: the argument as given.

    Returns:
        The name, without surrounding spaces.

    Raises:
        argparse.ArgumentTypeError: not a dotted name of identifiers.

    Examples:
        >>> package_name("mypkg.nets")
        'mypkg.nets'
    """
    name = text.strip()
    if not name or not all(part.isidentifier() for part in name.split(".")):
        raise argparse.ArgumentTypeError(
            f"expected a package or module name such as mypkg or mypkg.nets, got {text!r}"
        )
    return name


def positive(text: str) -> float:
    """An argparse type: a finite number > 0.

    Args:
        text: the argument as given.

    Returns:
        The number.

    Raises:
        argparse.ArgumentTypeError: not a number, or not finite and positive.

    Examples:
        >>> positive("1e-3")
        0.001
    """
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text}")
    return value


def read_config(path: str) -> dict[str, Any]:
    """The TOML file at ``path``, its top-level keys checked against :data:`CONFIG_KEYS`.

    Args:
        path: the config file.

    Returns:
        The parsed table.

    Raises:
        UsageError: no such file, a folder, not TOML, unreadable, or an unknown key.
    """
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
    unknown = sorted(set(config) - set(CONFIG_KEYS))
    if unknown:
        raise UsageError(f"{path}: unknown key {unknown[0]!r}; known: {list(CONFIG_KEYS)}")
    return config


def typed(config: dict[str, Any], key: str, kind: type, where: str) -> Any:
    """``config[key]`` (None when absent), checked to be a ``kind`` (never a bool).

    Args:
        config: the parsed config.
        key: the top-level key.
        kind: the type its value must have.
        where: the file, for the message.

    Returns:
        The value, or None.

    Raises:
        UsageError: the value has another type.

    Examples:
        >>> typed({"trials": 5}, "trials", int, "sweep.toml")
        5
    """
    value = config.get(key)
    if value is not None and (not isinstance(value, kind) or isinstance(value, bool)):
        raise UsageError(f"{where}: {key!r} must be {kind.__name__}, got {value!r}")
    return value
