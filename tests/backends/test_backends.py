"""The backends' face without a Ray cluster: choices, bad input, chunks, the worker."""

from __future__ import annotations

import subprocess
import sys

import jax
import numpy as np
import pytest

import jaxtune
from jaxtune import parallel
from jaxtune.backends import ChunkWorker, GroupJob, RayBackend, as_backend, cut
from jaxtune.sweep import Task


def test_import_jaxtune_does_not_import_ray() -> None:
    code = "import sys, jaxtune; jaxtune.RayBackend(); print('ray' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "False"


def test_as_backend_choices_and_round_trip() -> None:
    assert as_backend(None) is None and as_backend("local") is None
    assert isinstance(as_backend("ray"), RayBackend)
    b = RayBackend(address="auto", resources={"num_gpus": 1}, max_retries=1, actors=2)
    again = as_backend(b.to_dict())
    assert again.to_dict() == b.to_dict() and as_backend(b) is b


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        ("spark", r"backend must be one of \['local', 'ray'\]"),
        ({"kind": "dask"}, r"backend.kind must be one of \['local', 'ray'\]"),
        ({"kind": "ray", "gpus": 1}, r"unknown option 'gpus'; allowed: \['address'"),
        ({"kind": "ray", "max_retries": -1}, "max_retries must be an integer >= 0"),
        ({"kind": "ray", "resources": {"gpu": 1}}, r"unknown key 'gpu'; allowed: \['num_cpus'"),
        ({"kind": "ray", "resources": {"num_gpus": -1}}, r"resources\['num_gpus'\] must be"),
        ({"kind": "ray", "actors": 0}, "actors must be an integer >= 1"),
        ({"kind": "ray", "address": 6379}, "address must be None or a string"),
    ],
)
def test_bad_backend_names_the_argument_and_allowed_values(spec, match) -> None:
    with pytest.raises(ValueError, match=match):
        as_backend(spec)


def test_a_scheduler_with_a_backend_says_it_waits(tiny_npz, tmp_path) -> None:
    space = {"learning_rate": {"type": "log_uniform", "low": 0.01, "high": 0.5}}
    with pytest.raises(ValueError, match="scheduler's rungs run in this process only"):
        jaxtune.Sweep(
            space,
            Task(dataset=tiny_npz),
            8,
            store=str(tmp_path),
            scheduler={"kind": "successive_halving"},
            backend="ray",
        )


def test_a_model_based_sampler_with_a_backend_says_it_waits(tiny_npz, tmp_path) -> None:
    space = {"learning_rate": {"type": "log_uniform", "low": 0.01, "high": 0.5}}
    with pytest.raises(ValueError, match="model-based sampler's rounds run in this process"):
        jaxtune.Sweep(space, Task(dataset=tiny_npz), 8, store=str(tmp_path / "s"),
                      sampler="tpe", batch=4, backend="ray")  # fmt: skip
    assert not (tmp_path / "s").exists()


def test_chunks_are_cut_by_trial_index() -> None:
    jobs = [
        GroupJob(None, {}, np.zeros((10, 2), np.uint32), None, 4),
        GroupJob(None, {}, np.zeros((3, 2), np.uint32), None, None),
    ]
    got = [(c.job, c.start, c.stop) for c in cut(jobs)]
    assert got == [(0, 0, 4), (0, 4, 8), (0, 8, 10), (1, 0, 3)]


def test_a_worker_chunk_equals_the_same_trials_of_a_local_run() -> None:
    """A short last chunk runs padded in the full chunks' program, as parallel.run does."""

    def fn(hp, key):
        return {"y": jax.numpy.sin(hp["x"]) * jax.random.normal(key)}

    x = np.linspace(0, 1, 10, dtype=np.float32)
    keys = jax.random.split(jax.random.key(3), 10)
    local = parallel.run(fn, {"x": x}, keys, chunk_size=4)
    data = np.asarray(jax.random.key_data(keys))
    impl = str(jax.random.key_impl(keys))
    worker = ChunkWorker(fn)
    last, _, where = worker.run(None, {"x": x[8:]}, data[8:], impl, 4, pad_to=4)
    assert where["pid"] > 0 and last["y"].shape == (2,)
    np.testing.assert_array_equal(last["y"], local["y"][8:])


def test_a_bad_backend_in_a_config_is_one_line_with_status_2(tmp_path, tiny_npz, capsys) -> None:
    from jaxtune.cli import main

    cfg = tmp_path / "sweep.toml"
    cfg.write_text(f'trials = 4\n[task]\ndataset = "{tiny_npz}"\n[backend]\nkind = "dask"\n')
    assert main(["sweep", str(cfg), "--out", str(tmp_path / "run"), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "jaxtune: error: backend.kind must be one of ['local', 'ray'], got 'dask'"
