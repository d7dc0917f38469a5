"""jaxtune: hyperparameter tuning for JAX, Flax and optax.

Many hyperparameter samples of one model train in a single compiled program, batched
over a leading "trial" axis. The layers, each usable alone:

- :mod:`jaxtune.schedules`: learning-rate decay schedules whose every argument may be traced.
"""

from jaxtune import schedules
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

__version__ = "0.1.0"

__all__ = [
    "__version__",
    "constant_schedule",
    "exponential_decay",
    "inverse_time_decay",
    "piecewise_decay",
    "schedules",
    "set_hyperparams",
    "sqrt_epoch_decay",
    "sqrt_step_decay",
    "switch_schedule",
]
