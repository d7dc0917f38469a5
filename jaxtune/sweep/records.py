"""From the outputs of a chunk of trials to the records the store keeps.

A chunk's outputs are either a :class:`jaxtune.train.History` (the built-in trainer,
with a seed axis when ``seeds_per_trial > 1``) or a user function's outputs: a dict of
numbers and per-epoch curves (1-D per trial), or one bare number or curve, stored under
the objective's name. A curve is stored whole and its final value is its last finite
entry. Every number becomes a finite float or None, so no NaN reaches the store.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import jax
import numpy as np

from jaxtune.store import TrialRecord, clean_float
from jaxtune.sweep.outputs import named
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


def _function_row(outputs: Mapping[str, np.ndarray], j: int) -> tuple[dict, dict, int]:
    """Finals, curves and divergence epoch (0: none) of trial ``j``."""
    final: dict[str, float | None] = {}
    curves: dict[str, list[float | None]] = {}
    diverged = 0
    for name, values in outputs.items():
        x = values[j]
        if x.ndim == 0:
            final[name] = clean_float(x)
            continue
        curve = [clean_float(e) for e in x]
        finite = [e for e in curve if e is not None]
        curves[name] = curve
        # NaN marks an epoch not run (as in a History); an infinity is a divergence.
        final[name] = finite[-1] if finite else None
        blown = np.flatnonzero(np.isinf(x))
        if blown.size:
            epoch = int(blown[0]) + 1
            diverged = epoch if diverged == 0 else min(diverged, epoch)
    return final, curves, diverged


def _function_rows(outputs: Any, objective: str) -> tuple[list[dict], list[dict], list[int]]:
    flat = {k: np.asarray(v) for k, v in named(outputs, objective).items()}
    n = len(next(iter(flat.values())))
    rows = [_function_row(flat, j) for j in range(n)]
    return [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows]


def records_from_outputs(
    outputs: Any,
    *,
    ids: Sequence[int],
    hparams: Sequence[dict[str, Any]],
    round_: int,
    group: str,
    wall: float,
    metric: str = "metric",
    maximize: bool = False,
    objective: str = "val_loss",
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
        objective: the name a bare (not named) output of a user's function is stored
            under.

    Returns:
        The records. A trial is ``"diverged"`` when the trainer says so or, for a user's
        function, when a number is not finite, a curve holds an infinity or no finite
        value at all.
    """
    if isinstance(outputs, History):
        finals, curves, diverged = _history_rows(outputs, metric, maximize)
        status = ["diverged" if e > 0 else "ok" for e in diverged]
    else:
        finals, curves, diverged = _function_rows(outputs, objective)
        status = [
            "ok" if e == 0 and all(v is not None for v in f.values()) else "diverged"
            for f, e in zip(finals, diverged, strict=True)
        ]
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
