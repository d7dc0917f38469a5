"""Successive halving and Hyperband against a plain sweep of the same configurations.

Digits, the default space without ``epochs``, 81 configurations: a plain sweep trains all
of them 27 epochs; successive halving (1 to 27 epochs, eta 3) the best third of each rung
three times longer. Both in the same process, alternating, medians of ``--reps`` runs, each
in a fresh store, with the persistent compilation cache on (as the ``jaxtune`` command
has it); the first run of each fills the cache and is reported apart. Prints
the best validation accuracy of each, the lane-epochs spent and the wall-time ratio, then
the number of compiled chunk programs of whole successive-halving sweeps of 27, 81 and 243
trials and of a Hyperband sweep (it must not grow with the number of trials).

    python benchmarks/bench_schedulers.py [--reps 3] [--trials 81] [--epochs 27]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time

import jax
from measure import cpu_model  # benchmarks/ is first on sys.path

import jaxtune
from jaxtune import parallel, plots
from jaxtune.sweep import Hyperband, SuccessiveHalving, Sweep, Task, default_space


def _space():
    dims = default_space().to_dict()
    dims.pop("epochs")
    return dims


def _run(scheduler, n: int, epochs: int, chunk) -> tuple[float, object]:
    with tempfile.TemporaryDirectory() as tmp:
        sweep = Sweep(
            _space(), Task(epochs=epochs), n, store=os.path.join(tmp, "s"), quiet=True,
            chunk_size=chunk, scheduler=scheduler,
        )  # fmt: skip
        start = time.perf_counter()
        res = sweep.run()
        return time.perf_counter() - start, res


def main() -> None:
    """Run the comparison and print it (and its JSON)."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--trials", type=int, default=81)
    p.add_argument("--epochs", type=int, default=27)
    p.add_argument("--chunk", default="auto", help="chunk_size (auto or an integer)")
    args = p.parse_args()
    chunk = args.chunk if args.chunk == "auto" else int(args.chunk)
    # As the jaxtune command does: programs compiled once are loaded in later runs (each
    # run builds a new Task, so in-process caches do not carry over). The first run of
    # each method fills the cache and is reported apart.
    cache = tempfile.TemporaryDirectory()
    jaxtune.enable_compilation_cache(cache.name)
    sh = SuccessiveHalving(min_epochs=1, reduction_factor=3, max_epochs=args.epochs)
    times: dict[str, list[float]] = {"plain": [], "sh": []}
    first: dict[str, float] = {}
    results = {}
    for rep in range(args.reps + 1):
        for name, sched in (
            (("plain", None), ("sh", sh)) if rep % 2 else (("sh", sh), ("plain", None))
        ):
            seconds, res = _run(sched, args.trials, args.epochs, chunk)
            if rep == 0:
                first[name] = seconds  # compile (and calibration) included
            else:
                times[name].append(seconds)
            results[name] = res
    best = {k: r.best(1)[0].final["val_accuracy"] for k, r in results.items()}
    spent = plots.budget(results["sh"])
    med = {k: statistics.median(v) for k, v in times.items()}
    counts = {}
    for n in (27, 81, 243):
        parallel.clear_cache()
        _run(sh, n, args.epochs, 16)
        counts[f"sh_{n}"] = len(parallel.cached_programs())
    parallel.clear_cache()
    _run(Hyperband(min_epochs=1, max_epochs=args.epochs, reduction_factor=3), 1, args.epochs, 16)
    counts["hyperband"] = len(parallel.cached_programs())
    report = {
        "machine": {"cpu": cpu_model(), "cores": os.cpu_count(), "jax": jax.__version__},
        "best_val_accuracy": best,
        "points_behind": 100 * (best["plain"] - best["sh"]),
        "lane_epochs": {"sh": spent["lane_epochs"], "plain": args.trials * args.epochs},
        "lane_epoch_fraction": spent["lane_epochs"] / (args.trials * args.epochs),
        "median_seconds": med,
        "first_run_seconds": first,
        "wall_fraction": med["sh"] / med["plain"],
        "compiled_programs": counts,
    }
    print(f"{report['machine']}")
    print(f"best val accuracy: plain {best['plain']:.4f}, successive halving {best['sh']:.4f} "
          f"({report['points_behind']:+.2f} points behind)")  # fmt: skip
    print(f"lane-epochs: {spent['lane_epochs']:.0f} of {args.trials * args.epochs} "
          f"({100 * report['lane_epoch_fraction']:.1f}%)")  # fmt: skip
    print(f"wall (median of {args.reps}): plain {med['plain']:.2f} s, sh {med['sh']:.2f} s "
          f"({100 * report['wall_fraction']:.0f}%); first runs {first}")  # fmt: skip
    print(f"compiled chunk programs: {counts}")
    print(json.dumps(report))


if __name__ == "__main__":
    main()
