"""PBT's explore step, on device: a copied lane's hyperparameters moved on their own scales.

:func:`explorer` builds the jitted step of one lane (:func:`perturb`, or a user's
function, then :func:`clip` to the space); :mod:`jaxtune.strategies.pbt` decides which
lanes copy which, and the lane runtime copies their states.

Perturbation on each dimension's own scale (factor ``f``): ``x * f`` for log-uniform,
uniform and integer dimensions (integers rounded), ``1 - (1 - x) * f`` for
one-minus-log-uniform ones, one step to a neighbouring value (direction at random) for a
choice; with probability ``resample_probability`` a fresh draw from the dimension instead.

Examples:
    >>> import jax, jax.numpy as jnp
    >>> from jaxtune.space import LogUniform, OneMinusLogUniform
    >>> dims = {"lr": LogUniform(1e-3, 1.0), "beta": OneMinusLogUniform(0.5, 0.99)}
    >>> hp = {"lr": jnp.float32(0.1), "beta": jnp.float32(0.9)}
    >>> out = perturb(dims, hp, jax.random.key(0), factors=(0.5,), resample_probability=0.0)
    >>> round(float(out["lr"]), 4), round(float(out["beta"]), 4)
    (0.05, 0.95)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp

from jaxtune.space import Choice, Dimension, Fixed, IntUniform, OneMinusLogUniform

__all__ = ["clip", "explorer", "perturb"]


def _neighbour(dim: Dimension, x: jax.Array, step: jax.Array) -> jax.Array:
    k = len(dim.values)
    index = jnp.floor(dim.to_unit(x) * k).astype(jnp.int32)
    index = jnp.clip(index + step, 0, k - 1)
    return dim.from_unit((index.astype(jnp.float32) + 0.5) / k)


def _scaled(dim: Dimension, x: jax.Array, factor: jax.Array) -> jax.Array:
    if isinstance(dim, OneMinusLogUniform):
        return 1.0 - (1.0 - x) * factor
    if isinstance(dim, IntUniform):
        return jnp.round(x.astype(jnp.float32) * factor).astype(jnp.int32)
    return x * factor


def clip(dim: Dimension, x: jax.Array) -> jax.Array:
    """``x`` (encoded) moved into the dimension: bounds of a range, a valid choice.

    Examples:
        >>> from jaxtune.space import LogUniform
        >>> float(clip(LogUniform(0.1, 1.0), jnp.float32(3.0)))
        1.0
    """
    if isinstance(dim, Choice | Fixed):
        return dim.from_unit(jnp.clip(dim.to_unit(x), 0.0, 1.0))
    x = jnp.clip(x, dim.low, dim.high)
    return x.astype(dim.dtype)


def perturb(
    dims: Mapping[str, Dimension],
    hparams: Mapping[str, jax.Array],
    key: jax.Array,
    *,
    factors: Sequence[float],
    resample_probability: float,
) -> dict[str, jax.Array]:
    """One lane's explored hyperparameters (encoded scalars); names not in ``dims`` kept.

    Args:
        dims: the dimensions to explore, by name.
        hparams: the lane's encoded values.
        key: PRNG key.
        factors: perturbation factors, one picked uniformly per dimension.
        resample_probability: chance of a fresh draw from the dimension instead.

    Returns:
        The new values, clipped to the space, same dtypes.
    """
    out = dict(hparams)
    table = jnp.asarray(factors, jnp.float32)
    # One draw for everything (few random-bit programs: quick to compile): per dimension
    # whether to resample, the fresh unit value, and which factor.
    u = jax.random.uniform(key, (max(len(dims), 1), 3))
    for i, (name, dim) in enumerate(dims.items()):
        x = jnp.asarray(hparams[name])
        fresh = dim.from_unit(u[i, 1])
        pick = jnp.minimum(jnp.floor(u[i, 2] * len(factors)), len(factors) - 1).astype(jnp.int32)
        if isinstance(dim, Choice):
            moved = _neighbour(dim, x, jnp.where(u[i, 2] < 0.5, -1, 1))
        else:
            moved = clip(dim, _scaled(dim, x, table[pick]))
        out[name] = jnp.where(u[i, 0] < resample_probability, fresh, moved).astype(x.dtype)
    return out


def explorer(
    dims: Mapping[str, Dimension],
    *,
    factors: Sequence[float],
    resample_probability: float,
    explore: Callable[..., Any] | None = None,
) -> Callable[[Mapping[str, Any], jax.Array], dict[str, jax.Array]]:
    """PBT's explore step of one lane, jitted: ``(hparams, key) -> hparams``.

    Args:
        dims: the dimensions explored (traced, not fixed), by name.
        factors: perturbation factors.
        resample_probability: chance of a fresh draw per dimension.
        explore: a user's ``explore(hparams, key) -> hparams`` of one lane's encoded
            values, instead of :func:`perturb`.

    Returns:
        The explored values (names outside ``dims`` kept), clipped to the space, each
        with its input's dtype.

    Examples:
        >>> from jaxtune.space import LogUniform
        >>> step = explorer({"lr": LogUniform(1e-3, 1.0)}, factors=(2.0,), resample_probability=0)
        >>> round(float(step({"lr": jnp.float32(0.1)}, jax.random.key(0))["lr"]), 4)
        0.2
    """

    def one(hp: Mapping[str, jax.Array], key: jax.Array) -> dict[str, jax.Array]:
        hp = {n: jnp.asarray(v) for n, v in hp.items()}
        if explore is not None:
            new = dict(hp) | dict(explore(dict(hp), key))
        else:
            new = perturb(
                dims, hp, key, factors=factors, resample_probability=resample_probability
            )
        return {n: (clip(dims[n], new[n]) if n in dims else hp[n]).astype(hp[n].dtype) for n in hp}

    return jax.jit(one)
