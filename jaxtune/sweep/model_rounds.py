"""A sweep driven by a model-based sampler (Optuna's TPE, CMA-ES, GP): rounds of batches.

``Sweep(..., sampler="tpe", batch=64)`` runs ``n_trials`` as rounds of ``batch``
proposals: each round asks Optuna's sampler for ``batch`` trials
(:class:`~jaxtune.sweep.optuna_rounds.OptunaRounds`: the space mapped to Optuna
distributions on the same scales, a one-minus-log dimension as ``one_minus_<name>`` on a
log scale over ``1 - x``), groups them by static values, evaluates each group in batched
programs, and tells each chunk's values as soon as the chunk is in the store (a diverged
trial, or one without a finite objective, as FAIL).

The study lives in the sweep's folder (:data:`STUDY_FILE`, Optuna's journal format). A
jaxtune trial's id is its Optuna trial number. The order of writes makes a killed sweep
resume without losing or repeating a trial: a trial is in the study (asked) before it
trains, in the store before it is told. On reopening, :func:`open_study` tells the study
what the store holds and the study has not heard yet (killed between the two writes); the
trials asked and never stored are handed out again first, with their own values, in the
next round. The sampler's own time per round (asking and telling) is logged next to the
evaluation time and kept in the store's metadata (``meta["sampler_times"]``).

Not yet: a scheduler (successive halving, Hyperband) with a model-based sampler, and
``zoom`` (a model-based sampler refines by itself: raise ``n_trials`` instead).
"""

from __future__ import annotations

import dataclasses
import importlib.util
import logging
import os
import time
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxtune import parallel
from jaxtune.space import Space
from jaxtune.store import Store
from jaxtune.sweep.progress import ChunkWriter
from jaxtune.sweep.task import SweepTask

__all__ = [
    "MODEL_SAMPLERS",
    "STUDY_FILE",
    "MissingSamplerError",
    "ModelRounds",
    "check_sampler",
    "is_model_based",
    "sampler_name",
]

log = logging.getLogger("jaxtune.sweep")

#: Model-based samplers by name (any ``optuna.samplers.BaseSampler`` instance works too).
MODEL_SAMPLERS = ("tpe", "cmaes", "gp")

#: The study's journal file, in the sweep's folder.
STUDY_FILE = "optuna.jsonl"


class MissingSamplerError(ImportError, ValueError):
    """A sampler's package is not installed (a ValueError too: the command exits 2)."""


def _is_optuna_sampler(sampler: Any) -> bool:
    if isinstance(sampler, str) or importlib.util.find_spec("optuna") is None:
        return False
    if not any(c.__module__.startswith("optuna.") for c in type(sampler).__mro__):
        return False  # a plain object: no need to import optuna to know
    from optuna.samplers import BaseSampler

    return isinstance(sampler, BaseSampler)


def is_model_based(sampler: Any) -> bool:
    """Whether ``sampler`` is ``"tpe"``, ``"cmaes"``, ``"gp"`` or an Optuna sampler.

    Examples:
        >>> is_model_based("tpe"), is_model_based("random")
        (True, False)
    """
    return (isinstance(sampler, str) and sampler in MODEL_SAMPLERS) or _is_optuna_sampler(sampler)


def sampler_name(sampler: Any) -> str:
    """The name a store keeps: the string, or ``optuna:<class name>`` of an instance.

    Examples:
        >>> sampler_name("tpe")
        'tpe'
    """
    return sampler if isinstance(sampler, str) else f"optuna:{type(sampler).__name__}"


def check_sampler(sampler: Any, batch: Any, scheduler: Any, allowed: tuple[str, ...]) -> None:
    """Refuse a bad sampler or batch, or a combination that waits, in one line.

    Args:
        sampler: the ``sampler`` argument of a sweep.
        batch: proposals per round of a model-based sampler.
        scheduler: the sweep's scheduler (None for none).
        allowed: the other sampler names (random, grid, quasi_random).

    Raises:
        ValueError: naming ``sampler`` (with the allowed values) or ``batch``.
        MissingSamplerError: Optuna (or cmaes, or PyTorch for "gp") is not installed.

    Examples:
        >>> check_sampler("tpe", 64, None, ("random",))
        >>> check_sampler("bayes", 64, None, ("random",))
        Traceback (most recent call last):
        ...
        ValueError: sampler must be one of ['random', 'tpe', ...] or an optuna sampler, got 'bayes'
    """
    model = is_model_based(sampler)
    if not model and not (isinstance(sampler, str) and sampler in allowed):
        raise ValueError(
            f"sampler must be one of {[*allowed, *MODEL_SAMPLERS]} or an optuna sampler, "
            f"got {sampler!r}"
        )
    if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
        raise ValueError(f"batch must be an integer >= 1, got {batch!r}")
    if not model:
        return
    needs = {"tpe": "optuna", "cmaes": "cmaes", "gp": "torch"}.get(sampler, "optuna")
    for module in dict.fromkeys(("optuna", needs)):
        if importlib.util.find_spec(module) is None:
            raise MissingSamplerError(
                f"sampler={sampler_name(sampler)!r} needs {module}: pip install "
                + ('"jaxtune[samplers]"' if module != "torch" else "torch")
            )


@dataclasses.dataclass
class ModelRounds:
    """The study of a sweep with a model-based sampler, and the rounds it runs.

    Attributes:
        task: the sweep's task.
        space: the sweep's space.
        sampler: a name of :data:`MODEL_SAMPLERS` or an Optuna sampler.
        batch: proposals per round.
        seed: the sweep's seed (of the sampler and of every trial's key).
        objective: the final metric told to the study.
        maximize: its direction.
        quiet: no progress bar.
        chunk_for: ``(store, round, label, fn, hparams, keys) -> chunk size`` of a group.
        callbacks: told each committed trial (:mod:`jaxtune.sweep.callbacks`).
        deadline: set by :meth:`jaxtune.Sweep.run` from its ``timeout``.
        rounds: the :class:`~jaxtune.sweep.optuna_rounds.OptunaRounds` of the study, once
            :meth:`open` ran.

    Examples:
        >>> import tempfile, jaxtune
        >>> space = jaxtune.Space(x=jaxtune.Uniform(-2.0, 2.0))
        >>> sweep = jaxtune.Sweep(
        ...     space,
        ...     lambda hp, key: (hp["x"] - 1) ** 2,
        ...     n_trials=24,
        ...     sampler="tpe",
        ...     batch=8,
        ...     store=tempfile.mkdtemp(),
        ...     quiet=True,
        ... )
        >>> results = sweep.run()
        >>> len(results.trials), len(results.meta["sampler_times"]), results.best_value < 0.1
        (24, 3, True)
    """

    task: SweepTask
    space: Space
    sampler: Any
    batch: int
    seed: int
    objective: str
    maximize: bool
    quiet: bool
    chunk_for: Callable[..., Any]
    rounds: Any = None
    callbacks: tuple[Callable[[Any], Any], ...] = ()
    deadline: float | None = None  # the sweep's timeout (time.monotonic()), while it runs

    def open(self, store: Store) -> None:
        """Open the study in the store's folder and bring it level with the store.

        Trials in the store the study has not been told are told now; a study that holds
        told trials the store lacks (or the reverse) is another sweep's.

        Args:
            store: the sweep's store, open and locked.

        Raises:
            ValueError: the study disagrees with the store (one line, with what to do).
        """
        from jaxtune.sweep.optuna_rounds import OptunaRounds

        self.rounds = OptunaRounds(
            self.space,
            self.sampler,
            seed=self.seed,
            maximize=self.maximize,
            storage_path=os.path.join(store.path, STUDY_FILE),
        )
        stored = {r.trial: r for r in store.trials()}
        trials = self.rounds.study.get_trials(deepcopy=False)
        asked = {t.number for t in trials}
        where = f"{os.path.join(store.path, STUDY_FILE)!r}"
        lost = sorted(set(stored) - asked)
        if lost:
            raise ValueError(
                f"{where} lacks trial {lost[0]} of the store: the study file was replaced "
                "or removed; use another store or Sweep(..., overwrite=True)"
            )
        finished = [t for t in trials if t.state.is_finished()]
        extra = [t.number for t in finished if t.number not in stored]
        extra += [t.number for t in finished if t.number in stored and not self._same(t, stored)]
        if extra:
            raise ValueError(
                f"{where} holds trial {extra[0]} finished unlike the store's: it belongs to "
                "another sweep; use another store or Sweep(..., overwrite=True)"
            )
        late = [t.number for t in trials if not t.state.is_finished() and t.number in stored]
        if late:  # killed after the store's write, before the study's tell
            self._tell([stored[n] for n in late])

    def _same(self, trial: Any, stored: dict[int, Any]) -> bool:
        """Whether a finished trial of the study was told what the store holds."""
        record = stored[trial.number]
        value = record.final.get(self.objective)
        if record.status != "ok" or value is None:
            return trial.state.name == "FAIL"
        return trial.state.name == "COMPLETE" and trial.value == value

    def _tell(self, records: list[Any]) -> None:
        values = [r.final.get(self.objective) for r in records]
        failed = [r.status != "ok" or v is None for r, v in zip(records, values, strict=True)]
        values = [np.nan if v is None else v for v in values]
        self.rounds.tell([r.trial for r in records], values, failed_mask=failed)

    def run(self, store: Store, info: dict[str, Any]) -> None:
        """Run the unfinished trials of a stored round, ``batch`` proposals at a time.

        Args:
            store: the sweep's store, open and locked (after :meth:`open`).
            info: the round, as :meth:`jaxtune.store.Store.rounds` lists it.
        """
        first, n, round_ = info["first_trial"], info["n_trials"], info["round"]
        todo = n - len(store.finished_trials(round_))
        if todo <= 0:
            return
        writer = ChunkWriter.of(self, store, todo)
        times: list[dict[str, Any]] = []
        asked_before = len(store.meta().get("sampler_times", []))  # rounds of earlier runs
        base = jax.random.key(self.seed)  # every key of the round at once, as Sweep does
        keys = jax.vmap(lambda i: jax.random.fold_in(base, i))(jnp.arange(first, first + n))
        # A batch's keys are picked on the host: a gather on the device would compile
        # once per batch shape (0.1-0.2 s on a CPU), wrapping the rows does not.
        key_rows, impl = np.asarray(jax.random.key_data(keys)), jax.random.key_impl(keys)
        try:
            while todo > 0:
                k = min(self.batch, todo)
                told = sum(self.rounds.tell_seconds)
                numbers, samples = self.rounds.ask(k)
                outside = numbers[(numbers < first) | (numbers >= first + n)]
                if outside.size:
                    raise RuntimeError(
                        f"the study proposed trial {outside[0]} outside round {round_} "
                        f"(trials {first}..{first + n - 1}): study and store disagree"
                    )
                ask_s = self.rounds.ask_seconds[-1]
                writer.bar_desc(f"round {round_}, {sampler_name(self.sampler)} {ask_s:.2f}s")
                started = time.perf_counter()
                rows = key_rows[numbers - first]
                self._evaluate(writer, numbers, samples, rows, impl, round_)
                eval_s = time.perf_counter() - started
                tell_s = sum(self.rounds.tell_seconds) - told
                number = asked_before + len(times)  # this ask/tell round's, 0, 1, 2...
                times.append(self._report(number, round_, k, ask_s, tell_s, eval_s))
                todo -= k
        finally:
            writer.close()
            if times:  # diagnostics: one write per round, lost if the process is killed
                store.set_meta(sampler_times=[*store.meta().get("sampler_times", []), *times])

    def _evaluate(self, writer: ChunkWriter, numbers, samples, rows, impl, round_: int) -> None:
        decoded = self.space.decode(samples)
        groups: dict[Any, list[int]] = {}
        for i in range(len(numbers)):
            groups.setdefault(self.task.group_of(self.space, decoded[i]), []).append(i)
        for group, idx in groups.items():
            label = ",".join(f"{k}={v}" for k, v in group)
            fn = self.task.trainer(self.space, group)
            static = dict(group)
            hp = {k: np.asarray(samples[k])[idx] for k in self.space.names if k not in static}
            metric = getattr(fn, "metric_name", "metric")
            maximize = bool(getattr(fn, "maximize", False))
            writer.start(label)

            def on_chunk(done, total, chunk, idx=idx, label=label, metric=metric, fnmax=maximize):
                lanes = idx[chunk.start : chunk.stop]
                records = writer.write(
                    chunk.outputs,
                    ids=[int(numbers[i]) for i in lanes],
                    hparams=[decoded[i] for i in lanes],
                    round_=round_,
                    group=label,
                    metric=metric,
                    maximize=fnmax,
                    objective=self.objective,
                )
                self._tell(records)  # in the store first, then told

            group_keys = jax.random.wrap_key_data(rows[np.asarray(idx)], impl=impl)
            store = writer.store
            chunk = self.chunk_for(store, round_, label, fn, hp, group_keys)
            parallel.run(fn, hp, group_keys, chunk_size=chunk, on_chunk=on_chunk)

    def _report(
        self, number: int, round_: int, k: int, ask: float, tell: float, ev: float
    ) -> dict:
        """One ``sampler_times`` entry: ``round`` counts the ask/tell rounds of the sweep
        (0, 1, 2...); ``store_round`` is the store's round they belong to."""
        log.info(
            "jaxtune: round %d: %s proposed %d trials in %.3f s and was told in %.3f s; "
            "evaluating them took %.3f s",
            number,
            sampler_name(self.sampler),
            k,
            ask,
            tell,
            ev,
        )
        return {
            "round": number,
            "store_round": round_,
            "trials": k,
            "ask_s": ask,
            "tell_s": tell,
            "eval_s": ev,
        }
