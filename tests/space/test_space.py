"""Tests for jaxtune.space: scales, samplers, zoom, validation and serialization."""

import json
import math
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats
from scipy.stats import qmc

from jaxtune.space import (
    DIMENSION_TYPES,
    MAX_GRID_SIZE,
    Choice,
    Fixed,
    IntUniform,
    LogUniform,
    OneMinusLogUniform,
    Space,
    Uniform,
)

N = 10_000  # samples for the distribution checks: a share has std <= 0.5 / sqrt(N) = 0.005


def draw(dim, n=N, seed=0):
    """n samples of one dimension, as float64 numpy (ints stay ints)."""
    values = np.asarray(Space(x=dim).random(jax.random.key(seed), n)["x"])
    return values.astype(np.float64) if values.dtype.kind == "f" else values


def full_space():
    """A space with every kind of dimension."""
    return Space(
        lr=LogUniform(1e-4, 1.0),
        beta=OneMinusLogUniform(0.9, 0.999),
        dropout=Uniform(0.0, 0.5),
        units=IntUniform(16, 256),
        layers=IntUniform(1, 64, log=True),
        opt=Choice(["sgd", "momentum", "adam"]),
        batch=Choice([32, 64, 128]),
        wd=Choice([0.0, 1e-4]),
        eps=Fixed(1e-8),
        epochs=Fixed(10),
        act=Fixed("relu"),
    )


# -- distributions: each dimension on its scale -------------------------------------------


def test_log_uniform_puts_a_quarter_in_each_decade():
    x = draw(LogUniform(1e-4, 1.0))
    shares = np.histogram(np.log10(x), bins=[-4, -3, -2, -1, 0])[0] / N
    np.testing.assert_allclose(shares, 0.25, atol=0.03)
    # log10(x) ~ U(-4, 0): Kolmogorov-Smirnov against the formula, not only bins.
    assert stats.kstest(np.log10(x), stats.uniform(-4, 4).cdf).pvalue > 0.01


def test_one_minus_log_uniform_puts_half_below_0_99():
    x = draw(OneMinusLogUniform(0.9, 0.999))
    assert abs(np.mean(x < 0.99) - 0.5) < 0.03
    # log10(1 - x) ~ U(-3, -1)
    assert stats.kstest(np.log10(1 - x), stats.uniform(-3, 2).cdf).pvalue > 0.01


def test_uniform_matches_its_cdf():
    x = draw(Uniform(-2.0, 3.0))
    assert stats.kstest(x, stats.uniform(-2, 5).cdf).pvalue > 0.01


def test_int_uniform_reaches_both_bounds_uniformly():
    x = draw(IntUniform(3, 7))
    assert x.dtype == np.int32
    assert x.min() == 3 and x.max() == 7
    np.testing.assert_allclose(np.bincount(x - 3, minlength=5) / N, 0.2, atol=0.03)


def test_int_uniform_log_shares_follow_log_widths():
    x = draw(IntUniform(1, 8, log=True))
    assert x.min() == 1 and x.max() == 8
    k = np.arange(1, 9)
    expected = np.log((k + 1) / k) / np.log(9)  # each integer owns [k, k + 1) on a log scale
    np.testing.assert_allclose(np.bincount(x, minlength=9)[1:] / N, expected, atol=0.03)


@pytest.mark.parametrize("values", [["sgd", "momentum", "adam", "rmsprop"], [32, 64, 128, 256]])
def test_choice_frequencies_are_uniform(values):
    space = Space(c=values)
    s = space.random(jax.random.key(3), N)["c"]
    decoded = [row["c"] for row in space.decode({"c": s})]
    shares = np.array([decoded.count(v) for v in values]) / N
    np.testing.assert_allclose(shares, 0.25, atol=0.03)


def test_numeric_choice_holds_values_string_choice_holds_indices(key):
    s = Space(a=[0.5, 2.0], b=[1, 7], c=["x", "y"]).random(key, 500)
    assert s["a"].dtype == jnp.float32 and set(np.asarray(s["a"]).tolist()) == {0.5, 2.0}
    assert s["b"].dtype == jnp.int32 and set(np.asarray(s["b"]).tolist()) == {1, 7}
    assert s["c"].dtype == jnp.int32 and set(np.asarray(s["c"]).tolist()) == {0, 1}


def test_every_sample_lies_within_bounds(key):
    space = full_space()
    s = space.random(key, N)
    for name in ("lr", "beta", "dropout", "units", "layers"):
        x = np.asarray(s[name])
        dim = space[name]
        assert np.all(x >= np.float32(dim.low)) and np.all(x <= np.float32(dim.high)), name
    assert np.all(np.asarray(s["eps"]) == np.float32(1e-8))
    assert np.all(np.asarray(s["epochs"]) == 10) and s["epochs"].dtype == jnp.int32
    assert bool(space.contains(s).all())


def test_unit_bounds_map_onto_dimension_bounds():
    for dim in (LogUniform(1e-4, 1.0), OneMinusLogUniform(0.9, 0.999), Uniform(-1.0, 1.0)):
        ends = np.asarray(dim.from_unit(jnp.array([0.0, 1.0])), np.float64)
        np.testing.assert_allclose(ends, [dim.low, dim.high], rtol=1e-6)
    assert IntUniform(2, 9).from_unit(jnp.array([0.0, 1.0])).tolist() == [2, 9]


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


# -- validation: one ValueError per rule -----------------------------------------------


@pytest.mark.parametrize("cls", [LogUniform, Uniform])
def test_low_must_be_below_high(cls):
    with pytest.raises(ValueError, match=r"low < high, got low=1\.0, high=0\.1"):
        cls(1.0, 0.1)


def test_int_low_must_be_below_high():
    with pytest.raises(ValueError, match="low < high, got low=5, high=5"):
        IntUniform(5, 5)


def test_low_above_high_inside_space_names_the_dimension():
    with pytest.raises(ValueError, match="dimension 'lr': LogUniform: needs low < high"):
        Space(lr={"type": "log_uniform", "low": 1, "high": 0.1})


def test_log_scale_needs_positive_bounds():
    with pytest.raises(ValueError, match="dimension 'lr': LogUniform: needs 0 < low"):
        Space(lr={"type": "log_uniform", "low": 0, "high": 1})
    with pytest.raises(ValueError, match="log=True needs 1 <= low"):
        IntUniform(0, 10, log=True)


@pytest.mark.parametrize("low, high", [(0.9, 1.0), (-0.1, 0.5), (0.0, 0.9)])
def test_one_minus_log_uniform_needs_bounds_inside_0_1(low, high):
    with pytest.raises(ValueError, match=r"dimension 'beta': .*0 < low < high < 1"):
        Space(beta={"type": "one_minus_log_uniform", "low": low, "high": high})


def test_choice_must_not_be_empty():
    with pytest.raises(ValueError, match="dimension 'opt': Choice: needs at least one value"):
        Space(opt=[])


def test_choice_must_not_repeat_values():
    with pytest.raises(ValueError, match=r"dimension 'opt': .*duplicates 'adam'"):
        Space(opt=["adam", "sgd", "adam"])
    with pytest.raises(ValueError, match="duplicates"):  # equal once stored as float32
        Choice([0.1, 0.1 + 1e-12])


@pytest.mark.parametrize("n", [0, -3])
def test_sample_count_must_be_positive(n, key):
    space = Space(a=Uniform(0, 1))
    with pytest.raises(ValueError, match="n must be >= 1"):
        space.random(key, n)
    with pytest.raises(ValueError, match="n must be >= 1"):
        space.quasi_random(n)
    with pytest.raises(ValueError, match="n must be >= 1"):
        space.grid(n)


def test_unknown_dimension_type_lists_the_known_ones():
    with pytest.raises(ValueError, match="dimension 'lr': unknown dimension type 'loguniform'"):
        Space.from_dict({"lr": {"type": "loguniform", "low": 1e-4, "high": 1}})
    with pytest.raises(ValueError, match="known types: 'log_uniform', 'uniform'"):
        Space.from_dict({"lr": {"type": "loguniform"}})
    assert set(DIMENSION_TYPES) == {
        "log_uniform", "uniform", "int_uniform", "one_minus_log_uniform", "choice", "fixed"
    }  # fmt: skip


def test_dimension_dict_fields_are_checked():
    with pytest.raises(ValueError, match=r"dimension 'lr': .*unknown field\(s\) \['lo'\]"):
        Space(lr={"type": "log_uniform", "lo": 1e-4, "high": 1})
    with pytest.raises(ValueError, match=r"missing field\(s\) \['high'\]"):
        Space(lr={"type": "log_uniform", "low": 1e-4})
    with pytest.raises(ValueError, match="needs a 'type'"):
        Space(lr={"low": 1e-4, "high": 1})


def test_wrong_types_raise_type_error(key):
    with pytest.raises(TypeError, match="LogUniform: low must be a real number"):
        LogUniform("1e-4", 1.0)
    with pytest.raises(TypeError, match="dimension 'units': IntUniform: high must be an int"):
        Space(units={"type": "int_uniform", "low": 1, "high": 2.5})
    with pytest.raises(TypeError, match="Choice: values must be a list"):
        Choice("abc")
    with pytest.raises(TypeError, match="dimension 'x': expected a Dimension"):
        Space(x=object())
    with pytest.raises(TypeError, match="static under jit"):
        jax.jit(Space(a=Uniform(0, 1)).random)(key, 3)


def test_non_finite_bounds_are_rejected():
    with pytest.raises(ValueError, match="high must be finite"):
        Uniform(0.0, math.inf)


def test_names_with_equal_crc32_are_rejected():
    # They would fold the same number into the key and draw identical streams.
    with pytest.raises(
        ValueError, match="dimension 'buckeroo': its CRC32 equals that of 'plumless'"
    ):
        Space(plumless=Uniform(0, 1), buckeroo=Uniform(0, 1))


def test_space_needs_a_dimension():
    with pytest.raises(ValueError, match="at least one dimension"):
        Space()


# -- mapping, repr, decode ------------------------------------------------------------------


def test_space_behaves_like_an_ordered_mapping():
    space = Space(lr=LogUniform(1e-4, 1), opt=["sgd", "adam"], eps=1e-8)
    assert len(space) == 3 and list(space) == ["lr", "opt", "eps"] == list(space.names)
    assert "lr" in space and "beta" not in space and space["eps"] == Fixed(1e-8)
    assert space.labels("opt") == ("sgd", "adam") and space.labels("lr") is None
    assert space == Space(**space) and hash(space) == hash(Space(**space))
    assert space != Space(opt=["sgd", "adam"], lr=LogUniform(1e-4, 1), eps=1e-8)  # order
    assert Space(lr=LogUniform(1e-4, 1)) != Space(lr=Uniform(1e-4, 1))
    # Types matter where dtypes differ: int32 vs float32 samples, index vs value.
    assert Space(a=1) != Space(a=1.0) and Space(a=[1, 2]) != Space(a=[1.0, 2.0])
    assert Space(a=True) != Space(a=1)
    # Samples come back in dimension order, not jit's sorted-key order.
    assert list(Space(z=Uniform(0, 1), a=[1, 2]).random(jax.random.key(0), 2)) == ["z", "a"]


def test_repr_is_readable_and_evaluates_back():
    space = Space(
        lr=LogUniform(1e-4, 1), beta=OneMinusLogUniform(0.9, 0.999), u=IntUniform(1, 8, log=True)
    )
    text = (
        "Space(lr=LogUniform(0.0001, 1.0), beta=OneMinusLogUniform(0.9, 0.999), "
        "u=IntUniform(1, 8, log=True))"
    )
    assert repr(space) == text
    assert eval(text) == space


def test_decode_restores_python_values_and_encode_inverts_it(key):
    space = full_space()
    s = space.random(key, 64)
    trials = space.decode(s)
    assert len(trials) == 64
    assert {t["opt"] for t in trials} <= {"sgd", "momentum", "adam"}
    first = trials[0]
    assert type(first["lr"]) is float and type(first["units"]) is int and first["act"] == "relu"
    assert first["lr"] == float(str(np.asarray(s["lr"])[0]))  # shortest float32 text
    assert first["epochs"] == 10 and first["eps"] == 1e-8
    again = space.encode(trials)
    for name in space:
        np.testing.assert_array_equal(again[name], s[name])


# -- dict, TOML, JSON ---------------------------------------------------------------------


def test_dict_json_toml_round_trips_equal_the_space():
    space = Space(**full_space(), flag=Fixed(True), mixed=Choice([0.5, "auto"]))
    assert Space.from_dict(space.to_dict()) == space
    assert Space.from_json(space.to_json()) == space
    assert Space.from_toml(space.to_toml()) == space
    assert Space.from_toml(space.to_toml(table="sweep.space"), table="sweep.space") == space
    # ints stay ints through the text forms, so dtypes survive too
    assert Space.from_json(space.to_json())["epochs"].dtype == np.int32


def test_dict_form_and_shorthands():
    assert Space(lr=LogUniform(1e-4, 1)).to_dict() == {
        "lr": {"type": "log_uniform", "low": 0.0001, "high": 1.0}
    }
    space = Space.from_dict({"eps": 1e-8, "opt": ["sgd", "adam"], "bs": 64, "act": "relu"})
    assert space == Space(eps=Fixed(1e-8), opt=Choice(["sgd", "adam"]), bs=Fixed(64), act="relu")


def test_from_toml_reads_a_config_file_table():
    text = """
    [train]
    epochs = 10

    [space]
    lr = { type = "log_uniform", low = 1e-4, high = 1 }
    beta = { type = "one_minus_log_uniform", low = 0.9, high = 0.999 }
    opt = ["sgd", "adam"]
    eps = 1e-8
    """
    space = Space.from_toml(text, table="space")
    assert space == Space(
        lr=LogUniform(1e-4, 1), beta=OneMinusLogUniform(0.9, 0.999), opt=["sgd", "adam"], eps=1e-8
    )
    with pytest.raises(ValueError, match="no table 'sweep'"):
        Space.from_toml(text, table="sweep")
    assert json.loads(space.to_json())["opt"] == {"type": "choice", "values": ["sgd", "adam"]}


def test_to_toml_without_tomli_w_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "tomli_w", None)  # makes `import tomli_w` fail
    with pytest.raises(ImportError, match=r"jaxtune\[config\]"):
        Space(a=Uniform(0, 1)).to_toml()
