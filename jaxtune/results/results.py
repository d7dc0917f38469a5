"""What a sweep found, in forms people read: records, tables, curves, the best trials.

``jaxtune.load("runs/NAME")`` returns :class:`Results`. Everything works from the store
alone (no JAX program is run); ``to_pandas`` needs the ``jaxtune[results]`` extra.
Diverged trials are kept apart: they never rank and no NaN reaches a summary.
"""

from __future__ import annotations

import html
import os
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from jaxtune.store import Store, TrialRecord

__all__ = ["Results", "load"]


def load(path: str | os.PathLike[str]) -> Results:
    """Read a sweep's store (read-only; safe while the sweep still runs).

    Raises:
        FileNotFoundError: ``path`` holds no jaxtune sweep.
    """
    store = Store.read(path)
    try:
        return Results.from_store(store)
    finally:
        store.close()


def _need_pandas() -> Any:
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover - depends on the environment
        raise ImportError(
            'Results.to_pandas needs pandas: pip install "jaxtune[results]"'
        ) from None
    return pd


@dataclass(frozen=True)
class Results:
    """Every finished trial of a sweep, with the sweep's metadata.

    Attributes:
        trials: the stored trials, by id.
        meta: the sweep's metadata (space, task, seed, sampler, objective...).
        rounds: the rounds of a coarse-to-fine search, first to last.
        path: the store's folder.
        finished_at: ``{trial id: time.time() when it was stored}`` (empty when unknown).
    """

    trials: tuple[TrialRecord, ...]
    meta: dict[str, Any]
    rounds: tuple[dict[str, Any], ...]
    path: str
    finished_at: dict[int, float] = field(default_factory=dict)

    @classmethod
    def from_store(cls, store: Store) -> Results:
        """Everything a store holds, read once."""
        return cls(
            tuple(store.trials()),
            store.meta(),
            tuple(store.rounds()),
            str(store.path),
            _finished_at(store),
        )

    # ----------------------------------------------------------------- basics

    @property
    def objective(self) -> str:
        """The final metric that ranks trials, e.g. ``"val_accuracy"``."""
        return self.meta.get("objective", "val_loss")

    @property
    def maximize(self) -> bool:
        """Whether a higher objective is better."""
        return bool(self.meta.get("maximize", False))

    @property
    def hyperparameters(self) -> list[str]:
        """Names of the searched dimensions, in the space's order."""
        return list(self.meta.get("space", {}))

    def to_records(self) -> list[TrialRecord]:
        """The trials as stored."""
        return list(self.trials)

    def ok(self) -> list[TrialRecord]:
        """Trials that finished without diverging."""
        return [t for t in self.trials if t.status == "ok"]

    def diverged(self) -> list[TrialRecord]:
        """Trials whose loss turned non-finite (listed apart, never ranked)."""
        return [t for t in self.trials if t.status != "ok"]

    def best(self, k: int = 1, *, round_: int | None = None) -> list[TrialRecord]:
        """The ``k`` best non-diverged trials by the objective (ties: lower val_loss).

        Args:
            k: how many.
            round_: only this round's trials (default: all rounds).
        """
        pool = [
            t
            for t in self.ok()
            if (round_ is None or t.round == round_) and t.final.get(self.objective) is not None
        ]
        sign = -1.0 if self.maximize else 1.0

        def key(t: TrialRecord) -> tuple[float, float, float, int]:
            # Under a scheduler, a trial of a higher rung trained longer: it ranks first.
            rung, loss = -(t.final.get("rung") or 0), t.final.get("val_loss")
            return rung, sign * t.final[self.objective], 1e300 if loss is None else loss, t.trial

        return sorted(pool, key=key)[:k]

    def __len__(self) -> int:
        """The number of stored trials (diverged ones included), as ``len(study.trials)``."""
        return len(self.trials)

    @property
    def best_trial(self) -> TrialRecord:
        """The best non-diverged trial's record, as Optuna's ``best_trial``.

        Raises:
            ValueError: no trial finished without diverging.
        """
        return self._best()

    @property
    def best_params(self) -> dict[str, Any]:
        """The best non-diverged trial's hyperparameters, as Optuna's ``best_params``.

        Raises:
            ValueError: no trial finished without diverging.

        Examples:
            >>> ok = "ok"
            >>> trials = (
            ...     TrialRecord(0, 0, "", {"lr": 0.1}, ok, 0, {"val_loss": 0.4}),
            ...     TrialRecord(1, 0, "", {"lr": 0.01}, ok, 0, {"val_loss": 0.2}),
            ...     TrialRecord(2, 0, "", {"lr": 9.0}, "diverged", 1, {"val_loss": None}),
            ... )
            >>> results = Results(trials, {"objective": "val_loss"}, (), "runs/demo")
            >>> results.best_params, results.best_value
            ({'lr': 0.01}, 0.2)
        """
        return dict(self._best().hparams)

    @property
    def best_value(self) -> float:
        """The best non-diverged trial's objective, as Optuna's ``best_value``.

        Raises:
            ValueError: no trial finished without diverging.
        """
        return float(self._best().final[self.objective])

    def _best(self) -> TrialRecord:
        best = self.best(1)
        if not best:
            raise ValueError(
                f"no finished, non-diverged trial with {self.objective!r} in "
                f"{self.path!r} ({len(self.trials)} trials, {len(self.diverged())} diverged)"
            )
        return best[0]

    def retrain(
        self, trial_id: int, epochs: int | None = None, *, fn: Any = None
    ) -> tuple[Any, Any] | Any:
        """Train one trial again, alone; get its model (or outputs) back.

        Built-in task: uses the stored task settings, space, hyperparameters and the
        trial's key, so the returned history equals the stored curve (rtol 1e-5). A
        sweep of a user's function reruns the function (``fn``, or the one the store
        names if it can be imported) on the trial's hyperparameters and key, after
        checking its program is the stored one (see :func:`jaxtune.sweep.retrain`).

        Args:
            trial_id: the trial, e.g. ``results.best()[0].trial``.
            epochs: train this many epochs instead of the trial's own (built-in task).
            fn: the function a function sweep trained.

        Returns:
            ``(params, history)``: final parameters and a :class:`jaxtune.History`; for
            a function sweep, what the function returns.
        """
        # Imported here: reading a store never needs the trainer.
        from jaxtune.sweep.retrain import retrain

        return retrain(self, trial_id, epochs, fn=fn)

    # ----------------------------------------------------------------- analysis

    def importance(self, **kw: Any) -> dict[str, float]:
        """Hyperparameter importance; see :func:`jaxtune.analysis.importance`."""
        from jaxtune.results.analysis import importance

        return importance(self, **kw)

    def to_optuna(self, storage_url: str | None = None, **kw: Any) -> Any:
        """The sweep as an Optuna study; see :func:`jaxtune.analysis.to_optuna`."""
        from jaxtune.results.analysis import to_optuna

        return to_optuna(self, storage_url, **kw)

    # ----------------------------------------------------------------- tables

    def to_pandas(self) -> Any:
        """One row per trial, indexed by trial id.

        Columns: each hyperparameter, each final metric (``val_loss``,
        ``val_accuracy``...), ``status``, ``diverged_epoch``, ``round``, ``group`` and
        ``wall_time``. Missing metrics (a diverged trial) are NaN here, the pandas way.
        """
        pd = _need_pandas()
        rows = [
            {
                "trial": t.trial,
                **t.hparams,
                **{k: (float("nan") if v is None else v) for k, v in t.final.items()},
                "status": t.status,
                "diverged_epoch": t.diverged_epoch,
                "round": t.round,
                "group": t.group,
                "wall_time": t.wall_time,
            }
            for t in self.trials
        ]
        return pd.DataFrame(rows).set_index("trial") if rows else pd.DataFrame()

    def trials_dataframe(self) -> Any:
        """The Optuna name of :meth:`to_pandas`: one row per trial (needs pandas)."""
        return self.to_pandas()

    def curves(self, metric: str = "val_loss", trials: Sequence[int] | None = None) -> dict:
        """Per-epoch values of one metric: ``{trial id: [v_1, v_2, ...]}``.

        Epochs a trial did not run are None. Metrics: ``train_loss``, ``val_loss``,
        ``val_<metric>`` and ``learning_rate``.
        """
        wanted = None if trials is None else set(trials)
        return {
            t.trial: t.curves.get(metric, [])
            for t in self.trials
            if wanted is None or t.trial in wanted
        }

    @property
    def stopped_early(self) -> bool:
        """Whether a strategy stopped any trial before its last epoch (rungs to show)."""
        return any(t.final.get("stopped") for t in self.trials)

    def schedule(self, trial_id: int) -> dict[str, list[Any]]:
        """Per-epoch hyperparameters along a PBT trial's lineage.

        See :func:`jaxtune.results.lineage.schedule`: ``{name: [epoch 1, epoch 2, ...]}``
        of the model ``trial_id`` ends with, following the lanes it copied from.

        Raises:
            ValueError: the sweep holds no PBT lineage of ``trial_id``.
        """
        from jaxtune.results.lineage import schedule

        return schedule(self, trial_id)

    def summary(self, k: int = 10) -> str:
        """The top-``k`` table a person reads, then the diverged trials, as text.

        Columns: rank, trial, hyperparameters, the objective, val_loss, best epoch,
        status.
        """
        names = self.hyperparameters
        if self.stopped_early:
            names = [*names, "rung"]
        head = ["rank", "trial", *names, self.objective]
        if self.objective != "val_loss":
            head.append("val_loss")
        head += ["best_epoch", "status"]
        rows = []
        for rank, t in enumerate(self.best(k), start=1):
            cells = {**t.hparams, "rung": t.final.get("rung")}
            row = [str(rank), str(t.trial), *(_fmt(cells.get(n)) for n in names)]
            row.append(_fmt(t.final.get(self.objective)))
            if self.objective != "val_loss":
                row.append(_fmt(t.final.get("val_loss")))
            row += [str(t.final.get("best_epoch", "")), t.status]
            rows.append(row)
        widths = [
            max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(head)
        ]
        lines = [
            f"{len(self.trials)} trials ({len(self.ok())} ok, {len(self.diverged())} diverged), "
            f"ranked by {self.objective} ({'higher' if self.maximize else 'lower'} is better)",
            "  ".join(h.rjust(w) for h, w in zip(head, widths, strict=True)),
        ]
        lines += ["  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
        if self.stopped_early:
            from jaxtune.results.rung_plot import budget

            b = budget(self)
            lines.append(
                f"budget: {b['lane_epochs']:.0f} lane-epochs of the {b['full']:.0f} a full "
                f"sweep would spend ({100 * b['fraction']:.0f}%); rung = the last rung reached"
            )
        bad = self.diverged()
        if bad:
            shown = ", ".join(f"{t.trial} (epoch {t.diverged_epoch})" for t in bad[:20])
            more = f" and {len(bad) - 20} more" if len(bad) > 20 else ""
            lines.append(f"diverged: {shown}{more}")
        return "\n".join(lines)

    # ----------------------------------------------------------------- notebooks

    def __repr__(self) -> str:
        """A few lines: the store, how many trials, the best objective and hyperparameters.

        Examples:
            >>> trials = (TrialRecord(0, 0, "", {"lr": 0.01}, "ok", 0, {"val_loss": 0.2}),)
            >>> Results(trials, {"objective": "val_loss"}, (), "runs/demo")
            Results('runs/demo': 1 trial (1 ok, 0 diverged), ranked by val_loss (lower is better)
              best: trial 0, val_loss=0.2, lr=0.01)
        """
        n, ok = len(self.trials), len(self.ok())
        head = (
            f"Results({self.path!r}: {n} trial{'' if n == 1 else 's'} ({ok} ok, "
            f"{n - ok} diverged), ranked by {self.objective} "
            f"({'higher' if self.maximize else 'lower'} is better)"
        )
        best = self.best(1)
        if not best:
            return head + ")"
        t = best[0]
        cells = ", ".join(f"{k}={_fmt(v)}" for k, v in t.hparams.items())
        value = _fmt(t.final.get(self.objective))
        return f"{head}\n  best: trial {t.trial}, {self.objective}={value}, {cells})"

    def _repr_html_(self, k: int = 20) -> str:
        """The top-``k`` table as HTML, which Jupyter shows for a ``results`` cell.

        Columns: rank, trial, each hyperparameter, the objective, epochs completed, status;
        a caption with the store, the trial counts and the direction.
        """
        names = self.hyperparameters
        head = ["rank", "trial", *names, self.objective, "epochs", "status"]
        rows = []
        for rank, t in enumerate(self.best(k), start=1):
            epochs = t.final.get("epochs_completed") or _epochs_run(t)
            cells = [rank, t.trial, *(t.hparams.get(n) for n in names)]
            rows.append([*cells, t.final.get(self.objective), epochs, t.status])
        n, ok = len(self.trials), len(self.ok())
        caption = (
            f"{html.escape(self.path)}: {n} trials ({ok} ok, {n - ok} diverged), top "
            f"{len(rows)} by {html.escape(self.objective)} "
            f"({'higher' if self.maximize else 'lower'} is better)"
        )
        th = "".join(f"<th>{html.escape(h)}</th>" for h in head)
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(_fmt(c))}</td>" for c in r) + "</tr>" for r in rows
        )
        return (
            f'<table class="jaxtune-results"><caption>{caption}</caption>'
            f"<thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"
        )


def _finished_at(store: Store) -> dict[int, float]:
    """When each trial was stored. Store.trials() does not return it yet: read the column
    through the store's public method when it has one, else its connection."""
    own = getattr(store, "finished_at", None)
    if callable(own):
        return dict(own())
    try:
        rows = store._conn.execute("SELECT trial, finished_at FROM trials").fetchall()
    except (AttributeError, sqlite3.Error):
        return {}
    return {int(t): float(f) for t, f in rows}


def _epochs_run(t: TrialRecord) -> int | None:
    """Epochs of a trial without ``epochs_completed``: its longest run of curve values."""
    runs = [sum(v is not None for v in curve) for curve in t.curves.values()]
    return max(runs) if runs else None


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)
