"""Search spaces and samplers that put every hyperparameter on its right scale.

A :class:`Space` names its dimensions (see :mod:`jaxtune.space.dimensions`) and
draws *sample sets*: ``dict[str, jax.Array]``, one array of shape ``(n,)`` per
dimension, a leading trial axis ready for ``jax.vmap``. Floats are float32 and integers
int32; a :class:`Choice` of strings holds int32 indices that :meth:`Space.decode` turns
back into strings.

Samplers: :meth:`Space.random` (``jax.random``, jit-able), :meth:`Space.grid` (a full
Cartesian product, mostly for comparison: random search tries many more distinct values
of the hyperparameter that matters), :meth:`Space.quasi_random` (scrambled Sobol or
Halton through :mod:`scipy.stats.qmc`), and :meth:`Space.zoom` for coarse-to-fine search.

Examples:
    >>> space = Space(lr=LogUniform(1e-4, 1.0), beta=OneMinusLogUniform(0.9, 0.999))
    >>> samples = space.random(jax.random.key(0), 10_000)
    >>> print(round(float(jnp.mean(samples["lr"] < 1e-2)), 2))  # two of four decades
    0.5
"""

from __future__ import annotations

import json
import math
import tomllib
from collections.abc import Iterator, Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from scipy.stats import qmc  # noqa: F401 (examples)

from jaxtune.space import samplers
from jaxtune.space.dimensions import (  # noqa: F401
    Dimension,
    Fixed,
    LogUniform,
    OneMinusLogUniform,
    Uniform,
    check_count,
    check_margin,
)
from jaxtune.space.discrete import Choice, IntUniform, as_dimension  # noqa: F401 (examples)
from jaxtune.space.samplers import MAX_GRID_SIZE

__all__ = ["Samples", "Space"]

Samples = dict[str, jax.Array]
"""A sample set: one array of shape ``(n,)`` per dimension name."""


def _wrap(name: str, error: Exception) -> Exception:
    """The same kind of error, with the dimension's name in front of its message."""
    # Plain TypeError/ValueError: some subclasses take other constructor arguments.
    wrapped = (TypeError if isinstance(error, TypeError) else ValueError)(
        f"dimension {name!r}: {error}"
    )
    wrapped.__cause__ = error
    return wrapped


class Space(Mapping[str, Dimension]):
    """A named, ordered set of dimensions; a read-only mapping ``name -> Dimension``.

    Values may be dimensions or shorthands: a dict ``{"type": ..., ...}``, a list (a
    :class:`Choice`), a bare number, string or bool (:class:`Fixed`). Spaces are
    immutable, hashable and compare equal when names, order and dimensions agree. To add
    a dimension, build a new one: ``Space(**space, wd=LogUniform(1e-6, 1e-2))``.

    Args:
        **dims: the dimensions, in order; the order is that of unit coordinates.

    Raises:
        ValueError, TypeError: for an invalid dimension, with its name in the message.

    Examples:
        >>> space = Space(lr=LogUniform(1e-4, 1), opt=["sgd", "adam"], eps=1e-8)
        >>> space
        Space(lr=LogUniform(0.0001, 1.0), opt=Choice(['sgd', 'adam']), eps=Fixed(1e-08))
        >>> len(space), space.names, space["opt"].labels
        (3, ('lr', 'opt', 'eps'), ('sgd', 'adam'))
    """

    __slots__ = ("_dims",)

    def __init__(self, /, **dims: Any) -> None:
        if not dims:
            raise ValueError("a Space needs at least one dimension")
        parsed: dict[str, Dimension] = {}
        for name, spec in dims.items():
            if not name:
                raise ValueError("dimension names must be non-empty strings")
            try:
                parsed[name] = as_dimension(spec)
            except (TypeError, ValueError) as error:
                raise _wrap(name, error) from error
        hashes: dict[int, str] = {}
        for name in parsed:
            other = hashes.setdefault(samplers.name_hash(name), name)
            if other != name:  # would draw the same random numbers for both
                raise ValueError(f"dimension {name!r}: its CRC32 equals that of {other!r}")
        self._dims = parsed

    # -- mapping, equality, repr ------------------------------------------------------
    def __getitem__(self, name: str) -> Dimension:
        return self._dims[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._dims)

    def __len__(self) -> int:
        return len(self._dims)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Space):
            return NotImplemented
        return list(self._dims.items()) == list(other._dims.items())  # order matters

    def __hash__(self) -> int:
        return hash(tuple(self._dims.items()))

    def __repr__(self) -> str:
        if all(name.isidentifier() for name in self._dims):
            return f"Space({', '.join(f'{k}={v!r}' for k, v in self._dims.items())})"
        return f"Space(**{self._dims!r})"

    @property
    def names(self) -> tuple[str, ...]:
        """The dimension names, in order."""
        return tuple(self._dims)

    def _ordered(self, samples: Samples) -> Samples:
        # jit returns dicts with sorted keys; hand them back in dimension order.
        return {name: samples[name] for name in self._dims}

    def without(self, *names: str) -> Space:
        """This space minus dimensions ``names``, e.g. ``"epochs"`` under a scheduler.

        The others keep their order and their random draws (each draws from its name's
        key). An unknown name raises a KeyError listing the space's names.

        Examples:
            >>> Space(lr=LogUniform(1e-4, 1), epochs=IntUniform(1, 20)).without("epochs")
            Space(lr=LogUniform(0.0001, 1.0))
        """
        unknown = [name for name in names if name not in self._dims]
        if unknown:
            have = ", ".join(map(repr, self._dims))
            raise KeyError(
                f"Space.without: unknown dimension {unknown[0]!r}; the space has {have}"
            )
        return Space(**{k: d for k, d in self._dims.items() if k not in names})

    def labels(self, name: str) -> tuple[Any, ...] | None:
        """What the int32 indices of dimension ``name`` stand for (None: plain values)."""
        return self._dims[name].labels

    # -- samplers ---------------------------------------------------------------------
    def random(self, key: jax.Array, n: int) -> Samples:
        """``n`` independent random samples, each dimension on its own scale.

        Each dimension draws from ``fold_in(key, crc32(name))``: the same key gives the
        same samples, and adding or removing a dimension leaves the others unchanged.
        Works under ``jax.jit`` with ``n`` static.

        Args:
            key: a JAX PRNG key.
            n: number of samples (a Python int).

        Returns:
            A sample set; each array has shape ``(n,)``.

        Examples:
            >>> space = Space(lr=LogUniform(1e-4, 1), units=IntUniform(16, 256))
            >>> draw = jax.jit(space.random, static_argnums=1)
            >>> s = draw(jax.random.key(1), 8)
            >>> again = space.random(jax.random.key(1), 8)
            >>> all(bool(jnp.all(s[k] == again[k])) for k in space)
            True
        """
        return self._ordered(samplers.random_samples(self, key, check_count(n)))

    def grid(self, n: int | Mapping[str, int]) -> Samples:
        """The full Cartesian product of per-dimension grids, first dimension slowest.

        Continuous dimensions get ``n`` points from ``low`` to ``high`` spaced evenly on
        their scale (log-spaced for LogUniform, ``1 - x`` log-spaced for
        OneMinusLogUniform; one point sits in the middle of the scale); an IntUniform
        gets at most ``n`` distinct integers; a Choice every value; Fixed its value.

        Args:
            n: points per dimension, or a dict ``name -> points`` naming every
                Uniform, LogUniform, OneMinusLogUniform and IntUniform dimension.

        Returns:
            A sample set of ``prod(points)`` trials.

        Raises:
            ValueError: if the grid would exceed ``MAX_GRID_SIZE`` points (the message
                gives its size) or a count is missing or below 1.

        Examples:
            >>> g = Space(lr=LogUniform(1e-3, 1), opt=["sgd", "adam"]).grid(4)
            >>> print(g["lr"], g["opt"])
            [0.001 0.001 0.01  0.01  0.1   0.1   1.    1.   ] [0 1 0 1 0 1 0 1]
        """
        counts = samplers.grid_counts(self._dims, n)
        axes = [self._dims[name].grid(counts[name]) for name in self._dims]
        size = math.prod(len(a) for a in axes)
        if size > MAX_GRID_SIZE:
            raise ValueError(
                f"grid of {size:,} points exceeds MAX_GRID_SIZE={MAX_GRID_SIZE:,}; "
                "use fewer points per dimension or random()/quasi_random()"
            )
        mesh = np.meshgrid(*axes, indexing="ij")
        return {name: jnp.asarray(m.reshape(-1)) for name, m in zip(self._dims, mesh, strict=True)}

    def quasi_random(
        self, n: int, seed: int | np.random.Generator | None = 0, method: str = "sobol"
    ) -> Samples:
        """``n`` scrambled low-discrepancy samples (Sobol or Halton) on each scale.

        The points fill the unit cube more evenly than random ones, then go through each
        dimension's ``from_unit``. Fixed dimensions take no coordinate. Sobol's balance is
        best for powers of two; for other ``n`` this returns the first ``n`` points of
        the next power-of-two block (what ``Sobol.random(n)`` returns too, minus its
        warning).

        Args:
            n: number of samples.
            seed: an int or ``numpy.random.Generator`` for the scrambling.
            method: ``"sobol"`` or ``"halton"``.

        Returns:
            A sample set; each array has shape ``(n,)``.

        Examples:
            >>> space = Space(x=Uniform(0, 1), y=Uniform(0, 1))
            >>> u = space.to_unit(space.quasi_random(64, seed=0))
            >>> bool(qmc.discrepancy(np.asarray(u)) < 1e-3)
            True
        """
        n = check_count(n)
        free = [k for k, d in self._dims.items() if not isinstance(d, Fixed)]
        u = samplers.qmc_unit(n, len(free), seed, method)
        columns = dict(zip(free, u.T, strict=True))
        full = np.stack([columns.get(k, np.full(n, 0.5)) for k in self._dims], axis=-1)
        return self._ordered(samplers.from_unit(self, jnp.asarray(full, jnp.float32)))

    def zoom(self, points: Mapping[str, jax.typing.ArrayLike], margin: float = 0.1) -> Space:
        """A narrower space around ``points`` (e.g. the best trials), for coarse-to-fine.

        For each Uniform, LogUniform, OneMinusLogUniform or IntUniform dimension, in its
        unit coordinates (``to_unit``, on the dimension's scale): take ``[min, max]`` of
        the points, widen it by ``margin`` (a fraction of the original range) on each
        side, clip to ``[0, 1]``, map back. The new bounds thus lie within the old ones
        (a log scale stays log) and every point lies inside; the range shrinks unless
        the widened interval covers all of ``[0, 1]``. An IntUniform rounds outward (it
        keeps the integers whose unit slices hold the widened ends). A numeric range
        that collapses to one value (one distinct point, ``margin=0``, or one integer)
        becomes Fixed. A Choice keeps the values seen, in order, and stays a Choice even
        with one value (so a string dimension keeps its index encoding). Fixed stays.
        String indices refer to the new, shorter value list: carry points from the old
        space to the new one by value, ``new.encode(old.decode(points))``.

        Args:
            points: a sample set with every non-Fixed dimension (encoded values).
            margin: widening per side, in ``[0, 1]`` unit coordinates.

        Returns:
            The new Space, same names and order.

        Examples:
            >>> space = Space(lr=LogUniform(1e-6, 1), opt=["sgd", "adam", "rmsprop"])
            >>> best = {"lr": jnp.array([1e-3, 1e-2]), "opt": jnp.array([2, 2])}
            >>> space.zoom(best, margin=0.1)
            Space(lr=LogUniform(0.00025..., 0.0398...), opt=Choice(['rmsprop']))
        """
        margin = check_margin(margin)
        unknown = sorted(set(points) - set(self._dims))
        missing = [
            k for k, d in self._dims.items() if k not in points and not isinstance(d, Fixed)
        ]
        if unknown or missing:
            raise ValueError(f"zoom: unknown dimension(s) {unknown}, missing {missing}")
        dims = {}
        for name, dim in self._dims.items():
            try:
                dims[name] = dim.zoom(points.get(name, np.zeros(1)), margin)
            except (TypeError, ValueError) as error:
                raise _wrap(name, error) from error
        return Space(**dims)

    # -- unit coordinates, membership, decoding ----------------------------------------
    def to_unit(self, samples: Mapping[str, jax.typing.ArrayLike]) -> jax.Array:
        """Samples to unit coordinates, shape ``(..., len(space))`` in dimension order.

        Continuous values map exactly, clipped to ``[0, 1]`` (float32 rounding at a bound
        never steps past it; values outside the bounds go to the nearest end); an
        integer or a choice maps to the middle of its slice, a Fixed value to 0.5.
        """
        return samplers.to_unit(self, {k: samples[k] for k in self._dims})

    def from_unit(self, u: jax.typing.ArrayLike) -> Samples:
        """Unit coordinates ``(..., len(space))`` to a sample set; jit and vmap safe.

        Examples:
            >>> space = Space(lr=LogUniform(1e-4, 1), beta=OneMinusLogUniform(0.9, 0.999))
            >>> s = space.from_unit(jnp.array([[0.0, 0.5], [0.75, 1.0]]))
            >>> print(np.round(s["lr"], 6), s["beta"])
            [1.e-04 1.e-01] [0.99  0.999]
        """
        u = jnp.asarray(u, jnp.float32)
        if u.ndim < 1 or u.shape[-1] != len(self):
            raise ValueError(f"from_unit: u needs a last axis of {len(self)}, got {u.shape}")
        return self._ordered(samplers.from_unit(self, u))

    def contains(self, samples: Mapping[str, jax.typing.ArrayLike]) -> jax.Array:
        """Boolean per trial: whether every value lies inside its dimension (in float32)."""
        return samplers.contains(self, {k: jnp.asarray(samples[k]) for k in self._dims})

    def decode(self, samples: Mapping[str, jax.typing.ArrayLike]) -> list[dict[str, Any]]:
        """One plain-Python dict per trial, strings restored from their indices.

        Examples:
            >>> space = Space(lr=LogUniform(1e-4, 1), opt=["sgd", "adam"], bs=64)
            >>> space.decode(space.grid(2))[:2]
            [{'lr': 0.0001, 'opt': 'sgd', 'bs': 64}, {'lr': 0.0001, 'opt': 'adam', 'bs': 64}]
        """
        columns = {k: d.decode(np.ravel(samples[k])) for k, d in self._dims.items()}
        lengths = {len(c) for c in columns.values()}
        if len(lengths) != 1:
            raise ValueError(f"decode: arrays of different lengths {sorted(lengths)}")
        return [
            dict(zip(columns, row, strict=True)) for row in zip(*columns.values(), strict=True)
        ]

    def encode(self, trials: list[Mapping[str, Any]]) -> Samples:
        """Plain-Python trial dicts back to a sample set (the inverse of ``decode``)."""
        return {k: jnp.asarray(d.encode(t[k] for t in trials)) for k, d in self._dims.items()}

    # -- plain dict, TOML, JSON -------------------------------------------------------
    def to_dict(self) -> dict[str, dict[str, Any]]:
        """``{name: {"type": ..., ...}}``, the form config files use.

        Examples:
            >>> Space(lr=LogUniform(1e-4, 1)).to_dict()
            {'lr': {'type': 'log_uniform', 'low': 0.0001, 'high': 1.0}}
        """
        return {name: dim.to_dict() for name, dim in self._dims.items()}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Space:
        """A Space from ``{name: spec}``; each spec as accepted by :func:`as_dimension`.

        Examples:
            >>> Space.from_dict({"lr": {"type": "log_uniform", "low": 1e-4, "high": 1}})
            Space(lr=LogUniform(0.0001, 1.0))
        """
        if not isinstance(d, Mapping):
            raise TypeError(f"from_dict: expected a dict of dimensions, got {d!r}")
        return cls(**dict(d))

    def to_json(self, indent: int | None = 2) -> str:
        """JSON text of :meth:`to_dict`."""
        return json.dumps(self.to_dict(), indent=indent)

    @classmethod
    def from_json(cls, text: str, *, table: str | None = None) -> Space:
        """A Space from JSON text; ``table`` picks a (dotted) sub-object first."""
        return cls.from_dict(samplers.pick_table(json.loads(text), table))

    def to_toml(self, *, table: str | None = None) -> str:
        """TOML text, one ``[name]`` table per dimension (under ``[table.name]`` if given).

        Needs ``tomli-w`` (``pip install 'jaxtune[config]'``).

        Examples:
            >>> print(Space(lr=LogUniform(1e-4, 1)).to_toml(table="space"))
            [space.lr]
            type = "log_uniform"
            low = 0.0001
            high = 1.0
        """
        try:
            import tomli_w
        except ImportError as error:
            raise ImportError(
                "writing TOML needs tomli-w: pip install 'jaxtune[config]'"
            ) from error
        d: dict[str, Any] = self.to_dict()
        for part in reversed(table.split(".") if table else []):
            d = {part: d}
        return tomli_w.dumps(d)

    @classmethod
    def from_toml(cls, text: str, *, table: str | None = None) -> Space:
        """A Space from TOML text; ``table`` (e.g. ``"space"``) picks a sub-table."""
        return cls.from_dict(samplers.pick_table(tomllib.loads(text), table))
