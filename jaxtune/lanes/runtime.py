"""The lane runtime: batches of lanes trained epoch by epoch, one decision per lane.

For each static group the runtime holds ``lanes`` lanes and the two programs of
:mod:`jaxtune.lanes.programs`. One *boundary* is: refill free lanes from the proposer
(``fill``, in place), train every lane one epoch (``advance``), read each busy lane's
metrics, and ask the strategy what each does next. A stopped trial is committed and its
lane is free at the next boundary. Lanes never wait for one another, so a lane freed by
an early stop trains a new trial while its neighbours go on.

A strategy may also PAUSE a lane: its trial's state goes to the host and its lane is
refilled; the strategy's ``schedule`` later puts it back on a lane (exactly where it
was) or stops it. Successive halving and Hyperband promote a full rung's best that way.
Or it answers ``Copy(source)``: the lane goes on with another lane's state, curves and
hyperparameters (moved by ``explore`` when asked), gathered on device at the next
``fill``; population-based training exploits that way.

The order of events at a boundary, stated once: (1) the snapshot of the runtime after
training (lane states, curves, the strategy's and the proposer's states) is saved
atomically when one is due; (2) stopped trials are committed, insert-or-skip; (3) the
proposer is told; (4) lanes are freed. Everything the runtime does is a function of its
snapshot, so after a kill at any moment :meth:`LaneRuntime.run` from the last saved
snapshot repeats exactly what followed it: the same commits (skipped when already
stored), the same numbers. A finished round saves its last snapshot too: a round grown
later (a larger ``n_trials``) continues from it with the strategy's and the proposer's
state, as if it had never stopped.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Hashable, Mapping
from typing import Any, NamedTuple

import numpy as np

from jaxtune.lanes.pool import Group, Paused, Pool
from jaxtune.proposers.base import Proposal
from jaxtune.strategies.base import PAUSE, STOP, Copy, Report

__all__ = ["Finished", "LaneRuntime", "Paused"]


class Finished(NamedTuple):
    """A trial the runtime has stopped, ready to commit."""

    number: int  # its index in the round
    hparams: dict[str, Any]
    group: Group
    curves: dict[str, list[float]]  # each metric per epoch trained
    stopped: bool  # stopped by the strategy before its last epoch
    seconds: float  # its share of the lanes' training time (wall clock)


class LaneRuntime:
    """Trains a round's trials in lanes until the proposer has no more and all stopped.

    Args:
        strategy: a :class:`jaxtune.strategies.Strategy` (``max_epochs`` filled in).
        proposer: a :class:`jaxtune.proposers.Proposer`.
        lanes: lanes per static group.
        loop_for: ``group -> (loop, identity)``: the loop of a static group and a stable,
            hashable name of what it trains (programs are cached under it).
        group_of: ``hparams -> group`` (the static values of a trial).
        encode: ``hparams -> {name: number}`` as the loop receives them (traced names).
        traced_names: ``group -> names`` the loop receives.
        dtypes: dtype of each encoded name.
        key_rows: ``(n_trials, ...)`` raw key data of every trial of the round.
        key_impl: the PRNG implementation of those keys.
        objective: the metric the strategy ranks by; maximize: its direction.
        commit: called with the :class:`Finished` trials of each boundary, in trial order.
        save: ``save(info, arrays)`` keeps a snapshot (atomically), or None.
        every: seconds between snapshots (0: at every boundary that stops a trial).
        explore: ``explore(group, hparams, encoded, number, epoch) -> (hparams,
            encoded)``: a copied lane's new hyperparameters (``Copy(explore=True)``);
            None: copies keep their source's.
        deadline: a ``time.monotonic()`` value: after the first boundary trained past
            it, :meth:`run` saves a snapshot and returns False (a run from that
            snapshot goes on exactly); None: no deadline.
        events: told ``{"event", "trial", "epoch", ...}`` of every stop, pause, resume
            and copy as it is decided (round numbers), or None.

    Example: see :func:`jaxtune.sweep.lane_round.run_lanes`, which builds one per round.
    """

    def __init__(
        self,
        *,
        strategy: Any,
        proposer: Any,
        lanes: int,
        loop_for: Callable[[Group], tuple[Any, Hashable]],
        group_of: Callable[[Mapping[str, Any]], Group],
        encode: Callable[[Mapping[str, Any]], dict[str, Any]],
        traced_names: Callable[[Group], tuple[str, ...]],
        dtypes: Mapping[str, Any],
        key_rows: np.ndarray,
        key_impl: Any,
        objective: str,
        maximize: bool,
        commit: Callable[[list[Finished]], None],
        save: Callable[[dict[str, Any], dict[str, np.ndarray]], None] | None = None,
        every: float = 0.0,
        explore: Callable[..., tuple[dict[str, Any], dict[str, Any]]] | None = None,
        deadline: float | None = None,
        events: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self.strategy, self.proposer, self.lanes = strategy, proposer, lanes
        self.loop_for, self.group_of, self.encode = loop_for, group_of, encode
        self.traced_names, self.dtypes = traced_names, dtypes
        self.key_rows, self.key_impl = key_rows, key_impl
        self.objective, self.maximize = objective, maximize
        self.commit, self.save, self.every = commit, save, every
        self.explore, self.deadline = explore, deadline
        self.events = events or (lambda event: None)
        self.pools: dict[Group, Pool] = {}
        self.queue: list[Proposal] = []
        self.paused: dict[int, Paused] = {}
        self.committed: set[int] = set()  # numbers committed so far (kept in snapshots)
        self.resuming: list[int] = []  # paused trials the strategy put back, oldest first
        self.state = strategy.init(maximize)
        self.boundaries, self._saved = 0, -math.inf

    # -------------------------------------------------------------- running

    def run(self, snapshot: tuple[dict[str, Any], dict[str, np.ndarray]] | None = None) -> bool:
        """Train until every trial is committed (True) or the deadline passed (False).

        Starts from ``snapshot`` when given.
        """
        decide_first = snapshot is not None
        if snapshot is not None:
            self._restore(*snapshot)
        while True:
            if not decide_first:
                self._refill()
                busy = [p for p in self.pools.values() if p.busy()]
                if not busy:
                    if self.paused:
                        raise RuntimeError(
                            f"strategy {type(self.strategy).__name__}: {len(self.paused)} "
                            "trials paused and nothing left to train; its schedule() must "
                            "resume or stop them"
                        )
                    if self.save is not None:  # where a grown round continues from
                        self.save(*self._snapshot())
                    return True
                for pool in busy:
                    pool.advance()
                self.boundaries += 1
                if self.deadline is not None and time.monotonic() >= self.deadline:
                    if self.save is not None:  # trained, not yet decided: as every snapshot
                        self.save(*self._snapshot())
                    return False
            decide_first = False
            self._decide()

    def _new_pool(self, group: Group, lanes: int) -> Pool:
        loop, identity = self.loop_for(group)
        dtypes = {n: self.dtypes[n] for n in self.traced_names(group)}
        return Pool(group, lanes, loop, identity, dtypes, (self.key_rows[0], self.key_impl))

    def _pool(self, group: Group) -> Pool:
        if group not in self.pools:
            self.pools[group] = self._new_pool(group, self.lanes)
        return self.pools[group]

    def _schedule(self) -> None:
        """Ask a pausing strategy which paused trials go back on lanes or stop."""
        schedule = getattr(self.strategy, "schedule", None)
        if schedule is None:
            return
        self.state, resume, stop = schedule(self.state, sorted(self.paused))
        finished = [self.paused.pop(n) for n in sorted(stop)]
        for p in finished:  # not promoted: it ends where it paused
            early = p.epoch < self.strategy.max_epochs
            self.events({"event": "stop", "trial": p.number, "epoch": p.epoch, "early": early})
        self._finish(
            [Finished(p.number, p.hparams, p.group, p.curves, True, p.seconds) for p in finished]
        )
        self.resuming += [n for n in resume if n in self.paused and n not in self.resuming]

    def _refill(self) -> None:
        self._schedule()
        resumed: dict[Group, list[tuple[int, Paused]]] = {}
        waiting_resume = []
        for number in self.resuming:
            p = self.paused[number]
            taken, lanes = resumed.setdefault(p.group, []), self._pool(p.group).free()
            if len(taken) < len(lanes):
                taken.append((lanes[len(taken)], self.paused.pop(number)))
            else:
                waiting_resume.append(number)
        self.resuming = waiting_resume
        for _, p in (pair for taken in resumed.values() for pair in taken):
            self.events({"event": "resume", "trial": p.number, "epoch": p.epoch})
        placed: dict[Group, list[Any]] = {g: [] for g in resumed}
        while True:  # again while proposals open new groups: their lanes are free too
            known = len(self.pools)
            free = sum(len(p.free()) for p in self.pools.values()) if self.pools else self.lanes
            free -= sum(len(t) for t in [*resumed.values(), *placed.values()])
            want = min(free - len(self.resuming) - len(self.queue), self.proposer.remaining())
            if want > 0:
                self.queue += self.proposer.ask(want)
            waiting = []
            for proposal in self.queue:
                group = self.group_of(proposal.hparams)
                taken = placed.setdefault(group, [])
                lanes = self._pool(group).free()[len(resumed.get(group, [])) :]
                if len(taken) >= len(lanes):
                    waiting.append(proposal)
                    continue
                key_row = self.key_rows[proposal.number]
                taken.append((lanes[len(taken)], proposal, self.encode(proposal.hparams), key_row))
            self.queue = waiting
            if len(self.pools) == known or want <= 0:
                break
        for group, pool in self.pools.items():
            if placed.get(group) or resumed.get(group) or pool.copying.any():
                pool.fill(placed.get(group, []), resumed.get(group, []))

    def _decide(self) -> None:
        index = {pool: g for g, pool in enumerate(self.pools.values())}
        lanes = [(p, i) for p in self.pools.values() for i in p.busy()]
        lanes.sort(key=lambda pair: int(pair[0].trial[pair[1]]))
        reports = [
            Report(
                int(p.trial[i]),
                int(p.epoch[i]),
                p.curves[i][self.objective][-1],
                index[p],
                p.hparams[i],
            )
            for p, i in lanes
        ]
        state, decisions = self.strategy.decide(self.state, reports)
        top = self.strategy.max_epochs
        stops, pauses, copies, told = [], [], [], []
        for (p, i), r, d in zip(lanes, reports, decisions, strict=True):
            at = {"trial": r.trial, "epoch": r.epoch}
            if isinstance(d, Copy) and r.epoch < top:
                copies.append((p, i, d))
                told.append({"event": "copy", **at, "source": d.source})
            elif d == STOP or r.epoch >= top or math.isnan(r.value):
                stops.append((p, i, r.epoch < top))
                told.append({"event": "stop", **at, "early": r.epoch < top})
            elif d == PAUSE:
                pauses.append((p, i))
                told.append({"event": "pause", **at})
        now = time.monotonic()
        due = stops or pauses or copies
        if self.save is not None and due and now - self._saved >= self.every:
            self.save(*self._snapshot())  # (1) before anything depends on it
            self._saved = now
        self.state = state
        for event in told:
            self.events(event)
        self._copy({int(p.trial[i]): (p, i) for p, i in lanes}, copies)
        self._finish(  # (2) and (3)
            [
                Finished(int(p.trial[i]), p.hparams[i], p.group, p.curves[i], early, p.seconds[i])
                for p, i, early in stops
            ]
        )
        for pool in self.pools.values():
            mine = [i for p, i in pauses if p is pool]
            for paused in pool.pause(mine) if mine else []:
                self.paused[paused.number] = paused
        for p, i in [(p, i) for p, i, _ in stops] + pauses:  # (4)
            p.trial[i] = -1

    def _copy(self, where: dict[int, tuple[Pool, int]], copies: list) -> None:
        """Each ``Copy``: the lane takes its source's record now, its state at ``fill``."""
        moves: dict[Pool, list] = {}
        for p, i, d in copies:
            number, (q, s) = int(p.trial[i]), where.get(d.source, (None, -1))
            if q is not p:
                raise RuntimeError(
                    f"strategy {type(self.strategy).__name__}: trial {number} copies trial "
                    f"{d.source}, which is not training in its static group"
                )
            hparams, encoded = p.hparams[s], {n: p.hp[n][s] for n in p.names}
            if d.explore and self.explore is not None:
                hparams, encoded = self.explore(p.group, hparams, encoded, number, int(p.epoch[i]))
            moves.setdefault(p, []).append((i, s, hparams, encoded))
        for pool, mine in moves.items():
            pool.copy(mine)

    def _finish(self, finished: list[Finished]) -> None:
        """Commit stopped trials, then tell the proposer how each ended."""
        if finished:
            self.commit(finished)
            self.committed.update(f.number for f in finished)
        for f in finished:
            curve = f.curves[self.objective]
            self.proposer.tell(f.number, curve[-1], curve, f.stopped)

    # -------------------------------------------------------------- snapshots

    def _snapshot(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        info: dict[str, Any] = {
            "boundaries": self.boundaries,
            "strategy": self.state,
            "proposer": self.proposer.state(),
            "queue": [[p.number, p.hparams] for p in self.queue],
            "resuming": self.resuming,
            "committed": sorted(self.committed),
            "paused": [],
            "pools": [],
        }
        arrays: dict[str, np.ndarray] = {}
        for p in self.paused.values():
            info["paused"].append(
                [p.number, [list(g) for g in p.group], p.epoch, p.hparams, p.curves, p.seconds]
            )
            arrays |= {f"z{p.number}_hp_{n}": np.asarray(v) for n, v in p.hp.items()}
            arrays[f"z{p.number}_key"] = p.key
            arrays |= {f"z{p.number}_s{j}": leaf for j, leaf in enumerate(p.leaves)}
        for j, pool in enumerate(self.pools.values()):
            pool_info, pool_arrays = pool.snapshot()
            info["pools"].append(pool_info)
            arrays |= {f"p{j}_{k}": v for k, v in pool_arrays.items()}
        return info, arrays

    def _restore(self, info: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> None:
        self.boundaries, self.state = int(info["boundaries"]), info["strategy"]
        self.proposer.restore(info["proposer"])
        self.queue = [Proposal(int(n), dict(h)) for n, h in info["queue"]]
        self.resuming = [int(n) for n in info["resuming"]]
        self.committed = {int(n) for n in info["committed"]}
        self.paused = {}
        for number, group, epoch, hparams, curves, seconds in info["paused"]:
            group = tuple(tuple(pair) for pair in group)
            names = self.traced_names(group)
            leaves, j = [], 0
            while f"z{number}_s{j}" in arrays:
                leaves.append(np.asarray(arrays[f"z{number}_s{j}"]))
                j += 1
            self.paused[int(number)] = Paused(
                number=int(number),
                group=group,
                epoch=int(epoch),
                hparams=dict(hparams),
                curves=dict(curves),
                seconds=float(seconds),
                hp={n: np.asarray(arrays[f"z{number}_hp_{n}"]) for n in names},
                key=np.asarray(arrays[f"z{number}_key"]),
                leaves=leaves,
            )
        self.pools = {}
        for j, pool_info in enumerate(info["pools"]):
            group = tuple(tuple(pair) for pair in pool_info["group"])
            pool = self.pools[group] = self._new_pool(group, int(pool_info["lanes"]))
            prefix = f"p{j}_"
            mine = {k[len(prefix) :]: v for k, v in arrays.items() if k.startswith(prefix)}
            pool.restore(pool_info, mine)
