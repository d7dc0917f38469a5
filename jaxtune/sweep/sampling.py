"""The samples of a sweep: a pure function of the seed, the sampler and a trial's place.

Samples are *prefix-stable*: the first ``n`` samples of a sequence do not depend on how
many are drawn, so raising a sweep's ``n_trials`` adds trials after the stored ones and
leaves every stored one as it is.

- ``"random"``: trial ``i`` of sequence ``s`` draws from its own key,
  ``fold_in(fold_in(fold_in(key(seed), TAG), s), i)``;
- ``"quasi_random"``: a scrambled Sobol sequence seeded by ``(seed, s)``: its first ``n``
  points are the same whatever power-of-two block they are taken from;
- ``"grid"``: the full grid that fits the budget; it cannot grow.

Stores made before prefix-stable sampling (no ``"sampling"`` in their metadata) keep their
old random draw (``space.random(fold_in(key(seed), round), n)``), which cannot grow.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxtune.space import Space
from jaxtune.space.samplers import name_hash

__all__ = ["SAMPLERS", "SAMPLING_VERSION", "draw", "grid_points"]

SAMPLERS = ("random", "grid", "quasi_random")

SAMPLING_VERSION = 2
"""Stored as ``meta["sampling"]``; 1 (absent) is the old, not prefix-stable random draw."""

_TAG = name_hash("jaxtune.sweep.samples")  # keeps sampling keys apart from trial keys


def grid_points(space: Space, n_trials: int) -> int:
    """The most points per dimension whose full grid has at most ``n_trials`` points."""

    def size(k: int) -> int:
        return len(next(iter(space.grid(k).values())))

    k, current = 1, size(1)
    while k < n_trials:
        bigger = size(k + 1)
        # Stop when the next grid is over budget, or no longer grows (every dimension is
        # a choice, fixed or an integer range already fully listed).
        if bigger > n_trials or bigger == current:
            break
        k, current = k + 1, bigger
    return k


def draw(
    space: Space,
    sampler: str,
    seed: int,
    n: int,
    *,
    sequence: int = 0,
    offset: int = 0,
    version: int = SAMPLING_VERSION,
) -> dict[str, jax.Array]:
    """Samples ``offset .. offset + n - 1`` of sequence ``sequence`` (a round's own).

    Examples:
        >>> from jaxtune.space import LogUniform
        >>> space = Space(lr=LogUniform(1e-3, 1.0))
        >>> first = draw(space, "random", 0, 6)["lr"]
        >>> more = draw(space, "random", 0, 4, offset=6)["lr"]
        >>> bool((draw(space, "random", 0, 10)["lr"] == jnp.concatenate([first, more])).all())
        True
    """
    if sampler == "random":
        if version < 2:
            if offset:
                raise ValueError("random samples made before prefix-stable sampling cannot grow")
            return space.random(jax.random.fold_in(jax.random.key(seed), sequence), n)
        base = jax.random.fold_in(jax.random.fold_in(jax.random.key(seed), _TAG), sequence)
        keys = jax.vmap(lambda i: jax.random.fold_in(base, i))(jnp.arange(offset, offset + n))
        one = jax.vmap(lambda k: space.random(k, 1))(keys)
        return {k: v[:, 0] for k, v in one.items()}
    if sampler == "quasi_random":
        points = space.quasi_random(offset + n, seed=seed * 1000 + sequence)
        return {k: v[offset:] for k, v in points.items()}
    if sampler != "grid":
        raise ValueError(f"sampler must be one of {list(SAMPLERS)}, got {sampler!r}")
    if offset:
        raise ValueError("a grid sweep cannot grow")
    grid = space.grid(grid_points(space, n))
    return {k: v[:n] for k, v in grid.items()}
