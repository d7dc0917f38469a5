"""The proposer interface: hyperparameters for as many new trials as lanes are free.

A proposer is asked for ``n`` trials (``ask``), hears how each ended (``tell``), and can
say where it stands as JSON values (``state``) and go back there (``restore``): the lane
runtime saves that state with each checkpoint, so a resumed sweep proposes exactly what
the uninterrupted one did. It knows nothing of lanes or strategies.
"""

from __future__ import annotations

from typing import Any, NamedTuple, Protocol, runtime_checkable

__all__ = ["Proposal", "Proposer"]


class Proposal(NamedTuple):
    """One proposed trial."""

    number: int  # its index in the sweep's round (the trial id is first_trial + number)
    hparams: dict[str, Any]  # plain values, strings and booleans included


@runtime_checkable
class Proposer(Protocol):
    """What the lane runtime asks of a proposer."""

    def remaining(self) -> int:
        """How many more trials it may propose."""

    def ask(self, n: int) -> list[Proposal]:
        """Up to ``n`` new trials (fewer when fewer remain)."""

    def tell(self, number: int, value: float, curve: list[float], stopped: bool) -> None:
        """How trial ``number`` ended: its final objective (NaN: failed), its objective
        per epoch, and whether a strategy stopped it before the full budget."""

    def state(self) -> dict[str, Any]:
        """Where it stands, as JSON values."""

    def restore(self, state: dict[str, Any]) -> None:
        """Go back to a :meth:`state`."""
