"""ASHA decides as Ray Tune's ASHAScheduler rule says, checked against a direct reference."""

from __future__ import annotations

import math

import numpy as np
import pytest

from jaxtune.strategies import ASHA, CONTINUE, STOP, Report


def reference(values_at_rung: list[float], value: float, eta: int, maximize: bool) -> str:
    """Ray's rule written out: stop when worse than the (1 - 1/eta) quantile of those
    recorded before it (metrics turned into 'higher is better' first)."""
    if not values_at_rung:
        return CONTINUE
    sign = 1.0 if maximize else -1.0
    cutoff = np.nanpercentile([sign * v for v in values_at_rung], (1 - 1 / eta) * 100)
    return STOP if sign * value < cutoff else CONTINUE


@pytest.mark.parametrize("maximize", [True, False])
@pytest.mark.parametrize("eta", [2, 3, 4])
def test_decisions_follow_the_reference_rule(maximize, eta):
    rng = np.random.default_rng(eta)
    asha = ASHA(max_epochs=eta**3, min_epochs=1, reduction_factor=eta)
    state = asha.init(maximize)
    seen: dict[int, list[float]] = {r: [] for r in asha.rungs()}
    for trial in range(60):
        for epoch in asha.rungs():
            value = float(rng.normal())
            want = reference(seen[epoch], value, eta, maximize)
            state, (got,) = asha.decide(state, [Report(trial, epoch, value)])
            assert got == want
            seen[epoch].append(value)
            if got == STOP:
                break


def test_rungs_end_below_max_epochs_and_max_epochs_finishes():
    asha = ASHA(max_epochs=100, min_epochs=1, reduction_factor=3)
    assert asha.rungs() == [1, 3, 9, 27, 81]
    state = asha.init(True)
    _, out = asha.decide(state, [Report(0, 100, 0.5), Report(1, 50, 0.5), Report(2, 4, math.nan)])
    assert out == [STOP, CONTINUE, STOP]


def test_state_is_json_and_decisions_are_pure():
    import json

    asha = ASHA(max_epochs=9)
    state = asha.init(False)
    s1, out1 = asha.decide(state, [Report(0, 1, 1.0), Report(1, 1, 0.5), Report(2, 1, 2.0)])
    again = json.loads(json.dumps(state))
    s2, out2 = asha.decide(again, [Report(0, 1, 1.0), Report(1, 1, 0.5), Report(2, 1, 2.0)])
    assert (s1, out1) == (s2, out2) and state == asha.init(False)


@pytest.mark.parametrize(
    ("kwargs", "text"),
    [
        ({"reduction_factor": 1}, "scheduler.reduction_factor must be an integer >= 2"),
        ({"min_epochs": 0}, r"scheduler.min_epochs must be an integer in \[1, 10000\]"),
        ({"max_epochs": 2, "min_epochs": 3}, r"scheduler.max_epochs must be an integer in \[3,"),
        ({"lanes": 0}, r"scheduler.lanes must be an integer in \[1, 100000\]"),
    ],
)
def test_bad_settings_are_named(kwargs, text):
    with pytest.raises(ValueError, match=text):
        ASHA(**kwargs)
