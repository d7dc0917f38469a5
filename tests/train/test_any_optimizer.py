"""Any optax optimizer (by name, as a callable, a user's factory) in the trainer: every
numeric argument a trial names is traced, batched trials equal trials alone, and a new
value never recompiles."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from jaxtune.models import MLP

from jaxtune import datasets, optimizers, set_hyperparams, train
from jaxtune.train.optax_any import AnyOptimizer, numeric_arguments

RTOL = 1e-5
CALLS = {"factory": 0}


def my_opt(learning_rate, b1, weight_decay):
    """A user's optimizer: decoupled weight decay, Adam's scaling, the learning rate."""
    CALLS["factory"] += 1
    return optax.chain(
        optax.add_decayed_weights(weight_decay),
        optax.scale_by_adam(b1=b1),
        optax.scale_by_learning_rate(learning_rate),
    )


@pytest.fixture(scope="module")
def data() -> datasets.Dataset:
    return datasets.synthetic(n=300, seed=0)


def _trainer(data, optimizer, **kw) -> train.Trainer:
    model = MLP(max_hidden=16, max_layers=1, n_out=data.n_out)
    return train.make_train(data, model, optimizer=optimizer, batch_size=32, max_epochs=2, **kw)


# (optimizer, the second traced argument and its values)
CASES = {
    "lion": (optax.lion, "b1", [0.8, 0.9, 0.95, 0.99]),
    "adabelief": (optax.adabelief, "b2", [0.9, 0.99, 0.995, 0.999]),
    "user": (my_opt, "b1", [0.5, 0.8, 0.9, 0.95]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_batched_trials_equal_trials_alone_and_never_recompile(data, case) -> None:
    optimizer, other, values = CASES[case]
    trainer = _trainer(data, optimizer)
    n = len(values)
    hp = {"learning_rate": jnp.geomspace(1e-3, 3e-2, n), other: jnp.asarray(values)}
    if case == "user":
        hp["weight_decay"] = jnp.linspace(0.0, 1e-2, n)
    keys = jax.random.split(jax.random.key(0), n)
    batched = jax.jit(jax.vmap(trainer))(hp, keys)
    traces = []

    def one(hp, key):
        traces.append(1)  # runs once per trace, not per call
        return trainer(hp, key)

    alone = jax.jit(one)
    calls = CALLS["factory"]
    for i in range(n):
        lane = jax.tree_util.tree_map(lambda x, i=i: x[i], hp)
        hist = alone(lane, keys[i])
        for name in ("train_loss", "val_loss", "val_metric", "learning_rate"):
            np.testing.assert_allclose(
                getattr(hist, name), getattr(batched, name)[i], rtol=RTOL, err_msg=name
            )
    assert len(traces) == 1  # four values of two traced numbers: one program
    if case == "user":  # the factory ran while tracing the first call only
        first = CALLS["factory"] - calls
        assert first > 0
        alone({**lane, "b1": jnp.asarray(0.3, jnp.float32)}, keys[0])  # a new value
        assert CALLS["factory"] - calls == first and len(traces) == 1
    assert np.isfinite(np.asarray(batched.val_loss)).all()
    rates = np.asarray(batched.learning_rate)[:, 0]
    np.testing.assert_allclose(rates, np.asarray(hp["learning_rate"]), rtol=1e-6)


def test_a_name_equals_the_callable_and_optax_itself() -> None:
    """'lion' and optax.lion build the same updates; unnamed arguments keep optax's
    defaults, so with no decay the trajectory is optax.lion's own."""
    w0, grad = jnp.array([1.0, -2.0, 0.5]), jnp.array([0.3, -0.1, 0.2])

    def run(opt, steps=6):
        w, state = w0, opt.init(w0)
        for _ in range(steps):
            updates, state = opt.update(grad * w, state, w)
            w = optax.apply_updates(w, updates)
        return w

    hp = {"learning_rate": 0.05, "b2": 0.95}
    by_name = run(optimizers.make_optimizer("lion", hp, 3, systems=("none",)))
    by_callable = run(optimizers.make_optimizer(optax.lion, hp, 3, systems=("none",)))
    reference = run(optax.lion(0.05, b2=0.95))
    np.testing.assert_allclose(by_name, reference, rtol=1e-6)
    np.testing.assert_allclose(by_callable, reference, rtol=1e-6)


@pytest.mark.parametrize(
    "name",
    ["lion", "adabelief", "lamb", "sm3", "adafactor", "novograd", "optimistic_gradient_descent"],
)
def test_optax_aliases_train_with_a_traced_learning_rate(name) -> None:
    w0 = jnp.ones((4, 3))

    def loss(w):
        return jnp.sum((w - 0.5) ** 2)

    def final(lr):
        opt = optimizers.make_optimizer(name, {"learning_rate": lr}, 4, systems=("none",))

        def step(carry, _):
            w, state = carry
            updates, state = opt.update(jax.grad(loss)(w), state, w)
            return (optax.apply_updates(w, updates), state), None

        return loss(jax.lax.scan(step, (w0, opt.init(w0)), None, length=20)[0][0])

    out = jax.jit(jax.vmap(final))(jnp.array([1e-3, 3e-2]))
    assert np.isfinite(np.asarray(out)).all() and float(out[1]) < float(loss(w0))


def test_decay_scales_the_rate_and_manual_decay_works(data) -> None:
    trainer = _trainer(data, "lion", decay_systems=("none", "inverse_time"))
    hp = {"learning_rate": 1e-3, "b1": 0.9, "decay_system": 1, "decay_rate": 1.0}
    hist = jax.jit(trainer)(hp, jax.random.key(1))
    np.testing.assert_allclose(hist.learning_rate, [1e-3 / 2, 1e-3 / 3], rtol=1e-6)
    state = trainer.init(hp, jax.random.key(1))
    state = state._replace(opt_state=set_hyperparams(state.opt_state, learning_rate=1e-4, b1=0.5))
    held = state.opt_state[0].hyperparams
    assert float(held["b1"]) == 0.5
    factor = trainer.decay.factor(hp, trainer.steps_per_epoch)
    np.testing.assert_allclose(optimizers.learning_rate_at(state.opt_state, factor), 1e-4 / 2)
    with pytest.raises(ValueError, match="holds no hyperparameter 'b2'"):
        set_hyperparams(state.opt_state, b2=0.9)  # not named by the trial: a default


def test_learning_rate_at_with_a_factory_that_nests_its_own_injection() -> None:
    def nested(learning_rate):
        return optax.inject_hyperparams(optax.sgd)(learning_rate=learning_rate * 2)

    opt = optimizers.make_optimizer(nested, {"learning_rate": 0.1}, 4, systems=("none",))
    state = opt.init(jnp.zeros(2))
    factor = optimizers.decay_factor({}, 4, systems=("none",))
    np.testing.assert_allclose(optimizers.learning_rate_at(state, factor), 0.1)


def test_names_the_factory_does_not_take(data) -> None:
    trainer = _trainer(data, "lion")
    with pytest.raises(ValueError, match=r"\['momentum'\].*lion.*\['b1', 'b2', 'learning_rate'"):
        trainer.init({"learning_rate": 0.1, "momentum": 0.9}, jax.random.key(0))
    user = _trainer(data, my_opt)
    with pytest.raises(ValueError, match=r"no default for \['b1', 'weight_decay'\]"):
        user.init({"learning_rate": 0.1}, jax.random.key(0))
    with pytest.raises(ValueError, match="'nosuch'"):
        _trainer(data, "nosuch")
    with pytest.raises(ValueError, match="not an optimizer"):
        _trainer(data, "softmax_cross_entropy")
    with pytest.raises(ValueError, match="takes no learning_rate"):
        _trainer(data, optax.scale_by_adam)
    with pytest.raises(TypeError, match="optimizer must be"):
        _trainer(data, 3)


def test_numeric_arguments_and_reserved_names() -> None:
    assert sorted(numeric_arguments(optax.sgd)) == ["learning_rate", "momentum"]
    ada = AnyOptimizer.resolve("adafactor")
    # adafactor's own decay_rate is shadowed by the trainer's decay hyperparameter.
    assert "decay_rate" not in ada.hyperparams and "min_dim_size_to_factor" in ada.hyperparams
    assert AnyOptimizer.resolve("optax:lion").factory is optax.lion  # an import path
    with pytest.raises(ValueError, match="optimizer: cannot import 'nosuchpkg'"):
        AnyOptimizer.resolve("nosuchpkg:opt")


def test_a_factory_that_returns_something_else() -> None:
    def bad(learning_rate):
        return learning_rate

    opt = optimizers.make_optimizer(bad, {"learning_rate": 0.1}, 4)
    with pytest.raises(TypeError, match=r"not an optax\.GradientTransformation"):
        opt.init(jnp.zeros(2))
