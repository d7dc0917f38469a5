"""Chunks of trials on a Ray cluster; the driver keeps the store.

:class:`RayBackend` starts one long-lived actor (:class:`~.worker.ChunkWorker`) per
resource slot of the cluster. The task and its dataset go to Ray's object store once
(``ray.put``); each actor receives them when it starts and keeps them, with every
program it compiles. The driver cuts each group of trials into chunks by trial index
(:func:`~.chunks.cut`), keeps two chunks in flight per actor, hands every finished chunk
to its callback (the sweep commits it to its SQLite store) in whatever order chunks
finish, and resubmits the chunks of an actor that died to a fresh actor in its slot, up
to ``max_retries`` times per chunk.

Ray is imported only when the backend first runs: ``import jaxtune`` works without it.
"""

from __future__ import annotations

import collections
import math
import warnings
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from jaxtune.backends.chunks import ChunkSpec, GroupJob, cut, host_keys
from jaxtune.backends.resources import check_fits
from jaxtune.backends.worker import ChunkWorker
from jaxtune.parallel import Chunk

__all__ = ["FORK_WARNING", "RESOURCE_KEYS", "RayBackend"]

RESOURCE_KEYS = ("num_cpus", "num_gpus", "memory", "resources")
FORK_WARNING = r"os\.fork\(\) was called"  # JAX's warning when Ray starts processes
IN_FLIGHT = 2  # chunks queued per actor: it starts the next while the driver commits


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise ImportError(
            'RayBackend needs Ray: pip install "jaxtune[ray]" (or "ray>=2.9")'
        ) from None
    return ray


def _check(address: Any, resources: Any, max_retries: Any, actors: Any) -> None:
    if address is not None and not isinstance(address, str):
        raise ValueError(
            f"address must be None or a string like 'ray://host:10001', got {address!r}"
        )
    if resources is not None:
        if not isinstance(resources, Mapping) or not resources:
            raise ValueError(f"resources must be a non-empty dict, got {resources!r}")
        for k, v in resources.items():
            if k not in RESOURCE_KEYS:
                raise ValueError(f"resources: unknown key {k!r}; allowed: {list(RESOURCE_KEYS)}")
            if k != "resources" and (
                not isinstance(v, int | float) or isinstance(v, bool) or v < 0
            ):
                raise ValueError(f"resources[{k!r}] must be a number >= 0, got {v!r}")
    for name, value, low in (("max_retries", max_retries, 0), ("actors", actors, 1)):
        if value is None and name == "actors":
            continue
        if not isinstance(value, int) or isinstance(value, bool) or value < low:
            raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")


class RayBackend:
    """Run a sweep's chunks on Ray actors, one per resource slot; the store stays here.

    Args:
        address: the cluster to join (``"auto"``, ``"host:6379"``, ``"ray://host:10001"``).
            None joins the running ``ray.init()`` of this process, or starts a local Ray
            instance.
        resources: what one actor holds. Default: ``{"num_gpus": 1}`` on a cluster with
            GPUs, else ``{"num_cpus": 1}``. Keys: ``num_cpus``, ``num_gpus``, ``memory``,
            ``resources`` (custom resources, a dict).
        max_retries: how often one chunk may be resubmitted after the actor running it
            died; one more death raises ``RuntimeError``.
        actors: how many actors; default one per slot (the cluster's resources divided by
            ``resources``), at most one per chunk.
        runtime_env: Ray's ``runtime_env`` for the actors, e.g.
            ``{"env_vars": {"XLA_PYTHON_CLIENT_MEM_FRACTION": ".9"}}``.
        compilation_cache: a folder, on each node, for jax's persistent compilation
            cache in every actor (e.g. ``"/tmp/jaxtune-xla"``): a restarted actor, or a
            second one on the node, loads compiled programs instead of compiling.

    Attributes:
        stats: ``chunks`` run, ``resubmitted`` chunks, ``actors_started``, and ``by_node``
            / ``by_pid``: chunks per Ray node id and per actor process.

    Examples:
        >>> import jaxtune
        >>> backend = jaxtune.RayBackend(resources={"num_cpus": 1}, max_retries=2)
        >>> backend.to_dict()["kind"]
        'ray'
        >>> sweep = jaxtune.Sweep(space, task, 64, backend=backend)  # doctest: +SKIP
    """

    def __init__(
        self,
        address: str | None = None,
        resources: Mapping[str, Any] | None = None,
        max_retries: int = 3,
        *,
        actors: int | None = None,
        runtime_env: Mapping[str, Any] | None = None,
        compilation_cache: str | None = None,
    ) -> None:
        _check(address, resources, max_retries, actors)
        if runtime_env is not None and not isinstance(runtime_env, Mapping):
            raise ValueError(f"runtime_env must be a dict or None, got {runtime_env!r}")
        if compilation_cache is not None and not isinstance(compilation_cache, str):
            raise ValueError(f"compilation_cache must be a folder path, got {compilation_cache!r}")
        self.compilation_cache = compilation_cache
        self.address, self.max_retries, self.actors = address, max_retries, actors
        self.resources = None if resources is None else dict(resources)
        self.runtime_env = None if runtime_env is None else dict(runtime_env)
        self.stats: dict[str, Any] = {}
        self._payload: Any = None
        self._pool: list[Any] = []  # actor handles, one per slot
        self._generation: list[int] = []  # bumped when a slot's actor is replaced
        self._started_ray = False
        self.reset_stats()

    # ----------------------------------------------------------------- config

    def to_dict(self) -> dict[str, Any]:
        """The backend's settings (``kind = "ray"``), as a config's ``[backend]`` table.

        Examples:
            >>> RayBackend(max_retries=1).to_dict()
            {'kind': 'ray', 'address': None, 'resources': None, 'max_retries': 1, 'actors': None}
        """
        return {
            "kind": "ray",
            "address": self.address,
            "resources": self.resources,
            "max_retries": self.max_retries,
            "actors": self.actors,
        } | {
            k: v
            for k, v in (
                ("runtime_env", self.runtime_env),
                ("compilation_cache", self.compilation_cache),
            )
            if v
        }

    def reset_stats(self) -> None:
        """Zero :attr:`stats`."""
        self.stats = {
            "chunks": 0,
            "resubmitted": 0,
            "actors_started": 0,
            "by_node": collections.Counter(),
            "by_pid": collections.Counter(),
        }

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.to_dict().items() if k != "kind")
        return f"RayBackend({args})"

    # ----------------------------------------------------------------- actors

    def _ray(self) -> Any:
        ray = _import_ray()
        if not ray.is_initialized():
            with warnings.catch_warnings():
                # Ray's launcher forks and execs at once: no JAX thread runs in the child.
                warnings.filterwarnings("ignore", FORK_WARNING, RuntimeWarning)
                if self.address is None:
                    # "local": a new instance, not a cluster that `ray start` left here.
                    ray.init(address="local", include_dashboard=False)
                    self._started_ray = True
                else:
                    ray.init(address=self.address)
        return ray

    def _actor_options(self, ray: Any) -> dict[str, Any]:
        resources = self.resources
        if resources is None:
            gpus = ray.cluster_resources().get("GPU", 0)
            resources = {"num_gpus": 1} if gpus > 0 else {"num_cpus": 1}
        if self.address in (None, "local"):  # a local instance: nothing will scale it up
            check_fits(resources, ray.cluster_resources())
        options = {"max_restarts": 0, **resources}
        if self.runtime_env:
            options["runtime_env"] = self.runtime_env
        return options

    def _slots(self, ray: Any, options: Mapping[str, Any]) -> int:
        if self.actors is not None:
            return self.actors
        total = ray.cluster_resources()
        names = {"num_cpus": "CPU", "num_gpus": "GPU", "memory": "memory"}
        counts = [
            math.floor(total.get(names[k], 0) / v) for k, v in options.items() if k in names and v
        ]
        counts += [
            math.floor(total.get(k, 0) / v)
            for k, v in (options.get("resources") or {}).items()
            if v
        ]
        return max(min(counts, default=1), 1)

    def _new_actor(self, ray: Any) -> Any:
        options = self._actor_options(ray)
        remote = ray.remote(ChunkWorker).options(**options)
        actor = remote.remote(self._payload_ref, self.compilation_cache)
        self.stats["actors_started"] += 1
        return actor

    def _ensure_pool(self, payload: Any, n_chunks: int) -> Any:
        ray = self._ray()
        if payload is not self._payload:
            self.close(shutdown=False)
            self._payload = payload
            self._payload_ref = ray.put(payload)  # shipped once, through the object store
        want = min(self._slots(ray, self._actor_options(ray)), max(n_chunks, 1))
        while len(self._pool) < want:
            self._pool.append(self._new_actor(ray))
            self._generation.append(0)
        return ray

    def workers(self) -> list[dict[str, Any]]:
        """Each actor's process id, host and Ray node id (empty before the first run)."""
        if not self._pool:
            return []
        ray = _import_ray()
        return ray.get([a.where.remote() for a in self._pool])

    def close(self, shutdown: bool = True) -> None:
        """Stop the actors; with ``shutdown``, also the local Ray instance this started.

        Args:
            shutdown: stop Ray too, when this backend started it (``address=None``
                without a running ``ray.init()``).
        """
        if self._pool:
            ray = _import_ray()
            for actor in self._pool:
                ray.kill(actor, no_restart=True)
        self._pool, self._generation, self._payload = [], [], None
        if shutdown and self._started_ray:
            _import_ray().shutdown()
            self._started_ray = False

    def __enter__(self) -> RayBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ----------------------------------------------------------------- running

    def job(
        self,
        source: Any,
        hparams: Mapping[str, Any],
        keys: Any,
        chunk_size: int | None,
        on_chunk: Callable[..., Any] | None = None,
    ) -> GroupJob:
        """A :class:`~.chunks.GroupJob` from arrays as a sweep or ``parallel.run`` has them."""
        data, impl = host_keys(keys)
        hp = {k: np.asarray(v) for k, v in hparams.items()}
        return GroupJob(source, hp, data, impl, chunk_size, on_chunk)

    def choose_chunk_size(self, payload: Any, job: GroupJob) -> int:
        """The ``chunk_size="auto"`` choice, measured on one actor (a worker's device).

        Args:
            payload: the task (or function) the actors run.
            job: the group's trials.

        Returns:
            Trials per compiled call.
        """
        ray = self._ensure_pool(payload, 1)
        ref = self._pool[0].choose.remote(job.source, job.hparams, job.key_data, job.key_impl)
        return int(ray.get(ref))

    def run(
        self,
        fn: Callable[..., Any],
        hparams: Mapping[str, Any],
        keys: Any,
        *,
        chunk_size: int | None = 16,
        on_chunk: Callable[..., Any] | None = None,
    ) -> Any:
        """:func:`jaxtune.parallel.run` on the actors: outputs stacked in trial order.

        Args:
            fn: a pure ``fn(hparams_i, key_i)``; shipped once to every actor.
            hparams: ``{name: array}`` with a leading trial axis.
            keys: one key per trial (typed or raw).
            chunk_size: trials per chunk (None: one chunk).
            on_chunk: ``on_chunk(done, total, chunk)`` per finished chunk, in any order.

        Returns:
            The outputs, leading axis = trials, in trial order.
        """
        pieces: dict[int, Any] = {}

        def keep(done: int, total: int, chunk: Chunk) -> None:
            pieces[chunk.start] = chunk.outputs
            if on_chunk is not None:
                on_chunk(done, total, chunk)

        self.run_jobs(fn, [self.job(None, hparams, keys, chunk_size, keep)])
        import jax

        ordered = [pieces[s] for s in sorted(pieces)]
        return jax.tree.map(lambda *xs: np.concatenate(xs), *ordered)

    def run_jobs(self, payload: Any, jobs: list[GroupJob]) -> None:
        """Run every chunk of ``jobs`` on the actors; callbacks run here as chunks finish.

        Args:
            payload: the task (``trainer(space, group)``) or function the actors run.
            jobs: the groups of trials.

        Raises:
            RuntimeError: a chunk's actor died more than ``max_retries`` times.
        """
        queue = collections.deque(cut(jobs))
        if not queue:
            return
        ray = self._ensure_pool(payload, len(queue))
        slots = len(self._pool)
        inflight: dict[Any, tuple[int, int, ChunkSpec]] = {}
        load = [0] * slots

        def submit() -> None:
            for slot in sorted(range(slots), key=lambda s: load[s]):
                while queue and load[slot] < IN_FLIGHT:
                    spec = queue.popleft()
                    job = jobs[spec.job]
                    hp, data = job.piece(spec.start, spec.stop)
                    pad = None if job.chunk_size is None else min(job.chunk_size, job.n)
                    args = (job.source, hp, data, job.key_impl, job.chunk_size, pad)
                    ref = self._pool[slot].run.remote(*args)
                    inflight[ref] = (slot, self._generation[slot], spec)
                    load[slot] += 1

        try:
            submit()
            while inflight:
                (ref,), _ = ray.wait(list(inflight), num_returns=1)
                slot, generation, spec = inflight.pop(ref)
                load[slot] -= 1
                try:
                    outputs, _, where = ray.get(ref)
                except self._death_errors(ray) as e:
                    self._replace(ray, slot, generation)
                    spec.failures += 1
                    if spec.failures > self.max_retries:
                        raise RuntimeError(
                            f"RayBackend: chunk {spec.start}..{spec.stop - 1} of group "
                            f"{spec.job} lost its actor {spec.failures} times "
                            f"(max_retries={self.max_retries}): {type(e).__name__}"
                        ) from e
                    self.stats["resubmitted"] += 1
                    queue.appendleft(spec)
                else:
                    self._finished(jobs[spec.job], spec, outputs, where)
                submit()
        except BaseException:
            self.close(shutdown=False)  # chunks still queued on actors: stop them
            raise

    @staticmethod
    def _death_errors(ray: Any) -> tuple[type[BaseException], ...]:
        ex = ray.exceptions
        return (ex.RayActorError, ex.WorkerCrashedError, ex.NodeDiedError, ex.ObjectLostError)

    def _replace(self, ray: Any, slot: int, generation: int) -> None:
        """A fresh actor in ``slot``, once per death (its other chunks fail too)."""
        if self._generation[slot] != generation:
            return
        ray.kill(self._pool[slot], no_restart=True)
        self._pool[slot] = self._new_actor(ray)
        self._generation[slot] += 1

    def _finished(self, job: GroupJob, spec: ChunkSpec, outputs: Any, where: Any) -> None:
        job.done += spec.stop - spec.start
        self.stats["chunks"] += 1
        self.stats["by_node"][where["node"]] += 1
        self.stats["by_pid"][where["pid"]] += 1
        if job.on_chunk is not None:
            job.on_chunk(job.done, job.n, Chunk(spec.start, spec.stop, outputs))
