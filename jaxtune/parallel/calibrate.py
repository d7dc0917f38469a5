"""``chunk_size="auto"``: measure a few chunk sizes on the real run and keep the fastest.

Why measure instead of a formula: on CPU, vmapping many trials is sometimes twice as fast
as a loop and sometimes half as fast (wide layers, grouped convolutions), and throughput
is not even monotone in the chunk size. Nothing short of timing the compiled program
tells which, so calibration times candidate sizes on the first chunks of the run itself
(their outputs are kept) and caches the measurements.

The rule, per device:

1. Candidates are powers of four ``1, 4, 16, ...`` below the n-bucket (``n`` per device
   rounded up to a size bucket, see ``parallel._bucket``), then the bucket itself (full
   vmap). ``1`` is the sequential loop, so the choice is never clearly slower than it.
2. Screening: each candidate is compiled (its compile time counts against the budget,
   see Cost below), run once to warm up, then timed as the median of 3 samples. A sample
   runs back-to-back chunks, as a real run does, enough of them to last about 50 ms, and
   measures seconds per chunk from the first dispatch until the outputs are on the host.
3. Growth stops at the first candidate whose throughput falls below 60 % of the best so
   far (throughput is not monotone, so a small dip does not stop it), or whose memory
   would exceed ``max_memory``. The powers of two beside the best are screened too.
4. Final: the (at most 4) candidates within 75 % of the best are timed again in
   interleaved rounds (at least 3, at most 9, until 1.5 s is spent), so that a machine
   whose speed drifts slows them all alike; their cost is the median over these rounds.
   Median, not minimum: on a shared machine, large chunks (which XLA spreads over
   several threads) can lose more to other work than small ones do, and the run will
   see the load that calibration saw.
5. For a run of ``n`` trials over ``d`` devices, the predicted time of size ``k`` is
   ``ceil(n / (k d)) * seconds(k)``, padding included. Among the sizes that fit in
   ``max_memory``, the *largest* ``k`` whose prediction is within the noise band of the
   fastest is chosen. The band is the measured spread of the final rounds (for each
   finalist, its interquartile range over its median; the largest of these), at least
   5 % and at most 15 %. Sizes that timing cannot tell apart are a tie, and a tie goes
   to the bigger chunk: fewer dispatches, and the same choice from run to run rather
   than whichever size the noise favoured this time.

Cost: calibration chunks run the run's own next trials (outputs kept); once those run
out, they replay real trials and discard the outputs. Compiling the sizes tried (seconds
each on CPU, once per process, or once ever with
:func:`jaxtune.parallel.enable_compilation_cache`) and running them may take half the
time the sequential loop would need for the whole run, at least 1 s; past that budget,
screening takes one sample, screens no more sizes (past ``1`` and ``4``), and the final
rounds stop at 3. So a short run on a cold cache compiles two sizes (``1`` and ``4``).
Measurements are cached in memory; with
:func:`jaxtune.parallel.enable_calibration_cache` they are also kept on disk (see
``calibration_cache``), so a new process reuses them and compiles only the size it runs.

Memory is XLA's own estimate for the compiled program (``compiled.memory_analysis()``);
before compiling a candidate, it is extrapolated linearly from the ones compiled so far.
"""

from __future__ import annotations

import collections
import dataclasses
import math
import os
import time
from collections.abc import Callable, Iterable, Sequence
from typing import NamedTuple

import jax
import numpy as np
from jax.experimental import multihost_utils

from jaxtune.parallel.job import Job
from jaxtune.parallel.programs import Placement, Program, Signature

# Screening: growth stops below STOP_RATIO of the best rate; finalists are within
# FINALIST_RATIO of it, at most MAX_FINALISTS of them.
STOP_RATIO = 0.6
FINALIST_RATIO = 0.75
MAX_FINALISTS = 4
SCREEN_SAMPLES = 3
# A sample runs enough chunks to last SAMPLE_SECONDS (at most MAX_GROUP chunks).
SAMPLE_SECONDS = 0.05
MAX_GROUP = 16
# Final rounds: at least MIN_ROUNDS, then until ROUND_SECONDS are spent in them, the
# budget is spent, or MAX_ROUNDS.
MIN_ROUNDS, MAX_ROUNDS = 3, 9
ROUND_SECONDS = 1.5
# Time budget for running calibration chunks (compiling excluded): BUDGET_FRACTION of
# the sequential run's predicted time, at least MIN_BUDGET_SECONDS. Past it, calibration
# takes fewer samples, screens no further sizes and ends the final rounds early.
BUDGET_FRACTION = 0.5
MIN_BUDGET_SECONDS = 1.0
# Sizes whose predicted time is within the noise band of the fastest count as tied; the
# largest wins. The band is the final rounds' relative spread, clipped to [TIE, MAX_NOISE].
TIE = 0.05
MAX_NOISE = 0.15
# A warm-up chunk this long, at under half the best rate, is clearly worse: no samples.
LONG_CHUNK_SECONDS = 0.25
# Default memory budget: this fraction of a device's memory (of RAM for CPU devices).
ACCELERATOR_FRACTION = 0.9
CPU_FRACTION = 0.5
_MAX_CALIBRATIONS = 256


class Calibration(NamedTuple):
    """Measured cost of chunk sizes for one function, input layout, n-bucket and placement.

    Attributes:
      bucket: lanes per device of the full-vmap candidate (``n`` per device rounded up to
        a size bucket); every size tried is at most this.
      seconds: ``(k, seconds per chunk)`` for every size tried, ``k`` in lanes per device.
      memory: ``(k, bytes)`` estimated peak memory per device, None where unknown.
      calibration_seconds: wall time spent calibrating, compiling included.
      noise: relative timing noise: predictions within ``1 + noise`` of the fastest are
        tied (the largest size wins). Measured from the spread of the final rounds,
        between ``TIE`` (5 %) and ``MAX_NOISE`` (15 %).
    """

    bucket: int
    seconds: tuple[tuple[int, float], ...]
    memory: tuple[tuple[int, int | None], ...]
    calibration_seconds: float
    noise: float = TIE

    def best(self, n: int, n_devices: int, max_memory: int | None) -> int:
        """Lanes per device that run ``n`` trials fastest within ``max_memory`` bytes."""
        memory = dict(self.memory)
        fits = [
            (k, s)
            for k, s in self.seconds
            if max_memory is None or memory[k] is None or memory[k] <= max_memory
        ]
        if not fits:
            fits = [min(self.seconds)]  # nothing fits: the smallest program tried
        predicted = {k: math.ceil(n / (k * n_devices)) * s for k, s in fits}
        fastest = min(predicted.values())
        # Sizes that timing cannot tell apart are tied; the biggest dispatches least, and
        # preferring it keeps the choice from flipping with the noise from run to run.
        return max(k for k, t in predicted.items() if t <= (1 + self.noise) * fastest)


_CALIBRATIONS: collections.OrderedDict[tuple[Signature, int], Calibration] = (
    collections.OrderedDict()
)


def clear_calibrations() -> None:
    """Forget every calibration."""
    _CALIBRATIONS.clear()


def cached_calibrations() -> tuple[Calibration, ...]:
    """Every cached calibration, oldest first."""
    return tuple(_CALIBRATIONS.values())


def lookup(sig: Signature, bucket: int) -> Calibration | None:
    return _CALIBRATIONS.get((sig, bucket))


def store(sig: Signature, bucket: int, calibration: Calibration) -> None:
    _CALIBRATIONS[(sig, bucket)] = calibration
    while len(_CALIBRATIONS) > _MAX_CALIBRATIONS:
        _CALIBRATIONS.popitem(last=False)


def default_max_memory(placement: Placement) -> int | None:
    """A safe memory budget per device: a fraction of free device memory or of RAM."""
    device = placement.local_device
    if device.platform == "cpu":
        try:
            ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        except (ValueError, OSError, AttributeError):
            return None
        # CPU "devices" (xla_force_host_platform_device_count) share one RAM.
        return int(CPU_FRACTION * ram / max(1, len(jax.local_devices(backend="cpu"))))
    try:
        stats = device.memory_stats()
    except (NotImplementedError, jax.errors.JaxRuntimeError):
        return None
    if not stats or "bytes_limit" not in stats:
        return None
    free = stats["bytes_limit"] - stats.get("bytes_in_use", 0)
    return int(ACCELERATOR_FRACTION * free)


def candidates(bucket: int) -> list[int]:
    """Powers of four below ``bucket``, then ``bucket`` itself."""
    ks = [1]
    while ks[-1] * 4 < bucket:
        ks.append(ks[-1] * 4)
    if bucket > 1:
        ks.append(bucket)
    return ks


def _agree(seconds: float, placement: Placement) -> float:
    """The same measurement on every process, so all of them pick the same programs."""
    if not placement.multi_process:
        return seconds
    return float(multihost_utils.broadcast_one_to_all(np.float64(seconds)))


@dataclasses.dataclass
class _Candidate:
    program: Program
    group: int  # chunks per sample
    samples: list[float]  # seconds per chunk


def _group(seconds_per_chunk: float) -> int:
    """Chunks per sample, so that a sample lasts about SAMPLE_SECONDS."""
    return min(MAX_GROUP, max(1, math.ceil(SAMPLE_SECONDS / max(seconds_per_chunk, 1e-9))))


@dataclasses.dataclass
class _Timer:
    """Times chunks of a job, and adds up the time calibration spends running them."""

    job: Job
    spent: float = 0.0

    def run(self, program: Program, chunks: int) -> float:
        seconds = _agree(self.job.run_timed(program, chunks), self.job.placement)
        self.spent += seconds * chunks
        return seconds

    def sample(self, candidate: _Candidate) -> float:
        seconds = self.run(candidate.program, candidate.group)
        candidate.samples.append(seconds)
        return seconds


def calibrate(
    job: Job,
    program_for: Callable[[int], Program],
    bucket: int,
    max_memory: int | None,
) -> Calibration:
    """Time candidate chunk sizes on the next trials of ``job``; see the module docstring.

    Args:
      job: the run; calibration chunks take its next trials and keep their outputs.
      program_for: lanes per device -> compiled program.
      bucket: ``n`` per device rounded up to a size bucket.
      max_memory: bytes per device, or None for no limit.

    Returns:
      The measurements.

    Raises:
      ValueError: when even one trial per device needs more than ``max_memory``.
    """
    started = time.perf_counter()
    timer = _Timer(job)
    found: dict[int, _Candidate] = {}
    memory: dict[int, int | None] = {}
    d = job.placement.n_devices
    budget = MIN_BUDGET_SECONDS  # raised once one trial's time is known

    def rate(k: int) -> float:
        return k * d / float(np.median(found[k].samples))

    def best_rate() -> float:
        return max((rate(j) for j in found), default=0.0)

    def too_big(k: int) -> bool:
        known = sorted((j, m) for j, m in memory.items() if m is not None)
        if max_memory is None or not known:
            return False
        if len(known) == 1:
            return known[0][1] * k / known[0][0] > max_memory
        (k0, m0), (k1, m1) = known[0], known[-1]
        slope = max(0.0, (m1 - m0) / (k1 - k0))
        return m0 + slope * (k - k0) > max_memory

    def screen(k: int) -> bool:
        """Compile, warm up and time k lanes per device; False when over max_memory."""
        if k > 1 and too_big(k):
            return False
        compiling = time.perf_counter()
        program = program_for(k)
        # Compiling counts against the budget: a run too short to repay compiling another
        # size (a cold cache, a few trials) stops screening early instead.
        timer.spent += _agree(time.perf_counter() - compiling, job.placement)
        memory[k] = program.memory_bytes
        if max_memory is not None and (program.memory_bytes or 0) > max_memory:
            if k == 1:
                raise ValueError(
                    f"max_memory={max_memory} bytes is below the {program.memory_bytes} "
                    "bytes one trial per device needs; raise max_memory."
                )
            del memory[k]
            return False
        best = best_rate()
        warm = timer.run(program, 1)
        found[k] = candidate = _Candidate(program, _group(warm), [])
        if warm > LONG_CHUNK_SECONDS and k * d / warm < 0.5 * best:
            candidate.samples.append(warm)  # clearly worse; more samples only cost time
            return True
        while len(candidate.samples) < SCREEN_SAMPLES:
            if candidate.samples and timer.spent >= budget:
                break
            timer.sample(candidate)
        # The warm-up chunk runs slow; size the final samples from the screening ones.
        candidate.group = _group(float(np.median(candidate.samples)))
        return True

    for i, k in enumerate(candidates(bucket)):
        if i >= 2 and timer.spent >= budget:
            break
        if not screen(k):
            break
        if k == 1:
            # Half the time the sequential loop would take for the whole run.
            sequential = job.trials.n / rate(1)
            budget = max(MIN_BUDGET_SECONDS, BUDGET_FRACTION * sequential)
        if rate(k) < STOP_RATIO * best_rate():
            break
    best_k = max(found, key=rate)
    for k in (best_k // 2, best_k * 2):
        if 1 <= k <= bucket and k not in found and timer.spent < budget:
            screen(k)

    best = best_rate()
    finalists = [
        k for k in sorted(found, key=rate, reverse=True) if rate(k) >= FINALIST_RATIO * best
    ]
    finalists = finalists[:MAX_FINALISTS]
    seconds = {k: float(np.median(c.samples)) for k, c in found.items()}
    noise = TIE
    if len(finalists) > 1:
        rounds: dict[int, list[float]] = {k: [] for k in finalists}
        in_rounds = 0.0
        for r in range(MAX_ROUNDS):
            if r >= MIN_ROUNDS and (in_rounds >= ROUND_SECONDS or timer.spent >= budget):
                break
            before = timer.spent
            # Alternate the order so neither end of a round is always the first one run.
            for k in finalists if r % 2 == 0 else finalists[::-1]:
                rounds[k].append(timer.sample(found[k]))
            in_rounds += timer.spent - before
        seconds.update({k: float(np.median(ts)) for k, ts in rounds.items()})
        noise = noise_of(rounds.values())
    return Calibration(
        bucket=bucket,
        seconds=tuple(sorted(seconds.items())),
        memory=tuple(sorted((k, memory[k]) for k in found)),
        calibration_seconds=time.perf_counter() - started,
        noise=noise,
    )


def noise_of(rounds: Iterable[Sequence[float]]) -> float:
    """Relative noise of repeated timings: the largest interquartile range over median.

    With three rounds that is half the range over the median. Clipped to
    ``[TIE, MAX_NOISE]``: never a tighter band than 5 %, and a size more than 15 % slower
    is never called a tie.
    """
    spreads = [0.0]
    for ts in rounds:
        q1, median, q3 = np.percentile(ts, [25, 50, 75])
        if median > 0:
            spreads.append(float((q3 - q1) / median))
    return float(np.clip(max(spreads), TIE, MAX_NOISE))
