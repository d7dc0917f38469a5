"""From the outputs of a chunk of trials to the records the store keeps.

A chunk's outputs are either a :class:`jaxtune.train.History` (the built-in trainer,
with a seed axis when ``seeds_per_trial > 1``) or a dict of per-trial scalars (a user's
function). Every number becomes a finite float or None, so no NaN reaches the store.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import jax
import numpy as np

from jaxtune.store import TrialRecord, clean_float
from jaxtune.train import History, final_metrics

__all__ = ["records_from_outputs"]

# One compiled program per chunk shape instead of dozens of eager operations per chunk.
_final_metrics = jax.jit(final_metrics, static_argnames=("maximize_metric", "seed_axis"))


def _seed_mean(curve: np.ndarray) -> np.ndarray:
    """Mean over the seed axis (1) of the epochs each seed ran; NaN where none did."""
    ran = np.isfinite(curve)
    total = np.where(ran, curve, 0.0).sum(axis=1)
    count = ran.sum(axis=1)
    return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def _history_rows(
    hist: History, metric: str, maximize: bool
) -> tuple[list[dict], list[dict], list[int]]:
    seeds = hist.val_loss.ndim == 3
    final = _final_metrics(hist, maximize_metric=maximize, seed_axis=1 if seeds else None)
    final = {k: np.asarray(v) for k, v in final.items()}
    curves = {
        "train_loss": hist.train_loss,
        "val_loss": hist.val_loss,
        f"val_{metric}": hist.val_metric,
        "learning_rate": hist.learning_rate,
    }
    curves = {k: np.asarray(v) for k, v in curves.items()}
    if seeds:
        curves = {k: _seed_mean(v) for k, v in curves.items()}
    diverged_epoch = np.asarray(hist.diverged_epoch).reshape(len(final["val_loss"]), -1)
    finals, curve_rows = [], []
    for j in range(len(final["val_loss"])):
        row = {
            "val_loss": clean_float(final["val_loss"][j]),
            f"val_{metric}": clean_float(final["val_metric"][j]),
            "train_loss": clean_float(final["train_loss"][j]),
            "best_epoch": int(final["best_epoch"][j]),
            "epochs_completed": int(final["epochs_completed"][j]),
        }
        if seeds:
            row[f"val_{metric}_std"] = clean_float(final["val_metric_std"][j])
            row["val_loss_std"] = clean_float(final["val_loss_std"][j])
        finals.append(row)
        curve_rows.append({k: [clean_float(x) for x in v[j]] for k, v in curves.items()})
    return finals, curve_rows, [int(e) for e in diverged_epoch.max(axis=1)]


def _scalar_rows(outputs: Mapping[str, Any]) -> tuple[list[dict], list[dict], list[int]]:
    flat = {k: np.asarray(v) for k, v in outputs.items()}
    n = len(next(iter(flat.values())))
    finals = [{k: clean_float(np.mean(v[j])) for k, v in flat.items()} for j in range(n)]
    return finals, [{} for _ in range(n)], [0] * n


def records_from_outputs(
    outputs: History | Mapping[str, Any],
    *,
    ids: Sequence[int],
    hparams: Sequence[dict[str, Any]],
    round_: int,
    group: str,
    wall: float,
    metric: str = "metric",
    maximize: bool = False,
) -> list[TrialRecord]:
    """One :class:`TrialRecord` per trial of a finished chunk.

    Args:
        outputs: the chunk's outputs, leading axis = trials.
        ids: global trial ids, one per output lane.
        hparams: the trials' hyperparameters as plain values.
        round_: their round.
        group: the label of their static group.
        wall: seconds per trial.
        metric: the trainer's validation metric name (``accuracy``, ``mse``...).
        maximize: whether a higher metric is better (the worst value fills a trial
            that completed no epoch).

    Returns:
        The records. A trial is ``"diverged"`` when the trainer says so or, for a user's
        function, when one of its outputs is not finite.
    """
    if isinstance(outputs, History):
        finals, curves, diverged = _history_rows(outputs, metric, maximize)
        status = ["diverged" if e > 0 else "ok" for e in diverged]
    else:
        finals, curves, diverged = _scalar_rows(dict(outputs))
        status = ["ok" if all(v is not None for v in f.values()) else "diverged" for f in finals]
    return [
        TrialRecord(
            trial=int(i),
            round=round_,
            group=group,
            hparams=h,
            status=s,
            diverged_epoch=e,
            final=f,
            curves=c,
            wall_time=wall,
        )
        for i, h, s, e, f, c in zip(ids, hparams, status, diverged, finals, curves, strict=True)
    ]
