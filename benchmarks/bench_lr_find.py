"""lr_find's lanes: the time of 8 lanes against one lane, and Optuna's time per round.

::

    python benchmarks/bench_lr_find.py            # digits, MLP widths 64 and 16, 7 reps
    python benchmarks/bench_lr_find.py --quick    # width 64 only, 3 reps

Part 1, ``jaxtune.lr_find`` on digits (100 steps, mini-batch 64, SGD with momentum):
one lane, 8 lanes of momentum values, 8 lanes of seeds. Each case is run once untimed
(compile), then ``reps`` times in a fresh random order per repetition; the minimum and
median wall times are reported, and the ratio 8 lanes / 1 lane of the minima. The first
call (compile and run) is reported too: that is what a user waits for once.

Part 2, :class:`jaxtune.OptunaRounds`: seconds Optuna spends proposing one round of 64
trials, for each sampler, in rounds 1-4 (history 0, 64, 128, 192 trials), on a numpy
objective, with the study in memory and in a journal file (every write fsynced).
``gp`` needs PyTorch and is skipped without it.

Prints tables and writes ``benchmarks/results/lr_find-<time>.json`` with the CPU model,
core count and load average: compare ratios, not absolute times, across machines.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import random
import statistics
import tempfile
import time
from pathlib import Path

import jax
import numpy as np
from measure import cpu_model

import jaxtune


def bench_lanes(width: int, reps: int) -> dict:
    data = jaxtune.datasets.digits()
    model = jaxtune.models.MLP(max_hidden=width, max_layers=2, n_out=data.n_out)
    trainer = jaxtune.make_train(data, model, batch_size=64)
    cases = {
        "1 lane": {"momentum": [0.9]},
        "8 lanes (momentum)": {"momentum": np.linspace(0.0, 0.95, 8)},
        "8 lanes (seeds)": {"momentum": [0.9], "seeds": 8},
    }
    first, times = {}, {name: [] for name in cases}
    for name, lanes in cases.items():
        start = time.perf_counter()
        jaxtune.lr_find(trainer, lanes=lanes)
        first[name] = time.perf_counter() - start
    order = list(cases)
    for _ in range(reps):
        random.shuffle(order)
        for name in order:
            start = time.perf_counter()
            jaxtune.lr_find(trainer, lanes=cases[name])  # returns numpy: synchronized
            times[name].append(time.perf_counter() - start)
    rows = {
        name: {"first_call_s": first[name], "min_s": min(t), "median_s": statistics.median(t)}
        for name, t in times.items()
    }
    one = rows["1 lane"]["min_s"]
    for row in rows.values():
        row["ratio_to_1_lane"] = row["min_s"] / one
    return rows


def _bowl(samples) -> np.ndarray:
    a = np.log10(np.asarray(samples["learning_rate"], np.float64)) + 1.5
    b = np.log10(1 - np.asarray(samples["momentum"], np.float64)) + 1.3
    return 10 * (a**2 + 0.5 * b**2 + 0.5 * a * b) + 0.1 * (np.asarray(samples["hidden"]) - 40) ** 2


def bench_optuna(samplers: list[str], rounds: int = 4, n: int = 64) -> dict:
    space = jaxtune.Space(
        learning_rate=jaxtune.LogUniform(1e-5, 1.0),
        momentum=jaxtune.OneMinusLogUniform(0.5, 0.999),
        hidden=jaxtune.IntUniform(8, 128),
    )
    out, folder = {}, tempfile.TemporaryDirectory()
    for sampler in [*samplers, *(f"{s} (journal file)" for s in samplers if s != "random")]:
        name, file = sampler.split()[0], f"{folder.name}/{sampler.split()[0]}.jsonl"
        path = file if "journal" in sampler else None
        study = jaxtune.OptunaRounds(space, name, seed=0, storage_path=path)
        tell = []
        for _ in range(rounds):
            numbers, samples = study.ask(n)
            start = time.perf_counter()
            study.tell(numbers, _bowl(samples))
            tell.append(time.perf_counter() - start)
        out[sampler] = {"ask_s": study.ask_seconds, "tell_s": tell, "best": study.best_value}
    folder.cleanup()
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--reps", type=int, default=None)
    p.add_argument("--out", default=str(Path(__file__).parent / "results"))
    args = p.parse_args()
    reps = args.reps or (3 if args.quick else 7)
    report = {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "jax": jax.__version__,
        "load_average_start": os.getloadavg(),
        "lanes": {},
    }
    for width in (64,) if args.quick else (64, 16):
        rows = report["lanes"][f"MLP 64-{width}-{width}-10"] = bench_lanes(width, reps)
        print(f"\nlr_find on digits, MLP 64-{width}-{width}-10, 100 steps, {reps} reps")
        print(f"{'case':22} {'first call':>11} {'min':>9} {'median':>9} {'x 1 lane':>9}")
        for name, r in rows.items():
            print(
                f"{name:22} {r['first_call_s']:10.2f}s {r['min_s'] * 1e3:7.1f}ms "
                f"{r['median_s'] * 1e3:7.1f}ms {r['ratio_to_1_lane']:9.2f}"
            )
    samplers = ["random", "tpe"]
    samplers += ["cmaes"] if importlib.util.find_spec("cmaes") else []
    samplers += ["gp"] if importlib.util.find_spec("torch") else []
    report["optuna"] = bench_optuna(samplers)
    print("\nOptunaRounds: seconds to propose (ask) / record (tell) 64 trials, rounds 1-4")
    for sampler, r in report["optuna"].items():
        asks = " ".join(f"{s:6.3f}" for s in r["ask_s"])
        tells = " ".join(f"{s:6.3f}" for s in r["tell_s"])
        print(f"{sampler:20} ask {asks}   tell {tells}")
    report["load_average_end"] = os.getloadavg()
    print(f"\nCPU {report['cpu']}, {report['cores']} cores, load {report['load_average_end']}")
    os.makedirs(args.out, exist_ok=True)
    path = Path(args.out) / f"lr_find-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(report, indent=1))
    print(path)


if __name__ == "__main__":
    main()
