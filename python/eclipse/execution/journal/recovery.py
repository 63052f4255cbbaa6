"""Recovery after a restart: settle every order the journal left in flight, from the venue's own answers.

:func:`recover` only reads the venue (``fetch_order``, ``fetch_fills``, ``fetch_positions``); it never places
or cancels anything, and it never guesses. In order:

1. Replay the journal.
2. Look up, by client order id, every order not known to be terminal (submitting, unknown, acked) and every
   terminal one whose filled quantity the journal lacks. Found: journal :class:`OrderAcked` with the venue's
   status (and :class:`OrderResolved` when terminal). ``ORDER_NOT_FOUND`` for an order the venue never
   acknowledged: it never landed, journal ``OrderResolved(rejected, order_not_found)`` so the intent may be
   retried. Not found for an acknowledged order, or a lookup still failing after bounded retries: reported
   as unresolved, left as it was.
3. Fetch the fills of every symbol with an order whose fills are not all journaled (since its submit time,
   paged) and journal those of our orders (by client id, else by venue order id) not already journaled
   (dedup by ``(symbol, trade_id)``).
4. Journal a :class:`PositionChanged` where the fills moved a position, then compare every position with
   ``fetch_positions`` and report the mismatches.

Running it twice in a row journals nothing the second time.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from functools import partial
from typing import TypeVar

from eclipse.clock import Clock
from eclipse.contracts import (
    Fill,
    FillRecorded,
    JournalEvent,
    OrderAcked,
    OrderReport,
    OrderResolved,
    PositionChanged,
    ReconcileSummary,
)
from eclipse.execution.journal.state import JournalState, OrderEntry, OrderPhase
from eclipse.execution.journal.store import Journal
from eclipse.venues.errors import VenueError, VenueErrorKind
from eclipse.venues.protocol import Venue
from eclipse.venues.types import OrderStatus, Side

__all__ = ["PositionMismatch", "RecoveredOrder", "RecoveryReport", "UnresolvedOrder", "recover"]

T = TypeVar("T")
FILL_SLACK_MS = 5 * 60_000
"""Fills are fetched from this long before the oldest unsettled order (clock skew with the venue)."""
_MAX_FILL_PAGES = 100
_FILL_PAGE = 500


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

    @property
    def clean(self) -> bool:
        """True when everything was settled and the venue agrees with the journal."""
        return not (self.unresolved or self.fills_missing or self.position_mismatches or self.errors)

    def summary(self) -> ReconcileSummary:
        """The report as the engine-wide reconcile contract."""
        return ReconcileSummary(
            ts_ms=self.ts_ms,
            orders_checked=self.checked,
            unknown_resolved=len(self.resolved),
            fills_added=len(self.fills_added),
            position_mismatches=tuple(str(m) for m in self.position_mismatches),
        )


class _Recovery:
    def __init__(
        self,
        journal: Journal,
        venue: Venue,
        clock: Clock,
        attempts: int,
        backoff_s: float,
        sleep: Callable[[float], Awaitable[None]],
    ) -> None:
        self.journal, self.venue, self.clock = journal, venue, clock
        self.attempts, self.backoff_s, self.sleep = max(1, attempts), backoff_s, sleep
        self.retries = 0
        self.resolved: list[RecoveredOrder] = []
        self.live: list[str] = []
        self.cancel_pending: list[str] = []
        self.unresolved: list[UnresolvedOrder] = []
        self.fills_added: list[Fill] = []
        self.errors: list[str] = []

    async def call(self, fn: Callable[[], Awaitable[T]]) -> T:
        """``fn()`` retried (bounded, backing off) on retryable errors; reads cannot have side effects, so an
        unknown outcome is retried too. ORDER_NOT_FOUND and definitive refusals raise at once."""
        for attempt in range(self.attempts):
            try:
                return await fn()
            except VenueError as exc:
                again = exc.retryable or exc.kind is VenueErrorKind.OUTCOME_UNKNOWN
                if not again or attempt == self.attempts - 1:
                    raise
                self.retries += 1
                delay = self.backoff_s * 2**attempt
                await self.sleep(max(delay, exc.retry_after_s or 0.0))
        raise AssertionError("unreachable")  # pragma: no cover

    # -- orders ---------------------------------------------------------------------------------------------

    async def lookup(self, o: OrderEntry) -> OrderReport:
        venue = self.venue
        try:
            return await self.call(
                lambda: venue.fetch_order(
                    o.symbol, client_order_id=o.client_order_id, conditional=o.conditional
                )
            )
        except VenueError as exc:
            if exc.kind is not VenueErrorKind.ORDER_NOT_FOUND or o.order_id is None:
                raise
        oid = o.order_id
        return await self.call(lambda: venue.fetch_order(o.symbol, order_id=oid, conditional=o.conditional))

    async def settle(self, o: OrderEntry) -> None:
        now = self.clock.now_ms()
        cid = o.client_order_id
        try:
            r = await self.lookup(o)
        except VenueError as exc:
            if exc.kind is VenueErrorKind.ORDER_NOT_FOUND and o.order_id is None:
                self.journal.append(
                    OrderResolved(
                        now,
                        cid,
                        OrderStatus.REJECTED,
                        error_kind=VenueErrorKind.ORDER_NOT_FOUND,
                        error_code=exc.code,
                        detail="not on the venue at recovery: the send never landed",
                        filled=Decimal(0),
                    )
                )
                self.resolved.append(RecoveredOrder(cid, o.symbol, o.phase, OrderStatus.REJECTED, False))
                return
            why = (
                f"acknowledged as {o.order_id} but the venue no longer finds it"
                if exc.kind is VenueErrorKind.ORDER_NOT_FOUND
                else f"lookup failed: {exc}"
            )
            self.unresolved.append(UnresolvedOrder(cid, o.symbol, o.phase, why))
            return
        events: list[JournalEvent] = []
        known = (o.phase, o.order_id, o.status, o.venue_filled)
        if known != (OrderPhase.ACKED, r.order_id, r.status, r.filled):
            events.append(OrderAcked(now, cid, r.order_id, r.status, r.filled))
        if r.status.terminal:
            events.append(
                OrderResolved(now, cid, r.status, detail="settled by lookup at recovery", filled=r.filled)
            )
            self.resolved.append(RecoveredOrder(cid, o.symbol, o.phase, r.status, True))
        else:
            self.live.append(cid)
            if o.cancel_requested:
                self.cancel_pending.append(cid)
        self.journal.append_many(events)

    # -- fills ----------------------------------------------------------------------------------------------

    async def sync_fills(self, state: JournalState) -> None:
        since: dict[str, int] = {}
        for o in state.orders.values():
            if not o.fills_complete:
                since[o.symbol] = min(since.get(o.symbol, o.submitted_ms), o.submitted_ms)
        by_oid = state.by_order_id()
        for symbol, start in sorted(since.items()):
            seen = state.trade_ids(symbol)
            new: list[JournalEvent] = []
            cursor = start - FILL_SLACK_MS
            try:
                for _ in range(_MAX_FILL_PAGES):
                    fetch = partial(self.venue.fetch_fills, symbol, since_ms=cursor, limit=_FILL_PAGE)
                    page = await self.call(fetch)
                    for f in page:
                        cid = f.client_order_id if f.client_order_id in state.orders else None
                        if cid is None:
                            mine = by_oid.get((symbol, f.order_id))
                            cid = mine.client_order_id if mine is not None else None
                        if cid is None or f.trade_id in seen:
                            continue
                        seen.add(f.trade_id)
                        new.append(FillRecorded(self.clock.now_ms(), cid, f))
                        self.fills_added.append(f)
                    if len(page) < _FILL_PAGE or page[-1].ts_ms <= cursor:
                        break
                    cursor = page[-1].ts_ms
                else:
                    self.errors.append(f"{symbol}: more than {_MAX_FILL_PAGES} pages of fills; fetch stopped")
            except VenueError as exc:
                self.errors.append(f"{symbol}: fills not fetched: {exc}")
            self.journal.append_many(new)

    # -- positions ------------------------------------------------------------------------------------------

    def journal_positions(self, state: JournalState) -> list[str]:
        now = self.clock.now_ms()
        events: list[JournalEvent] = []
        for symbol, pos in sorted(state.positions.items()):
            old = state.reported_positions.get(symbol)
            key = (pos.qty, pos.avg_entry, pos.realized_pnl, pos.fees)
            if old is None or (old.qty, old.avg_entry, old.realized_pnl, old.fees) != key:
                events.append(PositionChanged(now, pos))
        self.journal.append_many(events)
        return [e.snapshot.symbol for e in events if isinstance(e, PositionChanged)]

    async def compare_positions(self, state: JournalState) -> tuple[bool, list[PositionMismatch]]:
        try:
            venue_positions = await self.call(lambda: self.venue.fetch_positions())
        except VenueError as exc:
            self.errors.append(f"positions not checked: {exc}")
            return False, []
        venue_qty: dict[str, Decimal] = {}
        for p in venue_positions:
            signed = p.qty if p.side is Side.BUY else -p.qty
            venue_qty[p.symbol] = venue_qty.get(p.symbol, Decimal(0)) + signed
        symbols = sorted({s for s, pos in state.positions.items() if pos.qty != 0} | set(venue_qty))
        out = []
        for s in symbols:
            mine, theirs = state.position_qty(s), venue_qty.get(s, Decimal(0))
            if mine != theirs:
                out.append(PositionMismatch(s, mine, theirs))
        return True, out


async def recover(
    journal: Journal,
    venue: Venue,
    clock: Clock,
    *,
    attempts: int = 5,
    backoff_s: float = 0.25,
    check_positions: bool = True,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> RecoveryReport:
    """Settle the journal against ``venue`` (reads only) and report; see the module docstring.

    ``attempts`` bounds each venue read (retryable errors back off ``backoff_s`` x 2^n, or the venue's
    ``retry_after_s``); ``check_positions`` False skips the position comparison (spot accounts).
    """
    run = _Recovery(journal, venue, clock, attempts, backoff_s, sleep)
    state = JournalState.replay(journal)
    replayed = state.last_seq
    todo = [o for o in state.orders.values() if o.in_flight or o.venue_filled is None]
    for o in todo:
        await run.settle(o)
    state.catch_up(journal)
    await run.sync_fills(state)
    state.catch_up(journal)
    missing = [
        f"{o.client_order_id}: journal filled {o.filled}, venue {o.venue_filled}"
        for o in state.orders.values()
        if o.venue_filled is not None and o.filled < o.venue_filled
    ]
    run.errors.extend(
        f"{o.client_order_id}: journal filled {o.filled} exceeds the venue's final {o.venue_filled}"
        for o in state.orders.values()
        if o.phase is OrderPhase.RESOLVED and o.venue_filled is not None and o.filled > o.venue_filled
    )
    journaled = run.journal_positions(state)
    state.catch_up(journal)
    checked, mismatches = await run.compare_positions(state) if check_positions else (False, [])
    return RecoveryReport(
        ts_ms=clock.now_ms(),
        replayed_seq=replayed,
        checked=len(todo),
        resolved=tuple(run.resolved),
        live=tuple(run.live),
        cancel_pending=tuple(run.cancel_pending),
        unresolved=tuple(run.unresolved),
        fills_added=tuple(run.fills_added),
        fills_missing=tuple(missing),
        positions_journaled=tuple(journaled),
        position_mismatches=tuple(mismatches),
        positions_checked=checked,
        retries=run.retries,
        errors=tuple(run.errors),
    )
