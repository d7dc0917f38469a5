"""A model with several outputs (a tuple, a dict) and a user loss that combines them, with
a metric of its own and its direction: the recorded numbers are the user's functions."""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxtune import datasets, train
from jaxtune.train.metrics import final_metrics


class MeanAndSpread(nn.Module):
    """Regression with a predicted noise level: returns (mean, log variance)."""

    @nn.compact
    def __call__(self, x):
        h = nn.relu(nn.Dense(16)(x))
        return nn.Dense(1)(h), nn.Dense(1)(h)


def gaussian_nll(outputs, y):
    mean, log_var = outputs
    return jnp.mean(0.5 * (log_var + (y - mean) ** 2 / jnp.exp(log_var)), axis=-1)


def abs_error(outputs, y):
    return jnp.mean(jnp.abs(outputs[0] - y), axis=-1)


class TwoHeads(nn.Module):
    """Classification with an auxiliary head that reconstructs the first two inputs."""

    n_classes: int

    @nn.compact
    def __call__(self, x):
        h = nn.relu(nn.Dense(16)(x))
        return {"logits": nn.Dense(self.n_classes)(h), "recon": nn.Dense(2)(h), "x": x[:, :2]}


def with_reconstruction(outputs, y):
    ce = optax.softmax_cross_entropy_with_integer_labels(outputs["logits"], y)
    return ce + 0.1 * jnp.mean((outputs["recon"] - outputs["x"]) ** 2, axis=-1)


def top1(outputs, y):
    return (jnp.argmax(outputs["logits"], axis=-1) == y).astype(jnp.float32)


CASES = {
    "regression": (
        lambda: datasets.synthetic(n=300, task="regression", seed=0),
        lambda data: MeanAndSpread(),
        dict(loss_fn=gaussian_nll, metric_fn=abs_error, metric_name="mae", maximize=False),
    ),
    "classification": (
        lambda: datasets.synthetic(n=300, seed=0),
        lambda data: TwoHeads(n_classes=data.n_out),
        dict(loss_fn=with_reconstruction, metric_fn=top1, metric_name="top1", maximize=True),
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_user_loss_and_metric_on_several_outputs(case) -> None:
    make_data, make_model, kw = CASES[case]
    data = make_data()
    model = make_model(data)
    trainer = train.make_train(data, model, optimizer="adam", batch_size=32, max_epochs=3, **kw)
    assert trainer.objective == f"val_{kw['metric_name']}" and trainer.maximize is kw["maximize"]
    hp = {"learning_rate": 1e-2}

    def fit(key):
        state = trainer.init(hp, key)
        return trainer.run(state, hp, 3, start_epoch=0)

    state, hist = jax.jit(fit)(jax.random.key(0))
    out = model.apply(state.params, data.x_val)  # the final model, by hand
    np.testing.assert_allclose(
        hist.val_loss[-1], jnp.mean(kw["loss_fn"](out, data.y_val)), rtol=1e-5
    )
    np.testing.assert_allclose(
        hist.val_metric[-1], jnp.mean(kw["metric_fn"](out, data.y_val)), rtol=1e-5
    )
    assert float(hist.val_loss[-1]) < float(hist.val_loss[0])
    final = final_metrics(hist, maximize_metric=trainer.maximize)
    assert bool(jnp.isfinite(final["val_metric"]))
    # Batched over learning rates, each lane equals the trial alone.
    rates = {"learning_rate": jnp.array([3e-3, 1e-2])}
    keys = jax.random.split(jax.random.key(1), 2)
    batched = jax.jit(jax.vmap(trainer))(rates, keys)
    alone = jax.jit(trainer)({"learning_rate": rates["learning_rate"][1]}, keys[1])
    np.testing.assert_allclose(batched.val_metric[1], alone.val_metric, rtol=1e-5)
    np.testing.assert_allclose(batched.val_loss[1], alone.val_loss, rtol=1e-5)
