"""The two compiled programs of a batch of lanes, cached by loop and shapes.

``fill(states, hparams, keys, fresh_mask, incoming, put_mask, source, copy_mask)`` first
gives every lane where ``copy_mask`` is true the state of lane ``source`` (a gather over
the lanes, its new hyperparameters written in with the loop's ``with_hyperparams`` when it
has one), then re-initializes the lanes where ``fresh_mask`` is true (new trials, in
place: no recompile), puts ``incoming`` states where ``put_mask`` is (paused trials
resumed) and leaves the others as they are;
``advance(states, hparams)`` trains every lane one epoch and returns its metrics. They are
built once per (loop identity, number of lanes) and kept for the process, so every rung,
bracket and refill, and a second sweep of the same task, reuse them. :func:`compiles`
counts how often they were traced.
"""

from __future__ import annotations

import collections
from collections.abc import Hashable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from optax import tree_utils as otu

from jaxtune.lanes.loop import hyperparams_setter

__all__ = ["Programs", "compiles", "programs", "template"]

_CACHE: dict[Hashable, Programs] = {}
_TRACES: collections.Counter[str] = collections.Counter()


class Programs(NamedTuple):
    """The jitted programs of one batch of lanes."""

    fill: Any  # (states, hparams, keys, fresh, incoming, put, source, copy) -> states
    advance: Any  # (states, hparams) -> (states, metrics of shape (lanes,))


def compiles() -> dict[str, int]:
    """How often each kind of lane program was traced in this process so far.

    Examples:
        >>> set(compiles()) <= {"fill", "advance"}
        True
    """
    return dict(_TRACES)


def programs(loop: Any, identity: Hashable, lanes: int) -> Programs:
    """The programs of ``lanes`` lanes of ``loop``; ``identity`` names the loop stably.

    Two loops with the same ``identity`` must train the same thing (the sweep passes its
    task's identity and fingerprint, its space and static group).
    """
    key = (identity, lanes)
    if key not in _CACHE:
        set_hyperparams = hyperparams_setter(loop)

        def fill(states, hparams, keys, fresh_mask, incoming, put_mask, source, copy_mask):
            _TRACES["fill"] += 1  # runs once per trace, never per call
            copied = jax.tree.map(lambda x: x[source], states)
            if set_hyperparams is not None:
                copied = jax.vmap(set_hyperparams)(copied, hparams)
            states = jax.vmap(otu.tree_where)(copy_mask, copied, states)
            fresh = _init_where(loop, hparams, keys, fresh_mask)
            states = jax.vmap(otu.tree_where)(fresh_mask, fresh, states)
            return jax.vmap(otu.tree_where)(put_mask, incoming, states)

        def advance(states, hparams):
            _TRACES["advance"] += 1
            states, metrics = jax.vmap(loop.epoch)(states, hparams)
            return states, {k: jnp.asarray(v, jnp.float32) for k, v in metrics.items()}

        # The lanes' old states are never read again: let XLA reuse their buffers (the
        # CPU backend cannot, and would warn).
        donate = () if jax.default_backend() == "cpu" else (0,)
        _CACHE[key] = Programs(
            jax.jit(fill, donate_argnums=donate), jax.jit(advance, donate_argnums=donate)
        )
    return _CACHE[key]


def _zeros(s: jax.ShapeDtypeStruct) -> Any:
    if jax.dtypes.issubdtype(s.dtype, jax.dtypes.prng_key):
        data = jax.eval_shape(jax.random.key_data, s)
        return jax.random.wrap_key_data(jnp.zeros(data.shape, data.dtype))
    return jnp.zeros(s.shape, s.dtype)


def _init_where(loop: Any, hparams: Any, keys: jax.Array, fresh_mask: jax.Array) -> Any:
    """``loop.init`` of each lane where ``fresh_mask`` is true, zeros elsewhere.

    A loop over lanes, not a vmap: XLA compiles one lane's init (about half the time of
    the batched one on a CPU, whose random-number code dominates an init) and the lanes
    that take no new trial skip it; the states equal the vmapped init's bit for bit.
    """
    one = jax.eval_shape(loop.init, jax.tree.map(lambda x: x[0], hparams), keys[0])

    def lane(args: tuple[Any, jax.Array, jax.Array]) -> Any:
        hp, key, fresh = args
        return jax.lax.cond(fresh, lambda: loop.init(hp, key), lambda: jax.tree.map(_zeros, one))

    return jax.lax.map(lane, (hparams, keys, fresh_mask))


def template(loop: Any, hparams: dict[str, np.ndarray], keys: jax.Array) -> Any:
    """Zeros shaped like ``vmap(loop.init)(hparams, keys)`` (nothing is computed)."""
    return jax.tree.map(_zeros, jax.eval_shape(jax.vmap(loop.init), hparams, keys))
