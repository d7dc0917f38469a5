"""Shared by the tests of jaxtune.parallel: training functions, trials and the reference.

The sharded test's subprocess imports this module by name from this folder, so it holds
no pytest fixtures and needs nothing but jax and numpy.
"""

import jax
import jax.numpy as jnp
import numpy as np

N = 10  # not a multiple of any chunk size or device count used below, so padding happens

# A small MLP classifier trained with SGD + momentum on fixed synthetic data; the whole
# training is one lax.scan, as jaxtune's trainer does it.
FEATURES, HIDDEN, CLASSES, SAMPLES, BATCH, STEPS = 8, 16, 3, 32, 8, 12


def _data() -> tuple[jax.Array, jax.Array]:
    kx, kw = jax.random.split(jax.random.key(42))
    X = jax.random.normal(kx, (SAMPLES, FEATURES))
    y = jnp.argmax(X @ jax.random.normal(kw, (FEATURES, CLASSES)), axis=-1)
    return X, y


X_TRAIN, Y_TRAIN = _data()


def make_train():
    """A fresh training function (new identity, so no cached program) and its trace count."""
    traces = {"count": 0}

    def init(key):
        k1, k2 = jax.random.split(key)
        w1 = jax.random.normal(k1, (FEATURES, HIDDEN)) * jnp.sqrt(2.0 / FEATURES)
        w2 = jax.random.normal(k2, (HIDDEN, CLASSES)) * jnp.sqrt(1.0 / HIDDEN)
        return {"w1": w1, "b1": jnp.zeros(HIDDEN), "w2": w2, "b2": jnp.zeros(CLASSES)}

    def loss(params, x, y):
        h = jax.nn.relu(x @ params["w1"] + params["b1"][None, :])
        logits = h @ params["w2"] + params["b2"][None, :]
        return -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(logits), y[:, None], axis=1))

    def train(hp, key):
        traces["count"] += 1  # runs once per trace, never per execution
        params = init(key)
        velocity = jax.tree.map(jnp.zeros_like, params)

        def step(carry, i):
            params, velocity = carry
            start = (i % (SAMPLES // BATCH)) * BATCH
            x = jax.lax.dynamic_slice_in_dim(X_TRAIN, start, BATCH)
            y = jax.lax.dynamic_slice_in_dim(Y_TRAIN, start, BATCH)
            value, grads = jax.value_and_grad(loss)(params, x, y)
            velocity = jax.tree.map(lambda v, g: hp["momentum"] * v + g, velocity, grads)
            params = jax.tree.map(lambda p, v: p - hp["lr"] * v, params, velocity)
            return (params, velocity), value

        (params, _), losses = jax.lax.scan(step, (params, velocity), jnp.arange(STEPS))
        return {"losses": losses, "params": params}

    return train, traces


TRAIN, _ = make_train()  # shared by tests that only check values, so programs are reused


def make_cheap():
    """A fresh function that compiles in milliseconds, and its trace count."""
    traces = {"count": 0}

    def fn(hp, key):
        traces["count"] += 1
        w = jax.random.normal(key, (64,))  # per-lane memory, so bigger chunks need more
        return {"loss": jnp.sum((w * hp["lr"]) ** 2), "w": w * hp["momentum"]}

    return fn, traces


def cheap_reference(hp, keys):
    w = jax.vmap(lambda k: jax.random.normal(k, (64,)))(keys)
    return {
        "loss": np.sum((w * hp["lr"][:, None]) ** 2, axis=1),
        "w": w * hp["momentum"][:, None],
    }


def sample(n: int = N) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {
        "lr": 10 ** rng.uniform(-2, -0.5, n).astype(np.float32),
        "momentum": 1 - 10 ** rng.uniform(-2, -0.5, n).astype(np.float32),
    }


def one_by_one(fn, hparams, keys):
    """The reference: fn on each trial alone."""
    single = jax.jit(fn)
    outs = [single(jax.tree.map(lambda x, i=i: x[i], hparams), keys[i]) for i in range(len(keys))]
    return jax.tree.map(lambda *xs: np.stack(xs), *outs)


def assert_trees_close(actual, expected):
    assert jax.tree.structure(actual) == jax.tree.structure(expected)
    for a, e in zip(jax.tree.leaves(actual), jax.tree.leaves(expected), strict=True):
        assert a.shape == e.shape
        np.testing.assert_allclose(a, e, rtol=1e-5, atol=1e-6)
