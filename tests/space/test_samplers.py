"""Tests for jaxtune.space's samplers: random (keys, jit, vmap), grid and quasi-random."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.stats import qmc
from space_helpers import full_space

from jaxtune.space import (
    MAX_GRID_SIZE,
    IntUniform,
    LogUniform,
    OneMinusLogUniform,
    Space,
    Uniform,
)

# -- random: keys, jit, vmap -------------------------------------------------------------


def test_random_gives_25_distinct_values_per_continuous_dimension(key):
    s = full_space().random(key, 25)
    for name in ("lr", "beta", "dropout"):
        assert len(np.unique(np.asarray(s[name]))) == 25


def test_same_key_same_samples_other_key_other_samples():
    space = full_space()
    a, b = space.random(jax.random.key(7), 64), space.random(jax.random.key(7), 64)
    c = space.random(jax.random.key(8), 64)
    for name in space:
        np.testing.assert_array_equal(a[name], b[name])
    assert not np.array_equal(a["lr"], c["lr"])


def test_adding_a_dimension_leaves_the_others_unchanged(key):
    small = Space(lr=LogUniform(1e-4, 1.0), units=IntUniform(16, 256))
    big = Space(wd=LogUniform(1e-6, 1e-2), **small, beta=OneMinusLogUniform(0.9, 0.999))
    a, b = small.random(key, 100), big.random(key, 100)
    for name in small:
        np.testing.assert_array_equal(a[name], b[name])


def test_random_under_jit_feeds_vmap(key):
    space = full_space()
    s = jax.jit(space.random, static_argnums=1)(key, 64)
    eager = space.random(key, 64)
    for name in space:
        np.testing.assert_array_equal(s[name], eager[name])

    def objective(h):  # one trial: scalars in, scalar out
        return jnp.log10(h["lr"]) + h["units"] * (1 - h["beta"]) + h["opt"] * h["epochs"]

    out = jax.vmap(objective)(s)
    h = {k: np.asarray(v, np.float64) for k, v in s.items()}
    expected = np.log10(h["lr"]) + h["units"] * (1 - h["beta"]) + h["opt"] * 10
    np.testing.assert_allclose(out, expected, rtol=1e-5)


def test_random_vmaps_over_keys():
    space = Space(lr=LogUniform(1e-4, 1.0), opt=["a", "b", "c"])
    keys = jax.random.split(jax.random.key(0), 4)
    batched = jax.vmap(lambda k: space.random(k, 8))(keys)
    for i in range(4):
        one = space.random(keys[i], 8)
        np.testing.assert_allclose(batched["lr"][i], one["lr"], rtol=1e-6)  # fused differently
        np.testing.assert_array_equal(batched["opt"][i], one["opt"])


# -- grid -------------------------------------------------------------------------------


def test_grid_is_a_full_product_on_each_scale():
    space = Space(lr=LogUniform(1e-4, 1.0), beta=OneMinusLogUniform(0.9, 0.9999))
    g = space.grid(5)
    points = set(zip(np.asarray(g["lr"]).tolist(), np.asarray(g["beta"]).tolist(), strict=True))
    assert len(points) == 25
    lr, beta = np.unique(np.asarray(g["lr"], np.float64)), np.unique(np.asarray(g["beta"]))
    assert len(lr) == 5 and len(beta) == 5
    np.testing.assert_allclose(lr[1:] / lr[:-1], 10.0, rtol=1e-5)  # log-spaced
    one_minus = np.sort(1 - beta.astype(np.float64))
    np.testing.assert_allclose(one_minus[1:] / one_minus[:-1], 10**0.75, rtol=1e-3)
    np.testing.assert_allclose([lr[0], lr[-1]], [1e-4, 1.0], rtol=1e-6)
    # First dimension varies slowest.
    np.testing.assert_allclose(np.asarray(g["lr"])[:5], 1e-4, rtol=1e-6)


def test_grid_uniform_is_evenly_spaced_and_one_point_is_the_middle():
    g = Space(d=Uniform(0.0, 1.0)).grid(5)["d"]
    np.testing.assert_allclose(g, [0, 0.25, 0.5, 0.75, 1.0], atol=1e-7)
    np.testing.assert_allclose(Space(lr=LogUniform(1e-4, 1.0)).grid(1)["lr"], [1e-2], rtol=1e-6)


def test_grid_int_choice_fixed_and_per_dimension_counts():
    space = Space(units=IntUniform(1, 3), layers=IntUniform(1, 1000, log=True), opt=["a", "b"])
    space = Space(**space, eps=1e-8)
    g = space.grid({"units": 10, "layers": 4})
    assert sorted(set(np.asarray(g["units"]).tolist())) == [1, 2, 3]  # all ints when n >= range
    assert sorted(set(np.asarray(g["layers"]).tolist())) == [1, 10, 100, 1000]
    assert sorted(set(np.asarray(g["opt"]).tolist())) == [0, 1]  # every choice
    assert len(g["units"]) == 3 * 4 * 2 * 1
    assert np.all(np.asarray(g["eps"]) == np.float32(1e-8))


def test_grid_rejects_more_points_than_max_grid_size():
    side = math.isqrt(MAX_GRID_SIZE) + 1
    with pytest.raises(ValueError, match=f"grid of {side * side:,} points exceeds MAX_GRID_SIZE"):
        Space(a=Uniform(0, 1), b=Uniform(0, 1)).grid(side)


def test_grid_rejects_one_axis_over_the_limit_before_building_it():
    with pytest.raises(ValueError, match=f"grid of {10**9:,} points along 'a'"):
        Space(a=Uniform(0, 1)).grid(10**9)


def test_grid_dict_must_name_every_sized_dimension():
    with pytest.raises(ValueError, match=r"missing \['b'\]"):
        Space(a=Uniform(0, 1), b=Uniform(0, 1)).grid({"a": 3})


# -- quasi-random -----------------------------------------------------------------------


@pytest.mark.parametrize("method", ["sobol", "halton"])
def test_quasi_random_has_lower_discrepancy_than_random(method, key):
    space = Space(lr=LogUniform(1e-4, 1.0), beta=OneMinusLogUniform(0.9, 0.999), d=Uniform(0, 1))
    q = np.asarray(space.to_unit(space.quasi_random(256, seed=0, method=method)), np.float64)
    r = np.asarray(space.to_unit(space.random(key, 256)), np.float64)
    assert q.min() >= 0 and q.max() <= 1
    assert qmc.discrepancy(q) < 0.5 * qmc.discrepancy(r)


@pytest.mark.parametrize("method", ["sobol", "halton"])
def test_quasi_random_same_seed_same_points(method):
    space = full_space()
    a, b = space.quasi_random(100, seed=3, method=method), space.quasi_random(100, 3, method)
    c = space.quasi_random(100, seed=4, method=method)
    for name in space:
        np.testing.assert_array_equal(a[name], b[name])
    assert not np.array_equal(a["lr"], c["lr"])
    assert bool(space.contains(a).all())


def test_sobol_non_power_of_two_is_the_start_of_the_next_block():
    # No scipy warning (warnings are errors here), and the same points as 128 trimmed.
    space = Space(a=Uniform(0, 1), b=LogUniform(1e-3, 1.0))
    a, b = space.quasi_random(100, seed=1), space.quasi_random(128, seed=1)
    np.testing.assert_array_equal(a["b"], b["b"][:100])


def test_quasi_random_rejects_unknown_method():
    with pytest.raises(ValueError, match="method must be one of"):
        Space(a=Uniform(0, 1)).quasi_random(8, method="latin")


@pytest.mark.parametrize("n", [0, -3])
def test_sample_count_must_be_positive(n, key):
    space = Space(a=Uniform(0, 1))
    with pytest.raises(ValueError, match="n must be >= 1"):
        space.random(key, n)
    with pytest.raises(ValueError, match="n must be >= 1"):
        space.quasi_random(n)
    with pytest.raises(ValueError, match="n must be >= 1"):
        space.grid(n)
