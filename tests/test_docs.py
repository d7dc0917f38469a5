"""The documentation: the site builds strictly (a broken reference or link fails), every
page is in its navigation, README's links resolve and its short example runs."""

from __future__ import annotations

import re
import sys
import types
from pathlib import Path

import pytest
from doc_blocks import ROOT, block, smaller


def test_the_site_builds_strictly(tmp_path):
    from mkdocs.commands.build import build
    from mkdocs.config import load_config

    config = load_config(str(ROOT / "mkdocs.yml"), site_dir=str(tmp_path / "site"))
    assert config["strict"]  # warnings (a broken link, anchor or reference) are errors
    build(config)
    assert (tmp_path / "site" / "api" / "index.html").stat().st_size > 100_000


def test_every_guide_is_in_the_navigation_and_readme_links_to_it():
    nav = (ROOT / "mkdocs.yml").read_text()
    readme = (ROOT / "README.md").read_text()
    for page in sorted((ROOT / "docs").glob("*.md")):
        assert f": {page.name}" in nav, page.name
        assert page.name == "index.md" or f"(docs/{page.name})" in readme, page.name
    for target in re.findall(r"\]\(([^)#]+)", readme):
        assert target.startswith("http") or (ROOT / target).exists(), target


def test_readmes_short_example_runs(tmp_path, monkeypatch, capsys):
    pytest.importorskip("sklearn")  # digits
    pytest.importorskip("optuna")  # TPE
    code = smaller(
        block("A short example"),
        trials="n_trials=64 -> n_trials=6",
        epochs='dataset="digits", epochs=9 -> dataset="digits", epochs=3',
        lanes="lanes=16 -> lanes=3",  # refills too
    )
    monkeypatch.chdir(tmp_path)
    module = types.ModuleType("short_example")
    monkeypatch.setitem(sys.modules, module.__name__, module)
    exec(compile(code, "README.md: A short example", "exec"), module.__dict__)
    assert len(module.results.trials) == 6
    assert "ranked by val_accuracy" in capsys.readouterr().out
    assert Path("runs/example/sweep.db").is_file()
