"""Tests for jaxtune.parallel.run's argument checks: every bad argument is named, before
anything is traced."""

import jax
import numpy as np
import pytest
from jax.sharding import Mesh

from jaxtune import parallel

# --- validation: every bad argument is named, before anything is traced ---------------


def never_traced(hp, key):
    raise AssertionError("validation must happen before fn is traced")


GOOD = {"lr": np.ones(4, np.float32), "momentum": np.ones(4, np.float32)}
KEYS = jax.random.split(jax.random.key(0), 4)


def test_inconsistent_leading_axis_raises():
    hp = {"lr": np.ones(4), "momentum": np.ones(3)}
    with pytest.raises(ValueError, match=r"hparams\['momentum'\] has 3 trials"):
        parallel.run(never_traced, hp, KEYS)


def test_scalar_leaf_raises():
    with pytest.raises(ValueError, match=r"hparams\['lr'\] has no leading trial axis"):
        parallel.run(never_traced, {"lr": 0.1}, KEYS)


def test_zero_trials_raises():
    with pytest.raises(ValueError, match="hparams holds 0 trials"):
        parallel.run(never_traced, {"lr": np.ones(0)}, KEYS[:0])


def test_non_numeric_leaf_raises():
    with pytest.raises(TypeError, match=r"hparams\['opt'\] must hold numbers"):
        parallel.run(never_traced, {"opt": np.array(["sgd"] * 4)}, KEYS)


@pytest.mark.parametrize("chunk_size", [0, -3])
def test_chunk_size_below_one_raises(chunk_size):
    with pytest.raises(ValueError, match="chunk_size must be at least 1"):
        parallel.run(never_traced, GOOD, KEYS, chunk_size=chunk_size)


@pytest.mark.parametrize("chunk_size", [2.0, True, [4]])
def test_chunk_size_of_wrong_type_raises(chunk_size):
    with pytest.raises(TypeError, match="chunk_size"):
        parallel.run(never_traced, GOOD, KEYS, chunk_size=chunk_size)


def test_chunk_size_unknown_string_raises():
    with pytest.raises(ValueError, match="chunk_size"):
        parallel.run(never_traced, GOOD, KEYS, chunk_size="fast")


def test_key_count_mismatch_raises():
    with pytest.raises(ValueError, match="keys holds 3 keys but hparams holds 4 trials"):
        parallel.run(never_traced, GOOD, KEYS[:3])


def test_raw_keys_of_wrong_dtype_raise():
    with pytest.raises(TypeError, match="uint32"):
        parallel.run(never_traced, GOOD, np.zeros((4, 2), np.int32))


def test_keys_of_wrong_shape_raise():
    with pytest.raises(ValueError, match="keys of shape"):
        parallel.run(never_traced, GOOD, jax.random.split(jax.random.key(0), (4, 2)))


def test_keys_that_are_not_keys_raise():
    with pytest.raises(TypeError, match="keys must be"):
        parallel.run(never_traced, GOOD, 0)


def test_single_key_without_hparams_raises():
    with pytest.raises(ValueError, match="number of trials is unknown"):
        parallel.run(never_traced, {}, jax.random.key(0))


def test_fn_not_callable_raises():
    with pytest.raises(TypeError, match="fn must be callable"):
        parallel.run("train", GOOD, KEYS)


def test_on_chunk_not_callable_raises():
    with pytest.raises(TypeError, match="on_chunk"):
        parallel.run(never_traced, GOOD, KEYS, on_chunk=1)


@pytest.mark.parametrize(("max_memory", "error"), [(0, ValueError), ("1GB", TypeError)])
def test_bad_max_memory_raises(max_memory, error):
    with pytest.raises(error, match="max_memory"):
        parallel.run(never_traced, GOOD, KEYS, max_memory=max_memory)


def test_empty_devices_raise():
    with pytest.raises(ValueError, match="devices is empty"):
        parallel.run(never_traced, GOOD, KEYS, devices=[])


def test_devices_that_are_not_devices_raise():
    with pytest.raises(TypeError, match="devices"):
        parallel.run(never_traced, GOOD, KEYS, devices=["cpu:0"])


def test_mesh_without_trials_axis_raises():
    mesh = Mesh(np.array(jax.devices()[:1]), ("batch",))
    with pytest.raises(ValueError, match="'trials' axis"):
        parallel.run(never_traced, GOOD, KEYS, devices=mesh)
