"""Train one stored trial again, alone: how a user gets the best model back.

A trial of the built-in task is fully determined by what the store keeps: the task's
settings, the round's space, the trial's hyperparameters and its key
``fold_in(key(seed), trial_id)``. Retraining it alone reproduces the stored curve (up to
float reassociation between a batched and an unbatched program, about 1e-6).

A trial of a user's function is rerun the same way, with the function itself: the one
passed as ``fn``, or the one the store names (``module.qualname``) when it can be
imported. Its traced program must match the stored fingerprint, so what reruns is what
the sweep trained.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable
from typing import Any

import jax

from jaxtune.space import Space
from jaxtune.sweep import fingerprint as fp
from jaxtune.sweep.function import FunctionTask
from jaxtune.sweep.task import Task
from jaxtune.train import History

__all__ = ["retrain"]


def retrain(
    results: Any,
    trial_id: int,
    epochs: int | None = None,
    *,
    fn: Callable[..., Any] | None = None,
) -> Any:
    """Train stored trial ``trial_id`` from scratch, alone.

    Args:
        results: a :class:`jaxtune.Results` of a sweep.
        trial_id: the trial to train again.
        epochs: train this many epochs instead of the trial's own (built-in task only).
        fn: for a sweep of a user's function, that function; default: the function the
            store names, imported (a function defined at the top of a module or script).

    Returns:
        Built-in task: ``(params, history)``, the final model parameters (with a leading
        seed axis when ``seeds_per_trial > 1``) and the per-epoch
        :class:`jaxtune.History`. A user's function: what ``fn(hparams, key)`` returns
        for the trial's hyperparameters (plain values for static dimensions) and key.

    Raises:
        ValueError: no such trial, a bad ``epochs``, a function that cannot be found, or
            one whose program is not the stored one.
    """
    by_id = {t.trial: t for t in results.trials}
    if trial_id not in by_id:
        raise ValueError(f"trial_id: no trial {trial_id!r} in {results.path!r}")
    if epochs is not None and (not isinstance(epochs, int) or isinstance(epochs, bool)):
        raise ValueError(f"epochs must be an integer >= 1, got {epochs!r}")
    if epochs is not None and epochs < 1:
        raise ValueError(f"epochs must be an integer >= 1, got {epochs!r}")
    meta = results.meta
    if fn is not None and "function" not in meta.get("task", {}):
        raise ValueError(f"fn: {results.path!r} is a sweep of the built-in Task; leave fn out")
    if "function" in meta.get("task", {}):
        if epochs is not None:
            raise ValueError(
                "epochs applies to the built-in Task; a function trains what it trains"
            )
        return _rerun(results, by_id[trial_id], fn)
    record = by_id[trial_id]
    info = next(r for r in results.rounds if r["round"] == record.round)
    space, task = Space.from_dict(info["space"]), Task.from_dict(meta["task"])
    task.prepare(space, meta["seed"])
    group = task.group_of(space, record.hparams)
    trainer = task.trainer(space, group)
    static = dict(group)
    encoded = space.encode([record.hparams])
    hp = {k: v[0] for k, v in encoded.items() if k not in static}
    if epochs is not None:
        hp["epochs"] = epochs
        trainer = dataclasses.replace(trainer, max_epochs=max(epochs, trainer.max_epochs))
    key = jax.random.fold_in(jax.random.key(meta["seed"]), trial_id)
    n = trainer.max_epochs

    def train_one(key: jax.Array, seed_index: Any) -> tuple[Any, History]:
        state = trainer.init(hp, key)
        state, hist = trainer.run(state, hp, n, start_epoch=0, seed_index=seed_index)
        return state.params, hist

    if trainer.seeds_per_trial == 1:
        return jax.jit(train_one)(key, 0)
    keys = jax.random.split(key, trainer.seeds_per_trial)
    return jax.jit(jax.vmap(train_one))(keys, jax.numpy.arange(trainer.seeds_per_trial))


def _import(name: str) -> Callable[..., Any] | None:
    """The object ``module.qualname`` names, or None (a lambda, a local, a trainer)."""
    parts = name.split(".")
    for i in range(len(parts) - 1, 0, -1):
        try:
            obj: Any = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        try:
            for part in parts[i:]:
                obj = getattr(obj, part)
        except AttributeError:
            return None
        return obj if callable(obj) else None
    return None


def _rerun(results: Any, record: Any, fn: Callable[..., Any] | None) -> Any:
    meta = results.meta
    name = meta["task"]["function"]
    if fn is None:
        fn = _import(name)
        if fn is None:
            raise ValueError(
                f"fn: {results.path!r} trained the function {name}, which cannot be "
                "imported (a lambda or a local function?): pass it, retrain(trial, fn=train)"
            )
    info = next(r for r in results.rounds if r["round"] == record.round)
    space = Space.from_dict(info["space"])
    task = FunctionTask(fn)
    task.prepare(space, meta["seed"])
    changed = fp.mismatch(meta.get("fingerprint", {}), task.fingerprint())
    if changed:
        raise ValueError(f"fn: not the function this sweep trained ({changed})")
    group = task.group_of(space, record.hparams)
    static = dict(group)
    encoded = space.encode([record.hparams])
    hp = {k: v[0] for k, v in encoded.items() if k not in static}
    key = jax.random.fold_in(jax.random.key(meta["seed"]), record.trial)
    return jax.jit(task.trainer(space, group))(hp, key)
