"""Work for a backend: groups of trials cut into chunks by trial index.

A :class:`GroupJob` is one static group of a sweep round (or one ``parallel.run`` call):
its trials' hyperparameters and keys on the host, its chunk size and the callback that
persists each finished chunk. :func:`cut` splits it into :class:`ChunkSpec` pieces of
``chunk_size`` consecutive trials, exactly the pieces :func:`jaxtune.parallel.run` runs
locally with the same ``chunk_size``: each piece runs in the same compiled program on
whatever worker takes it, so its numbers do not depend on the worker.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import jax
import numpy as np

__all__ = ["ChunkSpec", "GroupJob", "cut", "host_keys"]


def host_keys(keys: Any) -> tuple[np.ndarray, str | None]:
    """Keys as raw ``uint32`` data and their PRNG implementation (None: raw keys).

    Args:
        keys: typed keys (``jax.random.split(jax.random.key(0), n)``) or raw data.

    Returns:
        ``(data, impl)``: ``jax.random.wrap_key_data(data, impl=impl)`` gives them back.

    Examples:
        >>> data, impl = host_keys(jax.random.split(jax.random.key(0), 3))
        >>> data.shape, impl
        ((3, 2), 'threefry2x32')
    """
    if hasattr(keys, "dtype") and jax.dtypes.issubdtype(keys.dtype, jax.dtypes.prng_key):
        return np.asarray(jax.random.key_data(keys)), str(jax.random.key_impl(keys))
    return np.asarray(keys), None


@dataclasses.dataclass
class GroupJob:
    """The trials of one compiled program, to run chunk by chunk on workers.

    Attributes:
        source: what a worker builds the training function from: ``(space_dict, group)``
            for a sweep task's trainer, or None for the backend's own function.
        hparams: ``{name: array}`` with a leading trial axis, on the host.
        key_data: raw key data, one row per trial.
        key_impl: the keys' PRNG implementation (None: raw keys).
        chunk_size: trials per compiled call; None runs the whole group as one chunk.
        on_chunk: called on the driver as ``on_chunk(done, total, chunk)`` with a
            :class:`jaxtune.parallel.Chunk` for every finished chunk, in any order.
    """

    source: Any
    hparams: dict[str, np.ndarray]
    key_data: np.ndarray
    key_impl: str | None
    chunk_size: int | None
    on_chunk: Callable[..., Any] | None = None
    done: int = 0

    @property
    def n(self) -> int:
        """Number of trials."""
        return len(self.key_data)

    def piece(self, start: int, stop: int) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """Hyperparameters and key data of trials ``start .. stop - 1``."""
        return {k: v[start:stop] for k, v in self.hparams.items()}, self.key_data[start:stop]


@dataclasses.dataclass
class ChunkSpec:
    """Trials ``start .. stop - 1`` of job ``job``, and how often a worker died on them."""

    job: int
    start: int
    stop: int
    failures: int = 0


def cut(jobs: list[GroupJob]) -> list[ChunkSpec]:
    """Every job's chunks, in order: ``chunk_size`` consecutive trials each.

    Args:
        jobs: the jobs; a job with ``chunk_size=None`` is one chunk.

    Returns:
        The chunks of job 0, then job 1, and so on.

    Examples:
        >>> job = GroupJob(None, {}, np.zeros((5, 2), np.uint32), None, 2)
        >>> [(c.start, c.stop) for c in cut([job])]
        [(0, 2), (2, 4), (4, 5)]
    """
    specs = []
    for j, job in enumerate(jobs):
        size = job.n if job.chunk_size is None else int(job.chunk_size)
        specs += [ChunkSpec(j, s, min(s + size, job.n)) for s in range(0, job.n, size)]
    return specs
