"""The tools users would pick instead: Optuna, Ray Tune and hyperoptax.

Each trains the workload's own jaxtune trainer, as its users' best practice has it:

- Optuna (``optuna TPE+HB``: ``TPESampler`` + ``HyperbandPruner`` at 1 to ``R`` epochs,
  eta 3; ``optuna random+median``: ``RandomSampler`` + ``MedianPruner``): one trial at a
  time, a jitted ``init`` and a jitted, fully scanned epoch (``trainer.run(state, hp, 1)``),
  ``trial.report`` and ``trial.should_prune`` after every epoch. Padded to the space's
  largest network, so the whole search compiles one program per mini-batch size (the
  best case for Optuna: building each trial's own size would compile per trial).
- Ray Tune (``ray ASHA``): the same trial as a function trainable, one per CPU,
  ``ASHAScheduler`` (grace 1 epoch, eta 3, ``max_t`` = ``R``), ``time_budget_s`` set.
- hyperoptax (``hyperoptax random``: ``RandomSearch``; ``hyperoptax GP``:
  ``BayesianSearch``): ``n_parallel`` configurations vmapped per iteration through the
  jitted full training, one iteration per ``optimize`` call so the curve is seen as it
  grows. It cannot search the mini-batch size (static): that stays at the task's value.

Every value any of them sees is recorded the moment it is known (each epoch's report).
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from search_curves import Recorder
from search_space import (
    SearchProfile,
    SearchWorkload,
    TrialPrograms,
    hyperoptax_space,
    hyperoptax_to_hparams,
    make_search_workload,
    optuna_params,
)

__all__ = ["RIVAL_STRATEGIES", "rival_missing", "run_rival"]

RIVAL_STRATEGIES = (
    "optuna TPE+HB",
    "optuna random+median",
    "ray ASHA",
    "hyperoptax random",
    "hyperoptax GP",
)
GP_ITERATIONS = 16  # hyperoptax's GP holds n_parallel * this many observations


def rival_missing(strategy: str) -> str | None:
    """Why ``strategy`` cannot run here (its tool is not installed), or None."""
    if strategy.startswith("ray"):
        try:
            import ray.tune  # noqa: F401
        except ImportError:
            return 'n/a (pip install "ray[tune]")'
    package = strategy.split()[0]
    if importlib.util.find_spec(package) is None:
        return f"n/a (pip install {package})"
    return None


def run_rival(
    strategy: str,
    wl: SearchWorkload,
    profile: SearchProfile,
    seed: int,
    rec: Recorder,
    workdir: str,
    events: str,
) -> None:
    """Runs one rival strategy until ``rec``'s budget is spent."""
    if strategy.startswith("optuna"):
        _optuna(strategy, wl, seed, rec, profile.max_rounds)
    elif strategy.startswith("hyperoptax"):
        _hyperoptax(strategy, wl, profile, seed, rec)
    elif strategy == "ray ASHA":
        _ray(wl, profile, seed, rec, workdir, events)
    else:
        raise ValueError(f"unknown strategy {strategy!r}")


def _optuna(
    strategy: str, wl: SearchWorkload, seed: int, rec: Recorder, max_trials: int | None
) -> None:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    programs = TrialPrograms(wl)
    base = jax.random.key(seed)
    if strategy == "optuna TPE+HB":
        sampler: Any = optuna.samplers.TPESampler(seed=seed)
        pruner: Any = optuna.pruners.HyperbandPruner(
            min_resource=1, max_resource=wl.max_epochs, reduction_factor=3
        )
    else:
        sampler, pruner = optuna.samplers.RandomSampler(seed=seed), optuna.pruners.MedianPruner()
    study = optuna.create_study(direction="maximize", sampler=sampler, pruner=pruner)

    def objective(trial: Any) -> float:
        group, hp = programs.split(optuna_params(trial, wl.space))
        init, epoch = programs.programs(group)
        state = init(hp, jax.random.fold_in(base, trial.number))
        rec.count_trials(1)
        acc = math.nan
        for e in range(1, wl.max_epochs + 1):
            state, history = epoch(state, hp)
            acc = float(history.val_metric[-1])
            if not math.isfinite(acc):  # diverged: as a user would, stop it
                raise optuna.TrialPruned()
            rec.observe([acc])
            if rec.expired():
                study.stop()
                return acc
            trial.report(acc, e)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return acc

    study.optimize(objective, n_trials=max_trials, timeout=rec.budget_s)


def _hyperoptax(
    strategy: str, wl: SearchWorkload, profile: SearchProfile, seed: int, rec: Recorder
) -> None:
    from hyperoptax import BayesianSearch, RandomSearch

    space, task = wl.space, wl.task
    task.prepare(space, 0)
    probe = space.decode(space.random(jax.random.key(0), 1))[0]
    if "batch_size" in space:
        probe["batch_size"] = task.batch_size
    group = task.group_of(space, probe)
    trainer = task.trainer(space, group)
    hx_space = hyperoptax_space(space, dict(group))

    @jax.jit
    def func(key: jax.Array, config: dict[str, jax.Array]) -> jax.Array:
        history = trainer(hyperoptax_to_hparams(space, config), key)
        return jnp.nan_to_num(history.val_metric[-1], nan=0.0)

    p = profile.hyperoptax_parallel
    if strategy == "hyperoptax random":
        state, opt = RandomSearch.init(hx_space, n_parallel=p)
        limit = profile.max_rounds
    else:
        limit = min(GP_ITERATIONS, profile.max_rounds or GP_ITERATIONS)
        state, opt = BayesianSearch.init(hx_space, n_max=p * limit, n_parallel=p, maximize=True)
    key, it, last = jax.random.key(seed), 0, 0.0
    while (it == 0 or not rec.expired()) and (limit is None or it < limit):
        if it and not profile.isolate and rec.elapsed() + last > rec.budget_s:
            break
        start = time.perf_counter()
        key, sub = jax.random.split(key)
        state, (_, results) = opt.optimize(state, sub, func, 1)
        values = np.asarray(results[0]).tolist()
        rec.count_trials(len(values))
        rec.observe(values)
        last = time.perf_counter() - start
        it += 1


# ------------------------------------------------------------------ Ray Tune

_WORKER: dict[str, Any] = {}


def _ray_trainable(config: dict[str, Any]) -> None:
    """Ray Tune's function trainable: one trial, one jitted epoch at a time."""
    from ray import tune

    spec = config["_bench"]
    key = (spec["workload"], spec["profile"])
    if key not in _WORKER:  # one set of compiled programs per worker process
        from search_space import PROFILES

        _WORKER[key] = TrialPrograms(make_search_workload(spec["workload"],
                                                          PROFILES[spec["profile"]]))  # fmt: skip
    programs: TrialPrograms = _WORKER[key]
    space = programs.wl.space
    values = {}
    for name in space.names:
        kind = space[name].to_dict()["type"]
        values[name] = (
            1 - config[f"one_minus_{name}"] if kind == "one_minus_log_uniform" else (config[name])
        )
    group, hp = programs.split(values)
    init, epoch = programs.programs(group)
    state = init(hp, jax.random.fold_in(jax.random.key(spec["seed"]), config["_trial"]))
    with open(spec["events"], "a") as f:
        f.write(json.dumps({"trials": 1}) + "\n")
        for _ in range(programs.wl.max_epochs):
            state, history = epoch(state, hp)
            acc = float(history.val_metric[-1])
            if math.isfinite(acc):
                f.write(json.dumps({"t": time.time(), "v": acc}) + "\n")
                f.flush()
            tune.report({"val_accuracy": acc if math.isfinite(acc) else 0.0})


def _ray_space(space: Any) -> dict[str, Any]:
    from ray import tune

    out: dict[str, Any] = {}
    for name in space.names:
        spec = space[name].to_dict()
        kind = spec["type"]
        if kind == "log_uniform":
            out[name] = tune.loguniform(spec["low"], spec["high"])
        elif kind == "uniform":
            out[name] = tune.uniform(spec["low"], spec["high"])
        elif kind == "one_minus_log_uniform":
            out[f"one_minus_{name}"] = tune.loguniform(1 - spec["high"], 1 - spec["low"])
        elif kind == "int_uniform":
            out[name] = tune.randint(spec["low"], spec["high"] + 1)
        elif kind == "choice":
            out[name] = tune.choice(list(spec["values"]))
    return out


def _ray(
    wl: SearchWorkload, profile: SearchProfile, seed: int, rec: Recorder, workdir: str,
    events: str,
) -> None:  # fmt: skip
    import ray
    from ray import tune
    from ray.tune.schedulers import ASHAScheduler

    here = str(Path(__file__).resolve().parent)
    root = str(Path(here).parent)
    path = os.pathsep.join([here, root, os.environ.get("PYTHONPATH", "")])
    os.environ["PYTHONPATH"] = path  # the workers import this module by its bare name
    ray.init(num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {"PYTHONPATH": path}})  # fmt: skip
    try:
        space = _ray_space(wl.space)
        space["_bench"] = {"workload": wl.name, "profile": profile.name, "seed": seed,
                           "events": events}  # fmt: skip
        space["_trial"] = tune.randint(0, 2**31 - 1)
        scheduler = ASHAScheduler(max_t=wl.max_epochs, grace_period=1, reduction_factor=3)
        remaining = max(rec.budget_s - rec.elapsed(), 1.0)
        tuner = tune.Tuner(
            tune.with_resources(_ray_trainable, {"cpu": 1}),
            param_space=space,
            tune_config=tune.TuneConfig(
                metric="val_accuracy", mode="max", scheduler=scheduler, num_samples=100_000,
                time_budget_s=remaining, search_alg=tune.search.BasicVariantGenerator(
                    random_state=seed),
            ),
            run_config=tune.RunConfig(storage_path=os.path.join(workdir, "ray"), verbose=0),
        )  # fmt: skip
        tuner.fit()
    finally:
        ray.shutdown()
        sys.stdout.flush()
