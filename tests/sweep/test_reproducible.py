"""With chunk_size="auto", a sweep decides each group's chunk size once and keeps it in
the store: a resumed sweep, and a repeated one (calibration cache on), are bit-identical."""

from __future__ import annotations

import sqlite3

import pytest

import jaxtune
from jaxtune import parallel
from jaxtune.space import Choice, IntUniform, LogUniform, Space
from jaxtune.sweep import Sweep, Task

SPACE = Space(
    learning_rate=LogUniform(0.01, 0.5), hidden=IntUniform(4, 16), batch_size=Choice([16, 32])
)


def _run(store, tiny_npz):
    task = Task(dataset=tiny_npz, epochs=2)
    return Sweep(SPACE, task, 24, store=str(store), seed=4, quiet=True).run()


def _rows(results):
    return [(t.trial, t.final, t.curves) for t in results.trials]


@pytest.fixture
def calibration_cache(tmp_path):
    parallel.clear_cache()
    parallel.enable_calibration_cache(tmp_path / "calibration")
    yield
    parallel.disable_calibration_cache()
    parallel.clear_cache()


def test_auto_decides_once_and_a_resumed_sweep_is_bit_identical(tmp_path, tiny_npz):
    first = _run(tmp_path / "a", tiny_npz)
    chosen = first.meta["chunk_sizes"]
    assert set(chosen) == {f"0/optimizer=momentum,batch_size={b}" for b in (16, 32)}
    assert all(isinstance(k, int) and k >= 1 for k in chosen.values())
    # A crash after the first chunk of each group: only whole chunks reach the store, so
    # keep each group's first chunk and drop the rest.
    lost, groups = [], []
    for key, k in chosen.items():
        ids = sorted(r.trial for r in first.trials if r.group == key.split("/", 1)[1])
        lost += ids[k:]
        groups.append(ids)
    if not lost:  # every group fit in one chunk: lose a whole group, decided but not run
        lost = max(groups, key=len)
    with sqlite3.connect(tmp_path / "a" / "sweep.db") as conn:
        conn.executemany("DELETE FROM trials WHERE trial = ?", [(i,) for i in lost])
    parallel.clear_cache()  # a new process: nothing in memory
    again = _run(tmp_path / "a", tiny_npz)
    assert again.meta["chunk_sizes"] == chosen
    assert _rows(again) == _rows(first)  # bit for bit, curves included


def test_a_repeated_sweep_with_the_calibration_cache_is_bit_identical(
    tmp_path, tiny_npz, calibration_cache
):
    one = _run(tmp_path / "one", tiny_npz)
    parallel.clear_cache()  # in memory only: the decision stays on disk
    two = _run(tmp_path / "two", tiny_npz)
    assert two.meta["chunk_sizes"] == one.meta["chunk_sizes"]
    assert _rows(two) == _rows(one)
    assert jaxtune.load(tmp_path / "two").best(1)[0].trial == one.best(1)[0].trial
