"""Population-based training against random search with the same lane-epochs, on digits.

The default digits space without ``epochs`` (the schedule decides) and with one
mini-batch size (64: one static group, one population), ``--members`` members trained
``--epochs`` epochs: random search trains every sampled configuration straight through;
PBT (``jaxtune.PBT``, Ray's defaults: an exploit/explore step every 2 epochs, quantile
0.25, resampling probability 0.25, factors 0.8 and 1.2) trains the same initial
population for the same lane-epochs. Random search is PBT with ``quantile_fraction=0``
(nothing is ever copied: each trial trains with its own sample, as in a plain sweep).

For each of ``--seeds`` seeds: the best validation accuracy of each, and the median over
seeds. Cost: both run on the lane runtime with the same programs, so what PBT adds
(ranking, copying states on device, exploring, its lineage and snapshots) is the ratio
of their wall times, each timed on a second run in the same process (programs already
compiled); the first runs (compile included) are reported apart.

    python benchmarks/bench_pbt.py [--members 64] [--epochs 12] [--seeds 3]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import tempfile
import time

import jax
from measure import cpu_model  # benchmarks/ is first on sys.path

import jaxtune
from jaxtune.sweep import PBT, Sweep, Task, default_space


def _space() -> dict:
    dims = default_space().to_dict()
    dims.pop("epochs")
    dims["batch_size"] = 64
    return dims


def _run(task: Task, members: int, seed: int, pbt: PBT) -> tuple[float, object]:
    with tempfile.TemporaryDirectory() as tmp:
        sweep = Sweep(_space(), task, members, seed=seed, store=os.path.join(tmp, "s"),
                      quiet=True, chunk_size=None, scheduler=pbt)  # fmt: skip
        start = time.perf_counter()
        res = sweep.run()
        return time.perf_counter() - start, res


def main() -> None:
    """Run the comparison and print it (and its JSON)."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--members", type=int, default=64)
    p.add_argument("--epochs", type=int, default=12)
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--interval", type=int, default=2)
    args = p.parse_args()
    task = Task(dataset="digits", epochs=args.epochs)
    pbt = PBT(interval_epochs=args.interval)
    random_search = dataclasses.replace(pbt, quantile_fraction=0.0)  # nothing copied
    rows = []
    for seed in range(args.seeds):
        t_random_first, _ = _run(task, args.members, seed, random_search)  # compiles
        t_random, random_res = _run(task, args.members, seed, random_search)
        t_first, _ = _run(task, args.members, seed, pbt)  # compiles the explore step
        t_pbt, pbt_res = _run(task, args.members, seed, pbt)  # compiled: steady state
        rows.append(
            {
                "seed": seed,
                "random_best": random_res.best_value,
                "pbt_best": pbt_res.best_value,
                "random_seconds_first": t_random_first,
                "random_seconds": t_random,
                "pbt_seconds_first": t_first,
                "pbt_seconds": t_pbt,
                "exploit_fraction": t_pbt / t_random - 1.0,
            }
        )
        r = rows[-1]
        print(
            f"seed {seed}: best val accuracy random {r['random_best']:.4f}, PBT "
            f"{r['pbt_best']:.4f}; wall random {t_random:.2f} s, PBT {t_pbt:.2f} s "
            f"(PBT adds {100 * r['exploit_fraction']:.1f}%); first runs {t_random_first:.1f} s "
            f"and {t_first:.1f} s",
            flush=True,
        )
    med = {k: statistics.median(r[k] for r in rows) for k in rows[0] if k != "seed"}
    report = {
        "machine": {
            "cpu": cpu_model(),
            "cores": os.cpu_count(),
            "jax": jax.__version__,
            "jaxtune": jaxtune.__version__,
            "load_average": os.getloadavg(),
        },
        "settings": {**vars(args), "pbt": pbt.to_dict()},
        "lane_epochs": args.members * args.epochs,
        "seeds": rows,
        "median": med,
    }
    print(
        f"median of {args.seeds} seeds: best val accuracy random {med['random_best']:.4f}, "
        f"PBT {med['pbt_best']:.4f} (same {report['lane_epochs']} lane-epochs); "
        f"PBT's wall time {100 * med['exploit_fraction']:+.1f}% against random search's"
    )
    print(json.dumps(report))


if __name__ == "__main__":
    main()
