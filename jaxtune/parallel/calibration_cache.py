"""``chunk_size="auto"`` measurements kept on disk, so a new process does not time again.

Calibrating costs one compile per size tried plus seconds of timing, in every new process,
and timing noise may pick another size each time. With the cache on
(:func:`enable_calibration_cache`), the first process to calibrate a program writes its
:class:`~jaxtune.parallel.Calibration` to a small JSON file; a later process running the
same program reads it, picks its chunk size from it without timing anything, and compiles
only that size (which the compilation cache may then load from disk too).

A file is keyed by a SHA-256 digest of everything that changes the measurements:

- the program: ``fn``'s module and qualified name and a digest of the jaxpr of one
  unbatched trial (a trace, not a compile), the hyperparameter tree, the per-trial
  shapes and dtypes of every input, and the jax settings that change tracing;
- the size bucket (``n`` per device, rounded up);
- the placement: number of devices the trials are split over, the mesh shape, the
  number of processes, and the device's platform and kind (``device_kind``), plus for
  CPU devices the CPU model and the number of cores this process may use;
- the jax and jaxlib versions and ``XLA_FLAGS``.

The file holds the whole description next to the measurements, and a file whose
description differs (a digest collision, a file from elsewhere), that does not parse, or
whose values are out of range is ignored: the run calibrates again and overwrites it.
Files are written to a temporary file in the same directory and renamed over the target
(``os.replace``), so a reader never sees half a file and two writers never mix theirs.
A directory that cannot be written costs only the reuse, never the run.

On several hosts, only process 0 reads and writes; it broadcasts what it read to every
process, so all of them run the same programs (as with calibration itself). Whether the
cache is enabled on process 0 decides for all.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import math
import os
import re
import tempfile
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jaxlib
import numpy as np
from jax.experimental import multihost_utils

from jaxtune.parallel import programs
from jaxtune.parallel.calibrate import Calibration
from jaxtune.parallel.programs import LeafSpec, Placement, Signature

__all__ = [
    "calibration_cache_dir",
    "default_calibration_cache_dir",
    "disable_calibration_cache",
    "enable_calibration_cache",
]

FORMAT = "jaxtune-calibration/1"
_STATE: dict[str, str | None] = {"path": None}
# Object addresses ("<function f at 0x7f...>") differ between processes; drop them.
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")


def default_calibration_cache_dir() -> str:
    """``$JAXTUNE_CACHE_DIR/calibration``, or ``~/.cache/jaxtune/calibration``."""
    base = os.environ.get("JAXTUNE_CACHE_DIR")
    if not base:
        base = os.path.join(os.path.expanduser("~"), ".cache", "jaxtune")
    return os.path.join(base, "calibration")


def enable_calibration_cache(path: str | os.PathLike[str] | None = None) -> str:
    """Keep ``chunk_size="auto"`` measurements on disk, so a new process reuses them.

    Independent of :func:`enable_compilation_cache`: turn on both for the fastest first
    run in a new process (no timing, and the chosen program loaded rather than compiled).
    The files are plain JSON, checked on reading; delete the directory to calibrate anew.
    While it is on, a run that finds no calibration in memory traces ``fn`` once more
    (one unbatched trial, not compiled) to name the program in the key.

    Args:
      path: directory for the files (created if missing); default
        :func:`default_calibration_cache_dir`. Calling again switches to another path.

    Returns:
      The directory in use.

    Examples:

      >>> import tempfile
      >>> from jaxtune import parallel
      >>> with tempfile.TemporaryDirectory() as tmp:
      ...     parallel.enable_calibration_cache(tmp) == tmp
      ...     parallel.disable_calibration_cache()
      True
    """
    path = os.fspath(default_calibration_cache_dir() if path is None else path)
    os.makedirs(path, exist_ok=True)
    _STATE["path"] = path
    return path


def disable_calibration_cache() -> None:
    """Stop reading and writing calibration files (the files stay where they are)."""
    _STATE["path"] = None


def calibration_cache_dir() -> str | None:
    """The directory in use, or None while the calibration cache is off."""
    return _STATE["path"]


class Entry(NamedTuple):
    """Where one calibration lives on disk, and the description it must carry."""

    path: str
    description: dict[str, Any]
    bucket: int


def _spec(spec: LeafSpec) -> list[Any]:
    shape, dtype, impl = spec
    return [list(shape), str(dtype), impl]


@functools.cache
def _host() -> dict[str, Any]:
    """The CPU model and the number of cores this process may use."""
    model = ""
    with (
        contextlib.suppress(OSError, UnicodeDecodeError),
        open("/proc/cpuinfo", encoding="utf-8") as f,
    ):
        for line in f:
            if line.startswith("model name"):
                model = line.partition(":")[2].strip()
                break
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 0
    return {"cpu": model, "cores": cores}


def _device_kind(device: jax.Device) -> str:
    return str(device.device_kind)


def describe(fn: Callable[..., Any], sig: Signature, bucket: int) -> dict[str, Any]:
    """Everything the measurements of ``fn`` at ``bucket`` depend on, as JSON values."""
    jaxpr = _ADDRESS.sub("", programs.trial_jaxpr(fn, sig))
    placement: Placement = sig.placement
    device = placement.local_device
    mesh = placement.mesh
    description = {
        "format": FORMAT,
        "function": {
            "module": getattr(fn, "__module__", None) or type(fn).__module__,
            "qualname": getattr(fn, "__qualname__", None) or type(fn).__qualname__,
            "jaxpr": hashlib.sha256(jaxpr.encode()).hexdigest(),
        },
        "hparams": _ADDRESS.sub("", str(sig.hp_treedef)),
        "inputs": [_spec(s) for s in sig.hp_specs],
        "key": _spec(sig.key_spec),
        "config": [repr(v) for v in sig.config],
        "bucket": bucket,
        "placement": {
            "devices": placement.n_devices,
            "mesh": None if mesh is None else [[str(a), int(n)] for a, n in mesh.shape.items()],
            "processes": jax.process_count() if placement.multi_process else 1,
        },
        "device": {"platform": device.platform, "kind": _device_kind(device)},
        "host": _host() if device.platform == "cpu" else None,
        "jax": jax.__version__,
        "jaxlib": jaxlib.__version__,
        "xla_flags": os.environ.get("XLA_FLAGS", ""),
    }
    return json.loads(json.dumps(description))  # JSON values only: lists, not tuples


def digest(description: dict[str, Any]) -> str:
    """A stable file name for a description."""
    text = json.dumps(description, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:40]


def entry(fn: Callable[..., Any], sig: Signature, bucket: int) -> Entry | None:
    """This run's file, or None when the cache is off (or this process does not own it)."""
    path = _STATE["path"]
    if path is None or (sig.placement.multi_process and jax.process_index() != 0):
        return None
    try:
        description = describe(fn, sig, bucket)
    except Exception:  # fn fails to trace: compiling it will report why, properly
        return None
    return Entry(os.path.join(path, digest(description) + ".json"), description, bucket)


def load(entry: Entry | None, placement: Placement) -> Calibration | None:
    """The stored calibration, or None; on several hosts, process 0's on every process."""
    calibration = _read(entry) if entry is not None else None
    if not placement.multi_process:
        return calibration
    # Every process takes part in both broadcasts, whatever process 0 found.
    text = b"" if calibration is None else json.dumps(_to_json(calibration)).encode()
    size = int(multihost_utils.broadcast_one_to_all(np.int64(len(text))))
    if size == 0:
        return None
    mine = np.frombuffer(text, np.uint8) if len(text) == size else np.zeros(size, np.uint8)
    data = np.asarray(multihost_utils.broadcast_one_to_all(mine), np.uint8).tobytes()
    return _from_json(json.loads(data), None)


def save(entry: Entry | None, calibration: Calibration) -> None:
    """Write ``calibration`` atomically; a failure to write only loses the reuse."""
    if entry is None:
        return
    data = {"format": FORMAT, "key": entry.description, "calibration": _to_json(calibration)}
    directory = os.path.dirname(entry.path)
    try:
        os.makedirs(directory, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".calibration-", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(data, f)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, entry.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
    except OSError:
        return


def _read(entry: Entry) -> Calibration | None:
    try:
        with open(entry.path, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError):  # missing, unreadable, not UTF-8, not JSON
        return None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        return None
    if data.get("key") != entry.description:
        return None  # another program's file under this name
    return _from_json(data.get("calibration"), entry.bucket)


def _to_json(calibration: Calibration) -> dict[str, Any]:
    return {
        "bucket": calibration.bucket,
        "seconds": [[k, s] for k, s in calibration.seconds],
        "memory": [[k, m] for k, m in calibration.memory],
        "noise": calibration.noise,
        "calibration_seconds": calibration.calibration_seconds,
    }


def _count(x: Any) -> int:
    if isinstance(x, bool) or not isinstance(x, int) or x < 0:
        raise ValueError(x)
    return x


def _seconds(x: Any) -> float:
    if isinstance(x, bool) or not isinstance(x, int | float) or not math.isfinite(x) or x < 0:
        raise ValueError(x)
    return float(x)


def _from_json(data: Any, bucket: int | None) -> Calibration | None:
    """A checked Calibration, or None when anything is missing or out of range."""
    try:
        b = _count(data["bucket"])
        seconds = tuple((_count(k), _seconds(s)) for k, s in data["seconds"])
        memory = tuple((_count(k), None if m is None else _count(m)) for k, m in data["memory"])
        noise = _seconds(data["noise"])
        spent = _seconds(data["calibration_seconds"])
    except (KeyError, TypeError, ValueError):
        return None
    ks = [k for k, _ in seconds]
    if (
        (bucket is not None and b != bucket)
        or not seconds
        or ks != sorted(set(ks))
        or not all(1 <= k <= b for k in ks)
        or [k for k, _ in memory] != ks
        or not all(s > 0 for _, s in seconds)
        or noise > 1
    ):
        return None
    return Calibration(b, seconds, memory, spent, noise)
