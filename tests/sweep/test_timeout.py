"""``Sweep(timeout=...)`` and ``--timeout``: no new work after the budget, then resume.

A plain sweep stops between chunks, a lane sweep (ASHA, PBT) after the boundary that
passed the deadline, with its lanes in the snapshot; running again ends exactly where an
uninterrupted run ends.
"""

from __future__ import annotations

import os

import pytest

import jaxtune
from jaxtune.cli import main
from jaxtune.space import LogUniform, OneMinusLogUniform, Space

SPACE = Space(learning_rate=LogUniform(0.01, 0.5), momentum=OneMinusLogUniform(0.5, 0.95))


def _numbers(res):
    return [(t.trial, t.hparams, t.status, t.final, t.curves) for t in res.trials]


@pytest.mark.parametrize("bad", [0, -1.0, float("inf"), float("nan"), True, "10"])
def test_a_bad_timeout_is_refused_before_any_file(tmp_path, bad):
    with pytest.raises(ValueError, match=r"timeout must be a number of seconds > 0"):
        task = jaxtune.Task(dataset="synthetic")
        jaxtune.Sweep(SPACE, task, 4, store=str(tmp_path / "s"), timeout=bad)
    assert not (tmp_path / "s").exists()


@pytest.mark.parametrize(
    "scheduler",
    [None, jaxtune.ASHA(max_epochs=4, lanes=4), jaxtune.PBT(interval_epochs=1, max_epochs=4)],
    ids=["plain", "asha", "pbt"],
)
def test_a_timed_out_sweep_goes_on_where_it_stopped(tmp_path, tiny_npz, scheduler, capsys):
    task = jaxtune.Task(dataset=tiny_npz, epochs=4)
    kw = dict(seed=1, chunk_size=2, scheduler=scheduler, quiet=True)
    want = jaxtune.Sweep(SPACE, task, 8, store=str(tmp_path / "want"), **kw).run()
    sweep = jaxtune.Sweep(SPACE, task, 8, store=str(tmp_path / "s"), timeout=1e-6, **kw)
    part = sweep.run()  # the first chunk or boundary passes the deadline
    assert sweep.timed_out and len(part.trials) < 8
    if scheduler is not None:
        assert (tmp_path / "s" / "lanes" / "r0.npz").is_file()  # the lanes, kept
    again = jaxtune.Sweep(SPACE, task, 8, store=str(tmp_path / "s"), timeout=3600, **kw)
    assert _numbers(again.run()) == _numbers(want) and not again.timed_out


def test_the_command_line_timeout_then_resume(tmp_path, tiny_npz, capsys):
    cfg = tmp_path / "sweep.toml"
    cfg.write_text(
        f'trials = 6\nchunk_size = 2\n[task]\ndataset = "{tiny_npz}"\nepochs = 2\n'
        '[space]\nlearning_rate = { type = "log_uniform", low = 0.01, high = 0.5 }\n'
    )
    out = str(tmp_path / "run")
    assert main(["sweep", str(cfg), "--out", out, "--timeout", "1e-6", "--no-cache"]) == 0
    err = capsys.readouterr().err
    assert "timeout (1e-06 s):" in err and f"jaxtune resume {out}" in err
    assert len(jaxtune.load(out).trials) < 6
    assert main(["resume", out, "--quiet", "--no-cache"]) == 0
    assert len(jaxtune.load(out).trials) == 6
    with pytest.raises(SystemExit) as exit_:  # argparse's own exit
        main(["sweep", str(cfg), "--out", out + "2", "--timeout", "0"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert "--timeout: must be a finite number > 0" in err[-1]
    assert not os.path.exists(out + "2")
