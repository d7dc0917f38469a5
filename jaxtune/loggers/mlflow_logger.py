"""MLflow runs of a sweep, one per trial (MLflow's client API)."""

from __future__ import annotations

from typing import Any

from jaxtune.store import TrialRecord

__all__ = ["MLflowLogger"]


class MLflowLogger:
    """Logs each committed trial as an MLflow run named ``trial 12`` of one experiment.

    Per trial: its hyperparameters as params; every per-epoch curve as a metric at steps
    1, 2, ... (epochs); its final metrics as metrics ``final_<name>``; tags
    ``jaxtune.trial``, ``jaxtune.round``, ``jaxtune.group`` and ``jaxtune.status``.
    Runs end FINISHED, or FAILED for a diverged trial. Needs
    ``pip install 'jaxtune[mlflow]'``.

    Args:
        tracking_uri: where MLflow stores runs, e.g. ``"sqlite:///mlflow.db"`` or a
            local folder ``"file:///abs/mlruns"`` (MLflow 3 wants
            ``MLFLOW_ALLOW_FILE_STORE=true`` for a folder); None: MLflow's default
            (``MLFLOW_TRACKING_URI``).
        experiment: the experiment's name, created when missing.

    Raises:
        ImportError: mlflow is not installed (the message names the extra).

    Examples:
        >>> logger = MLflowLogger("sqlite:///mlflow.db", experiment="digits")  # doctest: +SKIP
        >>> jaxtune.Sweep(space, task, 64, callbacks=[logger]).run()  # doctest: +SKIP
    """

    def __init__(self, tracking_uri: str | None = None, experiment: str = "jaxtune") -> None:
        if tracking_uri is not None and (not isinstance(tracking_uri, str) or not tracking_uri):
            raise ValueError(f"tracking_uri must be a URI string or None, got {tracking_uri!r}")
        if not isinstance(experiment, str) or not experiment:
            raise ValueError(f"experiment must be a non-empty string, got {experiment!r}")
        try:
            from mlflow import MlflowClient
            from mlflow.entities import Metric, Param
        except ImportError:
            raise ImportError("MLflowLogger needs mlflow: pip install 'jaxtune[mlflow]'") from None
        self.tracking_uri, self.experiment = tracking_uri, experiment
        self._metric, self._param = Metric, Param
        self.client = MlflowClient(tracking_uri=tracking_uri)
        found = self.client.get_experiment_by_name(experiment)
        self.experiment_id = (
            found.experiment_id if found else self.client.create_experiment(experiment)
        )

    def __repr__(self) -> str:
        return f"MLflowLogger({self.tracking_uri!r}, experiment={self.experiment!r})"

    def __call__(self, record: TrialRecord) -> None:
        """Log one trial's run."""
        tags = {
            "jaxtune.trial": str(record.trial),
            "jaxtune.round": str(record.round),
            "jaxtune.group": record.group,
            "jaxtune.status": record.status,
        }
        run = self.client.create_run(
            self.experiment_id, run_name=f"trial {record.trial}", tags=tags
        )
        metrics: list[Any] = []
        for name, curve in record.curves.items():
            metrics += [
                self._metric(name, float(v), 0, epoch)
                for epoch, v in enumerate(curve, start=1)
                if v is not None
            ]
        last = max((len(c) for c in record.curves.values()), default=0)
        metrics += [
            self._metric(f"final_{k}", float(v), 0, last)
            for k, v in record.final.items()
            if v is not None
        ]
        params = [self._param(k, str(v)) for k, v in record.hparams.items()]
        run_id = run.info.run_id
        for start in range(0, max(len(metrics), 1), 1000):  # MLflow's batch limit
            self.client.log_batch(
                run_id, metrics=metrics[start : start + 1000], params=params if not start else []
            )
        self.client.set_terminated(run_id, "FINISHED" if record.status == "ok" else "FAILED")
