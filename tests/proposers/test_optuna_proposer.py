"""Optuna proposals asked a few at a time: on the space's scales, resumable exactly."""

from __future__ import annotations

import math

import pytest

import jaxtune
from jaxtune.proposers import OptunaProposer, SampleProposer
from jaxtune.sweep import sampling

pytest.importorskip("optuna")

SPACE = jaxtune.Space(
    lr=jaxtune.LogUniform(1e-4, 1.0),
    momentum=jaxtune.OneMinusLogUniform(0.5, 0.99),
    width=jaxtune.Choice([8, 16, 32]),
    eps=1e-8,
)


def objective(h):
    return (math.log10(h["lr"]) + 2) ** 2 + (1 - h["momentum"]) + h["width"] / 100


def test_proposals_are_within_the_space_and_fixed_values_filled():
    p = OptunaProposer(SPACE, 30, seed=1)
    for t in p.ask(30):
        assert 1e-4 <= t.hparams["lr"] <= 1.0 and 0.5 <= t.hparams["momentum"] <= 0.99
        assert t.hparams["width"] in (8, 16, 32) and t.hparams["eps"] == 1e-8
        assert list(t.hparams) == list(SPACE.names)
    assert p.remaining() == 0 and p.ask(3) == []


def test_restore_in_the_middle_proposes_what_the_uninterrupted_run_did():
    def run(cut: int | None):
        p, out = OptunaProposer(SPACE, 40, seed=3), []
        pending = []
        for i in range(40):
            pending += p.ask(1 if i % 3 else 2)
            if len(pending) > 2:  # tell the oldest: some pruned with a curve
                t = pending.pop(0)
                v = objective(t.hparams)
                p.tell(t.number, v, [v + 1, v], stopped=t.number % 4 == 0)
            if cut is not None and i == cut:
                q = OptunaProposer(SPACE, 40, seed=3)
                q.restore(p.state())
                p = q
            out.append([t.hparams for t in pending])
        return out

    assert run(None) == run(17)


def test_tpe_learns_from_results():
    p = OptunaProposer(jaxtune.Space(x=jaxtune.Uniform(0.0, 1.0)), 60, seed=0)
    values = []
    for _ in range(60):
        (t,) = p.ask(1)
        values.append((t.hparams["x"] - 0.3) ** 2)
        p.tell(t.number, values[-1], [], stopped=False)
    assert min(values[30:]) < 1e-3 and sorted(values[30:])[15] < sorted(values[:30])[15]


def test_sample_proposer_hands_out_the_sweep_samples_in_order():
    samples = sampling.draw(SPACE, "random", 0, 5)
    p = SampleProposer.from_space(SPACE, samples)
    got = [t.hparams for t in p.ask(2) + p.ask(10)]
    assert got == SPACE.decode(samples) and p.remaining() == 0
