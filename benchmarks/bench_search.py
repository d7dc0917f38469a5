"""Time to a good model: jaxtune's search strategies against Optuna, Ray Tune, hyperoptax.

Every strategy searches the same space of the same task (``search_space.py``) for a
fixed wall-clock budget, once per seed, each run in a fresh process that is killed when
its budget is spent. ``--cache cold`` (the default): no cache on disk for anyone, so
compilation is paid by every run, as a user pays it the first time; ``--cache warm``:
every run, jaxtune's and its rivals', reads and writes one persistent XLA compilation
cache (and jaxtune its calibration cache) that an unrecorded first run of the same
strategy filled, as a user's second run of a tuning job finds it. What each
run found is recorded the moment it is known, as a best-so-far validation accuracy
against wall time (``search_curves.py``). Reported per strategy: the median and spread
over seeds of the final best, the time to reach each target (98.0% and 98.5% on digits),
a figure (PNG) and a JSON beside it, the machine, jax version and device named, and the
verdict of issue 19's Must-show (``search_report.py``).

Strategies (``search_jaxtune.py``, ``search_rivals.py``): jaxtune random, Sobol,
successive halving, Hyperband, PBT, TPE in rounds and TPE with Hyperband (those not in
this build are ``n/a``); Optuna TPE + Hyperband pruner and random + median pruner; Ray
Tune ASHA (when ``ray[tune]`` is installed); hyperoptax random and GP search.

Usage::

    python benchmarks/bench_search.py [--quick] [--budget S] [--seeds K]
        [--workloads digits,adam] [--strategies "jaxtune SH,optuna TPE+HB"] [--out DIR]
        [--cache cold|warm]

Prints the tables and writes ``bench_search-<profile>-<timestamp>.json`` and ``.png``
(default under ``benchmarks/results/``). When jax sees a GPU the ``gpu`` profile (larger
rounds and populations) is used.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jax
from bench_parallel import RESULTS
from measure import machine_info
from report import strict_json
from search_curves import Recorder, read_curve, summarize
from search_jaxtune import JAXTUNE_STRATEGIES, jaxtune_missing, run_jaxtune
from search_report import figure, print_table, print_verdict, verdict
from search_rivals import RIVAL_STRATEGIES, rival_missing, run_rival
from search_space import PROFILES, SearchProfile, make_search_workload

from jaxtune import parallel

STRATEGIES = JAXTUNE_STRATEGIES + RIVAL_STRATEGIES
KILL_GRACE_S = 3.0  # a run is killed this long after its budget (its values stop counting)


def missing(strategy: str) -> str | None:
    """Why ``strategy`` cannot run here, or None."""
    if strategy in JAXTUNE_STRATEGIES:
        return jaxtune_missing(strategy)
    return rival_missing(strategy)


def run_strategy(
    strategy: str, workload: str, profile: SearchProfile, seed: int, events: str, workdir: str
) -> None:
    """One run, in this process: the clock starts here, imports already done."""
    wl = make_search_workload(workload, profile)
    parallel.clear_cache()  # nothing compiled by an earlier run is reused
    rec = Recorder(events, profile.budget_s)
    try:
        if strategy in JAXTUNE_STRATEGIES:
            run_jaxtune(strategy, wl, profile, seed, rec, workdir)
        else:
            run_rival(strategy, wl, profile, seed, rec, workdir, events)
    finally:
        rec.close()


def _child_command(
    strategy: str, workload: str, profile: SearchProfile, seed: int, events: str, workdir: str
) -> list[str]:
    return [
        sys.executable, str(Path(__file__).resolve()), "--child", strategy,
        "--child-workload", workload, "--child-seed", str(seed), "--child-events", events,
        "--child-workdir", workdir, "--child-profile", json.dumps(dataclasses.asdict(profile)),
    ]  # fmt: skip


def cache_env(mode: str, folder: str) -> dict[str, str]:
    """The children's environment for ``--cache`` ``mode`` (caches under ``folder``)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JAX_COMP", "JAXTUNE_"))}
    if mode == "cold":
        return {**env, "JAXTUNE_NO_CACHE": "1"}
    return {
        **env,
        "JAX_COMPILATION_CACHE_DIR": os.path.join(folder, "xla"),
        "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",
        "JAXTUNE_CACHE_DIR": folder,
    }


def _isolated(cmd: list[str], events: str, budget: float, env: dict[str, str]) -> str:
    """Runs a child; kills its process group once its budget (from its own ``t0``) and
    a grace period have passed. Returns ``"ok"`` or what went wrong."""
    grace = KILL_GRACE_S + (30.0 if "ray ASHA" in cmd else 0.0)  # Ray shuts down itself
    with tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(
            cmd, stdout=subprocess.DEVNULL, stderr=err, start_new_session=True, env=env
        )
        deadline = None
        while proc.poll() is None:
            if deadline is None and os.path.exists(events) and os.path.getsize(events):
                deadline = time.time() + budget + grace
            if deadline is not None and time.time() > deadline:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                return "ok"  # stopped at its budget: what it found by then counts
            time.sleep(0.1)
        if proc.returncode == 0:
            return "ok"
        err.seek(0)
        lines = [ln for ln in err.read().splitlines() if ln.strip()]
        return f"error: {lines[-1][:200] if lines else proc.returncode}"


def bench_strategy(
    strategy: str,
    workload: str,
    profile: SearchProfile,
    targets: Sequence[float],
    env: dict[str, str] | None = None,
    warm_up: bool = False,
) -> dict[str, Any]:
    """Every seed of one strategy on one workload, and its summary.

    With ``warm_up`` an unrecorded run (seed -1 of the sequence: the last seed + 1)
    first fills the caches ``env`` names.
    """
    why = missing(strategy)
    if why:
        return {"status": why}
    env = dict(os.environ) if env is None else env
    if warm_up and profile.isolate:
        with tempfile.TemporaryDirectory(prefix="bench_search-") as tmp:
            events, workdir = os.path.join(tmp, "events.jsonl"), os.path.join(tmp, "work")
            os.makedirs(workdir)
            cmd = _child_command(strategy, workload, profile, profile.seeds, events, workdir)
            _isolated(cmd, events, profile.budget_s, env)
    curves, trials, errors = [], [], []
    for seed in range(profile.seeds):
        with tempfile.TemporaryDirectory(prefix="bench_search-") as tmp:
            events, workdir = os.path.join(tmp, "events.jsonl"), os.path.join(tmp, "work")
            os.makedirs(workdir)
            if profile.isolate:
                cmd = _child_command(strategy, workload, profile, seed, events, workdir)
                status = _isolated(cmd, events, profile.budget_s, env)
            else:
                try:
                    run_strategy(strategy, workload, profile, seed, events, workdir)
                    status = "ok"
                except Exception as e:
                    status = f"error: {type(e).__name__}: {str(e).splitlines()[0][:200]}"
            curve, n = read_curve(events, profile.budget_s) if os.path.exists(events) else ([], 0)
            shutil.rmtree(workdir, ignore_errors=True)
        if status != "ok":
            errors.append(status)
        curves.append(curve)
        trials.append(n)
        best = f"{100 * curve[-1][1]:.2f}%" if curve else "nothing"
        print(f"  {workload} {strategy} seed {seed}: {n} trials, best {best}"
              + (f" ({status})" if status != "ok" else ""), flush=True)  # fmt: skip
    if len(errors) == profile.seeds:
        return {"status": errors[0], "errors": errors}
    return {
        "status": "ok",
        "curves": curves,
        "trials": trials,
        "errors": errors,
        "summary": summarize(curves, targets),
    }


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="seconds, for the tests")
    p.add_argument("--budget", type=float, help="seconds per strategy, workload and seed")
    p.add_argument("--seeds", type=int, help="seeds per strategy")
    p.add_argument("--workloads", help="comma-separated: digits,adam")
    p.add_argument("--strategies", help=f"comma-separated subset of: {', '.join(STRATEGIES)}")
    p.add_argument("--out", type=Path, default=RESULTS, help="folder for the JSON and PNG")
    p.add_argument(
        "--cache",
        choices=("cold", "warm"),
        default="cold",
        help="cold: no cache on disk; warm: one XLA cache for every run, filled first",
    )
    for name in ("", "-workload", "-seed", "-events", "-workdir", "-profile"):
        p.add_argument(f"--child{name}", help=argparse.SUPPRESS)
    return p.parse_args(argv)


def choose_profile(args: argparse.Namespace) -> SearchProfile:
    """The profile the flags and the backend ask for, with overrides applied."""
    name = "quick" if args.quick else ("gpu" if jax.default_backend() == "gpu" else "full")
    changes: dict[str, Any] = {}
    if args.budget is not None:
        changes["budget_s"] = args.budget
    if args.seeds is not None:
        changes["seeds"] = args.seeds
    if args.workloads:
        changes["workloads"] = tuple(w.strip() for w in args.workloads.split(","))
    if args.strategies:
        chosen = tuple(s.strip() for s in args.strategies.split(","))
        unknown = [s for s in chosen if s not in STRATEGIES]
        if unknown:
            raise SystemExit(f"unknown strategies {unknown}; known: {list(STRATEGIES)}")
        changes["strategies"] = chosen
    return dataclasses.replace(PROFILES[name], **changes)


def main(argv: Sequence[str] | None = None) -> Path | None:
    """Runs the benchmark; returns the JSON's path."""
    args = parse_args(argv)
    if args.child:
        fields = json.loads(args.child_profile)
        fields = {k: tuple(v) if isinstance(v, list) else v for k, v in fields.items()}
        run_strategy(args.child, args.child_workload, SearchProfile(**fields),
                     int(args.child_seed), args.child_events, args.child_workdir)  # fmt: skip
        return None
    started = time.perf_counter()
    profile = choose_profile(args)
    meta = machine_info()
    print(f"bench_search ({profile.name}): jax {meta['jax']} on {meta['backend']} "
          f"({meta['device_kind']}), CPU {meta['cpu_model']} x{meta['cpu_count']}, "
          f"load average {meta['load_average_start']}; budget {profile.budget_s:.0f} s x "
          f"{profile.seeds} seeds; caches {args.cache}", flush=True)  # fmt: skip
    results: dict[str, Any] = {}
    caches = tempfile.mkdtemp(prefix="bench_search-cache-")
    env, meta["cache"] = cache_env(args.cache, caches), args.cache
    for name in profile.workloads:
        wl = make_search_workload(name, profile)
        entries = {}
        for strategy in profile.strategies or STRATEGIES:
            entries[strategy] = bench_strategy(
                strategy, name, profile, wl.targets, env, warm_up=args.cache == "warm"
            )
        results[name] = {"label": wl.label, "targets": wl.targets, "budget_s": profile.budget_s,
                         "seeds": profile.seeds, "space": wl.space.to_dict(),
                         "task": wl.task.to_dict(), "strategies": entries}  # fmt: skip
    markdown = {name: print_table(name, w) for name, w in results.items()}
    items = verdict(results)
    print_verdict(items, profile.name)
    meta["load_average_end"] = os.getloadavg()
    meta["wall_s"] = time.perf_counter() - started
    loaded = max(meta["load_average_start"][0], meta["load_average_end"][0]) > 1
    note = " (loaded machine)" if loaded else ""
    end = meta["load_average_end"]
    print(f"\nload average at the end {end} on {meta['cpu_count']} CPUs{note}; "
          f"{meta['wall_s']:.0f} s", flush=True)  # fmt: skip
    args.out.mkdir(parents=True, exist_ok=True)
    stem = f"bench_search-{profile.name}-{args.cache}-{time.strftime('%Y%m%d-%H%M%S')}"
    title = (f"{meta['cpu_model']} x{meta['cpu_count']}, jax {meta['jax']} "
             f"({meta['device_kind']}){', loaded' if loaded else ''}")  # fmt: skip
    png = figure(results, args.out / f"{stem}.png", title)
    report = {"meta": {**meta, "loaded": loaded}, "profile": dataclasses.asdict(profile),
              "workloads": results, "verdict": items, "markdown": markdown,
              "figure": str(png) if png else None}  # fmt: skip
    shutil.rmtree(caches, ignore_errors=True)
    path = args.out / f"{stem}.json"
    path.write_text(json.dumps(strict_json(report), indent=1, allow_nan=False))
    print(f"wrote {path}" + (f" and {png}" if png else ""))
    return path


if __name__ == "__main__":
    main()
