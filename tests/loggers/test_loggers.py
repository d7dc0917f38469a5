"""The built-in loggers, read back: TensorBoard event files and MLflow runs of a sweep."""

from __future__ import annotations

import struct

import jax.numpy as jnp
import pytest

import jaxtune
from jaxtune.loggers import MLflowLogger, TensorBoardLogger


def _curves(hparams, key):
    epochs = jnp.arange(1, 5, dtype=jnp.float32)
    return {"val_loss": hparams["lr"] / epochs, "val_accuracy": 1.0 - hparams["lr"] / epochs}


SPACE = jaxtune.Space(lr=jaxtune.LogUniform(1e-3, 1.0), opt=jaxtune.Choice(["sgd", "adam"]))


def _events(folder):
    """Every Event of the TFRecord files in ``folder`` (length, crc, data, crc)."""
    from tensorboardX.proto import event_pb2

    events = []
    for path in sorted(folder.iterdir()):
        data = path.read_bytes()
        while data:
            (n,) = struct.unpack("<Q", data[:8])
            events.append(event_pb2.Event.FromString(data[12 : 12 + n]))
            data = data[12 + n + 4 :]
    return events


def test_tensorboard_event_files_hold_each_trials_curves_and_hparams(tmp_path):
    from tensorboardX.proto.plugin_hparams_pb2 import HParamsPluginData

    logdir = tmp_path / "tb"
    results = jaxtune.Sweep(
        SPACE, _curves, 3, store=str(tmp_path / "s"), quiet=True,
        callbacks=[TensorBoardLogger(logdir)],
    ).run()  # fmt: skip
    assert sorted(p.name for p in logdir.iterdir()) == [
        "trial_00000",
        "trial_00001",
        "trial_00002",
    ]
    for t in results.trials:
        events = _events(logdir / f"trial_{t.trial:05d}")
        scalars = {}
        hparams = None
        for e in events:
            for v in e.summary.value:
                if v.metadata.plugin_data.plugin_name == "hparams":
                    data = HParamsPluginData.FromString(v.metadata.plugin_data.content)
                    if data.HasField("session_start_info"):
                        hparams = data.session_start_info.hparams
                else:
                    scalars.setdefault(v.tag, []).append((e.step, v.simple_value))
        assert [s for s, _ in scalars["val_loss"]] == [1, 2, 3, 4]
        assert [v for _, v in scalars["val_loss"]] == pytest.approx(t.curves["val_loss"])
        assert scalars["final/val_accuracy"] == [(4, pytest.approx(t.final["val_accuracy"]))]
        assert hparams["lr"].number_value == pytest.approx(t.hparams["lr"])
        assert hparams["opt"].string_value == t.hparams["opt"]
        assert hparams["status"].string_value == "ok"


def test_mlflow_runs_hold_each_trials_params_metrics_and_tags(tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # MLflow 3: a local folder store
    uri = (tmp_path / "mlruns").as_uri()
    logger = MLflowLogger(uri, experiment="bowl")
    results = jaxtune.Sweep(
        SPACE, _curves, 3, store=str(tmp_path / "s"), quiet=True, callbacks=[logger]
    ).run()
    client = logger.client
    experiment = client.get_experiment_by_name("bowl")
    runs = {r.info.run_name: r for r in client.search_runs([experiment.experiment_id])}
    assert sorted(runs) == ["trial 0", "trial 1", "trial 2"]
    for t in results.trials:
        run = runs[f"trial {t.trial}"]
        assert run.info.status == "FINISHED"
        assert run.data.params == {"lr": str(t.hparams["lr"]), "opt": t.hparams["opt"]}
        assert run.data.tags["jaxtune.status"] == "ok" and run.data.tags["jaxtune.trial"] == str(
            t.trial
        )
        history = client.get_metric_history(run.info.run_id, "val_loss")
        assert [m.step for m in history] == [1, 2, 3, 4]
        assert [m.value for m in history] == pytest.approx(t.curves["val_loss"])
        assert run.data.metrics["final_val_accuracy"] == pytest.approx(t.final["val_accuracy"])


def test_loggers_without_their_extra_name_it(monkeypatch):
    import sys

    for name in ("tensorboardX", "mlflow"):
        monkeypatch.setitem(sys.modules, name, None)  # import fails as if not installed
    with pytest.raises(ImportError, match=r"pip install 'jaxtune\[tensorboard\]'"):
        TensorBoardLogger("runs/tb")
    with pytest.raises(ImportError, match=r"pip install 'jaxtune\[mlflow\]'"):
        MLflowLogger()
    with pytest.raises(ValueError, match="logdir must be a folder path"):
        TensorBoardLogger("")
