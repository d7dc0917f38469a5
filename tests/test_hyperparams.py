"""The hyperparameter table is the one source the trainer, the checks and the CLI read."""

import math

import pytest

from jaxtune import hyperparams as H  # noqa: N812 (short name for a table)
from jaxtune.train import optimizers


def test_every_default_is_allowed_and_kinds_partition_the_table():
    for row in H.TABLE.values():
        if row.values is None or row.kind != "static":
            assert row.allows(row.default), row.name
        else:
            assert row.default in row.values
    assert set(H.TRACED) | set(H.MASKED) | set(H.STATIC) == set(H.TABLE)
    assert len(H.TRACED) + len(H.MASKED) + len(H.STATIC) == len(H.TABLE)


def test_optimizers_read_the_table():
    assert tuple(optimizers.FAMILIES) == H.OPTIMIZERS
    assert H.defaults("traced") == optimizers.OPTIMIZER_DEFAULTS
    assert optimizers.HYPERPARAMS == H.TRACED
    assert optimizers.DECAY_SYSTEMS == H.DECAY_SYSTEMS
    for names in optimizers.FAMILIES.values():
        assert set(names) <= set(H.TRACED)


@pytest.mark.parametrize(
    ("name", "value", "match"),
    [
        ("learning_rate", 0.0, r"learning_rate must lie in \(0, inf\)"),
        ("momentum", 1.0, r"momentum must lie in \[0, 1\)"),
        ("decay_base", 0.0, r"decay_base must lie in \(0, 1\]"),
        ("hidden", 2.5, "hidden must be an integer"),
        ("epochs", True, "epochs must be an integer"),
        ("optimizer", "lbfgs", "optimizer must be one of sgd"),
        ("nosuch", 1, "unknown hyperparameter 'nosuch'"),
    ],
)
def test_check_value_names_the_hyperparameter_and_its_range(name, value, match):
    with pytest.raises(ValueError, match=match):
        H.check_value(name, value)


def test_check_value_accepts_the_edges_that_are_closed():
    assert H.check_value("momentum", 0.0) == 0.0
    assert H.check_value("decay_base", 1.0) == 1.0
    assert H.check_value("layers", 16) == 16
    assert H.check_value("optimizer", "adam") == "adam"
    assert math.isinf(H.TABLE["learning_rate"].high)


def test_check_bounds():
    H.check_bounds("b2", 0.9, 0.9999)
    with pytest.raises(ValueError, match=r"space\.b2: values must lie in \[0, 1\)"):
        H.check_bounds("b2", 0.9, 1.0)
    with pytest.raises(ValueError, match=r"decay_system: values must lie in \[0, 5\]"):
        H.check_bounds("decay_system", 0, 6)


def test_the_guide_shows_the_table_as_generated():
    from pathlib import Path

    guide = Path(__file__).resolve().parents[1] / "docs" / "getting-started.md"
    assert H.markdown_table() in guide.read_text()
