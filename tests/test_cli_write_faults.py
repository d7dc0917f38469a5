"""A write that fails (disk full, read-only folder) while the command keeps state files,
the study journal or plots: exit status 2 and one line naming the file, and the sweep
stays resumable. A damaged or empty dataset file is one line too."""

from __future__ import annotations

import errno
import os

import numpy as np
import pytest

from jaxtune.cli import main
from jaxtune.store import Store

SPACE = '[space]\nlearning_rate = { type = "log_uniform", low = 0.01, high = 0.5 }\n'


def _config(tmp_path, npz, head=""):
    path = tmp_path / "c.toml"
    path.write_text(
        f'trials = 4\nchunk_size = 2\n{head}\n[task]\ndataset = "{npz}"\nepochs = 3\n{SPACE}'
    )
    return str(path)


def _fail(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


def _one_line_2(capsys, argv, *named):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and all(n in err[0] for n in named), err
    return err[0]


def test_disk_full_while_writing_a_state_file(tmp_path, tiny_npz, capsys, monkeypatch):
    out = tmp_path / "s"
    cfg = _config(tmp_path, tiny_npz, head='[scheduler]\nkind = "sh"\nreduction_factor = 3\n')
    argv = ["sweep", cfg, "--out", str(out), "--quiet", "--no-cache"]
    with monkeypatch.context() as m:
        m.setattr("jaxtune.lanes.snapshots.np.savez", _fail)
        line = _one_line_2(capsys, argv, "cannot write", "lanes", "No space left on device")
    assert f"jaxtune resume {out}" in line
    assert not [p for p in (out / "lanes").iterdir() if p.suffix != ".npz"]  # no temp file
    assert main(["resume", str(out), "--quiet", "--no-cache"]) == 0
    with Store.read(out) as store:
        assert store.count() == 4


def test_disk_full_while_writing_the_study_journal(tmp_path, tiny_npz, capsys, monkeypatch):
    pytest.importorskip("optuna")
    out = tmp_path / "s"
    argv = ["sweep", _config(tmp_path, tiny_npz), "--out", str(out), "--quiet", "--no-cache"]
    argv += ["--sampler", "tpe", "--batch", "2"]
    real_open = os.open

    def full(path, flags, *args):
        if str(path).endswith("optuna.jsonl") and flags & os.O_APPEND:
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return real_open(path, flags, *args)

    with monkeypatch.context() as m:
        m.setattr(os, "open", full)
        _one_line_2(capsys, argv, "cannot write", "optuna.jsonl", "No space left on device")
    assert main(["resume", str(out), "--quiet", "--no-cache"]) == 0
    with Store.read(out) as store:
        assert store.count() == 4


def test_a_read_only_plots_folder(tmp_path, tiny_npz, capsys, monkeypatch):
    out = tmp_path / "s"
    argv = ["sweep", _config(tmp_path, tiny_npz), "--out", str(out), "--quiet", "--no-cache"]
    assert main(argv) == 0
    capsys.readouterr()

    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system", kwargs.get("dir"))

    with monkeypatch.context() as m:
        m.setattr("jaxtune.results.axes.tempfile.mkstemp", read_only)
        _one_line_2(capsys, ["plot", str(out)], "cannot write", "Read-only file system")
    assert main(["plot", str(out)]) == 0


def test_plots_are_never_written_through_a_link(tmp_path, tiny_npz, capsys):
    out = tmp_path / "s"
    argv = ["sweep", _config(tmp_path, tiny_npz), "--out", str(out), "--quiet", "--no-cache"]
    assert main(argv) == 0
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    (out / "plots").mkdir()
    (out / "plots" / "learning_curves.png").symlink_to(victim)
    assert main(["plot", str(out)]) == 0
    assert victim.read_text() == "keep me"
    assert not (out / "plots" / "learning_curves.png").is_symlink()
    capsys.readouterr()
    other = tmp_path / "other"
    other.mkdir()
    (out / "plots").rename(tmp_path / "old_plots")
    (out / "plots").symlink_to(other)  # the store's own plots folder, elsewhere
    _one_line_2(capsys, ["plot", str(out)], "symbolic link")
    assert list(other.iterdir()) == []


@pytest.mark.parametrize(
    ("content", "named"),
    [(b"", "No data left in file"), (b"PK\x03\x04garbage", "not a readable"), (None, "numeric")],
    ids=["zero bytes", "damaged zip", "damaged member"],
)
def test_a_damaged_dataset_file_is_one_line(tmp_path, capsys, content, named):
    path = tmp_path / "data.npz"
    if content is None:  # a valid zip whose member is cut short
        np.savez(path, x=np.zeros((20, 3), np.float32), y=np.zeros(20, np.int64))
        raw = bytearray(path.read_bytes())
        raw[60:200] = b"\0" * 140
        path.write_bytes(bytes(raw))
    else:
        path.write_bytes(content)
    argv = ["sweep", "--dataset", str(path), "--out", str(tmp_path / "o"), "--quiet"]
    _one_line_2(capsys, argv, "data.npz", named)
    assert not (tmp_path / "o").exists()
