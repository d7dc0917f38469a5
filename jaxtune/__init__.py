"""jaxtune: hyperparameter tuning for JAX, Flax and optax.

Many hyperparameter samples of one model train in a single compiled program, batched
over a leading "trial" axis. The layers, each usable alone:

- :mod:`jaxtune.schedules`: learning-rate decay schedules whose every argument may be traced.
- :mod:`jaxtune.space`: search spaces on the right scale; random, grid, quasi-random
  sampling and coarse-to-fine zoom.
- :mod:`jaxtune.parallel`: run any pure ``fn(hparams, key)`` over many trials at once
  (vmap, chunks, devices).
- :mod:`jaxtune.datasets`, :mod:`jaxtune.models`, :mod:`jaxtune.optimizers`,
  :mod:`jaxtune.train`: the built-in trainer, every hyperparameter traced or masked.
- :mod:`jaxtune.sweep`, :mod:`jaxtune.store`, :mod:`jaxtune.results`: sweeps that
  persist every finished chunk, resume after a crash, and report what they found.
- :mod:`jaxtune.analysis`: hyperparameter importance and Optuna export (needs
  ``jaxtune[importance]``).
- :mod:`jaxtune.plots`: pictures of samples and sweeps (needs ``jaxtune[plots]``).
"""

from jaxtune import (
    analysis,
    datasets,
    models,
    optimizers,
    parallel,
    plots,
    results,
    schedules,
    space,
    store,
    sweep,
    task,
    train,
)
from jaxtune.parallel import enable_compilation_cache
from jaxtune.results import Results, load
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
from jaxtune.sweep import Sweep
from jaxtune.task import Task
from jaxtune.train import History, make_train

__version__ = "0.1.0"

__all__ = [
    "MAX_GRID_SIZE",
    "Choice",
    "Dimension",
    "Fixed",
    "History",
    "IntUniform",
    "LogUniform",
    "OneMinusLogUniform",
    "Results",
    "Space",
    "Sweep",
    "Task",
    "Uniform",
    "__version__",
    "analysis",
    "constant_schedule",
    "datasets",
    "enable_compilation_cache",
    "exponential_decay",
    "inverse_time_decay",
    "load",
    "make_train",
    "models",
    "optimizers",
    "parallel",
    "piecewise_decay",
    "plots",
    "results",
    "schedules",
    "set_hyperparams",
    "space",
    "sqrt_epoch_decay",
    "sqrt_step_decay",
    "store",
    "sweep",
    "switch_schedule",
    "task",
    "train",
]
