"""The five ways of running a sweep that the benchmark compares.

Each ``*_runner`` returns a zero-argument ``run()`` that trains every trial of one cell
and synchronizes before it returns, so that the caller can time it:

- A, :func:`tutorial_runner`: the Flax-tutorial loop, trial after trial;
- B, :func:`sequential_runner` (from ``bench_parallel``): jaxtune's scanned trainer,
  jitted for one trial, called in a Python loop;
- C, :func:`optuna_runner`: Optuna driving B one trial at a time;
- D and D', :func:`jaxtune_runner`: :func:`jaxtune.parallel.run`, chunked or full vmap,
  every trial on the same mini-batches (the default); Dp the same as D with each trial's
  own mini-batch order;
- E, :func:`hyperoptax_runner`: hyperoptax's ``RandomSearch``, when it is installed.
"""

from __future__ import annotations

import importlib.metadata
import math
import os
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from bench_parallel import sequential_runner
from flax.training import train_state
from workloads import LR, MOMENTUM, SEED, Workload

from jaxtune import parallel
from jaxtune.train import Trainer, final_metrics

__all__ = [
    "LABELS",
    "METHODS",
    "Runner",
    "TrainFn",
    "hyperoptax_objective",
    "hyperoptax_runner",
    "hyperoptax_status",
    "jaxtune_runner",
    "memory_budget",
    "optuna_runner",
    "sequential_runner",
    "tutorial_runner",
    "version",
]

METHODS = ("A", "B", "C-random", "C-TPE", "D", "Dp", "D'", "E")
LABELS = {
    "A": "A  tutorial loop",
    "B": "B  scanned, seq.",
    "C-random": "C  optuna random",
    "C-TPE": "C  optuna TPE",
    "D": "D  jaxtune auto",
    "Dp": "Dp auto, own order",
    "D'": "D' full vmap",
    "E": "E  hyperoptax",
}

TrainFn = Callable[[dict[str, Any], jax.Array], Any]
Runner = Callable[[], Any]


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


def memory_budget() -> int:
    """Bytes a full-vmap program may use: half the RAM on CPU, 90 % of a GPU's memory."""
    device = jax.devices()[0]
    if device.platform != "cpu":
        stats = device.memory_stats() or {}
        if "bytes_limit" in stats:
            return int(0.9 * (stats["bytes_limit"] - stats.get("bytes_in_use", 0)))
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2


def version(package: str) -> str | None:
    """Installed version of ``package``, or None."""
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None
