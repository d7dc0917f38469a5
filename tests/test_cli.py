"""Tests for the jaxtune command: kill and resume, the lock, and bad input (status 2)."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from cli_process import start_cli

import jaxtune
from jaxtune.cli import main
from jaxtune.store import Store

SPACE = """
[space]
learning_rate = { type = "log_uniform", low = 0.01, high = 0.5 }
momentum = { type = "one_minus_log_uniform", low = 0.5, high = 0.95 }
hidden = { type = "int_uniform", low = 4, high = 32 }
epochs = { type = "int_uniform", low = 10, high = 20 }
batch_size = 8
"""


def _config(tmp_path: Path, npz: str, body: str = SPACE, head: str = "") -> str:
    path = tmp_path / "sweep.toml"
    path.write_text(
        f'trials = 40\nseed = 3\nchunk_size = 4\n{head}\n[task]\ndataset = "{npz}"\n{body}'
    )
    return str(path)


def _count(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
            return conn.execute("SELECT COUNT(*) FROM trials").fetchone()[0]
    except sqlite3.OperationalError:  # tables not created yet
        return 0


def _wait_for(db: Path, proc: subprocess.Popen, at_least: int) -> float:
    deadline = time.monotonic() + 240
    while _count(db) < at_least:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the sweep made no progress"
        time.sleep(0.002)
    return time.monotonic()


def _kill_when(out: Path, proc: subprocess.Popen, inside_a_chunk: bool) -> int:
    """SIGKILL right after the second chunk's commit, or halfway through the third."""
    db = out / "sweep.db"
    first = _wait_for(db, proc, 4)
    second = _wait_for(db, proc, 8)
    if inside_a_chunk:
        time.sleep((second - first) / 2)
    proc.send_signal(signal.SIGKILL)
    proc.communicate()  # reap it and close its pipes
    return _count(db)


@pytest.fixture(scope="module")
def reference(tmp_path_factory, medium_npz) -> jaxtune.Results:
    """The same sweep, never interrupted."""
    tmp = tmp_path_factory.mktemp("ref")
    out = tmp / "run"
    assert (
        main(["sweep", _config(tmp, medium_npz), "--out", str(out), "--quiet", "--no-cache"]) == 0
    )
    return jaxtune.load(out)


@pytest.mark.parametrize("inside_a_chunk", [False, True], ids=["at_boundary", "inside_a_chunk"])
def test_sigkill_then_resume_gives_every_trial_once(
    tmp_path, medium_npz, reference, inside_a_chunk
) -> None:
    out = tmp_path / "run"
    cfg = _config(tmp_path, medium_npz)
    proc = start_cli("sweep", cfg, "--out", str(out), "--quiet", "--no-cache")
    stored = _kill_when(out, proc, inside_a_chunk)
    assert proc.returncode == -signal.SIGKILL
    assert 8 <= stored < 40, f"kill came too late to test anything: {stored} trials stored"
    assert stored % 4 == 0  # only whole chunks reach the store
    resume = start_cli("resume", str(out), "--quiet", "--no-cache")
    stdout, stderr = resume.communicate(timeout=300)
    assert resume.returncode == 0, stderr
    assert "rank" in stdout
    results = jaxtune.load(out)
    assert [t.trial for t in results.trials] == list(range(40))
    for got, want in zip(results.trials, reference.trials, strict=True):
        assert got.hparams == want.hparams
        np.testing.assert_allclose(got.final["val_loss"], want.final["val_loss"], rtol=1e-5)
        np.testing.assert_allclose(
            got.final["val_accuracy"], want.final["val_accuracy"], rtol=1e-5
        )


def test_a_second_process_on_the_same_store_is_refused(tmp_path, tiny_npz, reference) -> None:
    out = Path(reference.path)
    before = [(t.trial, t.final) for t in jaxtune.load(out).trials]
    with Store.open(out):  # a live writer holds the lock
        proc = start_cli("resume", str(out), "--quiet", "--no-cache")
        _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 2
    assert "in use by another process" in stderr and len(stderr.strip().splitlines()) == 1
    assert [(t.trial, t.final) for t in jaxtune.load(out).trials] == before


def test_a_full_disk_mid_sweep_exits_2_and_resume_finishes_it(
    tmp_path, medium_npz, reference, capsys
) -> None:
    """A file-size limit (EFBIG, as a full disk) hit mid-sweep: one line, status 2, no
    committed trial lost; with room again, resume ends as the uninterrupted sweep."""
    import resource

    full_size = (Path(reference.path) / "sweep.db").stat().st_size
    out = tmp_path / "run"
    args = ["sweep", _config(tmp_path, medium_npz), "--out", str(out), "--quiet", "--no-cache"]
    limits = resource.getrlimit(resource.RLIMIT_FSIZE)
    handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # else the kernel kills us
    try:
        resource.setrlimit(resource.RLIMIT_FSIZE, (full_size // 2, limits[1]))
        status = main(args)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, limits)
        signal.signal(signal.SIGXFSZ, handler)
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 2
    assert len(err) == 1 and "full" in err[0] and f"jaxtune resume {out}" in err[0], err
    assert _count(out / "sweep.db") < 40
    assert main(["resume", str(out), "--quiet", "--no-cache"]) == 0
    results = jaxtune.load(out)
    assert [t.trial for t in results.trials] == list(range(40))
    for got, want in zip(results.trials, reference.trials, strict=True):
        # Bit-identical: the same programs (stored chunk size) on the same machine.
        assert (got.hparams, got.final, got.curves) == (want.hparams, want.final, want.curves)


def test_show_and_plot(reference, tmp_path, capsys) -> None:
    assert main(["show", reference.path, "--top", "3"]) == 0
    lines = capsys.readouterr().out.splitlines()
    n_bad = len(reference.diverged())
    assert lines[0].startswith(f"40 trials ({40 - n_bad} ok, {n_bad} diverged)")
    assert lines[1].split()[:2] == ["rank", "trial"]
    assert [line.split()[0] for line in lines[2:5]] == ["1", "2", "3"]
    assert [int(line.split()[1]) for line in lines[2:5]] == [t.trial for t in reference.best(3)]
    assert main(["plot", reference.path, "--out", str(tmp_path / "png")]) == 0
    written = capsys.readouterr().out.split()
    assert len(written) == 4 + 2  # one per hyperparameter searched, plus two curves
    for path in written:
        assert Path(path).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


BAD = [
    ("unknown top-level key", "", "trails = 5\n", "trails"),
    ("unknown task key", '[task]\nmodel = "mlp"\nlayer = 3\n', "", "layer"),
    ("unknown dataset", '[task]\ndataset = "imagenet"\n', "", "task.dataset"),
    ("missing dataset file", '[task]\ndataset = "nowhere.npz"\n', "", "nowhere.npz"),
    ("unknown model", '[task]\nmodel = "transformer"\n', "", "task.model"),
    (
        "bad range",
        '[space]\nlearning_rate = { type = "log_uniform", low = 1, high = 0.1 }\n',
        "",
        "learning_rate",
    ),
    (
        "non-positive log bound",
        '[space]\nlearning_rate = { type = "log_uniform", low = 0, high = 1 }\n',
        "",
        "learning_rate",
    ),
    ("unknown hyperparameter", "[space]\nlernrate = 0.1\n", "", "lernrate"),
    (
        "unknown dimension type",
        '[space]\nlearning_rate = { type = "gaussian", mu = 0 }\n',
        "",
        "learning_rate",
    ),
    (
        "momentum out of range",
        '[space]\nmomentum = { type = "uniform", low = 0.5, high = 1.5 }\n',
        "",
        "momentum",
    ),
    ("wrong type of trials", "", 'trials = "many"\n', "trials"),
    ("unknown sampler", "", 'sampler = "bayes"\n', "sampler"),
    ("unknown optimizer", '[space]\noptimizer = ["sgd", "lion"]\n', "", "optimizer"),
    ("wrong type in task", '[task]\nepochs = "ten"\n', "", "task.epochs"),
    ("chunk_size a word", "", 'chunk_size = "big"\n', "chunk_size"),
    ("chunk_size negative", "", "chunk_size = -1\n", "chunk_size"),
    ("chunk_size zero", "", "chunk_size = 0\n", "chunk_size"),
    ("chunk_size fractional", "", "chunk_size = 2.5\n", "chunk_size"),
    ("negative seed", "", "seed = -1\n", "seed"),
    ("dataset a number", "[task]\ndataset = 5\n", "", "task.dataset"),
    ("val_fraction a string", '[task]\nval_fraction = "0.2"\n', "", "task.val_fraction"),
    ("data_seed a string", '[task]\ndata_seed = "x"\n', "", "task.data_seed"),
    ("task batch_size zero", "[task]\nbatch_size = 0\n", "", "task.batch_size"),
    ("task optimizer unknown", '[task]\noptimizer = "nosuch"\n', "", "task.optimizer"),
    ("batch_size above the data", "[space]\nbatch_size = [64, 100000]\n", "", "batch_size"),
    ("decay system unknown", '[space]\ndecay_system = ["none", "cosine"]\n', "", "decay_system"),
]


@pytest.mark.parametrize(("what", "body", "head", "named"), BAD, ids=[b[0] for b in BAD])
def test_bad_config_exits_2_naming_the_key(tmp_path, capsys, what, body, head, named) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text(head + body)
    assert main(["sweep", str(cfg), "--out", str(tmp_path / "o"), "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and named in err[0], err
    assert not (tmp_path / "o").exists()  # checked before anything is written


def test_bad_arguments_exit_2(tmp_path, capsys) -> None:
    assert main(["sweep", str(tmp_path / "missing.toml")]) == 2
    assert "missing.toml" in capsys.readouterr().err
    assert main(["show", str(tmp_path)]) == 2
    assert "no jaxtune sweep" in capsys.readouterr().err
    assert main(["resume", str(tmp_path / "nothing")]) == 2
    for trials in ("0", "many"):  # argparse: one line, status 2
        with pytest.raises(SystemExit) as info:
            main(["sweep", "--trials", trials, "--out", str(tmp_path / "o")])
        assert info.value.code == 2
        assert "--trials" in capsys.readouterr().err


def test_store_of_another_sweep_exits_2(tmp_path, medium_npz, reference, capsys) -> None:
    cfg = _config(tmp_path, medium_npz)
    assert (
        main(["sweep", cfg, "--out", reference.path, "--seed", "9", "--quiet", "--no-cache"]) == 2
    )
    assert "holds another sweep: its seed is 3" in capsys.readouterr().err


def test_example_config_is_the_default_sweep(tmp_path) -> None:
    """examples/sweep.toml documents the built-in default: the two must not drift apart."""
    import argparse

    from jaxtune.task import Task, default_space

    from jaxtune.cli.command import _sweep_from_args

    example = Path(__file__).resolve().parents[1] / "examples" / "sweep.toml"
    args = argparse.Namespace(
        config=str(example),
        trials=None,
        dataset=None,
        out=str(tmp_path),
        seed=None,
        sampler=None,
        data_order=None,
        scheduler=None,
        quiet=True,
    )
    sweep = _sweep_from_args(args)
    assert sweep.space == default_space()
    assert sweep.task == Task()
    assert (sweep.n_trials, sweep.sampler, sweep.seed) == (256, "random", 0)
