"""Sweeps: sample a space, group trials by static hyperparameters, run, persist, resume.

:class:`Sweep` is the main job a user runs. It samples the space (random, grid or
quasi-random), groups the trials by their *static* hyperparameters (mini-batch size and
optimizer family: one compiled program each), runs every group through
:func:`jaxtune.parallel.run` and writes each finished chunk to the store
(:class:`jaxtune.store.Store`) at once. Opening an existing store resumes: the same seed
regenerates the same samples, finished trials are skipped, the rest run. Each trial's PRNG
key is ``fold_in(key(seed), trial_id)``, so its numbers do not depend on which other trials
share its chunk.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxtune import parallel
from jaxtune.space import Space
from jaxtune.store import Store
from jaxtune.sweep.function import as_task
from jaxtune.sweep.records import records_from_outputs
from jaxtune.sweep.rungs import RungRound
from jaxtune.sweep.schedulers import scheduler_from_dict
from jaxtune.sweep.task import Group, SweepTask

__all__ = ["SAMPLERS", "Sweep", "SweepMismatchError"]

SAMPLERS = ("random", "grid", "quasi_random")

TrainFn = Callable[[Mapping[str, jax.Array], jax.Array], Any]


class SweepMismatchError(ValueError):
    """The store holds another sweep (different space, task, seed or sampler)."""


def grid_points(space: Space, n_trials: int) -> int:
    """The most points per dimension whose full grid has at most ``n_trials`` points."""

    def size(k: int) -> int:
        return len(next(iter(space.grid(k).values())))

    k, current = 1, size(1)
    while k < n_trials:
        bigger = size(k + 1)
        # Stop when the next grid is over budget, or no longer grows (every dimension is
        # a choice, fixed or an integer range already fully listed).
        if bigger > n_trials or bigger == current:
            break
        k, current = k + 1, bigger
    return k


class Sweep:
    """A sweep of ``n_trials`` samples of ``space`` on a task, persisted in ``store``.

    Args:
        space: the search space (a :class:`jaxtune.Space` or a plain dict).
        task: the built-in :class:`jaxtune.Task` (default: digits, an MLP), a trainer
            from :func:`jaxtune.make_train`, a user's pure ``train(hparams, key)``
            returning a :class:`jaxtune.History` or a dict of per-trial scalars, or any
            :class:`jaxtune.sweep.SweepTask`.
        n_trials: trials of the first round. For ``"grid"``, the budget: the grid uses
            the most points per dimension that fit in it.
        sampler: ``"random"``, ``"grid"`` or ``"quasi_random"``.
        seed: seed of sampling and of every trial's key.
        store: the sweep's folder, e.g. ``"runs/digits"``.
        chunk_size: passed to :func:`jaxtune.parallel.run`.
        objective: the final metric that ranks trials. Default: the task's own
            (``val_accuracy`` for classification, a trainer's ``val_<metric_name>``,
            ``val_loss`` for a function).
        maximize: whether higher is better. Default: the task's direction for its own
            objective, False (lower is better) for any other. Never guessed from a name.
        quiet: no progress bar. It is also off when stderr is not a terminal.
        scheduler: early stopping between rungs: a :class:`jaxtune.SuccessiveHalving`, a
            :class:`jaxtune.Hyperband`, or their dict form (``{"kind": "hyperband"}``).
            Hyperband sets the number of trials itself.

    Example:
        >>> import tempfile, jaxtune
        >>> from jaxtune.task import Task
        >>> space = jaxtune.Space(learning_rate=jaxtune.LogUniform(1e-2, 1.0))
        >>> sweep = Sweep(
        ...     space,
        ...     Task(dataset="synthetic", epochs=1),
        ...     n_trials=4,
        ...     store=tempfile.mkdtemp(),
        ...     quiet=True,
        ... )
        >>> results = sweep.run()
        >>> len(results.to_records())
        4
    """

    def __init__(
        self,
        space: Space | Mapping[str, Any],
        task: SweepTask | TrainFn | None = None,
        n_trials: int = 64,
        *,
        sampler: str = "random",
        seed: int = 0,
        store: str = "runs/sweep",
        chunk_size: int | str | None = "auto",
        objective: str | None = None,
        maximize: bool | None = None,
        quiet: bool = False,
        scheduler: Any = None,
    ) -> None:
        self.space = space if isinstance(space, Space) else Space.from_dict(space)
        if not isinstance(n_trials, int) or isinstance(n_trials, bool) or n_trials < 1:
            raise ValueError(f"n_trials must be an integer >= 1, got {n_trials!r}")
        if sampler not in SAMPLERS:
            raise ValueError(f"sampler must be one of {list(SAMPLERS)}, got {sampler!r}")
        if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed < 2**31:
            raise ValueError(f"seed must be an integer in [0, 2**31), got {seed!r}")
        if not isinstance(store, str | os.PathLike) or not str(store):
            raise ValueError(f"store must be a folder path, got {store!r}")
        parallel.check_chunk_size(chunk_size)
        if maximize is not None and not isinstance(maximize, bool):
            raise ValueError(f"maximize must be True, False or None, got {maximize!r}")
        self.sampler, self.seed, self.path = sampler, seed, os.fspath(store)
        self.chunk_size = chunk_size
        self.quiet = quiet
        self.task = as_task(task)
        self.task.prepare(self.space, self.seed)
        self.objective = objective or self.task.objective
        if not isinstance(self.objective, str):
            raise ValueError(f"objective must be a string, got {self.objective!r}")
        if maximize is None:  # the task knows the direction of its own objective only
            maximize = self.task.maximize if self.objective == self.task.objective else False
        self.maximize = maximize
        self.scheduler = scheduler_from_dict(scheduler)
        if self.scheduler is not None:
            if "epochs" in self.space:
                raise ValueError(
                    "scheduler: the space has an 'epochs' dimension; a scheduler decides "
                    "how long each trial trains, so leave epochs out of the space"
                )
            n_trials = self.scheduler.n_trials(n_trials)
        self.n_trials = n_trials
        if sampler == "grid":
            self.n_trials = len(
                next(iter(self.space.grid(grid_points(self.space, n_trials)).values()))
            )

    # ----------------------------------------------------------------- metadata

    def _meta(self) -> dict[str, Any]:
        return {
            "space": self.space.to_dict(),
            "task": self.task.identity(),
            "seed": self.seed,
            "sampler": self.sampler,
            "n_trials": self.n_trials,
            "objective": self.objective,
            "maximize": self.maximize,
            "scheduler": None if self.scheduler is None else self.scheduler.to_dict(),
            # Not part of the sweep's identity, but a resumed run that batches trials the
            # same way reproduces the uninterrupted one exactly (lanes are independent).
            "chunk_size": self.chunk_size,
        }

    def _check_or_write_meta(self, store: Store) -> None:
        meta, mine = store.meta(), self._meta()
        if not meta:
            from jaxtune import __version__

            store.set_meta(
                **mine,
                versions={"jaxtune": __version__, "jax": jax.__version__},
                devices=[str(d) for d in jax.devices()],
                created=time.time(),
            )
            store.add_round(
                0,
                space=mine["space"],
                n_trials=self.n_trials,
                sampler=self.sampler,
                seed=self.seed,
            )
            return
        for key in ("space", "task", "seed", "sampler", "n_trials", "scheduler"):
            if meta.get(key) != mine[key]:
                raise SweepMismatchError(
                    f"store {str(store.path)!r} holds another sweep: its {key} is "
                    f"{meta.get(key)!r}, this sweep's is {mine[key]!r}"
                )

    # ----------------------------------------------------------------- sampling

    def samples(self, round_space: Space, n: int, round_: int) -> dict[str, jax.Array]:
        """The samples of one round: a pure function of the seed and the round."""
        if self.sampler == "random":
            key = jax.random.fold_in(jax.random.key(self.seed), round_)
            return round_space.random(key, n)
        if self.sampler == "quasi_random":
            return round_space.quasi_random(n, seed=self.seed * 1000 + round_)
        grid = round_space.grid(grid_points(round_space, n))
        return {k: v[:n] for k, v in grid.items()}

    # ----------------------------------------------------------------- running

    def run(self) -> Any:
        """Run every round's unfinished trials; return :class:`jaxtune.results.Results`."""
        from jaxtune.results import Results

        with self._opened() as store:
            return Results.from_store(store)

    def zoom(self, top_k: int = 10, n_trials: int | None = None, margin: float = 0.1) -> Any:
        """Run a coarse-to-fine round around the ``top_k`` best trials of the last round.

        The new round's space is ``space.zoom(best points, margin)`` of the last round's
        space (see :meth:`jaxtune.Space.zoom`); it is stored, so a resumed sweep redoes
        exactly this round.

        Returns:
            :class:`jaxtune.results.Results` of the whole sweep.
        """
        from jaxtune.results import Results

        if not isinstance(top_k, int) or top_k < 1:
            raise ValueError(f"top_k must be an integer >= 1, got {top_k!r}")
        with self._opened() as store:
            last = store.rounds()[-1]
            last_space = Space.from_dict(last["space"])
            best = Results.from_store(store).best(top_k, round_=last["round"])
            if not best:
                raise ValueError("zoom: the last round has no finished, non-diverged trial")
            points = last_space.encode([{k: r.hparams[k] for k in last_space.names} for r in best])
            new_space = last_space.zoom(points, margin=margin)
            n = n_trials or last["n_trials"]
            store.add_round(
                last["round"] + 1,
                space=new_space.to_dict(),
                n_trials=n,
                sampler=self.sampler,
                seed=self.seed,
            )
            self._run_round(store, store.rounds()[-1])
            return Results.from_store(store)

    @contextlib.contextmanager
    def _opened(self) -> Iterator[Store]:
        """The store, locked, checked against this sweep, with every stored round run."""
        with Store.open(self.path) as store:
            self._check_or_write_meta(store)
            for info in store.rounds():
                self._run_round(store, info)
            yield store

    def _run_round(self, store: Store, info: Mapping[str, Any]) -> None:
        space = Space.from_dict(info["space"])
        n, first, round_ = info["n_trials"], info["first_trial"], info["round"]
        samples = self.samples(space, n, round_)
        decoded = space.decode(samples)
        done = store.finished_trials(round_)
        todo = [i for i in range(n) if first + i not in done]
        if not todo:
            return
        base = jax.random.key(self.seed)
        ids = np.arange(first, first + n)
        keys = jax.vmap(lambda i: jax.random.fold_in(base, i))(jnp.asarray(ids))
        if self.scheduler is not None:
            self._run_rungs(store, space, samples, decoded, keys, info)
            return
        groups: dict[Group, list[int]] = {}
        for i in todo:
            groups.setdefault(self.task.group_of(space, decoded[i]), []).append(i)
        writer = _ChunkWriter(store, self.objective, self.maximize, len(todo), self.quiet)
        writer.bar_desc(f"round {round_}")
        try:
            for group, idx in groups.items():
                label = ",".join(f"{k}={v}" for k, v in group)
                fn = self.task.trainer(space, group)
                static = dict(group)
                hp = {k: np.asarray(samples[k])[idx] for k in space.names if k not in static}
                metric = getattr(fn, "metric_name", "metric")
                maximize = bool(getattr(fn, "maximize", False))
                writer.start()

                def on_chunk(
                    done, total, chunk, idx=idx, label=label, metric=metric, maximize=maximize
                ):
                    trials = idx[chunk.start : chunk.stop]
                    writer.write(
                        chunk.outputs,
                        ids=[first + i for i in trials],
                        hparams=[decoded[i] for i in trials],
                        round_=round_,
                        group=label,
                        metric=metric,
                        maximize=maximize,
                    )

                parallel.run(
                    fn, hp, keys[np.asarray(idx)], chunk_size=self.chunk_size, on_chunk=on_chunk
                )
        finally:
            writer.close()

    def _run_rungs(self, store, space, samples, decoded, keys, info) -> None:
        group = self.task.group_of(space, decoded[0])
        top = getattr(self.task.trainer(space, group), "max_epochs", 1)
        plan = self.scheduler.with_max_epochs(top).brackets(info["n_trials"])
        writer = _ChunkWriter(store, self.objective, self.maximize, info["n_trials"], self.quiet)
        writer.bar_desc(f"round {info['round']}, rungs")
        try:
            RungRound(
                task=self.task,
                space=space,
                samples=samples,
                decoded=decoded,
                keys=keys,
                first=info["first_trial"],
                round_=info["round"],
                brackets=plan,
                folder=self.path,
                chunk_size=self.chunk_size,
                write=writer.write_records,
                done=store.finished_trials(info["round"]),
                objective=self.objective,
                maximize=self.maximize,
            ).run()
        finally:
            writer.close()


class _ChunkWriter:
    """Persists each finished chunk at once and keeps the progress bar up to date."""

    def __init__(self, store: Store, objective: str, maximize: bool, total: int, quiet: bool):
        self.store, self.objective, self.maximize = store, objective, maximize
        self.best: float | None = None
        self.bar = None if quiet or not sys.stderr.isatty() else _progress_bar(total)
        self.started = time.perf_counter()

    def bar_desc(self, text: str) -> None:
        if self.bar is not None:
            self.bar.set_description(text)

    def start(self) -> None:
        """Start timing a new group (its first chunk includes compilation)."""
        self.started = time.perf_counter()

    def write(self, outputs: Any, *, ids: list[int], **kw: Any) -> None:
        now = time.perf_counter()
        wall, self.started = (now - self.started) / max(len(ids), 1), now
        self.write_records(records_from_outputs(outputs, ids=ids, wall=wall, **kw))

    def write_records(self, records: list[Any]) -> None:
        """Commit finished trials and show the best so far."""
        self.store.write_trials(records)
        for r in records:
            v = r.final.get(self.objective)
            better = self.best is None or (v is not None and (v > self.best) == self.maximize)
            if r.status == "ok" and v is not None and better:
                self.best = v
        if self.bar is not None:
            self.bar.set_postfix_str(f"best {self.objective}={self.best}")
            self.bar.update(len(records))

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _progress_bar(total: int) -> Any:
    try:
        from tqdm.auto import tqdm
    except ImportError:  # progress is a nicety: without tqdm, run quietly
        return None
    return tqdm(total=total, unit="trial", dynamic_ncols=True)
