"""A user's own training loop for tests: ``init`` and ``epoch``, no jaxtune trainer."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp


@dataclasses.dataclass(frozen=True)
class Descent:
    """Gradient descent on ``0.5 |x|^2`` from a random start; the rate is read at every
    epoch, so nothing of it is kept in the state (``with_hyperparams`` has nothing to
    write: PBT's copies train with their new rate)."""

    max_epochs: int = 6

    def init(self, hparams, key):
        return {"x": jax.random.normal(key, (4,)) + 3.0}

    def epoch(self, state, hparams):
        x = state["x"] * (1.0 - hparams["learning_rate"])
        return {"x": x}, {"loss": 0.5 * jnp.mean(x**2)}

    def with_hyperparams(self, state, hparams):
        return state
