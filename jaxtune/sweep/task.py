"""The built-in task of a sweep: which data, which model, and how a space maps onto them.

A :class:`Task` is the static side of a sweep (evosax style): the dataset, the model
family and the defaults for hyperparameters the space leaves out. The searchable numbers
live in the :class:`jaxtune.Space`. Names of the space mean, by kind:

- static (:data:`STATIC`): ``optimizer``, ``batch_size``: one compiled program per
  distinct value; the sweep groups trials by them;
- masked (:data:`MASKED`): ``hidden``, ``layers``, ``epochs``: the program is padded to
  the largest value the space allows;
- traced: every name in :data:`jaxtune.optimizers.HYPERPARAMS`.

:func:`check_space` validates a space against these names and their allowed ranges where
the space enters, so a bad range is a clear ``ValueError`` naming the dimension, not a
NaN deep inside a compiled program.
"""

from __future__ import annotations

import dataclasses
import math
import os
from typing import Any

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

__all__ = ["MASKED", "STATIC", "Task", "check_space", "default_space"]

STATIC = ("optimizer", "batch_size")
MASKED = ("hidden", "layers", "epochs")

_INF = math.inf
# name -> (low, high, low inclusive, high inclusive): the values a trial may take.
_RANGES: dict[str, tuple[float, float, bool, bool]] = {
    "learning_rate": (0.0, _INF, False, False),
    "momentum": (0.0, 1.0, True, False),
    "rms_decay": (0.0, 1.0, True, False),
    "b1": (0.0, 1.0, True, False),
    "b2": (0.0, 1.0, True, False),
    "eps": (0.0, _INF, False, False),
    "weight_decay": (0.0, _INF, True, False),
    "decay_rate": (0.0, _INF, True, False),
    "decay_base": (0.0, 1.0, False, True),
    "decay_k": (0.0, _INF, False, False),
    "hidden": (1, 4096, True, True),
    "layers": (1, 16, True, True),
    "epochs": (1, 10_000, True, True),
    "batch_size": (1, _INF, True, False),
}


def _bounds(dim: Dimension) -> tuple[float, float] | None:
    """Smallest and largest numeric value of a dimension (None for labels)."""
    if dim.labels is not None:
        return None
    if isinstance(dim, Fixed):
        return float(dim.value), float(dim.value)
    if isinstance(dim, Choice):
        return float(min(dim.values)), float(max(dim.values))
    return float(dim.low), float(dim.high)


def _fmt_range(low: float, high: float, lo_in: bool, hi_in: bool) -> str:
    return f"{'[' if lo_in else '('}{low:g}, {high:g}{']' if hi_in else ')'}"


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

    def __post_init__(self) -> None:
        if self.model not in ("mlp", "cnn"):
            raise ValueError(f"task.model must be 'mlp' or 'cnn', got {self.model!r}")
        if self.optimizer not in optimizers.FAMILIES:
            raise ValueError(
                f"task.optimizer must be one of {sorted(optimizers.FAMILIES)}, "
                f"got {self.optimizer!r}"
            )
        for name in ("batch_size", "epochs", "hidden", "layers", "seeds_per_trial"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"task.{name} must be an integer >= 1, got {value!r}")
        if not 0 < self.val_fraction < 1:
            raise ValueError(f"task.val_fraction must be in (0, 1), got {self.val_fraction!r}")
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

    def static_values(self, space: Space, trial: dict[str, Any]) -> tuple[str, int]:
        """``(optimizer, batch_size)`` of one decoded trial, defaults filled in."""
        optimizer = (
            trial.get("optimizer", self.optimizer) if "optimizer" in space else self.optimizer
        )
        batch = (
            trial.get("batch_size", self.batch_size) if "batch_size" in space else self.batch_size
        )
        return str(optimizer), int(batch)

    def make_trainer(
        self, space: Space, data: datasets.Dataset, optimizer: str, batch_size: int
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
        )


def check_space(space: Space, task: Task, n_train: int | None = None) -> None:
    """Validate a space for the built-in task; raise ``ValueError`` naming the dimension.

    Args:
        space: the search space.
        task: the task it is for.
        n_train: training-set size, to bound ``batch_size``.
    """
    known = {*optimizers.HYPERPARAMS, *MASKED, *STATIC}
    for name in space.names:
        dim = space[name]
        if name not in known:
            raise ValueError(f"space: unknown hyperparameter {name!r}; known: {sorted(known)}")
        if name == "optimizer":
            bad = [v for v in (dim.labels or ()) if v not in optimizers.FAMILIES]
            if dim.labels is None or bad:
                raise ValueError(
                    f"space.optimizer: values must be among {sorted(optimizers.FAMILIES)}"
                )
            continue
        if name == "decay_system" and dim.labels is not None:
            bad = [v for v in dim.labels if v not in optimizers.DECAY_SYSTEMS]
            if bad:
                raise ValueError(
                    f"space.decay_system: unknown systems {bad}; "
                    f"known: {list(optimizers.DECAY_SYSTEMS)}"
                )
            continue
        bounds = _bounds(dim)
        if bounds is None:
            raise ValueError(f"space.{name}: must be numeric, got labels {dim.labels}")
        if name == "decay_system":
            top = len(optimizers.DECAY_SYSTEMS) - 1
            if bounds[0] < 0 or bounds[1] > top:
                raise ValueError(f"space.decay_system: indices must be in [0, {top}]")
            continue
        low, high, lo_in, hi_in = _RANGES[name]
        if name == "batch_size" and n_train is not None:
            high, hi_in = n_train, True
        ok_low = bounds[0] >= low if lo_in else bounds[0] > low
        ok_high = bounds[1] <= high if hi_in else bounds[1] < high
        if not (ok_low and ok_high):
            raise ValueError(
                f"space.{name}: values must lie in {_fmt_range(low, high, lo_in, hi_in)}, "
                f"got [{bounds[0]:g}, {bounds[1]:g}]"
            )
        if name in (*MASKED, "batch_size") and not isinstance(dim, IntUniform | Choice | Fixed):
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
