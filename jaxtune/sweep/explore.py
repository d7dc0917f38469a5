"""Exploit and explore of population-based training, on device, over the trial axis.

:func:`make_exploit` builds one pure function of the whole population: rank the lanes by
their interval score, let each bottom-quantile lane copy a random top-quantile lane's
training state and encoded hyperparameters (``jnp.take`` over the trial axis), then
explore the copied hyperparameters (:func:`perturb`, or a user's function) and clip them
to the space. Nothing leaves the device; it is jitted once per population size.

Perturbation on each dimension's own scale (factor ``f``): ``x * f`` for log-uniform,
uniform and integer dimensions (integers rounded), ``1 - (1 - x) * f`` for
one-minus-log-uniform ones, one step to a neighbouring value (direction at random) for a
choice; with probability ``resample_probability`` a fresh draw from the dimension instead.

Example:
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

__all__ = ["clip", "make_exploit", "perturb"]


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

    Example:
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


def make_exploit(
    dims: Mapping[str, Dimension],
    n_quantile: int,
    *,
    maximize: bool,
    factors: Sequence[float],
    resample_probability: float,
    explore: Callable[..., Any] | None = None,
    set_hyperparams: Callable[[Any, Mapping[str, Any]], Any] | None = None,
) -> Callable[..., tuple[Any, dict[str, jax.Array], jax.Array]]:
    """The exploit-and-explore step of a population, jitted.

    Args:
        dims: the dimensions explored (traced, not fixed), by name.
        n_quantile: lanes in the bottom (replaced) and the top (copied) quantile.
        maximize: whether a higher score is better.
        factors: perturbation factors.
        resample_probability: chance of a fresh draw per dimension.
        explore: a user's ``explore(hparams, key) -> hparams`` of one lane, instead of
            :func:`perturb`.
        set_hyperparams: ``(state, hparams) -> state`` writing one lane's new values
            into its training state (its optimizer state), or None.

    Returns:
        ``step(state, hparams, score, key) -> (state, hparams, parent)``: every leaf
        has the population axis first; ``parent[i]`` is the lane whose state lane ``i``
        now holds (``i`` itself when it was not replaced). A NaN score ranks last; ties
        go to the lower lane.
    """

    def one(hp: Mapping[str, jax.Array], key: jax.Array) -> dict[str, jax.Array]:
        if explore is not None:
            new = dict(hp) | dict(explore(dict(hp), key))
        else:
            new = perturb(
                dims, hp, key, factors=factors, resample_probability=resample_probability
            )
        return {n: (clip(dims[n], new[n]) if n in dims else hp[n]).astype(hp[n].dtype) for n in hp}

    def step(state: Any, hparams: Mapping[str, jax.Array], score: jax.Array, key: jax.Array):
        n = score.shape[0]
        lanes = jnp.arange(n)
        if n_quantile == 0:
            return state, dict(hparams), lanes
        bad = jnp.where(jnp.isnan(score), jnp.inf, -score if maximize else score)
        order = jnp.argsort(bad, stable=True)  # best first, ties by lane
        top, bottom = order[:n_quantile], order[n - n_quantile :]
        k_pick, k_explore = jax.random.split(key)
        which = jnp.floor(jax.random.uniform(k_pick, (n_quantile,)) * n_quantile)
        donors = top[jnp.minimum(which, n_quantile - 1).astype(jnp.int32)]
        parent = lanes.at[bottom].set(donors)
        replaced = jnp.zeros(n, bool).at[bottom].set(True)
        state = jax.tree_util.tree_map(lambda x: x[parent], state)
        copied = {k: jnp.take(v, parent, axis=0) for k, v in hparams.items()}
        explored = jax.vmap(one)(copied, jax.random.split(k_explore, n))
        new = {k: jnp.where(replaced, explored[k], copied[k]) for k in copied}
        if set_hyperparams is not None:
            state = jax.vmap(set_hyperparams)(state, new)
        return state, new, parent

    return jax.jit(step)
