"""Sizes bounded before anything is allocated or written (:mod:`jaxtune.limits`), and
refusals that come before the store is created: each one line naming the argument and
the allowed range, with no folder left behind."""

from __future__ import annotations

import os

import numpy as np
import pytest

from jaxtune.cli import main
from jaxtune.space import LogUniform, Space
from jaxtune.sweep import PBT, Hyperband, Sweep, Task

OUT = "o"


@pytest.fixture(scope="module")
def files(tmp_path_factory, tiny_npz):
    root = tmp_path_factory.mktemp("limits")
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 40)
    y[0] = 10**6
    np.savez(root / "huge_label.npz", x=rng.normal(size=(40, 4)).astype(np.float32), y=y)
    store = root / "done"
    space = Space(learning_rate=LogUniform(0.01, 0.5))
    Sweep(space, Task(dataset=tiny_npz, epochs=1), 2, store=str(store), quiet=True).run()
    lr = '[space]\nlearning_rate = { type = "log_uniform", low = 0.01, high = 0.1 }\n'
    configs = {
        "hyperband_huge": '[scheduler]\nkind = "hyperband"\nmax_epochs = 100000\n',
        "sh_huge": '[scheduler]\nkind = "sh"\nmax_epochs = 100000\n',
        "seeds_huge": "[task]\nseeds_per_trial = 1000000\n",
        "trials_huge": "trials = 1000000000\n",
        "batch_too_big": f'[task]\ndataset = "{tiny_npz}"\nbatch_size = 100000\n',
        "pbt_two_seeds": f'[task]\ndataset = "{tiny_npz}"\nseeds_per_trial = 2\n'
        '[scheduler]\nkind = "pbt"\n',
        "pbt_bad_explore": f'[task]\ndataset = "{tiny_npz}"\n'
        '[scheduler]\nkind = "pbt"\nexplore = "jaxtune.strategies.pbt:nothing_here"\n',
    }
    for stem, body in configs.items():
        head, sep, rest = body.partition("[task]")
        text = head if not sep else head + sep + rest
        (root / f"{stem}.toml").write_text(text + lr)
    return {"root": str(root), "npz": tiny_npz, "store": str(store)}


CLI_CASES = [
    ("trials 10**9", ["sweep", "--trials", "1000000000"], "--trials", "[1, 100000]"),
    ("zoom trials 10**9", ["zoom", "{store}", "--trials", "1000000000"], "--trials", "100000"),
    ("zoom trials 1e9", ["zoom", "{store}", "--trials", "1e9"], "--trials", "integer"),
    ("lr-find steps 10**9", ["lr-find", "--steps", "1000000000"], "--steps", "[2, 100000]"),
    ("lr-find seeds 10**6", ["lr-find", "--seeds", "1000000"], "--seeds", "[1, 1000]"),
    ("config trials 10**9", ["sweep", "{root}/trials_huge.toml"], "n_trials", "[1, 100000]"),
    (
        "hyperband max_epochs",
        ["sweep", "{root}/hyperband_huge.toml"],
        "scheduler.max_epochs",
        "[1, 10000]",
    ),
    ("sh max_epochs", ["sweep", "{root}/sh_huge.toml"], "scheduler.max_epochs", "10000"),
    ("seeds 10**6", ["sweep", "{root}/seeds_huge.toml"], "task.seeds_per_trial", "[1, 1000]"),
    (
        "label 10**6",
        ["sweep", "--dataset", "{root}/huge_label.npz"],
        "task.dataset",
        "at most 10000",
    ),
    (
        "batch larger than the data",
        ["sweep", "{root}/batch_too_big.toml"],
        "task.batch_size",
        "the training set",
    ),
    ("pbt two seeds", ["sweep", "{root}/pbt_two_seeds.toml"], "seeds_per_trial", "must be 1"),
    (
        "pbt bad explore",
        ["sweep", "{root}/pbt_bad_explore.toml", "--allow-import", "jaxtune"],
        "scheduler.explore",
        "nothing_here",
    ),
]


@pytest.mark.parametrize(
    ("argv", "named", "also"), [c[1:] for c in CLI_CASES], ids=[c[0] for c in CLI_CASES]
)
def test_too_big_or_late_input_exits_2_with_one_line(
    files, tmp_path, capsys, monkeypatch, argv, named, also
):
    monkeypatch.chdir(tmp_path)
    args = [a.format(**files) for a in argv]
    if args[0] in ("sweep", "lr-find") and "--out" not in args:
        args += ["--out", str(tmp_path / OUT)]
    before = sorted(os.listdir(files["root"]))
    with pytest.raises(SystemExit) as exit_:
        raise SystemExit(main(args))
    assert exit_.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and named in err[0] and also in err[0], err
    assert not (tmp_path / OUT).exists() and not (tmp_path / "runs").exists()
    assert sorted(os.listdir(files["root"])) == before


def test_python_api_bounds(tmp_path, tiny_npz):
    space = Space(learning_rate=LogUniform(0.01, 0.5))
    task = Task(dataset=tiny_npz, epochs=1)
    with pytest.raises(ValueError, match=r"n_trials must be an integer in \[1, 100000\]"):
        Sweep(space, task, 10**9, store=str(tmp_path / OUT))
    with pytest.raises(ValueError, match=r"scheduler.max_epochs must be an integer in"):
        Hyperband(max_epochs=100_000)
    with pytest.raises(ValueError, match=r"scheduler.max_epochs must be an integer in"):
        PBT(max_epochs=10**6)
    with pytest.raises(ValueError, match=r"task.seeds_per_trial must be an integer in"):
        Task(dataset=tiny_npz, seeds_per_trial=10**6)
    sweep = Sweep(space, task, 2, store=str(tmp_path / "z"), quiet=True)
    with pytest.raises(ValueError, match=r"n_trials must be an integer in \[1, 100000\]"):
        sweep.zoom(2, n_trials=10**9)
    assert not (tmp_path / OUT).exists() and not (tmp_path / "z").exists()


def test_a_hyperband_plan_beyond_the_cap_is_refused(monkeypatch):
    monkeypatch.setattr("jaxtune.strategies.halving.MAX_TRIALS", 100)
    with pytest.raises(ValueError, match=r"plans 143 trials; at most 100: lower max_epochs"):
        Hyperband(max_epochs=81)
    assert Hyperband(max_epochs=27).n_trials(0) <= 100


def test_a_numpy_integer_is_an_integer(tmp_path, tiny_npz):
    space = Space(learning_rate=LogUniform(0.01, 0.5))
    sweep = Sweep(space, Task(dataset=tiny_npz, epochs=1), np.int64(2), store=str(tmp_path))
    assert sweep.n_trials == 2 and type(sweep.n_trials) is int


def test_overwrite_on_the_command_line(tmp_path, tiny_npz, capsys):
    out = tmp_path / "s"
    base = ["sweep", "--dataset", tiny_npz, "--trials", "2", "--quiet", "--out"]
    argv = [*base, str(out)]
    assert main([*argv, "--seed", "0"]) == 0
    capsys.readouterr()
    assert main([*argv, "--seed", "1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "holds another sweep" in err[0] and "--overwrite" in err[0], err
    assert main([*argv, "--seed", "1", "--overwrite"]) == 0
    assert main([*base, str(tmp_path / "fresh"), "--seed", "1"]) == 0
    from jaxtune import load

    got, want = load(out), load(tmp_path / "fresh")
    assert [t.curves for t in got.trials] == [t.curves for t in want.trials]
    assert got.meta["seed"] == 1
