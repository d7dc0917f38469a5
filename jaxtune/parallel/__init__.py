"""Run any pure ``fn(hparams, key)`` over many trials at once (layer 3).

This layer knows nothing about neural networks. :func:`run` batches trials with
``jax.vmap`` in chunks (``chunk_size="auto"`` measures the best size), over local devices
or a multi-host mesh; :func:`enable_compilation_cache` keeps compiled programs on disk,
:func:`enable_calibration_cache` the auto measurements. Inside: ``checks`` (arguments,
before anything is traced), ``programs`` (compiled chunk programs and their cache), ``job``
(dispatching chunks), ``calibrate`` (auto chunk size), ``calibration_cache`` (its files),
``engine`` (:func:`run` itself), ``default_caches`` (both caches in their default folders,
as a sweep turns them on).
"""

from jaxtune.parallel.calibrate import Calibration, cached_calibrations
from jaxtune.parallel.calibration_cache import (
    calibration_cache_dir,
    default_calibration_cache_dir,
    disable_calibration_cache,
    enable_calibration_cache,
)
from jaxtune.parallel.checks import check_chunk_size
from jaxtune.parallel.default_caches import caches_off, enable_default_caches, unsafe_folder
from jaxtune.parallel.engine import (
    choose_chunk_size,
    clear_cache,
    enable_compilation_cache,
    run,
)
from jaxtune.parallel.job import Chunk
from jaxtune.parallel.programs import TRIALS, cached_programs, jaxpr_text

__all__ = [
    "TRIALS",
    "Calibration",
    "Chunk",
    "cached_calibrations",
    "cached_programs",
    "caches_off",
    "calibration_cache_dir",
    "check_chunk_size",
    "choose_chunk_size",
    "clear_cache",
    "default_calibration_cache_dir",
    "disable_calibration_cache",
    "enable_calibration_cache",
    "enable_compilation_cache",
    "enable_default_caches",
    "jaxpr_text",
    "run",
    "unsafe_folder",
]
