"""Tests for jaxtune.space's coarse-to-fine zoom and the unit coordinates it works in."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from space_helpers import N, full_space

from jaxtune.space import (
    Choice,
    Fixed,
    IntUniform,
    LogUniform,
    OneMinusLogUniform,
    Space,
    Uniform,
)

# -- zoom -------------------------------------------------------------------------------


def test_zoom_contains_the_points_and_shrinks_inside_the_original(key):
    space = full_space()
    # Five "best" trials in the middle of every scale: unit coordinates in [0.3, 0.6].
    best = space.from_unit(jax.random.uniform(key, (5, len(space)), minval=0.3, maxval=0.6))
    zoomed = space.zoom(best, margin=0.1)
    # String indices refer to each space's own value list: carry points over by value.
    assert bool(zoomed.contains(zoomed.encode(space.decode(best))).all())
    for name in ("lr", "beta", "dropout", "units", "layers"):
        old, new = space[name], zoomed[name]
        assert type(new) is type(old), name  # log stays log
        assert old.low <= new.low and new.high <= old.high, name
        assert new.high - new.low < old.high - old.low, name
    assert zoomed["layers"].log
    seen = sorted(set(np.asarray(best["opt"]).tolist()))
    assert zoomed["opt"].values == tuple(space["opt"].values[i] for i in seen)
    assert zoomed["eps"] == space["eps"] and zoomed["act"] == space["act"]


def test_zoom_rule_is_min_max_widened_by_margin_in_unit_coordinates():
    space = Space(lr=LogUniform(1e-6, 1.0))
    zoomed = space.zoom({"lr": jnp.array([1e-4, 1e-3, 1e-2])}, margin=0.05)
    # unit span [1/3, 2/3] widened by 0.05: decades -6 + 6 * (1/3 - 0.05), ...
    expected = 10.0 ** (-6 + 6 * np.array([1 / 3 - 0.05, 2 / 3 + 0.05]))
    np.testing.assert_allclose([zoomed["lr"].low, zoomed["lr"].high], expected, rtol=1e-5)


def test_zoom_clips_at_the_original_bounds_exactly():
    space = Space(beta=OneMinusLogUniform(0.9, 0.999), d=Uniform(0.0, 1.0))
    zoomed = space.zoom({"beta": jnp.array([0.9, 0.95]), "d": jnp.array([0.5, 0.99])})
    assert zoomed["beta"].low == 0.9 and zoomed["beta"].high < 0.999
    assert zoomed["d"].high == 1.0 and zoomed["d"].low == pytest.approx(0.4, rel=1e-6)


def test_zoom_int_rounds_outward_and_collapses_to_fixed():
    space = Space(units=IntUniform(0, 99))
    zoomed = space.zoom({"units": jnp.array([40, 50])}, margin=0.05)
    # Centres 40.5 and 50.5 of [0, 100) widened by 5 -> [35.5, 55.5] -> ints 35..55.
    assert zoomed["units"] == IntUniform(35, 55)
    assert space.zoom({"units": jnp.array([7, 7])}, margin=0.0)["units"] == Fixed(7)


def test_zoom_with_zero_margin_on_one_point_gives_fixed():
    space = Space(lr=LogUniform(1e-4, 1.0), opt=["a", "b"])
    zoomed = space.zoom({"lr": jnp.array([0.01, 0.01]), "opt": jnp.array([1, 1])}, margin=0.0)
    assert zoomed["lr"] == Fixed(float(np.float32(0.01)))
    assert zoomed["opt"] == Choice(["b"])  # a one-value Choice keeps the index encoding


def test_zoom_rejects_points_outside_the_space():
    with pytest.raises(ValueError, match=r"dimension 'lr': .*1 of 2 points lie outside"):
        Space(lr=LogUniform(1e-4, 1.0)).zoom({"lr": jnp.array([0.5, 2.0])})


def test_zoom_rejects_missing_dimension_and_bad_margin():
    space = Space(a=Uniform(0, 1), b=Uniform(0, 1))
    with pytest.raises(ValueError, match=r"missing \['b'\]"):
        space.zoom({"a": jnp.array([0.5])})
    with pytest.raises(ValueError, match=r"margin must be in \[0, 1\]"):
        space.zoom({"a": jnp.array([0.5]), "b": jnp.array([0.5])}, margin=-0.1)


# -- unit coordinates -------------------------------------------------------------------


def test_to_unit_from_unit_round_trip(key):
    space = full_space()
    s = space.random(key, N)
    back = jax.jit(space.from_unit)(jax.jit(space.to_unit)(s))
    for name in space:
        np.testing.assert_allclose(back[name], s[name], rtol=1e-5, err_msg=name)


def test_from_unit_to_unit_round_trip_under_vmap():
    space = Space(lr=LogUniform(1e-4, 1.0), beta=OneMinusLogUniform(0.9, 0.999), d=Uniform(0, 2))
    u = jax.random.uniform(jax.random.key(1), (200, 3), minval=0.01, maxval=0.9)
    row = jax.vmap(lambda v: space.to_unit(space.from_unit(v)))(u)  # one trial at a time
    np.testing.assert_allclose(row, u, rtol=1e-4)
    x = space.from_unit(u)  # and the formula: lr = 1e-4 * 1e4 ** u
    np.testing.assert_allclose(x["lr"], 1e-4 * 1e4 ** np.asarray(u[:, 0], np.float64), rtol=1e-5)


def test_from_unit_checks_the_last_axis():
    with pytest.raises(ValueError, match="last axis of 2"):
        Space(a=Uniform(0, 1), b=Uniform(0, 1)).from_unit(jnp.zeros((4, 3)))
