"""Sweeps (layer 5): sample a space, group trials by static values, run, persist, resume.

``task`` says what a trial trains (the built-in :class:`Task`, or a user's function);
``sweep`` holds :class:`Sweep` and its rounds; ``records`` turns a chunk's outputs into
the rows the store keeps.
"""

from jaxtune.sweep import task
from jaxtune.sweep.function import FunctionTask, as_task
from jaxtune.sweep.schedulers import Hyperband, SuccessiveHalving
from jaxtune.sweep.sweep import SAMPLERS, Sweep, SweepMismatchError
from jaxtune.sweep.task import MASKED, STATIC, SweepTask, Task, check_space, default_space

__all__ = [
    "MASKED",
    "SAMPLERS",
    "STATIC",
    "FunctionTask",
    "Hyperband",
    "SuccessiveHalving",
    "Sweep",
    "SweepMismatchError",
    "SweepTask",
    "Task",
    "as_task",
    "check_space",
    "default_space",
    "task",
]
