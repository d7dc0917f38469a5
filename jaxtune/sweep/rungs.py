"""Run a round of a sweep rung by rung: train, rank, gather the survivors, continue.

The plan comes from :mod:`jaxtune.sweep.schedulers`. A rung's lanes run in chunks through
:func:`jaxtune.parallel.run` like any sweep; a lane of rung ``k > 0`` continues from the
exact training state its trial had at the end of rung ``k - 1`` (parameters, optimizer
state, epoch counter, data order), so a promoted trial's curve equals the same trial
trained straight through. Masking a stopped lane would save nothing under vmap: the
survivors are gathered into a smaller batch instead.

Persistence: each finished chunk of a rung writes one file
``<store>/rungs/r<round>_b<bracket>_k<rung>_<first trial>.npz`` (the lanes' states and
their curves so far) atomically, *before* anything that depends on it is committed; a
trial that stops is committed to the store as a finished trial. A sweep killed at any
moment resumes from the files and the store and ends as an uninterrupted one would.

Every state file carries the sweep's token (a random string made with the store, kept in
its metadata: :func:`jaxtune.sweep.stored.token`). A file without this sweep's token (left
by another sweep in the same folder) or one that cannot be read (damaged) is removed and
recomputed, never adopted (:mod:`jaxtune.sweep.state_files`).
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import jax
import numpy as np

from jaxtune import parallel
from jaxtune.store import TrialRecord
from jaxtune.sweep.records import records_from_outputs
from jaxtune.sweep.schedulers import Rung
from jaxtune.sweep.state_files import (
    TOKEN_FIELD,
    read_npz,
    read_npz_damaged,
    state_dir,
    write_npz,
)
from jaxtune.train import History

__all__ = [
    "HISTORY_FIELDS",
    "TOKEN_FIELD",
    "RungRound",
    "host_array",
    "lane_epochs",
    "read_npz",
    "state_dir",
    "write_npz",
]


#: The per-epoch curves a saved training state carries (rungs and PBT boundaries).
HISTORY_FIELDS = ("train_loss", "val_loss", "val_metric", "learning_rate")


def lane_epochs(brackets: Sequence[Sequence[Rung]]) -> int:
    """Epochs trained over all lanes of a plan (the budget a scheduler spends).

    Example:
        >>> from jaxtune.sweep.schedulers import SuccessiveHalving
        >>> lane_epochs(SuccessiveHalving(max_epochs=27).brackets(81))
        243
    """
    total = 0
    for rungs in brackets:
        prev = 0
        for rung in rungs:
            total += rung.lanes * (rung.epochs - prev)
            prev = rung.epochs
    return total


def host_array(x: Any) -> np.ndarray:
    """``x`` as a NumPy array; typed PRNG keys as their raw key data (for ``.npz``)."""
    is_key = jax.dtypes.issubdtype(getattr(x, "dtype", None), jax.dtypes.prng_key)
    return np.asarray(jax.random.key_data(x) if is_key else x)


@dataclasses.dataclass
class RungRound:
    """One round of a sweep under a scheduler.

    Attributes:
        task: the sweep's task (a :class:`jaxtune.sweep.SweepTask` whose trainers offer
            ``init(hparams, key)`` and ``run(state, hparams, epochs)``).
        space: the round's space.
        samples: the round's encoded samples (one array per name, trial axis first).
        decoded: the same trials as plain values.
        keys: one PRNG key per trial of the round.
        first: the global id of the round's first trial.
        round_: the round's number.
        brackets: the plan.
        folder: the sweep's folder (states go to ``folder/rungs``).
        chunk_size: as for :func:`jaxtune.parallel.run`.
        write: commits finished trials, e.g. ``store.write_trials``.
        done: ids of trials already committed.
        objective: the metric that ranks lanes.
        maximize: whether higher is better.
        token: the sweep's token, written into every state file and required of every
            file read back (:func:`read_npz`).
    """

    task: Any
    space: Any
    samples: Mapping[str, Any]
    decoded: Sequence[Mapping[str, Any]]
    keys: jax.Array
    first: int
    round_: int
    brackets: Sequence[Sequence[Rung]]
    folder: str | os.PathLike[str]
    chunk_size: Any
    write: Callable[[list[TrialRecord]], None]
    done: set[int]
    objective: str
    maximize: bool
    token: str | None = None
    _fns: dict[Any, Any] = dataclasses.field(default_factory=dict)

    # ------------------------------------------------------------------ running

    def run(self) -> None:
        """Every bracket, rung by rung; returns when every trial is committed."""
        start = 0
        for b, rungs in enumerate(self.brackets):
            lanes = list(range(start, start + rungs[0].lanes))
            start += rungs[0].lanes
            prev: dict[int, dict[str, Any]] = {}
            for k, rung in enumerate(rungs):
                if k > 0:
                    lanes = self._promote(prev, lanes, rung.lanes)
                here = self._load(b, k)
                todo = [i for i in lanes if i not in here]
                if todo:
                    self._train(b, k, rung, todo, prev, rungs[k - 1].epochs if k else 0)
                    here = self._load(b, k)
                keep = rungs[k + 1].lanes if k + 1 < len(rungs) else 0
                self._commit_stopped(here, lanes, keep, k, last=k + 1 == len(rungs))
                prev = here

    def _fn(self, group: Any, epochs: int, start: int) -> Callable[..., Any]:
        key = (group, epochs, start)
        if key not in self._fns:
            trainer = self._trainer(group)

            def fn(inputs: Mapping[str, Any], k: jax.Array) -> tuple[Any, History]:
                state = inputs["state"] if start else trainer.init(inputs["hp"], k)
                return trainer.run(state, inputs["hp"], epochs, start_epoch=start)

            self._fns[key] = fn
        return self._fns[key]

    def _trainer(self, group: Any) -> Any:
        trainer = self.task.trainer(self.space, group)
        if not (hasattr(trainer, "init") and hasattr(trainer, "run")):
            raise TypeError(
                "a scheduler needs a task whose trainer offers init(hparams, key) and "
                "run(state, hparams, epochs), like jaxtune.make_train's; a plain "
                "train(hparams, key) function trains straight through"
            )
        top = max(r[-1].epochs for r in self.brackets)
        if getattr(trainer, "max_epochs", top) < top:
            # Lanes stay active (unmasked) up to the last rung's epochs.
            trainer = dataclasses.replace(trainer, max_epochs=top)
        return trainer

    def _train(
        self, b: int, k: int, rung: Rung, todo: list[int], prev: dict[int, Any], start: int
    ) -> None:
        groups: dict[Any, list[int]] = {}
        for i in todo:
            groups.setdefault(self.task.group_of(self.space, self.decoded[i]), []).append(i)
        for group, idx in groups.items():
            static = dict(group)
            hp = {n: np.asarray(self.samples[n])[idx] for n in self.space.names if n not in static}
            inputs: dict[str, Any] = {"hp": hp}
            if k > 0:
                inputs["state"] = self._stack_states(group, [prev[i]["state"] for i in idx])
            fn = self._fn(group, rung.epochs - start, start)
            began = [time.perf_counter()]

            def on_chunk(done, total, chunk, idx=idx, prev=prev, began=began):
                lanes = idx[chunk.start : chunk.stop]
                now = time.perf_counter()
                wall = (now - began[0]) / max(len(lanes), 1)
                began[0] = now
                self._save(b, k, lanes, chunk.outputs, prev, wall)

            parallel.run(fn, inputs, self.keys[np.asarray(idx)], chunk_size=self.chunk_size,
                         on_chunk=on_chunk)  # fmt: skip

    # ------------------------------------------------------------------ ranking

    def _records(self, here: Mapping[int, Any], lanes: list[int], k: int) -> list[TrialRecord]:
        out = []
        for group, idx in self._by_group(lanes).items():
            hist = History(
                **{f: np.stack([here[i]["hist"][f] for i in idx]) for f in HISTORY_FIELDS},
                epochs=np.stack([here[i]["hist"]["epochs"] for i in idx]),
                diverged_epoch=np.stack([here[i]["hist"]["diverged_epoch"] for i in idx]),
            )
            trainer = self._trainer(group)
            recs = records_from_outputs(
                hist,
                ids=[self.first + i for i in idx],
                hparams=[self.decoded[i] for i in idx],
                round_=self.round_,
                group=",".join(f"{n}={v}" for n, v in group),
                wall=0.0,
                metric=getattr(trainer, "metric_name", "metric"),
                maximize=bool(getattr(trainer, "maximize", False)),
            )
            for i, r in zip(idx, recs, strict=True):
                final = {**r.final, "rung": k, "epochs_trained": int(here[i]["epochs_trained"])}
                out.append(dataclasses.replace(r, final=final, wall_time=here[i]["wall"]))
        return sorted(out, key=lambda r: r.trial)

    def _rank(self, records: list[TrialRecord]) -> list[TrialRecord]:
        sign = -1.0 if self.maximize else 1.0

        def key(r: TrialRecord) -> tuple[bool, float, int]:
            v = r.final.get(self.objective)
            bad = r.status != "ok" or v is None
            return (bad, 0.0 if bad else sign * v, r.trial)

        return sorted(records, key=key)

    def _promote(self, prev: Mapping[int, Any], lanes: list[int], n: int) -> list[int]:
        best = self._rank(self._records(prev, lanes, 0))[:n]
        return sorted(r.trial - self.first for r in best)

    def _commit_stopped(
        self, here: Mapping[int, Any], lanes: list[int], keep: int, k: int, last: bool
    ) -> None:
        ranked = self._rank(self._records(here, lanes, k))
        stopped = ranked if last else ranked[keep:]
        new = [
            dataclasses.replace(r, final={**r.final, "stopped": 0.0 if last else 1.0})
            for r in stopped
            if r.trial not in self.done
        ]
        if new:
            self.write(new)
            self.done.update(r.trial for r in new)

    def _by_group(self, lanes: list[int]) -> dict[Any, list[int]]:
        groups: dict[Any, list[int]] = {}
        for i in lanes:
            groups.setdefault(self.task.group_of(self.space, self.decoded[i]), []).append(i)
        return groups

    # ------------------------------------------------------------------ files

    def _dir(self) -> Path:
        return Path(self.folder) / "rungs"

    def _save(
        self, b: int, k: int, lanes: list[int], outputs: Any, prev: Any, wall: float
    ) -> None:
        state, seg = outputs
        leaves = [host_array(x) for x in jax.tree_util.tree_leaves(state)]
        arrays: dict[str, np.ndarray] = {"lanes": np.asarray(lanes)}
        for f in HISTORY_FIELDS:
            new = np.asarray(getattr(seg, f))
            if k > 0:
                new = np.concatenate([np.stack([prev[i]["hist"][f] for i in lanes]), new], 1)
            arrays[f"h_{f}"] = new
        arrays["h_epochs"] = np.asarray(seg.epochs)
        arrays["h_diverged_epoch"] = np.asarray(seg.diverged_epoch)
        before = np.asarray([prev[i]["wall"] for i in lanes]) if k > 0 else 0.0
        arrays["wall"] = np.asarray(before + wall, np.float64) * np.ones(len(lanes))
        arrays |= {f"s{j}": leaf for j, leaf in enumerate(leaves)}
        name = f"r{self.round_}_b{b}_k{k}_{self.first + lanes[0]}.npz"
        write_npz(state_dir(self.folder) / name, arrays, self.token)

    def _load(self, b: int, k: int) -> dict[int, dict[str, Any]]:
        out: dict[int, dict[str, Any]] = {}
        if not self._dir().is_dir():
            return out
        for path in sorted(self._dir().glob(f"r{self.round_}_b{b}_k{k}_*.npz")):
            if path.name.endswith(".tmp.npz"):
                continue
            z = read_npz(path, self.token)
            if z is None:  # another sweep's or damaged: recomputed
                continue
            try:
                lanes = self._lanes(z)
            except (KeyError, IndexError, ValueError):
                read_npz_damaged(path)
                continue
            out.update(lanes)
        return out

    @staticmethod
    def _lanes(z: Mapping[str, np.ndarray]) -> dict[int, dict[str, Any]]:
        out: dict[int, dict[str, Any]] = {}
        n_state = sum(1 for name in z if name.startswith("s"))
        for j, i in enumerate(z["lanes"].tolist()):
            out[int(i)] = {
                "state": [z[f"s{m}"][j] for m in range(n_state)],
                "hist": {f: z[f"h_{f}"][j] for f in (*HISTORY_FIELDS, "epochs", "diverged_epoch")},
                "wall": float(z["wall"][j]),
                "epochs_trained": z["h_val_loss"].shape[1],
            }
        return out

    def _stack_states(self, group: Any, states: list[list[np.ndarray]]) -> Any:
        trainer = self._trainer(group)
        one = {n: np.asarray(self.samples[n])[0] for n in self.space.names if n not in dict(group)}
        shape = jax.eval_shape(trainer.init, one, self.keys[0])
        leaves, treedef = jax.tree_util.tree_flatten(shape)
        stacked = []
        for j, spec in enumerate(leaves):
            data = np.stack([s[j] for s in states])
            if jax.dtypes.issubdtype(spec.dtype, jax.dtypes.prng_key):
                data = jax.random.wrap_key_data(data)
            stacked.append(data)
        return jax.tree_util.tree_unflatten(treedef, stacked)
