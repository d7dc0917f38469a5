"""The lane runtime's snapshots (``lanes/r*.npz``, every strategy's, PBT's included) are
bound to the sweep that wrote them.

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
from jaxtune.sweep import PBT, SuccessiveHalving, Sweep, Task

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
    states = folder / "lanes"
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
        assert snapshots.load(path, token) is not None


def _forget_after_first_state(folder, pattern):
    """As if killed after the first states were saved: later states and trials gone."""
    saved = sorted(folder.glob(pattern))
    with sqlite3.connect(folder / "sweep.db") as conn:
        conn.execute("DELETE FROM trials")
    return saved


@pytest.mark.parametrize(
    ("make", "pattern"),
    [(_sh, "lanes/r0.npz"), (_pbt, "lanes/r0.npz")],
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
        if damage is None:  # another sweep's snapshot, this name
            info, arrays = snapshots.load(path, want.meta["token"])
            snapshots.save(path, "0" * 32, info, arrays)
        else:
            path.write_bytes(damage)
    got = make(folder, task, seed=0).run()
    assert _numbers(got) == _numbers(want)


@pytest.mark.parametrize("make", [_sh, _pbt], ids=["successive_halving", "pbt"])
def test_a_symlinked_states_folder_is_refused_in_one_line(tmp_path, tiny_npz, make):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    folder = tmp_path / "s"
    folder.mkdir()
    (folder / "lanes").symlink_to(elsewhere)
    with pytest.raises(OSError, match="symbolic link") as info:
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
