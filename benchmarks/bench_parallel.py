"""Trials per second of jaxtune.parallel.run's strategies against a sequential loop.

Each model trains an MLP classifier with SGD + momentum, the whole training in one
``lax.scan``. Strategies: sequential (one jitted training per trial in a Python loop),
full vmap, every power-of-two chunk size, and ``chunk_size="auto"``. Compile time (and
auto's calibration) is measured on a first call and reported apart; throughput is the
median over repetitions, each repetition running every strategy once in a fresh random
order, so that bursts of load on a shared machine do not always hit the same strategy.

Usage::

    python benchmarks/bench_parallel.py [--quick] [--reps N]

Prints a table per model and writes JSON under ``benchmarks/results/``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxtune import parallel

FEATURES, CLASSES, SAMPLES, BATCH, EPOCHS = 64, 10, 1024, 64, 5
RESULTS = Path(__file__).parent / "results"


def make_train(width: int) -> Callable[[dict[str, jax.Array], jax.Array], dict[str, jax.Array]]:
    """``train(hp, key)``: a 64-width-width-10 MLP trained for EPOCHS on synthetic data."""
    kx, kw = jax.random.split(jax.random.key(42))
    X = jax.random.normal(kx, (SAMPLES, FEATURES))
    y = jnp.argmax(X @ jax.random.normal(kw, (FEATURES, CLASSES)), axis=-1)
    batches = SAMPLES // BATCH
    sizes = [FEATURES, width, width, CLASSES]

    def init(key: jax.Array) -> list[tuple[jax.Array, jax.Array]]:
        keys = jax.random.split(key, len(sizes) - 1)
        return [
            (jax.random.normal(k, (i, o)) * jnp.sqrt(2.0 / i), jnp.zeros(o))
            for k, i, o in zip(keys, sizes[:-1], sizes[1:], strict=True)
        ]

    def loss(params: Any, xb: jax.Array, yb: jax.Array) -> jax.Array:
        h = xb
        for w, b in params[:-1]:
            h = jax.nn.relu(h @ w + b[None, :])
        w, b = params[-1]
        logp = jax.nn.log_softmax(h @ w + b[None, :])
        return -jnp.mean(jnp.take_along_axis(logp, yb[:, None], axis=1))

    def train(hp: dict[str, jax.Array], key: jax.Array) -> dict[str, jax.Array]:
        params = init(key)
        velocity = jax.tree.map(jnp.zeros_like, params)

        def step(carry: Any, i: jax.Array) -> tuple[Any, jax.Array]:
            params, velocity = carry
            start = (i % batches) * BATCH
            xb = jax.lax.dynamic_slice_in_dim(X, start, BATCH)
            yb = jax.lax.dynamic_slice_in_dim(y, start, BATCH)
            value, grads = jax.value_and_grad(loss)(params, xb, yb)
            velocity = jax.tree.map(lambda v, g: hp["momentum"] * v + g, velocity, grads)
            params = jax.tree.map(lambda p, v: p - hp["lr"] * v, params, velocity)
            return (params, velocity), value

        _, losses = jax.lax.scan(step, (params, velocity), jnp.arange(EPOCHS * batches))
        return {"final_loss": losses[-1], "losses": losses[::batches]}

    return train


def sequential_runner(train: Callable[..., Any], hp: dict[str, np.ndarray], keys: jax.Array):
    single = jax.jit(train)
    per_trial = [({k: v[i] for k, v in hp.items()}, keys[i]) for i in range(len(keys))]

    def run() -> None:
        outs = [single(h, k) for h, k in per_trial]
        jax.block_until_ready(outs)

    return run


def parallel_runner(train: Callable[..., Any], hp: dict[str, np.ndarray], keys: jax.Array, cs):
    def run() -> None:
        parallel.run(train, hp, keys, chunk_size=cs)  # returns NumPy: already synchronized

    return run


def bench_model(width: int, n: int, reps: int) -> dict[str, Any]:
    train = make_train(width)
    rng = np.random.default_rng(0)
    hp = {
        "lr": (10 ** rng.uniform(-3, -1, n)).astype(np.float32),
        "momentum": (1 - 10 ** rng.uniform(-2, -0.5, n)).astype(np.float32),
    }
    keys = jax.random.split(jax.random.key(0), n)
    chunk_sizes = [2**i for i in range(n.bit_length()) if 2**i <= n]
    strategies: dict[str, Callable[[], None]] = {"sequential": sequential_runner(train, hp, keys)}
    strategies["full vmap"] = parallel_runner(train, hp, keys, None)
    for k in chunk_sizes:
        strategies[f"chunk {k}"] = parallel_runner(train, hp, keys, k)
    # auto gets its own (identical) function, so that no program compiled for the other
    # strategies is reused: its first call shows compiling plus calibrating from cold.
    strategies["auto"] = parallel_runner(make_train(width), hp, keys, "auto")

    first_call: dict[str, float] = {}
    for name, run in strategies.items():
        start = time.perf_counter()
        run()  # compiles (and, for auto, calibrates); not part of the throughput
        first_call[name] = time.perf_counter() - start
        print(f"  width {width}: {name:>10} first call {first_call[name]:6.2f} s", flush=True)

    times: dict[str, list[float]] = {name: [] for name in strategies}
    order = list(strategies)
    shuffle = np.random.default_rng(1)
    for _ in range(reps):
        # A fresh order each repetition: on a shared machine, load comes in bursts, and a
        # fixed order would pin a burst on the same strategies every time.
        shuffle.shuffle(order)
        for name in order:
            start = time.perf_counter()
            strategies[name]()
            times[name].append(time.perf_counter() - start)

    calibration = parallel.cached_calibrations()[-1]
    result: dict[str, Any] = {
        "width": width,
        "n": n,
        "reps": reps,
        "seconds": times,
        "first_call_s": first_call,
        "auto_chunk": calibration.best(n, 1, None),
        "calibration": {
            "seconds_per_chunk": dict(calibration.seconds),
            "memory_bytes": dict(calibration.memory),
            "calibration_s": calibration.calibration_seconds,
        },
    }
    # The median is the verdict. The fastest repetition is shown beside it, to tell a
    # strategy's own speed from bursts of load on a shared machine (a strategy whose
    # fastest repetition is far above its median had an unlucky run).
    for stat, pick in (("median", statistics.median), ("fastest", min)):
        rate = {name: n / pick(ts) for name, ts in times.items()}
        best = max((name for name in rate if name != "auto"), key=rate.get)
        vs_best, vs_seq = rate["auto"] / rate[best], rate["auto"] / rate["sequential"]
        result[stat] = {
            "trials_per_s": rate,
            "best": best,
            "auto_vs_best": vs_best,
            "auto_vs_sequential": vs_seq,
            "pass": vs_best >= 0.85 and vs_seq >= 0.9,
        }
    return result


def print_table(r: dict[str, Any]) -> None:
    med, fast = r["median"], r["fastest"]
    print(f"\nMLP 64-{r['width']}-{r['width']}-10, {r['n']} trials, {r['reps']} repetitions")
    print(
        f"{'strategy':>12} | {'trials/s':>9} | {'x seq':>6} | {'fastest rep':>11} | "
        f"{'first call s':>12}"
    )
    print("-" * 63)
    for name, rate in med["trials_per_s"].items():
        label = f"auto (k={r['auto_chunk']})" if name == "auto" else name
        mark = " <- best" if name == med["best"] else ""
        seq = med["trials_per_s"]["sequential"]
        print(
            f"{label:>12} | {rate:9.1f} | {rate / seq:6.2f} | "
            f"{fast['trials_per_s'][name]:11.1f} | {r['first_call_s'][name]:12.2f}{mark}"
        )
    print(
        f"auto: {med['auto_vs_best']:.2f} x best ({med['best']}), "
        f"{med['auto_vs_sequential']:.2f} x sequential (medians) -> "
        f"{'PASS' if med['pass'] else 'FAIL'} (bounds: >= 0.85 x best, >= 0.9 x sequential)"
    )
    print(
        f"auto's first call: {r['first_call_s']['auto']:.1f} s, of which "
        f"{r['calibration']['calibration_s']:.1f} s calibration (compiles of the sizes "
        "tried included)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer trials")
    parser.add_argument("--reps", type=int, default=5, help="timed repetitions (>= 3)")
    args = parser.parse_args()
    models = [(64, 64), (256, 32)] if args.quick else [(64, 256), (256, 128)]
    results = []
    for width, n in models:
        results.append(bench_model(width, n, max(3, args.reps)))
        print_table(results[-1])
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = RESULTS / f"bench_parallel-{'quick-' if args.quick else ''}{stamp}.json"
    meta = {
        "jax": jax.__version__,
        "backend": jax.default_backend(),
        "devices": [str(d) for d in jax.devices()],
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "load_average_at_end": os.getloadavg(),
    }
    print(f"load average at the end: {os.getloadavg()} on {os.cpu_count()} CPUs")
    path.write_text(json.dumps({"meta": meta, "results": results}, indent=2, default=str))
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
