"""An Optuna journal file for one writer: every entry written at once, fsynced per batch.

Optuna's ``JournalFileBackend`` takes a file lock and fsyncs the file for every entry
(about six per trial: created, each parameter, its value), which costs seconds per round
of 64 proposals on an ordinary disk, several times the sampler's own time. A sweep's
study has one writer (the process that holds the sweep folder's lock), so
:func:`journal_storage` uses :class:`JournalFile` instead: each entry is written to the
file at once (in the kernel's hands, so it survives a killed process) and the file is
fsynced when :meth:`JournalFile.sync` is called (once per round, when it is asked: then
the round's trials survive a power cut too; a tell lost that way is told again from the
sweep's store, whose commits are durable). The file's format is Optuna's own (one JSON object per
line), so ``JournalFileBackend``, ``optuna-dashboard`` and friends read it as usual.
Entries read back come from memory: one read of the file when it is opened.

A process killed while Optuna was creating a trial can leave it ``RUNNING`` with only
some of its parameters; :func:`complete_partial_trials` lets the study's sampler draw the
missing ones when the file is reopened, so the trial can be evaluated like any other.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from typing import Any

__all__ = ["complete_partial_trials", "journal_storage"]


def _backend_class() -> type:
    from optuna.storages.journal import BaseJournalBackend

    class JournalFile(BaseJournalBackend):
        """Optuna's journal format in one file, for a single writer (see module)."""

        def __init__(self, path: str) -> None:
            self.path = path
            self._logs: list[dict[str, Any]] = []
            if os.path.islink(path):  # whoever can write the folder must not redirect it
                raise ValueError(
                    f"{path!r} is a symbolic link; a sweep's study file must be its own: "
                    "remove it, then run again"
                )
            if os.path.isfile(path):
                with open(path, "rb") as f:
                    for line in f:
                        if not line.endswith(b"\n"):
                            break  # a torn last line (cut off before reopening)
                        self._logs.append(json.loads(line))
            self._dirty = False

        def read_logs(self, log_number_from: int) -> Iterable[dict[str, Any]]:
            return list(self._logs[log_number_from:])

        def append_logs(self, logs: list[dict[str, Any]]) -> None:
            lines = [json.dumps(log, separators=(",", ":")) for log in logs]
            flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
            with os.fdopen(os.open(self.path, flags, 0o644), "ab", buffering=0) as f:
                f.write("".join(line + "\n" for line in lines).encode())  # in the kernel now
            self._logs.extend(map(json.loads, lines))  # copies: as read back from the file
            self._dirty = True

        def sync(self) -> None:
            """fsync what was written since the last call."""
            if self._dirty:  # fsync flushes the file's pages, whichever handle wrote them
                with open(self.path, "rb") as f:
                    os.fsync(f.fileno())
                self._dirty = False

    return JournalFile


def journal_storage(path: str) -> tuple[Any, Any]:
    """An Optuna ``JournalStorage`` on the file ``path`` and its backend (for ``sync``).

    Args:
        path: the journal file; created if missing. One process at a time may write it.

    Returns:
        ``(storage, backend)``: pass ``storage`` to ``optuna.create_study``; call
        ``backend.sync()`` to fsync.

    Examples:
        >>> import tempfile, optuna
        >>> path = tempfile.mkdtemp() + "/optuna.jsonl"
        >>> storage, backend = journal_storage(path)
        >>> study = optuna.create_study(storage=storage, study_name="s")
        >>> study.enqueue_trial({"x": 1.0})
        >>> backend.sync()
        >>> optuna_backend = optuna.storages.journal.JournalFileBackend(path)
        >>> again = optuna.storages.JournalStorage(optuna_backend)
        >>> len(optuna.load_study(study_name="s", storage=again).trials)
        1
    """
    from optuna.storages.journal import JournalStorage

    backend = _backend_class()(os.fspath(path))
    return JournalStorage(backend), backend


def complete_partial_trials(study: Any, storage: Any, distributions: dict[str, Any]) -> list[int]:
    """Give every ``RUNNING`` trial the parameters it lacks (a kill cut its creation).

    Args:
        study: the ``optuna.Study``.
        storage: its storage (as :func:`journal_storage` returned it).
        distributions: every parameter a trial must have, by name.

    Returns:
        The numbers of the trials completed.

    Examples:
        >>> import tempfile, optuna
        >>> storage, _ = journal_storage(tempfile.mkdtemp() + "/optuna.jsonl")
        >>> study = optuna.create_study(storage=storage, study_name="s")
        >>> cut = study.ask()  # created, then killed before its parameters were set
        >>> x = optuna.distributions.FloatDistribution(0.0, 1.0)
        >>> complete_partial_trials(study, storage, {"x": x}), list(study.trials[0].params)
        ([0], ['x'])
    """
    import optuna

    running = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,))
    partial = [t for t in running if set(distributions) - set(t.params)]
    study_id = storage.get_study_id_from_name(study.study_name)
    for frozen in partial:
        trial_id = storage.get_trial_id_from_study_id_trial_number(study_id, frozen.number)
        trial = optuna.trial.Trial(study, trial_id)
        for name, dist in distributions.items():
            if name in frozen.params:
                continue
            if isinstance(dist, optuna.distributions.CategoricalDistribution):
                trial.suggest_categorical(name, dist.choices)
            elif isinstance(dist, optuna.distributions.IntDistribution):
                trial.suggest_int(name, dist.low, dist.high, step=dist.step, log=dist.log)
            else:
                trial.suggest_float(name, dist.low, dist.high, step=dist.step, log=dist.log)
    return [t.number for t in partial]
