"""The time-to-quality benchmark's workloads and run sizes, shared by every strategy.

Two workloads, each a :class:`jaxtune.Task` (what trains) and a :class:`jaxtune.Space`
(what is searched), so every tool trains the very same program on the same data:

- ``digits``: the MLP of ``jaxtune sweep`` on the 8x8 digits with its default space
  (learning rate, momentum, hidden units, layers, decay system and rate, mini-batch size),
  up to 27 epochs (the space has no ``epochs``: the strategies decide how long to train);
- ``adam``: AdamW (``b1``, ``b2``, ``eps``, learning rate, weight decay) training an MLP
  64-64 on the synthetic spirals, up to 9 epochs.

Optuna, Ray Tune and hyperoptax see the same dimensions on the same scales (a momentum
or beta as ``1 - x`` on a log scale), decoded to the values a jaxtune trial gets.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

import jaxtune
from jaxtune.sweep import default_space


@dataclasses.dataclass(frozen=True)
class SearchProfile:
    """How big a run is.

    Attributes:
        name: ``"full"``, ``"quick"`` or ``"gpu"``.
        budget_s: wall-clock seconds each (strategy, workload, seed) run may use.
        seeds: seeds per strategy.
        workloads: which workloads run.
        strategies: which strategies run (None: all).
        digits_epochs: epochs of a full ``digits`` training (Hyperband's ``R``).
        adam_epochs: the same for ``adam``.
        round_trials: trials per round of jaxtune's random, Sobol and TPE searches.
        sh_trials: configurations per successive-halving bracket.
        chunk_size: jaxtune's ``chunk_size``; a fixed size skips ``"auto"``'s calibration,
            which compiles and times several sizes (seconds of a short budget on a CPU).
        hyperoptax_parallel: hyperoptax's ``n_parallel``.
        fixed_batch: the mini-batch size when the space should not search it (quick runs
            compile one program per size).
        isolate: each run in a fresh process, killed at its budget (a cold start for
            every tool, and no run can overstay); in-process for the quick test.
        dims: the dimensions of the space kept (None: all); the quick test keeps two.
        max_rounds: at most this many rounds (jaxtune sweeps, hyperoptax iterations,
            Optuna trials) per run, None for no limit: the quick test runs one of each.
    """

    name: str
    budget_s: float
    seeds: int
    workloads: tuple[str, ...] = ("digits", "adam")
    strategies: tuple[str, ...] | None = None
    digits_epochs: int = 27
    adam_epochs: int = 9
    round_trials: int = 32
    sh_trials: int = 27
    chunk_size: int | str | None = 8
    hyperoptax_parallel: int = 16
    fixed_batch: int | None = None
    isolate: bool = True
    dims: tuple[str, ...] | None = None
    max_rounds: int | None = None


PROFILES = {
    "full": SearchProfile("full", budget_s=60.0, seeds=5),
    "quick": SearchProfile(
        "quick",
        budget_s=120.0,
        seeds=1,
        workloads=("digits",),
        strategies=("jaxtune random", "optuna random+median", "hyperoptax random"),
        digits_epochs=2,
        round_trials=4,
        chunk_size=None,
        hyperoptax_parallel=4,
        fixed_batch=64,
        isolate=False,
        dims=("learning_rate", "momentum"),
        max_rounds=1,
    ),
    "gpu": SearchProfile(
        "gpu",
        budget_s=60.0,
        seeds=5,
        round_trials=1024,
        sh_trials=729,
        chunk_size=None,
        hyperoptax_parallel=256,
    ),
}


@dataclasses.dataclass(frozen=True)
class SearchWorkload:
    """One task and space, and the targets its table reports times to.

    Attributes:
        name: ``"digits"`` or ``"adam"``.
        label: a human description.
        task: the :class:`jaxtune.Task` (its ``epochs`` is the longest training).
        space: the searched space (no ``epochs``).
        targets: validation accuracies whose time-to-reach is reported.
    """

    name: str
    label: str
    task: jaxtune.Task
    space: jaxtune.Space
    targets: tuple[float, ...]

    @property
    def max_epochs(self) -> int:
        """Epochs of a full training."""
        return self.task.epochs


def make_search_workload(name: str, profile: SearchProfile) -> SearchWorkload:
    """Workload ``name`` at ``profile``'s sizes (a new task object: nothing cached)."""
    if name == "digits":
        dims = default_space().to_dict()
        dims.pop("epochs")
        if profile.fixed_batch is not None:
            dims.pop("batch_size")
        if profile.dims is not None:
            dims = {k: v for k, v in dims.items() if k in profile.dims}
        batch = profile.fixed_batch or 64
        small = {"hidden": 16, "layers": 1} if profile.dims is not None else {}
        task = jaxtune.Task(
            dataset="digits", epochs=profile.digits_epochs, batch_size=batch, **small
        )
        label = f"digits MLP, jaxtune's default space, <= {profile.digits_epochs} epochs"
        return SearchWorkload(
            name, label, task, jaxtune.Space.from_dict(dims), targets=(0.98, 0.985)
        )
    if name == "adam":
        space = jaxtune.Space(
            learning_rate=jaxtune.LogUniform(1e-4, 0.1),
            b1=jaxtune.OneMinusLogUniform(0.5, 0.99),
            b2=jaxtune.OneMinusLogUniform(0.9, 0.9999),
            eps=jaxtune.LogUniform(1e-10, 1e-4),
            weight_decay=jaxtune.LogUniform(1e-6, 0.1),
        )
        task = jaxtune.Task(
            dataset="synthetic",
            optimizer="adamw",
            epochs=profile.adam_epochs,
            hidden=64,
            layers=2,
            batch_size=64,
        )
        label = f"AdamW MLP 64-64, synthetic spirals, <= {profile.adam_epochs} epochs"
        return SearchWorkload(name, label, task, space, targets=(0.99, 0.995))
    raise ValueError(f"unknown workload {name!r}; known: digits, adam")


def optuna_params(trial: Any, space: jaxtune.Space) -> dict[str, Any]:
    """One trial's values suggested through Optuna on the space's own scales.

    A ``OneMinusLogUniform`` ``x`` is suggested as ``one_minus_<name>`` on a log scale, as
    an Optuna user tunes a momentum; every other dimension maps to its ``suggest_*``.
    """
    out: dict[str, Any] = {}
    for name in space.names:
        spec = space[name].to_dict()
        kind = spec["type"]
        if kind == "log_uniform":
            out[name] = trial.suggest_float(name, spec["low"], spec["high"], log=True)
        elif kind == "uniform":
            out[name] = trial.suggest_float(name, spec["low"], spec["high"])
        elif kind == "one_minus_log_uniform":
            low, high = 1 - spec["high"], 1 - spec["low"]
            out[name] = 1 - trial.suggest_float(f"one_minus_{name}", low, high, log=True)
        elif kind == "int_uniform":
            out[name] = trial.suggest_int(name, spec["low"], spec["high"])
        elif kind == "choice":
            out[name] = trial.suggest_categorical(name, list(spec["values"]))
        else:
            raise ValueError(f"{name}: no Optuna mapping for {kind!r}")
    return out


def hyperoptax_space(space: jaxtune.Space, static: Mapping[str, Any]) -> dict[str, Any]:
    """hyperoptax dimensions for ``space``; static dimensions are left out (fixed).

    hyperoptax vmaps one function over its configurations, so it cannot search what
    changes the program (the mini-batch size): that stays at its ``static`` value.
    """
    from hyperoptax import DiscreteSpace, LinearSpace, LogSpace

    out: dict[str, Any] = {}
    for name in space.names:
        if name in static:
            continue
        spec = space[name].to_dict()
        kind = spec["type"]
        if kind == "log_uniform":
            out[name] = LogSpace(spec["low"], spec["high"])
        elif kind == "uniform":
            out[name] = LinearSpace(spec["low"], spec["high"])
        elif kind == "one_minus_log_uniform":
            out[name] = LogSpace(1 - spec["high"], 1 - spec["low"])
        elif kind == "int_uniform":
            out[name] = DiscreteSpace(tuple(range(spec["low"], spec["high"] + 1)))
        elif kind == "choice":  # as jaxtune encodes it: numbers as is, labels by index
            values = spec["values"]
            numeric = all(isinstance(v, int | float) for v in values)
            out[name] = DiscreteSpace(tuple(values) if numeric else tuple(range(len(values))))
        else:
            raise ValueError(f"{name}: no hyperoptax mapping for {kind!r}")
    return out


def hyperoptax_to_hparams(space: jaxtune.Space, config: Mapping[str, jax.Array]) -> dict:
    """A hyperoptax configuration (traced) as the trainer's encoded hyperparameters."""
    ref = space.random(jax.random.key(0), 1)
    out = {}
    for name, value in config.items():
        kind = space[name].to_dict()["type"]
        if kind == "one_minus_log_uniform":
            value = 1 - value
        dtype = ref[name].dtype
        if jnp.issubdtype(dtype, jnp.integer):
            value = jnp.round(value)
        out[name] = value.astype(dtype)
    return out


class TrialPrograms:
    """The jitted per-trial programs an Optuna or Ray user runs: init and one epoch.

    One trainer (and one pair of compiled programs) per static group, built from the
    workload's task, so the tools train exactly what jaxtune trains.

    Args:
        wl: the workload.
    """

    def __init__(self, wl: SearchWorkload) -> None:
        self.wl = wl
        self._fns: dict[Any, tuple[Callable[..., Any], Callable[..., Any]]] = {}
        wl.task.prepare(wl.space, 0)

    def split(self, values: Mapping[str, Any]) -> tuple[Any, dict[str, np.ndarray]]:
        """A decoded trial's static group and its encoded (traced) hyperparameters."""
        group = self.wl.task.group_of(self.wl.space, values)
        static = dict(group)
        encoded = self.wl.space.encode([values])
        return group, {k: v[0] for k, v in encoded.items() if k not in static}

    def programs(self, group: Any) -> tuple[Callable[..., Any], Callable[..., Any]]:
        """``(init(hparams, key), epoch(state, hparams) -> (state, history))``, jitted."""
        if group not in self._fns:
            trainer = self.wl.task.trainer(self.wl.space, group)
            init = jax.jit(trainer.init)
            epoch = jax.jit(lambda state, hp, trainer=trainer: trainer.run(state, hp, 1))
            self._fns[group] = (init, epoch)
        return self._fns[group]
