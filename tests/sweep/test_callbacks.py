"""Sweep(..., callbacks=[...]): each committed trial told once, whatever the strategy."""

from __future__ import annotations

import jax.numpy as jnp
import pytest

import jaxtune
from jaxtune.sweep.callbacks import check_callbacks


def _bowl(hparams, key):
    return {"val_loss": (jnp.log10(hparams["lr"]) + 2.0) ** 2}


SPACE = jaxtune.Space(lr=jaxtune.LogUniform(1e-4, 1.0))


def test_each_trial_is_told_once_with_its_stored_record_and_not_again_on_resume(tmp_path):
    seen, also = [], []
    store = str(tmp_path / "s")
    kw = dict(store=store, chunk_size=3, quiet=True, callbacks=[seen.append, also.append])
    results = jaxtune.Sweep(SPACE, _bowl, 7, **kw).run()
    assert sorted(r.trial for r in seen) == list(range(7))
    assert seen == also  # every callback, in the same order
    assert sorted(seen, key=lambda r: r.trial) == list(results.trials)  # as stored
    grown = jaxtune.Sweep(SPACE, _bowl, 9, **kw).run()  # resume and add two trials
    assert sorted(r.trial for r in seen) == list(range(9)) and len(grown) == 9


def test_a_model_based_sweep_tells_each_trial_once(tmp_path):
    seen = []
    kw = dict(sampler="tpe", batch=4, store=str(tmp_path / "t"), quiet=True)
    jaxtune.Sweep(SPACE, _bowl, 10, callbacks=[seen.append], **kw).run()
    assert sorted(r.trial for r in seen) == list(range(10))


def test_successive_halving_tells_every_trial_once_at_its_last_rung(tmp_path, tiny_npz):
    seen = []
    space = jaxtune.Space(learning_rate=jaxtune.LogUniform(1e-2, 0.5))
    results = jaxtune.Sweep(
        space,
        jaxtune.Task(dataset=tiny_npz),
        9,
        store=str(tmp_path / "sh"),
        quiet=True,
        scheduler=jaxtune.SuccessiveHalving(max_epochs=3),
        callbacks=[seen.append],
    ).run()
    assert sorted(r.trial for r in seen) == list(range(9))
    by_trial = {r.trial: r for r in seen}
    assert all(by_trial[t.trial] == t for t in results.trials)
    assert sorted(r.final["epochs_completed"] for r in seen) == [1] * 6 + [3] * 3


def test_bad_callbacks_are_refused_naming_the_argument():
    with pytest.raises(TypeError, match=r"callbacks\[1\] must be a callable callback\(record\)"):
        jaxtune.Sweep(SPACE, _bowl, 2, callbacks=[print, "log"])
    with pytest.raises(TypeError, match="callbacks must be a list of callables"):
        check_callbacks(print)
