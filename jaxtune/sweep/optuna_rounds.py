"""Model-based samplers (Optuna's TPE, CMA-ES, GP) that propose one batch per round.

jaxtune trains a whole batch of trials in one compiled program, so a sampler must
propose many points before it hears any result. :class:`OptunaRounds` wraps an Optuna
study in that rhythm: ``ask(n)`` returns ``n`` trials as a jaxtune sample set (one array
per dimension, encoded like :meth:`jaxtune.Space.random`'s output), the caller trains
them all at once, ``tell`` reports the values. TPE proposes a batch with the constant
liar (every asked, untold trial counts as a bad one, which spreads the batch), CMA-ES
runs one generation per round (its population is the first round's size), the GP
sampler uses its q-batch acquisition over running trials.

A space becomes an Optuna study on the same scales (:mod:`jaxtune.proposers.optuna_space`;
a :class:`~jaxtune.OneMinusLogUniform` is modelled as the log of ``1 - beta``).

Persistence and resuming: with ``storage_path`` the study lives in one file (Optuna's
``JournalStorage`` in Optuna's journal format, every entry written at once and the file
fsynced at the end of each ask: :mod:`jaxtune.sweep.journal`), e.g. in the
sweep's folder. One process at a time may use the file. A killed process loses nothing
the file holds.
The rule on reopening: a trial that was asked but never told is still ``RUNNING`` in the
study; :meth:`OptunaRounds.pending` lists those, and :meth:`OptunaRounds.ask` hands them
out again, oldest first, before it asks Optuna for new ones, so every trial is
evaluated and told exactly once (a round stays full). Within one process a trial is
handed out once. Telling a trial that is already finished changes nothing.

Needs ``pip install "jaxtune[samplers]"`` (Optuna, and ``cmaes`` for CMA-ES); the GP
sampler also needs PyTorch.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from jaxtune.proposers.optuna_space import (
    SAMPLERS,
    distribution,
    distributions,
    make_sampler,
    optuna_module,
    param_value,
    quiet,
)
from jaxtune.space import (
    Fixed,
    Space,
)
from jaxtune.sweep.journal import complete_partial_trials, journal_storage

__all__ = ["SAMPLERS", "OptunaRounds", "distributions"]


def _repair(path: str) -> None:
    """Cut a torn last line (a write cut short by a crash) off a journal file.

    Optuna skips a torn last line when reading, but the next append would glue a new
    entry onto it and leave an unreadable line in the middle. One writer is assumed.
    """
    if not os.path.isfile(path) or os.path.getsize(path) == 0:
        return
    with open(path, "rb+") as f:
        f.seek(-1, os.SEEK_END)
        if f.read(1) == b"\n":
            return
        f.seek(0)
        data = f.read()
        f.truncate(data.rfind(b"\n") + 1)


class OptunaRounds:
    """An Optuna study asked for a batch of trials per round, resumable from a file.

    Args:
        space: the search space (a :class:`jaxtune.Space` or its dict form).
        sampler: ``"tpe"`` (multivariate, constant liar), ``"cmaes"`` (population = the
            first ``ask``'s ``n``, kept in the study), ``"gp"``, ``"random"``, or an
            ``optuna.samplers.BaseSampler``.
        seed: seed of the sampler. A reopened study reseeds it with ``(seed, number of
            trials so far)``, so a resumed run does not replay the first proposals.
        maximize: whether higher values are better.
        storage_path: the study's journal file (e.g. ``runs/x/optuna.jsonl``); None
            keeps it in memory. Reopening a file with another space, sampler name or
            direction is a ``ValueError``.
        study_name: the study's name inside the file.

    Attributes:
        study: the ``optuna.Study``.
        ask_seconds: seconds Optuna spent in each :meth:`ask` (the sampler's own time).
        tell_seconds: seconds of each :meth:`tell`.

    Examples:
        >>> import numpy as np, jaxtune
        >>> space = jaxtune.Space(x=jaxtune.Uniform(-2.0, 2.0), opt=["sgd", "adam"])
        >>> rounds = OptunaRounds(space, "tpe", seed=0)
        >>> for _ in range(3):
        ...     numbers, samples = rounds.ask(16)
        ...     values = np.asarray(samples["x"]) ** 2 + np.asarray(samples["opt"])
        ...     rounds.tell(numbers, values)
        >>> len(rounds.study.trials), sorted(samples), samples["x"].dtype
        (48, ['opt', 'x'], dtype('float32'))
        >>> rounds.best_value < 0.1
        True
    """

    def __init__(
        self,
        space: Space | Mapping[str, Any],
        sampler: Any = "tpe",
        *,
        seed: int = 0,
        maximize: bool = False,
        storage_path: str | None = None,
        study_name: str = "jaxtune",
    ) -> None:
        optuna = self._optuna = optuna_module()
        self._journal: Any = None
        self.space = space if isinstance(space, Space) else Space.from_dict(space)
        if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**31:
            raise ValueError(f"seed must be an integer in [0, 2**31), got {seed!r}")
        if not isinstance(maximize, bool):
            raise ValueError(f"maximize must be True or False, got {maximize!r}")
        self._params = {}  # Optuna parameter name -> (space name, dimension)
        for name, dim in self.space.items():
            pair = distribution(name, dim, optuna)
            if pair is not None:
                self._params[pair[0]] = (name, dim)
        self._dists = distributions(self.space)
        if not self._dists:
            raise ValueError("OptunaRounds: the space has nothing to search (all Fixed)")
        self._sampler_arg, self._seed = sampler, seed
        make_sampler(sampler, seed, 2, optuna)  # a bad name fails before any file exists
        if storage_path is None:
            storage = optuna.storages.InMemoryStorage()
        else:
            _repair(os.fspath(storage_path))
            storage, self._journal = journal_storage(os.fspath(storage_path))
        with quiet(optuna):
            self.study = optuna.create_study(
                storage=storage,
                study_name=study_name,
                direction="maximize" if maximize else "minimize",
                load_if_exists=True,
            )
        identity = {
            "space": json.dumps(self.space.to_dict(), sort_keys=True),
            "sampler": sampler if isinstance(sampler, str) else type(sampler).__name__,
            "maximize": maximize,
        }
        held = self.study.user_attrs
        fresh = not self.study.trials  # e.g. left by a first attempt that failed early
        for key, value in identity.items():
            attr = f"jaxtune_{key}"
            if attr not in held or (fresh and held[attr] != value):
                self.study.set_user_attr(attr, value)
            elif held[attr] != value:
                raise ValueError(
                    f"{storage_path}: the study's {_differs(key, held[attr], value)}: it holds "
                    f"{len(self.study.trials)} trials of another search; delete the file, or "
                    "use another one"
                )
        held = self.study.user_attrs
        self._handed: set[int] = set()
        self.ask_seconds: list[float] = []
        self.tell_seconds: list[float] = []
        self._attach_sampler(held.get("jaxtune_popsize"))
        if self._journal is not None:  # a kill may have cut a trial's creation short
            with quiet(optuna):
                complete_partial_trials(self.study, storage, self._dists)
            self._sync()

    def _attach_sampler(self, popsize: int | None) -> None:
        n = len(self.study.trials)
        seed = int(np.random.SeedSequence([self._seed, n]).generate_state(1)[0] % 2**31)
        self.study.sampler = make_sampler(self._sampler_arg, seed, popsize, self._optuna)
        self._popsize = popsize

    # ----------------------------------------------------------------- ask / tell

    def _samples(self, trials: Sequence[Any]) -> dict[str, Any]:
        rows = []
        for t in trials:
            row = {name: dim.value for name, dim in self.space.items() if isinstance(dim, Fixed)}
            for param, (name, dim) in self._params.items():
                row[name] = param_value(dim, t.params[param])
            rows.append(row)
        return self.space.encode(rows)

    def pending(self) -> tuple[np.ndarray, dict[str, Any]]:
        """Every trial asked but not told (``RUNNING``), oldest first, as ``ask`` returns
        them; they count as handed out, so a later :meth:`ask` does not return them.

        After a crash these are the trials the dead process was evaluating.
        """
        running = self._running()
        self._handed.update(t.number for t in running)
        return np.array([t.number for t in running], dtype=np.int64), self._samples(running)

    def _running(self) -> list[Any]:
        state = self._optuna.trial.TrialState.RUNNING
        return self.study.get_trials(deepcopy=False, states=(state,))

    def ask(self, n: int) -> tuple[np.ndarray, dict[str, Any]]:
        """``n`` trials to evaluate: trial numbers ``(n,)`` and a sample set.

        Unfinished trials not yet handed out by this object come first (after a crash:
        those the dead process never told), then new proposals of the sampler.
        """
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"n must be an integer >= 1, got {n!r}")
        started = time.perf_counter()
        if self._sampler_arg == "cmaes" and self._popsize is None:
            self.study.set_user_attr("jaxtune_popsize", n)  # one generation per round
            self._attach_sampler(n)
        trials = [t for t in self._running() if t.number not in self._handed][:n]
        with quiet(self._optuna):
            trials += [self.study.ask(self._dists) for _ in range(n - len(trials))]
        self._sync()
        self.ask_seconds.append(time.perf_counter() - started)
        numbers = np.array([t.number for t in trials], dtype=np.int64)
        self._handed.update(numbers.tolist())
        return numbers, self._samples(trials)

    def tell(
        self,
        trial_numbers: Sequence[int] | np.ndarray,
        values: Sequence[float] | np.ndarray,
        failed_mask: Sequence[bool] | np.ndarray | None = None,
    ) -> None:
        """Report the values of trials; a failed or non-finite one is told as FAIL.

        Args:
            trial_numbers: from :meth:`ask` or :meth:`pending`.
            values: the objective of each, ``(n,)``.
            failed_mask: True where a trial failed (e.g. diverged); default none.
        """
        numbers = np.asarray(trial_numbers, dtype=np.int64).reshape(-1)
        values = np.asarray(values, dtype=np.float64).reshape(-1)
        failed = np.zeros(len(numbers), bool) if failed_mask is None else np.asarray(failed_mask)
        if not len(numbers) == len(values) == failed.size:
            raise ValueError(
                f"tell: {len(numbers)} trial numbers, {len(values)} values, "
                f"{failed.size} failed flags"
            )
        started = time.perf_counter()
        fail = self._optuna.trial.TrialState.FAIL
        with quiet(self._optuna):
            for number, value, bad in zip(numbers, values, failed, strict=True):
                if bad or not math.isfinite(value):
                    self.study.tell(int(number), state=fail, skip_if_finished=True)
                else:
                    self.study.tell(int(number), float(value), skip_if_finished=True)
                self._handed.discard(int(number))
        self.tell_seconds.append(time.perf_counter() - started)

    def _sync(self) -> None:
        if self._journal is not None:
            self._journal.sync()

    # ----------------------------------------------------------------- results

    def told(self) -> dict[int, float]:
        """``{trial number: value}`` of every completed trial."""
        complete = self._optuna.trial.TrialState.COMPLETE
        return {t.number: t.value for t in self.study.get_trials(states=(complete,))}

    @property
    def best_value(self) -> float:
        """The best completed value so far (NaN before any)."""
        values = list(self.told().values())
        if not values:
            return math.nan
        return max(values) if self.study.direction.name == "MAXIMIZE" else min(values)


def _differs(key: str, held: Any, value: Any) -> str:
    """``space differs in lr, epochs`` (not two JSON dumps), or ``sampler is 'tpe', not ...``."""
    if key != "space":
        return f"{key} is {held!r}, not {value!r}"
    old, new = json.loads(held), json.loads(value)
    names = [k for k in dict.fromkeys([*old, *new]) if old.get(k) != new.get(k)]
    return f"space differs in {', '.join(names)}"
