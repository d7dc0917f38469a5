"""Links in a store folder: the lock, the database and its journals are never followed,
so whoever can write the folder cannot make jaxtune overwrite another file."""

from __future__ import annotations

import os
import sqlite3

import pytest

from jaxtune.cli import main
from jaxtune.store import Store, StoreError


@pytest.mark.parametrize("name", ["lock", "sweep.db", "sweep.db-wal"])
def test_a_symlinked_store_file_is_refused_and_its_target_unchanged(tmp_path, name):
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    folder = tmp_path / "s"
    folder.mkdir()
    (folder / name).symlink_to(victim)
    with pytest.raises(StoreError, match="symbolic link") as info:
        Store.open(folder)
    assert len(str(info.value).splitlines()) == 1 and repr(name) in str(info.value)
    assert victim.read_text() == "keep me"
    assert sorted(os.listdir(folder)) == [name]  # nothing created beside it


def test_a_hard_linked_lock_is_refused_before_truncating(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    folder = tmp_path / "s"
    folder.mkdir()
    os.link(victim, folder / "lock")
    with pytest.raises(StoreError, match="not a plain file"):
        Store.lock(folder)
    assert victim.read_text() == "keep me"


def test_a_fifo_lock_is_refused_without_blocking(tmp_path):
    folder = tmp_path / "s"
    folder.mkdir()
    os.mkfifo(folder / "lock")
    with pytest.raises(StoreError, match="not a plain file"):
        Store.lock(folder)


def test_the_command_refuses_a_symlinked_lock_in_one_line(tmp_path, tiny_npz, capsys):
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    folder = tmp_path / "s"
    folder.mkdir()
    (folder / "lock").symlink_to(victim)
    argv = ["sweep", "--dataset", tiny_npz, "--trials", "2", "--out", str(folder), "--quiet"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "'lock' is a symbolic link" in err[0], err
    assert victim.read_text() == "keep me"


def test_a_refused_folder_is_left_as_it_was(tmp_path):
    folder = tmp_path / "s"
    folder.mkdir()
    with sqlite3.connect(folder / "sweep.db") as conn:
        conn.execute("CREATE TABLE photos (id INTEGER)")  # someone else's database
    conn.close()
    before = (folder / "sweep.db").read_bytes()
    with pytest.raises(StoreError, match="not a jaxtune sweep"):
        Store.open(folder)
    assert sorted(os.listdir(folder)) == ["sweep.db"]  # no lock file left behind
    assert (folder / "sweep.db").read_bytes() == before
