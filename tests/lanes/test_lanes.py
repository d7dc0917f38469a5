"""The lane runtime end to end: exactness, compiled programs, resume, a user's own loop."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxtune
from jaxtune import lanes
from jaxtune.strategies import ASHA
from jaxtune.sweep import lane_round

SPACE = jaxtune.Space(
    learning_rate=jaxtune.LogUniform(1e-3, 1.0),
    momentum=jaxtune.OneMinusLogUniform(0.5, 0.95),
    hidden=jaxtune.IntUniform(4, 16),
)


def asha_sweep(npz, path, n=10, lanes_=3, **kw):
    task = jaxtune.Task(dataset=npz, epochs=9, batch_size=32)
    strategy = ASHA(max_epochs=9, reduction_factor=3, lanes=lanes_)
    return jaxtune.Sweep(SPACE, task, n, scheduler=strategy, store=str(path), quiet=True, **kw)


def by_trial(results):
    return {t.trial: t for t in results.trials}


@pytest.fixture(scope="module")
def reference(tiny_npz, tmp_path_factory):
    """One uninterrupted ASHA sweep (10 trials in 3 lanes: many refills)."""
    return by_trial(asha_sweep(tiny_npz, tmp_path_factory.mktemp("ref")).run())


def test_every_trial_once_and_stopped_at_rungs(reference):
    assert sorted(reference) == list(range(10))
    epochs = sorted(t.final["epochs_trained"] for t in reference.values())
    assert set(epochs) <= {1, 3, 9} and epochs[-1] == 9 and epochs[0] < 9
    for t in reference.values():
        assert len(t.curves["val_loss"]) == t.final["epochs_trained"]
        assert t.final["stopped"] == (1.0 if t.final["epochs_trained"] < 9 else 0.0)
        assert t.wall_time > 0  # its share of the lanes' training time


def test_a_trial_in_a_refilled_lane_equals_the_same_trial_trained_straight(
    reference, tiny_npz, tmp_path
):
    """Lanes of refills, stops and different epochs: each trial equals its own plain run
    (same id, same key, same hyperparameters) over the epochs it trained (rtol 1e-5)."""
    task = jaxtune.Task(dataset=tiny_npz, epochs=9, batch_size=32)
    plain = by_trial(
        jaxtune.Sweep(SPACE, task, 10, store=str(tmp_path), quiet=True, chunk_size=1).run()
    )
    for i, t in reference.items():
        assert t.hparams == plain[i].hparams
        e = t.final["epochs_trained"]
        for name in ("val_loss", "val_accuracy", "train_loss"):
            np.testing.assert_allclose(t.curves[name], plain[i].curves[name][:e], rtol=1e-5)


def test_two_programs_for_a_whole_sweep_and_none_for_a_second_one(tiny_npz, tmp_path):
    events = []
    jax.monitoring.register_event_duration_secs_listener(
        lambda name, *_, **__: events.append(name) if "compile" in name else None
    )
    before = lanes.compiles()
    asha_sweep(tiny_npz, tmp_path / "a", n=12, lanes_=4).run()
    first = {k: v - before.get(k, 0) for k, v in lanes.compiles().items()}
    assert first == {"fill": 1, "advance": 1}
    events.clear()
    asha_sweep(tiny_npz, tmp_path / "b", n=12, lanes_=4).run()
    assert lanes.compiles() == {k: before.get(k, 0) + 1 for k in ("fill", "advance")}
    assert [e for e in events if "backend_compile" in e] == []


class InterruptError(Exception):
    pass


def interrupted_run(make, monkeypatch, after: int):
    """Run ``make().run()``, raising after ``after`` commits, then resume to the end."""
    real, calls = lane_round.ChunkWriter.write_records, []

    def flaky(self, records):
        if len(calls) == after:
            raise InterruptError
        calls.append(len(records))
        real(self, records)

    with monkeypatch.context() as m:
        m.setattr(lane_round.ChunkWriter, "write_records", flaky)
        with pytest.raises(InterruptError):
            make().run()
    return by_trial(make().run())


def assert_same(got, want):
    assert sorted(got) == sorted(want)
    for i in want:
        a, b = got[i], want[i]
        assert (a.hparams, a.status, a.final, a.curves) == (b.hparams, b.status, b.final, b.curves)


@pytest.mark.parametrize(("after", "every"), [(1, 0.0), (4, 0.0), (3, 1e9)])
def test_interrupted_and_resumed_equals_uninterrupted(
    reference, tiny_npz, tmp_path, monkeypatch, after, every
):
    def make():
        sweep = asha_sweep(tiny_npz, tmp_path)
        sweep.snapshot_seconds = every  # 1e9: only the first snapshot, then replay
        return sweep

    assert_same(interrupted_run(make, monkeypatch, after), reference)


def test_a_snapshot_of_another_store_is_never_adopted(reference, tiny_npz, tmp_path, monkeypatch):
    def make():
        sweep = asha_sweep(tiny_npz, tmp_path)
        sweep.snapshot_seconds = 0.0
        return sweep

    real = lane_round.ChunkWriter.write_records
    monkeypatch.setattr(
        lane_round.ChunkWriter, "write_records", lambda *a: (_ for _ in ()).throw(InterruptError)
    )
    with pytest.raises(InterruptError):
        make().run()
    monkeypatch.setattr(lane_round.ChunkWriter, "write_records", real)
    (_snapshot,) = (tmp_path / "lanes").iterdir()
    for name in ("sweep.db", "sweep.db-wal", "sweep.db-shm"):
        (tmp_path / name).unlink(missing_ok=True)  # the store is gone, its snapshot stays
    assert_same(by_trial(make().run()), reference)


def test_tpe_with_asha_resumes_exactly(tiny_npz, tmp_path, monkeypatch):
    pytest.importorskip("optuna")

    def make(path=tmp_path / "run"):
        sweep = asha_sweep(tiny_npz, path, n=14, lanes_=3, sampler="tpe", seed=2)
        sweep.snapshot_seconds = 0.0
        return sweep

    want = by_trial(make(tmp_path / "ref").run())
    assert sorted(want) == list(range(14))
    assert_same(interrupted_run(make, monkeypatch, after=5), want)


@dataclasses.dataclass(frozen=True)
class Bowl:
    """A user's own loop: noisy gradient descent on a quadratic, one epoch = 5 steps."""

    max_epochs: int = 9

    def init(self, hparams, key):
        return {"x": jax.random.normal(key, (3,)) * 3.0, "key": key}

    def epoch(self, state, hparams):
        def step(x, k):
            grad = 2 * x + 0.1 * jax.random.normal(k, x.shape)
            return x - hparams["learning_rate"] * grad, None

        key, sub = jax.random.split(state["key"])
        x, _ = jax.lax.scan(step, state["x"], jax.random.split(sub, 5))
        return {"x": x, "key": key}, {"val_loss": jnp.sum(x**2)}


def test_a_users_own_loop_under_asha_equals_its_straight_run(tmp_path):
    space = jaxtune.Space(learning_rate=jaxtune.LogUniform(1e-3, 0.4))
    sweep = jaxtune.Sweep(
        space, Bowl(), 12, scheduler=ASHA(lanes=4), store=str(tmp_path / "a"), quiet=True
    )
    got = by_trial(sweep.run())
    assert sorted(got) == list(range(12))
    straight = jax.jit(lanes.LoopTrain(Bowl(), 9))
    for i, t in got.items():
        key = jax.random.fold_in(jax.random.key(0), i)
        curve = straight({"learning_rate": jnp.float32(t.hparams["learning_rate"])}, key)
        e = t.final["epochs_trained"]
        np.testing.assert_allclose(t.curves["val_loss"], curve["val_loss"][:e], rtol=1e-5)
    plain = jaxtune.Sweep(space, Bowl(), 4, store=str(tmp_path / "b"), quiet=True).run()
    assert len(plain.trials) == 4 and all(len(t.curves["val_loss"]) == 9 for t in plain.trials)


def test_a_plain_function_under_asha_is_refused_in_one_line(tmp_path):
    space = jaxtune.Space(x=jaxtune.Uniform(0.0, 1.0))
    with pytest.raises(TypeError, match=r"init\(hparams, key\) -> state and epoch\(state"):
        jaxtune.Sweep(
            space, lambda hp, key: {"val_loss": hp["x"]}, 4, scheduler="asha", store=str(tmp_path)
        )
    assert not any(tmp_path.iterdir())  # refused before anything is written


TWO_GROUPS = jaxtune.Space(
    learning_rate=jaxtune.LogUniform(1e-2, 0.5),
    hidden=jaxtune.IntUniform(4, 16),
    batch_size=jaxtune.Choice([16, 32]),
)


@pytest.mark.parametrize("sampler", ["random", "tpe"])
def test_hyperband_compiles_two_programs_per_static_group(tiny_npz, tmp_path, sampler):
    if sampler == "tpe":
        pytest.importorskip("optuna")
    task = jaxtune.Task(dataset=tiny_npz, epochs=9)
    hb = jaxtune.Hyperband(max_epochs=9, reduction_factor=3, lanes=4)
    before = lanes.compiles()
    seed = {"random": 7, "tpe": 8}[sampler]  # a seed of its own: programs of its own
    results = jaxtune.Sweep(
        TWO_GROUPS,
        task,
        1,
        sampler=sampler,
        seed=seed,
        scheduler=hb,
        store=str(tmp_path),
        quiet=True,
    ).run()
    grown = {k: v - before.get(k, 0) for k, v in lanes.compiles().items()}
    groups = {t.group for t in results.trials}
    assert len(groups) == 2 and grown == {"fill": 2, "advance": 2}
    assert sorted(t.trial for t in results.trials) == list(range(17))  # 9 + 5 + 3
    for bracket in (range(0, 9), range(9, 14), range(14, 17)):
        epochs = [results.trials[i].final["epochs_trained"] for i in bracket]
        assert max(epochs) == 9  # every bracket's best reaches max_epochs


@pytest.mark.parametrize("sampler", ["random", "tpe"])
def test_a_grown_round_keeps_its_trials_and_continues(tiny_npz, tmp_path, sampler):
    """n_trials raised after a finished ASHA round: the stored trials stay as they were,
    the new ones continue the proposer's sequence (its state is in the last snapshot)."""
    if sampler == "tpe":
        pytest.importorskip("optuna")
    first = by_trial(asha_sweep(tiny_npz, tmp_path / "a", n=6, sampler=sampler).run())
    assert (tmp_path / "a" / "lanes" / "r0.npz").is_file()
    grown = by_trial(asha_sweep(tiny_npz, tmp_path / "a", n=10, sampler=sampler).run())
    assert sorted(grown) == list(range(10))
    assert_same({i: grown[i] for i in range(6)}, first)
    if sampler == "random":  # the samples a plain sweep of 10 draws
        plain = jaxtune.Sweep(
            SPACE,
            jaxtune.Task(dataset=tiny_npz, epochs=1),
            10,
            store=str(tmp_path / "p"),
            quiet=True,
        ).run()
        assert [grown[i].hparams for i in range(10)] == [t.hparams for t in plain.trials]
    else:  # TPE heard the first six: no proposal repeats one of them
        seen = [tuple(t.hparams.values()) for t in first.values()]
        assert all(tuple(grown[i].hparams.values()) not in seen for i in range(6, 10))


def test_fill_initializes_new_lanes_exactly_as_a_vmapped_init(tiny_npz):
    """``fill`` runs ``init`` lane by lane (half the compile of a vmapped one): the states
    of the lanes that take a new trial equal ``vmap(init)``'s bit for bit, the others
    keep what they held."""
    from jaxtune.lanes.programs import programs, template

    task = jaxtune.Task(dataset=tiny_npz, epochs=2)
    task.prepare(SPACE, 0)
    group = task.group_of(SPACE, {"learning_rate": 0.1, "momentum": 0.9, "hidden": 8})
    loop = lanes.TrainerLoop(task.trainer(SPACE, group))
    n = 4
    hp = {
        "learning_rate": np.linspace(0.01, 0.4, n).astype(np.float32),
        "momentum": np.full(n, 0.9, np.float32),
        "hidden": np.array([4, 8, 12, 16], np.int32),
    }
    keys = jax.random.split(jax.random.key(3), n)
    held = jax.vmap(loop.init)(hp, jax.random.split(keys[0], n))  # what the lanes held
    fresh = np.array([True, False, True, True])
    empty = template(loop, hp, keys)
    progs = programs(loop, ("fill-exactness", tiny_npz, group), n)
    no_copy = (jnp.arange(n, dtype=jnp.int32), jnp.zeros(n, bool))
    got = progs.fill(held, hp, keys, jnp.asarray(fresh), empty, jnp.zeros(n, bool), *no_copy)
    want = jax.vmap(loop.init)(hp, keys)

    def data(x):
        is_key = jnp.issubdtype(x.dtype, jax.dtypes.prng_key)
        return np.asarray(jax.random.key_data(x) if is_key else x)

    leaves = [jax.tree.leaves(t) for t in (got, want, held)]
    for g, w, h in zip(*leaves, strict=True):
        g, w, h = data(g), data(w), data(h)
        np.testing.assert_array_equal(g[fresh], w[fresh])
        np.testing.assert_array_equal(g[~fresh], h[~fresh])
