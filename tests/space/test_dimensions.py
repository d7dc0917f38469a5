"""Tests for jaxtune.space's dimensions: each on its scale, and one error per bad argument."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats
from space_helpers import N, full_space

from jaxtune.space import (
    DIMENSION_TYPES,
    Choice,
    Fixed,
    IntUniform,
    LogUniform,
    OneMinusLogUniform,
    Space,
    Uniform,
)


def draw(dim, n=N, seed=0):
    """n samples of one dimension, as float64 numpy (ints stay ints)."""
    values = np.asarray(Space(x=dim).random(jax.random.key(seed), n)["x"])
    return values.astype(np.float64) if values.dtype.kind == "f" else values


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


# Values that pass the float64 checks but that a float32 or int32 sample cannot hold:
# each used to sample something else (1.0, 0.0, -2**31, 16777216.0) without a word.
UNHELD = [
    (lambda: OneMinusLogUniform(0.9, 0.99999999), r"high must lie in \[.*, 0\.99999994\]"),
    (lambda: OneMinusLogUniform(1e-50, 0.5), r"low must lie in \[1\.1754943\de-38, "),
    (lambda: LogUniform(1e-50, 1.0), r"low must lie in \[1\.1754943\de-38, "),
    (lambda: Uniform(-1e39, 1.0), r"low must lie in \[-3\.4028234\de\+38, "),
    (lambda: Uniform(-3e38, 3e38), r"high - low must lie in \[0, "),
    (lambda: Fixed(2**31), r"value must lie in \[-2147483648, 2147483647\] \(int32"),
    (lambda: Fixed(-(2**31) - 1), r"value must lie in \[-2147483648, 2147483647\]"),
    (lambda: Fixed(1e39), r"value must lie in \[-3\.4028234\de\+38, "),
    (lambda: IntUniform(0, 2**31 - 1), r"high must lie in \[-2147483648, 2147483646\]"),
    (lambda: Choice([1, 2**31]), r"values must lie in \[-2147483648, 2147483647\]"),
    (lambda: Choice([16777217, 0.5]), r"values must lie in \[-16777216, 16777216\]"),
    (lambda: Choice([-16777217, 0.5]), r"values must lie in \[-16777216, 16777216\]"),
    (lambda: Choice([1, 1e39]), r"values must lie in \[-3\.4028234\de\+38, "),
    # float32 flushes these to 0.0: Choice([1e-170, 1.0]) would sample 0.0.
    (lambda: Choice([1e-170, 1.0]), r"values must be 0 or at least 1\.17549435e-38 in size"),
    (lambda: Fixed(-1e-40), r"value must be 0 or at least 1\.17549435e-38 in size"),
]


@pytest.mark.parametrize(("build", "message"), UNHELD)
def test_values_the_samples_cannot_hold_are_refused(build, message):
    with pytest.raises(ValueError, match=message) as err:
        build()
    assert len(str(err.value).splitlines()) == 1


def test_values_at_the_ends_of_the_sample_dtypes_are_kept():
    assert Choice([16777216, -16777216, 0.5]).from_unit(jnp.zeros(1)).tolist() == [16777216.0]
    assert Choice([2**31 - 1, -(2**31)]).from_unit(jnp.zeros(1)).tolist() == [2**31 - 1]
    assert Fixed(-(2**31)).from_unit(jnp.zeros(1)).tolist() == [-(2**31)]
    assert Choice(["a", 2**40]).decode([1]) == [2**40]  # labels: samples hold the index
    assert Choice([0.0, float(np.finfo(np.float32).tiny)]).from_unit(jnp.ones(1)).tolist()[0] > 0


def test_a_zoom_that_keeps_only_numbers_samples_cannot_hold_keeps_the_labels():
    # Kept alone, 0 and 1e-170 would be one float32: the zoom cannot narrow.
    mixed = Choice([0, 1e-170, ""])
    assert mixed.zoom(jnp.array([0, 1])) == mixed
    assert Choice(["a", 2**40, 3]).zoom(jnp.array([1])) == Choice(["a", 2**40, 3])
    assert Choice(["a", 1, 3]).zoom(jnp.array([1, 2])) == Choice([1, 3])
