"""A sweep's first result and its whole time with an empty cache on disk, then again.

``Sweep`` keeps its compiled programs and chunk-size decisions on disk by default
(``jaxtune.parallel.default_caches``). Each run below is a fresh process, as a user's
script or notebook kernel is, running TPE + ASHA on digits (the default space without
``epochs``; 32 trials, 27 epochs at most) with the given cache folder: first with
``JAXTUNE_NO_CACHE=1``, then ``--repeats`` times with one cache folder that starts
empty. The first cached run fills the folder; the later ones read it. Printed: the
seconds from ``Sweep(...)`` to the first committed trial and to the end, medians of
the later runs, and their ratios to the uncached run.

    python benchmarks/bench_caches.py [--repeats 3] [--trials 32]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

from measure import machine_info

CHILD = """
import json, sys, tempfile, time
import jaxtune
from jaxtune.sweep import default_space

dims = default_space().to_dict()
dims.pop("epochs")
task = jaxtune.Task(dataset="digits", epochs=27, batch_size=64)
first = []
start = time.perf_counter()
sweep = jaxtune.Sweep(
    jaxtune.Space.from_dict(dims), task, int(sys.argv[1]), sampler="tpe", quiet=True,
    scheduler=jaxtune.ASHA(max_epochs=27), store=tempfile.mkdtemp() + "/s",
    callbacks=[lambda record: first or first.append(time.perf_counter())],
)
results = sweep.run()
end = time.perf_counter()
print(json.dumps({"first": first[0] - start, "total": end - start, "best": results.best_value}))
"""


def _run(trials: int, env: dict[str, str]) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(trials)], env=env, capture_output=True, text=True
    )
    if out.returncode != 0:
        raise SystemExit(out.stderr.strip().splitlines()[-1])
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    """Run the uncached, the filling and the cached runs; print and dump the numbers."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=3, help="cached runs after the filling one")
    p.add_argument("--trials", type=int, default=32)
    args = p.parse_args()
    base = {k: v for k, v in os.environ.items() if not k.startswith(("JAX_COMP", "JAXTUNE_"))}
    with tempfile.TemporaryDirectory(prefix="bench_caches-") as folder:
        off = _run(args.trials, {**base, "JAXTUNE_NO_CACHE": "1"})
        cached_env = {**base, "JAXTUNE_CACHE_DIR": folder}
        filling = _run(args.trials, cached_env)
        cached = [_run(args.trials, cached_env) for _ in range(args.repeats)]
    med = {k: statistics.median(r[k] for r in cached) for k in ("first", "total")}
    for name, r in [("no cache", off), ("empty cache", filling)] + [
        (f"cached {i + 1}", r) for i, r in enumerate(cached)
    ]:
        print(f"{name:12s} first result {r['first']:6.2f} s  whole sweep {r['total']:6.2f} s")
    print(
        f"cached (median of {args.repeats}): first result {med['first']:.2f} s "
        f"({off['first'] / med['first']:.1f}x sooner than without a cache), whole sweep "
        f"{med['total']:.2f} s ({off['total'] / med['total']:.1f}x)"
    )
    meta = machine_info()
    print(json.dumps({"machine": meta, "no_cache": off, "filling": filling, "cached": cached}))


if __name__ == "__main__":
    main()
