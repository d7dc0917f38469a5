"""Search strategies (layer 5): per lane, after each boundary, continue, stop, pause, copy.

A strategy is one file on one small interface (:mod:`jaxtune.strategies.base`):
``init(maximize) -> state`` and ``decide(state, reports) -> (state, decisions)``. The lane
runtime (:mod:`jaxtune.lanes`) trains the lanes, the proposers
(:mod:`jaxtune.proposers`) fill them; ``STRATEGIES`` names the built-in ones for config
files and the command line.
"""

from jaxtune.strategies.asha import ASHA
from jaxtune.strategies.base import (
    CONTINUE,
    PAUSE,
    STOP,
    Copy,
    Report,
    Strategy,
    better,
    check_int,
)
from jaxtune.strategies.halving import Hyperband, Rung, SuccessiveHalving, lane_epochs
from jaxtune.strategies.pbt import PBT

#: Strategies by the name a config's ``[scheduler] kind`` or ``--scheduler`` uses.
STRATEGIES = {
    "successive_halving": SuccessiveHalving,
    "hyperband": Hyperband,
    "asha": ASHA,
    "pbt": PBT,
}


def is_lane_strategy(obj: object) -> bool:
    """Whether ``obj`` decides per lane (``init`` and ``decide``), e.g. :class:`ASHA`.

    Examples:
        >>> is_lane_strategy(ASHA()), is_lane_strategy("asha")
        (True, False)
    """
    return callable(getattr(obj, "init", None)) and callable(getattr(obj, "decide", None))


__all__ = [
    "ASHA",
    "CONTINUE",
    "PAUSE",
    "PBT",
    "STOP",
    "STRATEGIES",
    "Copy",
    "Hyperband",
    "Report",
    "Rung",
    "Strategy",
    "SuccessiveHalving",
    "better",
    "check_int",
    "is_lane_strategy",
    "lane_epochs",
]
