"""TensorBoard event files of a sweep, one run per trial (tensorboardX's writer)."""

from __future__ import annotations

import os
from typing import Any

from jaxtune.store import TrialRecord

__all__ = ["TensorBoardLogger"]


def _plain(value: Any) -> bool | int | float | str:
    """A value the HParams plugin accepts: bool, number or string."""
    return value if isinstance(value, bool | int | float | str) else str(value)


class TensorBoardLogger:
    """Writes each committed trial as a TensorBoard run ``<logdir>/trial_00012``.

    Per trial: every per-epoch curve (``train_loss``, ``val_loss``, ``val_accuracy``,
    ``learning_rate``...; a user function's curves too) as scalars at steps 1, 2, ...
    (epochs); its final metrics as scalars ``final/<name>`` at its last epoch; and its
    hyperparameters and final metrics in the HParams dashboard. Run
    ``tensorboard --logdir <logdir>`` to look. Needs ``pip install 'jaxtune[tensorboard]'``.

    Args:
        logdir: the folder of the runs (created when missing).

    Raises:
        ImportError: tensorboardX is not installed (the message names the extra).

    Examples:
        >>> import tempfile, jaxtune
        >>> logdir = tempfile.mkdtemp()
        >>> results = jaxtune.Sweep(
        ...     jaxtune.Space(x=jaxtune.Uniform(-1.0, 1.0)),
        ...     lambda hp, key: {"val_loss": hp["x"] ** 2},
        ...     n_trials=3,
        ...     store=tempfile.mkdtemp(),
        ...     quiet=True,
        ...     callbacks=[TensorBoardLogger(logdir)],
        ... ).run()
        >>> sorted(os.listdir(logdir))
        ['trial_00000', 'trial_00001', 'trial_00002']
    """

    def __init__(self, logdir: str | os.PathLike[str]) -> None:
        if not isinstance(logdir, str | os.PathLike) or not os.fspath(logdir):
            raise ValueError(f"logdir must be a folder path, got {logdir!r}")
        try:
            from tensorboardX import SummaryWriter
            from tensorboardX.summary import hparams
        except ImportError:
            raise ImportError(
                "TensorBoardLogger needs tensorboardX: pip install 'jaxtune[tensorboard]'"
            ) from None
        self.logdir = os.fspath(logdir)
        self._writer, self._hparams = SummaryWriter, hparams

    def __repr__(self) -> str:
        return f"TensorBoardLogger({self.logdir!r})"

    def __call__(self, record: TrialRecord) -> None:
        """Write one trial's run."""
        run = os.path.join(self.logdir, f"trial_{record.trial:05d}")
        finals = {k: v for k, v in record.final.items() if v is not None}
        last = max((len(c) for c in record.curves.values()), default=0)
        with self._writer(logdir=run, flush_secs=3600) as w:
            for name, curve in record.curves.items():
                for epoch, value in enumerate(curve, start=1):
                    if value is not None:
                        w.add_scalar(name, value, epoch)
            metrics = {f"final/{k}": float(v) for k, v in finals.items()}
            for tag, value in metrics.items():
                w.add_scalar(tag, value, last)
            hparams = {k: _plain(v) for k, v in record.hparams.items()}
            hparams["status"] = record.status
            for summary in self._hparams(hparams, metrics):
                w.file_writer.add_summary(summary)
