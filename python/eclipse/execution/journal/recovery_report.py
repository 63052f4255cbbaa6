"""What :func:`~eclipse.execution.journal.recovery.recover` reports: the orders it settled, adopted or left
unresolved, the fills it added, the positions it compared and repaired."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from eclipse.contracts import Fill, IntentKind, ReconcileSummary
from eclipse.execution.journal.state import OrderPhase
from eclipse.venues.types import OrderStatus

__all__ = ["AdoptedOrder", "PositionMismatch", "RecoveredOrder", "RecoveryReport", "UnresolvedOrder"]


@dataclass(frozen=True, slots=True)
class AdoptedOrder:
    """An order the venue holds under one of our client ids that the journal had lost, now journaled.

    ``found_by``: ``open_orders`` (listed open) or ``fills`` (a recent fill of it)."""

    client_order_id: str
    symbol: str
    kind: IntentKind
    status: OrderStatus
    filled: Decimal
    found_by: str


@dataclass(frozen=True, slots=True)
class RecoveredOrder:
    """An order settled by a lookup: ``landed`` False when the venue never had it (journaled as rejected)."""

    client_order_id: str
    symbol: str
    before: OrderPhase
    status: OrderStatus
    landed: bool


@dataclass(frozen=True, slots=True)
class UnresolvedOrder:
    """An order still not settled after recovery, and why (left for the operator or the next pass)."""

    client_order_id: str
    symbol: str
    phase: OrderPhase
    reason: str


@dataclass(frozen=True, slots=True)
class PositionMismatch:
    """The journal's position (from fills) differs from the venue's (signed sizes)."""

    symbol: str
    journal_qty: Decimal
    venue_qty: Decimal

    def __str__(self) -> str:
        return f"{self.symbol}: journal {self.journal_qty} venue {self.venue_qty}"


@dataclass(frozen=True, slots=True)
class RecoveryReport:
    """What :func:`recover` found and journaled."""

    ts_ms: int
    replayed_seq: int
    checked: int
    resolved: tuple[RecoveredOrder, ...] = ()
    live: tuple[str, ...] = ()
    cancel_pending: tuple[str, ...] = ()
    unresolved: tuple[UnresolvedOrder, ...] = ()
    fills_added: tuple[Fill, ...] = ()
    fills_missing: tuple[str, ...] = ()
    positions_journaled: tuple[str, ...] = ()
    position_mismatches: tuple[PositionMismatch, ...] = ()
    positions_checked: bool = False
    retries: int = 0
    errors: tuple[str, ...] = ()
    adopted: tuple[AdoptedOrder, ...] = ()
    repaired: tuple[str, ...] = ()
    """Symbols whose position disagreed with the venue's and whose missing fills (of our orders, from the
    venue's trade list) recovery journaled; a mismatch left in :attr:`position_mismatches` could not be
    repaired that way (a fill of an order not ours: a manual trade, a liquidation)."""
    foreign_orders: tuple[str, ...] = ()
    """``<symbol> <client id or order id>`` of open orders and recent fills' orders that are not ours (never
    adopted; a foreign fill also shows as a position mismatch)."""

    @property
    def clean(self) -> bool:
        """True when everything was settled and the venue agrees with the journal (adopted orders are
        settled: after adoption the journal agrees; :meth:`summary` still lists them)."""
        return not (self.unresolved or self.fills_missing or self.position_mismatches or self.errors)

    def summary(self) -> ReconcileSummary:
        """The report as the engine-wide reconcile contract."""
        return ReconcileSummary(
            ts_ms=self.ts_ms,
            orders_checked=self.checked,
            unknown_resolved=len(self.resolved),
            fills_added=len(self.fills_added),
            adopted_orders=tuple(a.client_order_id for a in self.adopted),
            position_mismatches=tuple(str(m) for m in self.position_mismatches),
        )
