"""Run one pure training function over many trials at once.

:func:`run` takes any pure ``fn(hparams, key) -> pytree`` (it knows nothing about neural
networks) and a batch of ``n`` trials, and returns the ``n`` outputs stacked in trial
order. Three strategies, picked by ``chunk_size`` and ``devices``:

- full vmap (``chunk_size=None``): all trials in one compiled program;
- chunks (``chunk_size=k``): ``k`` trials per compiled call, a Python loop over chunks,
  so ``on_chunk`` can report progress and persist each finished piece; ``"auto"`` times
  a few sizes on the first chunks of the run and keeps the fastest;
- sharded (``devices=[...]`` or a ``jax.sharding.Mesh`` with a ``"trials"`` axis): every
  chunk is split over the devices, ``k`` trials per device.

Trials are padded up to whole chunks (and, for full vmap, to a size bucket) by repeating
the last trial, so sweeps of different sizes reuse one compiled program; padding lanes
never reach the output. Compiled programs are cached per function, per-trial shapes,
chunk size and placement: calling again with the same shapes does not trace ``fn`` again.

Examples:

  >>> import jax, jax.numpy as jnp
  >>> from jaxtune import parallel
  >>> def fn(hp, key):  # a stand-in for a training run
  ...     return {"loss": (hp["lr"] - 0.1) ** 2, "noise": jax.random.normal(key)}
  >>> hp = {"lr": jnp.array([0.05, 0.1, 0.2])}
  >>> out = parallel.run(fn, hp, jax.random.key(0), chunk_size=2)
  >>> out["loss"].round(4)
  array([0.0025, 0.    , 0.01  ], dtype=float32)
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from typing import Any, Literal

import jax
import numpy as np
from jax.experimental.compilation_cache import compilation_cache as _compilation_cache
from jax.sharding import Mesh

from jaxtune.parallel import calibrate, calibration_cache, checks, programs
from jaxtune.parallel.calibrate import Calibration, cached_calibrations
from jaxtune.parallel.job import Chunk, Job
from jaxtune.parallel.programs import TRIALS

__all__ = [
    "TRIALS",
    "Calibration",
    "Chunk",
    "cached_calibrations",
    "clear_cache",
    "enable_compilation_cache",
    "run",
]

ChunkSize = int | Literal["auto"] | None
Devices = Sequence[jax.Device] | Mesh | jax.Device | None


def run(
    fn: Callable[[Any, jax.Array], Any],
    hparams: Any,
    keys: jax.Array | np.ndarray,
    *,
    chunk_size: ChunkSize = "auto",
    devices: Devices = None,
    max_memory: int | None = None,
    on_chunk: Callable[..., Any] | None = None,
) -> Any:
    """Run ``fn(hparams[i], keys[i])`` for every trial ``i``, many trials at a time.

    ``chunk_size="auto"`` measures rather than guesses, because on CPU batching many
    trials is sometimes twice as fast as a loop and sometimes half as fast. On the first
    call for a given function, per-trial input shapes, n-bucket (``n`` per device rounded
    up: a power of two up to 16, above that a multiple of an eighth of the next power of
    two, so at most a quarter is padding) and placement, it times chunk sizes
    ``1, 4, 16, ...`` and the bucket itself (full vmap) on the run's own first trials,
    whose outputs are kept:
    each size is compiled (not timed), warmed up and timed over back-to-back chunks;
    growth stops once throughput falls below 60 % of the best; the powers of two beside
    the best are tried too; then the sizes within 75 % of the best are timed again in
    interleaved rounds, and each size's cost is its median seconds per chunk. Sizes whose
    memory (XLA's ``compiled.memory_analysis()``, extrapolated linearly before compiling)
    exceeds ``max_memory`` are skipped. The size chosen is the largest whose predicted
    time ``ceil(n / (k * devices)) * seconds_per_chunk(k)`` (padding included) is within
    the timing noise of the fastest: the spread of the final rounds, at least 5 % and at
    most 15 %. Sizes that timing cannot tell apart thus go to the bigger chunk (fewer
    dispatches), and the choice does not flip with the noise from run to run. Since
    ``k=1`` (the sequential loop) is always measured, auto is never clearly slower than
    it. Timing takes at most about half the sequential run's time (at least 1 s) plus one
    compile per size tried. The measurements are cached (see
    :func:`cached_calibrations`, :func:`clear_cache`): later calls do not calibrate. With
    :func:`enable_calibration_cache` they are also kept on disk, and a new process running
    the same program reuses them: no timing, and only the chosen size is compiled.

    Args:
      fn: a pure function ``fn(hparams_i, key_i) -> pytree`` of one trial. It is traced
        (not run eagerly) and batched with ``jax.vmap``; reuse the same function object
        to reuse its compiled programs.
      hparams: a pytree whose leaves (NumPy or jax arrays) share a leading trial axis of
        length ``n >= 1``, e.g. a sample from :mod:`jaxtune.space`. It may have no
        leaves, e.g. ``{}`` for a sweep over seeds only; ``n`` then comes from ``keys``.
      keys: ``n`` PRNG keys, typed (``jax.random.split(jax.random.key(0), n)``) or raw
        ``uint32`` of shape ``(n, 2)``; trial ``i`` gets ``keys[i]`` in the same form.
        A single key is split with ``jax.random.split(keys, n)`` first.
      chunk_size: trials per device per compiled call: a positive int, ``None`` for all
        trials in one call (full vmap), or ``"auto"``. Sizes above ``n`` per device are
        lowered to the full-vmap size.
      devices: where to run: None (the default device), one ``jax.Device``, a sequence of
        devices, or a ``jax.sharding.Mesh`` with a ``"trials"`` axis. Trials are split
        over the devices along ``"trials"`` with ``NamedSharding(mesh, P("trials"))``,
        ``n`` is padded to a multiple of the device count times the chunk size, and any
        other mesh axes hold replicas. After ``jax.distributed.initialize()``, pass the
        global ``jax.devices()``; every process must then call ``run`` with the same
        arguments and receives all outputs.
      max_memory: device memory budget in bytes per device for ``"auto"`` (default: 90 %
        of free accelerator memory, or half the RAM shared by the CPU devices). With an
        explicit ``chunk_size``, a program needing more raises ``ValueError`` before it
        runs; by default that check is off.
      on_chunk: called after each chunk with ``(done, total)``, the number of finished
        trials and ``n``; ``done`` grows to ``n``. A callback taking a third positional
        argument also receives a :class:`Chunk` with the chunk's trial range and its
        outputs, e.g. to persist them. It runs on every process.

    Returns:
      The outputs of ``fn``, each leaf stacked over trials (leading axis exactly ``n``,
      trial order) as NumPy arrays; typed PRNG keys come back as jax key arrays.

    Raises:
      TypeError: when ``fn`` or ``on_chunk`` is not callable, or an argument has the wrong
        type (``chunk_size``, ``max_memory``, ``devices``, a leaf of ``hparams``, ``keys``).
      ValueError: when leaves of ``hparams`` disagree on the number of trials, ``n < 1``,
        ``chunk_size < 1``, ``keys`` holds a different number of keys, ``devices`` is
        empty or has no ``"trials"`` axis, or the memory budget cannot be met.

    Examples:

      >>> import jax, numpy as np
      >>> from jaxtune import parallel
      >>> def train(hp, key):  # stands in for a whole training run
      ...     w = jax.random.normal(key)
      ...     for _ in range(3):
      ...         w = w - hp["lr"] * 2 * w  # gradient steps on w**2
      ...     return {"w": w, "lr": hp["lr"]}
      >>> hp = {"lr": np.array([0.1, 0.2, 0.3, 0.4, 0.5], np.float32)}
      >>> keys = jax.random.split(jax.random.key(0), 5)
      >>> out = parallel.run(
      ...     train, hp, keys, chunk_size=2, on_chunk=lambda done, n: print(f"{done}/{n}")
      ... )
      2/5
      4/5
      5/5
      >>> out["lr"]
      array([0.1, 0.2, 0.3, 0.4, 0.5], dtype=float32)
      >>> alone = train({"lr": np.float32(0.4)}, keys[3])  # trial 3 on its own
      >>> bool(np.isclose(out["w"].tolist()[3], alone["w"]))
      True
    """
    if not callable(fn):
        raise TypeError(f"fn must be callable; got {type(fn).__name__}.")
    if on_chunk is not None and not callable(on_chunk):
        raise TypeError(f"on_chunk must be callable or None; got {type(on_chunk).__name__}.")
    checks.check_chunk_size(chunk_size)
    max_memory = checks.check_max_memory(max_memory)
    placement = checks.placement_of(devices)
    trials = checks.trials_of(hparams, keys)

    n, d = trials.n, placement.n_devices
    bucket = checks.bucket_of(math.ceil(n / d))
    sig = programs.signature(fn, trials, placement)
    job = Job(trials, placement, on_chunk, checks.takes_chunk(on_chunk))

    auto = isinstance(chunk_size, str)  # "auto", checked above
    if auto and bucket > 1:
        calibration, budget = _calibration(fn, sig, job, bucket, placement, max_memory)
        lanes = calibration.best(max(job.remaining, 1), d, budget)
    elif chunk_size is None or auto:
        lanes = bucket
    else:
        lanes = min(int(chunk_size), bucket)

    if job.remaining > 0:
        program = programs.get_program(fn, sig, lanes)
        if (
            max_memory is not None
            and program.memory_bytes is not None
            and program.memory_bytes > max_memory
        ):
            raise ValueError(
                f"max_memory={max_memory} bytes is below the {program.memory_bytes} bytes "
                f"that {lanes} trial(s) per device need; lower chunk_size or raise max_memory."
            )
        job.run_rest(program)
    return job.result()


def _calibration(
    fn: Callable[..., Any], sig: Any, job: Job, bucket: int, placement: Any, max_memory: Any
) -> tuple[Calibration, int | None]:
    """The measurements for ``sig`` at ``bucket``: in memory, on disk, or taken now."""
    budget = max_memory if max_memory is not None else calibrate.default_max_memory(placement)
    calibration = calibrate.lookup(sig, bucket)
    if calibration is None:
        on_disk = calibration_cache.entry(fn, sig, bucket)
        calibration = calibration_cache.load(on_disk, placement)
        if calibration is None:
            calibration = calibrate.calibrate(
                job, lambda k: programs.get_program(fn, sig, k), bucket, budget
            )
            calibration_cache.save(on_disk, calibration)
        calibrate.store(sig, bucket, calibration)
    return calibration, budget


def choose_chunk_size(
    fn: Callable[[Any, jax.Array], Any],
    hparams: Any,
    keys: jax.Array | np.ndarray,
    *,
    devices: Devices = None,
    max_memory: int | None = None,
) -> int:
    """The chunk size ``chunk_size="auto"`` would pick for these trials, without a run.

    Calibration (when nothing is cached) runs on the trials' first chunks and throws the
    outputs away, so a caller that then runs every trial with the returned size computes
    each one in the same program, whatever ran before: what a sweep needs for resumed and
    repeated runs to agree bit for bit.

    Args:
      fn: as for :func:`run`.
      hparams: as for :func:`run`.
      keys: as for :func:`run`.
      devices: as for :func:`run`.
      max_memory: as for :func:`run`.

    Returns:
      Trials per device per compiled call, to pass as ``chunk_size``.

    Examples:

      >>> import jax, numpy as np
      >>> from jaxtune import parallel
      >>> k = parallel.choose_chunk_size(
      ...     lambda hp, key: hp["x"] ** 2, {"x": np.ones(3, np.float32)}, jax.random.key(0)
      ... )
      >>> 1 <= k <= 4
      True
    """
    max_memory = checks.check_max_memory(max_memory)
    placement = checks.placement_of(devices)
    trials = checks.trials_of(hparams, keys)
    bucket = checks.bucket_of(math.ceil(trials.n / placement.n_devices))
    if bucket == 1:
        return 1
    sig = programs.signature(fn, trials, placement)
    job = Job(trials, placement)
    calibration, budget = _calibration(fn, sig, job, bucket, placement, max_memory)
    return calibration.best(trials.n, placement.n_devices, budget)


def clear_cache() -> None:
    """Forget compiled chunk programs and ``chunk_size="auto"`` calibrations in memory.

    Files on disk (:func:`enable_compilation_cache`, :func:`enable_calibration_cache`)
    stay, so the next call behaves as a new process would.

    Examples:

      >>> from jaxtune import parallel
      >>> parallel.clear_cache()
      >>> parallel.cached_calibrations()
      ()
    """
    programs.clear_programs()
    calibrate.clear_calibrations()


def enable_compilation_cache(
    path: str | os.PathLike[str],
    *,
    min_compile_time_secs: float = 0.0,
    min_entry_size_bytes: int = 0,
) -> None:
    """Keep compiled programs on disk, so a new process skips compiling them again.

    Wraps jax's persistent compilation cache. jax's defaults only store programs that took
    at least a second to compile; here every program is stored by default, since a sweep
    compiles one per chunk size and static group and each costs seconds on CPU. The cache
    is trusted code: never point it at a directory others can write to. It does not keep
    ``chunk_size="auto"`` measurements: :func:`enable_calibration_cache` does.

    Args:
      path: directory for the cache (created if missing). Calling again with another
        path switches to it.
      min_compile_time_secs: only store programs that took at least this long to compile.
      min_entry_size_bytes: only store programs at least this large.

    Examples:

      >>> import tempfile
      >>> from jaxtune import parallel
      >>> with tempfile.TemporaryDirectory() as tmp:  # doctest: +SKIP
      ...     parallel.enable_compilation_cache(tmp)
    """
    path = os.fspath(path)
    os.makedirs(path, exist_ok=True)
    if jax.config.jax_compilation_cache_dir not in (None, path):
        # jax opens the cache directory once; switching needs a reset.
        _compilation_cache.reset_cache()
    jax.config.update("jax_compilation_cache_dir", path)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", float(min_compile_time_secs))
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", int(min_entry_size_bytes))
