"""Tests for jaxtune.models: a masked MLP trial is exactly the smaller plain MLP."""

import functools

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jaxtune.datasets import digits
from jaxtune.models import CNN, MLP, FunctionalModel, Model, active_params, as_model

D_IN, N_OUT, MAX_HIDDEN, MAX_LAYERS = 16, 10, 64, 4


class PlainMLP(nn.Module):
    """The reference: a plain stack of nn.Dense, named like MLP's parameters."""

    features: tuple[int, ...]
    n_out: int
    activation: object = nn.relu

    @nn.compact
    def __call__(self, x):
        for i, f in enumerate(self.features):
            x = self.activation(nn.Dense(f, name=f"hidden_{i}")(x))
        return nn.Dense(self.n_out, name="output")(x)


def padded_model(activation=nn.relu):
    return MLP(max_hidden=MAX_HIDDEN, max_layers=MAX_LAYERS, n_out=N_OUT, activation=activation)


def loss(apply, params, x, labels, **arch):
    logits = apply(params, x, **arch)
    return -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(logits), labels[:, None], axis=1))


def inactive_part(padded, hidden, layers):
    """``padded`` with its active block zeroed: what must be exactly zero."""
    active = active_params(padded, hidden, layers)["params"]

    def zero_active(path, leaf):
        names = [p.key for p in path]
        if names[1] not in active:
            return leaf
        block = tuple(slice(0, s) for s in active[names[1]][names[2]].shape)
        return jnp.asarray(leaf).at[block].set(0.0)

    return jax.tree_util.tree_map_with_path(zero_active, padded)


@functools.partial(jax.jit, static_argnums=(4, 5, 6))
def padded_vs_plain(params, grads, x, labels, hidden, layers, activation):
    """Padded and plain outputs, active and plain gradients, and the inactive gradients."""
    plain = PlainMLP((hidden,) * layers, N_OUT, activation)
    small = active_params(params, hidden, layers)
    plain_grads = jax.grad(lambda p: loss(plain.apply, p, x, labels))(small)
    small_mlp = MLP(max_hidden=hidden, max_layers=layers, n_out=N_OUT, activation=activation)
    return (
        (
            padded_model(activation).apply(params, x, hidden=hidden, layers=layers),
            plain.apply(small, x),
            small_mlp.apply(small, x),  # active_params makes a plain, smaller MLP
        ),
        (active_params(grads, hidden, layers), plain_grads),
        inactive_part(grads, hidden, layers),
    )


def assert_matches_plain(params, grads, x, labels, hidden, layers, activation=nn.relu):
    """Outputs and active gradients equal a plain MLP's holding the active weights."""
    outs, grads, inactive = padded_vs_plain(params, grads, x, labels, hidden, layers, activation)
    for out in outs[1:]:
        np.testing.assert_allclose(outs[0], out, rtol=1e-5, atol=1e-6)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7), *grads)
    for leaf in jax.tree.leaves(inactive):
        assert not leaf.any()  # exactly zero: training never moves inactive weights


@pytest.fixture
def batch():
    x = jax.random.normal(jax.random.key(1), (32, D_IN))
    return x, jax.random.randint(jax.random.key(2), (32,), 0, N_OUT)


def init_and_grad(key, x, labels, hidden, layers, activation=nn.relu):
    """A trial's initial params and their gradient; ``hidden``, ``layers`` may be traced."""
    model = padded_model(activation)
    params = model.init(key, x, hidden=hidden, layers=layers)
    arch = {"hidden": hidden, "layers": layers}
    return params, jax.grad(lambda p: loss(model.apply, p, x, labels, **arch))(params)


# Module-level, so tests with the same shapes share one compiled program.
trial = jax.jit(init_and_grad, static_argnums=5)  # hidden and layers are traced
trials = jax.jit(jax.vmap(init_and_grad, in_axes=(0, None, None, 0, 0)))


@pytest.mark.parametrize("activation", [nn.relu, nn.sigmoid], ids=["relu", "sigmoid"])
def test_masked_trial_is_the_plain_mlp(key, batch, activation):
    # sigmoid(0) = 0.5: without the unit mask, padded units would leak into the output.
    x, labels = batch
    params, grads = trial(key, x, labels, 24, 2, activation)
    assert_matches_plain(params, grads, x, labels, 24, 2, activation)
    for leaf in jax.tree.leaves(inactive_part(params, 24, 2)):
        assert not leaf.any()


def test_inactive_weights_do_not_matter(key, batch):
    # Even non-zero inactive weights (e.g. loaded from elsewhere) leave outputs unchanged.
    x, labels = batch
    model = padded_model()
    params, _ = trial(key, x, labels, 24, 2, nn.relu)
    noise = jax.tree.map(lambda p: jnp.ones_like(p) * 3.0, params)
    noisy = jax.tree.map(jnp.add, params, inactive_part(noise, 24, 2))
    np.testing.assert_array_equal(
        model.apply(noisy, x, hidden=24, layers=2), model.apply(params, x, hidden=24, layers=2)
    )


def test_jit_and_vmap_over_sizes(batch):
    # One compiled program, a different (hidden, layers) per lane, each exact.
    x, labels = batch
    hidden = jnp.array([24, 1, 64])
    layers = jnp.array([2, 1, 4])
    keys = jax.random.split(jax.random.key(3), 3)
    params, grads = trials(keys, x, labels, hidden, layers)
    for i, (h, n) in enumerate(zip(hidden.tolist(), layers.tolist(), strict=True)):
        lane = jax.tree.map(lambda a, i=i: a[i], (params, grads))
        assert_matches_plain(*lane, x, labels, h, n)


def test_init_uses_active_fan_in(batch):
    # Over many draws, active kernels have std sqrt(1 / active fan-in), not the padded one.
    draws = [trial(k, *batch, 24, 2, nn.relu)[0] for k in jax.random.split(jax.random.key(4), 64)]
    params = jax.tree.map(lambda *leaves: np.stack(leaves), *draws)
    p = params["params"]
    for w, fan_in in (
        (p["hidden_0"]["kernel"][:, :, :24], D_IN),
        (p["hidden_1"]["kernel"][:, :24, :24], 24),
        (p["output"]["kernel"][:, :24, :], 24),
    ):
        # At least 15k draws each: the std is within 2% and the mean within 0.05 std
        # of the truth with a margin of over 3 standard errors.
        np.testing.assert_allclose(w.std(), np.sqrt(1 / fan_in), rtol=0.02)
        np.testing.assert_allclose(w.mean(), 0.0, atol=0.05 / np.sqrt(fan_in))
        # Truncated at two standard deviations, like lecun_normal.
        assert np.abs(w).max() <= 2 * np.sqrt(1 / fan_in) / 0.8796 + 1e-6
    for leaf in jax.tree.leaves(inactive_part(params, 24, 2)):
        assert not leaf.any()


def test_full_size_trial_matches_flax_lecun_normal(key, batch):
    # With hidden = max_hidden the init distribution is flax's default Dense init.
    params, _ = trial(key, *batch, MAX_HIDDEN, MAX_LAYERS, nn.relu)
    w = params["params"]["hidden_1"]["kernel"]
    ref = nn.initializers.lecun_normal()(jax.random.key(5), (MAX_HIDDEN, 4096))
    np.testing.assert_allclose(jnp.std(w), jnp.std(ref), rtol=0.05)


def test_active_params_handles_trial_axes(key, batch):
    params, _ = trials(
        jax.random.split(key, 3), *batch, jnp.array([5, 5, 5]), jnp.array([3, 3, 3])
    )
    params = jax.tree.map(np.asarray, params)  # plain slicing, nothing to compile
    small = active_params(params, 5, 3)  # all trials at once
    assert small["params"]["hidden_1"]["kernel"].shape == (3, 5, 5)
    for i in range(3):
        lane = jax.tree.map(lambda a, i=i: a[i], (params, small))
        jax.tree.map(np.testing.assert_array_equal, active_params(lane[0], 5, 3), lane[1])
    with pytest.raises(ValueError, match="layers=5"):
        active_params(params, 5, 5)


def test_concrete_sizes_are_checked(key, batch):
    x, _ = batch
    with pytest.raises(ValueError, match="hidden"):
        padded_model().init(key, x, hidden=65, layers=2)
    with pytest.raises(ValueError, match="layers"):
        padded_model().init(key, x, hidden=8, layers=0)


class ConvCNN(nn.Module):
    """The reference: flax's nn.Conv layers, named like CNN's parameters."""

    n_out: int
    channels: tuple[int, ...] = (16, 32)
    kernel_size: int = 3

    @nn.compact
    def __call__(self, x):
        for i, c in enumerate(self.channels):
            k = (self.kernel_size,) * 2
            x = nn.relu(nn.Conv(c, k, padding="SAME", name=f"conv_{i}")(x))
        return nn.Dense(self.n_out, name="output")(x.reshape(x.shape[0], -1))


@pytest.mark.parametrize(("channels", "kernel_size"), [((16, 32), 3), ((4,), 2)])
def test_cnn_is_flax_conv_under_jit_and_vmap_over_params(key, channels, kernel_size):
    # Three vmapped trials have the init (names, shapes, values) and the outputs of the
    # nn.Conv network applied trial by trial; kernel size 2 checks uneven SAME padding.
    x = digits(flatten=False).x_train[:8]
    cnn = CNN(n_out=10, channels=channels, kernel_size=kernel_size)
    ref = ConvCNN(n_out=10, channels=channels, kernel_size=kernel_size)

    @jax.jit
    def trials(keys):
        params = jax.vmap(lambda k: cnn.init(k, x))(keys)
        ref_params = jax.vmap(lambda k: ref.init(k, x))(keys)
        out = jax.vmap(lambda p: cnn.apply(p, x))(params)
        return params, ref_params, out, jax.lax.map(lambda p: ref.apply(p, x), params)

    params, ref_params, out, expected = trials(jax.random.split(key, 3))
    jax.tree.map(np.testing.assert_array_equal, params, ref_params)
    assert out.shape == (3, 8, 10)
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)
    assert not np.allclose(out[0], out[1])  # different keys, different networks


def test_model_interface(key, batch):
    # Linen modules and wrapped function pairs share init(key, x, **arch) / apply(...).
    x, labels = batch
    linear = as_model(
        lambda k, x: {"w": jax.random.normal(k, (x.shape[1], 2))},
        lambda p, x: x @ p["w"],
    )
    assert isinstance(linear, FunctionalModel) and isinstance(linear, Model)
    w = linear.init(key, x)["w"]
    np.testing.assert_array_equal(linear.apply({"w": w}, x), x @ w)
    assert hash(linear) == hash(as_model(linear.init, linear.apply))  # usable as static
    with pytest.raises(TypeError):
        as_model(None, linear.apply)
    # Eager calls with Python ints agree with the jitted, traced-int trial.
    mlp, arch = padded_model(), {"hidden": 24, "layers": 2}
    assert isinstance(mlp, Model)
    params = mlp.init(key, x[:3], **arch)  # the batch size does not matter
    jitted = trial(key, x, labels, 24, 2, nn.relu)[0]  # same values up to float rounding
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-6), params, jitted)
