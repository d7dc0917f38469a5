"""Every Python block of README and the guides runs in the tests as written, on small sizes.

A block runs here, a page's blocks in order in one namespace (as a reader pastes them into
one session), or in the test named in ``ELSEWHERE`` that checks what the block shows. A new
block fails ``test_every_block_runs_in_some_test`` until it is listed in one of them.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from doc_blocks import ROOT, blocks, every_block, smaller

# (page, heading prefix, block index or None for all): the test file that runs it.
ELSEWHERE = {
    ("README.md", "A short example", None): "tests/test_docs.py",
    ("asha.md", "Early stopping after any epoch", None): "tests/lanes/test_docs_blocks.py",
    ("halving.md", "Early stopping inside the batched program", None): "tests/test_newcomer.py",
    ("pbt.md", "Population-based training", None): "tests/test_newcomer.py",
    ("habits.md", "For Optuna, Ray Tune and TensorBoard users", None): "tests/test_newcomer.py",
    ("model-based.md", "Where to look", 2): "tests/test_newcomer.py",
    ("your-code.md", "Real training code", None): "tests/test_docs_real_code.py",
    ("scale.md", "Beyond one machine", 0): "tests/backends/test_ray.py",
}
# Run below.
HERE = {
    ("getting-started.md", "A sweep in Python", None),
    ("getting-started.md", "Search spaces", None),
    ("getting-started.md", "Learning-rate decay schedules", None),
    ("getting-started.md", "The trainer alone", None),
    ("model-based.md", "Where to look", 0),
    ("model-based.md", "Where to look", 1),
    ("model-based.md", "Which hyperparameters mattered", None),
    ("scale.md", "Many trials at once", None),
    ("your-code.md", "Your own training function", None),
    ("your-code.md", "Your own model and optimizer", None),
}


def _listed(table, page: str, heading: str, index: int):
    return [
        entry
        for entry in table
        if entry[0] == page and heading.startswith(entry[1]) and entry[2] in (None, index)
    ]


def test_every_block_runs_in_some_test():
    for page, heading, index in every_block():
        where = _listed(ELSEWHERE, page, heading, index) + _listed(HERE, page, heading, index)
        assert len(where) == 1, f"{page} '{heading}' block {index}: listed {len(where)} times"
    for (_, heading, _), test in ELSEWHERE.items():
        assert heading in (ROOT / test).read_text(), f"{test} no longer runs '{heading}'"


def _run(code: str, scope: dict, name: str) -> dict:
    exec(compile(code, name, "exec"), scope)
    return scope


def test_getting_started_then_model_based_as_a_reader_runs_them(tmp_path, tiny_npz, monkeypatch):
    monkeypatch.chdir(tmp_path)
    tiny = f'dataset="{tiny_npz}"'
    scope: dict = {}
    sweep, spaces, decay, trainer = (
        blocks("A sweep in Python"),
        blocks("Search spaces"),
        blocks("Learning-rate decay schedules"),
        blocks("The trainer alone"),
    )
    code = smaller(
        sweep[0],
        data=f'dataset="digits" -> {tiny}',
        epochs="epochs=IntUniform(4, 12) -> epochs=IntUniform(1, 2)",
        trials="n_trials=256 -> n_trials=24",
        zoom="n_trials=128 -> n_trials=8",
    )
    _run(code, scope, "A sweep in Python")
    assert len(scope["results"].trials) == 32 and len(scope["df"]) == 24
    _run(spaces[0], scope, "Search spaces")
    assert scope["samples"]["learning_rate"].shape == (64,)
    for i, code in enumerate(decay):
        _run(code, scope, f"Learning-rate decay schedules {i}")
    assert scope["rates"].shape == (8,)
    assert float(scope["state"].hyperparams["learning_rate"]) == pytest.approx(0.01)
    code = smaller(
        trainer[0],
        epochs="max_epochs=20 -> max_epochs=2",
        first="trainer.run(state, hp, 5) -> trainer.run(state, hp, 1)",
        rest="trainer.run(state, hp, 15) -> trainer.run(state, hp, 1)",
    )
    _run(code, scope, "The trainer alone")
    assert scope["hist"].val_metric.shape == (2,)

    look, importance = blocks("Where to look"), blocks("Which hyperparameters mattered")
    code = smaller(
        look[0], data=f'dataset="digits") -> {tiny})', adam=f'dataset="digits", -> {tiny},'
    )
    _run(code, scope, "lr_find")
    assert scope["learning_rate"].low < scope["learning_rate"].high
    assert Path("lr_find.png").stat().st_size > 0
    code = smaller(
        look[1],
        data=f'dataset="digits") -> {tiny})',
        trials="n_trials=256 -> n_trials=16",
        batch="batch=64 -> batch=8",
    )
    _run(code, scope, "model-based sampler")
    assert len(scope["results"].trials) == 16 and len(scope["results"].meta["sampler_times"]) == 2
    _run(importance[0], scope, "importance")  # the store of "A sweep in Python"
    assert Path("importance.png").stat().st_size > 0 and Path("top20.png").stat().st_size > 0
    assert len(scope["study"].trials) == 32


def test_parallel_block_runs_as_written():
    scope = _run(blocks("Many trials at once")[0], {}, "Many trials at once")
    losses = np.asarray(scope["out"]["val_loss"])
    assert losses.shape == (512,) and np.isfinite(losses).all()


def test_your_own_training_function_block(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code = smaller(blocks("Your own training function")[0], trials="n_trials=512 -> n_trials=8")
    scope = _run(code, {}, "Your own training function")
    params, value = scope["results"].best_params, scope["results"].best_value
    assert set(params) == {"learning_rate"} and math.isfinite(value)
    assert len(scope["results"].trials[0].curves["val_loss"]) == 10


def test_your_own_model_and_optimizer_block():
    code = smaller(
        blocks("Your own model and optimizer")[0],
        trials="jax.random.key(0), 16) -> jax.random.key(0), 4)",
        epochs="max_epochs=3) -> max_epochs=1)",
    )
    scope = _run(code, {}, "Your own model and optimizer")
    assert np.isfinite(np.asarray(scope["hist"].val_metric)).all()
