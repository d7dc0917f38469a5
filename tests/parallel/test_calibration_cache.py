"""Tests for jaxtune.parallel.calibration_cache and the auto rule's tie-breaking.

A "new process" is simulated with ``parallel.clear_cache()`` (it forgets compiled programs
and in-memory calibrations, as a fresh process starts without them); one test starts real
subprocesses. Reuse is checked by what it must not do: time anything (``calibrate`` is
replaced by a function that fails) or compile any size but the chosen one.
"""

import json
import os
import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxtune import parallel
from jaxtune.parallel import calibrate, calibration_cache, checks, programs

N = 10  # bucket 16: candidates 1, 4, 16 and their neighbours


def make_fn(width: int = 64):
    """A fresh function that compiles in milliseconds, and its trace count."""
    traces = {"count": 0}

    def fn(hp, key):
        traces["count"] += 1  # once per trace, never per execution
        w = jax.random.normal(key, (width,))
        return {"loss": jnp.sum((w * hp["lr"]) ** 2), "w": w * hp["momentum"]}

    return fn, traces


def sample(n: int = N) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {
        "lr": rng.uniform(0.01, 0.3, n).astype(np.float32),
        "momentum": rng.uniform(0.5, 0.99, n).astype(np.float32),
    }


def reference(hp, keys):
    w = jax.vmap(lambda k: jax.random.normal(k, (64,)))(keys)
    return {"loss": np.sum((w * hp["lr"][:, None]) ** 2, axis=1), "w": w * hp["momentum"][:, None]}


def assert_close(actual, expected):
    for name in expected:
        np.testing.assert_allclose(actual[name], expected[name], rtol=1e-5, atol=1e-6)


@pytest.fixture(autouse=True)
def quick_calibration(monkeypatch):
    """Calibrate on a budget of milliseconds: these tests check what is kept, not timing."""
    monkeypatch.setattr(calibrate, "MIN_BUDGET_SECONDS", 0.02)
    monkeypatch.setattr(calibrate, "SAMPLE_SECONDS", 0.001)
    monkeypatch.setattr(calibrate, "ROUND_SECONDS", 0.01)


@pytest.fixture
def cache_dir(tmp_path):
    """An enabled calibration cache in a fresh directory; off again afterwards."""
    parallel.clear_cache()
    path = tmp_path / "calibration"
    parallel.enable_calibration_cache(path)
    yield path
    parallel.disable_calibration_cache()
    parallel.clear_cache()


def no_timing(*args, **kwargs):
    raise AssertionError("calibrated again instead of reusing the stored calibration")


@pytest.fixture
def fake_timing(monkeypatch):
    """calibrate() replaced by made-up measurements (k=4 wins); the list counts calls."""
    calls = []

    def fake(job, program_for, bucket, max_memory):
        calls.append(bucket)
        return parallel.Calibration(bucket, ((1, 1.0), (4, 2.0)), ((1, None), (4, None)), 0.0)

    monkeypatch.setattr(calibrate, "calibrate", fake)
    return calls


def files(path):
    return sorted(p.name for p in path.iterdir())


def test_new_process_reuses_the_stored_calibration_without_timing(cache_dir, monkeypatch):
    hp, keys = sample(), jax.random.split(jax.random.key(3), N)
    fn, traces = make_fn()
    out = parallel.run(fn, hp, keys)
    assert_close(out, reference(hp, keys))
    (calibration,) = parallel.cached_calibrations()
    tried = [k for k, _ in calibration.seconds]
    # One trace for the key's jaxpr, then one compiled program per size tried.
    assert traces["count"] == 1 + len(tried)
    assert calibrate.TIE <= calibration.noise <= calibrate.MAX_NOISE
    (name,) = files(cache_dir)
    assert name.endswith(".json")
    assert json.loads((cache_dir / name).read_text())["calibration"]["noise"] == calibration.noise

    parallel.clear_cache()  # a new process: no programs, no calibrations in memory
    monkeypatch.setattr(calibrate, "calibrate", no_timing)
    traces["count"] = 0
    out = parallel.run(fn, hp, keys)
    assert_close(out, reference(hp, keys))
    assert parallel.cached_calibrations() == (calibration,)  # the very same measurements
    # Only the chosen size is compiled (plus the trace that computes the key).
    budget = calibrate.default_max_memory(checks.placement_of(None))
    ((_, lanes, _),) = parallel.cached_programs()
    assert lanes == calibration.best(N, 1, budget)
    assert traces["count"] == 2
    assert files(cache_dir) == [name]  # read, not written again


def test_a_real_second_process_reuses_the_stored_calibration(tmp_path):
    script = textwrap.dedent("""
        import json, sys
        import jax, jax.numpy as jnp, numpy as np
        from jaxtune import parallel
        from jaxtune.parallel import calibrate
        parallel.enable_calibration_cache(sys.argv[1])
        calibrate.MIN_BUDGET_SECONDS, calibrate.ROUND_SECONDS = 0.02, 0.01  # quick
        calls = []
        timed = calibrate.calibrate
        calibrate.calibrate = lambda *a, **k: calls.append(1) or timed(*a, **k)
        traces = []
        def fn(hp, key):
            traces.append(1)
            return {"y": jnp.sum(jax.random.normal(key, (32,)) * hp["lr"])}
        hp = {"lr": np.linspace(0.1, 1.0, 10, dtype=np.float32)}
        out = parallel.run(fn, hp, jax.random.key(0))
        (cal,) = parallel.cached_calibrations()
        print(json.dumps({"calibrated": len(calls), "traces": len(traces),
                          "programs": len(parallel.cached_programs()),
                          "seconds": cal.seconds, "y": out["y"].tolist()}))
    """)

    def run_process():
        result = subprocess.run(
            [sys.executable, "-c", script, str(tmp_path)],
            env={**os.environ, "JAX_PLATFORMS": "cpu"},
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert result.returncode == 0, result.stderr[-4000:]
        return json.loads(result.stdout.strip().splitlines()[-1])

    first = run_process()
    assert first["calibrated"] == 1 and first["programs"] == len(first["seconds"])
    second = run_process()
    assert second["calibrated"] == 0
    assert second["programs"] == 1 and second["traces"] == 2  # key's jaxpr + chosen size
    assert second["seconds"] == first["seconds"]
    np.testing.assert_allclose(second["y"], first["y"], rtol=1e-6)


def _description(fn, hp, bucket=16):
    trials = checks.trials_of(hp, jax.random.split(jax.random.key(0), N))
    sig = programs.signature(fn, trials, checks.placement_of(None))
    return calibration_cache.describe(fn, sig, bucket)


def test_key_changes_with_versions_device_kind_shapes_bucket_and_program(monkeypatch):
    fn, traces = make_fn()
    hp = sample()
    base = calibration_cache.digest(_description(fn, hp))
    # Stable: the same program described again (another function object, same code).
    assert calibration_cache.digest(_description(make_fn()[0], hp)) == base
    assert traces["count"] == 1  # describing traces, never compiles or runs

    wider = {"lr": hp["lr"], "momentum": hp["momentum"][:, None]}
    other_program = make_fn(width=32)[0]  # same name and inputs, another jaxpr
    changed = {
        "input shape": _description(fn, wider),
        "input dtype": _description(fn, {**hp, "lr": hp["lr"].astype(np.int32)}),
        "bucket": _description(fn, hp, bucket=32),
        "jaxpr": _description(other_program, hp),
    }
    with monkeypatch.context() as m:
        m.setattr(jax, "__version__", "0.0.1")
        changed["jax version"] = _description(fn, hp)
    with monkeypatch.context() as m:
        m.setattr(calibration_cache.jaxlib, "__version__", "0.0.1")
        changed["jaxlib version"] = _description(fn, hp)
    with monkeypatch.context() as m:
        m.setattr(calibration_cache, "_device_kind", lambda device: "TPU v5 lite")
        changed["device kind"] = _description(fn, hp)
    digests = {what: calibration_cache.digest(d) for what, d in changed.items()}
    assert base not in digests.values()
    assert len(set(digests.values())) == len(digests)


@pytest.mark.parametrize(
    "content",
    [
        b"\x00\xff not json",
        b'{"format": "jaxtune-calibration/1", "key": ',  # cut short
        b"[]",
        b'{"format": "something else"}',
        "foreign",  # a valid file of another program under this name
        "k past the bucket",
        "negative seconds",
    ],
)
def test_a_corrupt_or_foreign_file_is_ignored_and_replaced(cache_dir, fake_timing, content):
    hp, keys = sample(), jax.random.split(jax.random.key(4), N)
    fn, _ = make_fn()
    parallel.run(fn, hp, keys)
    (name,) = files(cache_dir)
    path = cache_dir / name
    good = json.loads(path.read_text())
    if content == "foreign":
        bad = {**good, "key": {**good["key"], "function": {**good["key"]["function"]}}}
        bad["key"]["function"]["qualname"] = "somebody_else"
        content = json.dumps(bad).encode()
    elif content == "k past the bucket":
        bad = {**good, "calibration": {**good["calibration"]}}
        bad["calibration"]["seconds"] = [[1, 1.0], [64, 0.1]]
        bad["calibration"]["memory"] = [[1, 10], [64, 640]]
        content = json.dumps(bad).encode()
    elif content == "negative seconds":
        bad = {**good, "calibration": {**good["calibration"]}}
        bad["calibration"]["seconds"] = [[k, -s] for k, s in good["calibration"]["seconds"]]
        content = json.dumps(bad).encode()
    path.write_bytes(content)

    parallel.clear_cache()
    out = parallel.run(fn, hp, keys)  # no exception: calibrates again
    assert_close(out, reference(hp, keys))
    assert fake_timing == [16, 16]
    assert files(cache_dir) == [name]
    assert json.loads(path.read_text()) == good  # rewritten whole


def test_a_stored_calibration_is_read_back_exactly(cache_dir, fake_timing):
    hp, keys = sample(), jax.random.split(jax.random.key(4), N)
    fn, _ = make_fn()
    parallel.run(fn, hp, keys)
    (stored,) = parallel.cached_calibrations()
    parallel.clear_cache()
    parallel.run(fn, hp, keys)
    assert fake_timing == [16]
    assert parallel.cached_calibrations() == (stored,)
    ((_, lanes, _),) = parallel.cached_programs()
    assert lanes == 4


def test_the_cache_dir_is_created_and_writes_leave_no_temp_files(
    tmp_path, monkeypatch, fake_timing
):
    path = tmp_path / "a" / "b" / "calibration"
    parallel.clear_cache()
    try:
        assert parallel.enable_calibration_cache(path) == str(path)
        assert path.is_dir() and parallel.calibration_cache_dir() == str(path)
        path.rmdir()  # removed while enabled: the next write makes it again
        fn, _ = make_fn()
        hp, keys = sample(), jax.random.split(jax.random.key(5), N)
        parallel.run(fn, hp, keys)
        (name,) = files(path)  # the file itself, no temporary file beside it
        assert name.endswith(".json") and not name.startswith(".")

        # A write that fails half way removes its temporary file and raises nothing.
        def broken_dump(*args, **kwargs):
            raise OSError("disk full")

        monkeypatch.setattr(calibration_cache.json, "dump", broken_dump)
        (path / name).unlink()
        parallel.clear_cache()
        out = parallel.run(fn, hp, keys)
        assert_close(out, reference(hp, keys))
        assert files(path) == []
    finally:
        parallel.disable_calibration_cache()
        parallel.clear_cache()


def test_off_by_default_and_not_turned_on_by_the_compilation_cache(
    tmp_path, monkeypatch, fake_timing
):
    assert parallel.calibration_cache_dir() is None
    home = tmp_path / "home"
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("JAXTUNE_CACHE_DIR", raising=False)
    assert parallel.default_calibration_cache_dir() == str(
        home / ".cache" / "jaxtune" / "calibration"
    )
    monkeypatch.setenv("JAXTUNE_CACHE_DIR", str(tmp_path / "cache"))
    assert parallel.default_calibration_cache_dir() == str(tmp_path / "cache" / "calibration")

    previous = jax.config.jax_compilation_cache_dir
    parallel.enable_compilation_cache(tmp_path / "xla")
    try:
        assert parallel.calibration_cache_dir() is None
    finally:
        jax.config.update("jax_compilation_cache_dir", previous)
    parallel.clear_cache()
    fn, _ = make_fn()
    parallel.run(fn, sample(), jax.random.key(0))
    assert not home.exists() and not (tmp_path / "cache").exists()
    try:
        assert parallel.enable_calibration_cache() == str(tmp_path / "cache" / "calibration")
    finally:
        parallel.disable_calibration_cache()
        parallel.clear_cache()


# --- the rule: ties within the timing noise go to the larger chunk -----------------------


def test_auto_rule_takes_the_largest_size_within_the_noise_of_the_fastest():
    # Seconds per chunk: per trial, k=4 is the fastest, k=16 2.6 % slower, k=64 8 % slower.
    seconds = ((1, 1.0), (4, 3.8), (16, 15.6), (64, 69.12))
    memory = ((1, 10), (4, 40), (16, 160), (64, 640))
    quiet = parallel.Calibration(64, seconds, memory, 0.0, noise=0.05)
    # 64 trials: k=1 64 s, k=4 60.8 s, k=16 62.4 s, k=64 69.12 s.
    assert quiet.best(64, 1, None) == 16  # k=16 ties with k=4 and is larger
    assert quiet._replace(noise=0.10).best(64, 1, None) == 16  # k=64 is 13.7 % slower
    assert quiet._replace(noise=0.15).best(64, 1, None) == 64  # within a 15 % band
    assert quiet._replace(noise=0.15).best(64, 1, 200) == 16  # k=64 does not fit
    assert quiet.best(64, 1, 50) == 4  # only k=1, k=4 fit; k=1 is 5.3 % slower
    # Padding counts: 5 trials at k=4 take 2 chunks (7.6 s) against k=1's 5 s.
    assert quiet._replace(noise=0.15).best(5, 1, None) == 1
    # 4 devices: 64 trials are 4 chunks of 4 (15.2 s) or 1 of 16 per device (15.6 s).
    assert quiet.best(64, 4, None) == 16
    # Without a measured noise, the band is 5 %.
    assert parallel.Calibration(64, seconds, memory, 0.0).noise == 0.05


def test_noise_is_the_spread_of_the_final_rounds_clipped():
    assert calibrate.noise_of([]) == calibrate.TIE
    assert calibrate.noise_of([[1.0, 1.0, 1.0], [2.0, 2.0, 2.0]]) == calibrate.TIE
    # Three rounds: the interquartile range is half the range; the worst size counts.
    assert calibrate.noise_of([[1.0, 1.0, 1.0], [0.9, 1.0, 1.1]]) == pytest.approx(0.1)
    assert calibrate.noise_of([[1.0, 2.0, 3.0]]) == calibrate.MAX_NOISE
