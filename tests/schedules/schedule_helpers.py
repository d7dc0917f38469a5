"""Shared by the tests of jaxtune.schedules: the epoch length, every decay system, a bowl."""

import jax.numpy as jnp

from jaxtune import schedules as S  # noqa: N812 (short name for a long table)

STEPS = 7  # steps per epoch, deliberately not a power of two


def systems(lr):
    """One schedule of every decay system, all starting at ``lr``."""
    return [
        S.constant_schedule(lr),
        S.inverse_time_decay(lr, 0.5, STEPS),
        S.exponential_decay(lr, STEPS, 0.9),
        S.sqrt_epoch_decay(lr, STEPS),
        S.sqrt_step_decay(lr),
        S.piecewise_decay(lr, STEPS, [2], [0.1]),
    ]


def quadratic_grad(w):
    # J(w) = 0.5 * sum(c * w**2): an elongated bowl.
    return jnp.array([1.0, 10.0]) * w
