"""A round of a sweep on the lane runtime: a strategy, a proposer, the store.

:func:`run_lanes` builds the proposer (the sweep's own samples, or Optuna's sampler asked
as lanes free up), the loop of each static group (the built-in trainer or a user's
``init``/``epoch``), and the runtime (:mod:`jaxtune.lanes`), and commits each stopped
trial to the store as a finished one (``epochs_trained``, ``rung`` and ``stopped`` among
its finals). The runtime's snapshot lives in ``<store>/lanes/r<round>.npz``, bound to
the store by its token (:func:`jaxtune.sweep.stored.token`); the last one stays with the
finished round, so a round grown later continues with its strategy's and proposer's
state. A strategy that copies lanes (PBT) gets an explore step per static group (its
traced, searchable dimensions; masked sizes and fixed values are copied, never moved)
and its lineage goes to the store's metadata (``pbt_lineage``) before each commit.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxtune.lanes import (
    LaneRuntime,
    TrainerLoop,
    as_loop,
    hyperparams_setter,
    metric_name,
    snapshots,
)
from jaxtune.proposers import OptunaProposer, SampleProposer, ended
from jaxtune.space import Fixed
from jaxtune.store import Store, TrialRecord
from jaxtune.sweep import stored
from jaxtune.sweep.callbacks import tell_event
from jaxtune.sweep.progress import ChunkWriter, OutOfTimeError
from jaxtune.sweep.records import records_from_outputs
from jaxtune.train import History

__all__ = ["LINEAGE_KEY", "run_lanes"]

#: Lanes per static group when the strategy does not say.
DEFAULT_LANES = 64
#: Where a copying strategy's lineage goes in the store's metadata (by round).
LINEAGE_KEY = "pbt_lineage"


def run_lanes(sweep: Any, store: Store, space: Any, samples: Any, info: dict, top: int) -> None:
    """Run one stored round of ``sweep`` under its lane strategy until every trial is in.

    Raises :class:`jaxtune.sweep.progress.OutOfTimeError` when ``sweep.deadline`` passed first.

    Args:
        sweep: the :class:`jaxtune.Sweep` (its task, strategy, sampler, seed, objective).
        store: its store, open and locked.
        space: the round's space; samples: the round's encoded samples.
        info: the round, as :meth:`jaxtune.store.Store.rounds` lists it.
        top: the task's own epochs (the strategy's ``max_epochs`` when it has none).
    """
    first, n, round_ = info["first_trial"], info["n_trials"], info["round"]
    done = store.finished_trials(round_)
    path = Path(sweep.path) / "lanes" / f"r{round_}.npz"
    if len(done) >= n:
        return
    strategy = sweep.scheduler
    if callable(getattr(strategy, "with_max_epochs", None)):
        strategy = strategy.with_max_epochs(top)
    if callable(getattr(strategy, "for_trials", None)):
        strategy = strategy.for_trials(n)  # successive halving plans the round's trials
    if callable(getattr(strategy, "seeded", None)):
        strategy = strategy.seeded(sweep.seed * 7_919 + round_)  # PBT's donors
    if sweep.model_sampler is not None:  # earlier rounds' trials are its history
        history = [
            ended(
                space,
                t.hparams,
                t.final.get(sweep.objective),
                t.curves.get(sweep.objective, []),
                bool(t.final.get("stopped")),
            )
            for t in store.trials()
            if t.round != round_
        ]
        proposer: Any = OptunaProposer(
            space, n, sweep.model_sampler, sweep.seed, sweep.maximize, history=history
        )
    else:
        proposer = SampleProposer.from_space(space, samples)
    base = jax.random.key(sweep.seed)
    keys = jax.vmap(lambda i: jax.random.fold_in(base, i))(jnp.arange(first, first + n))
    identity = json.dumps(
        [
            sweep.task.identity(),
            sweep.fingerprint,
            space.to_dict(),
            sweep.seed,
            strategy.max_epochs,
        ],
        sort_keys=True,
        default=str,
    )
    loops: dict[Any, Any] = {}
    copies = callable(getattr(strategy, "explorer", None))

    def loop_for(group):
        if group not in loops:
            trainer = sweep.task.trainer(space, group)
            loops[group] = as_loop(
                trainer, strategy.max_epochs, why=f"scheduler {strategy.kind!r}"
            )
            if copies and hyperparams_setter(loops[group]) is None:
                # Without it a copied state keeps training with its old optimizer
                # numbers while the lineage reports the new ones.
                raise TypeError(
                    "PBT copies a lane's state with new hyperparameters: the task must "
                    "offer with_hyperparams(state, hparams) writing them into the state, "
                    "as jaxtune.make_train's does (one that reads them from hparams at "
                    "every epoch says so with: def with_hyperparams(self, state, hparams): "
                    "return state)"
                )
        return loops[group], identity

    def traced(group):
        return tuple(k for k in space.names if k not in dict(group))

    explore_base = jax.random.fold_in(jax.random.key(sweep.seed), 7_919 * (round_ + 1))
    steps: dict[Any, Any] = {}

    def explore(group, hparams, encoded, number, epoch):
        if group not in steps:
            loop = loops[group]
            frozen = {*getattr(getattr(loop, "trainer", loop), "arch_keys", ()), "epochs"}
            steps[group] = strategy.explorer(
                {
                    k: space[k]
                    for k in traced(group)
                    if k not in frozen and not isinstance(space[k], Fixed)
                }
            )
        key = jax.random.fold_in(jax.random.fold_in(explore_base, number), epoch)
        new = {k: np.asarray(v) for k, v in steps[group](encoded, key).items()}
        full = {k: np.asarray(v) for k, v in space.encode([hparams]).items()}
        (decoded,) = space.decode(full | {k: v[None] for k, v in new.items()})
        return decoded, new

    def encode(hparams):
        return {k: np.asarray(v)[0] for k, v in space.encode([hparams]).items()}

    writer = ChunkWriter.of(sweep, store, n - len(done))
    writer.bar_desc(f"round {round_}, {strategy.kind}")
    rung_of = getattr(strategy, "rung_of", None)
    if rung_of is None:  # ASHA: its rungs and the top
        rungs = [*getattr(strategy, "rungs", list)(), strategy.max_epochs]
        rung_of = lambda number, epochs: max(0, sum(1 for r in rungs if r <= epochs) - 1)  # noqa: E731

    def commit(finished):
        rows = runtime.state.get("lineage") if isinstance(runtime.state, dict) else None
        if rows is not None:  # before the trials: a trial committed has its lineage
            every = dict(store.meta().get(LINEAGE_KEY, {}))
            every[str(round_)] = sorted(
                [r | {"trial": first + r["trial"], "parent": first + r["parent"]} for r in rows],
                key=lambda r: (r["interval"], r["trial"]),
            )
            store.set_meta(**{LINEAGE_KEY: every})
        records = []
        for f in finished:
            if first + f.number in done:
                continue
            records.append(_record(f, loops[f.group], first, round_, strategy, rung_of, sweep))
        if records:
            writer.write_records(records)
            done.update(r.trial for r in records)

    token = stored.token(store) or ""  # the store's own: a foreign snapshot is not used
    lanes = getattr(strategy, "lanes", None) or min(n, DEFAULT_LANES)
    if callable(getattr(strategy, "lanes_for", None)):  # every member of a group at once
        groups = [sweep.task.group_of(space, hp) for hp in space.decode(samples)]
        sizes = [n] if sweep.model_sampler is not None else [groups.count(g) for g in groups]
        lanes = strategy.lanes_for(sizes)
    runtime = LaneRuntime(
        strategy=strategy,
        proposer=proposer,
        lanes=lanes,
        loop_for=loop_for,
        group_of=lambda hp: sweep.task.group_of(space, hp),
        encode=encode,
        traced_names=traced,
        dtypes={k: np.asarray(v).dtype for k, v in samples.items()},
        key_rows=np.asarray(jax.random.key_data(keys)),
        key_impl=jax.random.key_impl(keys),
        objective=sweep.objective,
        maximize=sweep.maximize,
        commit=commit,
        save=lambda info_, arrays: snapshots.save(path, token, info_, arrays),
        every=sweep.snapshot_seconds,
        explore=explore if copies else None,
        deadline=sweep.deadline,
        events=lambda e: tell_event(sweep.callbacks, _global(e, first, round_)),
    )
    store.set_meta(lanes=lanes)
    try:
        snapshot = snapshots.load(path, token)
        if snapshot is not None and not {first + n for n in snapshot[0]["committed"]} <= done:
            snapshot = None  # the store lost trials the snapshot counts on: start over
        if not runtime.run(snapshot):
            raise OutOfTimeError  # the snapshot holds the lanes: the next run goes on from it
    finally:
        writer.close()


def _global(event: dict[str, Any], first: int, round_: int) -> dict[str, Any]:
    """A runtime event with trial ids (not round numbers) and its round."""
    ids = {k: first + event[k] for k in ("trial", "source") if k in event}
    return {**event, **ids, "round": round_}


def _record(f, loop, first, round_, strategy, rung_of, sweep) -> TrialRecord:
    """The stored record of a stopped trial: finals, curves so far, where it stopped."""
    epochs = len(next(iter(f.curves.values())))
    common = {
        "ids": [first + f.number],
        "hparams": [f.hparams],
        "round_": round_,
        "wall": float(f.seconds),
    }
    group = ",".join(f"{k}={v}" for k, v in f.group)
    if isinstance(loop, TrainerLoop):
        # Padded to the strategy's top, as a trial stopped early inside a longer program.
        metric, pad = metric_name(loop.trainer), strategy.max_epochs - epochs
        curve = {
            k: np.pad(np.asarray(v, np.float32), (0, pad), constant_values=np.nan)[None]
            for k, v in f.curves.items()
        }
        blown = np.flatnonzero(~np.isfinite(curve["val_loss"][0][:epochs]))
        hist = History(
            train_loss=curve["train_loss"],
            val_loss=curve["val_loss"],
            val_metric=curve[f"val_{metric}"],
            learning_rate=curve["learning_rate"],
            epochs=np.asarray([epochs], np.int32),
            diverged_epoch=np.asarray([int(blown[0]) + 1 if blown.size else 0], np.int32),
        )
        (record,) = records_from_outputs(
            hist,
            group=group,
            metric=metric,
            maximize=bool(getattr(loop.trainer, "maximize", False)),
            **common,
        )
        curves = {k: v[:epochs] for k, v in record.curves.items()}
        record = dataclasses.replace(record, curves=curves)
    else:
        outputs = {k: np.asarray(v, np.float32)[None] for k, v in f.curves.items()}
        (record,) = records_from_outputs(outputs, group=group, objective=sweep.objective, **common)
    final = {
        **record.final,
        "epochs_trained": epochs,
        "rung": rung_of(f.number, epochs),
        "stopped": 1.0 if f.stopped else 0.0,
    }
    return dataclasses.replace(record, final=final)
