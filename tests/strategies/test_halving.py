"""Successive halving and Hyperband as lane strategies: plans that reach the top, and the
pause / rank / promote rule checked against a direct reference."""

from __future__ import annotations

import math

import numpy as np
import pytest

from jaxtune.strategies import CONTINUE, PAUSE, STOP, Hyperband, Report, Rung, SuccessiveHalving


def test_successive_halving_with_few_trials_still_reaches_max_epochs():
    (plan,) = SuccessiveHalving(max_epochs=27).brackets(26)
    assert plan == [Rung(26, 1), Rung(8, 3), Rung(2, 9), Rung(1, 27)]


@pytest.mark.parametrize(("top", "eta"), [(100, 3), (27, 3), (50, 2), (10, 4)])
def test_every_hyperband_bracket_ends_at_max_epochs(top, eta):
    plan = Hyperband(max_epochs=top, reduction_factor=eta).brackets()
    s_max = math.floor(math.log(top, eta) + 1e-9)
    assert len(plan) == s_max + 1
    for s, rungs in zip(range(s_max, -1, -1), plan, strict=True):
        assert rungs[-1].epochs == top and len(rungs) == s + 1
        assert rungs[0].lanes == math.ceil((s_max + 1) / (s + 1) * eta**s)  # Li et al.
        assert [r.epochs for r in rungs] == sorted({r.epochs for r in rungs})


def test_a_rung_pauses_then_promotes_its_best_and_stops_the_rest():
    sh = SuccessiveHalving(max_epochs=9, reduction_factor=3).for_trials(9)
    state = sh.init(maximize=False)
    values = [0.5, 0.1, 0.9, 0.3, math.nan, 0.7, 0.2, 0.8, 0.6]
    state, out = sh.decide(state, [Report(t, 1, v) for t, v in enumerate(values)])
    assert out == [PAUSE] * 4 + [STOP] + [PAUSE] * 4  # the diverged one stops at once
    paused = [t for t in range(9) if t != 4]
    state, resume, stop = sh.schedule(state, paused)
    assert resume == [1, 3, 6] and stop == [0, 2, 5, 7, 8]  # the three lowest, in order
    state, out = sh.decide(state, [Report(1, 2, 0.1), Report(3, 3, 0.3), Report(6, 3, 0.05)])
    assert out == [CONTINUE, PAUSE, PAUSE]
    state, out = sh.decide(state, [Report(1, 3, 0.2)])
    state, resume, stop = sh.schedule(state, [1, 3, 6])
    assert (resume, stop) == ([6], [1, 3])
    state, out = sh.decide(state, [Report(6, 9, 0.01)])
    assert out == [STOP] and sh.schedule(state, [])[1:] == ([], [])


def test_promotion_equals_a_sort_of_the_rung_for_random_values():
    rng = np.random.default_rng(0)
    sh = SuccessiveHalving(max_epochs=27, reduction_factor=3).for_trials(27)
    for maximize in (True, False):
        values = rng.normal(size=27)
        state = sh.init(maximize)
        state, _ = sh.decide(state, [Report(t, 1, float(v)) for t, v in enumerate(values)])
        _, resume, _ = sh.schedule(state, list(range(27)))
        order = np.argsort(-values if maximize else values, kind="stable")
        assert resume == sorted(order[:9].tolist())


def test_hyperband_brackets_take_consecutive_trial_numbers():
    hb = Hyperband(max_epochs=9, reduction_factor=3)
    state = hb.init(True)
    sizes = [len(b["members"]) for b in state["brackets"]]
    assert sizes == [9, 5, 3] and hb.n_trials(1) == 17
    assert state["brackets"][1]["members"] == list(range(9, 14))
    assert hb.rung_of(10, 3) == 0 and hb.rung_of(10, 9) == 1 and hb.rung_of(0, 9) == 2
