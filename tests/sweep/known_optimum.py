"""A user objective with a known optimum, cheap to evaluate: a noisy bowl in log learning
rate, log(1 - momentum) and an integer, minimum 0 at lr 0.03, momentum 0.95, hidden 40.

Shared by the model-based sampler tests and their kill-and-resume worker process.
"""

import jax
import jax.numpy as jnp

import jaxtune

SPACE = jaxtune.Space(
    learning_rate=jaxtune.LogUniform(1e-5, 1.0),
    momentum=jaxtune.OneMinusLogUniform(0.5, 0.999),
    hidden=jaxtune.IntUniform(8, 128),
)


def bowl(hp):
    """The objective without noise (0 at the optimum)."""
    a = jnp.log10(hp["learning_rate"]) - jnp.log10(0.03)
    b = jnp.log10(1 - hp["momentum"]) - jnp.log10(0.05)
    c = (hp["hidden"] - 40) / 30
    return 10 * (a**2 + 0.5 * b**2 + 0.5 * a * b + 0.3 * c**2)


def objective(hp, key):
    """What a sweep minimizes (``val_loss``: the bowl plus noise) and the true value."""
    true = bowl(hp)
    return {"val_loss": true + 0.05 * jax.random.normal(key), "true": true}
