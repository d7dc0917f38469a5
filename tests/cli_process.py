"""Start the jaxtune command in a subprocess (CPU only), as the kill-and-resume tests do."""

import os
import subprocess
import sys


def start_cli(*args: str) -> subprocess.Popen:
    """``python -m jaxtune.cli ARGS`` with stdout and stderr captured as text."""
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    return subprocess.Popen(
        [sys.executable, "-m", "jaxtune.cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
