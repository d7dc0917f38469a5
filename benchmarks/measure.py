"""Measuring: wall time, memory, matmul ceilings, machine facts, and the cells.

A cell is one (workload, N); :func:`bench_cell` times every method in it, after one
untimed first call per method, in a fresh random order every repetition.
"""

from __future__ import annotations

import math
import os
import platform
import resource
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import jaxlib
import numpy as np
from methods import METHODS, Runner, TrainFn, version
from workloads import Profile, Workload

import jaxtune
from jaxtune import parallel


def peak_rss_mb() -> float:
    """This process's peak resident memory so far, in MiB (``ru_maxrss``)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    """Seconds ``fn()`` took, and its result (``fn`` must synchronize)."""
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def matmul_ceilings(size: int, reps: int) -> dict[str, Any]:
    """GFLOP/s of a large float32 matmul and of a batch of 1024 64x64 matmuls, jitted.

    Args:
        size: side of the large square matrices.
        reps: timed repetitions after a warm-up (median reported).

    Returns:
        ``{"large_matmul": {...}, "batched_small_matmul": {...}}`` with ``gflops``,
        ``seconds`` (median) and the shapes.
    """
    ka, kb = jax.random.split(jax.random.key(0))
    out: dict[str, Any] = {}
    cases = {
        "large_matmul": ((size, size), 2 * size**3),
        "batched_small_matmul": ((1024, 64, 64), 2 * 1024 * 64**3),
    }
    f = jax.jit(jnp.matmul)
    for name, (shape, flops) in cases.items():
        a = jax.random.normal(ka, shape, jnp.float32)
        b = jax.random.normal(kb, shape, jnp.float32)
        f(a, b).block_until_ready()
        # Enough calls per sample to last ~0.1 s, so dispatch does not count.
        t_one, _ = timed(lambda a=a, b=b: f(a, b).block_until_ready())
        calls = max(1, math.ceil(0.1 / max(t_one, 1e-6)))
        samples = []
        for _ in range(max(reps, 5)):
            start = time.perf_counter()
            for _ in range(calls):
                r = f(a, b)
            r.block_until_ready()
            samples.append((time.perf_counter() - start) / calls)
        sec = statistics.median(samples)
        out[name] = {
            "shape": f"{' x '.join(map(str, shape))} @ same",
            "seconds": sec,
            "gflops": flops / sec / 1e9,
            "gflops_fastest": flops / min(samples) / 1e9,
        }
    return out


def estimate_seconds(
    method: str, n: int, reps: int, prev: dict[str, Any] | None, min_rep_s: float = 0.0
) -> float | None:
    """Predicted seconds of a cell (first call plus ``reps``) from the previous N's cell.

    Per-trial time is assumed constant (an overestimate for batched methods). For
    Optuna's TPE the sampler's own cost per trial grows about linearly with the number of
    trials before it, so its share (TPE minus B per trial) is scaled by ``n / n_prev``.
    A repetition lasts at least ``min_rep_s``. None when there is nothing to go by.
    """
    if prev is None or prev.get("status") != "ok":
        return None
    per_trial = prev["median_s"] / prev["n"]
    if method == "C-TPE" and prev.get("b_per_trial_s") is not None:
        base = prev["b_per_trial_s"]
        per_trial = base + max(per_trial - base, 0.0) * n / prev["n"]
    return (reps + 1) * max(n * per_trial, min_rep_s)


def bench_cell(
    wl: Workload,
    n: int,
    runners: dict[str, Runner | str],
    profile: Profile,
    flops_per_trial: int,
    ceiling: float,
) -> dict[str, Any]:
    """Times every runnable method of one (workload, N) cell.

    Each method runs once untimed (its first call: compilation, and for D the chunk-size
    calibration), then ``profile.reps`` timed repetitions, the methods in a fresh random
    order each time. A repetition calls the method until ``profile.min_rep_s`` has passed
    and counts the mean time per call.

    Args:
        wl: the workload.
        n: trials.
        runners: method -> ``run()``, or a string saying why it does not run.
        profile: sizes.
        flops_per_trial: analytic FLOPs of one training.
        ceiling: the large-matmul GFLOP/s, for the fraction of the ceiling.

    Returns:
        method -> its result dict (``status`` ``"ok"``, ``"skipped"`` or
        ``"not available"``, and the numbers).
    """
    cell: dict[str, Any] = {}
    active: dict[str, Runner] = {}
    first: dict[str, float] = {}
    quality: dict[str, float] = {}
    for name, run in runners.items():
        if isinstance(run, str):
            kind = "skipped" if run.startswith("skipped") else "not available"
            cell[name] = {"status": kind, "reason": run, "n": n}
            continue
        calibrations = len(parallel.cached_calibrations())
        try:
            first[name], finals = timed(run)
        except Exception as e:  # e.g. the memory check of full vmap, a hyperoptax failure
            reason = f"{type(e).__name__}: {str(e).splitlines()[0][:160]}"
            status = "skipped" if isinstance(e, ValueError) and "max_memory" in str(e) else "error"
            cell[name] = {"status": status, "reason": reason, "n": n}
            print(f"    {wl.name} N={n} {name}: {status}: {reason}", flush=True)
            continue
        active[name] = run
        if isinstance(finals, np.ndarray):  # A, D, D': the trials' final validation losses
            quality[name] = float(np.nanmedian(np.where(np.isfinite(finals), finals, np.nan)))
        if name == "D" and len(parallel.cached_calibrations()) > calibrations:
            cal = parallel.cached_calibrations()[-1]
            cell["_calibration"] = {
                "chunk": cal.best(n, 1, None),
                "seconds_per_chunk": {str(k): s for k, s in cal.seconds},
                "calibration_s": cal.calibration_seconds,
            }
        print(f"    {wl.name} N={n} {name:>8}: first call {first[name]:7.2f} s", flush=True)

    times: dict[str, list[float]] = {name: [] for name in active}
    calls: dict[str, list[int]] = {name: [] for name in active}
    order = list(active)
    shuffle = np.random.default_rng(n)
    for _ in range(profile.reps):
        shuffle.shuffle(order)
        for name in order:
            # A repetition lasts at least min_rep_s (a small cell is run several times and
            # averaged), so that a millisecond-long cell is not one noisy sample.
            count, start = 0, time.perf_counter()
            while True:
                active[name]()
                count += 1
                elapsed = time.perf_counter() - start
                if elapsed >= profile.min_rep_s:
                    break
            times[name].append(elapsed / count)
            calls[name].append(count)

    for name in active:
        med = statistics.median(times[name])
        rate = n / med
        gflops = rate * flops_per_trial / 1e9
        cell[name] = {
            "status": "ok",
            "n": n,
            "seconds": times[name],
            "calls_per_rep": calls[name],
            "median_s": med,
            "trials_per_s": rate,
            "trials_per_s_fastest": n / min(times[name]),
            "first_call_s": first[name],
            "compile_s": max(first[name] - med, 0.0),
            "gflops": gflops,
            "fraction_of_ceiling": gflops / ceiling,
            "peak_rss_mb": peak_rss_mb(),
        }
        if name in quality:
            # Same hyperparameters and epochs: A and D should train about equally well.
            cell[name]["median_final_val_loss"] = quality[name]
    if "D" in cell and cell["D"]["status"] == "ok":
        cal = cell.pop("_calibration", None)
        cell["D"]["chunk"] = cal["chunk"] if cal else 1
        cell["D"]["calibration"] = cal
    cell.pop("_calibration", None)
    if "B" in cell and cell["B"]["status"] == "ok" and "C-TPE" in cell:
        cell["C-TPE"]["b_per_trial_s"] = cell["B"]["median_s"] / n
    return cell


def speedups(cell: dict[str, Any]) -> dict[str, float]:
    """Trials/s of D over every other method measured in the cell."""
    d = cell.get("D", {})
    if d.get("status") != "ok":
        return {}
    return {
        other: d["trials_per_s"] / cell[other]["trials_per_s"]
        for other in METHODS
        if other != "D" and cell.get(other, {}).get("status") == "ok"
    }


def agreement(single: TrainFn, hp: dict, keys: jax.Array, d_out: Any) -> float:
    """Largest |B - D| final validation loss over the first (up to) 4 finite trials."""
    if d_out is None:
        return math.nan
    diffs = []
    for i in range(min(len(keys), 4)):
        one = single({k: v[i] for k, v in hp.items()}, keys[i])
        a, b = float(one.val_loss[-1]), float(d_out.val_loss[i, -1])
        if math.isfinite(a) and math.isfinite(b):
            diffs.append(abs(a - b))
    return max(diffs) if diffs else math.nan


def cpu_model() -> str:
    """The CPU's "model name" from /proc/cpuinfo (``platform.processor()`` elsewhere)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine_info() -> dict[str, Any]:
    """Versions, CPU, devices and load: what a reader needs to compare runs."""
    devices = jax.devices()
    return {
        "jax": jax.__version__,
        "jaxlib": jaxlib.__version__,
        "jaxtune": jaxtune.__version__,
        "optax": version("optax"),
        "flax": version("flax"),
        "optuna": version("optuna"),
        "hyperoptax": version("hyperoptax"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
        "cpu_affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "backend": jax.default_backend(),
        "devices": [str(d) for d in devices],
        "device_kind": devices[0].device_kind,
        "load_average_start": os.getloadavg(),
    }
