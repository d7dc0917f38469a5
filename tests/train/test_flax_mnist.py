"""The Flax MNIST example's NNX CNN, unchanged, through make_train: same numbers as its loop.

``CNN`` below is copied as written from google/flax ``examples/mnist/train.py``
(Copyright 2024 The Flax Authors, Apache License 2.0): its ``__call__`` takes ``rngs``,
it has Dropout and BatchNorm. Its 3136-wide linear layer needs 28x28 images: digits,
upsampled. The reference is the example's own loop (``nnx.Optimizer``, ``nnx.jit``
train step, ``model.train()`` / ``model.eval()``), fed the mini-batches jaxtune's shared
order draws, the model built from ``nnx.Rngs(init_key)`` and called with another
``nnx.Rngs(init_key)``, as the example does with seed 0.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

import jaxtune
from jaxtune.train.batching import batch_indices

# ---- verbatim from flax/examples/mnist/train.py (2-space indent kept) -----------------
# fmt: off


class CNN(nnx.Module):
  """A simple CNN model."""

  def __init__(self, rngs: nnx.Rngs):
    self.conv1 = nnx.Conv(1, 32, kernel_size=(3, 3), rngs=rngs)
    self.batch_norm1 = nnx.BatchNorm(32, rngs=rngs)
    self.dropout1 = nnx.Dropout(rate=0.025)
    self.conv2 = nnx.Conv(32, 64, kernel_size=(3, 3), rngs=rngs)
    self.batch_norm2 = nnx.BatchNorm(64, rngs=rngs)
    self.avg_pool = partial(nnx.avg_pool, window_shape=(2, 2), strides=(2, 2))
    self.linear1 = nnx.Linear(3136, 256, rngs=rngs)
    self.dropout2 = nnx.Dropout(rate=0.025)
    self.linear2 = nnx.Linear(256, 10, rngs=rngs)

  def __call__(self, x, rngs: nnx.Rngs):
    x = self.avg_pool(nnx.relu(self.batch_norm1(self.dropout1(self.conv1(x), rngs=rngs))))
    x = self.avg_pool(nnx.relu(self.batch_norm2(self.conv2(x))))
    x = x.reshape(x.shape[0], -1)  # flatten
    x = nnx.relu(self.dropout2(self.linear1(x), rngs=rngs))
    x = self.linear2(x)
    return x


def loss_fn(model: CNN, batch, rngs):
  logits = model(batch['image'], rngs)
  loss = optax.softmax_cross_entropy_with_integer_labels(
    logits=logits, labels=batch['label']
  ).mean()
  return loss, logits


@nnx.jit
def train_step(model: CNN, optimizer: nnx.Optimizer, metrics: nnx.MultiMetric, batch, rngs):
  """Train for a single step."""
  grad_fn = nnx.value_and_grad(loss_fn, has_aux=True)
  (loss, logits), grads = grad_fn(model, batch, rngs)
  metrics.update(loss=loss, logits=logits, labels=batch['label'])  # In-place updates.
  optimizer.update(model, grads)  # In-place updates.


# fmt: on
# ---- end of the example's code -----------------------------------------------------

HP = {"learning_rate": 0.1, "momentum": 0.9}  # the example's default config
BATCH, EPOCHS, ORDER_SEED = 128, 2, 0
LOSS_RTOL = 1e-5  # a scanned program vs per-step jit: measured 2.3e-7 (reassociation)


@pytest.fixture(scope="module")
def data():
    d = jaxtune.datasets.digits(flatten=False)

    def big(x):  # 8x8 -> 24x24 (each pixel 3x3), padded to 28x28
        x = np.repeat(np.repeat(np.asarray(x), 3, axis=1), 3, axis=2)
        return np.pad(x, ((0, 0), (2, 2), (2, 2), (0, 0)))

    # Small: 384 training and 128 validation images, so two epochs take seconds.
    return jaxtune.datasets.Dataset(
        jnp.asarray(big(d.x_train[:384])),
        d.y_train[:384],
        jnp.asarray(big(d.x_val[:128])),
        d.y_val[:128],
        task="classification",
        n_classes=10,
        name="digits28",
    )


def example_loop(data, key):
    """The example's train_and_evaluate, in memory, per epoch: (val_loss, val_accuracy)."""
    init_key, _ = jax.random.split(key)  # as jaxtune's trainer splits a trial's key
    model = CNN(rngs=nnx.Rngs(init_key))
    optimizer = nnx.Optimizer(model, optax.sgd(HP["learning_rate"], HP["momentum"]), wrt=nnx.Param)
    metrics = nnx.MultiMetric(accuracy=nnx.metrics.Accuracy(), loss=nnx.metrics.Average("loss"))
    rngs = nnx.Rngs(init_key)
    order = jax.random.fold_in(jax.random.key(ORDER_SEED), 0)
    out = []
    for epoch in range(EPOCHS):
        model.train()
        idx = batch_indices(jax.random.fold_in(order, epoch), data.x_train.shape[0], BATCH)
        for rows in np.asarray(idx):
            batch = {"image": data.x_train[rows], "label": data.y_train[rows]}
            train_step(model, optimizer, metrics, batch, rngs)
        metrics.reset()
        model.eval()
        loss, logits = loss_fn(model, {"image": data.x_val, "label": data.y_val}, None)
        out.append((float(loss), float(jnp.mean(jnp.argmax(logits, -1) == data.y_val))))
    return out


def test_the_flax_mnist_cnn_unchanged_agrees_with_the_examples_own_loop(data):
    trainer = jaxtune.make_train(
        data, CNN, optimizer=optax.sgd, batch_size=BATCH, max_epochs=EPOCHS, order_seed=ORDER_SEED
    )
    key = jax.random.key(3)
    hist = jax.jit(trainer)(HP, key)
    want = example_loop(data, key)
    np.testing.assert_allclose(hist.val_loss, [w[0] for w in want], rtol=LOSS_RTOL)
    # Accuracy: at most one of 128 validation images on the other side of a tie.
    np.testing.assert_allclose(hist.val_metric, [w[1] for w in want], atol=1.5 / 128)
    assert float(hist.val_loss[-1]) < float(np.log(10.0))  # it learned something


class KeepsRngs(nnx.Module):
    """The idiomatic fix people reach for: keep the Rngs, draw from it in ``__call__``."""

    def __init__(self, rngs: nnx.Rngs):
        self.rngs = rngs
        self.linear = nnx.Linear(28 * 28, 10, rngs=rngs)
        self.dropout = nnx.Dropout(0.1, rngs=rngs)

    def __call__(self, x):
        x = x.reshape(x.shape[0], -1)
        return self.linear(self.dropout(x) + 0.01 * jax.random.normal(self.rngs(), x.shape))


def test_a_model_that_keeps_its_rngs_trains_and_a_lane_equals_the_trial_alone(data):
    trainer = jaxtune.make_train(data, KeepsRngs, optimizer="sgd", batch_size=BATCH, max_epochs=2)
    keys = jax.random.split(jax.random.key(0), 2)
    hp = {"learning_rate": jnp.array([0.05, 0.1])}
    batched = jax.jit(jax.vmap(trainer))(hp, keys)
    alone = jax.jit(trainer)({"learning_rate": 0.1}, keys[1])
    np.testing.assert_allclose(batched.val_loss[1], alone.val_loss, rtol=1e-5)
    assert float(alone.val_metric[-1]) > 0.5
