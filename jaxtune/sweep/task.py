"""What a sweep trains: the one task interface, the built-in :class:`Task`, a user's function.

A sweep asks its task the same questions whatever it is (:class:`SweepTask`): check the
space and get ready (before anything is written to disk), say how the sweep is
identified in the store, group trials by their static values, give the pure
``train(hparams, key)`` of a group, and name the objective and its direction. The
built-in :class:`Task` (evosax style: the static side; the searchable numbers live in the
:class:`jaxtune.Space`) and :class:`FunctionTask` (a user's ``train(hparams, key)``,
wrapped once) both answer them, so :class:`jaxtune.Sweep` never asks which it has.

What each name of a space means for the built-in task, and its allowed range, comes from
:mod:`jaxtune.hyperparams`.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping
from typing import Any, Protocol, runtime_checkable

import jax

from jaxtune import hyperparams
from jaxtune.space import (
    Choice,
    Dimension,
    Fixed,
    IntUniform,
    LogUniform,
    OneMinusLogUniform,
    Space,
)
from jaxtune.train import Trainer, datasets, make_train, models, optimizers

__all__ = [
    "MASKED",
    "STATIC",
    "SweepTask",
    "Task",
    "check_space",
    "default_space",
]

STATIC = hyperparams.STATIC
MASKED = hyperparams.MASKED

TrainFn = Callable[[Mapping[str, jax.Array], jax.Array], Any]
Group = tuple[tuple[str, Any], ...]  # (name, value) of each static hyperparameter


@runtime_checkable
class SweepTask(Protocol):
    """The questions a :class:`jaxtune.Sweep` asks its task.

    Attributes:
        objective: the final metric that ranks trials by default.
        maximize: whether a higher ``objective`` is better.
    """

    objective: str
    maximize: bool

    def prepare(self, space: Space, seed: int) -> None:
        """Check ``space`` and load what training needs; raise ``ValueError`` naming it.

        ``seed`` is the sweep's: what the task derives from it (a shared data order)
        must be the same every time the sweep runs.
        """

    def identity(self) -> dict[str, Any]:
        """Plain values that identify what is trained, kept in the store."""

    def group_of(self, space: Space, trial: Mapping[str, Any]) -> Group:
        """The static values of one decoded trial: one compiled program per group."""

    def trainer(self, space: Space, group: Group) -> TrainFn:
        """The pure ``train(hparams, key)`` of a group (same object for the same group)."""


def _bounds(dim: Dimension) -> tuple[float, float]:
    """Smallest and largest numeric value of a dimension without labels."""
    if isinstance(dim, Fixed):
        return float(dim.value), float(dim.value)
    if isinstance(dim, Choice):
        return float(min(dim.values)), float(max(dim.values))
    return float(dim.low), float(dim.high)


@dataclasses.dataclass(frozen=True)
class Task:
    """The static configuration of the built-in supervised task.

    Attributes:
        dataset: ``"digits"``, ``"synthetic"`` or a path to an ``.npz`` with ``x`` and ``y``.
        model: ``"mlp"`` (masked width and depth) or ``"cnn"`` (image data).
        optimizer: the family used when the space has no ``optimizer`` dimension.
        batch_size: used when the space has no ``batch_size`` dimension.
        epochs: used when the space has no ``epochs`` dimension.
        hidden: MLP width when the space has no ``hidden`` dimension.
        layers: MLP depth when the space has no ``layers`` dimension.
        seeds_per_trial: seeds trained per trial; metrics are averaged over them.
        val_fraction: share of the data held out for validation.
        data_seed: seed of the train/validation split.
        data_order: ``"shared"`` (every trial of a seed index sees the same mini-batches,
            ordered by the sweep's seed) or ``"per_trial"`` (each trial's own key).
    """

    dataset: str = "digits"
    model: str = "mlp"
    optimizer: str = "momentum"
    batch_size: int = 64
    epochs: int = 10
    hidden: int = 64
    layers: int = 2
    seeds_per_trial: int = 1
    val_fraction: float = 0.2
    data_seed: int = 0
    data_order: str = "shared"

    def __post_init__(self) -> None:
        if self.model not in ("mlp", "cnn"):
            raise ValueError(f"task.model must be 'mlp' or 'cnn', got {self.model!r}")
        for name in ("optimizer", "batch_size", "epochs", "hidden", "layers"):
            hyperparams.check_value(name, getattr(self, name), where="task.")
        for name, low in (("seeds_per_trial", 1), ("data_seed", 0)):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < low:
                raise ValueError(f"task.{name} must be an integer >= {low}, got {value!r}")
        if self.data_order not in ("shared", "per_trial"):
            raise ValueError(
                f"task.data_order must be 'shared' or 'per_trial', got {self.data_order!r}"
            )
        frac = self.val_fraction
        if isinstance(frac, bool) or not isinstance(frac, int | float) or not 0 < frac < 1:
            raise ValueError(f"task.val_fraction must be a number in (0, 1), got {frac!r}")
        if not isinstance(self.dataset, str):
            raise ValueError(f"task.dataset must be a string, got {self.dataset!r}")
        is_file = self.dataset.endswith(".npz")
        if self.dataset not in ("digits", "synthetic") and not is_file:
            raise ValueError(
                f"task.dataset must be 'digits', 'synthetic' or a path to an .npz file, "
                f"got {self.dataset!r}"
            )
        if is_file and not os.path.isfile(self.dataset):
            raise FileNotFoundError(f"task.dataset: no such file {self.dataset!r}")

    def to_dict(self) -> dict[str, Any]:
        """Plain values, for the store and config files."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Task:
        """The inverse of :meth:`to_dict`; an unknown key is a ``ValueError`` naming it."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"task: unknown key {unknown[0]!r}; known: {sorted(known)}")
        return cls(**d)

    def load_data(self) -> datasets.Dataset:
        """The dataset, split and standardized (images kept 8x8x1 for the CNN)."""
        if self.dataset == "digits":
            return datasets.digits(self.val_fraction, self.data_seed, flatten=self.model == "mlp")
        if self.dataset == "synthetic":
            return datasets.synthetic(val_fraction=self.val_fraction, seed=self.data_seed)
        return datasets.from_npz(self.dataset, val_fraction=self.val_fraction, seed=self.data_seed)

    # -- the task interface (SweepTask) ------------------------------------------------

    @property
    def objective(self) -> str:
        """``val_accuracy`` on classification data, ``val_loss`` on regression data."""
        return "val_accuracy" if self.maximize else "val_loss"

    @property
    def maximize(self) -> bool:
        """The built-in metrics: accuracy (higher is better) or squared error (lower)."""
        return self.data().task == "classification"

    def data(self) -> datasets.Dataset:
        """The dataset, loaded once per task object."""
        cache = self.__dict__.setdefault("_cache", {})  # frozen dataclass: no attribute
        if "data" not in cache:
            cache["data"] = self.load_data()
        return cache["data"]

    def prepare(self, space: Space, seed: int = 0) -> None:
        """Load the data and check the space against it (:func:`check_space`)."""
        data = self.data()
        if self.model == "cnn" and data.x_train.ndim != 4:
            raise ValueError(
                f"task.model='cnn' needs image data (n, height, width, channels); "
                f"task.dataset {self.dataset!r} has inputs of shape {data.x_train.shape[1:]}"
            )
        check_space(space, self, data.x_train.shape[0])
        self.__dict__.setdefault("_cache", {})["seed"] = seed

    def identity(self) -> dict[str, Any]:
        """The task's settings."""
        return self.to_dict()

    def group_of(self, space: Space, trial: Mapping[str, Any]) -> Group:
        """``(("optimizer", ...), ("batch_size", ...))`` of one decoded trial."""
        own = {"optimizer": str(self.optimizer), "batch_size": int(self.batch_size)}
        return tuple(
            (name, type(own[name])(trial[name]) if name in space else own[name]) for name in STATIC
        )

    def trainer(self, space: Space, group: Group) -> Trainer:
        """The trainer of a group, built once per (space, group)."""
        cache = self.__dict__.setdefault("_cache", {})
        seed = cache.get("seed", 0)
        key = ("trainer", space, group, seed)
        if key not in cache:
            static = dict(group)
            cache[key] = self.make_trainer(
                space, self.data(), static["optimizer"], static["batch_size"], order_seed=seed
            )
        return cache[key]

    def make_trainer(
        self,
        space: Space,
        data: datasets.Dataset,
        optimizer: str,
        batch_size: int,
        *,
        order_seed: int = 0,
    ) -> Trainer:
        """The trainer of one group: padded to the largest sizes the space allows."""

        def top(name: str, default: int) -> int:
            b = _bounds(space[name]) if name in space else None
            return int(b[1]) if b else default

        if self.model == "mlp":
            model: models.Model = models.MLP(
                max_hidden=top("hidden", self.hidden),
                max_layers=top("layers", self.layers),
                n_out=data.n_out,
            )
            arch_keys = tuple(k for k in ("hidden", "layers") if k in space)
        else:
            model, arch_keys = models.CNN(n_out=data.n_out), ()
        labels = space.labels("decay_system") if "decay_system" in space else None
        systems = labels or optimizers.DECAY_SYSTEMS
        return make_train(
            data,
            model,
            optimizer=optimizer,
            batch_size=batch_size,
            max_epochs=top("epochs", self.epochs),
            arch_keys=arch_keys,
            decay_systems=systems,
            seeds_per_trial=self.seeds_per_trial,
            data_order=self.data_order,
            order_seed=order_seed,
        )


def check_space(space: Space, task: Task, n_train: int | None = None) -> None:
    """Validate a space for the built-in task; raise ``ValueError`` naming the dimension.

    Every name must be a row of :data:`jaxtune.hyperparams.TABLE`, and every value the
    dimension can take must lie in that row's range (labels among its values).

    Args:
        space: the search space.
        task: the task it is for.
        n_train: training-set size, to bound ``batch_size``.
    """
    for name in space.names:
        dim = space[name]
        if name not in hyperparams.TABLE:
            raise ValueError(
                f"space: unknown hyperparameter {name!r}; known: {sorted(hyperparams.TABLE)}"
            )
        row = hyperparams.TABLE[name]
        if dim.labels is not None:
            bad = [v for v in dim.labels if v not in (row.values or ())]
            if bad:
                raise ValueError(f"space.{name}: {bad} not allowed; {row.range_text()}")
            continue
        if row.kind == "static" and row.values is not None:
            raise ValueError(f"space.{name}: values must be labels, {row.range_text()}")
        low, high = _bounds(dim)
        hyperparams.check_bounds(name, low, high)
        if name == "batch_size" and n_train is not None and high > n_train:
            raise ValueError(
                f"space.batch_size: values must lie in [1, {n_train}] (the training set), "
                f"got [{low:g}, {high:g}]"
            )
        if row.integer and not isinstance(dim, IntUniform | Choice | Fixed):
            raise ValueError(f"space.{name}: must be an integer dimension (IntUniform, Choice)")
    if task.model == "cnn" and ({"hidden", "layers"} & set(space.names)):
        raise ValueError("space: hidden and layers apply to task.model='mlp' only")


def default_space() -> Space:
    """The default sweep's space: every kind of hyperparameter of the design note.

    Traced: learning rate (log-uniform), momentum (log-uniform on 1-beta), the decay
    system and its inverse-time rate; masked: hidden units, layers, epochs; static: the
    mini-batch size.
    """
    return Space(
        learning_rate=LogUniform(1e-3, 1.0),
        momentum=OneMinusLogUniform(0.5, 0.99),
        hidden=IntUniform(16, 64),
        layers=IntUniform(1, 2),
        epochs=IntUniform(4, 12),
        decay_system=Choice(["none", "inverse_time", "exponential", "sqrt_epoch"]),
        decay_rate=LogUniform(0.01, 1.0),
        batch_size=Choice([32, 64]),
    )
