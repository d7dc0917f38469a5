"""Scheduler state files (PBT's ``rungs/*.npz``, the lane runtime's ``lanes/r*.npz``)
are bound to the sweep that wrote them.

A file of another sweep (left in the folder after its ``sweep.db`` was moved away) or a
damaged one is recomputed, never adopted; files are written through unpredictable
temporary names and never through a symbolic link.
"""

from __future__ import annotations

import shutil
import sqlite3

import numpy as np
import pytest

from jaxtune.lanes import snapshots
from jaxtune.space import IntUniform, LogUniform, OneMinusLogUniform, Space
from jaxtune.store import StoreError
from jaxtune.sweep import PBT, SuccessiveHalving, Sweep, Task
from jaxtune.sweep.state_files import TOKEN_FIELD, read_npz, write_npz

SPACE = Space(
    learning_rate=LogUniform(0.01, 0.5),
    momentum=OneMinusLogUniform(0.5, 0.95),
    hidden=IntUniform(4, 16),
)
SH = SuccessiveHalving(min_epochs=1, reduction_factor=3)


def _sh(store, task, seed):
    return Sweep(SPACE, task, 9, seed=seed, store=str(store), chunk_size=4, quiet=True,
                 scheduler=SH)  # fmt: skip


def _pbt(store, task, seed):
    pbt = PBT(interval_epochs=1, max_epochs=3)
    return Sweep(SPACE, task, 4, seed=seed, store=str(store), chunk_size=4, quiet=True,
                 scheduler=pbt)  # fmt: skip


def _numbers(res):
    return [(t.trial, t.hparams, t.curves, t.final) for t in res.trials]


@pytest.mark.parametrize("make", [_sh, _pbt], ids=["successive_halving", "pbt"])
def test_another_sweeps_states_are_not_adopted(tmp_path, tiny_npz, make):
    task = Task(dataset=tiny_npz, epochs=3)
    folder = tmp_path / "s"
    make(folder, task, seed=0).run()
    states = folder / ("lanes" if make is _sh else "rungs")
    old = sorted(p.name for p in states.glob("*.npz"))
    assert old
    # What the damaged-file message advises: move sweep.db away; the states stay.
    (folder / "sweep.db").rename(tmp_path / "old.db")
    got = make(folder, task, seed=1).run()
    fresh = make(tmp_path / "fresh", task, seed=1).run()
    assert _numbers(got) == _numbers(fresh)
    # The old files were replaced by this sweep's, each with its token.
    token = got.meta["token"]
    for path in states.glob("*.npz"):
        read = snapshots.load if make is _sh else read_npz
        assert read(path, token) is not None


def _forget_after_first_state(folder, pattern):
    """As if killed after the first states were saved: later states and trials gone."""
    saved = sorted(folder.glob(pattern))
    with sqlite3.connect(folder / "sweep.db") as conn:
        conn.execute("DELETE FROM trials")
    return saved


@pytest.mark.parametrize(
    ("make", "pattern"),
    [(_sh, "lanes/r0.npz"), (_pbt, "rungs/r0_pbt_g0_i*.npz")],
    ids=["successive_halving", "pbt"],
)
@pytest.mark.parametrize("damage", [b"", b"PK\x03\x04 not a zip", None])
def test_a_damaged_state_file_is_recomputed(tmp_path, tiny_npz, make, pattern, damage):
    task = Task(dataset=tiny_npz, epochs=3)
    want = make(tmp_path / "a", task, seed=0).run()
    folder = tmp_path / "b"
    shutil.copytree(tmp_path / "a", folder)
    saved = _forget_after_first_state(folder, pattern)
    assert saved
    for path in saved:
        if damage is None and make is _sh:  # another sweep's snapshot, this name
            info, arrays = snapshots.load(path, want.meta["token"])
            snapshots.save(path, "0" * 32, info, arrays)
        elif damage is None:  # a whole file of another sweep, under this file's name
            with np.load(path) as z:
                arrays = {n: z[n] for n in z.files if n != TOKEN_FIELD}
            write_npz(path, arrays, token="0" * 32)
        else:
            path.write_bytes(damage)
    got = make(folder, task, seed=0).run()
    assert _numbers(got) == _numbers(want)


def test_write_npz_never_writes_through_a_symbolic_link(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    (tmp_path / "rungs").mkdir()
    target = tmp_path / "rungs" / "r0_b0_k0_0.npz"
    target.symlink_to(victim)
    (tmp_path / "rungs" / "r0_b0_k0_0.tmp.npz").symlink_to(victim)  # the old fixed name
    write_npz(target, {"a": np.arange(3)}, token="t")
    assert victim.read_text() == "keep me"
    assert not target.is_symlink()
    assert read_npz(target, "t")["a"].tolist() == [0, 1, 2]
    assert sorted(p.name for p in (tmp_path / "rungs").iterdir()) == [
        "r0_b0_k0_0.npz",
        "r0_b0_k0_0.tmp.npz",
    ]  # no temporary file left behind


def test_a_symlinked_state_file_is_not_read(tmp_path):
    real = tmp_path / "real.npz"
    write_npz(real, {"a": np.arange(2)}, token="t")
    link = tmp_path / "link.npz"
    link.symlink_to(real)
    assert read_npz(link, "t") is None
    assert real.is_file() and not link.exists()


@pytest.mark.parametrize(
    ("make", "states", "error"), [(_pbt, "rungs", StoreError), (_sh, "lanes", OSError)]
)
def test_a_symlinked_states_folder_is_refused_in_one_line(tmp_path, tiny_npz, make, states, error):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    folder = tmp_path / "s"
    folder.mkdir()
    (folder / states).symlink_to(elsewhere)
    with pytest.raises(error, match="symbolic link") as info:
        make(folder, Task(dataset=tiny_npz, epochs=3), seed=0).run()
    assert len(str(info.value).splitlines()) == 1
    assert list(elsewhere.iterdir()) == []


def test_a_lane_snapshot_is_never_read_or_written_through_a_link(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    (tmp_path / "lanes").mkdir()
    path = tmp_path / "lanes" / "r0.npz"
    path.symlink_to(victim)
    assert snapshots.load(path, "t") is None
    snapshots.save(path, "t", {"x": 1}, {"a": np.arange(2)})
    assert victim.read_text() == "keep me" and not path.is_symlink()
    assert snapshots.load(path, "t")[0] == {"x": 1}
    linked = tmp_path / "linked"
    linked.symlink_to(tmp_path / "lanes", target_is_directory=True)
    with pytest.raises(OSError, match="symbolic link"):
        snapshots.save(linked / "r0.npz", "t", {}, {})
