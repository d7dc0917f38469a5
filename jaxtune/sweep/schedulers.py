"""The schedulers a sweep names: the lane strategies of :mod:`jaxtune.strategies`.

Successive halving, Hyperband, ASHA and PBT all run on the lane runtime
(:mod:`jaxtune.lanes`). :func:`scheduler_from_dict` reads a config's ``[scheduler]``
table or a store's record.

Examples:
    >>> scheduler_from_dict("hb").brackets()[0][:2]
    [Rung(lanes=27, epochs=1), Rung(lanes=9, epochs=3)]
"""

from __future__ import annotations

import dataclasses
from typing import Any

from jaxtune.strategies import (
    ASHA,
    PBT,
    STRATEGIES,
    Hyperband,
    Rung,
    SuccessiveHalving,
    is_lane_strategy,
)

__all__ = [
    "ASHA",
    "PBT",
    "SCHEDULERS",
    "Hyperband",
    "Rung",
    "SuccessiveHalving",
    "scheduler_from_dict",
    "scheduler_to_dict",
]


SCHEDULERS = STRATEGIES
_ALIASES = {"sh": "successive_halving", "hb": "hyperband"}


def scheduler_from_dict(spec: Any) -> Any:
    """A scheduler from its dict form (``{"kind": "hyperband", ...}``), a name, or None.

    A lane strategy object (:mod:`jaxtune.strategies`, a user's own included) is kept as
    it is.

    Examples:
        >>> scheduler_from_dict({"kind": "sh", "max_epochs": 9})
        SuccessiveHalving(min_epochs=1, reduction_factor=3, max_epochs=9, lanes=None)
    """
    if spec is None or is_lane_strategy(spec):
        return spec
    if isinstance(spec, str):
        spec = {"kind": spec}
    if not isinstance(spec, dict) or "kind" not in spec:
        raise ValueError(f"scheduler must be a table with a 'kind', got {spec!r}")
    fields = dict(spec)
    kind = _ALIASES.get(fields.get("kind"), fields.pop("kind"))
    fields.pop("kind", None)
    if kind not in SCHEDULERS:
        raise ValueError(f"scheduler.kind must be one of {sorted(SCHEDULERS)}, got {kind!r}")
    cls = SCHEDULERS[kind]
    known = {f.name for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(fields) - known)
    if unknown:
        raise ValueError(f"scheduler: unknown key {unknown[0]!r}; known: {sorted(known)}")
    return cls(**fields)


def scheduler_to_dict(scheduler: Any) -> dict[str, Any]:
    """The plain values a store keeps of a scheduler (a user's strategy: its fields).

    Examples:
        >>> scheduler_to_dict(ASHA(max_epochs=9))["kind"]
        'asha'
    """
    own = getattr(scheduler, "to_dict", None)
    if callable(own):
        return own()
    fields = dataclasses.asdict(scheduler) if dataclasses.is_dataclass(scheduler) else {}
    return {"kind": getattr(scheduler, "kind", type(scheduler).__name__), **fields}
