"""SIGKILL in the middle of a lane sweep, then `jaxtune resume`: the same result as no kill.

Successive halving (pauses and promotions), ASHA (stops and refills), TPE + ASHA
(proposals asked as lanes free up) and PBT (copies) run from a config on the command line;
the process is
killed once the runtime has saved its first snapshot, and trials were committed after
it or not.
"""

from __future__ import annotations

import signal
import time

import pytest
from cli_process import start_cli

import jaxtune
from jaxtune.cli import main

CONFIG = """
trials = 9
seed = 5
{sampler}
[task]
dataset = "{npz}"
epochs = 9
[scheduler]
kind = "{kind}"
{settings}
[space]
learning_rate = {{ type = "log_uniform", low = 0.01, high = 0.5 }}
momentum = {{ type = "one_minus_log_uniform", low = 0.5, high = 0.95 }}
hidden = {{ type = "int_uniform", low = 4, high = 32 }}
batch_size = 8
"""


HALVING = "reduction_factor = 3\nlanes = 4"


@pytest.mark.parametrize(
    ("kind", "sampler", "settings"),
    [
        ("successive_halving", "", HALVING),
        ("asha", "", HALVING),
        ("asha", 'sampler = "tpe"', HALVING),
        ("pbt", "", "interval_epochs = 2"),
    ],
)
def test_sigkill_inside_a_lane_sweep_then_resume(tmp_path, medium_npz, kind, sampler, settings):
    cfg = tmp_path / "sweep.toml"
    cfg.write_text(CONFIG.format(npz=medium_npz, kind=kind, sampler=sampler, settings=settings))
    ref = tmp_path / "ref"
    assert main(["sweep", str(cfg), "--out", str(ref), "--quiet", "--no-cache"]) == 0
    out = tmp_path / "run"
    proc = start_cli("sweep", str(cfg), "--out", str(out), "--quiet", "--no-cache")
    deadline = time.monotonic() + 300
    while not (out / "lanes" / "r0.npz").is_file():  # the first snapshot is written
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the sweep made no progress"
        time.sleep(0.002)
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    assert proc.returncode == -signal.SIGKILL
    assert len(jaxtune.load(out).trials) < 9  # killed before the end
    resume = start_cli("resume", str(out), "--quiet", "--no-cache")
    _, stderr = resume.communicate(timeout=300)
    assert resume.returncode == 0, stderr
    got, want = jaxtune.load(out), jaxtune.load(ref)
    assert [t.trial for t in got.trials] == list(range(9))
    for a, b in zip(got.trials, want.trials, strict=True):
        assert (a.hparams, a.status, a.final, a.curves) == (b.hparams, b.status, b.final, b.curves)
    assert got.meta.get("pbt_lineage") == want.meta.get("pbt_lineage")
