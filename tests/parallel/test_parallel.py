"""Tests for jaxtune.parallel: every strategy computes exactly what one trial alone does."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.sharding import Mesh

from jaxtune import parallel
from jaxtune.parallel import programs

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


SHARDED_SCRIPT = """
import sys
sys.path.insert(0, {tests!r})
import jax, numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P
from jaxtune import parallel
from jaxtune.parallel import programs
import test_parallel as t

jax.config.update("jax_numpy_rank_promotion", "raise")
assert jax.device_count() == 4, jax.devices()
hp = t.sample()
keys = jax.random.split(jax.random.key(7), t.N)
single = parallel.run(t.TRAIN, hp, keys, chunk_size=None)

def located(hp, key):
    # axis_index tells which shard of the "trials" axis computed this lane.
    return t.TRAIN(hp, key), jax.lax.axis_index("trials")

for chunk_size, lanes in [(None, 4), (1, 1)]:
    out, where = parallel.run(located, hp, keys, chunk_size=chunk_size, devices=jax.devices())
    t.assert_trees_close(out, single)
    # Trial i sits in lane i % (4 * lanes) of its chunk: device (i % (4 * lanes)) // lanes.
    expected = (np.arange(t.N) % (4 * lanes)) // lanes
    np.testing.assert_array_equal(where, expected)
    program = next(p for sig, k, p in parallel.cached_programs()
                   if sig.fn is located and k == lanes)
    (hp_shardings, key_sharding), _ = program.compiled.input_shardings
    for sharding in [*hp_shardings, key_sharding, *program.compiled.output_shardings]:
        assert isinstance(sharding, NamedSharding) and sharding.spec == P("trials")
        assert len(sharding.device_set) == 4
        assert sharding.shard_shape((4 * lanes,)) == (lanes,)
    assert set(where.tolist()) == ({{0, 1, 2}} if lanes == 4 else {{0, 1, 2, 3}})

# A mesh with another axis: trials split over its "trials" axis (2), replicated over "x".
mesh = Mesh(np.array(jax.devices()).reshape(2, 2), ("trials", "x"))
out = parallel.run(t.TRAIN, hp, keys, chunk_size=2, devices=mesh)
t.assert_trees_close(out, single)
print("sharded ok")
"""


def _run_script(script: str, **env: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", script],
        env={**os.environ, "JAX_PLATFORMS": "cpu", **env},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    return result.stdout


def test_sharded_over_four_cpu_devices_matches_single_device():
    tests = str(Path(__file__).parent)
    out = _run_script(
        SHARDED_SCRIPT.format(tests=tests),
        XLA_FLAGS="--xla_force_host_platform_device_count=4",
    )
    assert "sharded ok" in out


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


def test_auto_calibrates_once_then_reuses_the_choice():
    hp, keys = sample(), jax.random.split(jax.random.key(5), N)
    expected = cheap_reference(hp, keys)
    parallel.clear_cache()
    fn, traces = make_cheap()
    progress = []
    out = parallel.run(fn, hp, keys, on_chunk=lambda d, t: progress.append(d))
    assert_trees_close(out, expected)
    (calibration,) = parallel.cached_calibrations()
    tried = [k for k, _ in calibration.seconds]
    assert tried[0] == 1 and calibration.bucket == 16  # sequential is always a candidate
    assert traces["count"] == len(tried)  # one program per size tried, nothing else
    assert progress[-1] == N and progress == sorted(progress)

    out = parallel.run(fn, hp, keys)
    assert_trees_close(out, expected)
    assert parallel.cached_calibrations() == (calibration,)
    assert traces["count"] == len(tried)  # no calibration, no new program

    parallel.clear_cache()
    assert parallel.cached_calibrations() == ()


def test_auto_keeps_memory_under_max_memory():
    hp, keys = sample(), jax.random.split(jax.random.key(5), N)
    parallel.clear_cache()
    fn, _ = make_cheap()
    parallel.run(fn, hp, keys, chunk_size=1)
    ((sig, _, one),) = parallel.cached_programs()
    sixteen = programs.get_program(fn, sig, 16)
    budget = (one.memory_bytes + sixteen.memory_bytes) // 2  # fits one trial, not sixteen
    out = parallel.run(fn, hp, keys, max_memory=budget)
    assert_trees_close(out, cheap_reference(hp, keys))
    (calibration,) = parallel.cached_calibrations()
    assert all(m <= budget for _, m in calibration.memory)
    assert max(k for k, _ in calibration.seconds) < 16


def test_auto_rule_takes_the_smallest_size_unless_a_bigger_one_is_clearly_faster():
    calibration = parallel.Calibration(
        bucket=16,
        seconds=((1, 1.0), (4, 3.9), (16, 12.0)),  # seconds per chunk
        memory=((1, 10), (4, 40), (16, 160)),
        calibration_seconds=0.0,
    )
    # 16 trials: k=1 takes 16 s, k=4 15.6 s (a tie, within 5 %), k=16 12 s (clearly faster).
    assert calibration.best(16, 1, None) == 16
    assert calibration.best(16, 1, 100) == 1  # k=16 does not fit; k=4 only ties with k=1
    assert calibration.best(5, 1, None) == 1  # padding: k=4 needs 2 chunks, 7.8 s
    assert calibration.best(64, 4, None) == 16  # 4 devices: 1 chunk of 16 each, 12 s


def test_explicit_chunk_size_over_max_memory_raises():
    fn, _ = make_cheap()
    with pytest.raises(ValueError, match="max_memory=16 bytes is below"):
        parallel.run(fn, sample(), jax.random.key(0), chunk_size=8, max_memory=16)


MULTI_HOST_SCRIPT = """
import sys
import jax
jax.config.update("jax_cpu_collectives_implementation", "gloo")
process_id, port = int(sys.argv[1]), sys.argv[2]
jax.distributed.initialize(f"localhost:{{port}}", num_processes=2, process_id=process_id)
import numpy as np
from jaxtune import parallel
from jaxtune.parallel import programs

assert jax.process_count() == 2 and jax.device_count() == 4 and jax.local_device_count() == 2

def fn(hp, key):
    return {{"y": hp["x"] * 2 + jax.random.uniform(key), "where": jax.lax.axis_index("trials")}}

n = 7
hp = {{"x": np.arange(n, dtype=np.float32)}}
keys = jax.random.split(jax.random.key(0), n)
expected = np.arange(n) * 2 + np.asarray(jax.vmap(jax.random.uniform)(keys))
for chunk_size, lanes in [(None, 2), (1, 1), ("auto", None)]:
    out = parallel.run(fn, hp, keys, chunk_size=chunk_size, devices=jax.devices())
    # Every process gets every output, in trial order.
    np.testing.assert_allclose(out["y"], expected, rtol=1e-6)
    if lanes is not None:
        np.testing.assert_array_equal(out["where"], (np.arange(n) % (4 * lanes)) // lanes)
print("multi-host ok", jax.process_index())
"""


def test_multi_host_two_processes_share_the_trials(tmp_path):
    import socket

    with socket.socket() as s:
        s.bind(("localhost", 0))
        port = str(s.getsockname()[1])
    script = tmp_path / "worker.py"
    script.write_text(MULTI_HOST_SCRIPT.format())
    env = {
        **os.environ,
        "JAX_PLATFORMS": "cpu",
        "XLA_FLAGS": "--xla_force_host_platform_device_count=2",
    }
    workers = [
        subprocess.Popen(
            [sys.executable, str(script), str(i), port],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(2)
    ]
    for i, worker in enumerate(workers):
        stdout, stderr = worker.communicate(timeout=300)
        assert worker.returncode == 0, stderr[-4000:]
        assert f"multi-host ok {i}" in stdout


def test_enable_compilation_cache_stores_and_reloads_programs(tmp_path):
    script = textwrap.dedent(f"""
        import jax, numpy as np
        from jaxtune import parallel
        hits = []
        jax.monitoring.register_event_listener(
            lambda event, **kw: hits.append(event) if event.endswith("cache_hits") else None)
        parallel.enable_compilation_cache({str(tmp_path)!r})
        fn = lambda hp, key: hp["a"] * 2
        hp = {{"a": np.arange(3.0)}}
        parallel.run(fn, hp, jax.random.key(0), chunk_size=2)
        assert any(p.is_file() for p in __import__("pathlib").Path({str(tmp_path)!r}).iterdir())
        parallel.clear_cache()
        jax.clear_caches()
        out = parallel.run(fn, hp, jax.random.key(0), chunk_size=2)
        assert hits, "program was compiled again instead of loaded"
        print(out.tolist())
    """)
    assert "[0.0, 2.0, 4.0]" in _run_script(script)


# --- validation: every bad argument is named, before anything is traced ---------------


def never_traced(hp, key):
    raise AssertionError("validation must happen before fn is traced")


GOOD = {"lr": np.ones(4, np.float32), "momentum": np.ones(4, np.float32)}
KEYS = jax.random.split(jax.random.key(0), 4)


def test_inconsistent_leading_axis_raises():
    hp = {"lr": np.ones(4), "momentum": np.ones(3)}
    with pytest.raises(ValueError, match=r"hparams\['momentum'\] has 3 trials"):
        parallel.run(never_traced, hp, KEYS)


def test_scalar_leaf_raises():
    with pytest.raises(ValueError, match=r"hparams\['lr'\] has no leading trial axis"):
        parallel.run(never_traced, {"lr": 0.1}, KEYS)


def test_zero_trials_raises():
    with pytest.raises(ValueError, match="hparams holds 0 trials"):
        parallel.run(never_traced, {"lr": np.ones(0)}, KEYS[:0])


def test_non_numeric_leaf_raises():
    with pytest.raises(TypeError, match=r"hparams\['opt'\] must hold numbers"):
        parallel.run(never_traced, {"opt": np.array(["sgd"] * 4)}, KEYS)


@pytest.mark.parametrize("chunk_size", [0, -3])
def test_chunk_size_below_one_raises(chunk_size):
    with pytest.raises(ValueError, match="chunk_size must be at least 1"):
        parallel.run(never_traced, GOOD, KEYS, chunk_size=chunk_size)


@pytest.mark.parametrize("chunk_size", [2.0, True, [4]])
def test_chunk_size_of_wrong_type_raises(chunk_size):
    with pytest.raises(TypeError, match="chunk_size"):
        parallel.run(never_traced, GOOD, KEYS, chunk_size=chunk_size)


def test_chunk_size_unknown_string_raises():
    with pytest.raises(ValueError, match="chunk_size"):
        parallel.run(never_traced, GOOD, KEYS, chunk_size="fast")


def test_key_count_mismatch_raises():
    with pytest.raises(ValueError, match="keys holds 3 keys but hparams holds 4 trials"):
        parallel.run(never_traced, GOOD, KEYS[:3])


def test_raw_keys_of_wrong_dtype_raise():
    with pytest.raises(TypeError, match="uint32"):
        parallel.run(never_traced, GOOD, np.zeros((4, 2), np.int32))


def test_keys_of_wrong_shape_raise():
    with pytest.raises(ValueError, match="keys of shape"):
        parallel.run(never_traced, GOOD, jax.random.split(jax.random.key(0), (4, 2)))


def test_keys_that_are_not_keys_raise():
    with pytest.raises(TypeError, match="keys must be"):
        parallel.run(never_traced, GOOD, 0)


def test_single_key_without_hparams_raises():
    with pytest.raises(ValueError, match="number of trials is unknown"):
        parallel.run(never_traced, {}, jax.random.key(0))


def test_fn_not_callable_raises():
    with pytest.raises(TypeError, match="fn must be callable"):
        parallel.run("train", GOOD, KEYS)


def test_on_chunk_not_callable_raises():
    with pytest.raises(TypeError, match="on_chunk"):
        parallel.run(never_traced, GOOD, KEYS, on_chunk=1)


@pytest.mark.parametrize(("max_memory", "error"), [(0, ValueError), ("1GB", TypeError)])
def test_bad_max_memory_raises(max_memory, error):
    with pytest.raises(error, match="max_memory"):
        parallel.run(never_traced, GOOD, KEYS, max_memory=max_memory)


def test_empty_devices_raise():
    with pytest.raises(ValueError, match="devices is empty"):
        parallel.run(never_traced, GOOD, KEYS, devices=[])


def test_devices_that_are_not_devices_raise():
    with pytest.raises(TypeError, match="devices"):
        parallel.run(never_traced, GOOD, KEYS, devices=["cpu:0"])


def test_mesh_without_trials_axis_raises():
    mesh = Mesh(np.array(jax.devices()[:1]), ("batch",))
    with pytest.raises(ValueError, match="'trials' axis"):
        parallel.run(never_traced, GOOD, KEYS, devices=mesh)
