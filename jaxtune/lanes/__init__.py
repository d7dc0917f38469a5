"""The lane runtime (layer 5): trials trained in lanes of one batched program.

``loop`` says what a lane trains (``init`` and ``epoch``, the built-in trainer through
:class:`TrainerLoop`); ``programs`` compiles the two programs of a batch of lanes once per
loop and size; ``runtime`` trains, asks the strategy (:mod:`jaxtune.strategies`) per lane
after every epoch, refills lanes from a proposer (:mod:`jaxtune.proposers`) and keeps
snapshots that a resumed sweep continues from exactly.
"""

from jaxtune.lanes.loop import (
    Loop,
    LoopTrain,
    TrainerLoop,
    as_loop,
    hyperparams_setter,
    is_loop,
    metric_name,
)
from jaxtune.lanes.programs import compiles
from jaxtune.lanes.runtime import Finished, LaneRuntime

__all__ = [
    "Finished",
    "LaneRuntime",
    "Loop",
    "LoopTrain",
    "TrainerLoop",
    "as_loop",
    "compiles",
    "hyperparams_setter",
    "is_loop",
    "metric_name",
]
