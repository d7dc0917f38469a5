"""jaxtune: hyperparameter tuning for JAX, Flax and optax.

Many hyperparameter samples of one model train in a single compiled program, batched
over a leading "trial" axis. One package per layer, each usable alone:

1. :mod:`jaxtune.schedules`: learning-rate decay schedules whose every argument may be
   traced, and manual decay (:func:`set_hyperparams`).
2. :mod:`jaxtune.space`: dimensions on the right scale; random, grid, quasi-random
   sampling and coarse-to-fine zoom.
3. :mod:`jaxtune.parallel`: run any pure ``fn(hparams, key)`` over many trials at once.
4. :mod:`jaxtune.train`: the built-in trainer (datasets, models, optimizers).
5. :mod:`jaxtune.sweep`: tasks and sweeps that persist every finished chunk in
   :mod:`jaxtune.store` and resume after a crash.
6. :mod:`jaxtune.results`: tables, importance, Optuna export and plots, from a store.

:mod:`jaxtune.lanes` trains trials in lanes and asks a strategy (:mod:`jaxtune.strategies`,
e.g. :class:`ASHA`) after every epoch which to stop, refilling lanes from a proposer
(:mod:`jaxtune.proposers`: samples or Optuna's samplers).

:mod:`jaxtune.hyperparams` is the one table of built-in hyperparameters; :mod:`jaxtune.cli`
the ``jaxtune`` command; :mod:`jaxtune.backends` runs chunks elsewhere (Ray).
"""

import sys

from jaxtune import (
    backends,
    lanes,
    parallel,
    proposers,
    results,
    schedules,
    space,
    store,
    strategies,
    sweep,
    train,
)
from jaxtune.backends import RayBackend
from jaxtune.parallel import enable_compilation_cache
from jaxtune.results import Results, analysis, load, plots
from jaxtune.schedules import (
    constant_schedule,
    exponential_decay,
    inverse_time_decay,
    piecewise_decay,
    set_hyperparams,
    sqrt_epoch_decay,
    sqrt_step_decay,
    switch_schedule,
)
from jaxtune.space import (
    MAX_GRID_SIZE,
    Choice,
    Dimension,
    Fixed,
    IntUniform,
    LogUniform,
    OneMinusLogUniform,
    Space,
    Uniform,
)
from jaxtune.strategies import ASHA
from jaxtune.sweep import PBT, Hyperband, SuccessiveHalving, Sweep, Task, task
from jaxtune.sweep.optuna_rounds import OptunaRounds
from jaxtune.train import History, datasets, make_train, models, optimizers
from jaxtune.train.lr_find import LRFind, lr_find

# The flat module paths of jaxtune 0.1 stay importable: ``from jaxtune.datasets import
# digits`` finds the module that now lives in its layer's package.
for _module in (datasets, models, optimizers, task, analysis, plots):
    sys.modules.setdefault(f"{__name__}.{_module.__name__.rsplit('.', 1)[1]}", _module)
del _module

__version__ = "0.1.0"

__all__ = [
    "ASHA",
    "MAX_GRID_SIZE",
    "PBT",
    "Choice",
    "Dimension",
    "Fixed",
    "History",
    "Hyperband",
    "IntUniform",
    "LRFind",
    "LogUniform",
    "OneMinusLogUniform",
    "OptunaRounds",
    "RayBackend",
    "Results",
    "Space",
    "SuccessiveHalving",
    "Sweep",
    "Task",
    "Uniform",
    "__version__",
    "analysis",
    "backends",
    "constant_schedule",
    "datasets",
    "enable_compilation_cache",
    "exponential_decay",
    "inverse_time_decay",
    "lanes",
    "load",
    "lr_find",
    "make_train",
    "models",
    "optimizers",
    "parallel",
    "piecewise_decay",
    "plots",
    "proposers",
    "results",
    "schedules",
    "set_hyperparams",
    "space",
    "sqrt_epoch_decay",
    "sqrt_step_decay",
    "store",
    "strategies",
    "sweep",
    "switch_schedule",
    "task",
    "train",
]
