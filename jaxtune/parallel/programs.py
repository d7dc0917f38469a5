"""Compiled chunk programs and their cache, the machinery behind :mod:`jaxtune.parallel`.

A *chunk program* runs a fixed number of trials ("lanes") of one pure function at once:
``jax.vmap`` over the lanes of a device, or a plain call when a device holds one lane (so
``chunk_size=1`` is exactly the sequential loop), wrapped in ``jax.shard_map`` when the
lanes are split over the "trials" axis of a mesh. Programs are lowered and compiled ahead
of time and kept in a module-level cache keyed by everything that changes the program, so
running the same function on trials of the same per-trial shapes never traces it again.

Trials travel between host and device as NumPy arrays. Typed PRNG keys are sent as their
raw ``uint32`` data and re-wrapped inside the program, so padding and slicing stay plain
NumPy indexing.
"""

from __future__ import annotations

import collections
import functools
import time
import warnings
from collections.abc import Callable, Hashable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, SingleDeviceSharding
from jax.sharding import PartitionSpec as P

TRIALS = "trials"
"""Name of the mesh axis that the trials are split over."""

# Compiled programs hold device memory for their code and keep their function alive;
# bound the cache so a long session that builds many closures does not grow without end.
_MAX_PROGRAMS = 64

# Per-trial layout of one input or output leaf: shape without the trial axis, dtype, and
# the PRNG implementation name when the leaf holds typed keys (None otherwise).
LeafSpec = tuple[tuple[int, ...], np.dtype, str | None]


class Placement(NamedTuple):
    """Where the lanes of a chunk live.

    Attributes:
      mesh: a mesh with a "trials" axis that splits the lanes, or None for one device.
      device: the single device used when ``mesh`` is None.
    """

    mesh: Mesh | None
    device: jax.Device | None

    @property
    def n_devices(self) -> int:
        """Number of shards the lanes are split into."""
        return 1 if self.mesh is None else self.mesh.shape[TRIALS]

    @property
    def sharding(self) -> jax.sharding.Sharding:
        """Sharding of every chunk input and output: leading axis split over "trials"."""
        if self.mesh is None:
            return SingleDeviceSharding(self.device)
        return NamedSharding(self.mesh, P(TRIALS))

    @property
    def local_device(self) -> jax.Device:
        """One device of this process that runs lanes (for memory queries)."""
        if self.mesh is None:
            return self.device
        return next(d for d in self.mesh.devices.flat if d.process_index == jax.process_index())

    @property
    def multi_process(self) -> bool:
        """True when the lanes span devices of other processes (multi-host)."""
        return not self.sharding.is_fully_addressable


class Trials(NamedTuple):
    """The host-side inputs of a run, validated: n trials, leading axis first.

    Attributes:
      n: number of real trials.
      hp_leaves: hyperparameter leaves, each of shape ``(n, ...)``; typed-key leaves as
        their raw data.
      hp_treedef: structure of the hyperparameter pytree.
      hp_specs: per-trial layout of each hyperparameter leaf.
      key_data: raw key data of shape ``(n, ...)``.
      key_spec: per-trial layout of one key (impl None for raw ``uint32`` keys).
    """

    n: int
    hp_leaves: tuple[np.ndarray, ...]
    hp_treedef: Any
    hp_specs: tuple[LeafSpec, ...]
    key_data: np.ndarray
    key_spec: LeafSpec


class Signature(NamedTuple):
    """Everything a chunk program depends on, except its number of lanes."""

    fn: Hashable
    hp_treedef: Any
    hp_specs: tuple[LeafSpec, ...]
    key_spec: LeafSpec
    placement: Placement
    # jax settings that change what tracing produces; part of the key so that toggling
    # one of them between calls cannot reuse a program traced under the other value.
    config: tuple[Any, ...]


class Program(NamedTuple):
    """A compiled chunk program.

    Attributes:
      compiled: the executable; called with (hyperparameter leaves, key data).
      lanes: lanes per device; the program runs ``lanes * n_devices`` trials per call.
      out_treedef: structure of one trial's output.
      out_impls: PRNG implementation of each output leaf that holds typed keys.
      memory_bytes: estimated peak device memory per device while chunks run back to back
        (XLA's temp + 2 x (arguments + outputs) - aliased; the runner keeps one chunk in
        flight while it reads the previous one back), or None where the backend does not
        report it.
      compile_seconds: wall time of lowering plus compiling.
    """

    compiled: jax.stages.Compiled
    lanes: int
    out_treedef: Any
    out_impls: tuple[str | None, ...]
    memory_bytes: int | None
    compile_seconds: float


class _ByIdentity:
    """Hashable stand-in for an unhashable callable; compares by identity."""

    __slots__ = ("fn",)

    def __init__(self, fn: Callable[..., Any]) -> None:
        self.fn = fn

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _ByIdentity) and other.fn is self.fn

    def __hash__(self) -> int:
        return id(self.fn)


_PROGRAMS: collections.OrderedDict[tuple[Signature, int], Program] = collections.OrderedDict()


def cached_programs() -> tuple[tuple[Signature, int, Program], ...]:
    """Every cached program as ``(signature, lanes, program)``, least recently used first."""
    return tuple((sig, lanes, program) for (sig, lanes), program in _PROGRAMS.items())


def clear_programs() -> None:
    """Forget every compiled chunk program."""
    _PROGRAMS.clear()


def is_key(x: Any) -> bool:
    """Whether ``x`` is an array of typed PRNG keys."""
    return hasattr(x, "dtype") and jnp.issubdtype(x.dtype, jax.dtypes.prng_key)


def host_leaf(x: Any) -> tuple[np.ndarray, str | None]:
    """A leaf as a NumPy array in jax's canonical dtype, typed keys as raw data."""
    if is_key(x):
        return np.asarray(jax.random.key_data(x)), str(jax.random.key_impl(x))
    x = np.asarray(x)
    return x.astype(jax.dtypes.canonicalize_dtype(x.dtype), copy=False), None


@functools.cache
def raw_key_shape() -> tuple[int, ...]:
    """Shape of one raw ``uint32`` key under the default PRNG implementation."""
    return jax.eval_shape(lambda: jax.random.key_data(jax.random.key(0))).shape


def signature(fn: Callable[..., Any], trials: Trials, placement: Placement) -> Signature:
    try:
        hash(fn)
        fn_key: Hashable = fn
    except TypeError:
        fn_key = _ByIdentity(fn)
    config = tuple(
        getattr(jax.config, name)
        for name in (
            "jax_enable_x64",
            "jax_default_matmul_precision",
            "jax_numpy_rank_promotion",
            "jax_numpy_dtype_promotion",
            "jax_default_prng_impl",
        )
    )
    return Signature(
        fn_key, trials.hp_treedef, trials.hp_specs, trials.key_spec, placement, config
    )


def _decode(x: jax.Array, impl: str | None) -> jax.Array:
    return x if impl is None else jax.random.wrap_key_data(x, impl=impl)


def _encode(x: Any) -> tuple[jax.Array, str | None]:
    if is_key(x):
        return jax.random.key_data(x), str(jax.random.key_impl(x))
    return jnp.asarray(x), None


def jaxpr_text(closed_jaxpr: Any) -> str:
    """The printed form of a (closed) jaxpr that depends on the program only.

    ``str(jaxpr)`` colours its text with ANSI codes when stdout is a terminal or a
    Jupyter kernel (jax's ``jax_pprint_use_color``), so a digest of it would change
    between a terminal, ``nohup``, a pipe and CI. This prints without colour, at a fixed
    width, with no source locations.

    Examples:
        >>> closed = jax.make_jaxpr(lambda x: x * 2.0)(1.0)
        >>> jaxpr_text(closed)
        '{ lambda ; a:f32[]. let b:f32[] = mul a 2.0:f32[] in (b,) }'
    """
    jaxpr = getattr(closed_jaxpr, "jaxpr", closed_jaxpr)
    return jaxpr.pretty_print(use_color=False, width=80, source_info=False, name_stack=False)


def trial_jaxpr(fn: Callable[..., Any], sig: Signature) -> str:
    """The jaxpr of one unbatched trial, as text: what ``fn`` computes, without its values.

    A trace, not a compile (milliseconds for a training loop). Closed-over arrays appear
    as typed constants, so the text changes with the program but not with the data.
    """

    def one_trial(hp_leaves: list[jax.Array], key: jax.Array) -> Any:
        hp = jax.tree.unflatten(
            sig.hp_treedef,
            [_decode(x, spec[2]) for x, spec in zip(hp_leaves, sig.hp_specs, strict=True)],
        )
        return fn(hp, _decode(key, sig.key_spec[2]))

    def aval(spec: LeafSpec) -> jax.ShapeDtypeStruct:
        return jax.ShapeDtypeStruct(spec[0], spec[1])

    closed = jax.make_jaxpr(one_trial)([aval(s) for s in sig.hp_specs], aval(sig.key_spec))
    return jaxpr_text(closed)


def get_program(fn: Callable[..., Any], sig: Signature, lanes: int) -> Program:
    """The compiled program running ``lanes`` trials per device, from cache or built."""
    cache_key = (sig, lanes)
    program = _PROGRAMS.get(cache_key)
    if program is not None:
        _PROGRAMS.move_to_end(cache_key)
        return program
    program = _compile(fn, sig, lanes)
    _PROGRAMS[cache_key] = program
    while len(_PROGRAMS) > _MAX_PROGRAMS:
        _PROGRAMS.popitem(last=False)
    return program


def _compile(fn: Callable[..., Any], sig: Signature, lanes: int) -> Program:
    out_meta: dict[str, Any] = {}

    def one_trial(hp_leaves: list[jax.Array], key: jax.Array) -> list[jax.Array]:
        hp = jax.tree.unflatten(
            sig.hp_treedef,
            [_decode(x, spec[2]) for x, spec in zip(hp_leaves, sig.hp_specs, strict=True)],
        )
        out = fn(hp, _decode(key, sig.key_spec[2]))
        leaves, out_meta["treedef"] = jax.tree.flatten(out)
        encoded = [_encode(x) for x in leaves]
        out_meta["impls"] = tuple(impl for _, impl in encoded)
        return [x for x, _ in encoded]

    def local_lanes(hp_leaves: list[jax.Array], keys: jax.Array) -> list[jax.Array]:
        if lanes == 1:
            # One lane per device: call fn unbatched, so chunk_size=1 runs exactly the
            # program a sequential loop would (a batch-of-one vmap can compile worse).
            out = one_trial([x[0] for x in hp_leaves], keys[0])
            return [x[None] for x in out]
        return jax.vmap(one_trial)(hp_leaves, keys)

    placement = sig.placement
    body = local_lanes
    if placement.mesh is not None:
        body = jax.shard_map(
            local_lanes,
            mesh=placement.mesh,
            in_specs=(P(TRIALS), P(TRIALS)),
            out_specs=P(TRIALS),
            # Lanes never talk to each other. Without this, a user's scan whose initial
            # carry is a constant (zeros) fails the varying-axes check, and fn would have
            # to know it runs under shard_map.
            check_vma=False,
        )
    sharding = placement.sharding
    total = lanes * placement.n_devices

    def aval(spec: LeafSpec) -> jax.ShapeDtypeStruct:
        return jax.ShapeDtypeStruct((total, *spec[0]), spec[1], sharding=sharding)

    # Donating the chunk inputs lets XLA reuse their buffers; they are fresh copies made
    # for this call and never read again.
    jitted = jax.jit(body, in_shardings=sharding, out_shardings=sharding, donate_argnums=(0, 1))
    start = time.perf_counter()
    with warnings.catch_warnings():
        # Inputs (a few scalars per trial) rarely match an output's shape, so XLA cannot
        # always alias them; jax then warns at lowering. Harmless: the buffers are freed.
        warnings.filterwarnings("ignore", message="Some donated buffers were not usable")
        lowered = jitted.lower([aval(s) for s in sig.hp_specs], aval(sig.key_spec))
    compiled = lowered.compile()
    seconds = time.perf_counter() - start
    return Program(
        compiled=compiled,
        lanes=lanes,
        out_treedef=out_meta["treedef"],
        out_impls=out_meta["impls"],
        memory_bytes=_memory_bytes(compiled),
        compile_seconds=seconds,
    )


def _memory_bytes(compiled: jax.stages.Compiled) -> int | None:
    try:
        stats = compiled.memory_analysis()
    except (NotImplementedError, jax.errors.JaxRuntimeError):
        return None
    if stats is None:
        return None
    io = stats.argument_size_in_bytes + stats.output_size_in_bytes
    return int(stats.temp_size_in_bytes + 2 * io - stats.alias_size_in_bytes)
