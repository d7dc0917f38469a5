"""jaxtune: hyperparameter tuning for JAX, Flax and optax.

Many hyperparameter samples of one model train in a single compiled program, batched
over a leading "trial" axis. The layers, each usable alone:

- :mod:`jaxtune.schedules`: learning-rate decay schedules whose every argument may be traced.
- :mod:`jaxtune.space`: search spaces on the right scale; random, grid, quasi-random
  sampling and coarse-to-fine zoom.
- :mod:`jaxtune.plots`: pictures of samples and sweeps (needs ``jaxtune[plots]``).
"""

from jaxtune import plots, schedules, space
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

__version__ = "0.1.0"

__all__ = [
    "MAX_GRID_SIZE",
    "Choice",
    "Dimension",
    "Fixed",
    "IntUniform",
    "LogUniform",
    "OneMinusLogUniform",
    "Space",
    "Uniform",
    "__version__",
    "constant_schedule",
    "exponential_decay",
    "inverse_time_decay",
    "piecewise_decay",
    "plots",
    "schedules",
    "set_hyperparams",
    "space",
    "sqrt_epoch_decay",
    "sqrt_step_decay",
    "switch_schedule",
]
