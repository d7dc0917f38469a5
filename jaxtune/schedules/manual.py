"""Manual decay: change the hyperparameters an ``optax.inject_hyperparams`` state holds.

Babysitting one model ("panda"): train some epochs, watch the curve, lower the learning
rate by hand, continue. optax's :func:`optax.tree_utils.tree_set` does the replacing; this
module adds what a person needs around it: a value per trial for a state batched over
trials, and an error that names the hyperparameters the state does hold.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import optax
from optax import tree_utils as otu

__all__ = ["held_hyperparams", "set_hyperparams"]

_INJECT_STATES = (optax.InjectStatefulHyperparamsState, optax.InjectHyperparamsState)


def _is_inject_state(x: Any) -> bool:
    return isinstance(x, _INJECT_STATES)


def held_hyperparams(opt_state: optax.OptState) -> tuple[set[str], set[str]]:
    """Names held by the ``inject_hyperparams`` states nested in ``opt_state``.

    Returns:
        ``(numeric, scheduled)``: names held as numbers (settable) and names driven by a
        schedule (recomputed at every update).

    Examples:
        >>> import jax.numpy as jnp, optax
        >>> state = optax.inject_hyperparams(optax.sgd)(0.1, momentum=0.9).init(jnp.zeros(2))
        >>> sorted(held_hyperparams(state)[0])
        ['learning_rate', 'momentum']
    """
    numeric: set[str] = set()
    scheduled: set[str] = set()
    for node in jax.tree_util.tree_leaves(opt_state, is_leaf=_is_inject_state):
        if _is_inject_state(node):
            by_schedule = set(getattr(node, "hyperparams_states", {}) or {})
            scheduled |= by_schedule
            numeric |= set(node.hyperparams) - by_schedule
    return numeric, scheduled


def _in_hyperparams(path: tuple[Any, ...], _: Any) -> bool:
    # Only a key of an inject state's ``hyperparams`` dict, not a same-named field elsewhere.
    return len(path) >= 2 and getattr(path[-2], "name", None) == "hyperparams"


def set_hyperparams(opt_state: optax.OptState, **values: jax.typing.ArrayLike) -> optax.OptState:
    """Change hyperparameters held by an ``optax.inject_hyperparams`` state.

    The state may be nested (inside ``optax.chain``, masked or named transforms): every
    ``inject_hyperparams`` state that holds a given name is changed. A state batched over
    trials (leading axis n) takes either one value for all trials or one per trial (shape
    ``(n,)``). Only hyperparameters given as numbers can be changed: one driven by a
    schedule is recomputed from the step count at every update, so setting it would have
    no effect and raises instead.

    Args:
        opt_state: an optimizer state containing ``inject_hyperparams`` states.
        **values: new values by hyperparameter name, e.g. ``learning_rate=1e-3``.

    Returns:
        A new state; the input is not modified.

    Raises:
        ValueError: a name no inject_hyperparams state holds (the message lists those it
            holds), a name driven by a schedule, or a value whose shape does not fit.

    Examples:
        >>> import jax.numpy as jnp, optax, jaxtune
        >>> opt = optax.inject_hyperparams(optax.sgd)(learning_rate=0.1)
        >>> state = opt.init(jnp.zeros(3))
        >>> state = jaxtune.set_hyperparams(state, learning_rate=0.01)
        >>> round(float(state.hyperparams["learning_rate"]), 6)
        0.01
    """
    numeric, scheduled = held_hyperparams(opt_state)
    fitted = {}
    for name, value in values.items():
        if name in scheduled and name not in numeric:
            raise ValueError(
                f"hyperparameter {name!r} is driven by a schedule and is recomputed at every "
                "update; pass it to inject_hyperparams as a number to change it by hand"
            )
        if name not in numeric:
            raise ValueError(
                f"the optimizer state holds no hyperparameter {name!r}; it holds {sorted(numeric)}"
                if numeric
                else "the optimizer state holds no optax.inject_hyperparams state"
            )
        old = jnp.asarray(otu.tree_get_all_with_path(opt_state, name, _in_hyperparams)[0][1])
        value = jnp.asarray(value, dtype=old.dtype)
        try:
            fitted[name] = jnp.broadcast_to(value, old.shape)
        except ValueError:
            raise ValueError(
                f"{name}: a value of shape {value.shape} does not fit the state's "
                f"shape {old.shape} (give one value, or one per trial)"
            ) from None
    return otu.tree_set(opt_state, _in_hyperparams, **fitted)
