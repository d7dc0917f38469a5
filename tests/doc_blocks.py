"""The Python blocks of README and the guides (``docs/*.md``), as a new user copies them,
for tests that run them small."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# The API reference (docs/api.md) only renders docstrings, under the guides' headings.
PAGES = [ROOT / "README.md", *sorted(set((ROOT / "docs").glob("*.md")) - {ROOT / "docs/api.md"})]


def section(heading: str) -> str:
    """The text of the one ``## `` section of README or a guide that starts with ``heading``."""
    found = [
        part
        for page in PAGES
        for part in re.split(r"(?m)^## ", page.read_text())[1:]
        if part.startswith(heading)
    ]
    assert len(found) == 1, f"{heading!r}: {len(found)} sections"
    return found[0]


def blocks(heading: str) -> list[str]:
    """Every ```python block of that section, in order."""
    return re.findall(r"(?m)^```python\n(.*?)^```", section(heading), flags=re.S)


def block(heading: str, index: int = 0) -> str:
    """The ``index``-th ```python block under the heading that starts with ``heading``."""
    return blocks(heading)[index]


def smaller(code: str, **replacements: str) -> str:
    """``code`` with each ``old=new`` pair replaced; every ``old`` must occur (no silent drift).

    Pairs are given as keyword ``names`` mapping to ``"old -> new"`` strings.
    """
    for name, pair in replacements.items():
        old, new = pair.split(" -> ")
        assert old in code, f"{name}: {old!r} is no longer in the block"
        code = code.replace(old, new)
    return code


def readme_space() -> str:
    """The imports and the ``space = Space(...)`` of "A sweep in Python", nothing that runs."""
    tree = ast.parse(block("A sweep in Python"))
    keep = [
        node
        for node in tree.body
        if isinstance(node, ast.Import | ast.ImportFrom)
        or (isinstance(node, ast.Assign) and ast.unparse(node.targets[0]) == "space")
    ]
    return ast.unparse(ast.Module(body=keep, type_ignores=[]))


def every_block() -> list[tuple[str, str, int]]:
    """``(page, heading, index)`` of every ```python block of README and the guides."""
    found = []
    for page in PAGES:
        for part in re.split(r"(?m)^## ", page.read_text())[1:]:
            heading = part.splitlines()[0]
            code = re.findall(r"(?m)^```python\n(.*?)^```", part, flags=re.S)
            found += [(page.name, heading, i) for i in range(len(code))]
    return found
