"""The package as a new user meets it: import, public names, README and CI agree."""

from __future__ import annotations

import ast
import importlib
import re
import subprocess
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest

import jaxtune

ROOT = Path(__file__).resolve().parents[1]
MAX_LINES = 400  # project rule, for every Python file of the package, benchmarks and tests

# The public names of jaxtune 0.1's flat modules (their ``__all__``): they must keep
# importing from the same module paths after the move into one package per layer.
OLD_API: dict[str, tuple[str, ...]] = {
    "analysis": ("EVALUATORS", "importance", "to_optuna"),
    "datasets": (
        "Dataset",
        "batch_indices",
        "digits",
        "epoch_batches",
        "from_arrays",
        "from_npz",
        "synthetic",
        "train_val_split",
    ),
    "models": ("CNN", "MLP", "FunctionalModel", "Model", "active_params", "as_model"),
    "optimizers": (
        "DECAY_SYSTEMS",
        "FAMILIES",
        "HYPERPARAMS",
        "OPTIMIZER_DEFAULTS",
        "decay_factor",
        "learning_rate_at",
        "make_optimizer",
    ),
    "parallel": (
        "TRIALS",
        "Calibration",
        "Chunk",
        "cached_calibrations",
        "clear_cache",
        "enable_compilation_cache",
        "run",
    ),
    "plots": (
        "grid_vs_random",
        "importance_bars",
        "learning_curves",
        "learning_rates",
        "metric_vs_hyperparameter",
        "parallel_coordinates",
        "samples",
        "sweep_report",
    ),
    "results": ("Results", "load"),
    "schedules": (
        "constant_schedule",
        "exponential_decay",
        "inverse_time_decay",
        "piecewise_decay",
        "set_hyperparams",
        "sqrt_epoch_decay",
        "sqrt_step_decay",
        "switch_schedule",
    ),
    "space": (
        "DIMENSION_TYPES",
        "MAX_GRID_SIZE",
        "Choice",
        "Dimension",
        "Fixed",
        "IntUniform",
        "LogUniform",
        "OneMinusLogUniform",
        "Samples",
        "Space",
        "Uniform",
        "as_dimension",
    ),
    "store": ("Store", "StoreLockedError", "TrialRecord"),
    "sweep": ("SAMPLERS", "Sweep", "SweepMismatchError"),
    "task": ("MASKED", "STATIC", "Task", "check_space", "default_space"),
    "train": ("History", "TrainState", "Trainer", "final_metrics", "make_train"),
    "cli": ("main",),
}
# jaxtune 0.1's top-level ``__all__``.
OLD_TOP_LEVEL: tuple[str, ...] = (
    "MAX_GRID_SIZE", "Choice", "Dimension", "Fixed", "History", "IntUniform", "LogUniform",
    "OneMinusLogUniform", "Results", "Space", "Sweep", "Task", "Uniform", "__version__",
    "analysis", "constant_schedule", "datasets", "enable_compilation_cache",
    "exponential_decay", "inverse_time_decay", "load", "make_train", "models", "optimizers",
    "parallel", "piecewise_decay", "plots", "results", "schedules", "set_hyperparams",
    "space", "sqrt_epoch_decay", "sqrt_step_decay", "store", "sweep", "switch_schedule",
    "task", "train",
)  # fmt: skip


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


# --------------------------------------------------------------------------- old module paths


def test_old_public_names_import_in_a_fresh_interpreter() -> None:
    """``from jaxtune.<old module> import <name>`` as a new user's first lines: nothing
    imported before, so the flat paths must come from importing jaxtune alone."""
    lines = [
        f"from jaxtune.{module} import {', '.join(names)}" for module, names in OLD_API.items()
    ]
    lines += [
        f"from jaxtune import {', '.join(OLD_TOP_LEVEL)}",
        "import sys",
        "import jaxtune",
        f"for module, names in {OLD_API!r}.items():",
        "    assert getattr(jaxtune, module) is sys.modules['jaxtune.' + module], module",
        "    missing = [n for n in names if not hasattr(getattr(jaxtune, module), n)]",
        "    assert not missing, (module, missing)",
        "print('old names ok')",
    ]
    out = subprocess.run(
        [sys.executable, "-W", "error", "-c", "\n".join(lines)], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr[-4000:]
    assert out.stdout.strip() == "old names ok"


@pytest.mark.parametrize("module", OLD_API)
def test_old_public_names_are_attributes_of_the_old_module_path(module: str) -> None:
    imported = importlib.import_module(f"jaxtune.{module}")  # ``import jaxtune.<module>``
    assert getattr(jaxtune, module) is imported is sys.modules[f"jaxtune.{module}"]
    missing = [name for name in OLD_API[module] if not hasattr(getattr(jaxtune, module), name)]
    assert missing == []


def test_old_top_level_names_are_still_public() -> None:
    assert sorted(set(OLD_TOP_LEVEL) - set(jaxtune.__all__)) == []
    assert [name for name in OLD_TOP_LEVEL if not hasattr(jaxtune, name)] == []


# --------------------------------------------------------------------------- project rules


def test_no_python_file_over_400_lines() -> None:
    files = [
        p for folder in ("jaxtune", "benchmarks", "tests") for p in (ROOT / folder).rglob("*.py")
    ]
    assert len(files) > 30
    lengths = {str(p.relative_to(ROOT)): len(p.read_text().splitlines()) for p in files}
    assert {path: n for path, n in lengths.items() if n > MAX_LINES} == {}


def runtime_imports(nodes: Iterable[ast.AST]) -> Iterator[ast.Import | ast.ImportFrom]:
    """The imports that run when a module is imported: not those inside functions, nor
    those under ``if TYPE_CHECKING:`` (its ``else`` branch does run)."""
    for node in nodes:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            continue
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        elif isinstance(node, ast.If) and any(
            getattr(n, "id", None) == "TYPE_CHECKING"
            or getattr(n, "attr", None) == "TYPE_CHECKING"
            for n in ast.walk(node.test)
        ):
            yield from runtime_imports(node.orelse)
        else:
            yield from runtime_imports(ast.iter_child_nodes(node))


def import_graph(package: Path) -> tuple[dict[str, set[str]], list[str]]:
    """Module-level import edges among a package's modules, and its private-name imports."""
    modules = {}
    for path in package.rglob("*.py"):
        parts = path.relative_to(package.parent).with_suffix("").parts
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path

    def resolve(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    edges: dict[str, set[str]] = {name: set() for name in modules}
    private = []
    for here, path in modules.items():
        own_package = here if path.name == "__init__.py" else here.rpartition(".")[0]
        for node in runtime_imports(ast.parse(path.read_text()).body):
            if isinstance(node, ast.Import):
                targets = [(a.name, a.name.rpartition(".")[2]) for a in node.names]
            else:
                base = node.module or ""
                if node.level:
                    up = own_package.split(".")[: len(own_package.split(".")) - node.level + 1]
                    base = ".".join([*up, *([base] if base else [])])
                targets = []
                for a in node.names:
                    sub = f"{base}.{a.name}"
                    targets.append((sub if sub in modules else base, a.name))
            for name, imported in targets:
                target = resolve(name)
                if target is None or target == here:
                    continue
                edges[here].add(target)
                own_submodule = target == f"{own_package}.{imported}"
                if re.match(r"_(?!_)", imported) and not own_submodule:
                    private.append(f"{here} imports {imported} from {target}")
    return edges, private


def circles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while not component or component[-1] != v:
                component.append(stack.pop())
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def test_import_graph_check_finds_a_planted_circle_and_private_import(tmp_path: Path) -> None:
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    files = {
        "__init__.py": "from pkg import a\n",
        "a.py": "from pkg.sub import b\n",
        "sub/__init__.py": "from pkg.sub import _impl\n",  # its own private submodule: fine
        "sub/_impl.py": "",
        "sub/b.py": "from . import c\nfrom ..a import _secret\n",
        "sub/c.py": (
            "from typing import TYPE_CHECKING\n"
            "if TYPE_CHECKING:\n    from pkg.sub.b import x\n"
            "else:\n    from pkg.sub import _impl\n"
            "def f():\n    from pkg.sub.b import y\n"
            "class C:\n    import pkg.a\n"
        ),
    }
    for name, text in files.items():
        (pkg / name).write_text(text)
    edges, private = import_graph(pkg)
    # The class body and the else branch run at import; the function and TYPE_CHECKING not.
    assert edges["pkg.sub.c"] == {"pkg.a", "pkg.sub._impl"}
    assert circles(edges) == [["pkg.a", "pkg.sub.b", "pkg.sub.c"]]
    assert private == ["pkg.sub.b imports _secret from pkg.a"]


def test_jaxtune_has_no_import_circle_and_no_private_import() -> None:
    edges, private = import_graph(ROOT / "jaxtune")
    assert len(edges) > 20 and sum(map(len, edges.values())) > 30
    assert (circles(edges), private) == ([], [])
