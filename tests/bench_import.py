"""Import a module of benchmarks/ the way its scripts do, for the benchmark tests."""

import importlib
import sys
from pathlib import Path
from types import ModuleType

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def import_benchmark(name: str) -> ModuleType:
    """A module of benchmarks/, imported as the entry point imports it: by its bare name.

    The folder is a set of scripts, not a package (``python benchmarks/bench_sweep.py``
    puts it first on ``sys.path``), so it is on the path only while importing.
    """
    sys.path.insert(0, str(BENCHMARKS))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(BENCHMARKS))
