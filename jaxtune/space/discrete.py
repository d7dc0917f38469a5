"""Discrete dimensions (integers, choices, one fixed value) and the dict form of any.

The continuous ones and the :class:`Dimension` contract are in
:mod:`jaxtune.space.dimensions`.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping, Sequence
from types import ModuleType
from typing import Any, ClassVar

import jax
import jax.numpy as jnp
import numpy as np

from jaxtune.space.dimensions import (
    INT32_ENDS,
    INT32_MAX,
    INT32_MIN,
    Dimension,
    Fixed,
    Label,
    LogUniform,
    OneMinusLogUniform,
    Uniform,
    as_integer,
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

__all__ = ["DIMENSION_TYPES", "Choice", "Fixed", "IntUniform", "as_dimension"]


@dataclasses.dataclass(frozen=True, repr=False)
class IntUniform(Dimension):
    """Integers ``low..high``, both included, uniform or (``log=True``) log-uniform.

    A unit number ``u`` picks the integer ``floor(low + u * (high + 1 - low))``, so every
    integer owns an equal slice of ``[0, 1]``; with ``log=True`` the slice of ``x`` is
    proportional to ``log((x + 1) / x)`` (needs ``low >= 1``). ``to_unit`` returns the
    middle of the slice, so ``from_unit(to_unit(x)) == x`` (exactly for ranges up to
    about 1e5 with ``log=True``, 1e7 without: float32 limits).

    Examples:
        >>> dim = IntUniform(1, 4)
        >>> print(dim.from_unit(jnp.array([0.0, 0.3, 0.99])), dim.grid(10))
        [1 2 4] [1 2 3 4]
    """

    low: int
    high: int
    log: bool = False
    static: bool = dataclasses.field(default=False, kw_only=True)
    kind: ClassVar[str] = "int_uniform"
    dtype: ClassVar[np.dtype] = np.dtype(np.int32)

    def __post_init__(self) -> None:
        check_static("IntUniform", self.static)
        low, high = (
            as_integer("IntUniform", "low", self.low),
            as_integer("IntUniform", "high", self.high),
        )
        if not isinstance(self.log, bool):
            raise TypeError(f"IntUniform: log must be a bool, got {self.log!r}")
        object.__setattr__(self, "low", low)
        object.__setattr__(self, "high", high)
        if not low < high:
            raise ValueError(f"IntUniform: needs low < high, got low={low}, high={high}")
        if self.log and low < 1:
            raise ValueError(f"IntUniform: log=True needs 1 <= low < high, got low={low}")
        for arg, value in (("low", low), ("high", high)):  # high + 1 must fit too
            check_sample("IntUniform", arg, value, INT32_MIN, INT32_MAX - 1, "int32 samples")

    def __repr__(self) -> str:
        log = ", log=True" if self.log else ""
        return f"IntUniform({self.low}, {self.high}{log}{static_text(self)})"

    def _ends(self, xp: ModuleType) -> tuple[float, float, Any]:
        # The continuous scale [low, high + 1) that is floored to integers.
        if self.log:
            return math.log(self.low), math.log(self.high + 1), xp.log
        return float(self.low), float(self.high + 1), lambda v: v

    def _from_unit(self, u: Any, xp: ModuleType) -> Any:
        a, b, _ = self._ends(xp)
        c = a + u * (b - a)
        c = xp.exp(c) if self.log else c
        return xp.clip(xp.floor(c), self.low, self.high).astype(np.int32)

    def _to_unit(self, x: Any, xp: ModuleType) -> Any:
        a, b, scale = self._ends(xp)
        x = x.astype(np.float32 if xp is jnp else np.float64)
        middle = 0.5 * (scale(x) + scale(x + 1))  # middle of x's slice, on the scale
        return (middle - a) / (b - a)

    def _contains(self, x: Any, xp: ModuleType) -> Any:
        return (x >= self.low) & (x <= self.high) & (x == xp.round(x))

    def grid(self, n: int) -> np.ndarray:
        if check_count(n) >= self.high - self.low + 1:
            return np.arange(self.low, self.high + 1, dtype=np.int32)
        if n == 1:
            return self._from_unit(np.array([0.5]), np)  # the middle of the scale
        points = np.geomspace if self.log else np.linspace
        # Distinct integers: rounding may merge neighbours on a log scale, so at most n.
        return np.unique(np.round(points(self.low, self.high, n))).astype(np.int32)

    def zoom(self, values: jax.typing.ArrayLike, margin: float = 0.1) -> Dimension:
        margin = check_margin(margin)
        x = self._zoom_values(values).astype(np.int64)
        u = self._to_unit(x, np)
        lo, hi = max(0.0, float(u.min()) - margin), min(1.0, float(u.max()) + margin)
        # Outward: the integers whose slices hold the widened ends are kept.
        low = min(int(self._from_unit(np.float64(lo), np)), int(x.min()))
        high = max(int(self._from_unit(np.float64(hi), np)), int(x.max()))
        if low == high:
            return Fixed(low, static=self.static)
        return IntUniform(low, high, self.log, static=self.static)


@dataclasses.dataclass(frozen=True, repr=False, eq=False)
class Choice(Dimension):
    """One of a list of values, each equally likely.

    Numbers (all ints: int32, else float32) appear in samples as themselves, so they
    must fit: ints mixed with floats within ``+-2**24`` (exact in float32). Anything
    else (strings, booleans, or a mix with numbers) appears as the int32 index of the
    value; ``labels`` and ``decode`` turn indices back into values.

    Examples:
        >>> dim = Choice(["sgd", "momentum", "adam"])
        >>> print(dim.from_unit(jnp.array([0.1, 0.5, 0.9])), dim.decode([2, 0]))
        [0 1 2] ['adam', 'sgd']

        ``static=True``: a user's function gets the plain value, one program per value
        (a layer width, say); it survives the dict form:

        >>> wide = Choice([32, 64], static=True)
        >>> wide.to_dict(), as_dimension(wide.to_dict()) == wide, wide == Choice([32, 64])
        ({'type': 'choice', 'values': [32, 64], 'static': True}, True, False)
    """

    values: tuple[Label, ...]
    static: bool = dataclasses.field(default=False, kw_only=True)
    kind: ClassVar[str] = "choice"

    def __post_init__(self) -> None:
        check_static("Choice", self.static)
        if isinstance(self.values, (str, bytes)) or not isinstance(self.values, Iterable):
            raise TypeError(f"Choice: values must be a list, got {self.values!r}")
        values = tuple(plain(v) for v in self.values)
        object.__setattr__(self, "values", values)
        if not values:
            raise ValueError("Choice: needs at least one value, got an empty list")
        bad = [v for v in values if not isinstance(v, (str, bool, int, float))]
        if bad:
            raise TypeError(f"Choice: values must be numbers, strings or bools, got {bad!r}")
        if any(isinstance(v, float) and not math.isfinite(v) for v in values):
            raise ValueError(f"Choice: values must be finite, got {list(values)}")
        if self.labels is None:
            self._check_numbers()
        # Compare encoded values: 0.1 and 0.1 + 1e-12 are one float32.
        keys = values if self.labels is not None else tuple(self._array(np).tolist())
        if len(set(keys)) != len(keys):
            dup = sorted({repr(v) for v, k in zip(values, keys, strict=True) if keys.count(k) > 1})
            raise ValueError(f"Choice: values must be distinct, got duplicates {', '.join(dup)}")

    def __repr__(self) -> str:
        return f"Choice({list(self.values)!r}{static_text(self)})"

    def _check_numbers(self) -> None:
        # Samples hold the numbers: int32 if all are ints, else float32, which holds every
        # int up to 2**24 exactly (16777217 would be sampled as 16777216.0).
        exact = (-(2**24), 2**24, "ints with floats are float32 samples, exact up to 2**24")
        int_ends = exact if self.dtype == np.float32 else INT32_ENDS
        for v in self.values:
            if isinstance(v, int):
                check_sample("Choice", "values", v, *int_ends)
            else:
                check_float32("Choice", "values", v)

    # Equality sees types: Choice([1, 2]) samples int32, Choice([1.0, 2.0]) float32.
    def __eq__(self, other: object) -> bool:
        return (
            type(other) is Choice
            and typed_values(self.values) == typed_values(other.values)
            and self.static == other.static
        )

    def __hash__(self) -> int:
        return hash((typed_values(self.values), self.static))

    @property
    def labels(self) -> tuple[Label, ...] | None:
        return None if all(is_number(v) for v in self.values) else self.values

    @property
    def dtype(self) -> np.dtype:  # type: ignore[override]
        if self.labels is not None or all(isinstance(v, int) for v in self.values):
            return np.dtype(np.int32)
        return np.dtype(np.float32)

    def to_dict(self) -> dict[str, Any]:
        static = {"static": True} if self.static else {}
        return {"type": self.kind, "values": list(self.values), **static}

    def _array(self, xp: ModuleType) -> Any:
        return xp.asarray(self.values, self.dtype)

    def _index(self, x: Any, xp: ModuleType) -> Any:
        if self.labels is not None:
            return x.astype(np.int32)
        v = self._array(xp).reshape((1,) * x.ndim + (-1,))  # explicit rank, no promotion
        return xp.argmin(xp.abs(x[..., None].astype(v.dtype) - v), axis=-1)

    def _from_unit(self, u: Any, xp: ModuleType) -> Any:
        k = len(self.values)
        index = xp.clip(xp.floor(u * k), 0, k - 1).astype(np.int32)
        return index if self.labels is not None else self._array(xp)[index]

    def _to_unit(self, x: Any, xp: ModuleType) -> Any:
        return (self._index(x, xp) + 0.5) / len(self.values)

    def _contains(self, x: Any, xp: ModuleType) -> Any:
        if self.labels is not None:
            return (x >= 0) & (x < len(self.values)) & (x == xp.round(x))
        v = self._array(xp).reshape((1,) * x.ndim + (-1,))
        return xp.any(x[..., None].astype(v.dtype) == v, axis=-1)

    def grid(self, n: int) -> np.ndarray:
        """Every value (``n`` is ignored): a grid never skips a choice."""
        check_count(n)
        index = np.arange(len(self.values), dtype=np.int32)
        return index if self.labels is not None else self._array(np)

    def zoom(self, values: jax.typing.ArrayLike, margin: float = 0.1) -> Dimension:
        """The values seen among ``values``, in the original order (still a Choice)."""
        check_margin(margin)
        seen = set(self._index(self._zoom_values(values), np).tolist())
        kept = [v for i, v in enumerate(self.values) if i in seen]
        try:
            return Choice(kept, static=self.static)
        except ValueError:  # labels kept only numbers that samples cannot hold alone
            return self


def _is_nested(fields: Mapping[str, Any]) -> bool:
    """Whether a dict without ``"type"`` looks like a space (its values are dimensions)."""
    return bool(fields) and all(
        isinstance(v, Dimension | Mapping) or (isinstance(v, list) and v) for v in fields.values()
    )


DIMENSION_TYPES: dict[str, type[Dimension]] = {
    cls.kind: cls for cls in (LogUniform, Uniform, IntUniform, OneMinusLogUniform, Choice, Fixed)
}
"""The ``"type"`` names of the dict/TOML/JSON form, and their classes."""


def as_dimension(spec: Any) -> Dimension:
    """A dimension from its dict form or a shorthand.

    A Dimension passes through; a dict needs ``"type"`` (one of ``DIMENSION_TYPES``) and
    the fields of that type; a list or tuple is a :class:`Choice`; a bare number, string
    or bool is :class:`Fixed`.

    Args:
        spec: a Dimension, dict, list/tuple, number, string or bool.

    Returns:
        The Dimension.

    Examples:
        >>> as_dimension({"type": "log_uniform", "low": 1e-4, "high": 1})
        LogUniform(0.0001, 1.0)
        >>> as_dimension(["relu", "tanh"]), as_dimension(0.9)
        (Choice(['relu', 'tanh']), Fixed(0.9))
    """
    if isinstance(spec, Dimension):
        return spec
    if isinstance(spec, Sequence) and not isinstance(spec, (str, bytes)):
        return Choice(spec)
    if isinstance(spec, (str, bool, int, float, np.generic)):
        return Fixed(spec)
    if not isinstance(spec, Mapping):
        raise TypeError(f"expected a Dimension, dict, list or scalar, got {spec!r}")
    known = ", ".join(repr(k) for k in DIMENSION_TYPES)
    fields = dict(spec)
    if "type" not in fields and _is_nested(fields):
        raise ValueError(
            "a nested space is not supported: a space is one flat set of named dimensions; "
            f"name each inner one at the top level (e.g. 'model_width'), got {spec!r}"
        )
    if "type" not in fields:
        raise ValueError(f"a dimension dict needs a 'type', one of {known}; got {spec!r}")
    kind = fields.pop("type")
    if kind not in DIMENSION_TYPES:
        raise ValueError(f"unknown dimension type {kind!r}; known types: {known}")
    cls = DIMENSION_TYPES[kind]
    names = [f.name for f in dataclasses.fields(cls)]
    required = [f.name for f in dataclasses.fields(cls) if f.default is dataclasses.MISSING]
    unknown = sorted(set(fields) - set(names))
    missing = [n for n in required if n not in fields]
    if unknown or missing:
        problems = [f"unknown field(s) {unknown}"] * bool(unknown) + [
            f"missing field(s) {missing}"
        ] * bool(missing)
        raise ValueError(f"{kind}: {'; '.join(problems)}; a {kind} takes {', '.join(names)}")
    return cls(**fields)
