"""The one table of jaxtune's built-in hyperparameters: name, kind, range, default, meaning.

The trainer, the task's checks of a search space, the command line and the docs all read
:data:`TABLE`; adding a hyperparameter means adding one row here (and teaching the trainer
what it does). Three kinds (see the design note):

- ``traced``: only changes values; one compiled program serves every value (vmapped);
- ``masked``: changes sizes, padded to the largest value in the space and masked, so still
  one program;
- ``static``: changes the program itself; the sweep groups trials by it.

Examples:
    >>> TABLE["momentum"].kind, TABLE["momentum"].range_text()
    ('traced', '[0, 1)')
    >>> check_value("learning_rate", -1.0)
    Traceback (most recent call last):
    ...
    ValueError: learning_rate must lie in (0, inf), got -1
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Literal

__all__ = [
    "DECAY_SYSTEMS",
    "KINDS",
    "MASKED",
    "OPTIMIZERS",
    "STATIC",
    "TABLE",
    "TRACED",
    "Hyperparameter",
    "check_bounds",
    "check_value",
    "defaults",
    "markdown_table",
]

Kind = Literal["traced", "masked", "static"]
KINDS: tuple[str, ...] = ("traced", "masked", "static")

#: The built-in optimizer families (values of the static ``optimizer``).
OPTIMIZERS: tuple[str, ...] = ("sgd", "momentum", "nesterov", "rmsprop", "adam", "adamw")

#: Decay systems, in the order a traced ``decay_system`` index refers to by default.
DECAY_SYSTEMS: tuple[str, ...] = (
    "none",
    "inverse_time",
    "exponential",
    "sqrt_epoch",
    "sqrt_step",
    "piecewise",
)

_INF = math.inf


@dataclasses.dataclass(frozen=True)
class Hyperparameter:
    """One row of the table.

    Attributes:
        name: the key in a search space and in a trial's hyperparameters.
        kind: ``"traced"``, ``"masked"`` or ``"static"``.
        low: smallest allowed value (numeric ones).
        high: largest allowed value.
        low_closed: whether ``low`` itself is allowed.
        high_closed: whether ``high`` itself is allowed.
        default: the value a trial takes when the space leaves it out.
        meaning: one line for tables and docs.
        integer: whether values must be integers.
        values: the allowed labels of a categorical hyperparameter (else None).
    """

    name: str
    kind: Kind
    low: float
    high: float
    low_closed: bool
    high_closed: bool
    default: Any
    meaning: str
    integer: bool = False
    values: tuple[str, ...] | None = None

    def allows(self, value: float) -> bool:
        """Whether a number lies in the allowed range (and is whole, for integers)."""
        if self.integer and float(value) != int(value):
            return False
        above = value >= self.low if self.low_closed else value > self.low
        below = value <= self.high if self.high_closed else value < self.high
        return bool(above and below)

    def range_text(self, *, labels: bool = True) -> str:
        """The range in interval notation, e.g. ``(0, inf)`` or ``[1, 4096]``.

        A categorical hyperparameter lists its labels unless ``labels=False`` (then the
        interval of its indices).
        """
        if self.values is not None and (labels or self.kind == "static"):
            return "one of " + ", ".join(self.values)
        lo, hi = "[" if self.low_closed else "(", "]" if self.high_closed else ")"
        return f"{lo}{self.low:g}, {self.high:g}{hi}"


def _row(name, kind, low, high, closed, default, meaning, **kw) -> Hyperparameter:
    return Hyperparameter(
        name, kind, low, high, closed[0] == "[", closed[1] == "]", default, meaning, **kw
    )


_ROWS = (
    _row("learning_rate", "traced", 0, _INF, "()", 0.01, "initial learning rate alpha0"),
    _row("momentum", "traced", 0, 1, "[)", 0.9, "momentum beta (momentum, nesterov)"),
    _row("rms_decay", "traced", 0, 1, "[)", 0.9, "RMSProp's decay of squared gradients"),
    _row("b1", "traced", 0, 1, "[)", 0.9, "Adam's beta1"),
    _row("b2", "traced", 0, 1, "[)", 0.999, "Adam's beta2"),
    _row("eps", "traced", 0, _INF, "()", 1e-8, "epsilon of Adam and RMSProp"),
    _row("weight_decay", "traced", 0, _INF, "[)", 1e-4, "decoupled weight decay (adamw)"),
    _row(
        "decay_system",
        "traced",
        0,
        len(DECAY_SYSTEMS) - 1,
        "[]",
        0,
        "learning-rate decay system",
        integer=True,
        values=DECAY_SYSTEMS,
    ),
    _row("decay_rate", "traced", 0, _INF, "[)", 1.0, "d of inverse-time decay"),
    _row("decay_base", "traced", 0, 1, "(]", 0.95, "base of exponential decay"),
    _row("decay_k", "traced", 0, _INF, "()", 1.0, "k of the square-root decays"),
    _row("hidden", "masked", 1, 4096, "[]", 64, "hidden units per layer (MLP)", integer=True),
    _row("layers", "masked", 1, 16, "[]", 2, "hidden layers (MLP)", integer=True),
    _row("epochs", "masked", 1, 10_000, "[]", 10, "epochs of training", integer=True),
    _row("optimizer", "static", 0, 0, "[]", "momentum", "optimizer family", values=OPTIMIZERS),
    _row("batch_size", "static", 1, _INF, "[)", 64, "mini-batch size", integer=True),
)

#: Every built-in hyperparameter by name.
TABLE: dict[str, Hyperparameter] = {h.name: h for h in _ROWS}
TRACED: tuple[str, ...] = tuple(h.name for h in _ROWS if h.kind == "traced")
MASKED: tuple[str, ...] = tuple(h.name for h in _ROWS if h.kind == "masked")
STATIC: tuple[str, ...] = tuple(h.name for h in _ROWS if h.kind == "static")


def defaults(kind: str) -> dict[str, Any]:
    """The default value of every hyperparameter of one kind, in table order.

    Examples:
        >>> defaults("masked")
        {'hidden': 64, 'layers': 2, 'epochs': 10}
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {list(KINDS)}, got {kind!r}")
    return {h.name: h.default for h in _ROWS if h.kind == kind}


def _known(name: str) -> Hyperparameter:
    if name not in TABLE:
        raise ValueError(f"unknown hyperparameter {name!r}; known: {sorted(TABLE)}")
    return TABLE[name]


def check_value(name: str, value: Any, *, where: str = "") -> Any:
    """``value`` if it is allowed for ``name``, else a ``ValueError`` naming both.

    Args:
        name: a name of :data:`TABLE`.
        value: a number (or a label of a categorical hyperparameter).
        where: a prefix for the message, e.g. ``"task."``.
    """
    h = _known(name)
    if h.values is not None and isinstance(value, str):
        if value not in h.values:
            raise ValueError(f"{where}{name} must be {h.range_text()}, got {value!r}")
        return value
    is_number = isinstance(value, int | float) and not isinstance(value, bool)
    if not is_number or (h.integer and not isinstance(value, int)):
        kind = "an integer" if h.integer else "a number"
        raise ValueError(f"{where}{name} must be {kind} in {h.range_text()}, got {value!r}")
    if not h.allows(value):
        raise ValueError(f"{where}{name} must lie in {h.range_text(labels=False)}, got {value:g}")
    return value


def check_bounds(name: str, low: float, high: float, *, where: str = "space.") -> None:
    """Raise ``ValueError`` unless every value in ``[low, high]`` is allowed for ``name``.

    Examples:
        >>> check_bounds("momentum", 0.5, 0.99)
        >>> check_bounds("momentum", 0.5, 1.0)
        Traceback (most recent call last):
        ...
        ValueError: space.momentum: values must lie in [0, 1), got [0.5, 1]
    """
    h = _known(name)
    ok_low = low >= h.low if h.low_closed else low > h.low
    ok_high = high <= h.high if h.high_closed else high < h.high
    if not (ok_low and ok_high):
        raise ValueError(
            f"{where}{name}: values must lie in {h.range_text(labels=False)}, "
            f"got [{low:g}, {high:g}]"
        )


def markdown_table() -> str:
    """The table as Markdown, for docs/getting-started.md (a test keeps the two equal).

    Examples:
        >>> markdown_table().splitlines()[2]
        '| `learning_rate` | traced | (0, inf) | 0.01 | initial learning rate alpha0 |'
    """
    lines = ["| name | kind | range | default | meaning |", "| --- | --- | --- | --- | --- |"]
    for h in _ROWS:
        lines.append(f"| `{h.name}` | {h.kind} | {h.range_text()} | {h.default} | {h.meaning} |")
    return "\n".join(lines)
