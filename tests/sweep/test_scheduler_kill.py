"""SIGKILL in the middle of a rung, then `jaxtune resume`: the same result as no kill."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import numpy as np
from cli_process import start_cli

import jaxtune
from jaxtune.cli import main

CONFIG = """
trials = 9
seed = 5
chunk_size = 1
[task]
dataset = "{npz}"
epochs = 9
[scheduler]
kind = "successive_halving"
reduction_factor = 3
[space]
learning_rate = {{ type = "log_uniform", low = 0.01, high = 0.5 }}
momentum = {{ type = "one_minus_log_uniform", low = 0.5, high = 0.95 }}
hidden = {{ type = "int_uniform", low = 4, high = 32 }}
batch_size = 8
"""


def test_sigkill_inside_a_rung_then_resume(tmp_path, medium_npz):
    cfg = tmp_path / "sh.toml"
    cfg.write_text(CONFIG.format(npz=medium_npz))
    ref = tmp_path / "ref"
    assert main(["sweep", str(cfg), "--out", str(ref), "--quiet", "--no-cache"]) == 0
    out = tmp_path / "run"
    proc = start_cli("sweep", str(cfg), "--out", str(out), "--quiet", "--no-cache")
    deadline = time.monotonic() + 300
    # Kill once rung 1 has begun saving states: rung 0 is done, rung 1 is half done.
    while not list((out / "rungs").glob("r0_b0_k1_*.npz")) if (out / "rungs").is_dir() else True:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the sweep made no progress"
        time.sleep(0.002)
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    assert proc.returncode == -signal.SIGKILL
    assert len(list((out / "rungs").glob("r0_b0_k1_*.npz"))) < 3  # killed inside rung 1
    resume = start_cli("resume", str(out), "--quiet", "--no-cache")
    _, stderr = resume.communicate(timeout=300)
    assert resume.returncode == 0, stderr
    got, want = jaxtune.load(out), jaxtune.load(ref)
    assert [t.trial for t in got.trials] == list(range(9))
    for a, b in zip(got.trials, want.trials, strict=True):
        assert (a.final["rung"], a.final["epochs_trained"]) == (
            b.final["rung"],
            b.final["epochs_trained"],
        )
        np.testing.assert_allclose(
            np.array(a.curves["val_loss"], float), np.array(b.curves["val_loss"], float), rtol=1e-6
        )
    assert Path(out / "rungs").is_dir()
