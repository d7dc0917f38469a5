"""The long-lived worker that a backend runs as one Ray actor per resource slot.

A worker is built once with its *payload*: a sweep task (which holds its dataset) or a
plain training function. Ray resolves the payload from its object store where the actor
starts, so the data crosses the network once per node, not with every chunk. The worker
keeps every trainer it builds, and :mod:`jaxtune.parallel` keeps their compiled programs
in the worker's process: only a group's first chunk on a worker compiles.

This module does not import Ray: the backend wraps :class:`ChunkWorker` with
``ray.remote`` when it starts actors.
"""

from __future__ import annotations

import os
import socket
import time
from typing import Any

import jax
import numpy as np

from jaxtune import parallel
from jaxtune.space import Space

__all__ = ["ChunkWorker"]


class ChunkWorker:
    """Runs chunks of trials of one payload; lives as long as the backend's pool.

    Args:
        payload: a sweep task (anything with ``trainer(space, group)``) or a pure
            ``fn(hparams, key)``.
        compilation_cache: a folder on the worker's node for jax's persistent
            compilation cache (:func:`jaxtune.parallel.enable_compilation_cache`), so a
            replacement or second worker on the node loads programs instead of compiling.

    Examples:
        >>> w = ChunkWorker(lambda hp, key: hp["x"] * 2)
        >>> out, seconds, where = w.run(
        ...     None, {"x": np.ones(2, np.float32)}, np.zeros((2, 2), np.uint32), None, 2
        ... )
        >>> out.tolist()
        [2.0, 2.0]
    """

    def __init__(self, payload: Any, compilation_cache: str | None = None) -> None:
        if compilation_cache is not None:
            parallel.enable_compilation_cache(compilation_cache)
        self.payload = payload
        self.spaces: dict[str, Space] = {}

    def where(self) -> dict[str, Any]:
        """This worker's process id, host name and (under Ray) node id."""
        node = None
        try:
            import ray

            if ray.is_initialized():
                node = ray.get_runtime_context().get_node_id()
        except ImportError:  # run outside Ray, e.g. in a doctest
            pass
        return {"pid": os.getpid(), "host": socket.gethostname(), "node": node}

    def _fn(self, source: Any) -> Any:
        if source is None:
            return self.payload
        space_dict, group = source
        key = repr(space_dict)
        if key not in self.spaces:
            self.spaces[key] = Space.from_dict(dict(space_dict))
        return self.payload.trainer(self.spaces[key], group)

    @staticmethod
    def _keys(key_data: np.ndarray, impl: str | None) -> Any:
        return key_data if impl is None else jax.random.wrap_key_data(key_data, impl=impl)

    def run(
        self,
        source: Any,
        hparams: dict[str, np.ndarray],
        key_data: np.ndarray,
        impl: str | None,
        chunk_size: int | None,
        pad_to: int | None = None,
    ) -> tuple[Any, float, dict[str, Any]]:
        """Run one chunk as :func:`jaxtune.parallel.run` does locally.

        Args:
            source: None for a function payload, ``(space_dict, group)`` for a task's.
            hparams: the chunk's hyperparameters, leading trial axis.
            key_data: the chunk's raw key data.
            impl: the keys' PRNG implementation, or None for raw keys.
            chunk_size: lanes of the compiled program (None: the chunk's own size).
            pad_to: repeat the last trial up to this many rows first (outputs dropped), so
                a group's last, short chunk runs in the program of its full chunks, as
                it does locally.

        Returns:
            ``(outputs, seconds, where)``: the NumPy outputs, the wall time of the run
            and :meth:`where`.
        """
        started = time.perf_counter()
        n = len(key_data)
        if pad_to is not None and pad_to > n:
            index = np.minimum(np.arange(pad_to), n - 1)
            hparams = {k: v[index] for k, v in hparams.items()}
            key_data = key_data[index]
        out = parallel.run(
            self._fn(source), hparams, self._keys(key_data, impl), chunk_size=chunk_size
        )
        out = jax.tree.map(lambda x: x[:n], out)
        return out, time.perf_counter() - started, self.where()

    def choose(
        self,
        source: Any,
        hparams: dict[str, np.ndarray],
        key_data: np.ndarray,
        impl: str | None,
    ) -> int:
        """:func:`jaxtune.parallel.choose_chunk_size` measured here, on a worker's device."""
        fn = self._fn(source)
        return parallel.choose_chunk_size(fn, hparams, self._keys(key_data, impl))
