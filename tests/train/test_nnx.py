"""Flax NNX models in the trainer: a batched lane equals the trial alone, NNX equals linen
given the same parameters, batch statistics and dropout streams are carried, and what is
not supported says so when the trainer is built."""

from __future__ import annotations

import functools

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from jaxtune.models import as_model

from jaxtune import datasets, train
from jaxtune.train.nnx import NNXModel, as_nnx_model

RTOL = 1e-5
CURVES = ("train_loss", "val_loss", "val_metric", "learning_rate")


class Net(nnx.Module):
    """Linear, relu, linear: the NNX twin of LinenNet."""

    def __init__(self, din: int, dout: int, *, rngs: nnx.Rngs, width: int = 16):
        self.hidden = nnx.Linear(din, width, rngs=rngs)
        self.out = nnx.Linear(width, dout, rngs=rngs)

    def __call__(self, x):
        return self.out(nnx.relu(self.hidden(x)))


class LinenNet(nn.Module):
    dout: int
    width: int = 16

    @nn.compact
    def __call__(self, x):
        return nn.Dense(self.dout, name="out")(nn.relu(nn.Dense(self.width, name="hidden")(x)))


class NormDrop(nnx.Module):
    """Batch statistics and a dropout stream: both carried through training.

    No bias before the normalization: its gradient would be rounding noise only, which
    Adam turns into steps of the learning rate, different in every program.
    """

    def __init__(self, din: int, dout: int, *, rngs: nnx.Rngs):
        self.hidden = nnx.Linear(din, 16, use_bias=False, rngs=rngs)
        self.norm = nnx.BatchNorm(16, momentum=0.9, rngs=rngs)
        self.drop = nnx.Dropout(0.2, rngs=rngs)
        self.out = nnx.Linear(16, dout, rngs=rngs)

    def __call__(self, x):
        return self.out(self.drop(nnx.relu(self.norm(self.hidden(x)))))


@pytest.fixture(scope="module")
def data() -> datasets.Dataset:
    return datasets.synthetic(n=300, seed=0)


def _make(data, model, **kw) -> train.Trainer:
    kw = {"optimizer": "adam", "batch_size": 32, "max_epochs": 2, **kw}
    return train.make_train(data, model, **kw)


def _assert_curves(a, b, rtol=RTOL) -> None:
    for name in CURVES:
        np.testing.assert_allclose(getattr(a, name), getattr(b, name), rtol=rtol, err_msg=name)


@pytest.mark.parametrize("module", [Net, NormDrop], ids=["params_only", "batchnorm_dropout"])
def test_a_batched_lane_equals_the_trial_alone(data, module) -> None:
    trainer = _make(data, functools.partial(module, 10, data.n_out))
    n = 3
    hp = {"learning_rate": jnp.array([1e-3, 1e-2, 3e-2])}
    keys = jax.random.split(jax.random.key(0), n)
    batched = jax.jit(jax.vmap(trainer))(hp, keys)
    alone = jax.jit(trainer)
    for i in range(n):
        lane = {"learning_rate": hp["learning_rate"][i]}
        _assert_curves(alone(lane, keys[i]), _lane(batched, i))
    assert np.isfinite(np.asarray(batched.val_loss)).all()
    # Each trial is initialized from its own key.
    params = jax.vmap(lambda k: trainer.init(hp, k).params)(keys)
    kernels = np.asarray(params["hidden"]["kernel"][...])
    assert not np.allclose(kernels[0], kernels[1])


def _lane(hist, i):
    return jax.tree_util.tree_map(lambda x: x[i], hist)


def test_nnx_equals_linen_given_the_same_parameters(data) -> None:
    linen = LinenNet(dout=data.n_out)
    variables = linen.init(jax.random.key(3), data.x_train[:1])
    p = variables["params"]
    twin = Net(10, data.n_out, rngs=nnx.Rngs(0))
    for layer in ("hidden", "out"):
        getattr(twin, layer).kernel[...] = p[layer]["kernel"]
        getattr(twin, layer).bias[...] = p[layer]["bias"]
    fixed = as_model(lambda key, x: variables, linen.apply)
    hp = {"learning_rate": 1e-2}
    for optimizer in ("momentum", "lion"):
        a = jax.jit(_make(data, twin, optimizer=optimizer))(hp, jax.random.key(0))
        b = jax.jit(_make(data, fixed, optimizer=optimizer))(hp, jax.random.key(0))
        _assert_curves(a, b)
        assert float(a.val_loss[-1]) < float(a.val_loss[0]) * 1.5  # it trained


def test_batch_statistics_and_dropout_streams_are_carried(data) -> None:
    trainer = _make(data, functools.partial(NormDrop, 10, data.n_out))
    hp = {"learning_rate": 1e-2}
    state = trainer.init(hp, jax.random.key(0))
    assert float(jnp.abs(state.model_state["norm"]["mean"][...]).max()) == 0.0
    state, hist = jax.jit(trainer.run, static_argnums=2)(state, hp, 2)
    assert float(jnp.abs(state.model_state["norm"]["mean"][...]).max()) > 0.0
    steps = 2 * trainer.steps_per_epoch
    assert int(state.model_state["drop"]["rngs"]["count"][...]) == steps
    # Evaluation is deterministic (dropout off, running averages): the validation loss
    # of the final state equals the recorded one.
    model = trainer.model
    out = model.apply_eval(state.params, state.model_state, data.x_val)
    val = jnp.mean(trainer.loss_fn(out, data.y_val))
    np.testing.assert_allclose(val, hist.val_loss[-1], rtol=RTOL)
    with pytest.raises(TypeError, match="apply_eval"):
        model.apply(state.params, data.x_val)


def test_an_instance_starts_every_trial(data) -> None:
    model = as_nnx_model(Net(10, data.n_out, rngs=nnx.Rngs(1)))
    a = model.init(jax.random.key(0), data.x_train[:1])
    b = model.init(jax.random.key(5), data.x_train[:1])
    np.testing.assert_array_equal(a["out"]["kernel"][...], b["out"]["kernel"][...])
    factory = as_nnx_model(functools.partial(Net, 10, data.n_out))
    assert isinstance(factory, NNXModel) and factory.factory is not None


class WithCache(nnx.Module):
    def __init__(self, *, rngs: nnx.Rngs):
        self.lin = nnx.Linear(10, 3, rngs=rngs)
        self.seen = nnx.Cache(jnp.zeros(()))

    def __call__(self, x):
        return self.lin(x)


class NeedsSizes(nnx.Module):
    def __init__(self, din, dout, *, rngs):
        self.lin = nnx.Linear(din, dout, rngs=rngs)


def test_clear_errors_at_make_train(data) -> None:
    with pytest.raises(TypeError, match=r"seen of type Cache is not supported"):
        _make(data, WithCache)
    with pytest.raises(TypeError, match=r"NeedsSizes\(rngs=...\) failed.*functools.partial"):
        _make(data, NeedsSizes)
    with pytest.raises(TypeError, match=r"<lambda> returned .*, not an nnx\.Module"):
        _make(data, lambda rngs: 3)
    with pytest.raises(TypeError, match="LinenNet is a linen module class; pass an instance"):
        _make(data, LinenNet)
    with pytest.raises(TypeError, match="model must be a flax linen module"):
        _make(data, lambda x: x)  # takes no rngs: neither form
    with pytest.raises(TypeError, match="model must be a flax linen module"):
        _make(data, "mlp")


def test_an_init_apply_pair(data) -> None:
    linen = LinenNet(dout=data.n_out)
    pair = (linen.init, linen.apply)
    a = jax.jit(_make(data, pair))({"learning_rate": 1e-2}, jax.random.key(0))
    b = jax.jit(_make(data, linen))({"learning_rate": 1e-2}, jax.random.key(0))
    _assert_curves(a, b)
