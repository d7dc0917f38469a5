"""Tests for jaxtune.Space itself: a mapping of dimensions, repr, decode and its text forms."""

import json
import sys

import jax
import numpy as np
import pytest
from space_helpers import full_space

from jaxtune.space import (
    Choice,
    Fixed,
    IntUniform,
    LogUniform,
    OneMinusLogUniform,
    Space,
    Uniform,
)

# -- validation of the space as a whole ----------------------------------------------


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


# -- without ---------------------------------------------------------------------------


def test_without_drops_names_and_keeps_the_other_draws():
    space = Space(lr=LogUniform(1e-4, 1), epochs=IntUniform(1, 20), opt=["sgd", "adam"])
    smaller = space.without("epochs")
    assert smaller.names == ("lr", "opt")
    assert smaller["opt"] == space["opt"]
    # Each dimension draws from its own name's key: removing one leaves the others as they were.
    a, b = space.random(jax.random.key(3), 16), smaller.random(jax.random.key(3), 16)
    np.testing.assert_array_equal(a["lr"], b["lr"])
    np.testing.assert_array_equal(a["opt"], b["opt"])
    assert space.without("epochs", "opt") == Space(lr=LogUniform(1e-4, 1))
    assert space.without() == space


def test_without_an_unknown_name_says_which_names_there_are():
    space = Space(lr=LogUniform(1e-4, 1), epochs=IntUniform(1, 20))
    with pytest.raises(KeyError, match="unknown dimension 'epoch'; the space has 'lr', 'epochs'"):
        space.without("epoch")
    with pytest.raises(ValueError, match="needs at least one dimension"):
        space.without("lr", "epochs")
