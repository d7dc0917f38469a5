"""The lane-runtime guide (docs/asha.md) runs as written: TPE + ASHA, a user's strategy
(median stopping, under 80 lines), and a user's Flax TrainState loop."""

from __future__ import annotations

import sys
import types

import pytest
from doc_blocks import blocks as section_blocks

SECTION = "Early stopping after any epoch"


def blocks() -> list[str]:
    return section_blocks(SECTION)


def test_the_section_has_its_three_examples():
    found = blocks()
    assert len(found) == 3
    assert "ASHA(" in found[0] and "class MedianStopping" in found[1] and "FlaxLoop" in found[2]
    strategy = found[1].split("class MedianStopping", 1)[1].split("\n\n\nspace", 1)[0]
    assert len(strategy.splitlines()) < 80


@pytest.mark.parametrize("index", [0, 1, 2])
def test_readme_block_runs(index, tmp_path, monkeypatch, capsys):
    pytest.importorskip("sklearn")  # the digits dataset
    if index == 0:
        pytest.importorskip("optuna")
    monkeypatch.chdir(tmp_path)
    module = types.ModuleType("readme_block")  # a dataclass looks its module up
    monkeypatch.setitem(sys.modules, module.__name__, module)
    code = compile(blocks()[index], f"docs/asha.md block {index}", "exec", dont_inherit=True)
    exec(code, module.__dict__)
    results = module.results
    assert len(results.trials) == {0: 16, 1: 16, 2: 8}[index]
    epochs = [t.final["epochs_trained"] for t in results.trials]
    assert max(epochs) == 9 and min(epochs) < 9  # some stopped early, the best went on
    assert capsys.readouterr().out.strip()
