"""The notebooks run top to bottom through a Jupyter kernel, as a reader would run them.

Each notebook is executed afresh with nbclient in a temporary working directory (nothing
is written into the repository); any cell error fails the test. For some notebooks the
key result must also appear in the fresh outputs. A cheap check keeps the committed files
readable on a code host: executed, with outputs, without per-cell execution metadata.

The executions set ``SMOKE_TEST`` (BoTorch's convention): a notebook then runs the same
code on fewer trials or epochs, so the test command stays short; the committed outputs
are from full runs. The executions are marked ``slow``: they run in the default test
command; ``-m "not slow"`` deselects them.
"""

import json
import os
import pathlib

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOK_DIR = pathlib.Path(__file__).resolve().parent.parent / "notebooks"

# Every notebook, with strings its fresh outputs must contain (the key result) when run
# with SMOKE_TEST set.
EXPECTED = {
    "01_learning_rate_decay": ["lowered to 0.01: final train loss"],
    "02_grid_vs_random": ["random found", "% of seeds"],
    "03_caviar_sweep": ["32 trials in", "ratio batched / one at a time:"],
    "04_importance": ["fANOVA mean", "learning_rate"],
    "05_coarse_to_fine": ["round 2: 16 trials", "best overall: trial"],
    "06_your_own_model": ["best of 4 trials", "NNX MLP    adamw", "predicted:"],
    "07_hyperband": ["sh: 9 trials", "lane-epochs", "budget:"],
    "08_pbt": ["random search best", "PBT best", "found schedule:"],
    "09_where_to_look": ["momentum=0.9: valley", "after 64 trials"],
}


def _text_outputs(nb: nbformat.NotebookNode) -> str:
    parts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream":
                parts.append(out["text"])
            elif "data" in out:
                parts.append(out["data"].get("text/plain", ""))
    return "\n".join(parts)


def test_every_notebook_is_tested():
    found = sorted(p.stem for p in NOTEBOOK_DIR.glob("*.ipynb"))
    assert found == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_committed_notebook_has_outputs_and_no_noise(name):
    raw = (NOTEBOOK_DIR / f"{name}.ipynb").read_text(encoding="utf-8")
    nb = nbformat.reads(raw, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(c.execution_count is not None for c in code), "run it before committing"
    images = [o for c in code for o in c.outputs if "image/png" in o.get("data", {})]
    assert images, "the figures are part of the notebook"
    for cell in code:
        assert "execution" not in cell.metadata, f"cell {cell.id}: execution timestamps"
        for out in cell.outputs:
            assert out.get("output_type") != "error", f"cell {cell.id} holds an error"
            assert out.get("name") != "stderr", f"cell {cell.id} printed to stderr"
    assert "widget" not in json.dumps(nb.metadata)  # no progress-bar widget state
    assert len(raw) < 600_000, "outputs too large: lower the figure dpi or print less"


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_notebook_runs(name, tmp_path, monkeypatch):
    monkeypatch.setenv("MPLBACKEND", "Agg")  # the kernel inherits the environment
    monkeypatch.setenv("SMOKE_TEST", "1")
    monkeypatch.chdir(tmp_path)
    nb = nbformat.read(NOTEBOOK_DIR / f"{name}.ipynb", as_version=4)
    client = NotebookClient(
        nb,
        timeout=300,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},  # the kernel's working directory
    )
    client.execute()  # raises nbclient.exceptions.CellExecutionError on any cell error
    text = _text_outputs(nb)
    for expected in EXPECTED[name]:
        assert expected in text, f"{name}: {expected!r} missing from the outputs"
    assert os.listdir(tmp_path) == [], "the notebook left files in its working directory"
