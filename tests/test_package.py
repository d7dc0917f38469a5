"""The package as a new user meets it: import, public names, README and CI agree."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import jaxtune

ROOT = Path(__file__).resolve().parents[1]


def test_public_names_exist() -> None:
    assert re.fullmatch(r"\d+\.\d+\.\d+", jaxtune.__version__)
    missing = [name for name in jaxtune.__all__ if not hasattr(jaxtune, name)]
    assert missing == []
    assert len(set(jaxtune.__all__)) == len(jaxtune.__all__)


def test_readme_quick_start_has_two_commands_and_ci_runs_the_test_one() -> None:
    readme = (ROOT / "README.md").read_text()
    quick = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"```bash\n(.*?)\n```", quick, flags=re.S)
    assert len(commands) == 2, commands
    test_command = commands[1].strip()
    assert "pytest" in test_command and "pip install" in test_command
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert test_command in [line.strip() for line in ci]


def test_import_in_a_fresh_interpreter() -> None:
    out = subprocess.run(
        [sys.executable, "-c", "import jaxtune; print(jaxtune.__version__)"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == jaxtune.__version__
