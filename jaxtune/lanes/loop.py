"""What the lane runtime trains: a loop of two pure functions, ``init`` and ``epoch``.

A *loop* is any object with

- ``init(hparams, key) -> state``: a fresh trial (parameters, optimizer state...);
- ``epoch(state, hparams) -> (state, metrics)``: one more epoch; ``metrics`` is a dict of
  scalars (the objective among them).

The hyperparameters are passed at every epoch, so a lane that takes a new trial trains
with what its trial was given, never with a value remembered from an earlier one. Both
functions must be pure and traceable: the runtime vmaps them over lanes and jits them
once. The built-in trainer (:func:`jaxtune.make_train`) becomes a loop through
:class:`TrainerLoop`; :class:`LoopTrain` turns any loop into a plain
``train(hparams, key)`` for sweeps without early stopping.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

import jax
import jax.numpy as jnp

__all__ = [
    "Loop",
    "LoopTrain",
    "TrainerLoop",
    "as_loop",
    "hyperparams_setter",
    "is_loop",
    "metric_name",
]


@runtime_checkable
class Loop(Protocol):
    """A training loop the lane runtime can stop, refill and resume between epochs."""

    def init(self, hparams: Mapping[str, Any], key: jax.Array) -> Any:
        """A fresh state of one trial."""

    def epoch(self, state: Any, hparams: Mapping[str, Any]) -> tuple[Any, dict[str, Any]]:
        """One more epoch: the new state and that epoch's scalar metrics."""


def metric_name(trainer: Any) -> str:
    """The name a trainer gives its validation metric (``val_<name>``); "metric" if none.

    Examples:
        >>> metric_name(object())
        'metric'
    """
    return getattr(trainer, "metric_name", "metric")


def is_loop(obj: Any) -> bool:
    """Whether ``obj`` offers ``init`` and ``epoch`` (a loop, not a Trainer).

    Examples:
        >>> is_loop(TrainerLoop), is_loop(lambda hp, key: {})
        (True, False)
    """
    return callable(getattr(obj, "init", None)) and callable(getattr(obj, "epoch", None))


@dataclasses.dataclass(frozen=True, eq=False)
class TrainerLoop:
    """The built-in :class:`jaxtune.train.Trainer` as a loop (one epoch per call).

    Its metrics are those a sweep stores for the trainer: ``train_loss``, ``val_loss``,
    ``val_<metric>`` and ``learning_rate``. Its epochs equal those of
    ``trainer.run(state, hparams, n)`` one by one (the data order of epoch ``e`` is
    ``fold_in(order_key, e)`` either way).

    Examples:
        >>> import jax, jaxtune
        >>> trainer = jaxtune.make_train(jaxtune.datasets.synthetic(), max_epochs=2)
        >>> loop = TrainerLoop(trainer)
        >>> hp = {"learning_rate": 0.1}
        >>> state, metrics = jax.jit(loop.epoch)(jax.jit(loop.init)(hp, jax.random.key(0)), hp)
        >>> sorted(metrics)
        ['learning_rate', 'train_loss', 'val_accuracy', 'val_loss']
    """

    trainer: Any

    def init(self, hparams: Mapping[str, Any], key: jax.Array) -> Any:
        """The trainer's fresh state."""
        return self.trainer.init(hparams, key)

    def epoch(self, state: Any, hparams: Mapping[str, Any]) -> tuple[Any, dict[str, Any]]:
        """``trainer.run(state, hparams, 1)``, its history as scalars."""
        state, h = self.trainer.run(state, hparams, 1)
        return state, {
            "train_loss": h.train_loss[0],
            "val_loss": h.val_loss[0],
            f"val_{metric_name(self.trainer)}": h.val_metric[0],
            "learning_rate": h.learning_rate[0],
        }


def hyperparams_setter(loop: Any) -> Any:
    """The loop's ``with_hyperparams(state, hparams) -> state``, or None.

    A copied lane (PBT) goes through it, so a loop that keeps optimizer numbers in its
    state trains with the new ones; for the built-in trainer it is the trainer's.

    Examples:
        >>> hyperparams_setter(object()) is None
        True
    """
    owner = loop.trainer if isinstance(loop, TrainerLoop) else loop
    setter = getattr(owner, "with_hyperparams", None)
    return setter if callable(setter) else None


def as_loop(obj: Any, max_epochs: int, *, why: str = "scheduler") -> Any:
    """``obj`` as a loop: itself when it is one, a :class:`TrainerLoop` for a trainer.

    A trainer is padded to ``max_epochs`` so no lane stops updating before its strategy
    says so. Anything else is refused in one line that names what to add.
    """
    if is_loop(obj):
        return obj.loop if isinstance(obj, LoopTrain) else obj
    if callable(getattr(obj, "init", None)) and callable(getattr(obj, "run", None)):
        if getattr(obj, "seeds_per_trial", 1) != 1:
            raise ValueError(f"{why}: trains one seed per trial; leave out task.seeds_per_trial")
        if getattr(obj, "max_epochs", max_epochs) != max_epochs:
            obj = dataclasses.replace(obj, max_epochs=max_epochs)
        return TrainerLoop(obj)
    raise TypeError(
        f"{why}: stops trials between epochs, so the task must offer init(hparams, key) "
        "-> state and epoch(state, hparams) -> (state, metrics) (docs/asha.md: 'Your own "
        "training loop'); a plain train(hparams, key) runs without a scheduler"
    )


@dataclasses.dataclass(frozen=True, eq=False)
class LoopTrain:
    """A loop as a plain ``train(hparams, key)`` of ``max_epochs`` epochs, still a loop.

    Calling it returns each metric's per-epoch curve (what a sweep without a scheduler
    stores); ``init`` and ``epoch`` are the loop's, so a lane strategy trains it epoch by
    epoch.

    Examples:
        >>> import jax, jaxtune
        >>> trainer = jaxtune.make_train(jaxtune.datasets.synthetic(), max_epochs=3)
        >>> train = LoopTrain(TrainerLoop(trainer), 3)
        >>> train({"learning_rate": 0.1}, jax.random.key(0))["val_loss"].shape
        (3,)
    """

    loop: Any
    max_epochs: int

    def __repr__(self) -> str:  # no memory address: a sweep's identity names it
        kind = type(self.loop)
        return f"LoopTrain({kind.__module__}.{kind.__qualname__}, {self.max_epochs})"

    def init(self, hparams: Mapping[str, Any], key: jax.Array) -> Any:
        """The loop's fresh state."""
        return self.loop.init(hparams, key)

    def epoch(self, state: Any, hparams: Mapping[str, Any]) -> tuple[Any, dict[str, Any]]:
        """The loop's epoch."""
        return self.loop.epoch(state, hparams)

    def __call__(self, hparams: Mapping[str, Any], key: jax.Array) -> dict[str, jax.Array]:
        """Train ``max_epochs`` epochs from scratch; every metric's curve."""

        def body(state, _):
            state, metrics = self.loop.epoch(state, hparams)
            return state, {k: jnp.asarray(v) for k, v in metrics.items()}

        _, curves = jax.lax.scan(body, self.loop.init(hparams, key), None, length=self.max_epochs)
        return curves
