"""What a sweep trains: the one task interface, the built-in :class:`Task`, a user's function.

A sweep asks its task the same questions whatever it is (:class:`SweepTask`): check the
space and get ready (before anything is written to disk), say how the sweep is
identified in the store, group trials by their static values, give the pure
``train(hparams, key)`` of a group, and name the objective and its direction. The
built-in :class:`Task` (evosax style: the static side; the searchable numbers live in the
:class:`jaxtune.Space`) and :class:`FunctionTask` (a user's ``train(hparams, key)``,
wrapped once) both answer them, so :class:`jaxtune.Sweep` never asks which it has.

What each name of a space means for the built-in task, and its allowed range, comes from
:mod:`jaxtune.hyperparams`. With an optimizer other than the six families (an optax
name such as ``"lion"``, or an import path of a factory), a space may also name any
numeric argument of that optimizer (``b1``, ``alpha``...): rows of the table keep their
range, other names are only checked to be finite numbers.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import os
from collections.abc import Callable, Mapping
from typing import Any, Protocol, runtime_checkable

import jax

from jaxtune import hyperparams
from jaxtune.limits import MAX_SEEDS_PER_TRIAL, check_count
from jaxtune.space import Space
from jaxtune.sweep.checks import (
    bounds,
    check_space,
    check_task_objective,
    check_task_sizes,
    default_space,
)
from jaxtune.train import Trainer, datasets, make_train, models, optimizers
from jaxtune.train.importpath import is_import_path, load_object
from jaxtune.train.make import model_from_import
from jaxtune.train.optax_any import AnyOptimizer

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


@dataclasses.dataclass(frozen=True)
class Task:
    """The static configuration of the built-in supervised task.

    Attributes:
        dataset: ``"digits"``, ``"synthetic"``, a path to an ``.npz`` with ``x`` and ``y``,
            or an import path ``"package.module:function"``: the function returns a
            :class:`jaxtune.datasets.Dataset` or a pair ``(x, y)`` of arrays (split and
            standardized like an ``.npz``); it is passed ``val_fraction`` and ``seed``
            (``data_seed``) if it takes them.
        model: ``"mlp"`` (masked width and depth), ``"cnn"`` (image data), or an import
            path ``"package.module:Name"`` of a flax linen or NNX module class (or
            factory), built with ``model_kwargs`` (see
            :func:`jaxtune.train.make.model_from_import`). Digits come as 8x8x1 images
            for every model but ``"mlp"``.
        optimizer: the optimizer used when the space has no ``optimizer`` dimension: a
            family, the name of any optax optimizer (``"lion"``), or an import path
            ``"package.module:factory"``; then a space names the factory's arguments.
        batch_size: used when the space has no ``batch_size`` dimension.
        epochs: used when the space has no ``epochs`` dimension.
        hidden: MLP width when the space has no ``hidden`` dimension.
        layers: MLP depth when the space has no ``layers`` dimension.
        seeds_per_trial: seeds trained per trial; metrics are averaged over them.
        val_fraction: share of the data held out for validation.
        data_seed: seed of the train/validation split.
        data_order: ``"shared"`` (every trial of a seed index sees the same mini-batches,
            ordered by the sweep's seed) or ``"per_trial"`` (each trial's own key).
        model_kwargs: keyword arguments of an import-path model (a config's top-level
            ``[model]`` table): plain values (numbers, strings, lists).
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
    model_kwargs: dict[str, Any] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        self._check_model()
        self._check_optimizer()
        for name in ("batch_size", "epochs", "hidden", "layers"):
            hyperparams.check_value(name, getattr(self, name), where="task.")
        for name, low in (("seeds_per_trial", 1), ("data_seed", 0)):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < low:
                raise ValueError(f"task.{name} must be an integer >= {low}, got {value!r}")
        check_count("task.seeds_per_trial", self.seeds_per_trial, MAX_SEEDS_PER_TRIAL)
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
        if is_import_path(self.dataset) and not is_file:
            if not callable(load_object(self.dataset, where="task.dataset")):
                raise ValueError(f"task.dataset: {self.dataset} is not a function")
        elif self.dataset not in ("digits", "synthetic") and not is_file:
            raise ValueError(
                f"task.dataset must be 'digits', 'synthetic', a path to an .npz file or an "
                f"import path 'package.module:function', got {self.dataset!r}"
            )
        if is_file and not os.path.isfile(self.dataset):
            raise FileNotFoundError(f"task.dataset: no such file {self.dataset!r}")

    def _check_model(self) -> None:
        model, kwargs = self.model, self.model_kwargs
        if not isinstance(model, str) or (
            model not in ("mlp", "cnn") and not is_import_path(model)
        ):
            raise ValueError(
                "task.model must be 'mlp', 'cnn' or an import path 'package.module:Name', "
                f"got {model!r}"
            )
        if not isinstance(kwargs, dict) or not all(isinstance(k, str) for k in kwargs):
            raise ValueError(f"task.model_kwargs must be a table of names, got {kwargs!r}")
        try:
            json.dumps(kwargs)
        except (TypeError, ValueError):
            raise ValueError(
                f"task.model_kwargs must hold plain values (numbers, strings, lists), "
                f"got {kwargs!r}"
            ) from None
        object.__setattr__(self, "model_kwargs", dict(kwargs))  # a private copy
        if model in ("mlp", "cnn"):
            if kwargs:
                raise ValueError(
                    f"task.model_kwargs ([model]) applies to an import-path model, not {model!r}"
                )
            return
        built = model_from_import(model, kwargs, where="task.model")  # errors now
        self.__dict__.setdefault("_cache", {})["model"] = built

    def _check_optimizer(self) -> None:
        if not isinstance(self.optimizer, str):
            raise ValueError(f"task.optimizer must be a string, got {self.optimizer!r}")
        try:
            optimizers.resolve_optimizer(self.optimizer)
        except (ValueError, TypeError) as e:
            text = f"task.{e}" if str(e).startswith("optimizer") else f"task.optimizer: {e}"
            raise ValueError(text) from None

    def __hash__(self) -> int:
        return hash(json.dumps(self.to_dict(), sort_keys=True))

    def to_dict(self) -> dict[str, Any]:
        """Plain values, for the store and config files.

        ``model_kwargs`` is left out when empty, so a task without it is stored as before.
        """
        d = dataclasses.asdict(self)
        if not d["model_kwargs"]:
            del d["model_kwargs"]
        return d

    def optimizer_spec(self) -> AnyOptimizer | None:
        """The resolved optimizer when it is not one of the six families, else None.

        Examples:
            >>> Task(optimizer="lion").optimizer_spec().hyperparams
            ('b1', 'b2', 'learning_rate', 'weight_decay')
            >>> Task(optimizer="adam").optimizer_spec() is None
            True
        """
        resolved = optimizers.resolve_optimizer(self.optimizer)
        return resolved if isinstance(resolved, AnyOptimizer) else None

    def user_model(self) -> models.Model:
        """The import-path model, built once per task object.

        Examples:
            >>> task = Task(model="jaxtune.train.models:CNN", model_kwargs={"n_out": 10})
            >>> task.user_model().n_out
            10
        """
        cache = self.__dict__.setdefault("_cache", {})
        if "model" not in cache:
            cache["model"] = model_from_import(self.model, self.model_kwargs)
        return cache["model"]

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Task:
        """The inverse of :meth:`to_dict`; an unknown key is a ``ValueError`` naming it."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"task: unknown key {unknown[0]!r}; known: {sorted(known)}")
        return cls(**d)

    def load_data(self) -> datasets.Dataset:
        """The dataset, split and standardized (digits images kept 8x8x1 but for the MLP)."""
        if is_import_path(self.dataset) and not self.dataset.endswith(".npz"):
            return self._user_data()
        if self.dataset == "digits":
            return datasets.digits(self.val_fraction, self.data_seed, flatten=self.model == "mlp")
        if self.dataset == "synthetic":
            return datasets.synthetic(val_fraction=self.val_fraction, seed=self.data_seed)
        try:
            return datasets.from_npz(
                self.dataset, val_fraction=self.val_fraction, seed=self.data_seed
            )
        except ValueError as e:  # name the argument the file came from
            text = str(e)
            raise ValueError(
                text if self.dataset in text else f"task.dataset {self.dataset!r}: {text}"
            ) from None

    def _user_data(self) -> datasets.Dataset:
        fn = load_object(self.dataset, where="task.dataset")
        offered = {"val_fraction": self.val_fraction, "seed": self.data_seed}
        try:
            params = inspect.signature(fn).parameters
        except (TypeError, ValueError):
            params = {}
        out = fn(**{k: v for k, v in offered.items() if k in params})
        if isinstance(out, datasets.Dataset):
            return out
        if isinstance(out, tuple) and len(out) == 2:
            name = self.dataset.split(":")[1]
            return datasets.from_arrays(*out, name=name, **offered)
        raise ValueError(
            f"task.dataset: {self.dataset}() returned {type(out).__name__}, not a "
            "jaxtune.datasets.Dataset or a pair (x, y) of arrays"
        )

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
        check_task_sizes(space, self, data)
        self.__dict__.setdefault("_cache", {})["seed"] = seed

    def check_objective(self, objective: str) -> None:
        """Refuse an objective this task does not report (:func:`check_task_objective`)."""
        check_task_objective(self, objective)

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
            b = bounds(space[name]) if name in space else None
            return int(b[1]) if b else default

        if self.model == "mlp":
            model: models.Model = models.MLP(
                max_hidden=top("hidden", self.hidden),
                max_layers=top("layers", self.layers),
                n_out=data.n_out,
            )
            arch_keys = tuple(k for k in ("hidden", "layers") if k in space)
        elif self.model == "cnn":
            model, arch_keys = models.CNN(n_out=data.n_out), ()
        else:
            model, arch_keys = self.user_model(), ()
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
