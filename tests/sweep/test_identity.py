"""A sweep's identity in its store: fingerprints, growing n_trials, overwrite=True."""

from __future__ import annotations

import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxtune
from jaxtune.space import Choice, IntUniform, LogUniform, Space, Uniform
from jaxtune.sweep import Sweep, SweepMismatchError, Task
from jaxtune.sweep.sampling import draw

SPACE = Space(lr=LogUniform(1e-3, 1.0), x=Uniform(-1.0, 1.0), opt=Choice(["a", "b"]))


def _define(body: str):
    """A function named ``user.train`` whose body is ``body``: an edited source file."""
    namespace = {"jnp": jnp, "jax": jax, "__name__": "user"}
    exec(f"def train(hparams, key):\n    return {{'val_loss': {body}}}\n", namespace)
    return namespace["train"]


def _train(hparams, key):
    noise = jax.random.normal(key)
    return {"val_loss": (jnp.log10(hparams["lr"]) + 2.0) ** 2 + hparams["x"] * noise}


def test_an_edited_function_is_refused_in_one_line(tmp_path):
    store = str(tmp_path / "s")
    first = _define("hparams['x'] ** 2")
    Sweep(SPACE, first, 4, store=store, chunk_size=4, quiet=True).run()
    # The same body again resumes (a new function object, the same program).
    again = Sweep(SPACE, _define("hparams['x'] ** 2"), 4, store=store, quiet=True).run()
    assert len(again.trials) == 4
    edited = _define("hparams['x'] ** 2 + 0.1 * hparams['lr']")
    assert edited.__qualname__ == first.__qualname__ and edited.__module__ == first.__module__
    with pytest.raises(SweepMismatchError) as info:
        Sweep(SPACE, edited, 4, store=store, quiet=True).run()
    text = str(info.value)
    assert "\n" not in text
    assert "the function's program changed since this sweep was stored" in text
    assert "use another store (--out / store=...) or Sweep(..., overwrite=True)" in text
    assert len(jaxtune.load(store).trials) == 4


def test_a_changed_dataset_is_refused_for_the_built_in_task(tmp_path):
    data = tmp_path / "d.npz"
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(64, 4)).astype(np.float32), rng.integers(0, 2, 64)
    np.savez(data, x=x, y=y)
    space = Space(learning_rate=LogUniform(0.01, 0.5))
    task = Task(dataset=str(data), epochs=1, hidden=4, layers=1, batch_size=16)
    store = str(tmp_path / "s")
    sweep = Sweep(space, task, 2, store=store, chunk_size=2, quiet=True)
    assert set(sweep.fingerprint) == {"data"}
    sweep.run()
    np.savez(data, x=x + 1.0, y=y)  # same file, same settings, other numbers
    changed = Sweep(space, Task(**task.to_dict()), 2, store=store, quiet=True)
    with pytest.raises(SweepMismatchError, match="the dataset's content changed"):
        changed.run()
    # overwrite=True starts afresh in the same folder; other files stay.
    (tmp_path / "s" / "notes.txt").write_text("mine")
    (tmp_path / "s" / "rungs").mkdir()  # the old sweep's saved states go with it
    (tmp_path / "s" / "rungs" / "r0_pbt_g0_i1.npz").write_bytes(b"old")
    fresh = Sweep(space, Task(**task.to_dict()), 2, store=store, quiet=True, overwrite=True)
    assert len(fresh.run().trials) == 2
    assert (tmp_path / "s" / "notes.txt").read_text() == "mine"
    assert not (tmp_path / "s" / "rungs").exists()
    assert len(fresh.run().trials) == 2  # a second run() resumes: overwrite acts once


def test_the_program_digest_is_the_same_in_another_process(tmp_path):
    code = (
        "import jax, jax.numpy as jnp\n"
        "from jaxtune.space import LogUniform, Space\n"
        "from jaxtune.sweep import FunctionTask\n"
        "def train(hparams, key):\n"
        "    h = jax.nn.relu(hparams['lr'] * jax.random.normal(key, (3,)))\n"
        "    return {'val_loss': jnp.sum(h)}\n"
        "task = FunctionTask(train)\n"
        "task.prepare(Space(lr=LogUniform(1e-3, 1.0)))\n"
        "print(task.fingerprint()['program'])\n"
    )
    runs = [
        subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        ).stdout
        for _ in range(2)
    ]
    assert runs[0] == runs[1] and len(runs[0].strip()) == 64


def _ids_hparams_finals(results):
    return [(t.trial, t.hparams, t.final) for t in results.trials]


@pytest.mark.parametrize("sampler", ["random", "quasi_random"])
def test_raising_n_trials_adds_trials_and_keeps_the_first_bit_for_bit(tmp_path, sampler):
    kw = {"sampler": sampler, "chunk_size": 3, "quiet": True}
    store = str(tmp_path / "grown")
    small = Sweep(SPACE, _train, 6, store=store, **kw).run()
    grown = Sweep(SPACE, _train, 9, store=store, **kw).run()
    assert len(grown.trials) == 9 and [r["n_trials"] for r in grown.rounds] == [6, 3]
    # The first six are untouched (same numbers, bit for bit)...
    assert _ids_hparams_finals(grown)[:6] == _ids_hparams_finals(small)
    # ...and all nine are those of a fresh nine-trial sweep, hparams and values.
    fresh = Sweep(SPACE, _train, 9, store=str(tmp_path / "fresh"), **kw).run()
    assert _ids_hparams_finals(grown) == _ids_hparams_finals(fresh)
    assert grown.meta["n_trials"] == 9
    # Resuming the grown sweep runs nothing; a smaller n_trials is refused.
    assert len(Sweep(SPACE, _train, 9, store=store, **kw).run().trials) == 9
    with pytest.raises(SweepMismatchError, match="cannot shrink"):
        Sweep(SPACE, _train, 6, store=store, **kw).run()


def test_a_grown_sweep_zooms_on_all_of_its_first_round(tmp_path):
    store = str(tmp_path / "s")
    Sweep(SPACE, _train, 4, store=store, chunk_size=4, quiet=True).run()
    sweep = Sweep(SPACE, _train, 8, store=store, chunk_size=4, quiet=True)
    res = sweep.zoom(top_k=3)
    assert [r["n_trials"] for r in res.rounds] == [4, 4, 8]  # zoom: all 8 trials' size


def test_a_grid_cannot_grow(tmp_path):
    space = Space(lr=LogUniform(1e-3, 1.0), x=IntUniform(0, 9))
    store = str(tmp_path / "g")
    Sweep(space, _train, 4, sampler="grid", store=store, chunk_size=4, quiet=True).run()
    with pytest.raises(SweepMismatchError, match="a grid sweep cannot grow"):
        Sweep(space, _train, 9, sampler="grid", store=store, quiet=True).run()


def test_random_samples_are_prefix_stable():
    whole = draw(SPACE, "random", 3, 40)
    parts = [draw(SPACE, "random", 3, 15), draw(SPACE, "random", 3, 25, offset=15)]
    for name in SPACE.names:
        np.testing.assert_array_equal(whole[name], np.concatenate([p[name] for p in parts]))
    other = draw(SPACE, "random", 3, 40, sequence=1)
    assert not np.array_equal(whole["lr"], other["lr"])


def test_overwrite_refuses_a_folder_that_is_not_a_store(tmp_path):
    (tmp_path / "sweep.db").write_bytes(b"not sqlite at all, not even close " * 40)
    with pytest.raises(ValueError, match="not a jaxtune store"):
        Sweep(SPACE, _train, 2, store=str(tmp_path), quiet=True, overwrite=True).run()
    assert os.path.getsize(tmp_path / "sweep.db") > 0
