"""Learning-rate decay schedules (layer 1) and manual decay of an optimizer state.

Every schedule is a pure :data:`optax.Schedule` whose numeric arguments may be traced, so
a sweep can vmap over them; :func:`set_hyperparams` lowers a rate by hand between epochs.
"""

from jaxtune.schedules.decay import (
    constant_schedule,
    exponential_decay,
    inverse_time_decay,
    piecewise_decay,
    sqrt_epoch_decay,
    sqrt_step_decay,
    switch_schedule,
)
from jaxtune.schedules.manual import held_hyperparams, set_hyperparams

__all__ = [
    "constant_schedule",
    "exponential_decay",
    "held_hyperparams",
    "inverse_time_decay",
    "piecewise_decay",
    "set_hyperparams",
    "sqrt_epoch_decay",
    "sqrt_step_decay",
    "switch_schedule",
]
