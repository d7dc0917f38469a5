"""Tests for jaxtune.parallel beyond one device, each in a fresh interpreter: sharding over
four CPU devices, two processes of one multi-host run, and the on-disk compilation cache."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

SHARDED_SCRIPT = """
import sys
sys.path.insert(0, {tests!r})
import jax, numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P
from jaxtune import parallel
from jaxtune.parallel import programs
import parallel_helpers as t

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
