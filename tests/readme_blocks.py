"""README's Python blocks, as a new user copies them, for tests that run them small."""

from __future__ import annotations

import ast
import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def block(heading: str, index: int = 0) -> str:
    """The ``index``-th ```python block under the README heading that starts with ``heading``."""
    text = README.read_text()
    sections = re.split(r"^## ", text, flags=re.M)
    (section,) = [s for s in sections if s.startswith(heading)]
    return re.findall(r"```python\n(.*?)```", section, flags=re.S)[index]


def smaller(code: str, **replacements: str) -> str:
    """``code`` with each ``old=new`` pair replaced; every ``old`` must occur (no silent drift).

    Pairs are given as keyword ``names`` mapping to ``"old -> new"`` strings.
    """
    for name, pair in replacements.items():
        old, new = pair.split(" -> ")
        assert old in code, f"{name}: {old!r} is no longer in the README block"
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
