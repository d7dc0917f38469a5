"""Optuna's samplers (TPE, CMA-ES, GP) asked a few trials at a time, as lanes free up.

A trial that a strategy stopped is told as ``PRUNED`` with its objective per epoch as
intermediate values, a finished one as ``COMPLETE``, a diverged one as ``FAIL``: exactly
what Optuna's TPE sees with one of Optuna's pruners, so TPE with ASHA here is Optuna's
default combination (TPE ranks a pruned trial by the last epoch it reached, then by its
value there). Trials asked but not told are ``RUNNING``, which TPE's constant liar
counts as bad ones, so proposals asked together spread out.

Determinism: before each proposal the sampler is reseeded from ``(seed, trial number)``,
and :meth:`OptunaProposer.state` is the list of proposals and endings, from which
:meth:`OptunaProposer.restore` rebuilds the same study in memory. A resumed sweep
therefore proposes what the uninterrupted one did.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from jaxtune.proposers.base import Proposal
from jaxtune.proposers.optuna_space import (
    distribution,
    make_sampler,
    optuna_module,
    param_value,
    quiet,
)
from jaxtune.space import Fixed, Space

__all__ = ["OptunaProposer", "ended"]


class OptunaProposer:
    """Proposals of an Optuna sampler, on the space's scales.

    Args:
        space: the search space.
        n_trials: how many trials it proposes in all.
        sampler: ``"tpe"``, ``"cmaes"``, ``"gp"``, ``"random"`` or an
            ``optuna.samplers.BaseSampler`` (then only as deterministic as it is).
        seed: seed of every proposal.
        maximize: whether higher objectives are better.
        history: trials of the same sweep that ended before (earlier rounds), as
            :func:`ended` makes them: the study starts with them, and this proposer's
            trial numbers (and seeds) continue after them.

    Examples:
        >>> import jaxtune
        >>> space = jaxtune.Space(x=jaxtune.Uniform(0.0, 1.0))
        >>> p = OptunaProposer(space, 20, seed=0)
        >>> for _ in range(12):
        ...     (t,) = p.ask(1)
        ...     p.tell(t.number, (t.hparams["x"] - 0.3) ** 2, [], stopped=False)
        >>> q = OptunaProposer(space, 20, seed=0)
        >>> q.restore(p.state())
        >>> p.ask(2) == q.ask(2)
        True
    """

    def __init__(
        self,
        space: Space,
        n_trials: int,
        sampler: Any = "tpe",
        seed: int = 0,
        maximize: bool = False,
        history: Sequence[dict[str, Any]] = (),
    ) -> None:
        self.optuna = optuna_module()
        self.space, self.n_trials, self.sampler, self.seed = space, n_trials, sampler, seed
        self.maximize = maximize
        self.params: dict[str, tuple[str, Any]] = {}
        self.dists: dict[str, Any] = {}
        for name, dim in space.items():
            pair = distribution(name, dim, self.optuna)
            if pair is not None:
                self.params[pair[0]] = (name, dim)
                self.dists[pair[0]] = pair[1]
        make_sampler(sampler, seed, 2, self.optuna)  # a bad name fails here
        self.history = [dict(e) for e in history]
        self.restore({"log": []})

    def _new_study(self) -> Any:
        with quiet(self.optuna):
            return self.optuna.create_study(
                direction="maximize" if self.maximize else "minimize",
                sampler=self.optuna.samplers.RandomSampler(seed=self.seed),
            )

    def _reseed(self, number: int) -> None:
        seed = int(np.random.SeedSequence([self.seed, number]).generate_state(1)[0] % 2**31)
        self.study.sampler = make_sampler(self.sampler, seed, None, self.optuna)

    def _hparams(self, params: dict[str, Any]) -> dict[str, Any]:
        out = {n: d.value for n, d in self.space.items() if isinstance(d, Fixed)}
        for param, (name, dim) in self.params.items():
            out[name] = param_value(dim, params[param])
        return {n: out[n] for n in self.space.names}

    def remaining(self) -> int:
        """Trials not proposed yet."""
        return self.n_trials - len(self.log) + len(self.history)

    def ask(self, n: int) -> list[Proposal]:
        """Up to ``n`` new proposals, one sampler call each (reseeded per trial)."""
        out = []
        with quiet(self.optuna):
            for _ in range(min(n, self.remaining())):
                number = len(self.log) - len(self.history)
                self._reseed(len(self.log))  # the sweep's trial index: unique over rounds
                trial = self.study.ask(self.dists)
                self.live[number] = trial
                self.log.append({"params": dict(trial.params), "end": None})
                out.append(Proposal(number, self._hparams(trial.params)))
        return out

    def tell(self, number: int, value: float, curve: Sequence[float], stopped: bool) -> None:
        """Report how trial ``number`` ended (see the module doc for the states)."""
        entry = self.log[len(self.history) + number]
        if entry["end"] is not None:
            return
        steps = [None if not math.isfinite(v) else float(v) for v in curve]
        state = "FAIL" if not math.isfinite(value) else "PRUNED" if stopped else "COMPLETE"
        entry["end"] = {"state": state, "value": float(value), "curve": steps}
        trial = self.live.pop(number)
        with quiet(self.optuna):
            for step, v in enumerate(steps, start=1):
                if v is not None:
                    trial.report(v, step)
            kind = getattr(self.optuna.trial.TrialState, state)
            self.study.tell(trial, value if state == "COMPLETE" else None, state=kind)

    def state(self) -> dict[str, Any]:
        """Every proposal and how it ended, in order (JSON values)."""
        return {"log": [dict(e) for e in self.log[len(self.history) :]]}

    def restore(self, state: dict[str, Any]) -> None:
        """Rebuild the study of a :meth:`state`: ended trials as they ended, the others
        running (re-asked with their parameters fixed, so they can be told later)."""
        self.log = self.history + [dict(e) for e in state["log"]]
        self.study, self.live = self._new_study(), {}
        states = self.optuna.trial.TrialState
        with quiet(self.optuna):
            for number, entry in enumerate(self.log):
                end = entry["end"]
                if end is None:
                    self.study.enqueue_trial(entry["params"])
                    self.live[number - len(self.history)] = self.study.ask(self.dists)
                    continue
                self.study.add_trial(
                    self.optuna.trial.create_trial(
                        params=entry["params"],
                        distributions=self.dists,
                        value=end["value"] if end["state"] == "COMPLETE" else None,
                        state=getattr(states, end["state"]),
                        intermediate_values={
                            s: v for s, v in enumerate(end["curve"], start=1) if v is not None
                        },
                    )
                )


def ended(
    space: Space, hparams: dict[str, Any], value: float | None, curve: Sequence[Any], stopped: bool
) -> dict[str, Any]:
    """A stored trial as a history entry of :class:`OptunaProposer` (its Optuna params,
    and ``FAIL`` when it has no finite value).

    Examples:
        >>> import jaxtune
        >>> space = jaxtune.Space(m=jaxtune.OneMinusLogUniform(0.5, 0.99), eps=1e-8)
        >>> e = ended(space, {"m": 0.9, "eps": 1e-8}, 0.1, [0.3, 0.1], stopped=False)
        >>> round(e["params"]["one_minus_m"], 6), e["end"]["state"]
        (0.1, 'COMPLETE')
    """
    optuna = optuna_module()
    params = {}
    for name, dim in space.items():
        pair = distribution(name, dim, optuna)
        if pair is not None:
            x = hparams[name]
            params[pair[0]] = 1.0 - float(x) if pair[0] != name else x
    ok = value is not None and math.isfinite(value)
    state = ("PRUNED" if stopped else "COMPLETE") if ok else "FAIL"
    steps = [None if v is None or not math.isfinite(v) else float(v) for v in curve]
    return {
        "params": params,
        "end": {"state": state, "value": float(value) if ok else math.nan, "curve": steps},
    }
