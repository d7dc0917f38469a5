"""Population-based training: settings, exploit/explore, a found schedule, lineage, resume."""

from __future__ import annotations

import sqlite3

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxtune
from jaxtune.space import Choice, IntUniform, LogUniform, OneMinusLogUniform, Space, Uniform
from jaxtune.sweep import PBT, Sweep
from jaxtune.sweep.explore import make_exploit, perturb
from jaxtune.sweep.schedulers import scheduler_from_dict
from jaxtune.train import History


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"interval_epochs": 0}, r"interval_epochs must be an integer >= 1"),
        ({"quantile_fraction": 0.6}, r"quantile_fraction must be a number in \[0, 0.5\]"),
        ({"resample_probability": -0.1}, r"resample_probability must be a number in \[0, 1"),
        ({"perturbation_factors": ()}, "perturbation_factors must be a non-empty list"),
        ({"perturbation_factors": (0.8, 0.0)}, "perturbation_factors must hold numbers > 0"),
        ({"max_epochs": 0}, r"max_epochs must be an integer >= 1"),
        ({"explore": 3}, "explore must be None, a function"),
    ],
)
def test_bad_settings_name_the_argument_and_range(kw, match):
    with pytest.raises(ValueError, match=match):
        PBT(**kw)


def test_dict_form_round_trips_through_the_store_format():
    pbt = scheduler_from_dict({"kind": "pbt", "interval_epochs": 3, "max_epochs": 9})
    assert pbt == PBT(interval_epochs=3, max_epochs=9)
    assert scheduler_from_dict(pbt.to_dict()) == pbt
    assert pbt.to_dict()["perturbation_factors"] == [0.8, 1.2]  # JSON keeps a list
    assert pbt.boundaries() == [(0, 3), (3, 6), (6, 9)]
    assert [PBT().n_quantile(n) for n in (1, 2, 4, 5, 64)] == [0, 1, 1, 2, 16]  # Ray's ceil


def test_perturb_moves_each_dimension_on_its_own_scale():
    dims = {
        "lr": LogUniform(1e-3, 1.0),
        "beta": OneMinusLogUniform(0.5, 0.99),
        "units": IntUniform(1, 100),
        "d": Uniform(0.0, 1.0),
        "act": Choice(["relu", "tanh", "gelu"]),
    }
    hp = {
        "lr": jnp.float32(0.9),
        "beta": jnp.float32(0.9),
        "units": jnp.int32(10),
        "d": jnp.float32(0.5),
        "act": jnp.int32(1),
        "hidden": jnp.int32(7),  # not explored: copied as it is
    }
    # One program: factor and resampling chance are traced, lanes vmapped.
    go = jax.jit(
        jax.vmap(lambda k, f, p: perturb(dims, hp, k, factors=(f,), resample_probability=p))
    )
    f = jnp.array([1.2, 0.5] + [1.2] * 64)
    p = jnp.array([0.0, 0.0] + [1.0] * 64)
    out = go(jax.random.split(jax.random.key(0), 66), f, p)
    up = {k: v[0] for k, v in out.items()}
    assert float(up["lr"]) == 1.0  # 1.08 clipped to the space
    np.testing.assert_allclose(float(up["beta"]), 1 - 0.1 * 1.2, rtol=1e-6)  # on 1 - beta
    assert int(up["units"]) == 12 and up["units"].dtype == jnp.int32
    np.testing.assert_allclose(float(up["d"]), 0.6, rtol=1e-6)
    assert int(up["act"]) in (0, 2) and int(up["hidden"]) == 7  # a neighbouring choice
    np.testing.assert_allclose(float(out["lr"][1]), 0.45, rtol=1e-6)
    np.testing.assert_allclose(float(out["beta"][1]), 0.95, rtol=1e-6)
    resampled = {k: v[2:] for k, v in out.items()}
    for name, dim in dims.items():
        assert bool(jnp.all(dim.contains(resampled[name]))), name
    assert len(np.unique(np.asarray(resampled["lr"]))) == 64


def test_exploit_gathers_the_bottom_quantile_from_the_top():
    step = make_exploit(
        {"lr": LogUniform(1e-3, 1.0)},
        2,
        maximize=False,
        factors=(0.5,),
        resample_probability=0.0,
    )
    score = jnp.array([0.1, jnp.nan, 0.5, 0.2, 0.9, 0.3, 0.15, 0.4])
    state = {"w": jnp.arange(8.0)[:, None] * jnp.ones((8, 3))}
    hp = {"lr": jnp.linspace(0.1, 0.8, 8), "hidden": jnp.arange(8, dtype=jnp.int32)}
    new_state, new_hp, parent = step(state, hp, score, jax.random.key(0))
    parent = np.asarray(parent)
    replaced = np.flatnonzero(parent != np.arange(8))
    assert sorted(replaced) == [1, 4]  # NaN ranks last, then the worst score
    assert set(parent[replaced]) <= {0, 6}  # copied from the two best
    np.testing.assert_array_equal(np.asarray(new_state["w"])[:, 0], parent.astype(float))
    kept = np.setdiff1d(np.arange(8), replaced)
    np.testing.assert_array_equal(np.asarray(new_hp["lr"])[kept], np.asarray(hp["lr"])[kept])
    np.testing.assert_allclose(
        np.asarray(new_hp["lr"])[replaced], 0.5 * np.asarray(hp["lr"])[parent[replaced]], 1e-6
    )
    np.testing.assert_array_equal(np.asarray(new_hp["hidden"]), parent)  # copied, not moved
    again = step(state, hp, score, jax.random.key(0))
    np.testing.assert_array_equal(np.asarray(again[2]), parent)  # seeded
    # A user's explore replaces the perturbation; its result is clipped to the space too.
    mine = make_exploit(
        {"lr": LogUniform(1e-3, 1.0)}, 2, maximize=True, factors=(0.8,),
        resample_probability=0.0, explore=lambda h, key: {**h, "lr": h["lr"] * 100.0},
    )  # fmt: skip
    _, hp2, parent2 = mine(state, hp, score, jax.random.key(0))
    replaced = np.flatnonzero(np.asarray(parent2) != np.arange(8))
    assert sorted(replaced) == [0, 1]  # higher is better now: the lowest score goes
    np.testing.assert_array_equal(np.asarray(hp2["lr"])[replaced], [1.0, 1.0])


class Bowl:
    """SGD with gradient noise on ``0.5 |x|^2``: a constant step stalls at a noise floor
    that grows with the step (the course notes' oscillating constant rate), so a
    decaying rate ends lower than any constant one. Every lane sees the same noise (a
    fixed table: cheap to compile, and a paired comparison)."""

    max_epochs, steps, dim = 16, 10, 64
    noise = np.random.default_rng(0).normal(size=(16, 10, 64)).astype(np.float32)

    def init(self, hp, key):
        return {"x": jnp.full((self.dim,), 3.0), "epoch": jnp.int32(0)}

    def run(self, state, hp, num_epochs, start_epoch=None):
        lr = hp["learning_rate"]

        def epoch(st, _):
            def step(x, g):
                return x - lr * (x + g), None

            x, _ = jax.lax.scan(step, st["x"], jnp.asarray(self.noise)[st["epoch"]])
            loss = 0.5 * jnp.mean(x**2)
            return {"x": x, "epoch": st["epoch"] + 1}, (loss, lr)

        st, (loss, lrs) = jax.lax.scan(epoch, state, jnp.arange(num_epochs))
        return st, History(loss, loss, loss, lrs, jnp.int32(self.max_epochs), jnp.int32(0))

    def __call__(self, hp, key):
        return self.run(self.init(hp, key), hp, self.max_epochs)[1]

    def with_hyperparams(self, state, hp):
        return state  # run reads the rate from hp at every call: nothing kept in state


def test_pbt_finds_a_decaying_rate_that_beats_every_constant_one(tmp_path):
    space = Space(learning_rate=LogUniform(1e-3, 1.0))
    kw = dict(store=str(tmp_path / "plain"), quiet=True, chunk_size=None, seed=3)
    bowl = Bowl()
    plain = Sweep(space, bowl, 16, **kw).run()
    kw["store"] = str(tmp_path / "long")
    # interval_epochs >= max_epochs: nothing is exploited, a plain sweep of the same trials.
    once = Sweep(space, bowl, 16, **kw, scheduler=PBT(interval_epochs=16)).run()
    for a, b in zip(plain.trials, once.trials, strict=True):
        assert (a.trial, a.hparams, a.status) == (b.trial, b.hparams, b.status)
        assert a.curves == b.curves  # bit for bit (the same batch shape)
    kw["store"] = str(tmp_path / "pbt")
    res = Sweep(space, bowl, 16, **kw, scheduler=PBT(interval_epochs=1)).run()
    best = res.best(1)[0]
    constant = [t.final["val_loss"] for t in plain.trials]
    assert best.final["val_loss"] < min(constant)
    lr = res.schedule(best.trial)["learning_rate"]
    assert len(lr) == 16 and lr[-1] < 0.25 * lr[0]  # the schedule it found decays
    assert np.mean(lr[8:]) < 0.5 * np.mean(lr[:8])  # mostly downwards
    np.testing.assert_allclose(best.curves["learning_rate"], lr, rtol=1e-6)
    kw["store"] = str(tmp_path / "again")  # seeded: the same sweep gives the same result
    again = Sweep(space, bowl, 16, **kw, scheduler=PBT(interval_epochs=1)).run()
    assert [t.curves for t in again.trials] == [t.curves for t in res.trials]
    assert again.meta["pbt_lineage"] == res.meta["pbt_lineage"]


CONFIG = """
trials = 8
seed = 2
chunk_size = 4
[task]
dataset = "{npz}"
epochs = 4
batch_size = 32
[scheduler]
kind = "pbt"
interval_epochs = 1
quantile_fraction = 0.25
[space]
learning_rate = {{ type = "log_uniform", low = 0.01, high = 0.5 }}
momentum = {{ type = "one_minus_log_uniform", low = 0.5, high = 0.95 }}
hidden = {{ type = "int_uniform", low = 4, high = 16 }}
"""


@pytest.fixture(scope="module")
def pbt_run(tmp_path_factory, tiny_npz):
    from jaxtune.cli.command import _parser, _sweep_from_args

    folder = tmp_path_factory.mktemp("pbt")
    cfg = folder / "pbt.toml"
    cfg.write_text(CONFIG.format(npz=tiny_npz))
    args = _parser().parse_args(["sweep", str(cfg), "--out", str(folder / "run"), "--quiet"])
    sweep = _sweep_from_args(args)  # the TOML's [scheduler] table
    assert sweep.scheduler == PBT(interval_epochs=1)
    flag = ["sweep", str(cfg), "--scheduler", "pbt", "--out", str(folder / "x")]
    assert _sweep_from_args(_parser().parse_args(flag)).scheduler == PBT(interval_epochs=1)
    return sweep, sweep.run()


def test_lineage_and_new_rates_written_into_the_optimizer_state(pbt_run, tmp_path):
    _, res = pbt_run
    assert res.meta["scheduler"]["kind"] == "pbt" and len(res.trials) == 8
    rows = res.meta["pbt_lineage"]["0"]
    assert len(rows) == 8 * 4 and {r["interval"] for r in rows} == {0, 1, 2, 3}
    moved = [r for r in rows if r["parent"] != r["trial"]]
    assert moved and all(r["interval"] > 0 for r in moved)
    assert len(moved) == 2 * 3  # two lanes replaced at each of three boundaries
    for r in moved:  # masked hidden copied from the parent, never perturbed
        parent = next(
            p for p in rows if (p["trial"], p["interval"]) == (r["parent"], r["interval"] - 1)
        )
        assert r["hparams"]["hidden"] == parent["hparams"]["hidden"]
    for t in res.trials:
        sched = res.schedule(t.trial)
        # The rate the trainer used (read from its optimizer state) is the explored one.
        np.testing.assert_allclose(t.curves["learning_rate"], sched["learning_rate"], rtol=1e-6)
        assert t.hparams["learning_rate"] == sched["learning_rate"][-1]
    assert "rung" not in res.summary(3).splitlines()[1]
    fig = jaxtune.plots.population_plot(res, path=tmp_path / "lr.png")
    assert (tmp_path / "lr.png").stat().st_size > 0
    assert len(fig.axes[0].lines) == 8 + 1 and fig.axes[0].get_yscale() == "log"
    with pytest.raises(ValueError, match="trial_id"):
        res.schedule(99)
    with pytest.raises(ValueError, match="name must be one of"):
        jaxtune.plots.population_plot(res, name="lr")


def test_killed_at_an_interval_boundary_resumes_exactly(pbt_run, tmp_path):
    import shutil

    sweep, want = pbt_run
    copy = tmp_path / "run"
    shutil.copytree(sweep.path, copy)
    # As if killed after the first boundary was saved: later boundaries and the
    # committed trials are gone.
    saved = sorted((copy / "rungs").glob("r0_pbt_g0_i*.npz"))
    assert [p.name for p in saved] == [f"r0_pbt_g0_i{k}.npz" for k in range(3)]
    for p in saved[1:]:
        p.unlink()
    with sqlite3.connect(copy / "sweep.db") as conn:
        conn.execute("DELETE FROM trials")
    again = Sweep(sweep.space, sweep.task, 8, seed=2, store=str(copy), chunk_size=4,
                  quiet=True, scheduler=sweep.scheduler)  # fmt: skip
    got = again.run()
    assert [t.hparams for t in got.trials] == [t.hparams for t in want.trials]
    assert [t.curves for t in got.trials] == [t.curves for t in want.trials]
    assert got.meta["pbt_lineage"] == want.meta["pbt_lineage"]


def test_pbt_refuses_a_trainer_that_cannot_take_new_hyperparameters(tmp_path):
    """A copied state must train with the values the lineage reports: a trainer without
    with_hyperparams (its optimizer numbers stay in its state) is refused in one line."""
    import dataclasses as dc

    import jaxtune

    trainer = jaxtune.make_train(jaxtune.datasets.synthetic(), max_epochs=4)

    @dc.dataclass(frozen=True, eq=False)
    class KeepsItsNumbers:
        inner: object
        max_epochs: int = 4

        def __call__(self, hparams, key):
            return self.inner(hparams, key)

        def init(self, hparams, key):
            return self.inner.init(hparams, key)

        def run(self, state, hparams, epochs, **kw):
            return self.inner.run(state, hparams, epochs, **kw)

    space = jaxtune.Space(learning_rate=jaxtune.LogUniform(0.01, 0.5))
    sweep = jaxtune.Sweep(
        space,
        KeepsItsNumbers(trainer),
        4,
        scheduler=jaxtune.PBT(interval_epochs=2),
        store=str(tmp_path),
        quiet=True,
    )
    with pytest.raises(TypeError, match=r"must offer with_hyperparams\(state, hparams\)"):
        sweep.run()
