"""Tests for jaxtune.datasets: splits, standardization, sources and in-jit batching."""

import functools
import sys

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from jaxtune.datasets import (
    Dataset,
    batch_indices,
    digits,
    epoch_batches,
    from_arrays,
    from_npz,
    synthetic,
    train_val_split,
)


def test_digits_shapes_and_classes():
    ds = digits()
    assert ds.x_train.shape[0] + ds.x_val.shape[0] == 1797
    assert ds.input_shape == (64,) and ds.n_classes == ds.n_out == 10
    assert ds.task == "classification" and ds.name == "digits"
    assert ds.x_train.dtype == jnp.float32 and ds.y_train.dtype == jnp.int32
    assert set(np.unique(ds.y_train).tolist()) == set(range(10))
    images = digits(flatten=False)
    assert images.input_shape == (8, 8, 1)
    # The same split and the same standardized pixels, only reshaped.
    np.testing.assert_array_equal(images.x_train.reshape(-1, 64), ds.x_train)


def test_digits_without_scikit_learn(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)  # import now fails
    with pytest.raises(ImportError, match=r'pip install "jaxtune\[data\]"'):
        digits()


def test_split_is_deterministic_disjoint_and_stratified():
    y = np.repeat(np.arange(4), [50, 30, 15, 5])
    train, val = train_val_split(y, 0.2, seed=3, stratify=True)
    assert len(val) == 20 and not set(train) & set(val)
    np.testing.assert_array_equal(np.sort(np.concatenate([train, val])), np.arange(100))
    np.testing.assert_array_equal(np.bincount(y[val]), [10, 6, 3, 1])
    again = train_val_split(y, 0.2, seed=3, stratify=True)
    np.testing.assert_array_equal(val, again[1])
    assert not np.array_equal(val, train_val_split(y, 0.2, seed=4, stratify=True)[1])
    # Random split: right size, disjoint, and still a function of the seed.
    rtrain, rval = train_val_split(y, 0.3, seed=3)
    assert len(rval) == 30 and not set(rtrain) & set(rval)
    np.testing.assert_array_equal(rval, train_val_split(y, 0.3, seed=3)[1])


def test_digits_split_depends_on_seed_only():
    a, b, c = digits(seed=1), digits(seed=1), digits(seed=2)
    np.testing.assert_array_equal(a.x_val, b.x_val)
    np.testing.assert_array_equal(a.y_train, b.y_train)
    assert not np.array_equal(a.y_val, c.y_val)


def test_standardization_uses_train_statistics_only():
    rng = np.random.default_rng(0)
    x = rng.normal([5.0, -3.0, 0.0], [2.0, 0.5, 1.0], size=(200, 3))
    x[:, 2] = 7.0  # constant: centered, not divided by its zero std
    y = rng.normal(size=200)
    ds = from_arrays(x, y, val_fraction=0.25, seed=1)
    train, val = train_val_split(y, 0.25, seed=1)
    np.testing.assert_allclose(ds.x_train[:, :2].mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(ds.x_train[:, :2].std(axis=0), 1.0, rtol=1e-5)
    assert not ds.x_train[:, 2].any() and not ds.x_val[:, 2].any()
    mean, std = x[train, :2].mean(axis=0), x[train, :2].std(axis=0)
    np.testing.assert_allclose(ds.x_val[:, :2], (x[val, :2] - mean) / std, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ds.y_val[:, 0], y[val], rtol=1e-6)
    raw = from_arrays(x, y, val_fraction=0.25, seed=1, standardize=False)
    np.testing.assert_allclose(raw.x_val, x[val], rtol=1e-6)


def test_digits_standardized_with_train_stats():
    ds = digits()
    std = ds.x_train.std(axis=0)
    varying = std > 0
    assert 0 < varying.sum() < 64  # blank corner pixels stay constant
    np.testing.assert_allclose(ds.x_train.mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(std[varying], 1.0, rtol=1e-4)
    # Validation pixels use the training mean and std (constant pixels: std 1).
    from sklearn.datasets import load_digits

    raw = load_digits()
    train, val = train_val_split(raw.target, 0.2, seed=0, stratify=True)
    mean, std = raw.data[train].mean(axis=0), raw.data[train].std(axis=0)
    expected = (raw.data[val] - mean) / np.where(std > 0, std, 1.0)
    np.testing.assert_allclose(ds.x_val, expected, rtol=1e-5, atol=1e-5)


def test_task_inference_and_regression_targets():
    x = np.arange(40.0).reshape(20, 2)
    assert from_arrays(x, np.arange(20) % 3).task == "classification"
    reg = from_arrays(x, np.linspace(0, 1, 20))
    assert reg.task == "regression" and reg.n_classes is None
    assert reg.y_train.shape == (16, 1) and reg.n_out == 1
    assert from_arrays(x, np.ones((20, 3))).n_out == 3
    # Float labels become classes when the task says so.
    assert from_arrays(x, (np.arange(20) % 2).astype(float), task="classification").n_classes == 2


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"x": np.ones((5, 2)), "y": np.ones(4)}, "same length"),
        ({"x": np.ones((1, 2)), "y": np.ones(1)}, "x needs at least 2"),
        ({"val_fraction": 0.0}, "val_fraction"),
        ({"val_fraction": 1.0}, "val_fraction"),
        ({"val_fraction": -0.1}, "val_fraction"),
        ({"x": np.array([[1.0, np.nan]] * 10)}, "x contains NaN"),
        ({"y": np.array([0.0, np.inf] * 5)}, "y contains NaN"),
        ({"task": "ranking"}, "task"),
        ({"y": np.array(["a", "b"] * 5)}, "numeric"),
        ({"y": np.array([0, -1] * 5), "task": "classification"}, "y must be"),
        ({"y": np.array([0.5, 1.0] * 5), "task": "classification"}, "y must be"),
    ],
)
def test_from_arrays_errors(kwargs, match):
    args = {"x": np.ones((10, 2)), "y": np.arange(10) % 2, **kwargs}
    with pytest.raises(ValueError, match=match):
        from_arrays(args.pop("x"), args.pop("y"), **args)


def test_from_npz(tmp_path):
    x, y = np.random.default_rng(0).normal(size=(30, 4)), np.arange(30) % 3
    np.savez(tmp_path / "mine.npz", x=x, y=y)
    ds = from_npz(tmp_path / "mine.npz", seed=5)
    assert ds.name == "mine" and ds.n_classes == 3
    np.testing.assert_array_equal(ds.x_val, from_arrays(x, y, seed=5).x_val)
    np.savez(tmp_path / "bad.npz", x=x, labels=y)
    with pytest.raises(ValueError, match="'y'"):
        from_npz(tmp_path / "bad.npz")


def test_dataset_is_a_pytree_with_static_metadata():
    ds = synthetic(n=50)
    assert len(jax.tree.leaves(ds)) == 4
    moved = jax.jit(lambda d: d.replace(x_train=d.x_train + 1.0))(ds)
    assert isinstance(moved, Dataset) and moved.task == ds.task and moved.name == "spirals"


def test_synthetic_is_deterministic_by_seed():
    a, b, c = synthetic(n=300, seed=7), synthetic(n=300, seed=7), synthetic(n=300, seed=8)
    jax.tree.map(np.testing.assert_array_equal, a, b)
    assert not np.array_equal(a.x_train, c.x_train)
    assert a.input_shape == (10,) and np.bincount(a.y_train).min() > 60  # balanced arms
    with pytest.raises(ValueError, match="n_classes"):
        synthetic(n_classes=1)


def val_scores(ds, learning_rates, epochs=5, batch_size=64, width=64):
    """Validation score of a 2-layer MLP trained by Adam, one vmapped lane per rate."""
    d, k = ds.input_shape[0], ds.n_out
    k1, k2, k3, data_key = jax.random.split(jax.random.key(0), 4)
    params = [
        (jax.random.normal(k1, (d, width)) / np.sqrt(d), jnp.zeros(width)),
        (jax.random.normal(k2, (width, width)) / np.sqrt(width), jnp.zeros(width)),
        (jax.random.normal(k3, (width, k)) / np.sqrt(width), jnp.zeros(k)),
    ]

    def predict(params, x):
        for w, b in params[:-1]:
            x = jax.nn.relu(x @ w + b[None, :])
        return x @ params[-1][0] + params[-1][1][None, :]

    def loss(params, x, y):
        out = predict(params, x)
        if ds.task == "classification":
            return optax.softmax_cross_entropy_with_integer_labels(out, y).mean()
        return jnp.mean((out - y) ** 2)

    def train(learning_rate):
        opt = optax.adam(learning_rate)  # a traced rate: one program for every lane

        def step(carry, batch):
            params, state = carry
            updates, state = opt.update(jax.grad(loss)(params, *batch), state)
            return (optax.apply_updates(params, updates), state), None

        def epoch(carry, key):
            batches = epoch_batches(key, ds.x_train, ds.y_train, batch_size)
            return jax.lax.scan(step, carry, batches)[0], None

        carry = (params, opt.init(params))
        carry = jax.lax.scan(epoch, carry, jax.random.split(data_key, epochs))[0]
        out = predict(carry[0], ds.x_val)
        if ds.task == "classification":
            return jnp.mean(out.argmax(axis=1) == ds.y_val)
        return 1 - jnp.mean((out - ds.y_val) ** 2) / jnp.var(ds.y_val)  # R^2

    return jax.jit(jax.vmap(train))(jnp.asarray(learning_rates)).tolist()


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_synthetic_is_learnable_and_the_learning_rate_matters(task):
    # 5 epochs of 64 steps; a linear model scores about 0.5 accuracy or 0.2 R^2.
    good, bad = val_scores(synthetic(task=task), [1e-2, 1e-4])
    if task == "classification":  # chance is 1/3
        assert good > 0.95 and bad < 0.7
    else:
        assert good > 0.7 and bad < 0.4


def test_batch_indices_is_a_permutation_prefix():
    idx = batch_indices(jax.random.key(0), 10, 3)
    assert idx.shape == (3, 3) and idx.dtype == jnp.int32
    flat = np.asarray(idx).ravel()
    assert len(set(flat.tolist())) == 9 and flat.min() >= 0 and flat.max() < 10
    assert not np.array_equal(idx, batch_indices(jax.random.key(1), 10, 3))
    with pytest.raises(ValueError, match="batch_size"):
        batch_indices(jax.random.key(0), 10, 11)


def test_batch_indices_under_jit_and_vmap_over_keys():
    one_epoch = functools.partial(batch_indices, n=100, batch_size=32)
    batched, sequential = jax.jit(lambda k: (jax.vmap(one_epoch)(k), jax.lax.map(one_epoch, k)))(
        jax.random.split(jax.random.key(0), 5)
    )
    assert batched.shape == (5, 3, 32)
    np.testing.assert_array_equal(batched, sequential)  # each lane is its own key's epoch
    for lane in np.asarray(batched):
        assert len(set(lane.ravel().tolist())) == 96 and lane.max() < 100
    assert not np.array_equal(batched[0], batched[1])


def test_epoch_batches_gathers_the_indexed_rows():
    x, y = jnp.arange(20.0).reshape(10, 2), jnp.arange(10)
    key = jax.random.key(3)
    xb, yb = jax.jit(epoch_batches, static_argnums=3)(key, x, y, 4)
    idx = batch_indices(key, 10, 4)
    np.testing.assert_array_equal(yb, idx)
    np.testing.assert_array_equal(xb, x[idx])


def test_transform_prepares_new_inputs_like_the_training_inputs():
    rng = np.random.default_rng(0)
    x = rng.normal([5.0, -3.0, 0.0], [2.0, 0.5, 1.0], size=(100, 3))
    x[:, 2] = 7.0  # constant: centered only
    y = np.arange(100) % 2
    ds = from_arrays(x, y, seed=1)
    train, val = train_val_split(y, 0.2, seed=1, stratify=True)
    np.testing.assert_allclose(ds.transform(x[val]), ds.x_val, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(ds.transform(x[train][0]), ds.x_train[0], rtol=1e-6, atol=1e-6)
    fresh = rng.normal(size=(4, 3))
    mean, std = x[train].mean(axis=0), x[train].std(axis=0)
    expected = (fresh - mean) / np.where(std > 0, std, 1.0)
    np.testing.assert_allclose(ds.transform(fresh), expected, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match=r"shape \(n, \*\(3,\)\)"):
        ds.transform(np.ones((4, 2)))
    raw = from_arrays(x, y, seed=1, standardize=False)
    assert raw.standardization is None
    np.testing.assert_allclose(raw.transform(fresh), fresh, rtol=1e-6)
    images = digits(flatten=False)  # the statistics keep the input shape
    assert images.standardization.mean.shape == (8, 8, 1)
    from sklearn.datasets import load_digits

    raw_images = load_digits().images[..., None]
    t, _ = train_val_split(load_digits().target, 0.2, seed=0, stratify=True)
    np.testing.assert_allclose(images.transform(raw_images[t[:5]]), images.x_train[:5], atol=1e-5)
