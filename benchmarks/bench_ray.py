"""The Ray backend on two Ray nodes of one machine, against the local backend.

Starts a head and a worker node with ``ray start`` on 127.0.0.1 (one CPU each, so one
actor per node), checks that chunks run on both nodes, and measures:

- a sweep's trials/s, warm (programs compiled), on the local backend and on 2 actors;
- Ray's overhead per chunk: a chunk of a nearly free function through one actor, against
  the same chunk through :func:`jaxtune.parallel.run` in this process.

Both nodes are stopped by the process ids they started (found by their GCS port), never
by name. Run on a quiet machine; every number is wall time::

    python benchmarks/bench_ray.py [--trials 128] [--epochs 3] [--chunks 200]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import jax
import numpy as np

import jaxtune
from jaxtune import parallel
from jaxtune.backends import FORK_WARNING, RayBackend

RAY = str(Path(sys.executable).parent / "ray")  # the ray command of this environment


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pids_with(port: int) -> set[int]:
    """Processes whose command line names the cluster's GCS port (``:P`` or ``=P``)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            named = re.search(rf"[:=]{port}\b", cmd) is not None
            if named and int(entry.name) != os.getpid():
                found.add(int(entry.name))
    return found


def start_nodes(port: int) -> None:
    """A head and a worker node, one CPU each, on 127.0.0.1."""
    common = ["--num-cpus=1", "--node-ip-address=127.0.0.1", "--disable-usage-stats"]
    for extra in (
        ["--head", f"--port={port}", "--include-dashboard=false"],
        [f"--address=127.0.0.1:{port}"],
    ):
        out = subprocess.run([RAY, "start", *extra, *common], capture_output=True, text=True)
        if out.returncode != 0:
            raise RuntimeError(f"ray start {' '.join(extra)} failed:\n{out.stderr[-3000:]}")


def stop_nodes(port: int) -> None:
    """SIGTERM, then SIGKILL, every process of this cluster, by id."""
    pids = pids_with(port)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        time.sleep(2)
        pids = {p for p in pids if Path(f"/proc/{p}").exists()}
    print(f"stopped the cluster's processes; {len(pids)} left")
    # `ray start` names the newest cluster here for ray.init(); ours is gone.
    current = Path(tempfile.gettempdir()) / "ray" / "ray_current_cluster"
    if current.exists() and str(port) in current.read_text():
        current.unlink()


def timed_sweep(space, task, n, chunk, backend) -> float:
    start = time.perf_counter()
    store = tempfile.mkdtemp()
    jaxtune.Sweep(space, task, n, store=store, chunk_size=chunk, quiet=True, backend=backend).run()
    shutil.rmtree(store)
    return time.perf_counter() - start


def nearly_free(hp, key):
    return hp["x"] * 2.0 + jax.random.uniform(key)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--trials", type=int, default=128)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--chunk", type=int, default=8)
    p.add_argument("--chunks", type=int, default=200, help="chunks of the overhead probe")
    args = p.parse_args()
    rng = np.random.default_rng(1)
    centers = rng.normal(size=(3, 6)) * 1.5
    y = rng.integers(0, 3, 2500)
    npz = Path(tempfile.mkdtemp()) / "medium.npz"
    np.savez(npz, x=(centers[y] + rng.normal(size=(2500, 6))).astype(np.float32), y=y)
    space = {
        "learning_rate": {"type": "log_uniform", "low": 0.01, "high": 0.5},
        "hidden": {"type": "int_uniform", "low": 4, "high": 16},
    }
    task = jaxtune.Task(dataset=str(npz), epochs=args.epochs, batch_size=8, layers=1)
    report: dict = {"load_average": os.getloadavg(), "cpus": os.cpu_count()}

    # The local backend, warm: the second run reuses the compiled program.
    timed_sweep(space, task, args.trials, args.chunk, None)
    report["local_s"] = timed_sweep(space, task, args.trials, args.chunk, None)

    port = free_port()
    # Ray 2.5x turns token authentication on for a new head; every process must agree.
    os.environ.setdefault("RAY_AUTH_MODE", "token")
    try:
        started = time.perf_counter()
        start_nodes(port)
        report["ray_start_s"] = time.perf_counter() - started
        import ray

        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", FORK_WARNING, RuntimeWarning)
            ray.init(address=f"127.0.0.1:{port}", _node_ip_address="127.0.0.1")
        report["nodes"] = len([n for n in ray.nodes() if n["Alive"]])
        with RayBackend(resources={"num_cpus": 1}) as backend:
            started = time.perf_counter()
            timed_sweep(space, task, args.trials, args.chunk, backend)  # actors start, compile
            report["ray_first_s"] = time.perf_counter() - started
            backend.reset_stats()
            report["ray_s"] = timed_sweep(space, task, args.trials, args.chunk, backend)
            report["chunks_by_node"] = dict(backend.stats["by_node"])
        report["trials_per_s"] = {
            "local": args.trials / report["local_s"],
            "ray_2_actors": args.trials / report["ray_s"],
        }
        # Overhead per chunk: one actor, one-trial chunks of a nearly free function.
        hp = {"x": np.arange(args.chunks, dtype=np.float32)}
        keys = jax.random.split(jax.random.key(0), args.chunks)
        parallel.run(nearly_free, hp, keys, chunk_size=1)  # compile
        started = time.perf_counter()
        parallel.run(nearly_free, hp, keys, chunk_size=1)
        local_chunk = (time.perf_counter() - started) / args.chunks
        with RayBackend(resources={"num_cpus": 1}, actors=1) as one:
            one.run(nearly_free, hp, keys, chunk_size=1)  # actor start, compile
            started = time.perf_counter()
            one.run(nearly_free, hp, keys, chunk_size=1)
            ray_chunk = (time.perf_counter() - started) / args.chunks
        report["chunk_ms"] = {"local": local_chunk * 1e3, "ray_1_actor": ray_chunk * 1e3}
        report["ray_overhead_per_chunk_ms"] = (ray_chunk - local_chunk) * 1e3
        ray.shutdown()
    finally:
        stop_nodes(port)
    print(json.dumps(report, indent=2, default=str))
    assert len(report["chunks_by_node"]) == 2, "chunks did not run on both nodes"


if __name__ == "__main__":
    main()
