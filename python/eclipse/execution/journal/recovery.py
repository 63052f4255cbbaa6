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
4. Adopt the orders the journal lost (a power loss drops the unsynced tail of the file): list the venue's
   open orders (regular and conditional) and recent fills (from the last journaled record minus
   :data:`FILL_SLACK_MS`) of every symbol the journal knows, holds a venue position or is named in
   ``symbols``; an order carrying one of our deterministic client ids (:func:`parse_client_id`) that the
   journal does not know gets the records the lost tail would have had: :class:`IntentCreated` (when the
   intent is unknown), :class:`OrderSubmitting` with ``recovered=True``, :class:`OrderAcked` and, when
   terminal, :class:`OrderResolved` with the venue's status; its fills follow in step 5. Orders with foreign
   client ids are never adopted: they are reported (``foreign_orders``).
5. Fetch the fills of every symbol with an order whose fills are not all journaled (since its submit time,
   paged) and journal those of our orders (by client id, else by venue order id) not already journaled
   (dedup by ``(symbol, trade_id)``).
6. Journal a :class:`PositionChanged` where the fills moved a position, then compare every position with
   ``fetch_positions`` and report the mismatches.

Running it twice in a row journals nothing the second time.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from decimal import Decimal
from functools import partial
from typing import TypeVar

from eclipse.clock import Clock
from eclipse.contracts import (
    Fill,
    FillRecorded,
    IntentKind,
    JournalEvent,
    OrderAcked,
    OrderReport,
    OrderResolved,
    PositionChanged,
)
from eclipse.execution.journal.adoption import adoption_records
from eclipse.execution.journal.client_ids import ClientId, parse_client_id
from eclipse.execution.journal.recovery_report import (
    AdoptedOrder,
    PositionMismatch,
    RecoveredOrder,
    RecoveryReport,
    UnresolvedOrder,
)
from eclipse.execution.journal.reports import report_records, trigger_records
from eclipse.execution.journal.state import JournalState, OrderEntry, OrderPhase
from eclipse.execution.journal.store import Journal
from eclipse.venues.errors import VenueError, VenueErrorKind
from eclipse.venues.protocol import Venue
from eclipse.venues.types import OrderStatus, Position, Side

__all__ = [
    "AdoptedOrder",
    "ClientId",
    "PositionMismatch",
    "RecoveredOrder",
    "RecoveryReport",
    "UnresolvedOrder",
    "parse_client_id",
    "recover",
]

T = TypeVar("T")
FILL_SLACK_MS = 5 * 60_000
"""Fills are fetched from this long before the oldest unsettled order (clock skew with the venue)."""
_MAX_FILL_PAGES = 100
_FILL_PAGE = 500


class _Recovery:
    def __init__(
        self,
        journal: Journal,
        venue: Venue,
        clock: Clock,
        attempts: int,
        backoff_s: float,
        sleep: Callable[[float], Awaitable[None]],
        landing_window_ms: int = 0,
    ) -> None:
        self.journal, self.venue, self.clock = journal, venue, clock
        self.landing_window_ms = landing_window_ms
        self.attempts, self.backoff_s, self.sleep = max(1, attempts), backoff_s, sleep
        self.retries = 0
        self.resolved: list[RecoveredOrder] = []
        self.live: list[str] = []
        self.cancel_pending: list[str] = []
        self.unresolved: list[UnresolvedOrder] = []
        self.fills_added: list[Fill] = []
        self.errors: list[str] = []
        self.adopted: list[AdoptedOrder] = []
        self.repaired: list[str] = []
        self.foreign: list[str] = []

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
            young = now - o.submitted_ms < self.landing_window_ms
            if exc.kind is VenueErrorKind.ORDER_NOT_FOUND and o.order_id is None and young:
                # sent moments before the restart: it may still land, so "not found" proves nothing yet
                why = "not on the venue yet, sent within the landing window: it may still land"
                self.unresolved.append(UnresolvedOrder(cid, o.symbol, o.phase, why))
                return
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
        if r.triggered_order_id is not None and o.conditional:
            await self.settle_triggered(o, r)
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

    async def settle_triggered(self, o: OrderEntry, r: OrderReport) -> None:
        """A conditional found triggered: look up the regular order it became (its fills are the
        conditional's) and journal both (:func:`trigger_records`); that order not found is unresolved."""
        tid = r.triggered_order_id
        cid = o.client_order_id
        now = self.clock.now_ms()
        try:
            a = await self.call(lambda: self.venue.fetch_order(o.symbol, order_id=tid))
        except VenueError as exc:
            self.journal.append_many(report_records(now, cid, r, "triggered, at recovery"))
            why = f"triggered as order {tid}, which was not looked up: {exc}"
            self.unresolved.append(UnresolvedOrder(cid, o.symbol, o.phase, why))
            return
        self.journal.append_many(trigger_records(now, cid, r.order_id, a, "the order it became, at recovery"))
        if a.status.terminal:
            self.resolved.append(RecoveredOrder(cid, o.symbol, o.phase, a.status, True))
        else:
            self.live.append(cid)

    # -- adoption (the journal's lost tail) -----------------------------------------------------------------

    async def venue_positions(self) -> list[Position] | None:
        try:
            return await self.call(lambda: self.venue.fetch_positions())
        except VenueError as exc:
            self.errors.append(f"positions not checked: {exc}")
            return None

    async def find_lost(self, state: JournalState, symbols: list[str], since: int | None) -> None:
        """Adopt the venue's orders with our client ids that ``state`` does not know (see the module doc)."""
        found: dict[str, tuple[OrderReport, str]] = {}
        foreign: set[str] = set()

        def consider(r: OrderReport, how: str) -> bool:
            cid = r.client_order_id
            if cid is not None and cid in state.orders:
                return False
            parsed = parse_client_id(cid)
            if cid is None or parsed is None or not parsed.matches(r.symbol):
                foreign.add(f"{r.symbol} {cid or r.order_id}")
                return False
            if cid not in found:
                found[cid] = (r, how)
            return True

        for symbol in symbols:
            for conditional in (True, False):
                try:
                    listed = await self.call(
                        partial(self.venue.fetch_open_orders, symbol, conditional=conditional)
                    )
                except VenueError as exc:
                    self.errors.append(f"{symbol}: open orders not listed: {exc}")
                    continue
                for r in listed:
                    consider(r, "open_orders")
            try:
                fills = await self.fetch_fills(symbol, since)
            except VenueError as exc:
                self.errors.append(f"{symbol}: fills not fetched for adoption: {exc}")
                continue
            by_oid = state.by_order_id()
            looked: set[str] = set()
            for f in fills:
                if f.client_order_id in state.orders or f.venue_id in by_oid:
                    continue
                if f.client_order_id in found or f.order_id in looked:
                    continue
                looked.add(f.order_id)
                await self.adopt_from_fill(f, consider)
        self.foreign.extend(sorted(foreign))
        await self.adopt(
            state, sorted(found.values(), key=lambda x: (x[0].ts_ms, x[0].client_order_id or ""))
        )

    async def adopt_from_fill(self, f: Fill, consider: Callable[[OrderReport, str], bool]) -> None:
        """Look up the order of a fill the journal cannot attribute (by client id in the book its id implies,
        else by venue order id) and consider it for adoption."""
        cid = f.client_order_id
        parsed = parse_client_id(cid)
        try:
            if cid is None:
                oid = f.order_id
                r = await self.call(lambda: self.venue.fetch_order(f.symbol, order_id=oid))
                cid = r.client_order_id
                parsed = parse_client_id(cid)
                if cid is None or parsed is None:
                    consider(r, "fills")
                    return
            elif parsed is None:
                self.foreign.append(f"{f.symbol} {cid}")
                return
            r = await self.lookup_cid(
                f.symbol, cid, parsed.kind in (IntentKind.STOP_LOSS, IntentKind.TAKE_PROFIT)
            )
        except VenueError as exc:
            self.errors.append(f"{f.symbol}: order of fill {f.trade_id} not looked up: {exc}")
            return
        consider(r, "fills")

    async def lookup_cid(self, symbol: str, cid: str, conditional: bool) -> OrderReport:
        """``cid`` in the book its kind implies, else in the other one."""
        venue = self.venue
        try:
            return await self.call(
                lambda: venue.fetch_order(symbol, client_order_id=cid, conditional=conditional)
            )
        except VenueError as exc:
            if exc.kind is not VenueErrorKind.ORDER_NOT_FOUND:
                raise
        return await self.call(
            lambda: venue.fetch_order(symbol, client_order_id=cid, conditional=not conditional)
        )

    async def adopt(self, state: JournalState, found: list[tuple[OrderReport, str]]) -> None:
        """Journal, per adopted order, the records the lost tail would have held (one batch each)."""
        intents = set(state.intents)
        for r, how in found:
            cid = r.client_order_id
            parsed = parse_client_id(cid)
            if cid is None or parsed is None:  # pragma: no cover - filtered by ``consider``
                continue
            events = adoption_records(r, parsed, intents, self.clock.now_ms(), "adopted at recovery")
            intents.add(parsed.intent_id)
            if not r.status.terminal:
                self.live.append(cid)
            self.journal.append_many(events)
            self.adopted.append(AdoptedOrder(cid, r.symbol, parsed.kind, r.status, r.filled, how))

    # -- fills ----------------------------------------------------------------------------------------------

    async def fetch_fills(self, symbol: str, since: int | None) -> list[Fill]:
        """The venue's fills of ``symbol`` from ``since`` (paged)."""
        out: list[Fill] = []
        cursor = None if since is None else max(since, 0)
        for _ in range(_MAX_FILL_PAGES):
            fetch = partial(self.venue.fetch_fills, symbol, since_ms=cursor, limit=_FILL_PAGE)
            page = await self.call(fetch)
            out.extend(page)
            if len(page) < _FILL_PAGE or (cursor is not None and page[-1].ts_ms <= cursor):
                break
            cursor = page[-1].ts_ms
        else:
            self.errors.append(f"{symbol}: more than {_MAX_FILL_PAGES} pages of fills; fetch stopped")
        return out

    async def sync_fills(self, state: JournalState) -> None:
        since: dict[str, int] = {}
        for o in state.orders.values():
            if not o.fills_complete:
                since[o.symbol] = min(since.get(o.symbol, o.submitted_ms), o.submitted_ms)
        by_oid = state.by_order_id()
        for symbol, start in sorted(since.items()):
            seen = state.trade_ids(symbol)
            new: list[JournalEvent] = []
            cursor = max(start - FILL_SLACK_MS, 0)
            try:
                for _ in range(_MAX_FILL_PAGES):
                    fetch = partial(self.venue.fetch_fills, symbol, since_ms=cursor, limit=_FILL_PAGE)
                    page = await self.call(fetch)
                    for f in page:
                        cid = f.client_order_id if f.client_order_id in state.orders else None
                        if cid is None:
                            mine = by_oid.get(f.venue_id)
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

    async def repair(self, state: JournalState, symbol: str) -> None:
        """``symbol``'s position differs from the venue's: read the venue's fills since the first order of
        ours there and journal those of our orders the journal lacks (by client id, by venue id, else by
        looking the fill's order up: a conditional of ours whose trigger the journal never saw is linked to
        the order it became). Never invents a fill: what is not ours stays a mismatch."""
        starts = [o.submitted_ms for o in state.orders.values() if o.symbol == symbol]
        if not starts:
            return
        try:
            fills = await self.fetch_fills(symbol, min(starts) - FILL_SLACK_MS)
        except VenueError as exc:
            self.errors.append(f"{symbol}: fills not fetched for the position repair: {exc}")
            return
        seen = state.trade_ids(symbol)
        new: list[JournalEvent] = []
        looked: dict[str, str | None] = {}  # venue order id -> our client id (None: not ours)
        for f in sorted(fills, key=lambda x: (x.ts_ms, x.trade_id)):
            if f.trade_id in seen:
                continue
            cid = f.client_order_id if f.client_order_id in state.orders else None
            if cid is None:
                mine = state.by_order_id().get(f.venue_id)
                cid = mine.client_order_id if mine is not None else None
            if cid is None:
                if f.order_id not in looked:
                    looked[f.order_id] = await self.link_order(state, f)
                cid = looked[f.order_id]
            if cid is None:
                continue
            seen.add(f.trade_id)
            new.append(FillRecorded(self.clock.now_ms(), cid, f))
            self.fills_added.append(f)
        if new:
            self.journal.append_many(new)
            self.repaired.append(symbol)

    async def link_order(self, state: JournalState, f: Fill) -> str | None:
        """Our client id of the regular order ``f`` belongs to, looked up by its id: one of our orders, or the
        order a conditional of ours became (that link is journaled); None when not ours or not found."""
        try:
            r = await self.call(lambda: self.venue.fetch_order(f.symbol, order_id=f.order_id))
        except VenueError as exc:
            self.errors.append(f"{f.symbol}: order {f.order_id} of fill {f.trade_id} not looked up: {exc}")
            return None
        o = state.orders.get(r.client_order_id or "")
        if o is None:
            return None
        if o.conditional and not r.conditional:  # the regular order one of our conditionals became
            records = trigger_records(self.clock.now_ms(), o.client_order_id, o.order_id or "", r, "repair")
            self.journal.append_many(records)
            state.catch_up(self.journal)
        return o.client_order_id

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

    def compare_positions(
        self, state: JournalState, venue_positions: list[Position] | None
    ) -> tuple[bool, list[PositionMismatch]]:
        if venue_positions is None:
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
    adopt: bool = True,
    symbols: Iterable[str] = (),
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    landing_window_ms: int = 0,
) -> RecoveryReport:
    """Settle the journal against ``venue`` (reads only) and report; see the module docstring.

    ``attempts`` bounds each venue read (retryable errors back off ``backoff_s`` x 2^n, or the venue's
    ``retry_after_s``); ``check_positions`` False skips the position comparison (spot accounts; the venue's
    positions then do not name symbols for adoption either). ``adopt`` False skips step 4; ``symbols`` (the
    configured universe) are searched for lost orders besides those the journal or a position names.
    ``landing_window_ms``: an order submitted less than that long ago (by the journal's time) and not
    found is left unresolved, not proven absent: its send may still land (reconcile settles it later).
    """
    run = _Recovery(journal, venue, clock, attempts, backoff_s, sleep, landing_window_ms)
    state = JournalState.replay(journal)
    replayed = state.last_seq
    todo = [o for o in state.orders.values() if o.in_flight or o.venue_filled is None]
    for o in todo:
        await run.settle(o)
    state.catch_up(journal)
    positions = await run.venue_positions() if check_positions else None
    if adopt:
        known = {o.symbol for o in state.orders.values()} | {i.symbol for i in state.intents.values()}
        held = {p.symbol for p in positions or ()}
        tail = _last_ts(journal, replayed)
        since = None if tail is None else tail - FILL_SLACK_MS
        await run.find_lost(state, sorted(known | held | set(symbols)), since)
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
    checked, mismatches = run.compare_positions(state, positions)
    if mismatches:  # repair from the venue's own fills of our orders, then compare again
        for m in mismatches:
            await run.repair(state, m.symbol)
        state.catch_up(journal)
        checked, mismatches = run.compare_positions(state, positions)
    journaled = run.journal_positions(state)
    state.catch_up(journal)
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
        adopted=tuple(run.adopted),
        repaired=tuple(run.repaired),
        foreign_orders=tuple(run.foreign),
    )


def _last_ts(journal: Journal, seq: int) -> int | None:
    """``ts_ms`` of record ``seq`` (the last one replayed), None for an empty journal."""
    if seq <= 0:
        return None
    for rec in journal.records(seq - 1):
        return rec.event.ts_ms
    return None
