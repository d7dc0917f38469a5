"""The extras: a :class:`jaxtune.Sweep` end to end, and compiling from jax's cache.

Both run on W2. The compile-time probe runs in fresh subprocesses of the entry point
(``bench_sweep.py --compile-probe CACHE_DIR``), so that nothing compiled in this process
is reused and the persistent cache is the only thing the second probe can draw on.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from measure import timed
from workloads import (
    LR,
    MOMENTUM,
    PROFILES,
    SEED,
    make_workload,
    sample_hparams,
    trainer_for,
    trial_keys,
)

import jaxtune
from jaxtune import parallel


def compile_probe(cache_dir: str | None, n: int, epochs: int) -> dict[str, Any]:
    """Compile of D's W2 program in this process, optionally from a persistent cache.

    Runs ``parallel.run`` on ``n`` trials in one chunk twice; the first call minus the
    second is the compile time (tracing included; only XLA's compilation is cached).
    """
    if cache_dir is not None:
        parallel.enable_compilation_cache(cache_dir)
    wl = make_workload("W2", PROFILES["full"])
    trainer = trainer_for(wl, epochs)
    hp, keys = sample_hparams(n), trial_keys(n)
    first, _ = timed(lambda: parallel.run(trainer, hp, keys, chunk_size=n))
    steady, _ = timed(lambda: parallel.run(trainer, hp, keys, chunk_size=n))
    entries = len(os.listdir(cache_dir)) if cache_dir else 0
    return {
        "first_call_s": first,
        "steady_s": steady,
        "compile_s": max(first - steady, 0.0),
        "cache_entries": entries,
    }


def compile_cache_bench(script: Path, n: int, epochs: int) -> dict[str, Any]:
    """Cold compile, then compile from jax's persistent cache, in two fresh subprocesses.

    Both subprocesses use the same (new, temporary) cache directory: the first fills it,
    the second reads it.

    Args:
        script: the entry point that answers ``--compile-probe`` (``bench_sweep.py``).
        n: trials, all in one chunk.
        epochs: epochs per trial.

    Returns:
        The probe's settings, and ``"cold"`` and ``"warm"``: each :func:`compile_probe`'s
        result, or ``{"error": ...}`` when its subprocess failed.
    """
    out: dict[str, Any] = {"n": n, "chunk_size": n, "workload": "W2"}
    with tempfile.TemporaryDirectory() as cache:
        for phase in ("cold", "warm"):
            cmd = [
                sys.executable,
                str(Path(script).resolve()),
                "--compile-probe",
                cache,
                "--probe-n",
                str(n),
                "--epochs",
                str(epochs),
            ]
            try:
                proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
                out[phase] = json.loads(proc.stdout.strip().splitlines()[-1])
            except (subprocess.SubprocessError, ValueError, IndexError) as e:
                out[phase] = {"error": f"{type(e).__name__}: {e}"}
    return out


def sweep_bench(n: int, epochs: int, reps: int, d_rate: float | None) -> dict[str, Any]:
    """:class:`jaxtune.Sweep` end to end on W2 (digits MLP 64-64-10, batch 64).

    The first run (fresh store) pays tracing, compiling and auto's calibration; then the
    same ``Sweep`` object is pointed at a fresh store ``reps`` times (its compiled
    programs and calibration are reused), timing sampling, grouping, training and every
    store write. The task's trainer includes jaxtune's decay-system switch (unused here).
    """
    space = jaxtune.Space(
        learning_rate=jaxtune.LogUniform(*LR), momentum=jaxtune.OneMinusLogUniform(*MOMENTUM)
    )
    task = jaxtune.Task(
        dataset="digits", optimizer="momentum", batch_size=64, epochs=epochs, hidden=64, layers=1
    )
    with tempfile.TemporaryDirectory() as tmp:
        sweep = jaxtune.Sweep(space, task, n_trials=n, store=f"{tmp}/s0", seed=SEED, quiet=True)
        first, results = timed(sweep.run)
        assert len(results.to_records()) == n
        times = []
        for r in range(reps):
            sweep.path = f"{tmp}/s{r + 1}"
            times.append(timed(sweep.run)[0])
        store_bytes = sum(f.stat().st_size for f in Path(f"{tmp}/s1").iterdir())
    med = statistics.median(times)
    rate = n / med
    return {
        "workload": "W2",
        "n": n,
        "epochs": epochs,
        "first_run_s": first,
        "seconds": times,
        "median_s": med,
        "trials_per_s": rate,
        "store_bytes": store_bytes,
        "vs_D_parallel_run": rate / d_rate if d_rate else None,
    }
