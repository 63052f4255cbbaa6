"""Test kit for the journal: a paper venue on the embedded BTC month under a SimClock, and a scripted order
flow that follows the journal protocol and can be killed before any one of its steps.

Protocol the driver follows (the router's): IntentCreated -> OrderSubmitting (durable) -> venue.create_order
-> OrderAcked | OrderUnknown (+ lookup) | OrderResolved(rejected) -> fills (fetched, deduplicated by trade id)
-> PositionChanged -> OrderResolved when terminal; a cancel is CancelRecorded(requested) -> venue.cancel_order
-> OrderResolved(canceled) -> CancelRecorded(confirmed).
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TypeVar

from eclipse.clock import SimClock
from eclipse.contracts import (
    CancelRecorded,
    FillRecorded,
    IntentCreated,
    IntentKind,
    JournalEvent,
    OrderAcked,
    OrderReport,
    OrderResolved,
    OrderSubmitting,
    OrderUnknown,
    PositionChanged,
    PositionSnapshot,
    PostureChanged,
    ProtectionEvent,
    ProtectionState,
)
from eclipse.execution.journal.state import apply_fill
from eclipse.execution.journal.store import Journal
from eclipse.market.bars import OhlcvFrame, embedded_dataset
from eclipse.venues.errors import VenueError, VenueErrorKind
from eclipse.venues.paper import PaperVenue
from eclipse.venues.replay_source import ReplaySource
from eclipse.venues.types import (
    OrderRequest,
    OrderStatus,
    OrderType,
    Side,
)

T = TypeVar("T")
SYM = "BTC/USDT:USDT"
BAR = 60_000
START = 100  # bars of history before "now"


@functools.cache
def frame() -> OhlcvFrame:
    """The first 3000 bars of the embedded BTC month."""
    return embedded_dataset().head(3000)


class FakeSource(ReplaySource):
    """Public market data only: bars of ``frame`` (as ``SYM``) up to the clock (the current one still
    forming) -- the in-process :class:`ReplaySource`, named ``fake``."""

    def __init__(self, frame: OhlcvFrame, clock: SimClock) -> None:
        super().__init__(clock, {SYM: frame}, name="fake")
        self.frame = frame
        self.clock = clock


class FaultyPaper(PaperVenue):
    """A paper venue that can lose answers: ``unknown_after`` client ids get OUTCOME_UNKNOWN *after* the
    order landed; ``lookup_failures`` makes the next N ``fetch_order`` calls fail with ``lookup_error``.
    Every call is logged in ``calls``."""

    def __init__(self, clock: SimClock) -> None:
        super().__init__(FakeSource(frame(), clock), clock, refresh_ms=0)
        self.unknown_after: set[str] = set()
        self.lookup_failures = 0
        self.lookup_error = VenueErrorKind.NETWORK
        self.calls: list[str] = []

    async def create_order(self, request: OrderRequest) -> OrderReport:
        self.calls.append("create_order")
        rep = await super().create_order(request)
        if request.client_order_id in self.unknown_after:
            raise VenueError(VenueErrorKind.OUTCOME_UNKNOWN, "timeout after send", venue=self.name)
        return rep

    async def cancel_order(self, symbol: str, **by_id: Any) -> OrderReport:
        self.calls.append("cancel_order")
        return await super().cancel_order(symbol, **by_id)

    async def fetch_order(self, symbol: str, **by_id: Any) -> OrderReport:
        self.calls.append("fetch_order")
        if self.lookup_failures > 0:
            self.lookup_failures -= 1
            raise VenueError(self.lookup_error, "flaky lookup", venue=self.name, operation="fetch_order")
        return await super().fetch_order(symbol, **by_id)


def make_venue(clock: SimClock | None = None) -> tuple[FaultyPaper, SimClock]:
    """A fresh paper account at bar START (just before its close)."""
    clock = clock or SimClock(int(frame().ts_ms[START]) + 50_000)
    return FaultyPaper(clock), clock


class SimulatedCrash(Exception):  # noqa: N818 - the name the crash tests speak
    """The process died before a step."""


@dataclass
class Steps:
    """Counts steps; raises :class:`SimulatedCrash` before step ``crash_at`` (0-based)."""

    crash_at: int | None = None
    done: list[str] = field(default_factory=list)

    def tick(self, label: str) -> None:
        if self.crash_at is not None and len(self.done) == self.crash_at:
            raise SimulatedCrash(f"before step {self.crash_at}: {label}")
        self.done.append(label)


class Driver:
    """Places orders by the journal protocol; every journal append and venue call is one step."""

    def __init__(self, journal: Journal, venue: PaperVenue, clock: SimClock, steps: Steps) -> None:
        self.journal, self.venue, self.clock, self.steps = journal, venue, clock, steps
        self.position: PositionSnapshot | None = None
        self.seen: set[str] = set()

    def j(self, event: JournalEvent) -> None:
        self.steps.tick(f"journal {type(event).__name__}")
        self.journal.append(event)
        self.clock.advance(ms=5)

    async def v(self, label: str, call: Callable[[], Awaitable[T]]) -> T:
        self.steps.tick(f"venue {label}")
        out = await call()
        self.clock.advance(ms=5)
        return out

    async def place(
        self,
        cid: str,
        kind: IntentKind,
        side: Side,
        type_: OrderType,
        qty: str,
        *,
        price: Decimal | None = None,
        trigger: Decimal | None = None,
        reduce_only: bool = False,
    ) -> OrderReport | None:
        now = self.clock.now_ms
        q = Decimal(qty)
        self.j(IntentCreated(now(), f"I-{cid}", kind, SYM, side, q, Decimal(40_000)))
        self.j(
            OrderSubmitting(
                now(), f"I-{cid}", cid, kind, SYM, side, type_, q, price, trigger, reduce_only, False, 0
            )
        )
        req = OrderRequest(
            SYM, side, type_, q, cid, price=price, trigger_price=trigger, reduce_only=reduce_only
        )
        try:
            rep = await self.v("create_order", lambda: self.venue.create_order(req))
        except VenueError as exc:
            if exc.kind is not VenueErrorKind.OUTCOME_UNKNOWN:
                self.j(
                    OrderResolved(now(), cid, OrderStatus.REJECTED, exc.kind, exc.code, str(exc), Decimal(0))
                )
                return None
            self.j(OrderUnknown(now(), cid, exc.kind, str(exc)))
            cond = type_.conditional
            rep = await self.v(
                "fetch_order", lambda: self.venue.fetch_order(SYM, client_order_id=cid, conditional=cond)
            )
        self.j(OrderAcked(now(), cid, rep.order_id, rep.status, rep.filled))
        if rep.filled > 0:
            await self.record_fills(cid, rep.order_id)
        if rep.status.terminal:
            self.j(OrderResolved(now(), cid, rep.status, filled=rep.filled))
        return rep

    async def record_fills(self, cid: str, order_id: str) -> None:
        fills = await self.v("fetch_fills", lambda: self.venue.fetch_fills(SYM))
        for f in fills:
            if f.order_id == order_id and f.trade_id not in self.seen:
                self.j(FillRecorded(self.clock.now_ms(), cid, f))
                self.seen.add(f.trade_id)
                self.position = apply_fill(self.position, f)
        if self.position is not None:
            self.j(PositionChanged(self.clock.now_ms(), self.position))

    async def cancel(self, cid: str, conditional: bool = False) -> None:
        now = self.clock.now_ms
        self.j(CancelRecorded(now(), cid, True))
        rep = await self.v(
            "cancel_order",
            lambda: self.venue.cancel_order(SYM, client_order_id=cid, conditional=conditional),
        )
        self.j(OrderResolved(now(), cid, rep.status, filled=rep.filled))
        self.j(CancelRecorded(now(), cid, False))

    async def script(self) -> None:
        """The whole flow: entry, a refused order, protection, a take-profit canceled, stop canceled, exit."""
        now = self.clock.now_ms
        self.j(PostureChanged(now(), "normal", "cautious", "test"))
        entry = await self.place("ecl-e1", IntentKind.ENTRY, Side.BUY, OrderType.MARKET, "0.010")
        assert entry is not None
        await self.place("ecl-bad", IntentKind.ENTRY, Side.BUY, OrderType.MARKET, "0.0001")
        ref = entry.avg_price or Decimal(40_000)
        stop_px = (ref * Decimal("0.8")).quantize(Decimal("0.1"))
        tp_px = (ref * Decimal("1.2")).quantize(Decimal("0.1"))
        await self.place(
            "ecl-sl", IntentKind.STOP_LOSS, Side.SELL, OrderType.STOP_MARKET, "0.010", trigger=stop_px,
            reduce_only=True,
        )  # fmt: skip
        self.j(ProtectionEvent(now(), SYM, ProtectionState.PLACED, "ecl-sl"))
        await self.place(
            "ecl-tp",
            IntentKind.TAKE_PROFIT,
            Side.SELL,
            OrderType.LIMIT,
            "0.010",
            price=tp_px,
            reduce_only=True,
        )
        await self.cancel("ecl-tp")
        await self.cancel("ecl-sl", conditional=True)
        await self.place("ecl-x1", IntentKind.EXIT, Side.SELL, OrderType.MARKET, "0.004", reduce_only=True)
        await self.place("ecl-x2", IntentKind.EXIT, Side.SELL, OrderType.MARKET, "0.006", reduce_only=True)


async def venue_truth(
    venue: PaperVenue, cids: list[str], conditional: set[str]
) -> dict[str, OrderReport | None]:
    """The venue's report of each client id (None when it never saw it)."""
    out: dict[str, OrderReport | None] = {}
    for cid in cids:
        try:
            out[cid] = await venue.fetch_order(SYM, client_order_id=cid, conditional=cid in conditional)
        except VenueError as exc:
            if exc.kind is not VenueErrorKind.ORDER_NOT_FOUND:
                raise
            out[cid] = None
    return out


async def no_sleep(_: float) -> None:
    """An instant sleep for recovery retries."""
    return None
