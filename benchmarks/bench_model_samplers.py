"""Model-based samplers in a Sweep: regret against random search, and time per round.

Part 1 (the issue's Must-show): on a user objective with a known optimum (a noisy bowl in
log learning rate, log(1 - momentum) and an integer; tests/sweep/known_optimum.py), TPE
and CMA-ES in 4 rounds of 64 against random search with the same 256 trials, median
regret over 5 seeds (the true value of the trial each sweep picked by its noisy value).

Part 2: per round of 64 proposals, Optuna's own time (inside ``Study.ask``,
``Study.tell`` and ``Study.get_trials``: the sampler and its storage) against what
jaxtune adds on top (the round's wall time minus Optuna's time, minus the evaluation
itself and the store's writes of trial records, which a random sweep pays too).

Usage::

    python benchmarks/bench_model_samplers.py            # both parts (about a minute)
    python benchmarks/bench_model_samplers.py --timing   # part 2 only
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "sweep"))

import optuna
from known_optimum import SPACE, objective

import jaxtune
from jaxtune.sweep import model_rounds, progress


def sweep(sampler: str, seed: int, n: int = 256, batch: int = 64):
    store = tempfile.mkdtemp(prefix=f"bench_{sampler}_")
    return jaxtune.Sweep(
        SPACE,
        objective,
        n,
        sampler=sampler,
        batch=batch,
        seed=seed,
        store=store,
        quiet=True,
        chunk_size=None,
    )


def regrets(seeds: int) -> dict:
    out = {}
    for sampler in ("random", "tpe", "cmaes"):
        values = []
        for seed in range(seeds):
            best = sweep(sampler, seed).run().best(1)[0]
            values.append(best.final["true"])
        out[sampler] = {"median": float(np.median(values)), "per_seed": values}
        print(f"{sampler:7s} median regret {np.median(values):.4f}  {np.round(values, 4)}")
    return out


class Timer:
    """Exclusive wall time of wrapped functions (an inner call is not counted twice)."""

    def __init__(self) -> None:
        self.total, self.depth = 0.0, 0

    def wrap(self, fn):
        @functools.wraps(fn)
        def timed(*args, **kwargs):
            if self.depth:
                return fn(*args, **kwargs)
            self.depth += 1
            started = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.total += time.perf_counter() - started
                self.depth -= 1

        return timed


def timing(sampler: str, seed: int = 0) -> dict:
    """Per-round seconds: Optuna's own, evaluation, store writes, jaxtune's overhead.

    Public functions are wrapped: a round runs from one ``OptunaRounds.ask`` to the next
    (the last to the end of ``ModelRounds.run``); inside it, Optuna's time is spent in
    ``Study.ask/tell/get_trials``, the evaluation in ``jaxtune.parallel.run`` less its
    chunk callbacks (``ChunkWriter.write``, the store's writes, and ``OptunaRounds.tell``).
    """
    from jaxtune.sweep.optuna_rounds import OptunaRounds

    optuna_t, write_t, tell_t, run_t = Timer(), Timer(), Timer(), Timer()
    patched = [
        (optuna.study.Study, "ask", optuna_t),
        (optuna.study.Study, "tell", optuna_t),
        (optuna.study.Study, "get_trials", optuna_t),
        (progress.ChunkWriter, "write", write_t),
        (OptunaRounds, "tell", tell_t),
    ]
    saved = [(owner, name, getattr(owner, name)) for owner, name, _ in patched]
    for owner, name, timer in patched:
        setattr(owner, name, timer.wrap(getattr(owner, name)))
    original_run, original_ask = jaxtune.parallel.run, OptunaRounds.ask
    original_rounds_run = model_rounds.ModelRounds.run
    rounds: list[dict] = []
    mark: dict = {"t": None}

    def close_round() -> None:
        if mark["t"] is not None:
            wall = time.perf_counter() - mark["t"]
            spent = {"optuna": optuna_t.total, "eval": run_t.total, "store": write_t.total}
            rounds.append({"wall": wall, **spent})
        for t in (optuna_t, run_t, write_t, tell_t):
            t.total = 0.0
        mark["t"] = time.perf_counter()

    def ask(self, n):
        close_round()
        return original_ask(self, n)

    def run(*args, **kwargs):  # the evaluation, less the chunk callbacks (store, tell)
        before = tell_t.total + write_t.total
        started = time.perf_counter()
        out = original_run(*args, **kwargs)
        run_t.total += time.perf_counter() - started - (tell_t.total + write_t.total - before)
        return out

    def rounds_run(self, store, info):
        out = original_rounds_run(self, store, info)
        close_round()
        mark["t"] = None
        return out

    OptunaRounds.ask, model_rounds.parallel.run = ask, run
    model_rounds.ModelRounds.run = rounds_run
    try:
        sweep(sampler, seed).run()
    finally:
        for owner, name, fn in saved:
            setattr(owner, name, fn)
        OptunaRounds.ask, model_rounds.parallel.run = original_ask, original_run
        model_rounds.ModelRounds.run = original_rounds_run
    for r in rounds:
        r["jaxtune"] = r["wall"] - r["optuna"] - r["eval"] - r["store"]
        r["jaxtune_over_optuna"] = r["jaxtune"] / r["optuna"]
    return {"rounds": rounds}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--timing", action="store_true", help="part 2 only")
    p.add_argument("--seeds", type=int, default=5)
    args = p.parse_args()
    report = {"load_average": os.getloadavg(), "optuna": optuna.__version__}
    sweep("random", 0, n=64).run()  # compile once, outside every measurement
    sweep("tpe", 0, n=8, batch=4).run()
    if not args.timing:
        print("Part 1: median regret over seeds, 256 trials (TPE/CMA-ES: 4 rounds of 64)")
        report["regret"] = regrets(args.seeds)
    print(
        "\nPart 2: seconds per round of 64 (rounds 1-4): Optuna | evaluation | store | "
        "jaxtune overhead (ratio to Optuna)"
    )
    report["timing"] = {}
    for sampler in ("tpe", "cmaes"):
        t = report["timing"][sampler] = timing(sampler)
        for r in t["rounds"]:
            print(
                f"{sampler:6s} {r['optuna']:.3f} | {r['eval']:.3f} | {r['store']:.3f} | "
                f"{r['jaxtune']:.4f} ({100 * r['jaxtune_over_optuna']:.1f}%)"
            )
        optuna_s = sum(r["optuna"] for r in t["rounds"])
        ours = sum(r["jaxtune"] for r in t["rounds"])
        t["total_jaxtune_over_optuna"] = ours / optuna_s
        print(
            f"{sampler:6s} 4 rounds: Optuna {optuna_s:.3f} s, jaxtune {ours:.3f} s "
            f"({100 * ours / optuna_s:.1f}%)"
        )
    out = os.path.join(os.path.dirname(__file__), "results")
    os.makedirs(out, exist_ok=True)
    path = os.path.join(out, f"model_samplers_{time.strftime('%Y%m%d_%H%M%S')}.json")
    with open(path, "w") as f:
        json.dump(report, f, indent=1)
    print(path)


if __name__ == "__main__":
    main()
