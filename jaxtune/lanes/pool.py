"""The lanes of one static group: their device states and the host's record of them.

A :class:`Pool` holds ``lanes`` lanes of one loop: the batched training state on the
device, and on the host which trial each lane trains, its epoch count, curves,
hyperparameters (as the loop receives them) and raw PRNG key. ``fill`` puts new trials
and resumed ones in place and carries out the copies ``copy`` recorded, ``advance``
trains every lane one epoch and reads the metrics once, ``pause`` takes trials off with
their exact states, and ``snapshot``/``restore`` turn all of it into arrays and JSON
values and back.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxtune.lanes.programs import programs, template
from jaxtune.proposers.base import Proposal

__all__ = ["Group", "Paused", "Pool"]

Group = tuple[tuple[str, Any], ...]  # (name, value) of each static hyperparameter


class Paused(NamedTuple):
    """A trial taken off the lanes by a strategy's PAUSE, with everything to resume it."""

    number: int
    group: Group
    epoch: int
    hparams: dict[str, Any]
    curves: dict[str, list[float]]
    seconds: float  # its share of the lanes' training time so far
    hp: dict[str, Any]  # the encoded values its lane received
    key: np.ndarray  # its raw key data
    leaves: list[np.ndarray]  # its state's leaves (keys as raw key data)


def _is_key(x: Any) -> bool:
    return jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key)


def _data(leaf: Any) -> Any:
    """A state leaf as plain numbers (a PRNG key as its raw key data)."""
    return jax.random.key_data(leaf) if _is_key(leaf) else leaf


def _like(leaf: Any, data: Any) -> Any:
    """``data`` (numbers) as a leaf like ``leaf`` (a PRNG key again where it was one)."""
    data = jnp.asarray(data)
    return (
        jax.random.wrap_key_data(data, impl=jax.random.key_impl(leaf)) if _is_key(leaf) else data
    )


class Pool:
    """The lanes of one static group: device states, host bookkeeping.

    Args:
        group: the static values its trials share.
        lanes: how many lanes.
        loop: what a lane trains; identity: a stable name of it (programs are cached
            under ``(identity, group, lanes)``).
        dtypes: dtype of each hyperparameter the loop receives (its names, in order).
        key: one trial's raw key data (its shape and dtype) and the PRNG implementation.
    """

    def __init__(
        self,
        group: Group,
        lanes: int,
        loop: Any,
        identity: Any,
        dtypes: Mapping[str, Any],
        key: tuple[np.ndarray, Any],
    ) -> None:
        self.group, self.lanes, self.loop = group, lanes, loop
        self.names = tuple(dtypes)
        self.programs = programs(loop, (identity, group), lanes)
        key_row, self.impl = key
        self.trial = np.full(lanes, -1, np.int64)  # round number of each lane's trial
        self.epoch = np.zeros(lanes, np.int64)
        self.hparams: list[dict[str, Any] | None] = [None] * lanes
        self.curves: list[dict[str, list[float]]] = [{} for _ in range(lanes)]
        self.seconds = np.zeros(lanes)  # each lane's share of the advance calls' time
        self.hp = {n: np.zeros(lanes, dtypes[n]) for n in self.names}
        self.keys = np.zeros((lanes, *key_row.shape), key_row.dtype)
        self.source = np.arange(lanes, dtype=np.int32)  # the lane each copying lane takes
        self.copying = np.zeros(lanes, bool)  # copies recorded, not yet on the device
        self.states = template(self.loop, self.hp, self._keys())
        self.nothing = template(self.loop, self.hp, self._keys())  # fill's empty `incoming`

    def _keys(self) -> jax.Array:
        return jax.random.wrap_key_data(jnp.asarray(self.keys), impl=self.impl)

    def free(self) -> list[int]:
        return [int(i) for i in np.flatnonzero(self.trial < 0)]

    def busy(self) -> list[int]:
        return [int(i) for i in np.flatnonzero(self.trial >= 0)]

    def fill(
        self,
        placed: list[tuple[int, Proposal, dict[str, Any], np.ndarray]],
        resumed: list[tuple[int, Paused]],
    ) -> None:
        """New trials into free lanes (initialized), paused ones back (their states)."""
        fresh, put = np.zeros(self.lanes, bool), np.zeros(self.lanes, bool)
        for lane, proposal, encoded, key_row in placed:
            self.trial[lane], self.epoch[lane] = proposal.number, 0
            self.hparams[lane], self.curves[lane] = proposal.hparams, {}
            self.seconds[lane] = 0.0
            for n in self.names:
                self.hp[n][lane] = encoded[n]
            self.keys[lane] = key_row
            fresh[lane] = True
        incoming = self.nothing
        if resumed:
            leaves, treedef = jax.tree_util.tree_flatten(self.nothing)
            rows = [np.zeros(_data(leaf).shape, _data(leaf).dtype) for leaf in leaves]
            for lane, p in resumed:
                self.trial[lane], self.epoch[lane] = p.number, p.epoch
                self.hparams[lane], self.curves[lane] = p.hparams, p.curves
                self.seconds[lane] = p.seconds
                for n in self.names:
                    self.hp[n][lane] = p.hp[n]
                self.keys[lane] = p.key
                for row, value in zip(rows, p.leaves, strict=True):
                    row[lane] = value
                put[lane] = True
            incoming = jax.tree_util.tree_unflatten(
                treedef, [_like(leaf, row) for leaf, row in zip(leaves, rows, strict=True)]
            )
        self.states = self.programs.fill(
            self.states,
            self.hp,
            self._keys(),
            jnp.asarray(fresh),
            incoming,
            jnp.asarray(put),
            jnp.asarray(self.source),
            jnp.asarray(self.copying),
        )
        self.source = np.arange(self.lanes, dtype=np.int32)
        self.copying = np.zeros(self.lanes, bool)

    def copy(self, moves: list[tuple[int, int, dict[str, Any], dict[str, Any]]]) -> None:
        """Lanes take other lanes' records now and their states at the next ``fill``.

        Args:
            moves: ``(lane, source lane, hparams, encoded)``: the lane's trial goes on from
                the source's epoch and curves, with these hyperparameters.
        """
        before = [(int(self.epoch[s]), self.curves[s]) for _, s, _, _ in moves]
        for (lane, s, hparams, encoded), (epoch, curves) in zip(moves, before, strict=True):
            self.epoch[lane], self.hparams[lane] = epoch, hparams
            self.curves[lane] = {k: list(v) for k, v in curves.items()}
            for n in self.names:
                self.hp[n][lane] = encoded[n]
            self.source[lane], self.copying[lane] = s, True

    def pause(self, lanes: list[int]) -> list[Paused]:
        """Take the trials of ``lanes`` off the lanes, with their exact states."""
        host = [np.asarray(_data(leaf)) for leaf in jax.tree_util.tree_leaves(self.states)]
        return [
            Paused(
                number=int(self.trial[i]),
                group=self.group,
                epoch=int(self.epoch[i]),
                hparams=self.hparams[i],
                curves=self.curves[i],
                seconds=float(self.seconds[i]),
                hp={n: self.hp[n][i] for n in self.names},
                key=self.keys[i].copy(),
                leaves=[leaf[i] for leaf in host],
            )
            for i in lanes
        ]

    def advance(self) -> None:
        started = time.perf_counter()
        self.states, metrics = self.programs.advance(self.states, self.hp)
        metrics = {k: np.asarray(v) for k, v in metrics.items()}  # the boundary's host read
        busy = self.busy()
        share = (time.perf_counter() - started) / max(len(busy), 1)
        for lane in busy:
            self.epoch[lane] += 1
            self.seconds[lane] += share
            for k, v in metrics.items():
                self.curves[lane].setdefault(k, []).append(float(v[lane]))

    # -------------------------------------------------------------- snapshots

    def snapshot(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        leaves = jax.tree_util.tree_leaves(self.states)
        arrays = {f"hp_{n}": self.hp[n] for n in self.names}
        arrays["keys"] = self.keys
        arrays |= {f"s{j}": np.asarray(_data(leaf)) for j, leaf in enumerate(leaves)}
        info = {
            "group": [list(pair) for pair in self.group],
            "lanes": self.lanes,
            "trial": self.trial.tolist(),
            "epoch": self.epoch.tolist(),
            "hparams": self.hparams,
            "curves": self.curves,
            "seconds": self.seconds.tolist(),
            "leaves": len(leaves),
        }
        return info, arrays

    def restore(self, info: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> None:
        self.trial = np.asarray(info["trial"], np.int64)
        self.epoch = np.asarray(info["epoch"], np.int64)
        self.hparams, self.curves = list(info["hparams"]), [dict(c) for c in info["curves"]]
        self.seconds = np.asarray(info["seconds"], np.float64)
        self.hp = {n: np.array(arrays[f"hp_{n}"]) for n in self.names}
        self.keys = np.array(arrays["keys"])
        shapes, treedef = jax.tree_util.tree_flatten(self.states)
        leaves = [_like(like, arrays[f"s{j}"]) for j, like in enumerate(shapes)]
        self.states = jax.tree_util.tree_unflatten(treedef, leaves)
