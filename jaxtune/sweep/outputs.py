"""A user's ``train(hparams, key)`` checked on one trial before anything trains.

:func:`probe` traces the function once (``jax.make_jaxpr``, nothing is computed) on one
trial's hyperparameters and ``jax.random.key(0)``, and reads what it returns. Every
problem that would otherwise surface after training, or never, is a ``ValueError`` here,
naming the field: a PRNG key or a string among the outputs, an output with more than one
axis per trial, the arguments in the wrong order (hyperoptax's ``fn(key, params)``), a
hyperparameter the space does not have; :func:`check_objective` adds a missing or
misspelled objective, with the closest name.

What an output may be, per trial:

- a number (shape ``()``): stored as a final value;
- a 1-D array, one entry per epoch: stored as a curve, its final value the last finite
  entry (NaN marks an epoch not run, as in :class:`jaxtune.History`);
- a :class:`jaxtune.History`: stored as the built-in trainer's outputs are.

Outputs are a dict (nested dicts give ``"outer/inner"`` names) or one bare number or
curve, stored under the objective's name.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxtune.sweep.explain import ARGUMENT_ORDER, check_arity, explain, trace
from jaxtune.train import History

__all__ = ["ARGUMENT_ORDER", "Probe", "check_objective", "history_names", "named", "probe"]


class Probe(NamedTuple):
    """What one traced trial of a user's function returns.

    Attributes:
        history: the function returns a :class:`jaxtune.History`.
        fields: ``{name: per-trial shape}`` of each output (``()`` a number, ``(E,)`` a
            curve); the name ``""`` is a bare (not named) output. Empty for a History.
        seeds: for a History, whether it has a seed axis.
        jaxpr: the traced program (a ``ClosedJaxpr``), for the sweep's fingerprint.
    """

    history: bool
    fields: dict[str, tuple[int, ...]]
    seeds: bool
    jaxpr: Any


def _part(entry: Any) -> str:
    for attr in ("key", "name", "idx"):
        if hasattr(entry, attr):
            return str(getattr(entry, attr))
    return str(entry)


def named(outputs: Any, root: str) -> dict[str, Any]:
    """``{name: leaf}`` of a (possibly nested) output; a bare leaf is named ``root``.

    Examples:
        >>> named({"a": 1.0, "b": {"c": 2.0}}, "val_loss")
        {'a': 1.0, 'b/c': 2.0}
        >>> named(3.0, "val_loss")
        {'val_loss': 3.0}
    """
    leaves, _ = jax.tree_util.tree_flatten_with_path(outputs)
    return {("/".join(_part(e) for e in path) or root): leaf for path, leaf in leaves}


def history_names(metric: str, seeds: bool) -> list[str]:
    """The final values stored for a History output (see :mod:`jaxtune.sweep.records`)."""
    names = ["val_loss", f"val_{metric}", "train_loss", "best_epoch", "epochs_completed"]
    return names + (["val_loss_std", f"val_{metric}_std"] if seeds else [])


def _is_array_like(x: Any) -> bool:
    return isinstance(x, bool | int | float | np.number | np.ndarray | jax.Array)


def _what(name: str) -> str:
    return f"output {name!r}" if name else "the output"


def probe(
    fn: Callable[..., Any],
    hparams: Mapping[str, Any],
    key: jax.Array,
    space: Mapping[str, Any] | None = None,
) -> Probe:
    """Trace ``fn(hparams, key)`` once and check what it returns.

    Args:
        fn: the user's pure training function of one trial.
        hparams: one trial's hyperparameters (scalars: arrays are traced, plain Python
            values, a static dimension's, stay as they are).
        key: a PRNG key, e.g. ``jax.random.key(0)``.
        space: the sweep's space, to name a dimension's static form in a message.

    Returns:
        The :class:`Probe`.

    Raises:
        ValueError: an output is not a number or a per-epoch curve (naming it), or the
            trace failed in a way jaxtune can explain (:mod:`jaxtune.sweep.explain`: a
            traced hyperparameter used as a shape or in a Python ``if``, argument order,
            a hyperparameter the space lacks). Other errors of ``fn`` are raised as
            they are.

    Examples:
        >>> import jax.numpy as jnp
        >>> p = probe(
        ...     lambda hp, key: {"val_loss": hp["x"] ** 2, "curve": jnp.ones(3)},
        ...     {"x": jnp.float32(0.5)},
        ...     jax.random.key(0),
        ... )
        >>> p.history, p.fields
        (False, {'curve': (3,), 'val_loss': ()})
    """
    check_arity(fn)
    bad: dict[str, str] = {}
    kept: dict[str, Any] = {}

    def traced(hp: Any, k: jax.Array) -> Any:
        out = fn(hp, k)
        if isinstance(out, History):
            kept["history"] = True
            return out
        leaves = named(out, "")
        for name, leaf in leaves.items():
            if not _is_array_like(leaf):
                bad[name] = type(leaf).__name__
        return {name: leaf for name, leaf in leaves.items() if name not in bad}

    try:
        closed, shapes = trace(traced, hparams, key, return_shape=True)
    except Exception as error:
        message = explain(fn, hparams, key, error, space)
        if message is None:
            raise
        raise ValueError(message) from None  # one line: the trace is not the user's bug
    if bad:
        name, kind = next(iter(bad.items()))
        raise ValueError(
            f"train(hparams, key): {_what(name)} is a {kind}, not a number; return numbers "
            "only (a scalar, or a 1-D array with one value per epoch)"
        )
    if kept.get("history"):
        return Probe(True, {}, shapes.val_loss.ndim == 2, closed)
    fields = {}
    for name, shape in shapes.items():
        dtype = shape.dtype
        if jnp.issubdtype(dtype, jax.dtypes.prng_key):
            raise ValueError(
                f"train(hparams, key): {_what(name)} is a PRNG key array ({dtype}), not a "
                "number; return numbers only (drop the key, or return "
                "jax.random.key_data(key) if you must keep it)"
            )
        if not (jnp.issubdtype(dtype, jnp.floating) or jnp.issubdtype(dtype, jnp.integer)) and (
            dtype != jnp.bool_
        ):
            raise ValueError(f"train(hparams, key): {_what(name)} has dtype {dtype}, not a number")
        if len(shape.shape) > 1:
            raise ValueError(
                f"train(hparams, key): {_what(name)} has shape {shape.shape} per trial; "
                "return a number or a 1-D array with one value per epoch"
            )
        fields[name] = tuple(shape.shape)
    if not fields:
        raise ValueError("train(hparams, key) returns no number: return e.g. {'val_loss': loss}")
    return Probe(False, fields, False, closed)


def check_objective(found: Probe, objective: str, metric: str = "metric") -> None:
    """Raise ``ValueError`` when ``objective`` is not among the outputs of ``found``.

    The message lists the outputs and names the closest one (``difflib``).

    Examples:
        >>> p = Probe(False, {"val_los": ()}, False, None)
        >>> check_objective(p, "val_loss")
        Traceback (most recent call last):
        ...
        ValueError: objective 'val_loss' is not an output ...: did you mean 'val_los'? ...
    """
    if found.history:
        names = history_names(metric, found.seeds)
    else:
        names = [name or objective for name in found.fields]
    if objective in names:
        return
    close = difflib.get_close_matches(objective, names, n=1, cutoff=0.5)
    advice = f"did you mean {close[0]!r}?" if close else "pass objective= naming one"
    raise ValueError(
        f"objective {objective!r} is not an output of train(hparams, key): {advice} "
        f"Its outputs: {names}"
    )
