"""Input that used to be accepted while doing something else: now refused in one line
before anything is written (or, for an unsafe cache folder, warned and not used)."""

from __future__ import annotations

import argparse
import os
import sqlite3

import pytest

from jaxtune.cli import main
from jaxtune.space import Choice, LogUniform, OneMinusLogUniform, Space
from jaxtune.store import Store, StoreError
from jaxtune.sweep import Sweep, Task

LR = 'learning_rate = { type = "log_uniform", low = 0.01, high = 0.1 }'
CASES = [
    ("empty space", "[space]\n", "[space] table is empty"),
    ("blank out", f'out = "   "\n[space]\n{LR}\n', "'out' must name a folder"),
    (
        "momentum with adam",
        f'[task]\noptimizer = "adam"\n[space]\n{LR}\n'
        'momentum = { type = "one_minus_log_uniform", low = 0.5, high = 0.9 }\n',
        "space.momentum: optimizer 'adam' does not read 'momentum'",
    ),
    (
        "b1 with sgd and momentum",
        f'[space]\n{LR}\noptimizer = ["sgd", "momentum"]\n'
        'b1 = { type = "uniform", low = 0.8, high = 0.9 }\n',
        "space.b1",
    ),
    ("fractional batch size", f"[space]\n{LR}\nbatch_size = [32.5, 64]\n", "space.batch_size"),
]


@pytest.mark.parametrize(("body", "named"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_a_config_that_would_do_something_else_is_refused(
    tmp_path, tiny_npz, capsys, monkeypatch, body, named
):
    monkeypatch.chdir(tmp_path)
    head, sep, rest = body.partition("[task]\n")
    task = f'[task]\ndataset = "{tiny_npz}"\n'
    text = f"trials = 2\n{head}{task}{rest}" if sep else f"trials = 2\n{body}{task}"
    if body.startswith("out"):  # top-level keys first
        text = f"trials = 2\n{body.splitlines()[0]}\n{task}" + "\n".join(body.splitlines()[1:])
    cfg = tmp_path / "c.toml"
    cfg.write_text(text)
    argv = ["sweep", str(cfg), "--quiet"] + ([] if "out" in body else ["--out", "o"])
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and named in err[0], err
    assert sorted(os.listdir(tmp_path)) == ["c.toml"]


def test_an_objective_with_a_typo_is_refused_before_training(tmp_path, tiny_npz):
    space = Space(learning_rate=LogUniform(0.01, 0.1))
    with pytest.raises(ValueError, match=r"did you mean 'val_accuracy'\? known: \[") as info:
        Sweep(space, Task(dataset=tiny_npz), 2, store=str(tmp_path / "o"), objective="val_acc")
    assert len(str(info.value).splitlines()) == 1
    assert not (tmp_path / "o").exists()
    ok = Sweep(space, Task(dataset=tiny_npz), 2, store=str(tmp_path / "o"), objective="val_loss")
    assert ok.objective == "val_loss" and ok.maximize is False


def test_the_python_api_refuses_them_too(tmp_path, tiny_npz):
    task = Task(dataset=tiny_npz, optimizer="adam")
    space = Space(learning_rate=LogUniform(0.01, 0.1), momentum=OneMinusLogUniform(0.5, 0.9))
    with pytest.raises(ValueError, match=r"space\.momentum"):
        Sweep(space, task, 2, store=str(tmp_path / "o"))
    with pytest.raises(ValueError, match=r"space\.batch_size: values must be integers"):
        Sweep(Space(batch_size=Choice([32.5, 64])), Task(dataset=tiny_npz), 2,
              store=str(tmp_path / "o"))  # fmt: skip
    with pytest.raises(ValueError, match="store must be a folder path"):
        Sweep(Space(learning_rate=LogUniform(0.01, 0.1)), Task(dataset=tiny_npz), 2, store="  ")
    assert not (tmp_path / "o").exists()


@pytest.fixture
def stored(tmp_path, tiny_npz):
    space = Space(learning_rate=LogUniform(0.01, 0.1))
    Sweep(space, Task(dataset=tiny_npz, epochs=1), 2, store=str(tmp_path / "s"), quiet=True).run()
    return tmp_path / "s"


@pytest.mark.parametrize(
    "sql",
    [
        "CREATE TRIGGER t AFTER INSERT ON trials BEGIN "
        "UPDATE trials SET final = '{}' WHERE trial = NEW.trial; END",
        "CREATE VIEW v AS SELECT * FROM trials",
        "CREATE INDEX i ON trials(grp)",
    ],
    ids=["trigger", "view", "index"],
)
def test_a_planted_sqlite_object_is_refused(stored, sql, capsys):
    with sqlite3.connect(stored / "sweep.db") as conn:
        conn.execute(sql)
    before = (stored / "sweep.db").read_bytes()
    with pytest.raises(StoreError, match="jaxtune never makes") as info:
        Store.open(stored)
    assert len(str(info.value).splitlines()) == 1
    with pytest.raises(StoreError, match="jaxtune never makes"):
        Store.read(stored)
    assert main(["resume", str(stored), "--quiet"]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
    assert (stored / "sweep.db").read_bytes() == before


def test_a_world_writable_cache_folder_is_not_used(tmp_path, monkeypatch, capsys):
    from jaxtune.cli import cache
    from jaxtune.parallel import default_caches

    used = []
    monkeypatch.setattr(default_caches, "enable_compilation_cache", used.append)
    monkeypatch.setattr(default_caches, "enable_calibration_cache", lambda: None)
    monkeypatch.delenv("JAXTUNE_NO_CACHE", raising=False)
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    monkeypatch.setenv("JAXTUNE_CACHE_DIR", str(shared))
    cache.enable_cache(argparse.Namespace(no_cache=False))
    err = capsys.readouterr().err.strip().splitlines()
    assert used == [] and len(err) == 1 and "writable by every user" in err[0], err
    shared.chmod(0o700)
    cache.enable_cache(argparse.Namespace(no_cache=False))
    assert used == [str(shared)] and capsys.readouterr().err == ""


def test_the_suite_cache_folder_is_private(tmp_path, monkeypatch):
    import conftest

    monkeypatch.setattr("tempfile.gettempdir", lambda: str(tmp_path))
    name = tmp_path / f"jaxtune-tests-xla-{os.getuid()}"
    got = conftest._private_cache_dir()
    assert got == str(name) and (name.stat().st_mode & 0o777) == 0o700
    name.rmdir()
    elsewhere = tmp_path / "planted"
    elsewhere.mkdir()
    name.symlink_to(elsewhere)  # someone made the predictable name first
    got = conftest._private_cache_dir()
    assert got != str(name) and os.path.realpath(got) != str(elsewhere)
    assert (os.stat(got).st_mode & 0o777) == 0o700
