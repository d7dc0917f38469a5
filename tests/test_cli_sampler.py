"""``--sampler``, ``--batch`` and a config's ``sampler`` (jaxtune.cli.sampler): parsed, and
refused in one line (exit status 2) naming the flag or key and what it allows, before
anything is written."""

from __future__ import annotations

import os

import pytest

from jaxtune.cli import main
from jaxtune.cli.sampler import SAMPLER_NAMES, sampler_for_resume, sampler_options
from jaxtune.sweep import SAMPLERS
from jaxtune.sweep.model_rounds import MODEL_SAMPLERS


def test_the_command_line_names_every_sampler_the_sweep_takes():
    assert (*SAMPLERS, *MODEL_SAMPLERS) == SAMPLER_NAMES


@pytest.mark.parametrize(
    ("value", "flag", "batch", "expected"),
    [
        (None, None, None, ("random", 64)),
        ("tpe", None, None, ("tpe", 64)),
        ({"kind": "cmaes", "batch": 16}, None, None, ("cmaes", 16)),
        ({"kind": "cmaes", "batch": 16}, "tpe", 8, ("tpe", 8)),  # flags win
        ({"batch": 16}, "gp", None, ("gp", 16)),
    ],
)
def test_sampler_options(value, flag, batch, expected):
    assert sampler_options(value, flag, batch, "a.toml") == expected


def test_a_stored_sampler_object_cannot_be_resumed_from_the_command_line():
    assert sampler_for_resume({"sampler": "cmaes", "batch": 8}, "runs/x") == ("cmaes", 8)
    assert sampler_for_resume({"sampler": "random"}, "runs/x") == ("random", 64)
    with pytest.raises(ValueError, match="resume it from Python"):
        sampler_for_resume({"sampler": "optuna:TPESampler", "batch": 8}, "runs/x")


# (id, argv, config text or None, what the one line must name)
CASES = [
    ("flag unknown", ["--sampler", "bayes"], None, "--sampler: invalid choice: 'bayes'"),
    ("flag lists them", ["--sampler", "bayes"], None, "'tpe', 'cmaes', 'gp'"),
    ("batch zero", ["--sampler", "tpe", "--batch", "0"], None, "--batch: must be >= 1"),
    ("batch word", ["--batch", "x"], None, "--batch: expected an integer"),
    ("config unknown", [], 'sampler = "bayes"\n', "'sampler' must be one of ['random'"),
    ("config number", [], "sampler = 5\n", "'sampler' must be one of"),
    ("table kind", [], '[sampler]\nkind = "bayes"\n', "'sampler.kind' must be one of"),
    ("table batch", [], '[sampler]\nkind = "tpe"\nbatch = 0\n', "'sampler.batch' must be"),
    ("table key", [], '[sampler]\nkind = "tpe"\nsize = 3\n', "unknown key 'sampler.size'"),
]


@pytest.mark.parametrize(
    ("argv", "config", "named"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_bad_sampler_input_exits_2_with_one_line_and_writes_nothing(
    tmp_path, capsys, monkeypatch, tiny_npz, argv, config, named
):
    monkeypatch.chdir(tmp_path)
    args = ["sweep", "--dataset", tiny_npz, "--out", str(tmp_path / "o"), *argv]
    if config is not None:
        (tmp_path / "c.toml").write_text(config)
        args.insert(1, str(tmp_path / "c.toml"))
    before = sorted(os.listdir(tmp_path))
    with pytest.raises(SystemExit) as exit_:
        raise SystemExit(main(args))
    assert exit_.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and named in err[0], err
    assert sorted(os.listdir(tmp_path)) == before  # no store, no runs/
