"""A new user's first hour (issue 27): the command line and README blocks as written."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from doc_blocks import block, readme_space, smaller

import jaxtune
from jaxtune.cli import main


def _run(code: str, tmp_path, **names) -> dict:
    scope: dict = dict(names)
    exec(compile(code, "README.md", "exec"), scope)
    return scope


def test_readme_successive_halving_block_runs_with_readmes_space(tmp_path, tiny_npz, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code = smaller(
        block("Early stopping inside the batched program"),
        data=f'dataset="digits" -> dataset="{tiny_npz}"',
        trials="n_trials=81 -> n_trials=9",
        epochs="max_epochs=27 -> max_epochs=3",
    )
    scope = _run(readme_space() + "\n" + code, tmp_path)
    results = scope["results"]
    assert len(results.trials) == 9
    assert "epochs" not in results.meta["space"]
    assert max(t.final["epochs_completed"] for t in results.trials) == 3
    assert (tmp_path / "rungs.png").stat().st_size > 0


def test_readme_pbt_block_runs_with_readmes_space(tmp_path, tiny_npz, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code = smaller(
        block("Population-based training"),
        data=f'dataset="digits", epochs=12 -> dataset="{tiny_npz}", epochs=4',
        trials="n_trials=64 -> n_trials=8",
    )
    scope = _run(readme_space() + "\n" + code, tmp_path)
    assert len(scope["results"].trials) == 8
    assert (tmp_path / "pbt.png").stat().st_size > 0


@pytest.mark.parametrize("flag", ["sh", "pbt"])
def test_cli_scheduler_drops_epochs_from_the_default_space(tmp_path, tiny_npz, capsys, flag):
    out = tmp_path / "run"
    argv = ["sweep", "--scheduler", flag, "--trials", "6", "--dataset", tiny_npz]
    assert main([*argv, "--out", str(out), "--quiet", "--no-cache"]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        "jaxtune: the scheduler decides how long each trial trains: 'epochs' left out of "
        "the default space"
    ]
    results = jaxtune.load(out)
    assert len(results.trials) == 6
    assert "epochs" not in results.meta["space"]
    assert results.meta["scheduler"]["kind"] == ("pbt" if flag == "pbt" else "successive_halving")


def test_cli_hyperband_says_it_sets_the_number_of_trials(tmp_path, tiny_npz, capsys):
    config = tmp_path / "hb.toml"
    config.write_text(
        f'trials = 256\n[task]\ndataset = "{tiny_npz}"\n'
        '[space]\nlearning_rate = { type = "log_uniform", low = 0.01, high = 0.5 }\n'
        '[scheduler]\nkind = "hyperband"\nmax_epochs = 3\n'
    )
    out = tmp_path / "run"
    assert main(["sweep", str(config), "--out", str(out), "--quiet", "--no-cache"]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["jaxtune: hyperband sets the number of trials itself: 5, not the 256 asked for"]
    assert len(jaxtune.load(out).trials) == 5


def test_version_prints_the_package_version(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0
    assert capsys.readouterr().out == f"jaxtune {jaxtune.__version__}\n"


def test_zoom_prints_the_narrowed_ranges(tmp_path, tiny_npz, capsys):
    config = tmp_path / "z.toml"
    config.write_text(
        f'trials = 8\nchunk_size = 8\n[task]\ndataset = "{tiny_npz}"\nepochs = 2\n'
        '[space]\nlearning_rate = { type = "log_uniform", low = 0.001, high = 1.0 }\n'
        'hidden = { type = "int_uniform", low = 4, high = 32 }\n'
    )
    out = str(tmp_path / "run")
    assert main(["sweep", str(config), "--out", out, "--quiet", "--no-cache"]) == 0
    capsys.readouterr()
    argv = ["zoom", out, "--top-k", "3", "--trials", "4", "--quiet", "--no-cache"]
    assert main(argv) == 0
    lines = capsys.readouterr().out.splitlines()
    new = jaxtune.Space.from_dict(jaxtune.load(out).rounds[-1]["space"])
    assert lines[:3] == [
        "zoom round 1 narrowed the space:",
        f"  learning_rate: LogUniform(0.001, 1.0) -> {new['learning_rate']!r}",
        f"  hidden: IntUniform(4, 32) -> {new['hidden']!r}",
    ]
    assert new["learning_rate"].high - new["learning_rate"].low < 0.999


# A core-only install (pip install . without extras): none of these can be imported.
EXTRAS = (
    "sklearn", "matplotlib", "pandas", "tqdm", "optuna", "tomli_w", "cmaes", "ray",
    "tensorboardX", "mlflow",
)  # fmt: skip


def _core_only(*argv: str, cwd) -> subprocess.CompletedProcess:
    code = (
        "import sys\n"
        f"for name in {EXTRAS!r}:\n"
        "    sys.modules[name] = None  # 'import name' raises ImportError\n"
        "from jaxtune.cli import main\n"
        f"sys.exit(main({list(argv)!r}))\n"
    )
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=cwd, env=env
    )


def test_a_core_only_install_names_the_missing_extra_in_one_line(tmp_path):
    done = _core_only("sweep", "--trials", "2", "--no-cache", cwd=tmp_path)
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        'jaxtune: error: jaxtune.datasets.digits needs scikit-learn: pip install "jaxtune[data]"'
    ]


def test_a_core_only_install_runs_a_sweep_of_its_own_data(tmp_path, tiny_npz):
    argv = ("sweep", "--trials", "2", "--dataset", tiny_npz, "--out", "run", "--no-cache")
    done = _core_only(*argv, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "2 trials (2 ok, 0 diverged)" in done.stdout
    plot = _core_only("plot", "run", cwd=tmp_path)
    assert plot.returncode == 1
    assert plot.stderr.splitlines()[-1].startswith("jaxtune: error: ") and (
        "pip install" in plot.stderr.splitlines()[-1]
    )


def test_cli_tensorboard_flag_writes_one_run_per_trial(tmp_path, tiny_npz):
    pytest.importorskip("tensorboardX")
    logdir = tmp_path / "tb"
    argv = ["sweep", "--trials", "3", "--dataset", tiny_npz, "--out", str(tmp_path / "run")]
    assert main([*argv, "--tensorboard", str(logdir), "--quiet", "--no-cache"]) == 0
    runs = sorted(p.name for p in logdir.iterdir())
    assert runs == ["trial_00000", "trial_00001", "trial_00002"]
    assert all(any(p.name.startswith("events.out.tfevents") for p in (logdir / r).iterdir())
               for r in runs)  # fmt: skip


def test_readme_block_for_optuna_ray_and_tensorboard_users(tmp_path, tiny_npz, monkeypatch):
    pytest.importorskip("tensorboardX")
    monkeypatch.chdir(tmp_path)
    code = smaller(
        block("For Optuna, Ray Tune and TensorBoard users"),
        data=f'dataset="digits", epochs=5 -> dataset="{tiny_npz}", epochs=2',
        trials="n_trials=32 -> n_trials=4",
    )
    scope = _run(code, tmp_path)
    results = scope["results"]
    assert sorted(r.trial for r in scope["finished"]) == [0, 1, 2, 3]
    assert len(list((tmp_path / "runs" / "tb").iterdir())) == 4
    assert scope["curve"] == results.best_trial.curves["val_accuracy"] and len(scope["curve"]) == 2
    assert len(scope["df"]) == 4


def _small_sweep(tmp_path, tiny_npz, name: str, trials: int) -> str:
    out = str(tmp_path / "runs" / name)
    argv = ["sweep", "--trials", str(trials), "--dataset", tiny_npz, "--out", out]
    assert main([*argv, "--quiet", "--no-cache"]) == 0
    return out


def test_ls_lists_each_store_with_trials_and_best(tmp_path, tiny_npz, capsys, monkeypatch):
    _small_sweep(tmp_path, tiny_npz, "a", 2)
    _small_sweep(tmp_path, tiny_npz, "nested/b", 3)
    (tmp_path / "runs" / "not_a_store").mkdir()
    capsys.readouterr()
    monkeypatch.chdir(tmp_path)
    assert main(["ls"]) == 0  # the default folder: runs
    lines = capsys.readouterr().out.splitlines()
    best = {p: jaxtune.load(tmp_path / p).best_value for p in ("runs/a", "runs/nested/b")}
    assert lines == [
        f"runs/a  2/2 trials  best val_accuracy={best['runs/a']:.4g}  finished",
        f"runs/nested/b  3/3 trials  best val_accuracy={best['runs/nested/b']:.4g}  finished",
    ]
    assert main(["ls", str(tmp_path / "runs" / "not_a_store")]) == 0
    assert capsys.readouterr().err.startswith("jaxtune: no sweep under ")
    assert main(["ls", "nowhere"]) == 2
    assert capsys.readouterr().err == "jaxtune: error: ls: 'nowhere' is not a folder\n"


def test_rm_deletes_a_store_and_refuses_what_is_not_one(tmp_path, tiny_npz, capsys):
    out = _small_sweep(tmp_path, tiny_npz, "gone", 2)
    other = tmp_path / "mine"
    other.mkdir()
    (other / "notes.txt").write_text("keep me")
    capsys.readouterr()
    assert main(["rm", str(other), "--yes"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"jaxtune: error: rm: '{other}' is not a jaxtune store (")
    assert (other / "notes.txt").read_text() == "keep me"
    assert main(["rm", out]) == 2  # no terminal to ask on: --yes is needed
    assert "pass --yes" in capsys.readouterr().err
    assert main(["rm", out, "--yes"]) == 0
    assert capsys.readouterr().out == f"deleted {out} (2 trials)\n"
    assert not os.path.exists(out)


def test_readme_optuna_rounds_loop_tells_short_trials_their_own_last_epoch(tmp_path, tiny_npz):
    # It read val_metric[:, -1]: NaN, hence "failed", for every trial with fewer epochs.
    pytest.importorskip("optuna")
    code = smaller(
        block("Where to look", index=-1),
        path='storage_path="runs/mine/optuna.jsonl" -> storage_path=STUDY',
        rounds="for _ in range(4): -> for _ in range(2):",
        ask="rounds.ask(64) -> rounds.ask(8)",
    )
    setup = (
        readme_space()
        + "\nimport jax\nimport numpy as np\n"
        + "space = space.without('batch_size')\n"
        + f"task = jaxtune.Task(dataset={tiny_npz!r})\n"
        + "trainer = task.trainer(space, task.group_of(space, {}))\n"
    )
    scope = _run(setup + code, tmp_path, STUDY=str(tmp_path / "optuna.jsonl"))
    trials = scope["rounds"].study.get_trials()
    assert len(trials) == 16
    assert [t.state.name for t in trials] == ["COMPLETE"] * 16  # none told it failed
    assert all(0.0 < t.value <= 1.0 for t in trials)


def test_a_mistake_with_a_scheduler_is_still_one_line(tmp_path, tiny_npz, capsys):
    argv = ["sweep", "--scheduler", "sh", "--dataset", tiny_npz, "--backend", "ray"]
    assert main([*argv, "--out", str(tmp_path / "r"), "--quiet", "--no-cache"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith("jaxtune: error: backend: a scheduler's rungs")
