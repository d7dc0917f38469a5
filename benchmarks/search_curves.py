"""Best-so-far curves: record what a search has found and when, then summarize over seeds.

A strategy's run writes *events* to a JSON-lines file as they happen: ``{"t0": wall}``
first (the clock starts before anything is compiled), then ``{"t": wall, "v": value}``
for every validation accuracy a user could see at that moment, and ``{"store": path}``
for a jaxtune sweep folder, whose trials carry their own commit times
(:attr:`jaxtune.results.Results.finished_at`). :func:`read_curve` turns the file into a
best-so-far curve ``[(seconds, best), ...]`` clipped to the budget.

Example:
    >>> curve = best_so_far([(3.0, 0.9), (1.0, 0.8), (5.0, 0.85), (7.0, 0.99)])
    >>> curve
    [(1.0, 0.8), (3.0, 0.9), (7.0, 0.99)]
    >>> time_to_target(curve, 0.95)
    7.0
    >>> time_to_target(curve, 0.995) is None
    True
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

Curve = list[tuple[float, float]]


class Recorder:
    """Appends a run's events to a file, flushed at once (a killed run keeps them).

    Args:
        path: the events file (JSON lines).
        budget_s: the run's wall-clock budget; :meth:`expired` says when it is spent.
    """

    def __init__(self, path: str | os.PathLike[str], budget_s: float) -> None:
        self.budget_s = budget_s
        self._file = open(path, "a")  # noqa: SIM115 (kept open for the run's lifetime)
        self.t0 = time.time()
        self._write({"t0": self.t0})

    def _write(self, event: dict[str, Any]) -> None:
        self._file.write(json.dumps(event) + "\n")
        self._file.flush()

    def elapsed(self) -> float:
        """Seconds since the run started."""
        return time.time() - self.t0

    def expired(self) -> bool:
        """Whether the budget is spent."""
        return self.elapsed() >= self.budget_s

    def observe(self, values: Iterable[float]) -> None:
        """Validation accuracies known now (non-finite ones are dropped)."""
        now = time.time()
        for v in values:
            if v is not None and math.isfinite(float(v)):
                self._write({"t": now, "v": float(v)})

    def count_trials(self, k: int) -> None:
        """``k`` more trials started (a jaxtune store counts its own)."""
        self._write({"trials": k})

    def add_store(self, path: str | os.PathLike[str]) -> None:
        """A jaxtune sweep folder: its trials are read back with their commit times."""
        self._write({"store": os.fspath(path)})

    def close(self) -> None:
        """Closes the file."""
        self._file.close()


def store_events(
    path: str, objective: str = "val_accuracy"
) -> tuple[list[tuple[float, float]], int]:
    """``(commit wall time, objective)`` of every finished trial of a jaxtune store, and
    the number of trials it holds."""
    import jaxtune

    if not Path(path).exists():
        return [], 0
    try:
        results = jaxtune.load(path)
    except Exception:  # a store killed before its first write holds nothing to read
        return [], 0
    out = []
    for trial in results.trials:
        when = results.finished_at.get(trial.trial)
        value = trial.final.get(objective)
        if trial.status == "ok" and when is not None and value is not None:
            out.append((when, float(value)))
    return out, len(results.trials)


def read_curve(path: str | os.PathLike[str], budget_s: float) -> tuple[Curve, int]:
    """The best-so-far curve of one run's events file, and how many trials it started.

    Times are seconds since the run's ``t0``; values after the budget are dropped.
    """
    t0, points, stores, trials = None, [], [], 0
    for line in Path(path).read_text().splitlines():
        try:
            event = json.loads(line)
        except ValueError:  # the last line of a killed run may be cut short
            continue
        if "t0" in event:
            t0 = event["t0"] if t0 is None else t0
        elif "store" in event:
            if event["store"] not in stores:  # a grown sweep is named every round
                stores.append(event["store"])
                found, count = store_events(event["store"])
                points.extend(found)
                trials += count
        elif "trials" in event:
            trials += event["trials"]
        else:
            points.append((event["t"], event["v"]))
    if t0 is None:
        return [], 0
    rel = [(t - t0, v) for t, v in points if t - t0 <= budget_s]
    return best_so_far(rel), trials


def best_so_far(points: Iterable[tuple[float, float]]) -> Curve:
    """The running maximum of ``(time, value)`` points: one point per improvement."""
    out: Curve = []
    for t, v in sorted(points):
        if out and v > out[-1][1] and t == out[-1][0]:
            out[-1] = (float(t), float(v))  # found at the same moment: one point
        elif not out or v > out[-1][1]:
            out.append((float(t), float(v)))
    return out


def time_to_target(curve: Curve, target: float) -> float | None:
    """First time the curve reaches ``target`` (None if it never does)."""
    for t, v in curve:
        if v >= target - 1e-9:
            return t
    return None


def value_at(curve: Curve, t: float) -> float:
    """The curve's best value at time ``t`` (NaN before its first point)."""
    best = math.nan
    for when, v in curve:
        if when > t:
            break
        best = v
    return best


def final_best(curve: Curve) -> float:
    """The best value found within the budget (NaN when nothing was found)."""
    return curve[-1][1] if curve else math.nan


def median_time(times: Sequence[float | None]) -> float | None:
    """Median over seeds of a time to a target, a seed that never got there counting as
    infinitely slow; None when the median itself is infinite (half or more never did).

    Example:
        >>> median_time([3.0, None, 1.0])
        3.0
        >>> median_time([3.0, None, None]) is None
        True
    """
    if not times:
        return None
    vals = sorted(math.inf if t is None else t for t in times)
    n = len(vals)
    mid = vals[n // 2] if n % 2 else (vals[n // 2 - 1] + vals[n // 2]) / 2
    return None if math.isinf(mid) else mid


def median_value(values: Sequence[float]) -> float | None:
    """Median over seeds, a seed that found nothing (NaN) counting as the lowest; None
    when the median falls on such a seed.

    Example:
        >>> median_value([0.9, float("nan"), 0.95])
        0.9
    """
    vals = sorted(-math.inf if math.isnan(v) else v for v in values)
    if not vals:
        return None
    n = len(vals)
    mid = vals[n // 2] if n % 2 else (vals[n // 2 - 1] + vals[n // 2]) / 2
    return None if math.isinf(mid) else float(mid)


def quantile_curves(
    curves: Sequence[Curve], grid: np.ndarray, qs: Sequence[float] = (0.25, 0.5, 0.75)
) -> dict[float, np.ndarray]:
    """Quantiles over seeds of the best-so-far value at each time of ``grid``.

    A seed with nothing found yet counts as the lowest value; a quantile that falls on
    such a seed is NaN (no value yet).

    Example:
        >>> q = quantile_curves([[(1.0, 0.5)], [(2.0, 0.7)], [(3.0, 0.9)]], np.array([2.0, 3.0]))
        >>> q[0.5].tolist()
        [0.5, 0.7]
    """
    values = np.array([[value_at(c, t) for t in grid] for c in curves], dtype=float)
    values = np.where(np.isnan(values), -np.inf, values)
    out = {}
    for q in qs:
        v = np.quantile(values, q, axis=0, method="nearest") if len(curves) else values
        out[q] = np.where(np.isinf(v), np.nan, v)
    return out


def summarize(curves: Sequence[Curve], targets: Sequence[float]) -> dict[str, Any]:
    """Per-strategy numbers over its seeds: final best and the time to each target.

    Returns:
        ``final_best`` (median, min, max, per seed), ``time_to`` per target (median
        over seeds, None when half or more never reached it; per seed; how many reached).
    """
    finals = [final_best(c) for c in curves]
    finite = [f for f in finals if math.isfinite(f)]
    out: dict[str, Any] = {
        "final_best": {
            "median": median_value(finals),
            "min": min(finite) if finite else None,
            "max": max(finite) if finite else None,
            "per_seed": finals,
        },
        "time_to": {},
        "first_result_s": median_time([c[0][0] if c else None for c in curves]),
    }
    for target in targets:
        times = [time_to_target(c, target) for c in curves]
        out["time_to"][f"{target:.4f}"] = {
            "median_s": median_time(times),
            "per_seed": times,
            "reached": sum(t is not None for t in times),
        }
    return out
