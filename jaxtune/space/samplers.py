"""The numeric work behind :class:`jaxtune.Space`'s samplers, apart from the class.

Random draws, unit-cube mappings and membership run as one jitted program per (space,
shape): eager calls then cost one dispatch instead of a few per dimension, and give
bit-identical results to calls made inside the user's own jit. Spaces hash by value, so
equal spaces share the cache.
"""

from __future__ import annotations

import functools
import inspect
import math
import zlib
from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from scipy.stats import qmc

from jaxtune.space.dimensions import Fixed, check_count
from jaxtune.space.discrete import Choice

__all__ = [
    "MAX_GRID_SIZE",
    "QMC_METHODS",
    "contains",
    "from_unit",
    "grid_counts",
    "name_hash",
    "pick_table",
    "qmc_unit",
    "random_samples",
    "to_unit",
]

Samples = dict[str, jax.Array]

MAX_GRID_SIZE = 1_000_000
"""The largest grid :meth:`Space.grid` builds; beyond it, sample at random instead."""

QMC_METHODS = ("sobol", "halton")


def name_hash(name: str) -> int:
    # A stable 32-bit hash: Python's hash() of a str changes from one process to the next.
    return zlib.crc32(name.encode("utf-8"))


def grid_counts(dims: Mapping[str, Any], n: int | Mapping[str, int]) -> dict[str, int]:
    """Points per dimension of a grid; checked before anything is built."""
    sized = [k for k, d in dims.items() if not isinstance(d, (Choice, Fixed))]
    if isinstance(n, Mapping):
        unknown = sorted(set(n) - set(dims))
        missing = [k for k in sized if k not in n]
        if unknown or missing:
            raise ValueError(f"grid: unknown dimension(s) {unknown}, missing {missing}")
        counts = {k: check_count(n.get(k, 1), f"grid count of {k!r}") for k in dims}
    else:
        counts = dict.fromkeys(dims, check_count(n))
    for k in sized:
        if counts[k] > MAX_GRID_SIZE:  # before building it: one axis alone is too big
            raise ValueError(
                f"grid of {counts[k]:,} points along {k!r} exceeds MAX_GRID_SIZE={MAX_GRID_SIZE:,}"
            )
    return counts


def qmc_unit(n: int, d: int, seed: Any, method: str) -> np.ndarray:
    """``n`` scrambled Sobol or Halton points in the unit cube of dimension ``d``."""
    if method not in QMC_METHODS:
        raise ValueError(f"method must be one of {QMC_METHODS}, got {method!r}")
    u = np.zeros((n, d))
    if d:
        engine_cls = qmc.Sobol if method == "sobol" else qmc.Halton
        # scipy >= 1.15 names the argument rng; older versions call it seed.
        arg = "rng" if "rng" in inspect.signature(engine_cls).parameters else "seed"
        engine = engine_cls(d, scramble=True, **{arg: np.random.default_rng(seed)})
        if method == "sobol":
            u = engine.random_base2(max(0, math.ceil(math.log2(n))))[:n]
        else:
            u = engine.random(n)
    return u


@functools.partial(jax.jit, static_argnums=(0, 2))
def random_samples(space: Any, key: jax.Array, n: int) -> Samples:
    return {
        name: dim.from_unit(jax.random.uniform(jax.random.fold_in(key, name_hash(name)), (n,)))
        for name, dim in space.items()
    }


@functools.partial(jax.jit, static_argnums=0)
def from_unit(space: Any, u: jax.Array) -> Samples:
    return {k: d.from_unit(u[..., i]) for i, (k, d) in enumerate(space.items())}


@functools.partial(jax.jit, static_argnums=0)
def to_unit(space: Any, samples: Samples) -> jax.Array:
    return jnp.stack([d.to_unit(samples[k]) for k, d in space.items()], axis=-1)


@functools.partial(jax.jit, static_argnums=0)
def contains(space: Any, samples: Samples) -> jax.Array:
    inside = [d.contains(samples[k]) for k, d in space.items()]
    return jnp.stack(inside, axis=0).all(axis=0)


def pick_table(d: Any, table: str | None) -> Any:
    for part in table.split(".") if table else []:
        if not isinstance(d, Mapping) or part not in d:
            raise ValueError(f"no table {table!r} in the config text")
        d = d[part]
    return d
