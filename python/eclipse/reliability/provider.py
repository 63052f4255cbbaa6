"""The guard knobs the entry gate reads: the strictest of the daemon's own blocks (operator pause, crash
limit, stopping), the reliability loop's (posture, reconcile completeness of the symbol) and the entry guards'
(kill switch, data quality, adaptive, anomaly, breach cooldown). Exits and protection never ask."""

from __future__ import annotations

from typing import Protocol

from eclipse.contracts import GuardKnobs
from eclipse.execution.entries.gate import GuardKnobsProvider
from eclipse.reliability.loop import ReliabilityLoop

__all__ = ["PENDING", "ReliabilityGuard", "SymbolKnobs"]

PENDING = GuardKnobs(entry_block=True, reason="reconcile has not run yet", code="reconcile_pending")
"""The knobs before the reliability loop exists: no entry until the startup reconcile is done."""


class SymbolKnobs(Protocol):
    """Anything that restricts entries per symbol (the entry guards)."""

    def knobs(self, symbol: str | None = None) -> GuardKnobs:
        """Its knobs for ``symbol`` now."""
        ...


class ReliabilityGuard:
    """A :class:`~eclipse.execution.entries.gate.GuardKnobsProvider` over the daemon's blocks, the
    reliability loop and the entry guards (module docstring)."""

    def __init__(self, base: GuardKnobsProvider, guards: SymbolKnobs | None = None) -> None:
        self.base = base
        self.guards = guards
        self.loop: ReliabilityLoop | None = None
        """Set once the engine exists; until then every entry is refused (``reconcile_pending``)."""

    def current(self, symbol: str | None = None) -> GuardKnobs:
        """The strictest knobs in force now for entries on ``symbol``."""
        knobs = self.base.current(symbol)
        knobs = knobs.tighten(self.loop.knobs(symbol) if self.loop is not None else PENDING)
        if self.guards is not None:
            knobs = knobs.tighten(self.guards.knobs(symbol))
        return knobs
