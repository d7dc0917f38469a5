"""The Ray backend on a local Ray instance (2 CPUs) that this module starts once.

Every sweep here is the same 64-trial sweep; the local run is the reference. The Ray runs
must store every trial exactly once with the same numbers (rtol 1e-5), whatever actor ran
it: after an actor is SIGKILLed mid-sweep, and after the driver is killed and
``jaxtune resume`` finishes the sweep.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import time
import warnings
from pathlib import Path

import jax
import numpy as np
import pytest
from cli_process import start_cli
from doc_blocks import blocks, smaller
from jax.experimental.compilation_cache import compilation_cache

import jaxtune
from jaxtune.backends import FORK_WARNING, RayBackend
from jaxtune.sweep import Task

ray = pytest.importorskip("ray")

# One Ray instance per module: under `--dist loadgroup` these tests share one xdist worker.
pytestmark = pytest.mark.xdist_group("ray")

N = 64
SPACE = {
    "learning_rate": {"type": "log_uniform", "low": 0.01, "high": 0.5},
    "hidden": {"type": "int_uniform", "low": 4, "high": 16},
}
TASK = {"epochs": 3, "batch_size": 8, "layers": 1}


def _task(npz: str) -> Task:
    return Task(dataset=npz, **TASK)


def _sweep(npz: str, store: Path, backend=None, task=None) -> jaxtune.Sweep:
    task = task or _task(npz)
    return jaxtune.Sweep(
        SPACE, task, N, store=str(store), chunk_size=4, quiet=True, backend=backend
    )


def _assert_same(got: jaxtune.Results, want: jaxtune.Results) -> None:
    assert [t.trial for t in got.trials] == list(range(N))  # each trial once
    for g, w in zip(got.trials, want.trials, strict=True):
        assert g.hparams == w.hparams
        for name in ("val_loss", "val_accuracy", "train_loss"):
            np.testing.assert_allclose(g.final[name], w.final[name], rtol=1e-5)
        np.testing.assert_allclose(g.curves["val_loss"], w.curves["val_loss"], rtol=1e-5)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A local Ray instance (2 CPUs, no dashboard) for this module; shut down after it."""
    with warnings.catch_warnings():
        # Ray's launcher forks and execs at once: no JAX thread runs in the child.
        warnings.filterwarnings("ignore", FORK_WARNING, RuntimeWarning)
        ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    cache = str(tmp_path_factory.mktemp("xla"))
    # The local reference writes its programs to the cache the actors read: they load them
    # instead of compiling (the same jax, program and CPU).
    names = ("jax_compilation_cache_dir", "jax_persistent_cache_min_compile_time_secs")
    before = {name: getattr(jax.config, name) for name in names}
    jaxtune.enable_compilation_cache(cache)
    yield {"address": ray.get_runtime_context().gcs_address, "cache": cache}
    for name, value in before.items():
        jax.config.update(name, value)
    compilation_cache.reset_cache()
    ray.shutdown()


@pytest.fixture(scope="module")
def task(medium_npz) -> Task:
    """One task object for the module: the backend's actors keep it and its programs."""
    return _task(medium_npz)


@pytest.fixture(scope="module")
def reference(tmp_path_factory, cluster, task) -> jaxtune.Results:
    """The sweep on the local backend."""
    return _sweep("", tmp_path_factory.mktemp("local") / "run", task=task).run()


class _KillsAnActor(RayBackend):
    """Once armed, SIGKILLs the *other* actor when a chunk comes back: it has chunks queued."""

    armed = False
    killed: int | None = None

    def _finished(self, job, spec, outputs, where) -> None:
        super()._finished(job, spec, outputs, where)
        if self.armed and self.killed is None:
            victim = next(w["pid"] for w in self.workers() if w["pid"] != where["pid"])
            os.kill(victim, signal.SIGKILL)
            self.killed = victim


@pytest.fixture(scope="module")
def backend(cluster):
    """One backend for the module: its actors keep the task and their programs."""
    with _KillsAnActor(resources={"num_cpus": 1}, compilation_cache=cluster["cache"]) as b:
        yield b


def test_the_docs_ray_block_runs_on_this_modules_ray(tmp_path, cluster, tiny_npz, monkeypatch):
    # First in the module: the shared backend's actors (both CPUs) do not exist yet.
    monkeypatch.chdir(tmp_path)
    code = smaller(
        blocks("Beyond one machine")[0],
        gpus='resources={"num_gpus": 1} -> resources={"num_cpus": 1}',
        data=f'dataset="digits") -> dataset="{tiny_npz}", epochs=2)',
        trials="1024, -> 8,",
        chunk="chunk_size=16 -> chunk_size=4",
    )
    scope: dict = {}
    exec(compile(code, "docs/scale.md", "exec"), scope)
    results = scope["results"]
    assert [t.trial for t in results.trials] == list(range(8))
    assert results.meta["backend"]["kind"] == "ray" and ray.is_initialized()  # not its own


def test_a_sweep_on_ray_equals_the_local_sweep(tmp_path, task, reference, backend):
    backend.reset_stats()
    fresh = 2 - len(backend.workers())  # xdist may run the module's tests in any order
    got = _sweep("", tmp_path / "run", backend, task).run()
    _assert_same(got, reference)
    assert backend.stats["chunks"] == N // 4 and backend.stats["resubmitted"] == 0
    assert len(backend.stats["by_pid"]) == 2  # both actors ran chunks
    assert backend.stats["actors_started"] == fresh


def test_sigkill_of_an_actor_mid_sweep_keeps_every_trial_once(tmp_path, task, reference, backend):
    backend.reset_stats()
    fresh = 2 - len(backend.workers())
    backend.armed = True
    got = _sweep("", tmp_path / "run", backend, task).run()
    assert backend.killed is not None
    assert backend.stats["resubmitted"] >= 1 and backend.stats["actors_started"] == fresh + 1
    assert backend.stats["chunks"] == N // 4
    _assert_same(got, reference)


def test_run_a_function_like_parallel_run(backend) -> None:
    def fn(hp, key):
        return {"y": hp["x"] ** 2 + jax.random.normal(key)}

    x = np.linspace(0, 1, 10, dtype=np.float32)
    keys = jax.random.split(jax.random.key(1), 10)
    seen = []
    got = backend.run(fn, {"x": x}, keys, chunk_size=4, on_chunk=lambda d, n, c: seen.append(c))
    want = jaxtune.parallel.run(fn, {"x": x}, keys, chunk_size=4)
    np.testing.assert_allclose(got["y"], want["y"], rtol=1e-6)
    assert sorted((c.start, c.stop) for c in seen) == [(0, 4), (4, 8), (8, 10)]


def _count(db: Path) -> int:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
            return conn.execute("SELECT COUNT(*) FROM trials").fetchone()[0]
    except sqlite3.OperationalError:  # no database or no tables yet
        return 0


def test_killed_driver_then_jaxtune_resume_finishes_on_ray(
    tmp_path, medium_npz, reference, cluster, backend
):
    backend.close(shutdown=False)  # the CPUs go to the command's actors
    cfg = tmp_path / "sweep.toml"
    space = "\n".join(
        f'{k} = {{ type = "{v["type"]}", low = {v["low"]}, high = {v["high"]} }}'
        for k, v in SPACE.items()
    )
    task = "\n".join(f"{k} = {v}" for k, v in TASK.items())
    cfg.write_text(
        f'trials = {N}\nchunk_size = 4\n[task]\ndataset = "{medium_npz}"\n{task}\n'
        f'[space]\n{space}\n[backend]\nkind = "ray"\naddress = "{cluster["address"]}"\n'
        f'compilation_cache = "{cluster["cache"]}"\n'
    )
    out = tmp_path / "run"
    proc = start_cli("sweep", str(cfg), "--out", str(out), "--quiet", "--no-cache")
    deadline = time.monotonic() + 120
    while _count(out / "sweep.db") < 4:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the sweep made no progress"
        time.sleep(0.002)
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    stored = _count(out / "sweep.db")
    assert 4 <= stored < N, f"the kill came too late to test anything: {stored} trials"
    resume = start_cli("resume", str(out), "--quiet", "--no-cache")  # the store's backend
    stdout, stderr = resume.communicate(timeout=180)
    assert resume.returncode == 0, stderr[-3000:]
    assert "rank" in stdout
    results = jaxtune.load(out)
    assert results.meta["backend"]["kind"] == "ray"
    _assert_same(results, reference)


def test_a_gpu_actor_on_a_local_instance_without_gpus_is_refused_not_hung(cluster) -> None:
    # README's Ray block (resources={"num_gpus": 1}) waited forever on a CPU-only machine.
    x = np.linspace(0, 1, 4, dtype=np.float32)
    keys = jax.random.split(jax.random.key(1), 4)
    with (
        RayBackend(resources={"num_gpus": 1}) as gpus,
        pytest.raises(ValueError, match=r"one actor needs 1 GPU but this Ray instance has 0"),
    ):
        gpus.run(lambda hp, key: {"y": hp["x"]}, {"x": x}, keys, chunk_size=2)
