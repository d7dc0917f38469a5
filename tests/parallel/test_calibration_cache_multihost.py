"""The calibration cache on several hosts: process 0 reads and writes, all reuse.

Two CPU processes on one machine (gloo), each with two devices, as in test_parallel.py's
multi-host test.
"""

import os
import socket
import subprocess
import sys

MULTI_HOST_SCRIPT = """
import sys
import jax
jax.config.update("jax_cpu_collectives_implementation", "gloo")
process_id, port, shared, own = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
jax.distributed.initialize(f"localhost:{port}", num_processes=2, process_id=process_id)
import numpy as np
from jaxtune import parallel
from jaxtune.parallel import calibrate
calibrate.MIN_BUDGET_SECONDS, calibrate.ROUND_SECONDS = 0.02, 0.01  # quick

# Process 1 points at a directory of its own: process 0's cache decides for both.
parallel.enable_calibration_cache(shared if process_id == 0 else own)

def fn(hp, key):
    return {"y": hp["x"] * 2 + jax.random.uniform(key)}

n = 7
hp = {"x": np.arange(n, dtype=np.float32)}
keys = jax.random.split(jax.random.key(0), n)
expected = np.arange(n) * 2 + np.asarray(jax.vmap(jax.random.uniform)(keys))
out = parallel.run(fn, hp, keys, devices=jax.devices())
np.testing.assert_allclose(out["y"], expected, rtol=1e-6)
(first,) = parallel.cached_calibrations()

parallel.clear_cache()
def no_timing(*args, **kwargs):
    raise AssertionError("calibrated again")
calibrate.calibrate = no_timing
out = parallel.run(fn, hp, keys, devices=jax.devices())
np.testing.assert_allclose(out["y"], expected, rtol=1e-6)
(second,) = parallel.cached_calibrations()
# Process 0's measurements (the timings were agreed on already; wall time is its own).
assert (second.seconds, second.noise) == (first.seconds, first.noise)
assert len(parallel.cached_programs()) == 1
print("multi-host cache ok", jax.process_index())
"""


def test_multi_host_process_zero_reads_writes_and_broadcasts(tmp_path):
    with socket.socket() as s:
        s.bind(("localhost", 0))
        port = str(s.getsockname()[1])
    script = tmp_path / "worker.py"
    script.write_text(MULTI_HOST_SCRIPT)
    shared, own = tmp_path / "shared", tmp_path / "own"
    env = {
        **os.environ,
        "JAX_PLATFORMS": "cpu",
        "XLA_FLAGS": "--xla_force_host_platform_device_count=2",
    }
    workers = [
        subprocess.Popen(
            [sys.executable, str(script), str(i), port, str(shared), str(own)],
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
        assert f"multi-host cache ok {i}" in stdout
    assert len(files(shared)) == 1
    assert files(own) == []  # process 1 never writes


def files(path):
    return sorted(p.name for p in path.iterdir()) if path.exists() else []
