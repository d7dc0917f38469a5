"""Why a user's ``train(hparams, key)`` failed to trace, in one line jaxtune can stand by.

:func:`explain` is asked after the one-trial trace of :func:`jaxtune.sweep.outputs.probe`
failed. It answers only what it has checked, re-tracing the function where that settles
the question (a trace computes nothing: milliseconds):

- a traced hyperparameter used where Python needs a concrete value (a shape, a Python
  ``if``, ``range``, ``int``): the dimension is found by tracing with only it traced, and
  the message says how to declare it static;
- the arguments in hyperoptax's ``fn(key, params)`` order: only when the function traces
  with the two swapped (or its first parameter is named like a key);
- the raw-key habit (``key[0]`` of a typed key): only when it traces with a raw
  ``uint32[2]`` key;
- a hyperparameter the space lacks (with the closest name).

Anything else: ``None``, and the function's own error is raised as it is. A function
that cannot take two arguments is refused before any trace (:func:`check_arity`).
"""

from __future__ import annotations

import dataclasses
import difflib
import inspect
import os
import traceback
from collections.abc import Callable, Mapping
from typing import Any

import jax
import numpy as np

__all__ = ["ARGUMENT_ORDER", "check_arity", "explain", "is_concrete_error", "is_traced", "trace"]

ARGUMENT_ORDER = (
    "jaxtune calls train(hparams, key): the hyperparameter dict first, the PRNG key second "
    "(hyperoptax's fn(key, params) is the other way round); swap the arguments"
)
_KEY_NAMES = frozenset({"key", "rng", "rngs", "prng", "prng_key", "rng_key", "seed"})
_CONCRETE = (
    jax.errors.ConcretizationTypeError,
    jax.errors.TracerBoolConversionError,
    jax.errors.TracerIntegerConversionError,
    jax.errors.TracerArrayConversionError,
)
_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _parameters(fn: Callable[..., Any]) -> list[inspect.Parameter] | None:
    try:
        return list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return None


def check_arity(fn: Callable[..., Any]) -> None:
    """``ValueError`` in one line when ``fn`` cannot be called as ``fn(hparams, key)``.

    Examples:
        >>> check_arity(lambda hparams, key: 0.0)
        >>> check_arity(lambda config: 0.0)
        Traceback (most recent call last):
        ...
        ValueError: train(hparams, key): the function takes 1 argument (config); jaxtune ...
    """
    params = _parameters(fn)
    if params is None:
        return
    try:
        inspect.Signature(params).bind({}, None)
    except TypeError:
        names = ", ".join(p.name for p in params) or "none"
        n = sum(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in params)
        raise ValueError(
            f"train(hparams, key): the function takes {n} argument{'s' * (n != 1)} ({names}); "
            "jaxtune calls it with the hyperparameter dict and a PRNG key: add a key "
            "parameter, or pass lambda hparams, key: fn(hparams)"
        ) from None


def is_concrete_error(error: BaseException) -> bool:
    """Whether ``error`` says a traced value was used where a concrete one is needed.

    Examples:
        >>> import jax.numpy as jnp
        >>> try:
        ...     jax.jit(lambda n: jnp.zeros((n,)))(3)
        ... except Exception as e:
        ...     print(is_concrete_error(e), is_concrete_error(KeyError("x")))
        True False
    """
    if isinstance(error, _CONCRETE):
        return True
    text = str(error)
    return isinstance(error, TypeError | IndexError) and (
        "Tracer(" in text or "concrete value" in text or "must be static" in text
    )


def is_traced(value: Any) -> bool:
    """Whether a hyperparameter value is traced (an array), not a plain static value.

    Examples:
        >>> is_traced(np.float32(0.1)), is_traced("relu"), is_traced(64)
        (True, False, False)
    """
    return isinstance(value, jax.Array | np.ndarray | np.generic)


def trace(
    fn: Callable[..., Any], hparams: Mapping[str, Any], key: Any, *, swap: bool = False, **kw: Any
) -> Any:
    """``jax.make_jaxpr`` of ``fn(hparams, key)`` with array values traced and plain
    (static) values passed as they are; ``swap`` calls ``fn(key, hparams)``.

    Examples:
        >>> import jax.numpy as jnp
        >>> closed = trace(lambda hp, key: hp["x"] * hp["n"], {"x": jnp.float32(1), "n": 3}, None)
        >>> len(closed.jaxpr.invars)
        1
    """
    names = list(hparams)
    static = {k: v for k, v in hparams.items() if not is_traced(v)}

    def call(traced: dict[str, Any], k: Any) -> Any:
        hp = {n: static[n] if n in static else traced[n] for n in names}
        return fn(k, hp) if swap else fn(hp, k)

    traced = {k: v for k, v in hparams.items() if k not in static}
    return jax.make_jaxpr(call, **kw)(traced, key)


def _fails(fn: Callable[..., Any], hparams: Any, key: Any, swap: bool = False) -> Any:
    try:
        trace(fn, hparams, key, swap=swap)
    except Exception as error:
        return error
    return None


def _user_line(error: BaseException) -> str:
    """``file:line`` of the last frame outside jax, flax and jaxtune, or ``""``."""
    frames = traceback.extract_tb(error.__traceback__)
    mine = [
        f
        for f in frames
        if "site-packages" not in f.filename
        and not os.path.abspath(f.filename).startswith(_PACKAGE)
        and not f.filename.startswith("<frozen")
    ]
    return f" at {os.path.basename(mine[-1].filename)}:{mine[-1].lineno}" if mine else ""


def _concrete(value: Any) -> Any:
    return np.asarray(value).item()


def _traced_culprits(fn, hparams: Mapping[str, Any], key: jax.Array) -> list[str]:
    """The traced names that alone make the trace fail the same way."""
    traced = [k for k, v in hparams.items() if is_traced(v)]
    found = []
    for name in traced:
        hp = {k: (v if k == name or k not in traced else _concrete(v)) for k, v in hparams.items()}
        error = _fails(fn, hp, key)
        if error is not None and is_concrete_error(error):
            found.append(name)
    return found


def _static_advice(name: str, space: Mapping[str, Any] | None) -> str:
    dim = None if space is None else space.get(name)
    if dim is not None and dataclasses.is_dataclass(dim):
        return f"declare it static: {name}={dataclasses.replace(dim, static=True)!r}"
    return f"declare its dimension static: static=True, e.g. {name}=Choice([...], static=True)"


def _concrete_message(fn, hparams, key, error, space) -> str:
    names = _traced_culprits(fn, hparams, key) or [k for k, v in hparams.items() if is_traced(v)]
    first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    one = len(names) == 1
    which = f"hyperparameter {names[0]!r} is" if one else f"hyperparameters {names} are"
    return (
        f"train(hparams, key): {which} traced (one compiled program serves all its "
        f"values), but the function uses it where Python needs a concrete value (a "
        f"shape, a Python if){_user_line(error)} ({type(error).__name__}: {first}); "
        f"{_static_advice(names[0], space)}: one program is then compiled per distinct value"
    )


def _swapped(fn, hparams, key, error) -> bool:
    if _fails(fn, hparams, key, swap=True) is None:  # it runs the other way round
        return True
    params = _parameters(fn) or []
    named_key = bool(params) and params[0].name in _KEY_NAMES
    return named_key and not isinstance(error, KeyError) and not is_concrete_error(error)


def _raw_key_habit(fn, hparams, key, error) -> bool:
    if not isinstance(error, IndexError):
        return False
    raw = jax.random.key_data(jax.random.key(0))
    return _fails(fn, hparams, raw) is None


def explain(
    fn: Callable[..., Any],
    hparams: Mapping[str, Any],
    key: jax.Array,
    error: BaseException,
    space: Mapping[str, Any] | None = None,
) -> str | None:
    """A one-line explanation of the failed trace ``fn(hparams, key)``, or None.

    Args:
        fn: the user's function.
        hparams: the trial it was traced on (static values plain, the others arrays).
        key: the trial's typed PRNG key.
        error: what the trace raised.
        space: the sweep's space, to name the static form of a dimension.

    Examples:
        >>> import jax.numpy as jnp
        >>> from jaxtune.space import IntUniform, Space
        >>> space = Space(width=IntUniform(8, 64))
        >>> fn = lambda hp, key: jnp.zeros((784, hp["width"])).sum()
        >>> hp = {"width": jnp.int32(8)}
        >>> try:
        ...     trace(fn, hp, jax.random.key(0))
        ... except TypeError as e:
        ...     print(explain(fn, hp, jax.random.key(0), e, space))
        train(hparams, key): hyperparameter 'width' is traced ... static=True): ...
    """
    text = str(error)
    if _swapped(fn, hparams, key, error):
        return f"train(hparams, key) failed on one trial ({type(error).__name__}: {text}); " + (
            ARGUMENT_ORDER
        )
    if is_concrete_error(error):
        return _concrete_message(fn, hparams, key, error, space)
    if _raw_key_habit(fn, hparams, key, error):
        return (
            f"train(hparams, key): the key is a typed PRNG key (jax.random.key(...), shape "
            f"()), not a raw uint32[2] array, so key[0] fails ({type(error).__name__}: "
            f"{text.splitlines()[0] if text else ''}); split it (jax.random.split(key)) or "
            "read jax.random.key_data(key)"
        )
    if isinstance(error, KeyError) and error.args and isinstance(error.args[0], str):
        name = error.args[0]
        if name not in hparams:
            close = difflib.get_close_matches(name, list(hparams), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            return (
                f"train(hparams, key) reads hparams[{name!r}], which the space does not "
                f"have{hint}; the space's names: {sorted(hparams)}"
            )
    return None
