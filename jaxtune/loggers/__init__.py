"""Loggers: callbacks that write every committed trial where other tools read it.

Pass one to a sweep, ``Sweep(..., callbacks=[TensorBoardLogger("runs/tb")])``, or turn it
on from the command line (``jaxtune sweep --tensorboard runs/tb``, ``--mlflow URI``). Each
is a ``callback(record)`` (:mod:`jaxtune.sweep.callbacks`) and needs its extra:

- :class:`TensorBoardLogger`: one TensorBoard run per trial, its curves as scalars by
  epoch and its hyperparameters in the HParams dashboard (``jaxtune[tensorboard]``,
  tensorboardX: no TensorFlow or PyTorch needed).
- :class:`MLflowLogger`: one MLflow run per trial, with params, per-epoch metrics and
  tags (``jaxtune[mlflow]``).
"""

from jaxtune.loggers.mlflow_logger import MLflowLogger
from jaxtune.loggers.tensorboard_logger import TensorBoardLogger

__all__ = ["MLflowLogger", "TensorBoardLogger"]
