"""The built-in supervised trainer (layer 4): datasets, models, optimizers, the trainer.

:func:`make_train` turns a static configuration into a pure ``train(hparams, key)``
whose whole training is one ``lax.scan`` under ``jit``; :mod:`jaxtune.parallel` batches it
over trials. ``datasets``, ``models`` and ``optimizers`` are its parts, usable alone.
Bring your own: any optax optimizer or factory (``optax_any``), Flax NNX models
(``nnx``), models and datasets by import path (``make.model_from_import``).
"""

from jaxtune.train import datasets, models, optimizers
from jaxtune.train.make import make_train, resolve_model
from jaxtune.train.metrics import History, final_metrics
from jaxtune.train.trainer import Trainer, TrainState

__all__ = [
    "History",
    "TrainState",
    "Trainer",
    "datasets",
    "final_metrics",
    "make_train",
    "models",
    "optimizers",
    "resolve_model",
]
