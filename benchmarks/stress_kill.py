"""SIGKILL a ``jaxtune sweep`` at random moments; every run must end bit-identical.

One uninterrupted sweep (a subprocess, as a user runs it, its caches warmed by a first
run) is the reference. Then the same
sweep is started in a fresh folder and killed with SIGKILL at a moment drawn uniformly
from ``[0, 1.2 * T]`` after its start (T: the reference's wall time, so some kills land
in the startup, some mid-chunk, some between commits and some after the end), resumed
(``jaxtune resume``, or ``jaxtune sweep`` again when the kill came before the store
existed) and killed again, until it finishes; then the next fresh folder, until
``--kills`` kills have landed. Every finished run must hold each trial exactly once, with
hyperparameters and final metrics *bit-identical* to the reference.

    python benchmarks/stress_kill.py [--kills 20] [--trials 40] [--seed 0]
        [--schedulers plain,sh,hyperband,asha,pbt,tpe+asha]

Each scheduler in ``--schedulers`` gets its own reference and ``--kills`` kills
(``plain``: no scheduler, the space searches epochs; the others: epochs 9 at most, the
scheduler decides; ``tpe+asha``: TPE proposals asked as lanes free up).

The test suite kills twice at chosen moments (tests/test_cli.py); this is the long
version, run by hand.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import jaxtune

CONFIG = """trials = {trials}
seed = 3
chunk_size = 4
{sampler}
[task]
dataset = "{npz}"
epochs = 9
[space]
learning_rate = {{ type = "log_uniform", low = 0.01, high = 0.5 }}
momentum = {{ type = "one_minus_log_uniform", low = 0.5, high = 0.95 }}
hidden = {{ type = "int_uniform", low = 4, high = 32 }}
batch_size = 8
{extra}
"""

#: What each scheduler adds to the config: (sampler line, extra lines).
SCHEDULERS = {
    "plain": ("", 'epochs = { type = "int_uniform", low = 10, high = 20 }'),
    "sh": ("", '[scheduler]\nkind = "successive_halving"\nlanes = 8'),
    "hyperband": ("", '[scheduler]\nkind = "hyperband"\nmax_epochs = 9\nlanes = 8'),
    "asha": ("", '[scheduler]\nkind = "asha"\nlanes = 8'),
    "pbt": ("", '[scheduler]\nkind = "pbt"\ninterval_epochs = 3'),
    "tpe+asha": ('sampler = "tpe"', '[scheduler]\nkind = "asha"\nlanes = 8'),
}


def _cli(*args: str, cache: Path) -> subprocess.Popen:
    # The command's caches (compiled programs, chunk sizes) in a folder of this run: a
    # restart then spends little on compiling, so most kills land while trials train.
    env = {**os.environ, "JAX_PLATFORMS": "cpu", "JAXTUNE_CACHE_DIR": str(cache)}
    cmd = [sys.executable, "-m", "jaxtune.cli", *args, "--quiet"]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)


def _data(folder: Path) -> str:
    rng = np.random.default_rng(1)
    centers = rng.normal(size=(3, 6)) * 1.5
    y = rng.integers(0, 3, 2500)
    x = centers[y] + rng.normal(size=(2500, 6))
    path = folder / "data.npz"
    np.savez(path, x=x.astype(np.float32), y=y)
    return str(path)


def _finals(out: Path) -> list[tuple]:
    res = jaxtune.load(out)
    return [(t.trial, t.hparams, t.final, t.curves) for t in res.trials]


def _start(cfg: str, out: Path, cache: Path) -> subprocess.Popen:
    if (out / "sweep.db").exists():
        return _cli("resume", str(out), cache=cache)
    return _cli("sweep", cfg, "--out", str(out), cache=cache)


def main() -> None:
    """For each scheduler: the reference, then kill-and-resume until ``--kills`` landed."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--kills", type=int, default=20)
    p.add_argument("--trials", type=int, default=40)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--schedulers", default="plain")
    args = p.parse_args()
    names = args.schedulers.split(",")
    unknown = sorted(set(names) - set(SCHEDULERS))
    if unknown:
        p.error(f"--schedulers: unknown {unknown}; known: {sorted(SCHEDULERS)}")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        npz = _data(root)
        for name in names:
            sampler, extra = SCHEDULERS[name]
            folder = root / name.replace("+", "_")
            folder.mkdir()
            cfg = folder / "sweep.toml"
            text = CONFIG.format(trials=args.trials, npz=npz, sampler=sampler, extra=extra)
            cfg.write_text(text)
            _stress(name, cfg, folder, args.kills, random.Random(args.seed))


def _stress(name: str, cfg: Path, root: Path, n_kills: int, rng: random.Random) -> None:
    cache = root / "cache"
    _cli("sweep", str(cfg), "--out", str(root / "warm"), cache=cache).wait()
    start = time.monotonic()
    ref = _cli("sweep", str(cfg), "--out", str(root / "ref"), cache=cache)
    assert ref.wait() == 0, ref.stderr.read()
    full = time.monotonic() - start
    want = _finals(root / "ref")
    print(f"{name}: reference {len(want)} trials in {full:.1f} s (subprocess, startup included)")
    kills, runs, restarts = [], 0, 0
    while len(kills) < n_kills:
        runs += 1
        out = root / f"run{runs}"
        while True:
            proc = _start(str(cfg), out, cache)
            delay = rng.uniform(0.0, 1.2 * full)
            try:
                status = proc.wait(timeout=delay)
            except subprocess.TimeoutExpired:
                proc.send_signal(signal.SIGKILL)
                proc.wait()
                db = out / "sweep.db"
                stored = len(jaxtune.load(out).trials) if db.exists() else 0
                kills.append((round(delay, 2), stored))
                restarts += 1
                continue
            assert status == 0, proc.stderr.read()
            break
        got = _finals(out)
        same = got == want  # exact: ids, hyperparameters, every final metric and curve
        print(f"{name} run {runs}: kills so far {len(kills)}, bit-identical: {same}")
        assert same, f"{name}: run {runs} differs from the reference"
    print(f"{name}: {len(kills)} kills (seconds after start, trials stored): {kills}")
    print(f"{name}: {runs} runs, {restarts} restarts: every run bit-identical to the reference")


if __name__ == "__main__":
    main()
