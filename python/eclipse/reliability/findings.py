"""Venue evidence and the diff against the engine's belief: what one reconcile cycle reads and what it finds.

:func:`gather` reads the venue with bounded work: one positions read (when due) and one listing of open orders
per symbol and book (regular, conditional), each failure recorded per symbol without aborting the others.
:func:`diff` compares that evidence with the engine's order ledger, position book and protection trackers and
returns :class:`Finding` items, each keyed for the belief-debt ledger:

=====================  ======================================================================================
kind                   meaning (key)
=====================  ======================================================================================
order_unknown          an order submitted, or of unknown outcome, for longer than the in-flight age (cid)
missing_order          an order we believe live that the venue no longer lists (cid)
orphan_order           a venue order with our client-id prefix the ledger does not know (cid)
foreign_order          a venue order that is not ours (symbol, venue id)
position_mismatch      the venue's position differs from the book's while the book holds one (symbol)
unknown_position       the venue holds a position the book does not (not ours, or a fill we never saw)
unprotected_position   an open position uncovered past T_protect (symbol)
=====================  ======================================================================================
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING

from eclipse.execution.journal.client_ids import parse_client_id
from eclipse.venues.errors import VenueError
from eclipse.venues.types import OrderReport, Position, Side

if TYPE_CHECKING:
    from eclipse.execution.engine import ExecutionEngine

__all__ = [
    "INFLIGHT_STATES",
    "Finding",
    "VenueEvidence",
    "diff",
    "gather",
    "ours_unsettled",
    "signed_positions",
]

INFLIGHT_STATES = frozenset({"submitting", "unknown"})
"""Order states whose outcome the venue has not told us yet."""
_LISTED_STATES = frozenset({"accepted", "partially_filled", "pending_cancel"})
"""Live order states in which the venue must list the order as open."""
POSITIONS_KEY = "*positions"
"""The key of a failed positions read in :attr:`VenueEvidence.failed`."""


@dataclass(frozen=True, slots=True)
class VenueEvidence:
    """What one cycle read from the venue: open orders of the symbols listed, positions (None: not read)."""

    ts_ms: int
    orders: Mapping[str, tuple[OrderReport, ...]] = field(default_factory=dict)
    positions: Mapping[str, Position] | None = None
    failed: Mapping[str, str] = field(default_factory=dict)

    @property
    def listed(self) -> frozenset[str]:
        """Symbols whose open orders (both books) were listed."""
        return frozenset(self.orders)

    def signed(self, symbol: str) -> Decimal:
        """The venue's signed position quantity of ``symbol`` (0 when flat or not read)."""
        if self.positions is None or symbol not in self.positions:
            return Decimal(0)
        p = self.positions[symbol]
        return p.qty if p.side is Side.BUY else -p.qty


@dataclass(frozen=True, slots=True)
class Finding:
    """One disagreement between the engine's belief and the venue's evidence."""

    kind: str
    key: str
    symbol: str
    detail: str
    subject: str = ""
    """The order's client id (or venue id for a foreign order) the finding is about."""


def ours_unsettled(engine: ExecutionEngine, symbol: str) -> bool:
    """True while an order of ours on ``symbol`` may explain a position difference: of unknown outcome, live
    without a venue id, a conditional that triggered and is being followed, or with fills the book has not
    applied yet. A venue position is never called foreign, nor a venue fill someone else's, meanwhile."""
    for o in engine.orders.live(symbol):
        if o.state in INFLIGHT_STATES or o.venue_id is None or o.state == "triggered":
            return True
    return any(o.uncounted for o in engine.orders.orders.values() if o.symbol == symbol)


def signed_positions(positions: Iterable[Position]) -> dict[str, Position]:
    """The venue positions by symbol (a hedge-mode pair netted into one signed position)."""
    out: dict[str, Position] = {}
    for p in positions:
        if p.qty == 0:
            continue
        prev = out.get(p.symbol)
        if prev is None:
            out[p.symbol] = p
            continue
        net = (prev.qty if prev.side is Side.BUY else -prev.qty) + (p.qty if p.side is Side.BUY else -p.qty)
        side = Side.BUY if net >= 0 else Side.SELL
        out[p.symbol] = Position(
            p.symbol, side, abs(net), p.entry_price, p.mark_price, p.unrealized_pnl + prev.unrealized_pnl,
            p.liquidation_price, p.leverage, p.margin_mode, p.notional + prev.notional, p.ts_ms,
        )  # fmt: skip
    return {s: p for s, p in out.items() if p.qty != 0}


async def gather(
    engine: ExecutionEngine, symbols: Sequence[str], *, positions: bool, now_ms: int
) -> VenueEvidence:
    """Read the venue: open orders of ``symbols`` (both books), and positions when ``positions``."""
    venue = engine.venue
    orders: dict[str, tuple[OrderReport, ...]] = {}
    failed: dict[str, str] = {}
    for symbol in symbols:
        try:
            regular = await venue.fetch_open_orders(symbol)
            conditional = await venue.fetch_open_orders(symbol, conditional=True)
        except VenueError as err:
            failed[symbol] = f"{err.kind.value}: {err}"
            continue
        orders[symbol] = (*regular, *conditional)
    pos: dict[str, Position] | None = None
    if positions:
        try:
            pos = signed_positions(await venue.fetch_positions())
        except VenueError as err:
            failed[POSITIONS_KEY] = f"{err.kind.value}: {err}"
    return VenueEvidence(now_ms, orders, pos, failed)


def diff(
    engine: ExecutionEngine,
    evidence: VenueEvidence,
    symbols: Sequence[str],
    *,
    inflight_age_ms: int,
    check_inflight: bool,
    check_protection: bool,
) -> list[Finding]:
    """Every finding of the checks that ran (module docstring), in a stable order."""
    now = evidence.ts_ms
    out: list[Finding] = []
    ledger = engine.orders
    if check_inflight:
        for o in ledger.live():
            age = now - o.placed_ms
            if o.state in INFLIGHT_STATES and age >= inflight_age_ms:
                out.append(
                    Finding(
                        "order_unknown", f"order_unknown:{o.client_order_id}", o.symbol,
                        f"{o.kind} order {o.state} for {age / 1000:.1f}s", o.client_order_id,
                    )
                )  # fmt: skip
    for symbol in sorted(evidence.listed):
        out.extend(_order_findings(engine, symbol, evidence.orders[symbol]))
    if evidence.positions is not None:
        book_symbols = set(engine.book.open_positions())
        for symbol in sorted(set(symbols) | book_symbols | set(evidence.positions)):
            book = engine.book.snapshot(symbol).qty
            there = evidence.signed(symbol)
            if book == there:
                continue
            excess = book != 0 and (there > 0) == (book > 0) and abs(there) > abs(book)
            if (book == 0 or excess) and not ours_unsettled(engine, symbol):
                kind = "unknown_position"  # not ours (or someone added to ours): the foreign policy decides
            else:
                kind = "position_mismatch"
            out.append(Finding(kind, f"{kind}:{symbol}", symbol, f"book {book} venue {there}"))
    if check_protection:
        for symbol in sorted(engine.book.open_positions()):
            tracker = engine.protection.tracker(symbol)
            if tracker.entries_blocked():
                gap = tracker.unprotected_sec()
                out.append(
                    Finding(
                        "unprotected_position", f"unprotected_position:{symbol}", symbol,
                        f"no stop for {gap:.1f}s (T_protect {tracker.t_protect_sec:g}s)",
                    )
                )  # fmt: skip
    return out


def _order_findings(engine: ExecutionEngine, symbol: str, listed: Sequence[OrderReport]) -> list[Finding]:
    ledger = engine.orders
    out: list[Finding] = []
    listed_ids = {r.venue_id for r in listed}
    for o in ledger.live(symbol):
        if o.state not in _LISTED_STATES or o.venue_id is None or o.venue_id in listed_ids:
            continue
        ours = o.client_order_id
        out.append(
            Finding("missing_order", f"missing_order:{ours}", symbol, f"{o.kind} {o.state} not listed", ours)
        )
    for r in listed:
        cid = r.client_order_id
        if (cid is not None and cid in ledger.orders) or ledger.by_venue_id(r.venue_id) is not None:
            continue
        parsed = parse_client_id(cid)
        if cid is not None and parsed is not None and parsed.matches(r.symbol):
            if ledger.used(cid):
                continue  # ours from before (canceled leftovers are the protection check's)
            detail = f"{parsed.kind} {r.status} {r.filled}/{r.qty}"
            out.append(Finding("orphan_order", f"orphan_order:{cid}", symbol, detail, cid))
        else:
            detail = f"{r.side} {r.type} {r.qty} cid={cid}"
            key = f"foreign_order:{symbol}:{r.order_id}"
            out.append(Finding("foreign_order", key, symbol, detail, r.order_id))
    return out
