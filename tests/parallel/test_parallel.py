"""Tests for jaxtune.parallel.run: every strategy computes exactly what one trial alone does.

Full vmap, chunks and the programs they share on one device; ``test_devices.py`` covers
sharding, ``test_calibrate.py`` the automatic chunk size, ``test_parallel_checks.py`` the
argument checks.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from parallel_helpers import (
    TRAIN,
    N,
    assert_trees_close,
    cheap_reference,
    make_cheap,
    one_by_one,
    sample,
)

from jaxtune import parallel


@pytest.fixture(scope="module")
def reference():
    hparams = sample()
    keys = jax.random.split(jax.random.key(7), N)
    return hparams, keys, one_by_one(TRAIN, hparams, keys)


@pytest.mark.parametrize("chunk_size", [None, 1, 3, 8, "auto"])
def test_lanes_equal_trials_run_alone(reference, chunk_size):
    hparams, keys, expected = reference
    out = parallel.run(TRAIN, hparams, keys, chunk_size=chunk_size)
    assert_trees_close(out, expected)
    # Training happened and depends on the hyperparameters, so equality is not vacuous.
    assert np.all(out["losses"][:, -1] < out["losses"][:, 0])
    assert len(np.unique(out["losses"][:, -1])) == N


def test_raw_uint32_keys_give_raw_keys_to_fn():
    hparams = sample()
    raw = jax.random.split(jax.random.PRNGKey(3), N)
    seen = []

    def fn(hp, key):
        seen.append(key.dtype)
        return hp["lr"] * jax.random.uniform(key)

    out = parallel.run(fn, hparams, raw, chunk_size=4)
    assert seen == [jnp.uint32]
    np.testing.assert_allclose(out, hparams["lr"] * jax.vmap(jax.random.uniform)(raw), rtol=1e-6)


def test_single_key_is_split_into_n(reference):
    hparams, _, _ = reference
    key = jax.random.key(11)
    out = parallel.run(TRAIN, hparams, key, chunk_size=8)
    assert_trees_close(out, parallel.run(TRAIN, hparams, jax.random.split(key, N), chunk_size=8))


def test_seeds_only_sweep_takes_n_from_keys():
    def fn(hp, key):
        return jax.random.uniform(key)

    keys = jax.random.split(jax.random.key(0), 5)
    out = parallel.run(fn, {}, keys, chunk_size=2)
    np.testing.assert_array_equal(out, jax.vmap(jax.random.uniform)(keys))


def test_same_shapes_compile_once_and_buckets_are_shared():
    fn, traces = make_cheap()
    keys = jax.random.split(jax.random.key(0), 17)
    hp = sample(17)

    def first(n):
        return jax.tree.map(lambda x: x[:n], hp), keys[:n]

    out = parallel.run(fn, *first(10), chunk_size=4)
    parallel.run(fn, *first(10), chunk_size=4)
    parallel.run(fn, *first(7), chunk_size=4)  # 7 trials: still chunks of 4
    assert traces["count"] == 1
    assert_trees_close(out, cheap_reference(*first(10)))
    parallel.run(fn, *first(10), chunk_size=None)  # full vmap: bucket of 16
    parallel.run(fn, *first(12), chunk_size=None)  # same bucket
    assert traces["count"] == 2
    parallel.run(fn, *first(17), chunk_size=None)  # next bucket: 32
    assert traces["count"] == 3


@pytest.mark.parametrize("chunk_size", [None, 1, 3, 4, 16])
def test_padding_never_reaches_the_output(chunk_size):
    n = 10
    hp = {"x": np.arange(1, n + 1, dtype=np.float32), "idx": np.arange(n)}

    def fn(hp, key):
        # A zero-filled padding lane would produce the sentinel -1; a leaked padding lane
        # that repeats the last trial would duplicate the last index.
        return {"idx": hp["idx"], "x": jnp.where(hp["x"] == 0, -1.0, jnp.log(hp["x"]))}

    out = parallel.run(fn, hp, jax.random.key(0), chunk_size=chunk_size)
    np.testing.assert_array_equal(out["idx"], np.arange(n))
    np.testing.assert_allclose(out["x"], np.log(hp["x"]), rtol=1e-6)
    assert out["x"].shape == (n,)


def test_mixed_pytree_round_trips():
    n = 5
    hp = {
        "pair": (np.arange(n, dtype=np.float32), np.ones((n, 3), np.int32)),
        "flag": [np.array([True, False, True, True, False])],
    }
    keys = jax.random.split(jax.random.key(1), n)

    def fn(hp, key):
        x, v = hp["pair"]
        return {
            "scalar": x * 2,
            "nested": (v * hp["flag"][0], {"sum": jnp.sum(v) + x}),
            "flag": ~hp["flag"][0],
            "key": key,
            "const": jnp.float32(3.0),
        }

    out = parallel.run(fn, hp, keys, chunk_size=2)
    assert_trees_close(
        jax.tree.map(np.asarray, {k: v for k, v in out.items() if k != "key"}),
        {
            "scalar": np.arange(n) * 2.0,
            "nested": (np.ones((n, 3)) * hp["flag"][0][:, None], {"sum": 3.0 + np.arange(n)}),
            "flag": ~hp["flag"][0],
            "const": np.full(n, 3.0),
        },
    )
    assert out["flag"].dtype == np.bool_ and out["nested"][0].dtype == np.int32
    np.testing.assert_array_equal(jax.random.key_data(out["key"]), jax.random.key_data(keys))


def test_on_chunk_reports_progress_once_per_chunk(reference):
    hparams, keys, expected = reference
    calls = []
    parallel.run(TRAIN, hparams, keys, chunk_size=3, on_chunk=lambda d, t: calls.append((d, t)))
    assert calls == [(3, N), (6, N), (9, N), (10, N)]

    chunks = []
    parallel.run(TRAIN, hparams, keys, chunk_size=4, on_chunk=lambda d, t, c: chunks.append(c))
    assert [(c.start, c.stop) for c in chunks] == [(0, 4), (4, 8), (8, 10)]
    for c in chunks:
        assert_trees_close(c.outputs, jax.tree.map(lambda x, c=c: x[c.start : c.stop], expected))
