"""Trials per second of a hyperparameter sweep, five ways, side by side in one process.

Every way trains the same model on the same data with the same optimizer (SGD with
momentum), the same number of epochs and hyperparameters drawn from the same
distributions (learning rate log-uniform, momentum log-uniform on ``1 - beta``):

- A, the Flax-tutorial way: a jitted ``train_step(state, x, y)`` called from a Python loop
  over epochs and mini-batches, a jitted evaluation per epoch, trial after trial;
- B, one jitted, fully scanned training per trial (jaxtune's trainer), called in a
  Python loop (``bench_parallel.sequential_runner``);
- C, Optuna (``RandomSampler`` and ``TPESampler``) driving B one trial at a time;
- D, :func:`jaxtune.parallel.run` with ``chunk_size="auto"``; D', full vmap
  (``chunk_size=None``);
- E, hyperoptax's ``RandomSearch`` (``n_parallel`` trials vmapped per iteration) wrapping
  the same training function, when it is installed.

Workloads: W1 a tiny MLP 16-32-32-2 (batch 16, synthetic spirals), W2 an MLP 64-64-10 on
the 8x8 digits (batch 64), W3 a wide MLP 64-256-256-10 (digits, batch 64), W4 a small
CNN on the 8x8 digit images (batch 64). Trials N in {1, 16, 64, 256, 1024} (up to 16384
on a GPU); a cell whose estimated time (from the per-trial time measured at the previous
N) exceeds the budget is skipped and shown as ``skipped (est. X s)``.

Reported: trials/s (median of the repetitions; every repetition runs the methods in a
fresh random order), compile time (first call minus the median), speedups of D, achieved
GFLOP/s from an analytic FLOP count against two ceilings measured in the same run (a
large matmul and a batch of small ones), peak RSS, compile time of a D program cold and
from jax's persistent compilation cache (two subprocesses), and a :class:`jaxtune.Sweep`
end to end (store writes included) on W2. A verdict block checks the targets.

Usage::

    python benchmarks/bench_sweep.py [--quick | --smoke | --gpu-quick] [--out DIR]

Prints the tables and writes ``bench_sweep-<timestamp>.json`` (default under
``benchmarks/results/``).

The code lives beside this entry point: ``workloads.py`` (profiles, models, data, FLOP
counts, trials; shared with the tests), ``methods.py`` (A to E), ``measure.py`` (timing,
ceilings, memory, the cells), ``extras.py`` (the Sweep and the compilation cache) and
``report.py`` (tables, verdict, JSON).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import jax
from bench_parallel import RESULTS
from extras import compile_cache_bench, compile_probe, sweep_bench
from measure import (
    agreement,
    bench_cell,
    estimate_seconds,
    machine_info,
    matmul_ceilings,
    peak_rss_mb,
    speedups,
)
from methods import (
    METHODS,
    Runner,
    hyperoptax_objective,
    hyperoptax_runner,
    hyperoptax_status,
    jaxtune_runner,
    optuna_runner,
    sequential_runner,
    tutorial_runner,
)
from report import print_verdict, print_workload, strict_json, verdict
from workloads import (
    LR,
    MOMENTUM,
    PROFILES,
    SEED,
    Profile,
    Workload,
    make_workload,
    sample_hparams,
    trainer_for,
    trial_keys,
)


def bench_workload(wl: Workload, profile: Profile, ceiling: float) -> dict[str, Any]:
    """Every N of one workload; methods are skipped past the cell budget.

    Returns:
        The workload's description and its cells (``str(N) -> method -> result``).
    """
    epochs = profile.epochs
    flops = wl.flops_per_trial(epochs)
    trainers = {m: trainer_for(wl, epochs) for m in ("B", "D", "D'", "E")}
    trainers["Dp"] = trainer_for(wl, epochs, data_order="per_trial")
    single = jax.jit(trainers["B"])  # B's function; C reuses it
    make_a = tutorial_runner(wl, epochs)
    hx_missing = hyperoptax_status()
    hx_objective = None if hx_missing else hyperoptax_objective(trainers["E"])
    print(
        f"\n{wl.name}: {wl.label}, batch {wl.batch}, {epochs} epochs, "
        f"{wl.params} params, {flops / 1e9:.4f} GFLOP per trial",
        flush=True,
    )
    cells: dict[str, Any] = {}
    prev: dict[str, dict[str, Any]] = {}
    for n in profile.trials:
        hp, keys = sample_hparams(n), trial_keys(n)
        d_out: dict[str, Any] = {}
        candidates: dict[str, Callable[[], Runner]] = {
            "A": lambda hp=hp, keys=keys: make_a(hp, keys),
            "B": lambda hp=hp, keys=keys: sequential_runner(trainers["B"], hp, keys),
            "C-random": lambda keys=keys: optuna_runner(single, "random", keys),
            "C-TPE": lambda keys=keys: optuna_runner(single, "tpe", keys),
            "D": lambda hp=hp, keys=keys, d_out=d_out: jaxtune_runner(
                trainers["D"], hp, keys, "auto", d_out
            ),
            "Dp": lambda hp=hp, keys=keys: jaxtune_runner(trainers["Dp"], hp, keys, "auto", {}),
            "D'": lambda hp=hp, keys=keys: jaxtune_runner(trainers["D'"], hp, keys, None, {}),
        }
        if hx_objective is not None:
            p = min(n, profile.hyperoptax_parallel)
            candidates["E"] = lambda n=n, p=p: hyperoptax_runner(hx_objective, n, p)
        runners: dict[str, Runner | str] = {}
        for name in METHODS:
            if name == "E" and hx_missing:
                runners[name] = hx_missing
                continue
            est = estimate_seconds(name, n, profile.reps, prev.get(name), profile.min_rep_s)
            if est is not None and est > profile.cell_budget_s:
                runners[name] = f"skipped (est. {est:.0f} s)"
            else:
                runners[name] = candidates[name]()
        cell = bench_cell(wl, n, runners, profile, flops, ceiling)
        if cell.get("E", {}).get("status") == "ok":
            cell["E"]["n_parallel"] = min(n, profile.hyperoptax_parallel)
        cell["speedup_of_D"] = speedups(cell)
        if cell.get("D", {}).get("status") == "ok":
            cell["D"]["b_vs_d_max_abs_diff_final_val_loss"] = agreement(
                single, hp, keys, d_out.get("history")
            )
        for name in METHODS:
            if cell.get(name, {}).get("status") == "ok":
                prev[name] = cell[name]
        cells[str(n)] = cell
        summary = ", ".join(
            f"{m} {cell[m]['trials_per_s']:.3g}" for m in METHODS if cell[m]["status"] == "ok"
        )
        print(f"  {wl.name} N={n} trials/s: {summary}", flush=True)
    return {
        "label": wl.label,
        "batch": wl.batch,
        "epochs": epochs,
        "params": wl.params,
        "n_train": int(wl.data.x_train.shape[0]),
        "n_val": int(wl.data.x_val.shape[0]),
        "steps_per_epoch": wl.steps_per_epoch,
        "forward_flops_per_example": wl.forward_flops,
        "flops_per_trial": flops,
        "cells": cells,
        "peak_rss_mb": peak_rss_mb(),
    }


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="W1-W2, N in {1, 16, 64}, 2 epochs")
    size.add_argument("--smoke", action="store_true", help="tiniest sizes, for the tests")
    size.add_argument("--gpu-quick", action="store_true", help="a short GPU run (< 5 min)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="folder for the JSON")
    parser.add_argument("--reps", type=int, help="timed repetitions (>= 3)")
    parser.add_argument("--cell-budget", type=float, help="seconds per method and cell")
    parser.add_argument("--workloads", help="comma-separated subset of W1,W2,W3,W4")
    parser.add_argument("--skip-extras", action="store_true", help="no Sweep, no cache probe")
    parser.add_argument("--compile-probe", metavar="CACHE_DIR", help=argparse.SUPPRESS)
    parser.add_argument("--probe-n", type=int, default=64, help=argparse.SUPPRESS)
    parser.add_argument("--epochs", type=int, help="epochs per trial")
    return parser.parse_args(argv)


def choose_profile(args: argparse.Namespace) -> Profile:
    """The profile the flags and the backend ask for, with overrides applied."""
    gpu = jax.default_backend() == "gpu"
    if args.smoke:
        profile = PROFILES["smoke"]
    elif args.gpu_quick:
        profile = PROFILES["gpu-quick"]
    elif args.quick:
        profile = PROFILES["quick"]
    else:
        profile = PROFILES["gpu" if gpu else "full"]
    changes: dict[str, Any] = {}
    if args.reps is not None:
        changes["reps"] = max(3, args.reps)
    if args.cell_budget is not None:
        changes["cell_budget_s"] = args.cell_budget
    if args.workloads:
        changes["workloads"] = tuple(w.strip().upper() for w in args.workloads.split(","))
    if args.epochs is not None:
        changes["epochs"] = args.epochs
    return dataclasses.replace(profile, **changes)


def main(argv: Sequence[str] | None = None) -> Path | None:
    """Runs the benchmark; returns the JSON's path."""
    args = parse_args(argv)
    if args.compile_probe:
        probe = compile_probe(args.compile_probe, args.probe_n, args.epochs or 10)
        print(json.dumps(probe))
        return None
    started = time.perf_counter()
    profile = choose_profile(args)
    meta = machine_info()
    print(
        f"bench_sweep ({profile.name}): jax {meta['jax']} on {meta['backend']} "
        f"({meta['device_kind']}), CPU {meta['cpu_model']} x{meta['cpu_count']}, "
        f"load average {meta['load_average_start']}"
    )
    hx = hyperoptax_status()
    print(f"hyperoptax: {hx or 'version ' + str(meta['hyperoptax'])}")

    ceilings = {"start": matmul_ceilings(profile.matmul_size, profile.reps)}
    ceiling = ceilings["start"]["large_matmul"]["gflops"]
    for name, c in ceilings["start"].items():
        print(f"ceiling {name} ({c['shape']}): {c['gflops']:.1f} GFLOP/s")

    results: dict[str, Any] = {}
    for name in profile.workloads:
        wl = make_workload(name, profile)
        results[name] = bench_workload(wl, profile, ceiling)

    extras: dict[str, Any] = {}
    if not args.skip_extras:
        d_rate = (
            results.get("W2", {})
            .get("cells", {})
            .get(str(profile.sweep_n), {})
            .get("D", {})
            .get("trials_per_s")
        )
        print(f"\njaxtune.Sweep end to end, W2, N={profile.sweep_n} ...", flush=True)
        extras["sweep"] = s = sweep_bench(profile.sweep_n, profile.epochs, profile.reps, d_rate)
        vs = f", {s['vs_D_parallel_run']:.2f}x D" if s["vs_D_parallel_run"] else ""
        print(
            f"Sweep W2 N={s['n']}: first run {s['first_run_s']:.2f} s (compile + calibration), "
            f"then {s['median_s']:.2f} s = {s['trials_per_s']:.1f} trials/s{vs}, "
            f"store {s['store_bytes'] / 1024:.0f} KiB"
        )
        print(f"compile cold vs persistent cache (W2, N={profile.probe_n}) ...", flush=True)
        extras["compile_cache"] = c = compile_cache_bench(
            Path(__file__), profile.probe_n, profile.epochs
        )
        cold, warm = c["cold"].get("compile_s"), c["warm"].get("compile_s")
        if cold is not None and warm is not None:
            print(f"compile W2 D program: cold {cold:.2f} s, warm cache {warm:.2f} s")
        else:
            print(f"compile probe failed: {c}")

    # Measured again at the end; the fractions use the higher of the two (the stricter).
    ceilings["end"] = matmul_ceilings(profile.matmul_size, profile.reps)
    best = max(ceilings[t]["large_matmul"]["gflops"] for t in ("start", "end"))
    ceilings["used_gflops"] = best
    print(
        f"\nceiling large_matmul at the end: {ceilings['end']['large_matmul']['gflops']:.1f} "
        f"GFLOP/s; fractions of the ceiling use {best:.1f} GFLOP/s"
    )
    for w in results.values():
        for cell in w["cells"].values():
            for m in METHODS:
                if cell.get(m, {}).get("status") == "ok":
                    cell[m]["fraction_of_ceiling"] = cell[m]["gflops"] / best
    for name, r in results.items():
        print_workload(name, r, best)
    items = verdict(results)
    print_verdict(items, profile)
    meta["load_average_end"] = os.getloadavg()
    meta["peak_rss_mb"] = peak_rss_mb()
    meta["wall_s"] = time.perf_counter() - started
    print(
        f"\npeak RSS {meta['peak_rss_mb']:.0f} MiB; load average at the end "
        f"{meta['load_average_end']} on {meta['cpu_count']} CPUs; {meta['wall_s']:.0f} s"
    )
    report = {
        "meta": meta,
        "profile": dataclasses.asdict(profile),
        "hyperparameters": {"learning_rate": LR, "momentum": MOMENTUM, "seed": SEED},
        "ceilings": ceilings,
        "workloads": results,
        "extras": extras,
        "verdict": items,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"bench_sweep-{profile.name}-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(strict_json(report), indent=2, allow_nan=False))
    print(f"wrote {path}")
    return path


if __name__ == "__main__":
    main()
