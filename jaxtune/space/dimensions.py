"""Search-space dimensions: one hyperparameter each, sampled on its own scale.

Every dimension maps the unit interval onto its values with :meth:`Dimension.from_unit`
(pure ``jax.numpy``, so it runs under ``jit`` and ``vmap``) and back with
:meth:`Dimension.to_unit`. Samplers draw uniform numbers in ``[0, 1]`` and let the
dimension put them on the right scale: log-uniform for a learning rate, log-uniform on
``1 - beta`` for a momentum.

Values in a sample set are *encoded*: floats as float32, integers as int32, and a
:class:`Choice` of strings (or booleans) as the int32 index of the value; ``decode``
turns them back into plain Python values. The public names are re-exported from
:mod:`jaxtune.space`.

Every dimension takes ``static=True`` (keyword only): its value changes the program
itself (a layer width used as a shape, a Python ``if`` on it), so a sweep of a user's
function passes it as a plain Python value and compiles one program per distinct value
(trials are grouped by their static values). A dimension of strings or booleans always
reaches a user's function as its Python value, static or not. ``static`` is part of the
dimension: it survives ``to_dict``/``from_dict`` (written only when True) and equality.
"""

from __future__ import annotations

import abc
import dataclasses
import math
from collections.abc import Iterable
from types import ModuleType
from typing import Any, ClassVar

import jax
import jax.numpy as jnp
import numpy as np

from jaxtune.space.values import (  # noqa: F401 (re-exported: discrete, samplers, space)
    F32_BELOW_1,
    F32_ENDS,
    F32_MAX,
    F32_TINY,
    INT32_ENDS,
    INT32_MAX,
    INT32_MIN,
    Label,
    as_integer,
    as_real,
    check_count,
    check_float32,
    check_margin,
    check_sample,
    check_static,
    is_number,
    plain,
    static_text,
    typed_values,
)


class Dimension(abc.ABC):
    """Base class of every dimension: the interface the samplers rely on.

    Subclasses are small frozen dataclasses; two dimensions are equal when their type and
    fields are equal. Subclasses define ``_from_unit``/``_to_unit`` once for an array
    namespace ``xp``: :mod:`jax.numpy` for samples, :mod:`numpy` in float64 for exact
    bounds (``grid``, ``zoom``).
    """

    kind: ClassVar[str]  # the "type" in dict/TOML/JSON form
    dtype: np.dtype  # dtype of the encoded values in a sample set
    static: bool  # one program per value (see the module docstring)

    @property
    def labels(self) -> tuple[Label, ...] | None:
        """Values that int32 indices stand for, or None when samples hold the values."""
        return None

    def from_unit(self, u: jax.typing.ArrayLike) -> jax.Array:
        """Maps unit numbers ``u`` in ``[0, 1]`` onto encoded values (jit/vmap safe)."""
        return self._from_unit(jnp.asarray(u, jnp.float32), jnp)

    def to_unit(self, x: jax.typing.ArrayLike) -> jax.Array:
        """Maps encoded values to unit coordinates (float32); inverse of ``from_unit``.

        The result lies in ``[0, 1]``: float32 rounding at a bound (``Uniform(0.1,
        0.3).to_unit(0.3)`` computes 1.0000001) and values outside the dimension are
        clipped to the nearest end.
        """
        u = self._to_unit(jnp.asarray(x, self.dtype), jnp).astype(jnp.float32)
        return jnp.clip(u, 0.0, 1.0)

    def contains(self, x: jax.typing.ArrayLike) -> jax.Array:
        """Boolean array: which encoded values belong to this dimension (in float32)."""
        return self._contains(jnp.asarray(x), jnp)

    def decode(self, x: jax.typing.ArrayLike) -> list[Any]:
        """Encoded values (1-D) to a list of plain Python values."""
        x = np.asarray(x)
        if self.labels is not None:
            return [self.labels[i] for i in x.astype(int).tolist()]
        if np.issubdtype(self.dtype, np.floating):
            # str() of a float32 is its shortest round-trip text: 0.001, not 0.0010000000474.
            return [float(s) for s in x.astype(np.float32).astype(str)]
        return x.astype(int).tolist()

    def encode(self, values: Iterable[Any]) -> np.ndarray:
        """Plain Python values to encoded values (the inverse of ``decode``)."""
        values = list(values)
        if self.labels is None:
            return np.asarray(values, self.dtype)
        try:
            return np.asarray([self.labels.index(v) for v in values], np.int32)
        except ValueError:
            bad = [v for v in values if v not in self.labels]
            raise ValueError(f"{self!r}: unknown value(s) {bad}") from None

    @abc.abstractmethod
    def grid(self, n: int) -> np.ndarray:
        """Encoded grid values along this dimension's scale (``n`` at most)."""
        raise NotImplementedError

    @abc.abstractmethod
    def zoom(self, values: jax.typing.ArrayLike, margin: float = 0.1) -> Dimension:
        """A narrower dimension around the encoded ``values`` (see ``Space.zoom``)."""
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:
        """Plain dict form, e.g. ``{"type": "uniform", "low": 0.0, "high": 1.0}``."""
        fields = {f.name: plain(getattr(self, f.name)) for f in dataclasses.fields(self)}
        if not fields.get("static"):  # stores written before ``static`` existed stay equal
            fields.pop("static", None)
        return {"type": self.kind, **fields}

    def _zoom_values(self, values: jax.typing.ArrayLike) -> np.ndarray:
        x = np.asarray(values).reshape(-1)
        if x.size == 0:
            raise ValueError(f"{self!r}: zoom needs at least one point")
        outside = int(np.sum(~self._contains(x, np)))
        if outside:
            raise ValueError(f"{self!r}: {outside} of {x.size} points lie outside it")
        return x

    @abc.abstractmethod
    def _from_unit(self, u: Any, xp: ModuleType) -> Any:
        raise NotImplementedError

    @abc.abstractmethod
    def _to_unit(self, x: Any, xp: ModuleType) -> Any:
        raise NotImplementedError

    @abc.abstractmethod
    def _contains(self, x: Any, xp: ModuleType) -> Any:
        raise NotImplementedError


def unit_grid(n: int) -> np.ndarray:
    # One point sits in the middle of the scale; more include both ends.
    return np.array([0.5]) if n == 1 else np.linspace(0.0, 1.0, n)


@dataclasses.dataclass(frozen=True, repr=False)
class _Interval(Dimension):
    """A continuous range ``[low, high]``; subclasses choose the scale."""

    low: float
    high: float
    static: bool = dataclasses.field(default=False, kw_only=True)
    dtype: ClassVar[np.dtype] = np.dtype(np.float32)

    def __post_init__(self) -> None:
        name = type(self).__name__
        check_static(name, self.static)
        low, high = as_real(name, "low", self.low), as_real(name, "high", self.high)
        object.__setattr__(self, "low", low)
        object.__setattr__(self, "high", high)
        if not low < high:
            raise ValueError(f"{name}: needs low < high, got low={low}, high={high}")
        for arg, value in (("low", low), ("high", high)):
            check_sample(name, arg, value, -F32_MAX, F32_MAX, "float32 samples")

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.low!r}, {self.high!r}{static_text(self)})"

    def grid(self, n: int) -> np.ndarray:
        return self._from_unit(unit_grid(check_count(n)), np).astype(np.float32)

    def zoom(self, values: jax.typing.ArrayLike, margin: float = 0.1) -> Dimension:
        margin = check_margin(margin)
        x = self._zoom_values(values).astype(np.float64)
        u = self._to_unit(x, np)
        lo, hi = float(u.min()) - margin, float(u.max()) + margin
        low, high = float(x.min()), float(x.max())
        # Bounds never pass the points, even where from_unit(to_unit(x)) rounds off x.
        if margin > 0:
            low = self.low if lo <= 0 else min(float(self._from_unit(np.float64(lo), np)), low)
            high = self.high if hi >= 1 else max(float(self._from_unit(np.float64(hi), np)), high)
        low, high = max(low, self.low), min(high, self.high)
        if low >= high:
            return Fixed(float(low), static=self.static)
        return type(self)(float(low), float(high), static=self.static)

    def _contains(self, x: Any, xp: ModuleType) -> Any:
        x = x.astype(np.float32)
        return (x >= np.float32(self.low)) & (x <= np.float32(self.high))

    def _clip(self, x: Any, xp: ModuleType) -> Any:
        # Rounding (float32 exp/log) may step a hair past a bound; samples never do.
        return xp.clip(x, self.low, self.high)


@dataclasses.dataclass(frozen=True, repr=False)
class Uniform(_Interval):
    """Uniform on ``[low, high]``: for values whose scale is linear (dropout, ``d``).

    Examples:
        >>> dim = Uniform(0.0, 0.5)
        >>> print(dim.grid(3), dim.from_unit(0.25))
        [0.   0.25 0.5 ] 0.125
    """

    kind: ClassVar[str] = "uniform"

    def __post_init__(self) -> None:
        super().__post_init__()
        width = self.high - self.low  # from_unit scales by it in float32
        check_sample("Uniform", "high - low", width, 0.0, F32_MAX, "float32 samples")

    def _from_unit(self, u: Any, xp: ModuleType) -> Any:
        return self._clip(self.low + u * (self.high - self.low), xp)

    def _to_unit(self, x: Any, xp: ModuleType) -> Any:
        return (x - self.low) / (self.high - self.low)


@dataclasses.dataclass(frozen=True, repr=False)
class LogUniform(_Interval):
    """Log-uniform on ``[low, high]``: every decade gets the same share of samples.

    The right scale for a learning rate: with ``LogUniform(1e-4, 1)`` a quarter of the
    samples fall in each of [1e-4, 1e-3], ..., [0.1, 1]. Needs ``0 < low < high``.

    Examples:
        >>> print(LogUniform(1e-4, 1.0).grid(5))
        [1.e-04 1.e-03 1.e-02 1.e-01 1.e+00]
    """

    kind: ClassVar[str] = "log_uniform"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.low <= 0:
            raise ValueError(f"LogUniform: needs 0 < low < high (log scale), got low={self.low}")
        # Below the smallest normal float32, a sample rounds (or flushes) to 0.
        check_sample("LogUniform", "low", self.low, F32_TINY, F32_MAX, "float32 samples")

    def _from_unit(self, u: Any, xp: ModuleType) -> Any:
        a, b = math.log(self.low), math.log(self.high)
        return self._clip(xp.exp(a + u * (b - a)), xp)

    def _to_unit(self, x: Any, xp: ModuleType) -> Any:
        a, b = math.log(self.low), math.log(self.high)
        return (xp.log(x) - a) / (b - a)


@dataclasses.dataclass(frozen=True, repr=False)
class OneMinusLogUniform(_Interval):
    """``1 - x`` is log-uniform: the right scale for momentum-like values near 1.

    With ``OneMinusLogUniform(0.9, 0.999)`` as many samples fall in [0.9, 0.99] (averaging
    over about the last 10 to 100 steps) as in [0.99, 0.999] (100 to 1000 steps).
    Needs ``0 < low < high < 1``.

    Examples:
        >>> print(OneMinusLogUniform(0.9, 0.999).grid(3))
        [0.9   0.99  0.999]
    """

    kind: ClassVar[str] = "one_minus_log_uniform"

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0 < self.low < self.high < 1:
            raise ValueError(
                "OneMinusLogUniform: needs 0 < low < high < 1 (1 - x on a log scale), "
                f"got low={self.low}, high={self.high}"
            )
        # Float32 samples: high nearer 1 than 2**-24 rounds to 1, a tiny low to 0.
        for arg, value in (("low", self.low), ("high", self.high)):
            check_sample(
                "OneMinusLogUniform", arg, value, F32_TINY, F32_BELOW_1, "float32 samples"
            )

    def _from_unit(self, u: Any, xp: ModuleType) -> Any:
        # log1p/expm1 keep the digits of 1 - x that a plain 1 - x would lose near 1.
        a, b = math.log1p(-self.low), math.log1p(-self.high)
        return self._clip(-xp.expm1(a + u * (b - a)), xp)

    def _to_unit(self, x: Any, xp: ModuleType) -> Any:
        a, b = math.log1p(-self.low), math.log1p(-self.high)
        return (xp.log1p(-x) - a) / (b - a)


@dataclasses.dataclass(frozen=True, repr=False, eq=False)
class Fixed(Dimension):
    """A constant: present in every sample, never searched.

    A number appears as a constant array (int32 for an int, float32 for a float); a
    string or bool appears as index 0 of ``labels == (value,)``, like a one-value Choice.

    Examples:
        >>> print(Fixed(1e-8).from_unit(jnp.zeros(2)), Fixed("adam").decode([0]))
        [1.e-08 1.e-08] ['adam']
    """

    value: Label
    static: bool = dataclasses.field(default=False, kw_only=True)
    kind: ClassVar[str] = "fixed"

    def __post_init__(self) -> None:
        check_static("Fixed", self.static)
        value = plain(self.value)
        if not isinstance(value, (str, bool, int, float)):
            raise TypeError(f"Fixed: value must be a number, string or bool, got {value!r}")
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"Fixed: value must be finite, got {value!r}")
        if isinstance(value, float):  # no overflow or underflow of float32
            check_float32("Fixed", "value", value)
        elif is_number(value):  # no wrap-around of int32
            check_sample("Fixed", "value", value, *INT32_ENDS)
        object.__setattr__(self, "value", value)

    def __repr__(self) -> str:
        return f"Fixed({self.value!r}{static_text(self)})"

    # Equality sees types: Fixed(1) is int32, Fixed(1.0) float32, Fixed(True) a label.
    def __eq__(self, other: object) -> bool:
        return (
            type(other) is Fixed
            and typed_values((self.value,)) == typed_values((other.value,))
            and self.static == other.static
        )

    def __hash__(self) -> int:
        return hash((typed_values((self.value,)), self.static))

    @property
    def labels(self) -> tuple[Label, ...] | None:
        return None if is_number(self.value) else (self.value,)

    @property
    def dtype(self) -> np.dtype:  # type: ignore[override]
        return np.dtype(np.float32 if isinstance(self.value, float) else np.int32)

    def _encoded(self) -> Label:
        return 0 if self.labels is not None else self.value

    def _from_unit(self, u: Any, xp: ModuleType) -> Any:
        return xp.full(u.shape, self._encoded(), self.dtype)

    def _to_unit(self, x: Any, xp: ModuleType) -> Any:
        return xp.full(x.shape, 0.5)

    def _contains(self, x: Any, xp: ModuleType) -> Any:
        return x.astype(self.dtype) == xp.asarray(self._encoded(), self.dtype)

    def grid(self, n: int) -> np.ndarray:
        check_count(n)
        return np.full((1,), self._encoded(), self.dtype)

    def zoom(self, values: jax.typing.ArrayLike, margin: float = 0.1) -> Dimension:
        check_margin(margin)
        return self
