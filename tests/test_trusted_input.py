"""Trusted input: import paths in a config or a store run code, so the command loads them
only from the packages ``--allow-import`` names; ``show`` and ``plot`` load none."""

from __future__ import annotations

import sys

import pytest

from jaxtune.cli import main
from jaxtune.space import LogUniform, Space
from jaxtune.sweep import Sweep, Task

MODULE = "jt_trust_nets"
SOURCE = """
import flax.linen as nn

LOADED = []


class Small(nn.Module):
    n_out: int = 3

    @nn.compact
    def __call__(self, x):
        return nn.Dense(self.n_out)(x)
"""


@pytest.fixture(scope="module", autouse=True)
def own_module(tmp_path_factory):
    folder = tmp_path_factory.mktemp("trust")
    (folder / f"{MODULE}.py").write_text(SOURCE)
    sys.path.insert(0, str(folder))
    yield
    sys.path.remove(str(folder))
    sys.modules.pop(MODULE, None)


def _one_line_2(capsys, argv, *named):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and all(n in err[0] for n in named), err
    return err[0]


@pytest.mark.parametrize("trust", [[], ["--allow-import", "mypkg"]], ids=["none", "another"])
def test_a_hostile_config_runs_no_code(tmp_path, tiny_npz, capsys, monkeypatch, trust):
    monkeypatch.chdir(tmp_path)
    victim = tmp_path / "victim"
    cfg = tmp_path / "evil.toml"
    cfg.write_text(
        f'trials = 2\n[task]\ndataset = "{tiny_npz}"\nmodel = "subprocess:getoutput"\n'
        f'[model]\ncmd = "touch {victim}"\n'
    )
    argv = ["sweep", str(cfg), "--out", str(tmp_path / "o"), "--quiet", *trust]
    _one_line_2(capsys, argv, "task.model", "subprocess:getoutput", "--allow-import subprocess")
    assert not victim.exists()
    assert not (tmp_path / "o").exists()


def test_a_dataset_explore_or_optimizer_path_is_refused_too(tmp_path, tiny_npz, capsys):
    for key, value in (
        ("dataset", "os:getcwd"),
        ("optimizer", "os:getcwd"),
    ):
        cfg = tmp_path / f"{key}.toml"
        cfg.write_text(f'trials = 2\n[task]\n{key} = "{value}"\n')
        argv = ["sweep", str(cfg), "--out", str(tmp_path / "o"), "--quiet"]
        _one_line_2(capsys, argv, f"task.{key}", "--allow-import os")
    cfg = tmp_path / "explore.toml"
    cfg.write_text(
        f'trials = 2\n[task]\ndataset = "{tiny_npz}"\nepochs = 2\n'
        '[scheduler]\nkind = "pbt"\nexplore = "os:getcwd"\n'
        '[space]\nlearning_rate = { type = "log_uniform", low = 0.01, high = 0.1 }\n'
    )
    argv = ["sweep", str(cfg), "--out", str(tmp_path / "o"), "--quiet"]
    _one_line_2(capsys, argv, "scheduler.explore", "--allow-import os")
    assert not (tmp_path / "o").exists()


def test_a_module_the_command_line_names_is_loaded(tmp_path, tiny_npz, capsys):
    cfg = tmp_path / "own.toml"
    cfg.write_text(
        f'trials = 2\nchunk_size = 2\n[task]\ndataset = "{tiny_npz}"\nmodel = "{MODULE}:Small"\n'
        'epochs = 1\n[space]\nlearning_rate = { type = "log_uniform", low = 0.01, high = 0.1 }\n'
    )
    out = tmp_path / "o"
    argv = ["sweep", str(cfg), "--out", str(out), "--quiet", "--no-cache"]
    assert main([*argv, "--allow-import", MODULE]) == 0, capsys.readouterr().err
    capsys.readouterr()
    # The store names the import path: resume loads it only when told to.
    _one_line_2(capsys, ["resume", str(out), "--quiet"], f"{MODULE}:Small", "--allow-import")
    assert main(["resume", str(out), "--quiet", "--no-cache", "--allow-import", MODULE]) == 0
    capsys.readouterr()
    sys.modules.pop(MODULE, None)
    assert main(["show", str(out)]) == 0  # reading a store imports nothing from it
    assert MODULE not in sys.modules


def test_a_bad_allow_import_name_is_refused(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["sweep", "--allow-import", "a b"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--allow-import" in err[0], err


def test_python_code_is_trusted(tmp_path, tiny_npz):
    task = Task(dataset=tiny_npz, model=f"{MODULE}:Small", epochs=1)
    space = Space(learning_rate=LogUniform(0.01, 0.1))
    res = Sweep(space, task, 2, store=str(tmp_path / "p"), quiet=True, chunk_size=2).run()
    assert len(res.trials) == 2
