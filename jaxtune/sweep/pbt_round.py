"""Run a round of a sweep under population-based training (:class:`jaxtune.PBT`).

Each static group of the round is one population. Interval by interval, one compiled
program (one per interval length) trains every lane for ``interval_epochs`` (vmapped, or
``lax.map`` in chunks of ``chunk_size``), then one more ranks the lanes, gathers the
exploited states and hyperparameters over the trial axis and explores
(:mod:`jaxtune.sweep.explore`); the new numbers are written into each optimizer state in
place (``with_hyperparams``), so nothing recompiles and nothing leaves the device but
what is recorded. ``chunk_size="auto"`` trains the whole population in one batch.

Persistence: after every interval boundary but the last, the population's state (after
exploit and explore), its hyperparameters, its curves and its lineage go to one file
``<store>/rungs/r<round>_pbt_g<group>_i<interval>.npz`` (written atomically), and the
lineage to the store's metadata (``pbt_lineage``; the seconds spent training, exploiting
and recording go to ``pbt_seconds``). A sweep killed at any moment resumes from the last
boundary file and ends exactly as an uninterrupted one would. When the last interval
ends, every lane is committed as a finished trial; its curves are those of the lineage
it ends with, its hyperparameters those of its last interval. Multiple devices
(sharding) are not used yet: the population runs on the default device.
"""

from __future__ import annotations

import dataclasses
import os
import time
import weakref
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxtune.space import Fixed
from jaxtune.store import TrialRecord, clean_float
from jaxtune.sweep import stored
from jaxtune.sweep.explore import make_exploit
from jaxtune.sweep.pbt import PBT
from jaxtune.sweep.pbt_files import HISTORY_FIELDS, load_boundary, save_boundary
from jaxtune.sweep.progress import ChunkWriter
from jaxtune.sweep.records import records_from_outputs
from jaxtune.train import History

__all__ = ["PBTRound", "run_pbt"]

LINEAGE_KEY = "pbt_lineage"
# Seconds this process spent training, exploiting/exploring (on device) and recording
# (files, lineage) in each round: what a resumed run did, not the whole sweep.
SECONDS_KEY = "pbt_seconds"

# Compiled programs by trainer (kept as long as the task keeps its trainer), so a
# resumed or repeated sweep of the same task object compiles nothing again.
_PROGRAMS: weakref.WeakKeyDictionary[Any, dict[Any, Any]] = weakref.WeakKeyDictionary()


def _cached(trainer: Any, key: Any, build: Callable[[], Any]) -> Any:
    try:
        table = _PROGRAMS.setdefault(trainer, {})
    except TypeError:  # not weakly referenceable: no cache
        return build()
    if key not in table:
        table[key] = build()
    return table[key]


@dataclasses.dataclass
class PBTRound:
    """One round of a sweep under :class:`jaxtune.PBT`.

    Attributes:
        task: the sweep's task; its trainers offer ``init(hparams, key)`` and
            ``run(state, hparams, epochs, start_epoch=)`` returning a History, and may
            offer ``with_hyperparams(state, hparams)``.
        space: the round's space.
        samples: the round's encoded samples (the initial population).
        decoded: the same as plain values.
        keys: one PRNG key per trial.
        first: the global id of the round's first trial.
        round_: the round's number.
        scheduler: the PBT settings, ``max_epochs`` filled in.
        seed: the sweep's seed (exploit and explore draw from it).
        folder: the sweep's folder (states go to ``folder/rungs``).
        chunk_size: lanes per vmapped chunk (an int) or all at once (None, "auto").
        store: the open store (lineage metadata).
        write: commits finished trials.
        done: ids of trials already committed.
        objective: the metric ranking lanes: ``val_loss``, ``train_loss`` or
            ``val_<metric>``, its last epoch of the interval.
        maximize: whether higher is better.
        token: the sweep's token, bound into every boundary file
            (:func:`jaxtune.sweep.state_files.read_npz`).
    """

    task: Any
    space: Any
    samples: Mapping[str, Any]
    decoded: Sequence[Mapping[str, Any]]
    keys: jax.Array
    first: int
    round_: int
    scheduler: PBT
    seed: int
    folder: str | os.PathLike[str]
    chunk_size: Any
    store: Any
    write: Callable[[list[TrialRecord]], None]
    done: set[int]
    objective: str
    maximize: bool
    token: str | None = None
    seconds: dict[str, float] = dataclasses.field(
        default_factory=lambda: {"train": 0.0, "exploit": 0.0, "record": 0.0}
    )

    def run(self) -> None:
        """Every population, interval by interval; returns when all are committed."""
        groups: dict[Any, list[int]] = {}
        for i, trial in enumerate(self.decoded):
            groups.setdefault(self.task.group_of(self.space, trial), []).append(i)
        for g, (group, idx) in enumerate(groups.items()):
            if not all(self.first + i in self.done for i in idx):
                _Population(self, g, group, idx).run()


def run_pbt(
    sweep: Any,
    store: Any,
    space: Any,
    samples: Mapping[str, Any],
    decoded: Sequence[Mapping[str, Any]],
    keys: jax.Array,
    info: Mapping[str, Any],
    max_epochs: int,
) -> None:
    """Run one round of ``sweep`` (a :class:`jaxtune.Sweep` whose scheduler is a PBT).

    Args:
        sweep: the sweep (its task, seed, folder, chunk size, objective, direction).
        store: its open store.
        space: the round's space.
        samples: the round's encoded samples.
        decoded: the same as plain values.
        keys: one PRNG key per trial of the round.
        info: the round's row of the store (``round``, ``first_trial``, ``n_trials``).
        max_epochs: the task's epochs, used when the PBT leaves ``max_epochs`` out.
    """
    n = info["n_trials"]
    writer = ChunkWriter.of(sweep, store, n)
    writer.bar_desc(f"round {info['round']}, pbt")
    try:
        PBTRound(
            task=sweep.task, space=space, samples=samples, decoded=decoded, keys=keys,
            first=info["first_trial"], round_=info["round"], seed=sweep.seed,
            scheduler=sweep.scheduler.with_max_epochs(max_epochs), folder=sweep.path,
            chunk_size=sweep.chunk_size, store=store, write=writer.write_records,
            done=store.finished_trials(info["round"]), objective=sweep.objective,
            maximize=sweep.maximize, token=stored.token(store),
        ).run()  # fmt: skip
    finally:
        writer.close()


class _Population:
    """One static group's lanes under PBT (the program, the files, the lineage)."""

    def __init__(self, owner: PBTRound, g: int, group: Any, idx: list[int]) -> None:
        self.o, self.g, self.group, self.idx = owner, g, group, idx
        self.static = dict(group)
        self.names = [n for n in owner.space.names if n not in self.static]
        trainer = owner.task.trainer(owner.space, group)
        if not (hasattr(trainer, "init") and hasattr(trainer, "run")):
            raise TypeError(
                "PBT needs a task whose trainer offers init(hparams, key) and "
                "run(state, hparams, epochs), like jaxtune.make_train's"
            )
        top = owner.scheduler.max_epochs
        if getattr(trainer, "max_epochs", top) < top:
            trainer = dataclasses.replace(trainer, max_epochs=top)
        if getattr(trainer, "seeds_per_trial", 1) != 1:
            raise ValueError("PBT: task.seeds_per_trial must be 1 (one model per lane)")
        if not callable(getattr(trainer, "with_hyperparams", None)):
            # Without it a copied state keeps training with its old optimizer numbers
            # while the lineage reports the new ones.
            raise TypeError(
                "PBT copies a lane's state with new hyperparameters: the task's trainer "
                "must offer with_hyperparams(state, hparams) writing them into the state, "
                "as jaxtune.make_train's does (one that reads them from hparams at every "
                "run says so with: def with_hyperparams(self, state, hparams): return state)"
            )
        self.trainer = trainer
        self.metric = getattr(trainer, "metric_name", "metric")
        field = {"val_loss": "val_loss", "train_loss": "train_loss"}
        field[f"val_{self.metric}"] = "val_metric"
        if owner.objective not in field:
            raise ValueError(
                f"PBT ranks lanes by a per-epoch curve: objective must be one of "
                f"{sorted(field)}, got {owner.objective!r}"
            )
        self.field = field[owner.objective]
        frozen = {*getattr(trainer, "arch_keys", ()), "epochs"}
        dims = {
            n: owner.space[n]
            for n in self.names
            if n not in frozen and not isinstance(owner.space[n], Fixed)
        }
        pbt = owner.scheduler
        settings = dict(
            maximize=owner.maximize,
            factors=pbt.perturbation_factors,
            resample_probability=pbt.resample_probability,
            explore=pbt.explore_fn(),
        )
        n_q = pbt.n_quantile(len(idx))
        self.exploit = _cached(
            trainer,
            ("exploit", tuple(dims.items()), n_q, *settings.values()),
            lambda: make_exploit(
                dims, n_q, **settings, set_hyperparams=getattr(trainer, "with_hyperparams", None)
            ),
        )
        self.init = _cached(trainer, "init", lambda: jax.jit(jax.vmap(trainer.init)))

    # ------------------------------------------------------------------ programs

    def program(self, epochs: int) -> Any:
        """The jitted interval of ``epochs`` epochs over the population."""
        trainer, chunk, n = self.trainer, self.o.chunk_size, len(self.idx)
        chunk = chunk if isinstance(chunk, int) and chunk < n else None

        def build() -> Any:
            def one(state: Any, hp: Any, start: jax.Array) -> tuple[Any, History]:
                return trainer.run(state, hp, epochs, start_epoch=start)

            def interval(state: Any, hp: Any, start: jax.Array) -> tuple[Any, History]:
                if chunk is not None:
                    pairs = (state, hp)
                    return jax.lax.map(lambda a: one(*a, start), pairs, batch_size=chunk)
                return jax.vmap(one, in_axes=(0, 0, None))(state, hp, start)

            return jax.jit(interval)

        return _cached(trainer, ("interval", epochs, chunk), build)

    # ------------------------------------------------------------------ running

    def run(self) -> None:
        """Train interval by interval (from the last saved boundary), then commit."""
        o, idx = self.o, self.idx
        bounds = o.scheduler.boundaries()
        hp = {n: jnp.asarray(np.asarray(o.samples[n])[idx]) for n in self.names}
        keys = o.keys[np.asarray(idx)]
        state, hist = None, None
        lineage: dict[str, list[np.ndarray]] = {"parent": [], "score": []}
        lineage |= {f"hp_{n}": [] for n in self.names}
        parent = np.arange(len(idx))
        wall, begin = 0.0, 0
        found = self.latest(len(bounds))
        if found is not None:
            begin, state, hp, hist, lineage, parent, wall = found
        base = jax.random.fold_in(jax.random.key(o.seed), 7_919 * (o.round_ + 1) + self.g)
        for k in range(begin, len(bounds)):
            start, end = bounds[k]
            t0 = time.perf_counter()
            if state is None:
                state = self.init(hp, keys)
            out, on_device = self.program(end - start)(state, hp, jnp.int32(start))
            seg = jax.tree_util.tree_map(np.asarray, on_device)  # the host records
            t1 = time.perf_counter()
            hist = seg if hist is None else self.extend(hist, seg)
            score = np.asarray(getattr(seg, self.field))[:, -1]
            lineage["parent"].append(parent)
            lineage["score"].append(score)
            for n in self.names:
                lineage[f"hp_{n}"].append(np.asarray(hp[n]))
            o.seconds["train"] += t1 - t0
            wall += t1 - t0
            if k + 1 == len(bounds):
                state = out
                break
            key = jax.random.fold_in(base, k)
            ranked = getattr(on_device, self.field)[:, -1]  # never leaves the device
            state, hp, moved = self.exploit(out, hp, ranked, key)
            moved = np.asarray(moved)
            t2 = time.perf_counter()
            o.seconds["exploit"] += t2 - t1
            wall += t2 - t1
            parent = moved
            hist = self.gather(hist, moved)
            self.save(k, state, hp, hist, lineage, parent, wall)
            self.record_lineage(lineage)
            o.seconds["record"] += time.perf_counter() - t2
        self.record_lineage(lineage)
        self.commit(hist, hp, wall)
        spent = dict(o.store.meta().get(SECONDS_KEY, {}))
        spent[str(o.round_)] = {k: round(v, 6) for k, v in o.seconds.items()}
        o.store.set_meta(**{SECONDS_KEY: spent})

    @staticmethod
    def gather(hist: History, lanes: np.ndarray) -> History:
        return jax.tree_util.tree_map(lambda x: np.take(x, lanes, axis=0), hist)

    @staticmethod
    def extend(hist: History, seg: History) -> History:
        joined = {
            f: np.concatenate([getattr(hist, f), getattr(seg, f)], 1) for f in HISTORY_FIELDS
        }
        return History(**joined, epochs=seg.epochs, diverged_epoch=seg.diverged_epoch)

    def decoded_hp(self, hp: Mapping[str, Any]) -> list[dict[str, Any]]:
        o = self.o
        full = {
            n: np.asarray(hp[n]) if n in hp else np.asarray(o.samples[n])[self.idx]
            for n in o.space.names
        }
        return o.space.decode(full)

    def commit(self, hist: History, hp: Mapping[str, Any], wall: float) -> None:
        o = self.o
        ids = [o.first + i for i in self.idx]
        records = records_from_outputs(
            hist,
            ids=ids,
            hparams=self.decoded_hp(hp),
            round_=o.round_,
            group=",".join(f"{n}={v}" for n, v in self.group),
            wall=wall / len(self.idx),
            metric=self.metric,
            maximize=bool(getattr(self.trainer, "maximize", False)),
        )
        epochs = o.scheduler.max_epochs
        new = [
            dataclasses.replace(r, final={**r.final, "epochs_trained": epochs})
            for r in records
            if r.trial not in o.done
        ]
        if new:
            o.write(new)
            o.done.update(r.trial for r in new)

    # ------------------------------------------------------------------ lineage

    def record_lineage(self, lineage: Mapping[str, list[np.ndarray]]) -> None:
        """Rows ``{trial, interval, epochs, parent, objective, hparams}`` into the store."""
        o, bounds = self.o, self.o.scheduler.boundaries()
        ids = np.asarray([o.first + i for i in self.idx])
        rows = []
        for k, (parent, score) in enumerate(zip(lineage["parent"], lineage["score"], strict=True)):
            hps = self.decoded_hp({n: lineage[f"hp_{n}"][k] for n in self.names})
            for j, trial in enumerate(ids.tolist()):
                rows.append(
                    {
                        "trial": trial,
                        "interval": k,
                        "epochs": list(bounds[k]),
                        "parent": int(ids[int(parent[j])]),
                        "objective": clean_float(score[j]),
                        "hparams": hps[j],
                    }
                )
        every = dict(o.store.meta().get(LINEAGE_KEY, {}))
        mine = set(ids.tolist())
        kept = [r for r in every.get(str(o.round_), []) if r["trial"] not in mine]
        every[str(o.round_)] = sorted(kept + rows, key=lambda r: (r["interval"], r["trial"]))
        o.store.set_meta(**{LINEAGE_KEY: every})

    # ------------------------------------------------------------------ files

    def path(self, k: int) -> Path:
        return Path(self.o.folder) / "rungs" / f"r{self.o.round_}_pbt_g{self.g}_i{k}.npz"

    def save(self, k: int, *args: Any) -> None:
        """Boundary ``k``: the state after exploit and explore (:func:`save_boundary`)."""
        save_boundary(self.path(k), *args, token=self.o.token)

    def latest(self, n_intervals: int) -> tuple[Any, ...] | None:
        """What the last saved boundary holds, to continue from; None if none is saved."""
        for k in range(n_intervals - 2, -1, -1):
            if self.path(k).is_file():
                one = {n: np.asarray(self.o.samples[n])[0] for n in self.names}
                spec = jax.eval_shape(self.trainer.init, one, self.o.keys[0])
                found = load_boundary(self.path(k), spec, self.names, self.o.token)
                if found is not None:  # else another sweep's or damaged: removed
                    return (k + 1, *found)
        return None
