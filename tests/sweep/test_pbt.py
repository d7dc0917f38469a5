"""Population-based training: settings, exploit/explore, a found schedule, lineage, resume."""

from __future__ import annotations

import sqlite3

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from user_loops import Descent

import jaxtune
from jaxtune.space import Choice, IntUniform, LogUniform, OneMinusLogUniform, Space, Uniform
from jaxtune.strategies import CONTINUE, STOP, Copy, Report
from jaxtune.strategies.explore import explorer, perturb
from jaxtune.sweep import PBT, Sweep
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


def _reports(values, epoch=2, group=0):
    return [Report(t, epoch, v, group, {"lr": 0.1 * (t + 1)}) for t, v in enumerate(values)]


def test_the_bottom_quantile_copies_the_top_at_an_interval_end():
    pbt = PBT(interval_epochs=2, quantile_fraction=0.25, max_epochs=6).seeded(3)
    state = pbt.init(maximize=False)
    score = [0.1, float("nan"), 0.5, 0.2, 0.9, 0.3, 0.15, 0.4]
    state, out = pbt.decide(state, _reports(score, epoch=1))  # inside an interval
    assert out[1] == Copy(out[1].source, explore=False)  # NaN copies a top lane at once
    assert out[1].source in {0, 6} and [d for j, d in enumerate(out) if j != 1] == [CONTINUE] * 7
    assert state["lineage"] == [] and state["parent"]["1"] == out[1].source
    state = pbt.init(maximize=False)
    new, out = pbt.decide(state, _reports(score))
    copied = {j: d for j, d in enumerate(out) if isinstance(d, Copy)}
    assert sorted(copied) == [1, 4]  # NaN ranks last, then the worst score
    assert all(d.explore and d.source in {0, 6} for d in copied.values())  # from the best two
    assert [out[j] for j in range(8) if j not in copied] == [CONTINUE] * 6
    rows = new["lineage"]
    assert [(r["trial"], r["interval"], r["epochs"], r["parent"]) for r in rows[:2]] == [
        (0, 0, [0, 2], 0),
        (1, 0, [0, 2], 1),
    ]
    assert rows[1]["objective"] is None and rows[3]["hparams"] == {"lr": 0.4}
    assert new["parent"]["4"] == copied[4].source  # the next interval's parent
    assert pbt.decide(state, _reports(score)) == (new, out)  # seeded: the same again
    _, out = pbt.decide(pbt.init(maximize=True), _reports(score))
    assert sorted(j for j, d in enumerate(out) if isinstance(d, Copy)) == [0, 1]  # maximize
    _, out = pbt.decide(new, _reports(score, epoch=6))
    assert out == [STOP] * 8  # the last boundary
    # Two static groups are two populations: nobody copies across them.
    two = _reports(score[:4]) + [
        r._replace(trial=r.trial + 4, group=1) for r in _reports(score[4:])
    ]
    _, out = pbt.decide(pbt.init(maximize=False), two)
    assert {d.source for d in out[:4] if isinstance(d, Copy)} <= {0, 1, 2, 3}
    assert {d.source for d in out[4:] if isinstance(d, Copy)} <= {4, 5, 6, 7}


def test_explore_perturbs_or_runs_the_users_function_clipped_to_the_space():
    dims = {"lr": LogUniform(1e-3, 1.0)}
    step = explorer(dims, factors=(0.5,), resample_probability=0.0)
    hp = {"lr": jnp.float32(0.4), "hidden": jnp.int32(7)}
    out = step(hp, jax.random.key(0))
    np.testing.assert_allclose(float(out["lr"]), 0.2, rtol=1e-6)
    assert int(out["hidden"]) == 7 and out["hidden"].dtype == jnp.int32  # not explored
    mine = PBT(explore=lambda h, key: {**h, "lr": h["lr"] * 100.0}).explorer(dims)
    assert float(mine(hp, jax.random.key(0))["lr"]) == 1.0  # clipped to the space


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


def test_killed_at_an_interval_boundary_resumes_exactly(pbt_run, tmp_path, monkeypatch):
    import shutil

    from jaxtune.lanes import snapshots

    sweep, want = pbt_run
    kept, save = [], snapshots.save

    def keep(path, *args):  # every snapshot the runtime saves, in order
        save(path, *args)
        kept.append(path.read_bytes())

    monkeypatch.setattr(snapshots, "save", keep)
    kw = dict(seed=2, chunk_size=4, quiet=True, scheduler=sweep.scheduler)
    again = Sweep(sweep.space, sweep.task, 8, store=str(tmp_path / "a"), **kw)
    again.snapshot_seconds = 0  # a snapshot at every interval's copies
    first = again.run()
    assert [t.curves for t in first.trials] == [t.curves for t in want.trials]
    assert len(kept) == 3 + 1 + 1  # three boundaries, the last epoch, the finished round
    # As if killed after the second boundary's snapshot: nothing committed, no lineage.
    copy = tmp_path / "b"
    shutil.copytree(tmp_path / "a", copy)
    (copy / "lanes" / "r0.npz").write_bytes(kept[1])
    with sqlite3.connect(copy / "sweep.db") as conn:
        conn.execute("DELETE FROM trials")
        conn.execute("DELETE FROM meta WHERE key = 'pbt_lineage'")
    got = Sweep(sweep.space, sweep.task, 8, store=str(copy), **kw).run()
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


def test_tpe_proposes_the_population_of_pbt_on_a_users_loop(tmp_path):
    from jaxtune.lanes import compiles

    space = Space(learning_rate=LogUniform(1e-3, 2.5))
    kw = dict(sampler="tpe", scheduler=PBT(interval_epochs=2), objective="loss", quiet=True)
    before = compiles()
    res = Sweep(space, Descent(), 8, store=str(tmp_path / "a"), **kw).run()
    grew = {k: v - before.get(k, 0) for k, v in compiles().items()}
    assert grew == {"fill": 1, "advance": 1}  # one static group: two programs in all
    assert sorted(t.trial for t in res.trials) == list(range(8))
    rows = res.meta["pbt_lineage"]["0"]
    assert len(rows) == 8 * 3 and any(r["parent"] != r["trial"] for r in rows)
    for t in res.trials:  # the stored rate is the one of its last interval
        assert t.hparams["learning_rate"] == res.schedule(t.trial)["learning_rate"][-1]
    before = compiles()
    again = Sweep(space, Descent(), 8, store=str(tmp_path / "b"), **kw).run()
    assert compiles() == before  # a second identical sweep compiles nothing
    assert [t.curves for t in again.trials] == [t.curves for t in res.trials]
