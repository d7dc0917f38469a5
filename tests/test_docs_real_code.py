"""The guide's "Real training code" (docs/your-code.md): every code block runs as written,
in a fresh namespace.

It takes the ```` ```python ```` blocks of that one section (up to the next ``## ``
heading) and runs each in an empty folder, so their stores (``runs/...``) stay there.
"""

from __future__ import annotations

import sys
import types

import pytest
from doc_blocks import blocks, section

SECTION = "Real training code"
BLOCKS = blocks(SECTION)


def test_the_section_has_one_example_per_kind_and_the_table():
    assert len(BLOCKS) == 5
    assert "| kind of code | glue it needs | strategies it gets |" in section(SECTION)
    assert "def make_train(config)" in BLOCKS[0] and "static=True" in BLOCKS[0]
    assert "def __call__(self, x, rngs: nnx.Rngs)" in BLOCKS[1]
    assert "width=Choice([16, 32], static=True)" in BLOCKS[2]


KINDS = ["purejaxrl", "nnx", "width", "trainstate", "equinox"]


@pytest.mark.parametrize("index", range(len(BLOCKS)), ids=KINDS)
def test_a_real_training_code_block_runs_as_written(index, tmp_path, monkeypatch, capsys):
    if KINDS[index] == "equinox":
        pytest.importorskip("equinox")
    monkeypatch.chdir(tmp_path)
    # A module of its own, as a script is (dataclasses, flax linen modules look it up).
    module = types.ModuleType(f"readme_block_{index}")
    monkeypatch.setitem(sys.modules, module.__name__, module)
    namespace = module.__dict__
    exec(compile(BLOCKS[index], f"docs/your-code.md:{SECTION}[{index}]", "exec"), namespace)
    printed = capsys.readouterr().out
    results = namespace["results"]
    assert len(results.trials) >= 4 and all(t.status == "ok" for t in results.trials)
    if index == 0:  # the activation reached the function as a string, the width as an int
        hp = namespace["best"].hparams
        assert hp["ACTIVATION"] in ("tanh", "relu") and isinstance(hp["NUM_UNITS"], int)
        assert "ACTIVATION" in printed
    if index == 1:
        assert 0.5 < results.best_value <= 1.0  # accuracy on digits after 3 epochs
    if index == 2:
        assert printed.strip() == "['width=16', 'width=32']"
    if index == 3:  # the loss went down in every trial (the loop really trained)
        assert all(t.curves["val_loss"][-1] < t.curves["val_loss"][0] for t in results.trials)
    if index == 4:  # one group per static width, each width an int, and Adam trained
        assert {t.group for t in results.trials} == {"width=8", "width=16"}
        assert all(t.curves["val_loss"][-1] < t.curves["val_loss"][0] for t in results.trials)
