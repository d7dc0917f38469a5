"""Tests for ``chunk_size="auto"``: calibrate once, reuse the choice, respect max_memory."""

import time

import jax
import pytest
from parallel_helpers import N, assert_trees_close, cheap_reference, make_cheap, sample

from jaxtune import parallel
from jaxtune.parallel import programs


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


def test_a_short_run_whose_compiles_are_slow_screens_only_one_and_four(monkeypatch):
    # A cold cache: each compile costs 0.6 s, more than this run of 10 cheap trials could
    # save, so screening stops after the two sizes it always tries (1 s budget spent).
    hp, keys = sample(), jax.random.split(jax.random.key(5), N)
    parallel.clear_cache()
    fn, _ = make_cheap()
    compile_for_real = programs.get_program

    def slow_compile(*args):
        time.sleep(0.6)
        return compile_for_real(*args)

    monkeypatch.setattr(programs, "get_program", slow_compile)
    out = parallel.run(fn, hp, keys)
    assert_trees_close(out, cheap_reference(hp, keys))
    (calibration,) = parallel.cached_calibrations()
    assert calibration.bucket == 16
    assert [k for k, _ in calibration.seconds] == [1, 4]  # not 16, nor the neighbours
    parallel.clear_cache()


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


def test_auto_rule_takes_the_largest_size_within_the_noise_unless_memory_forbids():
    calibration = parallel.Calibration(
        bucket=16,
        seconds=((1, 1.0), (4, 3.9), (16, 12.0)),  # seconds per chunk
        memory=((1, 10), (4, 40), (16, 160)),
        calibration_seconds=0.0,
    )
    # 16 trials: k=1 takes 16 s, k=4 15.6 s (a tie, within the noise), k=16 12 s (fastest).
    assert calibration.best(16, 1, None) == 16
    # k=16 does not fit; k=4 ties with k=1: the larger wins (fewer dispatches, stable).
    assert calibration.best(16, 1, 100) == 4
    assert calibration.best(5, 1, None) == 1  # padding: k=4 needs 2 chunks, 7.8 s
    assert calibration.best(64, 4, None) == 16  # 4 devices: 1 chunk of 16 each, 12 s


def test_explicit_chunk_size_over_max_memory_raises():
    fn, _ = make_cheap()
    with pytest.raises(ValueError, match="max_memory=16 bytes is below"):
        parallel.run(fn, sample(), jax.random.key(0), chunk_size=8, max_memory=16)
