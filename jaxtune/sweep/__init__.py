"""Sweeps (layer 5): sample a space, group trials by static values, run, persist, resume.

``task`` says what a trial trains (the built-in :class:`Task`); ``function`` wraps a
user's ``train(hparams, key)`` (:class:`FunctionTask`), whose outputs ``outputs`` checks
on one traced trial before anything runs; ``sweep`` holds :class:`Sweep` and its rounds;
``sampling`` draws prefix-stable samples; ``fingerprint`` digests what a sweep trains and
``stored`` keeps the sweep's identity in its store (checked, grown, wiped); ``records``
turns a chunk's outputs into the rows the store keeps; ``progress`` writes them and shows
a progress bar that tells a hang from slow work. ``model_rounds`` runs a model-based
sampler (Optuna's TPE, CMA-ES, GP) in rounds of batched proposals, through
``optuna_rounds`` and the study's file in the sweep's folder (``journal``).
``schedulers`` names the lane strategies (:mod:`jaxtune.strategies`) and ``lane_round``
runs a round of one on the lane runtime (:mod:`jaxtune.lanes`).
"""

from jaxtune.sweep import task
from jaxtune.sweep.function import FunctionTask, as_task
from jaxtune.sweep.schedulers import PBT, Hyperband, SuccessiveHalving
from jaxtune.sweep.sweep import SAMPLERS, Sweep, SweepMismatchError
from jaxtune.sweep.task import MASKED, STATIC, SweepTask, Task, check_space, default_space

__all__ = [
    "MASKED",
    "PBT",
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
