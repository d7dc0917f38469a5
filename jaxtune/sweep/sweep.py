"""Sweeps: sample a space, group trials by static hyperparameters, run, persist, resume.

:class:`Sweep` is the main job a user runs. It samples the space (random, grid or
quasi-random), groups the trials by their *static* hyperparameters (mini-batch size and
optimizer family: one compiled program each), runs every group through
:func:`jaxtune.parallel.run` and writes each finished chunk to the store
(:class:`jaxtune.store.Store`) at once. Opening an existing store resumes: the same seed
regenerates the same samples, finished trials are skipped, the rest run. Each trial's PRNG
key is ``fold_in(key(seed), trial_id)``, so its numbers do not depend on which other trials
share its chunk.

A store keeps what the sweep trains (:mod:`jaxtune.sweep.fingerprint`): reopening it with a
changed function or dataset is refused, a larger ``n_trials`` adds trials after the stored
ones (:mod:`jaxtune.sweep.stored`), and ``overwrite=True`` starts it afresh. Before
anything trains or is written, a user's function is traced once and its outputs checked
(:mod:`jaxtune.sweep.outputs`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxtune import parallel
from jaxtune.backends import GroupJob, as_backend
from jaxtune.limits import MAX_TRIALS, check_count, check_seconds
from jaxtune.space import Space
from jaxtune.store import Store
from jaxtune.strategies import is_lane_strategy
from jaxtune.sweep import fingerprint, sampling, stored
from jaxtune.sweep.checks import check_arguments, check_scheduled, objective_of
from jaxtune.sweep.function import as_task
from jaxtune.sweep.lane_round import run_lanes
from jaxtune.sweep.model_rounds import ModelRounds, check_sampler, is_model_based, sampler_name
from jaxtune.sweep.progress import ChunkWriter, OutOfTimeError, check_callbacks, timeout_line
from jaxtune.sweep.sampling import SAMPLERS, grid_points
from jaxtune.sweep.schedulers import scheduler_from_dict, scheduler_to_dict
from jaxtune.sweep.stored import SweepMismatchError
from jaxtune.sweep.task import Group, SweepTask

log = logging.getLogger("jaxtune.sweep")

__all__ = ["SAMPLERS", "Sweep", "SweepMismatchError", "grid_points"]

TrainFn = Callable[[Mapping[str, jax.Array], jax.Array], Any]


class Sweep:
    """A sweep of ``n_trials`` samples of ``space`` on a task, persisted in ``store``.

    Args:
        space: the search space (a :class:`jaxtune.Space` or a plain dict).
        task: the built-in :class:`jaxtune.Task` (default: digits, an MLP), a trainer
            from :func:`jaxtune.make_train`, a user's pure ``train(hparams, key)``
            returning a :class:`jaxtune.History` or a dict of per-trial scalars, or any
            :class:`jaxtune.sweep.SweepTask`.
        n_trials: trials of the first round. For ``"grid"``, the budget: the grid uses
            the most points per dimension that fit in it. Raising it on an existing
            store adds trials: the stored ones stay as they are, the new ones are the
            samples a fresh sweep of that size would have after them (not for a grid).
        sampler: ``"random"``, ``"grid"`` or ``"quasi_random"``; or model-based, in
            rounds of ``batch`` proposals: ``"tpe"``, ``"cmaes"``, ``"gp"`` (Optuna's) or
            any ``optuna.samplers.BaseSampler`` (:mod:`jaxtune.sweep.model_rounds`; the
            study lives in the store's folder, ``optuna.jsonl``).
        batch: proposals per round of a model-based sampler.
        seed: seed of sampling and of every trial's key.
        store: the sweep's folder, e.g. ``"runs/digits"``.
        chunk_size: passed to :func:`jaxtune.parallel.run`.
        exact: every trial bit-identical to ``jax.jit(train)(hparams_i, key_i)`` run
            alone: one trial per compiled program (``chunk_size=1``), no batching.
        overwrite: empty the store's database before the first run (other files in the
            folder stay); otherwise a store of another sweep is refused.
        objective: the final metric that ranks trials. Default: the task's own
            (``val_accuracy`` for classification, a trainer's ``val_<metric_name>``,
            ``val_loss`` for a function).
        maximize: whether higher is better. Default: the task's direction for its own
            objective, False (lower is better) for any other. Never guessed from a name.
        quiet: no progress bar. It is also off when stderr is neither a terminal nor a
            Jupyter kernel. While a chunk runs, the bar shows its elapsed time against the
            time earlier chunks took; a chunk far slower than that logs one warning.
        scheduler: early stopping on the lane runtime (:mod:`jaxtune.lanes`): a
            :class:`jaxtune.SuccessiveHalving`, :class:`jaxtune.Hyperband` (it sets the
            number of trials itself), :class:`jaxtune.ASHA`, a user's strategy
            (:mod:`jaxtune.strategies`), or their dict form (``{"kind": "asha"}``); any
            sampler proposes for them; :class:`jaxtune.PBT` trains the ``n_trials`` as
            one population (``{"kind": "pbt"}``).
        backend: where chunks run: ``"local"`` (default, this process), ``"ray"``, a
            :class:`jaxtune.RayBackend`, or a dict (``{"kind": "ray", "address": ...}``).
            The store stays in this process. Not yet with a ``scheduler``.
        callbacks: ``callback(record)`` callables called once per trial as it is committed,
            e.g. :class:`jaxtune.loggers.TensorBoardLogger` (:mod:`jaxtune.sweep.callbacks`).
        timeout: seconds :meth:`run` may take (Optuna's ``timeout``, Ray's
            ``time_budget_s``): then no new chunk or epoch starts, what ran is stored (a
            lane round's lanes in its snapshot), ``timed_out`` is set and the results so
            far are returned; running again (``jaxtune resume``) goes on exactly.
        cache: keep compiled programs and ``chunk_size="auto"`` decisions on disk, as the
            command line does (:mod:`jaxtune.parallel.default_caches`); None: on unless
            ``JAXTUNE_NO_CACHE=1``.

    Examples:
        >>> import tempfile, jaxtune
        >>> space, seen = jaxtune.Space(learning_rate=jaxtune.LogUniform(1e-2, 1.0)), []
        >>> task = jaxtune.Task(dataset="synthetic", epochs=1)
        >>> sweep = Sweep(
        ...     space, task, 4, store=tempfile.mkdtemp(), quiet=True, callbacks=[seen.append]
        ... )
        >>> results = sweep.run()
        >>> len(results.to_records()), sorted(record.trial for record in seen)
        (4, [0, 1, 2, 3])
    """

    def __init__(
        self,
        space: Space | Mapping[str, Any],
        task: SweepTask | TrainFn | None = None,
        n_trials: int = 64,
        *,
        sampler: Any = "random",
        batch: int = 64,
        seed: int = 0,
        store: str = "runs/sweep",
        chunk_size: int | str | None = "auto",
        objective: str | None = None,
        maximize: bool | None = None,
        quiet: bool = False,
        scheduler: Any = None,
        exact: bool = False,
        overwrite: bool = False,
        backend: Any = None,
        callbacks: list[Callable[[Any], Any]] | None = None,
        timeout: float | None = None,
        cache: bool | None = None,
    ) -> None:
        self.space = space if isinstance(space, Space) else Space.from_dict(space)
        n_trials = check_count("n_trials", n_trials, MAX_TRIALS)  # a NumPy integer too
        self.scheduler = scheduler_from_dict(scheduler)
        check_sampler(sampler, batch, self.scheduler, SAMPLERS)
        lanes = is_lane_strategy(self.scheduler)
        # A lane strategy asks a model-based sampler as lanes free up (no rounds).
        self.model_sampler = sampler if lanes and is_model_based(sampler) else None
        #: Seconds between snapshots of a lane strategy's round (0: at every stop).
        self.snapshot_seconds = 5.0
        check_arguments(
            seed=seed,
            store=store,
            chunk_size=chunk_size,
            maximize=maximize,
            exact=exact,
            overwrite=overwrite,
            cache=cache,
        )
        #: Whether run() turns on the caches on disk (:mod:`jaxtune.parallel.default_caches`).
        self.cache = not parallel.caches_off() if cache is None else cache
        self.sampler, self.seed, self.path = sampler_name(sampler), seed, os.fspath(store)
        self.batch, self._model = batch, None
        self.exact, self.overwrite = exact, overwrite
        self.chunk_size = 1 if exact else chunk_size
        self.quiet, self.callbacks = quiet, check_callbacks(callbacks)
        self.timeout, self.deadline = check_seconds("timeout", timeout), None
        self.timed_out, self._began = False, False  # whether run() stopped at its timeout
        self.task = as_task(task)
        # Before any file: the task checks the space and (a function) what it returns.
        self.task.prepare(self.space, self.seed)
        self.objective, self.maximize = objective_of(self.task, objective, maximize)
        self.backend = as_backend(backend)
        if self.backend is not None and is_model_based(sampler):
            raise ValueError("backend: a model-based sampler's rounds run in this process "
                             "only for now; leave out sampler or backend")  # fmt: skip
        if self.scheduler is not None:
            check_scheduled(self.space, self.backend, self.scheduler, self.task)
            n_trials = getattr(self.scheduler, "n_trials", lambda n: n)(n_trials)
        self.fingerprint = fingerprint.fingerprint(self.task)
        self.n_trials = n_trials
        if is_model_based(sampler) and not lanes:  # its study opens with the store
            self._model = ModelRounds(
                task=self.task,
                space=self.space,
                sampler=sampler,
                batch=batch,
                seed=seed,
                objective=self.objective,
                maximize=self.maximize,
                quiet=quiet,
                chunk_for=self._chunk_for,
                callbacks=self.callbacks,
            )
        if sampler == "grid":
            self.n_trials = len(
                next(iter(self.space.grid(grid_points(self.space, n_trials)).values()))
            )

    # ----------------------------------------------------------------- metadata

    def _meta(self) -> dict[str, Any]:
        return {
            "space": self.space.to_dict(),
            "task": self.task.identity(),
            "fingerprint": self.fingerprint,
            "seed": self.seed,
            "sampler": self.sampler,
            "n_trials": self.n_trials,
            "objective": self.objective,
            "maximize": self.maximize,
            "scheduler": None if self.scheduler is None else scheduler_to_dict(self.scheduler),
            # Not part of the sweep's identity, but a resumed run that batches trials the
            # same way reproduces the uninterrupted one exactly (lanes are independent).
            "chunk_size": self.chunk_size,
            "exact": self.exact,
            **({"batch": self.batch} if self._model is not None else {}),
            "backend": None if self.backend is None else self.backend.to_dict(),
        }

    # ----------------------------------------------------------------- sampling

    def samples(
        self, round_space: Space, n: int, round_: int, *, offset: int = 0, version: int = 2
    ) -> dict[str, jax.Array]:
        """Samples ``offset ..`` of round ``round_``'s sequence (:mod:`~.sampling`)."""
        # With a model-based proposer these only give the round its shapes and dtypes.
        return sampling.draw(
            round_space,
            "random" if self.model_sampler is not None else self.sampler,
            self.seed,
            n,
            sequence=round_,
            offset=offset,
            version=version,
        )

    # ----------------------------------------------------------------- running

    def run(self) -> Any:
        """Run every round's unfinished trials; return :class:`jaxtune.results.Results`."""
        from jaxtune.results import Results

        self._caches()
        self.timed_out, self._began = False, False
        self.deadline = None if self.timeout is None else time.monotonic() + self.timeout
        if self._model is not None:
            self._model.deadline = self.deadline
        try:
            with self._opened() as store:
                return Results.from_store(store)
        except OutOfTimeError:
            self.timed_out = True
        finally:
            self.deadline = None
        with Store.open(self.path) as store:  # what was stored before the time ran out
            if not self.quiet:
                print(timeout_line(store, self.timeout, self.path), file=sys.stderr)
            return Results.from_store(store)

    def zoom(self, top_k: int = 10, n_trials: int | None = None, margin: float = 0.1) -> Any:
        """Run a coarse-to-fine round around the ``top_k`` best trials of the last round.

        The last round includes the rounds that grew it (a raised ``n_trials``). The
        new round's space is ``space.zoom(best points, margin)`` of the last round's
        space (see :meth:`jaxtune.Space.zoom`); it is stored, so a resumed sweep redoes
        exactly this round.

        Returns:
            :class:`jaxtune.results.Results` of the whole sweep.
        """
        from jaxtune.results import Results

        self._caches()
        top_k = check_count("top_k", top_k, MAX_TRIALS)
        n_trials = n_trials if n_trials is None else check_count("n_trials", n_trials, MAX_TRIALS)
        if self._model is not None:
            raise ValueError(
                f"zoom: sampler={self.sampler!r} refines by itself; raise n_trials instead"
            )
        with self._opened() as store:
            results = Results.from_store(store)
            stored.add_zoom_round(
                store,
                results,
                self.sampler,
                self.seed,
                top_k=top_k,
                n_trials=n_trials,
                margin=margin,
            )
            self._run_round(store, store.rounds()[-1])
            return Results.from_store(store)

    def _caches(self) -> None:
        problem = parallel.enable_default_caches() if self.cache else None
        if problem is not None:
            log.warning("jaxtune: %s", problem)

    @contextlib.contextmanager
    def _opened(self) -> Iterator[Store]:
        """The store, locked, checked against this sweep, with every stored round run."""
        if self.overwrite:
            stored.wipe(self.path, extra=("optuna.jsonl",) if self._model else ())
            self.overwrite = False  # once: a second run() resumes what the first wrote
        with Store.open(self.path) as store:
            stored.check_or_write(store, self._meta())
            if self._model is not None:
                self._model.open(store)
            for info in store.rounds():
                self._run_round(store, info)
            yield store

    def _run_round(self, store: Store, info: Mapping[str, Any]) -> None:
        if len(store.finished_trials(info["round"])) < info["n_trials"]:
            if self.deadline is not None and time.monotonic() >= self.deadline and self._began:
                raise OutOfTimeError  # no new round starts after the timeout
            self._began = True  # a run does at least one chunk or boundary
        if self._model is not None:
            self._model.run(store, info)
            return
        space = Space.from_dict(info["space"])
        n, first, round_ = info["n_trials"], info["first_trial"], info["round"]
        meta = store.meta()
        sequence, offset = stored.sequence_of(meta, round_)
        samples = self.samples(space, n, sequence, offset=offset, version=meta.get("sampling", 1))
        decoded = space.decode(samples)
        done = store.finished_trials(round_)
        todo = [i for i in range(n) if first + i not in done]
        if not todo:
            return
        base = jax.random.key(self.seed)
        ids = np.arange(first, first + n)
        keys = jax.vmap(lambda i: jax.random.fold_in(base, i))(jnp.asarray(ids))
        if self.scheduler is not None:
            top = self.task.trainer(space, self.task.group_of(space, decoded[0]))
            run_lanes(self, store, space, samples, info, getattr(top, "max_epochs", 1))
            return
        groups: dict[Group, list[int]] = {}
        for i in todo:
            groups.setdefault(self.task.group_of(space, decoded[i]), []).append(i)
        writer = ChunkWriter.of(self, store, len(todo))
        writer.bar_desc(f"round {round_}")
        jobs: list[GroupJob] = []  # with a backend: every group's chunks at once
        try:
            for group, idx in groups.items():
                label = ",".join(f"{k}={v}" for k, v in group)
                fn = self.task.trainer(space, group)
                static = dict(group)
                hp = {k: np.asarray(samples[k])[idx] for k in space.names if k not in static}
                metric = getattr(fn, "metric_name", "metric")
                maximize = bool(getattr(fn, "maximize", False))
                writer.start(label)

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
                        objective=self.objective,
                    )

                group_keys = keys[np.asarray(idx)]
                if self.backend is not None:
                    source = (space.to_dict(), group)
                    job = self.backend.job(source, hp, group_keys, None, on_chunk)
                    job.chunk_size = self._chunk_for(store, round_, label, fn, hp, group_keys, job)
                    jobs.append(job)
                    continue
                chunk = self._chunk_for(store, round_, label, fn, hp, group_keys)
                parallel.run(fn, hp, group_keys, chunk_size=chunk, on_chunk=on_chunk)
            if jobs:
                self.backend.run_jobs(self.task, jobs)
        finally:
            writer.close()

    def _chunk_for(self, store: Store, round_: int, label: str, fn, hp, keys, job=None) -> Any:
        """The group's chunk size: with "auto", decided once (see ``stored.chunk_size``)."""
        if self.chunk_size != "auto":
            return self.chunk_size
        if job is None:
            return stored.chunk_size(
                store, round_, label, lambda: parallel.choose_chunk_size(fn, hp, keys)
            )
        # Measured on a worker, where the chunks run.
        return stored.chunk_size(
            store, round_, label, lambda: self.backend.choose_chunk_size(self.task, job)
        )
