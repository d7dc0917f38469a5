"""Each finished chunk persisted at once, and progress that tells a hang from slow work.

While a chunk runs, a background thread refreshes the progress bar every second with the
chunk's elapsed time and the time earlier chunks suggest (``chunk 14s / ~3s``); the first
chunk of a group includes compilation and is shown as such. A chunk that runs far beyond
its expected time (more than :attr:`Watch.factor` times it and more than
:attr:`Watch.min_seconds`; a first chunk after :attr:`Watch.first_seconds`) logs ONE
warning on the ``jaxtune.sweep`` logger (stderr by default) with its size and what to
try. The bar is tqdm's: on a terminal it redraws one line of stderr; in a Jupyter kernel
it is one output updated in place (:class:`NotebookLine`), so a saved notebook keeps the
bar's final state and nothing on stderr.
"""

from __future__ import annotations

import logging
import statistics
import sys
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from jaxtune.store import Store
from jaxtune.sweep.callbacks import check_callbacks
from jaxtune.sweep.records import records_from_outputs

__all__ = [
    "ChunkWriter",
    "NotebookLine",
    "OutOfTimeError",
    "Watch",
    "check_callbacks",
    "timeout_line",
]

log = logging.getLogger("jaxtune.sweep")

HANG_ADVICE = (
    "if it is hung rather than slow, stop it (finished chunks are stored) and resume with "
    "Sweep(..., chunk_size=1), or with XLA_FLAGS=--xla_cpu_multi_thread_eigen=false set "
    "before jax starts (XLA CPU can hang on vmapped loops, jax-ml/jax#25861; see the "
    "docs/command-line.md, 'Progress and hangs')"
)


def _seconds(s: float) -> str:
    return f"{s:.0f}s" if s >= 10 else f"{s:.1f}s"


class Watch:
    """Times chunks and says how the running one compares with the earlier ones.

    Attributes:
        factor: a chunk slower than ``factor`` times its expected time may be hung...
        min_seconds: ...when it has also run this long;
        first_seconds: a group's first chunk (compilation included) has no expected time:
            it warns after this long.
    """

    factor = 10.0
    min_seconds = 60.0
    first_seconds = 600.0

    def __init__(self, clock: Callable[[], float] = time.perf_counter) -> None:
        self.clock = clock
        self.per_trial: list[float] = []  # seconds per trial of chunks after a group's first
        self.started = clock()
        self.first = True  # the running chunk is its group's first
        self.size = 0  # trials of the last finished chunk: the likely size of this one
        self.warned = False

    def group(self) -> None:
        """A new group starts: its first chunk compiles."""
        self.started, self.first = self.clock(), True

    def chunk_done(self, n: int) -> float:
        """A chunk of ``n`` trials finished; returns its seconds per trial."""
        now = self.clock()
        per_trial = (now - self.started) / max(n, 1)
        if not self.first:
            self.per_trial.append(per_trial)
        self.started, self.first, self.size = now, False, n
        return per_trial

    def expected(self) -> float | None:
        """Expected seconds of the running chunk, from earlier chunks (None: unknown)."""
        if self.first or not self.per_trial or not self.size:
            return None
        return statistics.median(self.per_trial[-20:]) * self.size

    def status(self) -> str:
        """``chunk 14s / ~3s``, or ``first chunk 5.2s (compiling)``; checks for a hang."""
        elapsed = self.clock() - self.started
        expected = self.expected()
        if expected is None:
            text = f"first chunk {_seconds(elapsed)} (compiling)" if self.first else ""
            if self.first and elapsed > self.first_seconds:
                self._warn(f"a group's first chunk (compilation included) has run {elapsed:.0f} s")
            return text
        if elapsed > self.factor * expected and elapsed > self.min_seconds:
            self._warn(
                f"a chunk of {self.size} trial(s) has run {elapsed:.0f} s, "
                f"{elapsed / expected:.0f}x the {expected:.1f} s earlier chunks took"
            )
        return f"chunk {_seconds(elapsed)} / ~{_seconds(expected)}"

    def _warn(self, what: str) -> None:
        if not self.warned:
            self.warned = True
            log.warning("jaxtune: %s; %s", what, HANG_ADVICE)


class OutOfTimeError(Exception):
    """A sweep's ``timeout`` passed: what ran is stored or saved; running again goes on."""


def timeout_line(store: Store, timeout: float, path: str) -> str:
    """The line a sweep that stopped at its ``timeout`` prints: what is stored, what next."""
    done, total = len(store.trials()), sum(r["n_trials"] for r in store.rounds())
    return (
        f"jaxtune: timeout ({timeout:g} s): {done} of {total} trials stored; run again "
        f"(jaxtune resume {path}) to go on"
    )


class ChunkWriter:
    """Persists each finished chunk at once and keeps the progress bar up to date.

    With ``deadline`` (a ``time.monotonic()`` value) set, :meth:`write` raises
    :class:`OutOfTimeError` once a chunk committed after it: the chunks not yet run wait for the
    next run.
    """

    def __init__(
        self,
        store: Store,
        objective: str,
        maximize: bool,
        total: int,
        quiet: bool,
        *,
        refresh: float = 1.0,
        callbacks: Sequence[Callable[[Any], Any]] = (),
    ) -> None:
        self.store, self.objective, self.maximize = store, objective, maximize
        self.callbacks = tuple(callbacks)  # each told every committed trial's record
        self.deadline: float | None = None
        self.best: float | None = None
        self.label = "all"
        self.watch = Watch()
        self.bar = None if quiet or not _interactive() else _progress_bar(total)
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(
            target=self._refresh, args=(refresh,), name="jaxtune-progress", daemon=True
        )
        self._thread.start()

    @classmethod
    def of(cls, owner: Any, store: Store, total: int) -> ChunkWriter:
        """The writer of ``owner``'s trials: a Sweep or anything with its ``objective``,
        ``maximize``, ``quiet`` and ``callbacks``; ``total`` trials for the bar."""
        writer = cls(
            store, owner.objective, owner.maximize, total, owner.quiet, callbacks=owner.callbacks
        )
        writer.deadline = getattr(owner, "deadline", None)
        return writer

    def bar_desc(self, text: str) -> None:
        if self.bar is not None:
            self.bar.set_description(text)

    def start(self, label: str = "") -> None:
        """Start timing a new group (its first chunk includes compilation)."""
        with self._lock:
            self.label = label or "all"
            self.watch.group()

    def write(self, outputs: Any, *, ids: list[int], **kw: Any) -> list[Any]:
        """Commit a finished chunk's trials; returns their records, as stored."""
        with self._lock:
            wall = self.watch.chunk_done(len(ids))
        records = records_from_outputs(outputs, ids=ids, wall=wall, **kw)
        self.write_records(records)
        if self.deadline is not None and time.monotonic() >= self.deadline:
            raise OutOfTimeError  # after the commit: nothing of this chunk is lost
        return records

    def write_records(self, records: list[Any]) -> None:
        """Commit finished trials, show the best so far, then tell the callbacks.

        Every strategy commits its trials here, so each callback sees each trial once,
        after it is stored (:mod:`jaxtune.sweep.callbacks`).
        """
        self.store.write_trials(records)
        for r in records:
            v = r.final.get(self.objective)
            better = self.best is None or (v is not None and (v > self.best) == self.maximize)
            if r.status == "ok" and v is not None and better:
                self.best = v
        if self.bar is not None:
            with self._lock:
                self.bar.set_postfix_str(self._postfix(), refresh=False)
                self.bar.update(len(records))
        for callback in self.callbacks:
            for r in records:
                callback(r)

    def _postfix(self, done: bool = False) -> str:
        best = "-" if self.best is None else f"{self.best:.4g}"
        running = "" if done else self.watch.status()
        return f"{self.label} best {self.objective}={best}" + (f", {running}" if running else "")

    def _refresh(self, every: float) -> None:
        while not self._stop.wait(every):
            with self._lock:
                text = self._postfix()  # also checks for a hang, with or without a bar
                if self.bar is not None:
                    self.bar.set_postfix_str(text)

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        if self.bar is not None:
            with self._lock:
                self.bar.set_postfix_str(self._postfix(done=True), refresh=False)
            self.bar.close()


class NotebookLine:
    """A file for tqdm that shows its last line as one notebook output, updated in place.

    A widget (``tqdm.notebook``) is saved as its first state ("0%") plus widget metadata,
    and a text bar on stderr as one stream per refresh; this keeps one ``display_data``
    whose saved text is the bar's final state.

    Args:
        display: ``IPython.display.display`` or a stand-in with its ``raw`` and
            ``display_id`` keywords.

    Examples:
        >>> shown = []
        >>> class Handle:
        ...     def update(self, data, raw):
        ...         shown.append(data["text/plain"])
        >>> line = NotebookLine(lambda data, raw, display_id: Handle())
        >>> _ = line.write("\\r 50%|#    | 1/2")
        >>> _ = line.write("\\r100%|#####| 2/2\\n")
        >>> shown
        [' 50%|#    | 1/2', '100%|#####| 2/2']
    """

    def __init__(self, display: Callable[..., Any] | None = None) -> None:
        if display is None:
            from IPython.display import display
        self._handle = display({"text/plain": ""}, raw=True, display_id=True)

    def write(self, text: str) -> int:
        line = text.rsplit("\r", 1)[-1].rstrip()  # tqdm redraws a line after "\r"
        if line.strip():
            self._handle.update({"text/plain": line}, raw=True)
        return len(text)

    def flush(self) -> None:
        pass


def _kernel() -> bool:
    """Whether this runs in a Jupyter kernel."""
    shell = sys.modules.get("IPython")
    get = getattr(shell, "get_ipython", None)
    return get is not None and type(get()).__name__ == "ZMQInteractiveShell"


def _interactive() -> bool:
    """A terminal on stderr, or a Jupyter kernel."""
    return sys.stderr.isatty() or _kernel()


def _progress_bar(total: int) -> Any:
    try:
        from tqdm import tqdm
    except ImportError:  # progress is a nicety: without tqdm, run quietly
        return None
    if _kernel():  # no width to measure: tqdm draws a 10-character bar, text uncut
        return tqdm(total=total, unit="trial", file=NotebookLine())
    return tqdm(total=total, unit="trial", dynamic_ncols=True)
