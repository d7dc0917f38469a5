"""Argument checks of :func:`jaxtune.parallel.run`: all run before anything is traced.

They are public inside the package so that callers that take the same arguments (a
sweep's ``chunk_size``) check them where the value enters, with the same words.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh

from jaxtune.parallel import programs
from jaxtune.parallel.programs import TRIALS, Placement, Trials

__all__ = [
    "bucket_of",
    "check_chunk_size",
    "check_max_memory",
    "keys_of",
    "placement_of",
    "takes_chunk",
    "trials_of",
]


def check_chunk_size(chunk_size: Any) -> None:
    if chunk_size is None:
        return
    if isinstance(chunk_size, str):
        if chunk_size != "auto":
            raise ValueError(
                f"chunk_size must be a positive int, None or 'auto'; got {chunk_size!r}."
            )
        return
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int | np.integer):
        raise TypeError(
            f"chunk_size must be a positive int, None or 'auto'; got {type(chunk_size).__name__}."
        )
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be at least 1; got {chunk_size}.")


def check_max_memory(max_memory: Any) -> int | None:
    if max_memory is None:
        return None
    if isinstance(max_memory, bool) or not isinstance(max_memory, int | float | np.number):
        raise TypeError(f"max_memory must be a number of bytes; got {type(max_memory).__name__}.")
    if not max_memory > 0:
        raise ValueError(f"max_memory must be positive; got {max_memory}.")
    return int(max_memory)


def placement_of(devices: Any) -> Placement:
    if devices is None:
        default = jax.config.jax_default_device
        device = default if isinstance(default, jax.Device) else jax.local_devices()[0]
        return Placement(None, device)
    if isinstance(devices, jax.Device):
        return Placement(None, devices)
    if isinstance(devices, Mesh):
        if TRIALS not in devices.axis_names:
            raise ValueError(
                f"devices is a Mesh with axes {devices.axis_names}; it needs a {TRIALS!r} axis."
            )
        return Placement(devices, None)
    if isinstance(devices, str) or not isinstance(devices, Sequence):
        raise TypeError(
            "devices must be None, a jax.Device, a sequence of devices or a Mesh; "
            f"got {type(devices).__name__}."
        )
    devices = list(devices)
    if not devices:
        raise ValueError("devices is empty; pass at least one device.")
    if not all(isinstance(d, jax.Device) for d in devices):
        raise TypeError("devices must hold only jax.Device objects.")
    if len(set(devices)) != len(devices):
        raise ValueError("devices lists a device more than once.")
    return Placement(Mesh(np.array(devices), (TRIALS,)), None)


def trials_of(hparams: Any, keys: Any) -> Trials:
    with_path, treedef = jax.tree_util.tree_flatten_with_path(hparams)
    n: int | None = None
    first = ""
    leaves, specs = [], []
    for path, leaf in with_path:
        name = "hparams" + jax.tree_util.keystr(path)
        if not programs.is_key(leaf):
            leaf = np.asarray(leaf)
            if not (leaf.dtype == bool or jnp.issubdtype(leaf.dtype, np.number)):
                raise TypeError(f"{name} must hold numbers; got dtype {leaf.dtype}.")
        if leaf.ndim == 0:
            raise ValueError(f"{name} has no leading trial axis; every leaf needs one.")
        data, impl = programs.host_leaf(leaf)
        if n is None:
            n, first = data.shape[0], name
        elif data.shape[0] != n:
            raise ValueError(
                f"{name} has {data.shape[0]} trials on its leading axis but {first} has {n}."
            )
        leaves.append(data)
        specs.append((data.shape[1:], data.dtype, impl))
    if n is not None and n < 1:
        raise ValueError(f"hparams holds {n} trials; need at least 1.")
    key_data, key_spec = keys_of(keys, n)
    n = key_data.shape[0]
    return Trials(n, tuple(leaves), treedef, tuple(specs), key_data, key_spec)


def keys_of(keys: Any, n: int | None) -> tuple[np.ndarray, programs.LeafSpec]:
    raw_shape = programs.raw_key_shape()
    if programs.is_key(keys):
        single, batch = keys.ndim == 0, keys.ndim == 1
    else:
        if not hasattr(keys, "dtype"):
            raise TypeError(
                "keys must be typed PRNG keys (jax.random.key) or raw uint32 keys "
                f"(jax.random.PRNGKey); got {type(keys).__name__}."
            )
        if keys.dtype != np.uint32:
            raise TypeError(f"raw keys must have dtype uint32; keys has dtype {keys.dtype}.")
        single = tuple(keys.shape) == raw_shape
        batch = keys.ndim == len(raw_shape) + 1 and tuple(keys.shape[1:]) == raw_shape
    if not (single or batch):
        raise ValueError(
            f"keys of shape {tuple(keys.shape)} is neither one key nor a batch of keys."
        )
    if single:
        if n is None:
            raise ValueError(
                "keys is a single key and hparams has no leaves, so the number of trials is "
                "unknown; pass a batch of keys."
            )
        keys = jax.random.split(keys, n)
    elif n is None:
        if keys.shape[0] < 1:
            raise ValueError("keys holds 0 keys; need at least 1 trial.")
    elif keys.shape[0] != n:
        raise ValueError(f"keys holds {keys.shape[0]} keys but hparams holds {n} trials.")
    data, impl = programs.host_leaf(keys)
    return data, (data.shape[1:], data.dtype, impl)


def takes_chunk(on_chunk: Callable[..., Any] | None) -> bool:
    """Whether ``on_chunk`` accepts a third positional argument (the :class:`Chunk`)."""
    if on_chunk is None:
        return False
    try:
        params = inspect.signature(on_chunk).parameters.values()
    except (TypeError, ValueError):  # builtins without a signature
        return False
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    if any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in params):
        return True
    return sum(p.kind in positional for p in params) >= 3


def bucket_of(x: int) -> int:
    """``x`` rounded up to a size bucket: sweeps of nearby sizes then share a program.

    Powers of two up to 16; above, multiples of an eighth of the next power of two
    (four buckets per octave), so padding wastes at most a quarter of the work rather
    than up to half of it.
    """
    top = 1 << max(0, x - 1).bit_length()
    if top <= 16:
        return top
    step = top // 8
    return -(-x // step) * step
