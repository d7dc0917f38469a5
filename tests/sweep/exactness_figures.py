"""Measure how exactly batched trials reproduce trials run alone (README "Exactness").

Run: ``python tests/sweep/exactness_figures.py [n_trials]``. For each workload (the
built-in MLP and CNN on digits, and two small RL-like functions written in jnp), every
trial is run alone with ``jax.jit(train)(hparams_i, key_i)``, then through
``jaxtune.parallel.run`` with several chunk sizes, and once more as a resume would run it
(the same chunk size, starting one chunk later). Printed per setting, as a Markdown
table: how many trials are bit-identical to the trial alone in every output, and the
relative difference of the validation loss after the first epoch (largest over trials)
and at the end (median and largest over trials: chaotic trials amplify rounding).
"""

from __future__ import annotations

import platform
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

from jaxtune import parallel
from jaxtune.space import Choice, LogUniform, OneMinusLogUniform, Space, Uniform
from jaxtune.sweep import Task
from jaxtune.sweep.sampling import draw


def bandit(hp, key):
    """REINFORCE with a learned baseline on a 2-armed Gaussian bandit, 200 steps."""
    means = jnp.array([0.2, 0.8])

    def step(carry, k):
        theta, baseline = carry
        k1, k2 = jax.random.split(k)
        a = jax.random.categorical(k1, theta)
        r = means[a] + 0.5 * jax.random.normal(k2)
        grad = jax.nn.one_hot(a, 2) - jax.nn.softmax(theta)
        theta = theta + hp["lr"] * (r - baseline) * grad
        return (theta, baseline + hp["beta"] * (r - baseline)), r

    (theta, _), rewards = jax.lax.scan(step, (jnp.zeros(2), 0.0), jax.random.split(key, 200))
    return {"val_loss": -rewards.reshape(10, 20).mean(axis=1), "p_best": jax.nn.softmax(theta)[1]}


def linear_system(hp, key):
    """REINFORCE with a Gaussian linear policy on a CartPole-like linear system, 200
    episodes of 20 steps (matrix-vector products in every step)."""
    a_mat = jnp.array(
        [
            [1.0, 0.02, 0.0, 0.0],
            [0.0, 1.0, -0.01, 0.0],
            [0.0, 0.0, 1.0, 0.02],
            [0.0, 0.0, 0.3, 1.0],
        ]
    )
    b_vec = jnp.array([0.0, 0.02, 0.0, -0.03])

    def episode(w, k):
        def step(s, k_t):
            mean = w @ s
            u = mean + hp["sigma"] * jax.random.normal(k_t)
            s_next = a_mat @ s + b_vec * u
            return s_next, (-(s @ s) - 0.01 * u * u, (u - mean) / hp["sigma"] ** 2 * s)

        k0, k1 = jax.random.split(k)
        s0 = 0.1 * jax.random.normal(k0, (4,))
        _, (rewards, scores) = jax.lax.scan(step, s0, jax.random.split(k1, 20))
        ret = rewards.sum()
        w = w + hp["lr"] * jnp.clip(ret * scores.sum(axis=0), -10.0, 10.0)
        return w, ret

    _, returns = jax.lax.scan(episode, jnp.zeros(4), jax.random.split(key, 200))
    return {"val_loss": -returns.reshape(10, 20).mean(axis=1)}


def _leaves(out):
    return [np.asarray(x, np.float64) for x in jax.tree.leaves(out)]


def _rel(a, b):
    ok = np.isfinite(a) & np.isfinite(b)
    d = np.where(ok, np.abs(a - b) / np.maximum(np.abs(b), 1e-30), 0.0)
    return d


def _final(curve):
    """Last finite entry of each trial's curve (NaN marks an epoch not run)."""
    idx = np.where(np.isfinite(curve), np.arange(curve.shape[1]), -1).max(axis=1)
    return curve[np.arange(len(curve)), idx]


def _compare(got, ref) -> tuple[int, float, float, float]:
    """Trials bit-identical in every output; relative difference of val_loss after the
    first epoch (max over trials) and at the end (median and max over trials)."""
    same = np.ones(len(ref["val_loss"] if isinstance(ref, dict) else ref.val_loss), bool)
    for g, r in zip(_leaves(got), _leaves(ref), strict=True):
        equal = (g == r) | (np.isnan(g) & np.isnan(r))
        same &= equal.reshape(len(same), -1).all(axis=1)
    g, r = (np.asarray(x["val_loss"] if isinstance(x, dict) else x.val_loss) for x in (got, ref))
    g, r = g.astype(np.float64), r.astype(np.float64)
    first = _rel(g[:, 0], r[:, 0])
    final = _rel(_final(g), _final(r))
    return int(same.sum()), float(first.max()), float(np.median(final)), float(final.max())


def workloads(n: int):
    mlp_space = Space(
        learning_rate=LogUniform(1e-2, 0.5),
        momentum=OneMinusLogUniform(0.5, 0.95),
        hidden=Choice([16, 32, 64]),
    )
    group = (("optimizer", "momentum"), ("batch_size", 64))
    for model, space in (("mlp", mlp_space), ("cnn", Space(learning_rate=LogUniform(1e-2, 0.5)))):
        task = Task(dataset="digits", model=model, epochs=5, batch_size=64)
        task.prepare(space)
        yield f"built-in {model.upper()}, digits, 5 epochs", task.trainer(space, group), space
    rl = Space(lr=LogUniform(1e-2, 1.0), beta=Uniform(0.01, 0.2))
    yield "REINFORCE, 2-armed bandit, 200 steps", bandit, rl
    lin = Space(lr=LogUniform(1e-4, 1e-2), sigma=Uniform(0.1, 1.0))
    yield "REINFORCE, linear system, 200x20 steps", linear_system, lin


def main(n: int = 16) -> None:
    print(f"jax {jax.__version__}, {jax.devices()[0].platform}, {platform.processor() or '?'}")
    print(
        "| workload | setting | trials bit-identical | rel. diff, epoch 1 (max) "
        "| rel. diff, final (median / max) |"
    )
    print("| --- | --- | --- | --- | --- |")
    for name, fn, space in workloads(n):
        start = time.perf_counter()
        hp = {k: np.asarray(v) for k, v in draw(space, "random", 0, n).items()}
        keys = jax.vmap(lambda i: jax.random.fold_in(jax.random.key(0), i))(jnp.arange(n))
        alone = jax.jit(fn)
        solo = [alone({k: v[i] for k, v in hp.items()}, keys[i]) for i in range(n)]
        ref = jax.tree.map(lambda *xs: np.stack([np.asarray(x) for x in xs]), *solo)
        rows = []
        for chunk in (1, 4, n):
            out = parallel.run(fn, hp, keys, chunk_size=chunk)
            label = "exact=True (chunk_size=1)" if chunk == 1 else f"chunk_size={chunk}"
            rows.append((label, n, _compare(out, ref)))
        whole = parallel.run(fn, hp, keys, chunk_size=4)
        rest = parallel.run(fn, {k: v[4:] for k, v in hp.items()}, keys[4:], chunk_size=4)
        tail = jax.tree.map(lambda x: np.asarray(x)[4:], whole)
        rows.append(("resume, chunk_size=4 vs uninterrupted", _compare(rest, tail)))
        for label, (same, first, median, worst) in rows:
            print(f"| {name} | {label} | {same}/{n} | {first:.0e} | {median:.0e} / {worst:.0e} |")
        print(f"<!-- {name}: {time.perf_counter() - start:.0f} s -->", file=sys.stderr)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 16)
