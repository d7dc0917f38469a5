"""Proposers (layer 5): hyperparameters of new trials, as many as lanes are free.

``base`` holds the interface (``remaining``, ``ask``, ``tell``, ``state``, ``restore``);
``samples`` hands out the sweep's own random, quasi-random or grid samples;
``optuna_sampler`` asks Optuna's TPE, CMA-ES or GP a few trials at a time, telling it of
trials a strategy stopped; ``optuna_space`` translates a space into Optuna's terms.
"""

from jaxtune.proposers.base import Proposal, Proposer
from jaxtune.proposers.optuna_sampler import OptunaProposer, ended
from jaxtune.proposers.samples import SampleProposer

__all__ = ["OptunaProposer", "Proposal", "Proposer", "SampleProposer", "ended"]
