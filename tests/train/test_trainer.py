"""Tests for jaxtune.train: batched trials equal trials trained alone, masking, epochs,
divergence, resume, manual decay, seeds, regression, and the digits target."""

from __future__ import annotations

import pickle

import flax.linen as nn
import jax
import jax.extend
import jax.numpy as jnp
import numpy as np
import pytest
from jaxtune.models import MLP, active_params, as_model

from jaxtune import datasets, space, train
from jaxtune.schedules import set_hyperparams

RTOL = 1e-5  # float32 batched vs alone: XLA may fuse a batched program differently


@pytest.fixture(scope="module")
def data() -> datasets.Dataset:
    return datasets.synthetic(n=600, seed=0)


@pytest.fixture(scope="module")
def trainer(data) -> train.Trainer:
    return train.make_train(
        data, MLP(max_hidden=32, max_layers=2, n_out=data.n_out), batch_size=32, max_epochs=6
    )


def _batch(n: int, seed: int = 0) -> dict[str, jax.Array]:
    k1, k2, k3 = jax.random.split(jax.random.key(seed), 3)
    return {
        "learning_rate": 10 ** jax.random.uniform(k1, (n,), minval=-3.0, maxval=-0.5),
        "momentum": 1 - 10 ** jax.random.uniform(k2, (n,), minval=-2.0, maxval=-0.7),
        "decay_system": jax.random.randint(k3, (n,), 0, 6),
        "hidden": jnp.full((n,), 32),
        "layers": jnp.full((n,), 2),
    }


def _lane(tree, i):
    return jax.tree_util.tree_map(lambda x: x[i], tree)


def _assert_history_close(a: train.History, b: train.History, rtol: float = RTOL) -> None:
    for name in ("train_loss", "val_loss", "val_metric", "learning_rate"):
        np.testing.assert_allclose(
            np.asarray(getattr(a, name)), np.asarray(getattr(b, name)), rtol=rtol, err_msg=name
        )
    assert int(a.diverged_epoch) == int(b.diverged_epoch)


def test_trials_in_a_batch_equal_trials_alone(trainer) -> None:
    n = 32
    hp = _batch(n)
    keys = jax.random.split(jax.random.key(1), n)
    batched = jax.jit(jax.vmap(trainer))(hp, keys)
    alone = jax.jit(trainer)
    for i in (3, 17, 30):
        _assert_history_close(_lane(batched, i), alone(_lane(hp, i), keys[i]))
    # The systems really differ: the recorded rates follow each trial's own schedule.
    assert len({tuple(np.round(np.asarray(r), 7)) for r in batched.learning_rate}) > 20


def test_learning_rate_record_follows_the_decay_system(trainer, data) -> None:
    steps = trainer.steps_per_epoch
    hp = {"learning_rate": 0.1, "decay_system": 1, "decay_rate": 0.5}  # inverse time
    hist = jax.jit(trainer)(hp, jax.random.key(0))
    epochs = np.arange(1, 7)
    np.testing.assert_allclose(np.asarray(hist.learning_rate), 0.1 / (1 + 0.5 * epochs), rtol=1e-6)
    hp = {"learning_rate": 0.1, "decay_system": 4, "decay_k": 1.0}  # sqrt per step
    hist = jax.jit(trainer)(hp, jax.random.key(0))
    first_steps = (epochs - 1) * steps + 1
    np.testing.assert_allclose(
        np.asarray(hist.learning_rate), 0.1 / np.sqrt(first_steps), rtol=1e-6
    )


def test_masked_trial_trains_like_the_small_network(data) -> None:
    """hidden=24, layers=2 padded to 64 and 4 trains to the same numbers as a plain 24x2."""
    padded = MLP(max_hidden=64, max_layers=4, n_out=data.n_out)
    arch = {"hidden": 24, "layers": 2}

    class Plain(nn.Module):
        @nn.compact
        def __call__(self, x):
            for i in range(2):
                x = nn.relu(nn.Dense(24, name=f"hidden_{i}")(x))
            return nn.Dense(data.n_out, name="output")(x)

    # The plain network starts from exactly the active weights of the padded one.
    plain = as_model(
        lambda key, x: active_params(padded.init(key, x, **arch), **arch),
        lambda params, x: Plain().apply(params, x),
    )
    kwargs = dict(batch_size=32, max_epochs=4, optimizer="adam")
    masked_hist = jax.jit(train.make_train(data, padded, **kwargs))(
        {"learning_rate": 3e-3, **arch}, jax.random.key(5)
    )
    plain_hist = jax.jit(train.make_train(data, plain, **kwargs))(
        {"learning_rate": 3e-3}, jax.random.key(5)
    )
    _assert_history_close(masked_hist, plain_hist)
    assert float(masked_hist.val_loss[-1]) < float(masked_hist.val_loss[0])


def test_fewer_epochs_inside_a_longer_program_equal_a_separate_run(data) -> None:
    model = MLP(max_hidden=32, max_layers=2, n_out=data.n_out)
    long = train.make_train(data, model, batch_size=32, max_epochs=10)
    short = train.make_train(data, model, batch_size=32, max_epochs=5)
    hp = {"learning_rate": 0.05, "momentum": 0.9, "epochs": 5}
    h_long = jax.jit(long)(hp, jax.random.key(2))
    h_short = jax.jit(short)({k: v for k, v in hp.items() if k != "epochs"}, jax.random.key(2))
    for name in ("train_loss", "val_loss", "val_metric", "learning_rate"):
        got = np.asarray(getattr(h_long, name))
        np.testing.assert_allclose(got[:5], np.asarray(getattr(h_short, name)), rtol=RTOL)
        assert np.all(np.isnan(got[5:])), name  # epochs the trial did not run
    final = train.final_metrics(h_long)
    assert int(final["epochs_completed"]) == 5
    np.testing.assert_allclose(float(final["val_loss"]), float(h_short.val_loss[-1]), rtol=RTOL)


def test_diverging_trial_never_touches_the_others(trainer) -> None:
    n = 16
    hp = _batch(n, seed=3)
    keys = jax.random.split(jax.random.key(4), n)
    bad = hp | {"learning_rate": hp["learning_rate"].at[7].set(1e3)}
    run = jax.jit(jax.vmap(trainer))
    with_bad, without = run(bad, keys), run(hp, keys)
    others = np.arange(n) != 7
    for name in ("train_loss", "val_loss", "val_metric", "learning_rate"):
        a = np.asarray(getattr(with_bad, name))[others]
        b = np.asarray(getattr(without, name))[others]
        np.testing.assert_array_equal(a, b, err_msg=name)  # bit for bit
    assert int(with_bad.diverged_epoch[7]) >= 1
    assert not np.any(np.asarray(with_bad.diverged_epoch)[others])
    final = train.final_metrics(with_bad)
    assert bool(final["diverged"][7]) and int(np.sum(final["diverged"])) == 1
    for name, value in final.items():
        assert not np.any(np.isnan(np.asarray(value))), name
    # The same 15 trials in a batch of their own agree too (to rounding: another shape).
    only_good = jax.jit(jax.vmap(trainer))(_lane(hp, others), keys[others])
    np.testing.assert_allclose(
        np.asarray(only_good.val_loss), np.asarray(with_bad.val_loss)[others], rtol=RTOL
    )


def test_resume_after_saving_equals_an_uninterrupted_run(trainer) -> None:
    hp = {"learning_rate": 0.05, "momentum": 0.9, "decay_system": 2, "hidden": 24, "layers": 2}
    key = jax.random.key(6)
    whole = jax.jit(trainer)(hp, key)
    state = trainer.init(hp, key)
    state, first = jax.jit(trainer.run, static_argnums=2)(state, hp, 3)
    # Save and load as a user would: a host copy of the state, pickled.
    saved = pickle.dumps(jax.device_get(jax.tree_util.tree_map(_unkey, state)))
    state = jax.tree_util.tree_map(jnp.asarray, pickle.loads(saved))
    state = state._replace(key=jax.random.wrap_key_data(state.key))
    state, second = jax.jit(trainer.run, static_argnums=2)(state, hp, 3)
    joined = jax.tree_util.tree_map(
        lambda a, b: jnp.concatenate([a, b]) if jnp.ndim(a) else b, first, second
    )
    _assert_history_close(joined, whole, rtol=1e-6)


def _unkey(x):
    return jax.random.key_data(x) if jnp.issubdtype(x.dtype, jax.dtypes.prng_key) else x


def test_manual_decay_between_epochs(trainer) -> None:
    hp = {"learning_rate": 0.05, "momentum": 0.9}
    state = trainer.init(hp, jax.random.key(7))
    run = jax.jit(trainer.run, static_argnums=2)
    state, before = run(state, hp, 2)
    state = state._replace(opt_state=set_hyperparams(state.opt_state, learning_rate=0.005))
    state, after = run(state, hp, 2)
    np.testing.assert_allclose(np.asarray(before.learning_rate), [0.05, 0.05], rtol=1e-6)
    np.testing.assert_allclose(np.asarray(after.learning_rate), [0.005, 0.005], rtol=1e-6)


def test_seeds_per_trial_are_batched_and_summarized(data) -> None:
    model = MLP(max_hidden=32, max_layers=2, n_out=data.n_out)
    trainer = train.make_train(data, model, batch_size=32, max_epochs=3, seeds_per_trial=4)
    hp = {"learning_rate": jnp.array([0.05, 0.1])}
    hist = jax.jit(jax.vmap(trainer))(hp, jax.random.split(jax.random.key(0), 2))
    assert hist.val_loss.shape == (2, 4, 3)
    # Each seed equals the single-seed trainer run with the corresponding split key.
    single = train.make_train(data, model, batch_size=32, max_epochs=3)
    seed_keys = jax.random.split(jax.random.split(jax.random.key(0), 2)[1], 4)
    # Seed 2 of a trial takes the third shared data order, as the single trainer does
    # when told it is seed index 2.
    one = jax.jit(single.train_one)({"learning_rate": 0.1}, seed_keys[2], 2)
    np.testing.assert_allclose(
        np.asarray(hist.val_loss[1, 2]), np.asarray(one.val_loss), rtol=RTOL
    )
    final = train.final_metrics(hist, seed_axis=1)
    np.testing.assert_allclose(
        np.asarray(final["val_loss"]), np.asarray(hist.val_loss[:, :, -1].mean(axis=1)), rtol=1e-6
    )
    np.testing.assert_allclose(
        np.asarray(final["val_loss_std"]),
        np.asarray(hist.val_loss[:, :, -1].std(axis=1)),
        rtol=1e-5,
    )


@pytest.mark.parametrize("family", ["sgd", "momentum", "nesterov", "rmsprop", "adam", "adamw"])
def test_every_family_learns(data, family) -> None:
    lr = {"sgd": 0.3, "momentum": 0.05, "nesterov": 0.05}.get(family, 3e-3)
    trainer = train.make_train(data, optimizer=family, batch_size=32, max_epochs=6)
    hist = jax.jit(trainer)({"learning_rate": lr, "hidden": 64, "layers": 2}, jax.random.key(0))
    # Guessing uniformly over 3 spiral arms scores log(3) and accuracy 1/3.
    assert float(hist.val_loss[-1]) < 0.7 * np.log(3)
    assert float(hist.val_metric[-1]) > 0.55


def test_regression_task_with_mse() -> None:
    rng = np.random.default_rng(0)
    x = rng.uniform(-2, 2, (800, 3)).astype(np.float32)
    y = (np.sin(x[:, 0]) + 0.5 * x[:, 1] ** 2 - x[:, 2])[:, None]
    data = datasets.from_arrays(x, y, task="regression")
    trainer = train.make_train(data, optimizer="adam", batch_size=32, max_epochs=8)
    assert trainer.metric_name == "mse"
    hist = jax.jit(trainer)({"learning_rate": 3e-3, "hidden": 64, "layers": 2}, jax.random.key(0))
    # The metric is the mean squared error itself, the same as the loss here.
    np.testing.assert_allclose(np.asarray(hist.val_metric), np.asarray(hist.val_loss), rtol=1e-6)
    target_var = float(jnp.var(data.y_val))
    assert float(hist.val_loss[-1]) < 0.1 * target_var


def test_pluggable_loss_and_metric(data) -> None:
    def hinge(out, y):
        correct = jnp.take_along_axis(out, y[:, None], axis=1)[:, 0]
        return jnp.maximum(0.0, 1.0 + jnp.max(out, axis=1) - correct)

    trainer = train.make_train(
        data,
        batch_size=32,
        max_epochs=2,
        loss_fn=hinge,
        metric_fn=hinge,
        metric_name="hinge",
        maximize=False,
    )
    hist = jax.jit(trainer)({"learning_rate": 0.05, "hidden": 32, "layers": 1}, jax.random.key(0))
    assert trainer.metric_name == "hinge" and trainer.objective == "val_hinge"
    assert not trainer.maximize
    np.testing.assert_allclose(np.asarray(hist.val_metric), np.asarray(hist.val_loss), rtol=1e-6)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(optimizer="nosuch"), "optimizer must be one of"),  # lbfgs: an optax name
        (dict(batch_size=0), "batch_size"),
        (dict(batch_size=10**6), "batch_size"),
        (dict(max_epochs=0), "max_epochs"),
        (dict(seeds_per_trial=0), "seeds_per_trial"),
        (dict(decay_systems=("cosine",)), "decay_systems"),
    ],
)
def test_make_train_rejects_bad_config(data, kwargs, match) -> None:
    with pytest.raises(ValueError, match=match):
        train.make_train(data, **kwargs)


def test_make_train_rejects_a_non_model(data) -> None:
    with pytest.raises(TypeError, match="model must be a flax linen module"):
        train.make_train(data, model=lambda x: x)


@pytest.mark.slow
def test_digits_sweep_of_64_trials_reaches_98_percent() -> None:
    """The issue's target: 64 random trials over every kind of hyperparameter, 20 epochs,
    in one call on the CPU; the best reaches >= 98% validation accuracy."""
    data = datasets.digits()
    sp = space.Space(
        learning_rate=space.LogUniform(1e-4, 1.0),
        momentum=space.OneMinusLogUniform(0.8, 0.999),
        hidden=space.IntUniform(16, 128),
        layers=space.IntUniform(1, 3),
        decay_system=space.IntUniform(0, 5),
    )
    hp = sp.random(jax.random.key(0), 64)
    # The target was measured with each trial's own data order; with the shared order
    # (the default) the same 64 samples reach 0.975-0.981 depending on the order's seed.
    trainer = train.make_train(
        data,
        MLP(max_hidden=128, max_layers=3, n_out=10),
        batch_size=64,
        max_epochs=20,
        data_order="per_trial",
    )
    hist = jax.jit(jax.vmap(trainer))(hp, jax.random.split(jax.random.key(1), 64))
    final = train.final_metrics(hist)
    assert float(jnp.max(final["val_metric"])) >= 0.98


def test_unknown_hyperparameter_name_is_refused(trainer) -> None:
    with pytest.raises(ValueError, match=r"unknown hyperparameters \['learnin_rate'\]"):
        trainer({"learnin_rate": 0.1}, jax.random.key(0))


def _gathers_of(jaxpr, shape) -> list:
    """Every gather in a (nested) jaxpr whose operand has ``shape``."""
    found = []
    for eqn in jaxpr.eqns:
        if eqn.primitive.name == "gather" and eqn.invars[0].aval.shape == shape:
            found.append(eqn)
        for sub in jax.extend.core.jaxprs_in_params(eqn.params):
            found += _gathers_of(sub, shape)
    return found


@pytest.mark.parametrize("order", ["shared", "per_trial"])
def test_shared_order_gathers_each_batch_once_for_all_trials(data, order) -> None:
    n = 7  # a trial count no other axis has
    trainer = train.make_train(data, batch_size=32, max_epochs=2, data_order=order)
    hp = {"learning_rate": jnp.linspace(0.01, 0.1, n)}
    jaxpr = jax.make_jaxpr(jax.vmap(trainer))(hp, jax.random.split(jax.random.key(0), n))
    gathers = _gathers_of(jaxpr.jaxpr, data.x_train.shape)
    assert gathers  # the mini-batch gather of x_train
    batched = [g for g in gathers if n in g.outvars[0].aval.shape]
    assert (not batched) if order == "shared" else batched


def test_shared_order_is_the_same_for_every_trial_and_vmapped_equals_alone(data) -> None:
    shared = train.make_train(data, batch_size=32, max_epochs=3, order_seed=5)
    hp = {"learning_rate": jnp.array([0.02, 0.05, 0.1])}
    keys = jax.random.split(jax.random.key(3), 3)
    hist = jax.jit(jax.vmap(shared))(hp, keys)
    for i in range(3):
        alone = jax.jit(shared)({"learning_rate": hp["learning_rate"][i]}, keys[i])
        np.testing.assert_allclose(hist.val_loss[i], alone.val_loss, rtol=RTOL)
    # The order comes from order_seed, not from the trial's key: same init and rate, a
    # different key for the data changes nothing with shared order.
    s0 = shared.init({"learning_rate": 0.05}, keys[0])
    a = shared.run(s0, {"learning_rate": 0.05}, 2, start_epoch=0)[1]
    b = shared.run(s0._replace(key=keys[1]), {"learning_rate": 0.05}, 2, start_epoch=0)[1]
    np.testing.assert_array_equal(a.train_loss, b.train_loss)
    other = train.make_train(data, batch_size=32, max_epochs=3, order_seed=6)
    c = other.run(s0, {"learning_rate": 0.05}, 2, start_epoch=0)[1]
    assert not np.allclose(a.train_loss, c.train_loss)
    # start_epoch only says what state.epoch is: the numbers are the same without it.
    d = shared.run(s0, {"learning_rate": 0.05}, 2)[1]
    np.testing.assert_allclose(a.val_loss, d.val_loss, rtol=RTOL)
