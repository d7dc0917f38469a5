"""Start the jaxtune command (or a Python script) in a subprocess (CPU only), as the
kill-and-resume tests do."""

import os
import subprocess
import sys


def start_cli(*args: str) -> subprocess.Popen:
    """``python -m jaxtune.cli ARGS`` with stdout and stderr captured as text."""
    return start_python("-m", "jaxtune.cli", *args)


def start_python(*args: str) -> subprocess.Popen:
    """``python ARGS`` (a script and its arguments) with stdout and stderr captured."""
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    return subprocess.Popen(
        [sys.executable, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
