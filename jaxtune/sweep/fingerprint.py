"""What a sweep trains, as digests: a changed function or dataset is never resumed silently.

A sweep is stored with the fingerprint of its task (``meta["fingerprint"]``):

- a user's function (:class:`jaxtune.sweep.FunctionTask`, a :func:`jaxtune.make_train`
  trainer included): ``program``, the SHA-256 of its traced program on one trial (the
  printed jaxpr, memory addresses removed, plus the bytes of every constant it closes
  over, a dataset included), and ``source``, the SHA-256 of its source text where
  ``inspect.getsource`` finds it (kept for information: an edit that leaves the program
  the same changes no number);
- the built-in :class:`jaxtune.Task`: ``data``, the SHA-256 of its dataset's arrays
  (shapes, dtypes and bytes of ``x_train``, ``y_train``, ``x_val``, ``y_val``); its
  settings are compared on their own.

Reopening the store with a different ``program`` or ``data`` digest is refused
(:func:`mismatch`).
"""

from __future__ import annotations

import hashlib
import inspect
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxtune.parallel import jaxpr_text

__all__ = ["array_digest", "fingerprint", "mismatch", "program_digest", "source_digest"]

_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")

# What changed, in the words of the one-line refusal, per fingerprint key.
_CHANGED = {
    "program": "the function's program changed since this sweep was stored",
    "data": "the dataset's content changed since this sweep was stored",
}


def _update(h: Any, x: Any) -> None:
    if hasattr(x, "dtype") and jnp.issubdtype(x.dtype, jax.dtypes.prng_key):
        x = jax.random.key_data(x)
    a = np.ascontiguousarray(np.asarray(x))
    h.update(f"{a.dtype.str}{a.shape}".encode())
    h.update(a.tobytes())


def array_digest(arrays: Iterable[Any]) -> str:
    """SHA-256 of arrays' dtypes, shapes and bytes, in order.

    Examples:
        >>> array_digest([np.zeros(2)]) == array_digest([np.zeros(2)])
        True
        >>> array_digest([np.zeros(2)]) == array_digest([np.zeros(2, np.float32)])
        False
    """
    h = hashlib.sha256()
    for x in arrays:
        _update(h, x)
    return h.hexdigest()


def program_digest(closed_jaxpr: Any) -> str:
    """SHA-256 of a ``ClosedJaxpr``: its printed text and the bytes of its constants.

    The text is what ``print(jax.make_jaxpr(f)(...))`` shows in a pipe: never coloured,
    whether stdout is a terminal, a Jupyter kernel or a file
    (:func:`jaxtune.parallel.jaxpr_text`), with ``at 0x...`` memory addresses
    (of Python callbacks in the parameters) removed, so the digest is the same in every
    process.

    Examples:
        >>> f = lambda x: x * 2.0
        >>> g = lambda x: x * 3.0
        >>> x = jnp.ones(3)
        >>> program_digest(jax.make_jaxpr(f)(x)) == program_digest(jax.make_jaxpr(f)(x))
        True
        >>> program_digest(jax.make_jaxpr(f)(x)) == program_digest(jax.make_jaxpr(g)(x))
        False
    """
    h = hashlib.sha256(_ADDRESS.sub("", jaxpr_text(closed_jaxpr)).encode())
    for const in closed_jaxpr.consts:
        _update(h, const)
    return h.hexdigest()


def source_digest(fn: Callable[..., Any]) -> str | None:
    """SHA-256 of ``fn``'s source text, or None where there is none (a builtin, a REPL)."""
    try:
        text = inspect.getsource(fn)
    except (OSError, TypeError):
        return None
    return hashlib.sha256(text.encode()).hexdigest()


def fingerprint(task: Any) -> dict[str, str]:
    """The digests of what ``task`` trains (after ``task.prepare``): see the module doc.

    A task with a ``fingerprint()`` method (:class:`jaxtune.sweep.FunctionTask`) gives its
    own; the built-in :class:`jaxtune.Task` the digest of its data; any other task none.
    """
    from jaxtune.sweep.task import Task  # the task module loads the trainer

    own = getattr(task, "fingerprint", None)
    if callable(own):
        return dict(own())
    if isinstance(task, Task):
        data = task.data()
        return {"data": array_digest([data.x_train, data.y_train, data.x_val, data.y_val])}
    return {}


def mismatch(stored: Mapping[str, Any], mine: Mapping[str, Any]) -> str | None:
    """What changed between a stored and a new fingerprint, or None.

    Only digests present on both sides are compared (``source`` never is). A store made
    before fingerprints existed has none: nothing can be compared.

    Examples:
        >>> mismatch({"program": "a", "source": "x"}, {"program": "a", "source": "y"})
        >>> mismatch({"program": "a"}, {"program": "b"})
        "the function's program changed since this sweep was stored"
    """
    for key, what in _CHANGED.items():
        if key in stored and key in mine and stored[key] != mine[key]:
            return what
    return None
