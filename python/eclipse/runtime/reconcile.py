"""The daemon's periodic reconcile: a clear seam (:class:`Reconciler`) that the reliability loop fills.

:class:`PositionReconciler`, the check that runs today, compares each symbol's position in the book with
the venue's (within the market's quantity step) every ``RECONCILE_INTERVAL_SEC``: a difference emits
``reconcile.mismatch`` and blocks entries on that symbol (the engine's ``position_mismatch`` veto, lifted by
the engine's own protection check once they agree); every cycle emits ``reconcile.summary``. In-flight and
open orders are settled by the engine's protection check (tracked orders the venue no longer lists are
looked up). It never touches an order or invents a fill.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from eclipse.execution.engine import ExecutionEngine
from eclipse.venues.errors import VenueError
from eclipse.venues.types import Side

__all__ = ["PositionReconciler", "ReconcileResult", "Reconciler"]


@dataclass(frozen=True, slots=True)
class ReconcileResult:
    """One cycle: symbols checked, mismatches found (symbol, book, venue), complete or not."""

    checked: tuple[str, ...]
    mismatches: tuple[tuple[str, Decimal, Decimal], ...]
    complete: bool
    error: str = ""


class Reconciler(Protocol):
    """One reconcile cycle against the venue (called with the engine lock held)."""

    async def run_cycle(self) -> ReconcileResult:
        """Compare, repair what may be repaired, report."""
        ...


class PositionReconciler:
    """Book vs venue positions (see the module docstring)."""

    def __init__(self, engine: ExecutionEngine, symbols: Sequence[str], *, spot: bool = False) -> None:
        self._engine = engine
        self._symbols = tuple(symbols)
        self._spot = spot

    async def run_cycle(self) -> ReconcileResult:
        """One comparison; ``complete`` False when the venue could not be read."""
        engine = self._engine
        await engine.sync_fills()  # fills the venue made since the last sync are not a mismatch
        if self._spot:  # a spot venue keeps balances, not positions: nothing to compare here yet
            engine.telemetry.emit("reconcile.summary", complete=True, checked=0, mismatches=0, spot=True)
            return ReconcileResult((), (), True)
        try:
            positions = await engine.venue.fetch_positions(list(self._symbols))
        except VenueError as err:
            engine.telemetry.emit("reconcile.summary", complete=False, error=err.kind.value, checked=0)
            return ReconcileResult((), (), False, str(err))
        venue: dict[str, Decimal] = {}
        for p in positions:
            venue[p.symbol] = venue.get(p.symbol, Decimal(0)) + (p.qty if p.side is Side.BUY else -p.qty)
        mismatches: list[tuple[str, Decimal, Decimal]] = []
        for symbol in self._symbols:
            book = engine.book.snapshot(symbol).qty
            there = venue.get(symbol, Decimal(0))
            if book != there:
                mismatches.append((symbol, book, there))
                if symbol not in engine.blocked:
                    engine.blocked[symbol] = "position_mismatch"
                engine.telemetry.emit(
                    "reconcile.mismatch", symbol=symbol, book=book, venue=there, severity="critical"
                )
        engine.telemetry.emit(
            "reconcile.summary", complete=True, checked=len(self._symbols), mismatches=len(mismatches)
        )
        return ReconcileResult(self._symbols, tuple(mismatches), True)
