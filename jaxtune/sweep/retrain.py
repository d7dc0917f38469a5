"""Train one stored trial again, alone: how a user gets the best model back.

A trial of the built-in task is fully determined by what the store keeps: the task's
settings, the round's space, the trial's hyperparameters and its key
``fold_in(key(seed), trial_id)``. Retraining it alone reproduces the stored curve (up to
float reassociation between a batched and an unbatched program, about 1e-6).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax

from jaxtune.space import Space
from jaxtune.sweep.task import Task
from jaxtune.train import History

__all__ = ["retrain"]


def retrain(results: Any, trial_id: int, epochs: int | None = None) -> tuple[Any, History]:
    """Train stored trial ``trial_id`` of a built-in-task sweep from scratch, alone.

    Args:
        results: a :class:`jaxtune.Results` of a sweep of the built-in :class:`Task`.
        trial_id: the trial to train again.
        epochs: train this many epochs instead of the trial's own.

    Returns:
        ``(params, history)``: the final model parameters (with a leading seed axis when
        ``seeds_per_trial > 1``) and the per-epoch :class:`jaxtune.History`.

    Raises:
        ValueError: no such trial, a sweep of a user's function, or a bad ``epochs``.
    """
    by_id = {t.trial: t for t in results.trials}
    if trial_id not in by_id:
        raise ValueError(f"trial_id: no trial {trial_id!r} in {results.path!r}")
    if epochs is not None and (not isinstance(epochs, int) or isinstance(epochs, bool)):
        raise ValueError(f"epochs must be an integer >= 1, got {epochs!r}")
    if epochs is not None and epochs < 1:
        raise ValueError(f"epochs must be an integer >= 1, got {epochs!r}")
    meta = results.meta
    if "function" in meta.get("task", {}):
        raise ValueError(
            f"retrain needs a sweep of the built-in Task; {results.path!r} trained the "
            f"function {meta['task']['function']}: call it with the trial's hyperparameters"
        )
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
