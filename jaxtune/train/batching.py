"""Mini-batches drawn inside ``jit``: one epoch's indices from a key, and the batches.

Pure functions of a PRNG key with static sizes, so a whole epoch of mini-batching can
live inside a compiled ``lax.scan`` and be vmapped over trials' keys.
"""

from __future__ import annotations

import jax

__all__ = ["batch_indices", "epoch_batches"]


def batch_indices(key: jax.Array, n: int, batch_size: int) -> jax.Array:
    """One epoch of mini-batch indices, from a fresh permutation of ``range(n)``.

    The last ``n % batch_size`` samples of the permutation are dropped, so every batch
    has the same static shape; a different key drops different samples each epoch.
    Pure and jittable (``n`` and ``batch_size`` static), vmappable over ``key``.

    Args:
        key: PRNG key of this epoch.
        n: number of samples (static).
        batch_size: samples per batch (static), ``1 <= batch_size <= n``.

    Returns:
        ``(n // batch_size, batch_size)`` int32 indices; no index appears twice.

    Examples:
        >>> idx = batch_indices(jax.random.key(0), 10, 3)
        >>> idx.shape, len(set(idx.ravel().tolist()))
        ((3, 3), 9)
    """
    if not 1 <= batch_size <= n:
        raise ValueError(f"batch_size must be in [1, n={n}], got {batch_size}")
    steps = n // batch_size
    return jax.random.permutation(key, n)[: steps * batch_size].reshape(steps, batch_size)


def epoch_batches(
    key: jax.Array, x: jax.Array, y: jax.Array, batch_size: int
) -> tuple[jax.Array, jax.Array]:
    """One epoch of shuffled mini-batches, ready to be the ``xs`` of ``lax.scan``.

    Args:
        key: PRNG key of this epoch.
        x: ``(n, *input_shape)`` inputs.
        y: ``(n, ...)`` targets.
        batch_size: samples per batch (static); the remainder is dropped as in
            :func:`batch_indices`.

    Returns:
        ``(x_batches, y_batches)`` of shapes ``(steps, batch_size, *input_shape)`` and
        ``(steps, batch_size, ...)``, with ``steps = n // batch_size``.

    Examples:
        >>> import jax.numpy as jnp
        >>> xb, yb = epoch_batches(jax.random.key(0), jnp.ones((10, 4)), jnp.zeros(10), 4)
        >>> xb.shape, yb.shape
        ((2, 4, 4), (2, 4))
    """
    idx = batch_indices(key, x.shape[0], batch_size)
    return x[idx], y[idx]
