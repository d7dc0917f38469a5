"""Random, quasi-random (Sobol) and grid proposals: the sweep's own prefix-stable samples.

Proposal ``i`` is sample ``i`` of the sequence a plain sweep of the same space and seed
draws (:mod:`jaxtune.sweep.sampling`), so a trial proposed to a refilled lane is the same
trial a plain sweep would train under that id.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jaxtune.proposers.base import Proposal
from jaxtune.space import Space

__all__ = ["SampleProposer"]


class SampleProposer:
    """Hands out a fixed list of decoded samples in order.

    Args:
        trials: the round's trials as plain values (``space.decode(samples)``).

    Examples:
        >>> p = SampleProposer([{"x": 0.1}, {"x": 0.2}, {"x": 0.3}])
        >>> [t.number for t in p.ask(2)], p.remaining(), p.state()
        ([0, 1], 1, {'next': 2})
    """

    def __init__(self, trials: list[Mapping[str, Any]]) -> None:
        self.trials, self.next = [dict(t) for t in trials], 0

    @classmethod
    def from_space(cls, space: Space, samples: Mapping[str, Any]) -> SampleProposer:
        """The proposer of a round's encoded ``samples`` of ``space``."""
        return cls(space.decode(samples))

    def remaining(self) -> int:
        """Samples not handed out yet."""
        return len(self.trials) - self.next

    def ask(self, n: int) -> list[Proposal]:
        """The next ``n`` samples."""
        stop = min(self.next + n, len(self.trials))
        out = [Proposal(i, self.trials[i]) for i in range(self.next, stop)]
        self.next += len(out)
        return out

    def tell(self, number: int, value: float, curve: list[float], stopped: bool) -> None:
        """Samples do not learn."""

    def state(self) -> dict[str, Any]:
        """The next sample's index."""
        return {"next": self.next}

    def restore(self, state: dict[str, Any]) -> None:
        """Back to a saved index."""
        self.next = int(state["next"])
