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
    "03_caviar_sweep": ["100%", "32 trials in", "ratio batched / one at a time:"],
    "04_importance": ["100%", "fANOVA mean", "learning_rate"],
    "05_coarse_to_fine": ["100%", "round 2: 16 trials", "best overall: trial"],
    "06_your_own_model": ["best of 4 trials", "NNX MLP    adamw", "predicted:"],
    "07_hyperband": ["100%", "sh: 9 trials", "lane-epochs", "budget:"],
    "08_pbt": ["100%", "random search best", "PBT best", "found schedule:"],
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


def test_committed_sweeps_keep_their_final_bar_and_a_results_table():
    # Notebooks run with progress on; a bar is one output updated in place, saved finished.
    for name, expected in EXPECTED.items():
        nb = nbformat.read(NOTEBOOK_DIR / f"{name}.ipynb", as_version=4)
        outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
        shown = [o.data.get("text/plain", "") for o in outputs if o.output_type == "display_data"]
        bars = [text for text in shown if "trial/s" in text]
        assert bool(bars) == ("100%" in expected), name
        assert all(bar.startswith("round ") and "100%|" in bar for bar in bars), name
    nb = nbformat.read(NOTEBOOK_DIR / "03_caviar_sweep.ipynb", as_version=4)
    outputs = [o for c in nb.cells for o in c.get("outputs", [])]
    tables = [o.data["text/html"] for o in outputs if "text/html" in o.get("data", {})]
    assert len(tables) == 1 and tables[0].startswith('<table class="jaxtune-results">')
    assert tables[0].count("<tr>") == 21  # the header and the 20 best trials


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
