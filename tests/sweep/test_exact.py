"""Sweep(..., exact=True): every trial bit-identical to jax.jit(train)(hparams_i, key_i)."""

from __future__ import annotations

import jax
import numpy as np
import pytest

from jaxtune.space import Choice, LogUniform, OneMinusLogUniform, Space
from jaxtune.sweep import Sweep, Task


def _none_to_nan(curve):
    return np.array([np.nan if v is None else v for v in curve])


@pytest.mark.parametrize(
    ("model", "space"),
    [
        (
            "mlp",
            Space(
                learning_rate=LogUniform(1e-2, 0.5),
                momentum=OneMinusLogUniform(0.5, 0.95),
                hidden=Choice([8, 16]),
            ),
        ),
        ("cnn", Space(learning_rate=LogUniform(1e-2, 0.5))),
    ],
)
def test_exact_is_bit_identical_to_each_trial_run_alone(tmp_path, model, space):
    task = Task(dataset="digits", model=model, epochs=2, batch_size=128)
    sweep = Sweep(space, task, 3, store=str(tmp_path / model), exact=True, quiet=True)
    assert sweep.chunk_size == 1
    results = sweep.run()
    assert results.meta["exact"] is True
    samples = sweep.samples(sweep.space, 3, 0)
    group = (("optimizer", "momentum"), ("batch_size", 128))
    trainer = task.trainer(sweep.space, group)
    alone = jax.jit(trainer)
    for t in results.trials:
        hp = {k: np.asarray(v)[t.trial] for k, v in samples.items()}
        key = jax.random.fold_in(jax.random.key(0), t.trial)
        hist = alone(hp, key)
        for name, values in (("val_loss", hist.val_loss), ("val_accuracy", hist.val_metric)):
            # float32 -> float64 -> JSON -> float64 is exact: equal means bit-identical.
            np.testing.assert_array_equal(_none_to_nan(t.curves[name]), np.asarray(values))
        np.testing.assert_array_equal(
            _none_to_nan(t.curves["train_loss"]), np.asarray(hist.train_loss)
        )


def test_exact_refuses_another_chunk_size(tmp_path):
    with pytest.raises(ValueError, match="exact=True runs one trial per program"):
        Sweep(Space(learning_rate=LogUniform(1e-2, 0.5)), None, 2, exact=True, chunk_size=4)
