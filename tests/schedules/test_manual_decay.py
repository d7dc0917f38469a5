"""Tests for manual decay: jaxtune.schedules.set_hyperparams on optax states."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from schedule_helpers import quadratic_grad

from jaxtune import schedules as S  # noqa: N812 (short name for a long table)

# --------------------------------------------------------------------------- set_hyperparams


def _train_steps(opt, state, w, steps):
    for _ in range(steps):
        updates, state = opt.update(quadratic_grad(w), state, w)
        w = optax.apply_updates(w, updates)
    return w, state


def test_set_hyperparams_scales_next_update_exactly() -> None:
    opt = optax.inject_hyperparams(optax.sgd)(learning_rate=0.05, momentum=None)
    w = jnp.array([1.0, -1.0])
    w, state = _train_steps(opt, opt.init(w), w, 5)
    before, _ = opt.update(quadratic_grad(w), state, w)
    lowered = S.set_hyperparams(state, learning_rate=0.005)
    after, _ = opt.update(quadratic_grad(w), lowered, w)
    np.testing.assert_allclose(np.asarray(after), np.asarray(before) * 0.1, rtol=1e-6)
    # The original state is untouched (pure function).
    assert float(state.hyperparams["learning_rate"]) == pytest.approx(0.05)


def test_set_hyperparams_nested_in_chain_under_jit() -> None:
    opt = optax.chain(
        optax.clip_by_global_norm(10.0),
        optax.inject_hyperparams(optax.adam)(learning_rate=0.01, b1=0.9),
    )
    w = jnp.array([1.0, -1.0])
    state = opt.init(w)
    new = jax.jit(lambda s: S.set_hyperparams(s, learning_rate=1e-3, b1=0.5))(state)
    inner = new[1]
    assert float(inner.hyperparams["learning_rate"]) == pytest.approx(1e-3)
    assert float(inner.hyperparams["b1"]) == pytest.approx(0.5)
    assert jax.tree_util.tree_structure(new) == jax.tree_util.tree_structure(state)


def test_set_hyperparams_on_state_batched_over_trials() -> None:
    n = 8
    opt = optax.inject_hyperparams(optax.sgd)(learning_rate=0.05)
    w = jnp.tile(jnp.array([1.0, -1.0]), (n, 1))
    state = jax.vmap(opt.init)(w)
    update = jax.vmap(lambda g, s, p: opt.update(g, s, p)[0])
    before = update(jax.vmap(quadratic_grad)(w), state, w)
    factors = jnp.linspace(0.1, 0.8, n)
    lowered = S.set_hyperparams(state, learning_rate=0.05 * factors)
    after = update(jax.vmap(quadratic_grad)(w), lowered, w)
    np.testing.assert_allclose(
        np.asarray(after), np.asarray(before) * np.asarray(factors)[:, None], rtol=1e-6
    )
    # One value for every trial is broadcast.
    same = S.set_hyperparams(state, learning_rate=0.01)
    np.testing.assert_allclose(np.asarray(same.hyperparams["learning_rate"]), np.full(n, 0.01))


def test_set_hyperparams_unknown_name_lists_held_names() -> None:
    state = optax.inject_hyperparams(optax.adam)(learning_rate=0.1).init(jnp.zeros(2))
    with pytest.raises(ValueError, match=r"no hyperparameter 'lr'.*'learning_rate'"):
        S.set_hyperparams(state, lr=0.01)


def test_set_hyperparams_without_inject_state() -> None:
    state = optax.sgd(0.1).init(jnp.zeros(2))
    with pytest.raises(ValueError, match=r"no optax\.inject_hyperparams state"):
        S.set_hyperparams(state, learning_rate=0.01)


def test_set_hyperparams_refuses_scheduled_name() -> None:
    opt = optax.inject_hyperparams(optax.sgd)(learning_rate=S.sqrt_step_decay(0.1))
    state = opt.init(jnp.zeros(2))
    with pytest.raises(ValueError, match="driven by a schedule"):
        S.set_hyperparams(state, learning_rate=0.01)


def test_set_hyperparams_wrong_shape() -> None:
    opt = optax.inject_hyperparams(optax.sgd)(learning_rate=0.05)
    state = jax.vmap(opt.init)(jnp.zeros((4, 2)))
    with pytest.raises(ValueError, match=r"learning_rate: a value of shape \(3,\)"):
        S.set_hyperparams(state, learning_rate=jnp.ones(3))
