"""Backends: where a sweep's chunks of trials run (beside :mod:`jaxtune.parallel`).

The default runs every chunk in this process (:func:`jaxtune.parallel.run`).
:class:`RayBackend` runs them on Ray actors, one per GPU (or CPU slot) of a cluster,
while the driver keeps the store. Ray is optional (``pip install "jaxtune[ray]"``) and
imported only when a Ray backend first runs. Inside: ``chunks`` (groups of trials cut
into chunks by trial index), ``worker`` (the actor), ``ray_backend`` (the driver side).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping
from typing import Any

from jaxtune.backends.chunks import ChunkSpec, GroupJob, cut
from jaxtune.backends.ray_backend import FORK_WARNING, RESOURCE_KEYS, RayBackend
from jaxtune.backends.worker import ChunkWorker

__all__ = [
    "BACKENDS",
    "FORK_WARNING",
    "RESOURCE_KEYS",
    "ChunkSpec",
    "ChunkWorker",
    "GroupJob",
    "RayBackend",
    "as_backend",
    "cut",
]

BACKENDS = ("local", "ray")


def as_backend(spec: Any) -> RayBackend | None:
    """A backend from what ``Sweep(backend=...)`` or a config's ``backend`` accepts.

    Args:
        spec: None or ``"local"`` (this process), ``"ray"``, a dict with ``kind`` and
            the backend's options (``{"kind": "ray", "address": "auto"}``), or a backend.

    Returns:
        None for the local backend, else the backend.

    Raises:
        ValueError: an unknown kind or option, naming the allowed ones; Ray missing.

    Examples:
        >>> as_backend("local") is None
        True
        >>> as_backend({"kind": "ray", "max_retries": 1}).max_retries
        1
    """
    if spec is None or spec == "local":
        return None
    if importlib.util.find_spec("ray") is None:  # before any file is written
        raise ValueError("backend: Ray is not installed; pip install 'jaxtune[ray]'")
    if isinstance(spec, RayBackend):
        return spec
    if spec == "ray":
        return RayBackend()
    if isinstance(spec, Mapping):
        options = dict(spec)
        kind = options.pop("kind", None)
        if kind in (None, "local") and not options:
            return None
        if kind != "ray":
            raise ValueError(f"backend.kind must be one of {list(BACKENDS)}, got {kind!r}")
        allowed = (
            "address",
            "resources",
            "max_retries",
            "actors",
            "runtime_env",
            "compilation_cache",
        )
        unknown = sorted(set(options) - set(allowed))
        if unknown:
            raise ValueError(f"backend: unknown option {unknown[0]!r}; allowed: {list(allowed)}")
        return RayBackend(**options)
    raise ValueError(
        f"backend must be one of {list(BACKENDS)}, a dict with 'kind', or a RayBackend; "
        f"got {spec!r}"
    )
