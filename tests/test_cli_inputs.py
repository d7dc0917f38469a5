"""Bad input, table-driven: every case exits 2 (CLI) or raises (Python) with one line that
names the key, flag or file, and creates nothing on disk."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from jaxtune.cli import main
from jaxtune.space import LogUniform, Space
from jaxtune.sweep import Sweep, Task

OUT = "o"  # every case writes (or rather, must not write) under tmp_path / OUT


@pytest.fixture(scope="module")
def files(tmp_path_factory, tiny_npz):
    """A finished tiny sweep, and files of the wrong kind."""
    root = tmp_path_factory.mktemp("inputs")
    store = root / "done"
    space = Space(learning_rate=LogUniform(0.01, 0.5))
    Sweep(space, Task(dataset=tiny_npz, epochs=1), 4, store=str(store), quiet=True).run()
    (root / "text.npz").write_text("not numpy")
    (root / "binary.toml").write_bytes(b"\xff\xfe\x00garbage")
    (root / "a_file").write_text("x")
    (root / "folder").mkdir()
    (root / "empty_store").mkdir()
    # Bounds valid in float64 that float32/int32 samples cannot hold: refused when built.
    space = {
        "lr_to_zero": 'learning_rate = { type = "log_uniform", low = 1e-50, high = 1.0 }',
        "momentum_to_one": 'momentum = { type = "one_minus_log_uniform", low = 0.9, '
        "high = 0.99999999 }",
        "int32_wraps": "batch_size = 3000000000",
    }
    for stem, line in space.items():
        (root / f"{stem}.toml").write_text(f"[space]\n{line}\n")
    return {"store": str(store), "root": str(root), "npz": tiny_npz}


# (id, argv with {store} {root} {npz} {out} placeholders, text the one line must contain)
CLI_CASES = [
    ("trials zero", ["sweep", "--trials", "0"], "--trials"),
    ("trials word", ["sweep", "--trials", "x"], "--trials"),
    ("trials negative", ["sweep", "--trials", "-5"], "--trials"),
    ("seed negative", ["sweep", "--seed", "-1"], "--seed"),
    ("seed huge", ["sweep", "--seed", "99999999999999999999999"], "seed"),
    ("seed word", ["sweep", "--seed", "x"], "--seed"),
    ("dataset empty", ["sweep", "--dataset", ""], "--dataset"),
    ("dataset unknown", ["sweep", "--dataset", "nosuch"], "task.dataset"),
    ("dataset missing file", ["sweep", "--dataset", "missing.npz"], "task.dataset"),
    ("dataset text as npz", ["sweep", "--dataset", "{root}/text.npz"], "text.npz"),
    ("sampler unknown", ["sweep", "--sampler", "bayes"], "sampler"),
    ("sampler empty", ["sweep", "--sampler", " "], "--sampler"),
    ("data order unknown", ["sweep", "--data-order", "random"], "--data-order"),
    ("config is a folder", ["sweep", "{root}/folder"], "folder"),
    ("config is binary", ["sweep", "{root}/binary.toml"], "binary.toml"),
    ("config missing", ["sweep", "{root}/nosuch.toml"], "nosuch.toml"),
    ("log low rounds to 0", ["sweep", "{root}/lr_to_zero.toml"], "low must lie in"),
    ("beta high rounds to 1", ["sweep", "{root}/momentum_to_one.toml"], "0.99999994"),
    ("fixed int wraps", ["sweep", "{root}/int32_wraps.toml"], "(int32 samples)"),
    ("out empty", ["sweep", "--out", ""], "--out"),
    ("unknown flag", ["sweep", "--nosuch"], "--nosuch"),
    ("unknown command", ["nosuch"], "nosuch"),
    ("no command", [], "command"),
    ("show top negative", ["show", "{store}", "--top", "-1"], "--top"),
    ("show top zero", ["show", "{store}", "--top", "0"], "--top"),
    ("show no store", ["show", "{root}/nosuch"], "nosuch"),
    ("show empty folder", ["show", "{root}/empty_store"], "empty_store"),
    ("resume no store", ["resume", "{root}/nosuch"], "nosuch"),
    ("zoom trials zero", ["zoom", "{store}", "--trials", "0"], "--trials"),
    ("zoom top-k zero", ["zoom", "{store}", "--top-k", "0"], "--top-k"),
    ("zoom top-k word", ["zoom", "{store}", "--top-k", "many"], "--top-k"),
    ("plot out is a file", ["plot", "{store}", "--out", "{root}/a_file"], "a_file"),
    ("plot no store", ["plot", "{root}/nosuch"], "nosuch"),
    ("out is a file", ["sweep", "--dataset", "{npz}", "--out", "{root}/a_file"], "a_file"),
]


@pytest.mark.parametrize(
    ("argv", "named"), [c[1:] for c in CLI_CASES], ids=[c[0] for c in CLI_CASES]
)
def test_bad_command_line_exits_2_with_one_line(files, tmp_path, capsys, monkeypatch, argv, named):
    monkeypatch.chdir(tmp_path)  # a default --out would land here, in runs/
    args = [a.format(**files) for a in argv]
    if args and args[0] == "sweep" and "--out" not in args:
        args += ["--out", str(tmp_path / OUT)]
    before = sorted(os.listdir(files["root"]))
    with pytest.raises(SystemExit) as exit_:
        raise SystemExit(main(args))
    assert exit_.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and named in err[0], err
    assert not (tmp_path / OUT).exists() and not (tmp_path / "runs").exists()
    assert sorted(os.listdir(files["root"])) == before


SPACE = Space(learning_rate=LogUniform(0.01, 0.5))
# (id, keyword arguments of Sweep, text the error must contain)
SWEEP_CASES = [
    ("n_trials zero", dict(n_trials=0), "n_trials"),
    ("n_trials fraction", dict(n_trials=2.5), "n_trials"),
    ("n_trials bool", dict(n_trials=True), "n_trials"),
    ("sampler", dict(sampler="bayes"), "sampler"),
    ("seed negative", dict(seed=-1), "seed"),
    ("seed huge", dict(seed=2**40), "seed"),
    ("seed float", dict(seed=1.0), "seed"),
    ("chunk word", dict(chunk_size="big"), "chunk_size"),
    ("chunk negative", dict(chunk_size=-1), "chunk_size"),
    ("chunk zero", dict(chunk_size=0), "chunk_size"),
    ("chunk fraction", dict(chunk_size=2.5), "chunk_size"),
    ("store empty", dict(store=""), "store"),
    ("store number", dict(store=5), "store"),
    ("objective number", dict(objective=5), "objective"),
    ("maximize word", dict(maximize="yes"), "maximize"),
    ("task not callable", dict(task=5), "task"),
]


@pytest.mark.parametrize(
    ("kw", "named"), [c[1:] for c in SWEEP_CASES], ids=[c[0] for c in SWEEP_CASES]
)
def test_bad_sweep_arguments_raise_naming_them(tmp_path, tiny_npz, kw, named):
    kw = {"task": Task(dataset=tiny_npz), "n_trials": 4, "store": str(tmp_path / OUT), **kw}
    with pytest.raises((ValueError, TypeError)) as err:
        Sweep(SPACE, **kw)
    assert named in str(err.value) and len(str(err.value).splitlines()) == 1
    assert not (tmp_path / OUT).exists()


TASK_CASES = [
    ("dataset number", dict(dataset=5), "task.dataset"),
    ("dataset unknown", dict(dataset="mnist"), "task.dataset"),
    ("model unknown", dict(model="rnn"), "task.model"),
    ("optimizer unknown", dict(optimizer="nosuch"), "task.optimizer"),
    ("batch zero", dict(batch_size=0), "task.batch_size"),
    ("batch fraction", dict(batch_size=2.5), "task.batch_size"),
    ("epochs zero", dict(epochs=0), "task.epochs"),
    ("epochs huge", dict(epochs=10**6), "task.epochs"),
    ("hidden huge", dict(hidden=10**5), "task.hidden"),
    ("layers too many", dict(layers=17), "task.layers"),
    ("seeds zero", dict(seeds_per_trial=0), "task.seeds_per_trial"),
    ("val fraction one", dict(val_fraction=1.0), "task.val_fraction"),
    ("val fraction string", dict(val_fraction="0.2"), "task.val_fraction"),
    ("data seed negative", dict(data_seed=-1), "task.data_seed"),
    ("data seed string", dict(data_seed="x"), "task.data_seed"),
    ("data order", dict(data_order="random"), "task.data_order"),
]


@pytest.mark.parametrize(
    ("kw", "named"), [c[1:] for c in TASK_CASES], ids=[c[0] for c in TASK_CASES]
)
def test_bad_task_values_raise_naming_them(kw, named):
    with pytest.raises(ValueError, match=named.replace(".", r"\.")):
        Task(**kw)


def test_cnn_on_flat_data_is_refused_before_training(tmp_path, tiny_npz):
    with pytest.raises(ValueError, match=r"task\.model='cnn' needs image data"):
        Sweep(SPACE, Task(dataset=tiny_npz, model="cnn"), 4, store=str(tmp_path / OUT))
    assert not Path(tmp_path / OUT).exists()
