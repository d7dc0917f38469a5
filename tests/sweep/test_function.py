"""A user's own train(hparams, key): checked on one traced trial before anything trains."""

from __future__ import annotations

import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxtune
from jaxtune.space import LogUniform, Space, Uniform
from jaxtune.sweep import FunctionTask, Sweep
from jaxtune.sweep.outputs import ARGUMENT_ORDER

SPACE = Space(lr=LogUniform(1e-3, 1.0), x=Uniform(-1.0, 1.0))


def _never_trained(monkeypatch):
    """Any training (parallel.run) fails the test: the check must come first."""

    def trained(*args, **kwargs):
        raise AssertionError("training started")

    monkeypatch.setattr(jaxtune.parallel, "run", trained)


def _refused(tmp_path, monkeypatch, fn, match, **kw):
    _never_trained(monkeypatch)
    store = tmp_path / "s"
    with pytest.raises(ValueError, match=match) as info:
        Sweep(SPACE, fn, 4, store=str(store), quiet=True, **kw)
    assert not os.path.exists(store), "nothing may be written before the check"
    return str(info.value)


def test_a_misspelled_objective_fails_before_training_with_the_closest_name(tmp_path, monkeypatch):
    def train(hparams, key):
        return {"val_los": hparams["x"] ** 2, "train_loss": hparams["lr"]}

    text = _refused(tmp_path, monkeypatch, train, "did you mean 'val_los'")
    assert "objective 'val_loss'" in text and "['train_loss', 'val_los']" in text
    # An objective named by the sweep is checked the same way.
    text = _refused(
        tmp_path, monkeypatch, train, "did you mean 'train_loss'", objective="trainloss"
    )
    assert "\n" not in text


def test_a_missing_objective_lists_the_outputs(tmp_path, monkeypatch):
    def train(hparams, key):
        return {"reward": hparams["x"]}

    text = _refused(tmp_path, monkeypatch, train, "objective 'val_loss' is not an output")
    assert "['reward']" in text and "objective=" in text


def test_a_prng_key_in_the_outputs_is_refused_before_training(tmp_path, monkeypatch):
    def train(hparams, key):
        key, sub = jax.random.split(key)
        return {"val_loss": hparams["x"] * jax.random.normal(sub), "state": {"rng": key}}

    text = _refused(tmp_path, monkeypatch, train, "output 'state/rng' is a PRNG key")
    assert "key_data" in text


def test_a_string_or_a_matrix_in_the_outputs_is_refused(tmp_path, monkeypatch):
    def with_string(hparams, key):
        return {"val_loss": hparams["x"], "note": "ok"}

    def with_matrix(hparams, key):
        return {"val_loss": hparams["x"], "weights": jnp.ones((3, 2))}

    _refused(tmp_path, monkeypatch, with_string, "output 'note' is a str, not a number")
    _refused(tmp_path, monkeypatch, with_matrix, r"output 'weights' has shape \(3, 2\)")


def test_hyperoptax_argument_order_gets_a_hint(tmp_path, monkeypatch):
    def hyperoptax_style(key, params):  # fn(key, params), as hyperoptax calls it
        return {"val_loss": params["lr"] * jax.random.normal(key)}

    def rng_first(rng, config):
        return {"val_loss": jax.random.normal(rng) * config["lr"]}

    text = _refused(tmp_path, monkeypatch, hyperoptax_style, "string indexing")
    assert ARGUMENT_ORDER in text and "train(hparams, key)" in text
    assert ARGUMENT_ORDER in _refused(tmp_path, monkeypatch, rng_first, "PRNG key")


def test_a_hyperparameter_the_space_lacks_is_named(tmp_path, monkeypatch):
    def train(hparams, key):
        return {"val_loss": hparams["learning_rate"]}

    _refused(tmp_path, monkeypatch, train, r"hparams\['learning_rate'\], which the space")


def test_a_scalar_return_is_the_objective(tmp_path):
    def train(hparams, key):
        return (jnp.log10(hparams["lr"]) + 2.0) ** 2

    res = Sweep(SPACE, train, 6, store=str(tmp_path / "s"), chunk_size=3, quiet=True).run()
    for t in res.trials:
        want = (np.log10(np.float32(t.hparams["lr"])) + 2.0) ** 2
        assert t.final == {"val_loss": pytest.approx(want, rel=1e-5)}
    named = Sweep(
        SPACE, train, 2, store=str(tmp_path / "n"), objective="regret", chunk_size=2, quiet=True
    ).run()
    assert set(named.trials[0].final) == {"regret"} and named.best_value >= 0


def test_per_epoch_arrays_are_curves_whose_final_is_the_last_finite_epoch(tmp_path):
    epochs = 5

    def train(hparams, key):
        e = jnp.arange(1, epochs + 1, dtype=jnp.float32)
        loss = hparams["lr"] / e
        # The last epoch is not run (NaN), as a History marks it.
        loss = jnp.where(e == epochs, jnp.nan, loss)
        return {"val_loss": loss, "acc": 1.0 - loss, "wall": jnp.float32(3.0)}

    res = Sweep(SPACE, train, 4, store=str(tmp_path / "s"), chunk_size=2, quiet=True).run()
    for t in res.trials:
        lr = np.float32(t.hparams["lr"])
        curve = t.curves["val_loss"]
        assert len(curve) == epochs and curve[-1] is None
        np.testing.assert_allclose(curve[:-1], lr / np.arange(1, epochs), rtol=1e-6)
        assert t.final["val_loss"] == curve[-2]  # the last finite epoch, not a mean
        assert t.final["acc"] == t.curves["acc"][-2] and t.final["wall"] == 3.0
        assert t.status == "ok"
    assert set(res.curves("acc")) == {t.trial for t in res.trials}


def test_an_infinite_curve_is_a_divergence(tmp_path):
    def train(hparams, key):
        loss = jnp.array([1.0, 0.5, jnp.inf, jnp.nan]) * hparams["lr"]
        return {"val_loss": loss}

    res = Sweep(SPACE, train, 2, store=str(tmp_path / "s"), chunk_size=2, quiet=True).run()
    assert [(t.status, t.diverged_epoch) for t in res.trials] == [("diverged", 3)] * 2
    with pytest.raises(ValueError, match="no finished, non-diverged trial"):
        res.best_params  # noqa: B018


def test_a_history_output_keeps_working(tiny_npz, tmp_path):
    data = jaxtune.datasets.from_npz(tiny_npz)
    trainer = jaxtune.make_train(data, batch_size=32, max_epochs=2)

    def train(hparams, key):  # a user's wrapper that returns the trainer's History
        return trainer({"learning_rate": hparams["lr"]}, key)

    task = FunctionTask(train)
    task.prepare(SPACE)
    assert task.outputs.history and not task.outputs.fields
    res = Sweep(
        SPACE, train, 2, store=str(tmp_path / "s"), objective="val_metric", quiet=True
    ).run()
    assert all(len(t.curves["val_loss"]) == 2 for t in res.trials)
    with pytest.raises(ValueError, match="did you mean 'val_metric'"):
        Sweep(SPACE, train, 2, store=str(tmp_path / "t"), objective="val_accuracy", quiet=True)


def test_a_trainer_keeps_its_objective_and_is_maximized(tiny_npz, tmp_path):
    data = jaxtune.datasets.from_npz(tiny_npz)
    trainer = jaxtune.make_train(data, batch_size=32, max_epochs=2)
    space = Space(learning_rate=LogUniform(0.01, 0.5))
    sweep = Sweep(space, trainer, 4, store=str(tmp_path / "t"), chunk_size=4, quiet=True)
    assert (sweep.objective, sweep.maximize) == ("val_accuracy", True)
    assert set(sweep.fingerprint) == {"program"}  # a trainer object has no source
    res = sweep.run()
    accs = [t.final["val_accuracy"] for t in res.ok()]
    assert res.best_value == max(accs)
    assert res.best_params == res.best(1)[0].hparams
