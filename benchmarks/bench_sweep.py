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
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.metadata
import itertools
import json
import math
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import jaxlib
import numpy as np
import optax
from bench_parallel import RESULTS, sequential_runner
from flax import linen as nn
from flax.training import train_state

import jaxtune
from jaxtune import datasets, models, parallel
from jaxtune.datasets import Dataset
from jaxtune.train import Trainer, final_metrics, make_train

# Hyperparameter ranges shared by every method.
LR = (1e-3, 0.3)  # learning rate, log-uniform
MOMENTUM = (0.5, 0.99)  # momentum, log-uniform on 1 - momentum
SEED = 0

METHODS = ("A", "B", "C-random", "C-TPE", "D", "D'", "E")
LABELS = {
    "A": "A  tutorial loop",
    "B": "B  scanned, seq.",
    "C-random": "C  optuna random",
    "C-TPE": "C  optuna TPE",
    "D": "D  jaxtune auto",
    "D'": "D' full vmap",
    "E": "E  hyperoptax",
}
# Targets of the verdict block (2-core CPU).
TARGET_D_OVER_A = 20.0  # on W2 at N=256
TARGET_D_OVER_B = 0.9  # every workload and N
TARGET_CEILING = 0.70  # D on W2 at N >= 64, fraction of the large-matmul ceiling

TrainFn = Callable[[dict[str, Any], jax.Array], Any]
Runner = Callable[[], Any]


# --------------------------------------------------------------------------- sizes


@dataclasses.dataclass(frozen=True)
class Profile:
    """How big a run is.

    Attributes:
        name: ``"full"``, ``"quick"``, ``"smoke"``, ``"gpu"`` or ``"gpu-quick"``.
        trials: the N of the table.
        epochs: epochs of every training.
        reps: timed repetitions per cell (the median is reported).
        cell_budget_s: a method's cell is skipped when its estimated time (first call
            plus repetitions) exceeds this.
        workloads: which of W1..W4 run.
        synthetic_n: samples of W1's synthetic data (before the train/val split).
        hyperoptax_parallel: hyperoptax's ``n_parallel`` (capped at N).
        sweep_n: trials of the end-to-end :class:`jaxtune.Sweep` on W2.
        probe_n: trials (one chunk) of the compilation-cache probe.
        matmul_size: side of the large square matmul ceiling.
        min_rep_s: a timed repetition repeats the whole cell until it lasts this long.
    """

    name: str
    trials: tuple[int, ...]
    epochs: int
    reps: int
    cell_budget_s: float
    workloads: tuple[str, ...] = ("W1", "W2", "W3", "W4")
    synthetic_n: int = 1024
    hyperoptax_parallel: int = 64
    sweep_n: int = 256
    probe_n: int = 64
    matmul_size: int = 2048
    min_rep_s: float = 0.2


PROFILES = {
    "full": Profile("full", (1, 16, 64, 256, 1024), epochs=10, reps=3, cell_budget_s=60.0),
    "quick": Profile(
        "quick",
        (1, 16, 64),
        epochs=2,
        reps=3,
        cell_budget_s=6.0,
        workloads=("W1", "W2"),
        sweep_n=64,
        probe_n=16,
        min_rep_s=0.1,
    ),
    "smoke": Profile(
        "smoke",
        (2,),
        epochs=1,
        reps=3,
        cell_budget_s=5.0,
        workloads=("W1",),
        synthetic_n=256,
        hyperoptax_parallel=2,
        sweep_n=1,
        probe_n=1,
        matmul_size=512,
        min_rep_s=0.02,
    ),
    "gpu": Profile(
        "gpu",
        (1, 16, 64, 256, 1024, 4096, 16384),
        epochs=10,
        reps=3,
        cell_budget_s=60.0,
        hyperoptax_parallel=1024,
        sweep_n=4096,
        probe_n=1024,
        matmul_size=8192,
    ),
    "gpu-quick": Profile(
        "gpu-quick",
        (1, 1024, 16384),
        epochs=2,
        reps=3,
        cell_budget_s=8.0,
        hyperoptax_parallel=1024,
        sweep_n=1024,
        probe_n=1024,
        matmul_size=8192,
    ),
}


# --------------------------------------------------------------------------- workloads


@dataclasses.dataclass(frozen=True)
class Workload:
    """One model, dataset and mini-batch size, with its analytic FLOP count.

    Attributes:
        name: ``"W1"`` .. ``"W4"``.
        label: a human description.
        data: the dataset, on device.
        model: a fixed-size Flax module (jaxtune's ``MLP`` at its maximum size, or ``CNN``).
        batch: mini-batch size.
        forward_flops: FLOPs of one forward pass of one example (multiply-adds count 2).
        params: number of trainable parameters.
    """

    name: str
    label: str
    data: Dataset
    model: nn.Module
    batch: int
    forward_flops: int
    params: int

    @property
    def steps_per_epoch(self) -> int:
        """Mini-batches per epoch (the remainder is dropped, as jaxtune's trainer does)."""
        return self.data.x_train.shape[0] // self.batch

    def flops_per_trial(self, epochs: int) -> int:
        """FLOPs of one whole training: per step forward + backward (3x forward), plus
        the evaluation pass (one forward over the validation set) after every epoch."""
        n_val = self.data.x_val.shape[0]
        step = 3 * self.forward_flops * self.batch
        return epochs * (self.steps_per_epoch * step + self.forward_flops * n_val)


def mlp_forward_flops(sizes: Sequence[int]) -> int:
    """Forward FLOPs of one example through dense layers ``sizes[0] -> ... -> sizes[-1]``.

    ``2 * sum(fan_in * fan_out)``: one multiply and one add per weight; biases and
    activations are left out. Training costs about 3x this per example (the backward pass
    computes two matmuls per layer), i.e. about ``6 * params`` per example.

    Example:
        >>> mlp_forward_flops([64, 64, 10])
        9472
    """
    return 2 * sum(a * b for a, b in itertools.pairwise(sizes))


def cnn_forward_flops(
    height: int, width: int, c_in: int, channels: Sequence[int], kernel: int, n_out: int
) -> int:
    """Forward FLOPs of one image through :class:`jaxtune.models.CNN`.

    Each stride-1 ``SAME`` convolution costs ``H * W * k * k * c_in * c_out``
    multiply-adds; the dense output layer ``H * W * c_last * n_out``. Two FLOPs each.

    Example:
        >>> cnn_forward_flops(8, 8, 1, (16, 32), 3, 10)
        649216
    """
    macs, c = 0, c_in
    for c_out in channels:
        macs += height * width * kernel * kernel * c * c_out
        c = c_out
    macs += height * width * c * n_out
    return 2 * macs


def count_params(model: nn.Module, x: jax.Array) -> int:
    """Trainable parameters of ``model`` for inputs shaped like ``x`` (no FLOPs spent)."""
    shapes = jax.eval_shape(model.init, jax.random.key(0), x[:1])
    return sum(math.prod(leaf.shape) for leaf in jax.tree.leaves(shapes))


def make_workload(name: str, profile: Profile) -> Workload:
    """Builds workload ``name`` (``"W1"`` .. ``"W4"``) for ``profile``."""
    if name == "W1":
        data = datasets.synthetic(n=profile.synthetic_n, n_classes=2, n_noise_features=14)
        sizes, batch, label = (16, 32, 32, 2), 16, "tiny MLP 16-32-32-2, synthetic"
    elif name in ("W2", "W3"):
        data = datasets.digits()
        width = 64 if name == "W2" else 256
        sizes = (64, width, 10) if name == "W2" else (64, width, width, 10)
        batch = 64
        label = f"{'' if name == 'W2' else 'wide '}MLP {'-'.join(map(str, sizes))}, digits"
    elif name == "W4":
        data = datasets.digits(flatten=False)
        cnn = models.CNN(n_out=10)
        flops = cnn_forward_flops(8, 8, 1, cnn.channels, cnn.kernel_size, 10)
        channels = "-".join(map(str, cnn.channels))
        label = f"CNN conv{cnn.kernel_size}x{cnn.kernel_size} {channels} + dense, digits 8x8"
        return Workload(name, label, data, cnn, 64, flops, count_params(cnn, data.x_train))
    else:
        raise ValueError(f"unknown workload {name!r}; known: W1, W2, W3, W4")
    assert data.x_train.shape[1] == sizes[0] and data.n_out == sizes[-1], (name, sizes)
    mlp = models.MLP(max_hidden=sizes[1], max_layers=len(sizes) - 2, n_out=sizes[-1])
    flops = mlp_forward_flops(sizes)
    return Workload(name, label, data, mlp, batch, flops, count_params(mlp, data.x_train))


def trainer_for(wl: Workload, epochs: int) -> Trainer:
    """A jaxtune trainer for ``wl``: SGD + momentum, no decay, the model at full size.

    Every call returns a new object, so compiled programs are not shared between methods
    (each method's compile time is its own).
    """
    return make_train(
        wl.data,
        wl.model,
        optimizer="momentum",
        batch_size=wl.batch,
        max_epochs=epochs,
        decay_systems=("none",),
    )


def sample_hparams(n: int) -> dict[str, np.ndarray]:
    """``n`` learning rates and momenta from a jaxtune space with a fixed seed.

    The first ``n`` of one draw of 16384, so every N shares its first trials.
    """
    space = jaxtune.Space(
        learning_rate=jaxtune.LogUniform(*LR), momentum=jaxtune.OneMinusLogUniform(*MOMENTUM)
    )
    draw = space.random(jax.random.key(SEED), max(n, 16384))
    return {k: np.asarray(v[:n], np.float32) for k, v in draw.items()}


def trial_keys(n: int) -> jax.Array:
    """One typed PRNG key per trial."""
    return jax.random.split(jax.random.key(SEED + 1), n)


# --------------------------------------------------------------------------- methods


def tutorial_runner(wl: Workload, epochs: int) -> Callable[[dict, jax.Array], Runner]:
    """Method A: the Flax-tutorial training loop, one trial after another.

    Written as the Flax tutorial writes it: a ``TrainState`` (``optax.sgd`` with
    momentum), a jitted ``train_step`` called for every mini-batch from a Python loop,
    NumPy data indexed with a fresh permutation every epoch, and a jitted evaluation on
    the validation set after every epoch whose metrics are read back to the host. Two
    things a careful user would do are done, so A is not slowed by avoidable work: the
    learning rate and momentum live in the optimizer state
    (``optax.inject_hyperparams``, set per trial as optax documents), so ``train_step``
    compiles once for all trials rather than once per trial; and ``model.init`` is jitted.

    Args:
        wl: the workload.
        epochs: epochs per trial.

    Returns:
        ``make(hp, keys) -> run``; ``run()`` trains every trial and returns the final
        validation losses.
    """
    model = wl.model
    x_train, y_train = np.asarray(wl.data.x_train), np.asarray(wl.data.y_train)
    x_val, y_val = wl.data.x_val, wl.data.y_val
    n_train, batch, steps = x_train.shape[0], wl.batch, wl.steps_per_epoch
    tx = optax.inject_hyperparams(optax.sgd)(learning_rate=0.1, momentum=0.9)
    init = jax.jit(model.init)

    @jax.jit
    def train_step(state: train_state.TrainState, x: jax.Array, y: jax.Array):
        def loss_fn(params):
            logits = state.apply_fn(params, x)
            return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

        loss, grads = jax.value_and_grad(loss_fn)(state.params)
        return state.apply_gradients(grads=grads), loss

    @jax.jit
    def eval_step(params: Any, x: jax.Array, y: jax.Array):
        logits = model.apply(params, x)
        loss = optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()
        return loss, jnp.mean(jnp.argmax(logits, -1) == y)

    def make(hp: dict[str, np.ndarray], keys: jax.Array) -> Runner:
        n = len(keys)
        key_list = [keys[i] for i in range(n)]

        def run() -> np.ndarray:
            finals = np.empty(n)
            for i in range(n):
                init_key, _ = jax.random.split(key_list[i])
                params = init(init_key, x_train[:1])
                state = train_state.TrainState.create(apply_fn=model.apply, params=params, tx=tx)
                state.opt_state.hyperparams["learning_rate"] = jnp.asarray(hp["learning_rate"][i])
                state.opt_state.hyperparams["momentum"] = jnp.asarray(hp["momentum"][i])
                rng = np.random.default_rng(i)
                history = []
                for _ in range(epochs):
                    perms = rng.permutation(n_train)[: steps * batch].reshape(steps, batch)
                    for perm in perms:
                        state, _loss = train_step(state, x_train[perm], y_train[perm])
                    val_loss, val_acc = eval_step(state.params, x_val, y_val)
                    history.append((float(val_loss), float(val_acc)))
                finals[i] = history[-1][0]
            return finals

        return run

    return make


def optuna_runner(single: TrainFn, sampler: str, keys: jax.Array) -> Runner:
    """Method C: an Optuna study drives the jitted one-trial training (B), trial by trial.

    Args:
        single: the jitted ``trainer(hp, key) -> History`` of B.
        sampler: ``"random"`` or ``"tpe"`` (seeded).
        keys: one key per trial; ``n_trials`` is their number.

    Returns:
        ``run()``, a fresh in-memory study optimizing ``len(keys)`` trials.
    """
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    key_list = [keys[i] for i in range(len(keys))]

    def objective(trial: Any) -> float:
        lr = trial.suggest_float("learning_rate", *LR, log=True)
        one_minus = trial.suggest_float(
            "one_minus_momentum", 1 - MOMENTUM[1], 1 - MOMENTUM[0], log=True
        )
        hp = {"learning_rate": np.float32(lr), "momentum": np.float32(1 - one_minus)}
        value = float(single(hp, key_list[trial.number]).val_loss[-1])
        return value if math.isfinite(value) else math.inf

    def run() -> None:
        make = optuna.samplers.RandomSampler if sampler == "random" else optuna.samplers.TPESampler
        study = optuna.create_study(sampler=make(seed=SEED))
        study.optimize(objective, n_trials=len(key_list))

    return run


def jaxtune_runner(
    trainer: Trainer, hp: dict[str, np.ndarray], keys: jax.Array, chunk_size: Any, out: dict
) -> Runner:
    """Method D/D': :func:`jaxtune.parallel.run`; the last outputs are kept in ``out``.

    ``run()`` returns the final validation losses. For ``chunk_size=None`` (full vmap) the
    program must fit :func:`memory_budget`, else ``parallel.run`` raises ``ValueError``
    and the cell is marked skipped.
    """
    budget = memory_budget() if chunk_size is None else None

    def run() -> np.ndarray:
        # NumPy outputs: already synchronized.
        out["history"] = parallel.run(trainer, hp, keys, chunk_size=chunk_size, max_memory=budget)
        return out["history"].val_loss[:, -1]

    return run


def hyperoptax_runner(objective: Callable[..., jax.Array], n: int, n_parallel: int) -> Runner:
    """Method E: hyperoptax ``RandomSearch`` (its own sampling) over ``n`` trials.

    hyperoptax 0.2's API: ``state, opt = RandomSearch.init(space, n_parallel=P)``, then
    ``opt.optimize(state, key, func, n_iterations)`` runs ``n_iterations`` rounds of
    ``jax.vmap(func)`` over ``P`` sampled configurations; ``func(key, config) -> scalar``.
    It does not jit ``func``; we pass it jitted (best case for hyperoptax).

    Args:
        objective: jitted ``(key, config) -> final validation loss``.
        n: trials, a multiple of ``n_parallel``.
        n_parallel: configurations per iteration.

    Returns:
        ``run()``.
    """
    from hyperoptax import LogSpace, RandomSearch

    space = {
        "learning_rate": LogSpace(*LR),
        "one_minus_momentum": LogSpace(1 - MOMENTUM[1], 1 - MOMENTUM[0]),
    }

    def run() -> None:
        state, opt = RandomSearch.init(space, n_parallel=n_parallel)
        _, (_, results) = opt.optimize(state, jax.random.key(SEED), objective, n // n_parallel)
        jax.block_until_ready(results)

    return run


def hyperoptax_objective(trainer: Trainer) -> Callable[..., jax.Array]:
    """hyperoptax's ``func(key, config)``: B's training, momentum from ``1 - config``."""

    @jax.jit
    def func(key: jax.Array, config: dict[str, jax.Array]) -> jax.Array:
        hp = {
            "learning_rate": config["learning_rate"].astype(jnp.float32),
            "momentum": (1 - config["one_minus_momentum"]).astype(jnp.float32),
        }
        return final_metrics(trainer(hp, key))["val_loss"]

    return func


def hyperoptax_status() -> str | None:
    """None when hyperoptax can be used, else ``"not available: <reason>"``."""
    try:
        import hyperoptax

        for name in ("RandomSearch", "LogSpace"):
            if not hasattr(hyperoptax, name):
                return f"not available: hyperoptax {version('hyperoptax')} has no {name}"
    except ImportError as e:
        return f"not available: {e} (pip install hyperoptax)"
    return None


# --------------------------------------------------------------------------- measuring


def memory_budget() -> int:
    """Bytes a full-vmap program may use: half the RAM on CPU, 90 % of a GPU's memory."""
    device = jax.devices()[0]
    if device.platform != "cpu":
        stats = device.memory_stats() or {}
        if "bytes_limit" in stats:
            return int(0.9 * (stats["bytes_limit"] - stats.get("bytes_in_use", 0)))
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2


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


def bench_workload(wl: Workload, profile: Profile, ceiling: float) -> dict[str, Any]:
    """Every N of one workload; methods are skipped past the cell budget.

    Returns:
        The workload's description and its cells (``str(N) -> method -> result``).
    """
    epochs = profile.epochs
    flops = wl.flops_per_trial(epochs)
    trainers = {m: trainer_for(wl, epochs) for m in ("B", "D", "D'", "E")}
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


# --------------------------------------------------------------------------- extras


def compile_probe(cache_dir: str | None, n: int, epochs: int) -> dict[str, Any]:
    """Compile of D's W2 program in this process, optionally from a persistent cache.

    Runs ``parallel.run`` on ``n`` trials in one chunk twice; the first call minus the
    second is the compile time (tracing included; only XLA's compilation is cached).
    """
    if cache_dir is not None:
        parallel.enable_compilation_cache(cache_dir)
    wl = make_workload("W2", PROFILES["full"])
    trainer = trainer_for(wl, epochs)
    hp, keys = sample_hparams(n), trial_keys(n)
    first, _ = timed(lambda: parallel.run(trainer, hp, keys, chunk_size=n))
    steady, _ = timed(lambda: parallel.run(trainer, hp, keys, chunk_size=n))
    entries = len(os.listdir(cache_dir)) if cache_dir else 0
    return {
        "first_call_s": first,
        "steady_s": steady,
        "compile_s": max(first - steady, 0.0),
        "cache_entries": entries,
    }


def compile_cache_bench(n: int, epochs: int) -> dict[str, Any]:
    """Cold compile, then compile from jax's persistent cache, in two fresh subprocesses.

    Both subprocesses use the same (new, temporary) cache directory: the first fills it,
    the second reads it.
    """
    out: dict[str, Any] = {"n": n, "chunk_size": n, "workload": "W2"}
    with tempfile.TemporaryDirectory() as cache:
        for phase in ("cold", "warm"):
            cmd = [
                sys.executable,
                str(Path(__file__).resolve()),
                "--compile-probe",
                cache,
                "--probe-n",
                str(n),
                "--epochs",
                str(epochs),
            ]
            try:
                proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
                out[phase] = json.loads(proc.stdout.strip().splitlines()[-1])
            except (subprocess.SubprocessError, ValueError, IndexError) as e:
                out[phase] = {"error": f"{type(e).__name__}: {e}"}
    return out


def sweep_bench(n: int, epochs: int, reps: int, d_rate: float | None) -> dict[str, Any]:
    """:class:`jaxtune.Sweep` end to end on W2 (digits MLP 64-64-10, batch 64).

    The first run (fresh store) pays tracing, compiling and auto's calibration; then the
    same ``Sweep`` object is pointed at a fresh store ``reps`` times (its compiled
    programs and calibration are reused), timing sampling, grouping, training and every
    store write. The task's trainer includes jaxtune's decay-system switch (unused here).
    """
    space = jaxtune.Space(
        learning_rate=jaxtune.LogUniform(*LR), momentum=jaxtune.OneMinusLogUniform(*MOMENTUM)
    )
    task = jaxtune.Task(
        dataset="digits", optimizer="momentum", batch_size=64, epochs=epochs, hidden=64, layers=1
    )
    with tempfile.TemporaryDirectory() as tmp:
        sweep = jaxtune.Sweep(space, task, n_trials=n, store=f"{tmp}/s0", seed=SEED, quiet=True)
        first, results = timed(sweep.run)
        assert len(results.to_records()) == n
        times = []
        for r in range(reps):
            sweep.path = f"{tmp}/s{r + 1}"
            times.append(timed(sweep.run)[0])
        store_bytes = sum(f.stat().st_size for f in Path(f"{tmp}/s1").iterdir())
    med = statistics.median(times)
    rate = n / med
    return {
        "workload": "W2",
        "n": n,
        "epochs": epochs,
        "first_run_s": first,
        "seconds": times,
        "median_s": med,
        "trials_per_s": rate,
        "store_bytes": store_bytes,
        "vs_D_parallel_run": rate / d_rate if d_rate else None,
    }


# --------------------------------------------------------------------------- report


def version(package: str) -> str | None:
    """Installed version of ``package``, or None."""
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def strict_json(value: Any) -> Any:
    """``value`` with non-finite floats as None and tuples as lists (strict JSON)."""
    if isinstance(value, dict):
        return {str(k): strict_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [strict_json(v) for v in value]
    if isinstance(value, float | np.floating):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    if value is None or isinstance(value, str | int | bool):
        return value
    return str(value)


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


def fmt_rate(entry: dict[str, Any] | None) -> str:
    """A table cell: trials/s, or why there is none."""
    if not entry:
        return "-"
    if entry["status"] == "ok":
        rate = entry["trials_per_s"]
        text = f"{rate:.3g}" if rate < 100 else f"{rate:.0f}"
        return f"{text} (k={entry['chunk']})" if "chunk" in entry else text
    if entry["status"] == "not available":
        return "n/a"
    return entry["reason"] if entry["status"] == "skipped" else "error"


def print_workload(name: str, r: dict[str, Any], ceiling: float) -> None:
    """The table of one workload: methods down, N across."""
    ns = list(r["cells"])
    width = 20
    head = f"{'':<24}" + "".join(f"{'N=' + n:>{width}}" for n in ns)
    print(
        f"\n{name}  {r['label']}, batch {r['batch']}, {r['epochs']} epochs, "
        f"{r['flops_per_trial'] / 1e9:.4f} GFLOP/trial, {r['n_train']} train / {r['n_val']} val"
    )
    print(f"{'trials/s (median)':<24}{head[24:]}")
    print("-" * len(head))
    cells = r["cells"]
    for m in METHODS:
        label = LABELS[m]
        if m == "E":
            ok = [c["E"] for c in cells.values() if c.get("E", {}).get("status") == "ok"]
            if ok:
                label = f"E  hyperoptax P<={max(e['n_parallel'] for e in ok)}"
        print(f"{label:<24}" + "".join(f"{fmt_rate(cells[n].get(m)):>{width}}" for n in ns))
    for other in ("A", "B", "C-random", "C-TPE", "E"):
        row = [cells[n]["speedup_of_D"].get(other) for n in ns]
        print(
            f"{'D / ' + other:<24}"
            + "".join(f"{(f'{v:.2f}x' if v else '-'):>{width}}" for v in row)
        )
    for m in ("D", "D'", "B"):
        row = []
        for n in ns:
            e = cells[n].get(m, {})
            ok = e.get("status") == "ok"
            row.append(f"{e['gflops']:.1f} ({100 * e['fraction_of_ceiling']:.0f}%)" if ok else "-")
        print(f"{m + ' GFLOP/s (% ceil)':<24}" + "".join(f"{v:>{width}}" for v in row))
    for m in METHODS:
        row = []
        for n in ns:
            e = cells[n].get(m, {})
            row.append(f"{e['compile_s']:.2f}" if e.get("status") == "ok" else "-")
        print(f"{'compile s ' + m:<24}" + "".join(f"{v:>{width}}" for v in row))
    row = []
    for n in ns:
        a, d = (cells[n].get(m, {}).get("median_final_val_loss") for m in ("A", "D"))
        row.append(" | ".join("-" if v is None else f"{v:.3f}" for v in (a, d)))
    print(f"{'val loss A | D (median)':<24}" + "".join(f"{v:>{width}}" for v in row))
    diffs = [
        cells[n]["D"].get("b_vs_d_max_abs_diff_final_val_loss")
        for n in ns
        if cells[n].get("D", {}).get("status") == "ok"
    ]
    diffs = [d for d in diffs if d is not None and math.isfinite(d)]
    if diffs:
        print(f"B vs D final val loss, max |diff| over checked trials: {max(diffs):.2e}")
    print(f"peak RSS so far: {r['peak_rss_mb']:.0f} MiB (ceiling used: {ceiling:.1f} GFLOP/s)")


def verdict(results: dict[str, Any]) -> list[dict[str, Any]]:
    """PASS/FAIL (or n/a when not measured) for each target, with the numbers."""
    out = []
    w2 = results.get("W2", {}).get("cells", {})
    c256 = w2.get("256", {})
    v = c256.get("speedup_of_D", {}).get("A")
    out.append(
        {
            "target": f"D >= {TARGET_D_OVER_A:.0f}x A on W2 at N=256",
            "value": v,
            "unit": "x",
            "pass": None if v is None else v >= TARGET_D_OVER_A,
            "detail": "" if v is not None else "not measured (N=256 on W2 not run, or skipped)",
        }
    )
    ratios = [
        (wname, n, cell["speedup_of_D"]["B"])
        for wname, w in results.items()
        for n, cell in w["cells"].items()
        if "B" in cell.get("speedup_of_D", {})
    ]
    worst = min(ratios, key=lambda t: t[2]) if ratios else None
    below = [f"{w} N={n}: {r:.2f}x" for w, n, r in ratios if r < TARGET_D_OVER_B]
    out.append(
        {
            "target": f"D >= {TARGET_D_OVER_B}x B for every workload and N",
            "value": worst[2] if worst else None,
            "unit": "x",
            "pass": None if worst is None else not below,
            "detail": (
                f"worst {worst[0]} N={worst[1]} over {len(ratios)} cells"
                + (f"; below: {', '.join(below)}" if below else "")
                if worst
                else "not measured"
            ),
        }
    )
    fracs = [
        (int(n), cell["D"]["fraction_of_ceiling"])
        for n, cell in w2.items()
        if int(n) >= 64 and cell.get("D", {}).get("status") == "ok"
    ]
    out.append(
        {
            "target": f"D >= {100 * TARGET_CEILING:.0f}% of the large-matmul ceiling on W2, "
            "every N >= 64",
            "value": min(f for _, f in fracs) if fracs else None,
            "unit": "%",
            "pass": None if not fracs else all(f >= TARGET_CEILING for _, f in fracs),
            "detail": ", ".join(f"N={n}: {100 * f:.0f}%" for n, f in fracs) or "not measured",
        }
    )
    return out


def print_verdict(items: list[dict[str, Any]], profile: Profile) -> None:
    """The verdict block."""
    print(f"\nVerdict ({profile.name} run; targets are for the full run on a 2-core CPU)")
    for item in items:
        state = {True: "PASS", False: "FAIL", None: "n/a "}[item["pass"]]
        value = item["value"]
        if value is None:
            shown = ""
        elif item["unit"] == "%":
            shown = f" {100 * value:.0f}%"
        else:
            shown = f" {value:.2f}x"
        print(f"  {state}  {item['target']}:{shown}  [{item['detail']}]")


# --------------------------------------------------------------------------- main


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
        extras["compile_cache"] = c = compile_cache_bench(profile.probe_n, profile.epochs)
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
