"""Test kit for the router: the in-process simulator (PaperVenue over a ReplaySource of the embedded BTC
month, under a SimClock), wrapped in a recording FaultyVenue, with an in-memory journal, telemetry and a
clock-advancing sleep.
"""

from __future__ import annotations

import asyncio
import functools
import random
from collections import Counter
from collections.abc import Coroutine
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeVar

from eclipse.clock import SimClock
from eclipse.contracts import IntentKind, RouterRequest
from eclipse.execution.router import MemoryJournal, RetryPolicy, Router, sim_sleep
from eclipse.market.bars import OhlcvFrame, embedded_dataset
from eclipse.telemetry import MemorySink, Telemetry
from eclipse.venues.errors import VenueError, VenueErrorKind
from eclipse.venues.faulty import FaultPlan, FaultyVenue
from eclipse.venues.paper import PaperVenue
from eclipse.venues.replay_source import ReplaySource
from eclipse.venues.types import OrderReport, OrderRequest, OrderType, Side

T = TypeVar("T")
SYM = "BTC/USDT:USDT"
START = 100  # bars of history before "now"


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run one coroutine to completion."""
    return asyncio.run(coro)


@functools.cache
def frame() -> OhlcvFrame:
    """The first 3000 bars of the embedded BTC month."""
    return embedded_dataset().head(3000)


@dataclass
class Kit:
    """Everything a router test touches."""

    clock: SimClock
    source: ReplaySource
    paper: PaperVenue
    venue: RecordingVenue
    journal: MemoryJournal
    sink: MemorySink
    router: Router

    def price(self) -> Decimal:
        """The forming bar's close."""
        i = self.source.current_index(SYM)
        return Decimal(repr(float(frame().close[i])))

    def orders_per_cid(self) -> Counter[str]:
        """How many venue orders (both books, any status) carry each client order id."""
        engine = self.paper.engine
        out: Counter[str] = Counter()
        for book in (engine.regular, engine.algo):
            out.update(o.client_id for o in book.orders.values())
        return out

    def live(self) -> list[str]:
        """Client ids of the venue's open orders (both books)."""
        engine = self.paper.engine
        views = [*engine.open_orders(), *engine.open_orders(conditional=True)]
        return [v.client_id for v in views]

    def events(self, name: str) -> list[dict[str, Any]]:
        """Telemetry events called ``name``."""
        return self.sink.named(name)


def make_kit(
    plan: FaultPlan | None = None,
    *,
    seed: int = 0,
    policy: RetryPolicy | None = None,
    max_notional: Decimal = Decimal(0),
    start: int = START,
) -> Kit:
    """A router on the in-process simulator with ``plan``'s faults (none by default)."""
    f = frame()
    clock = SimClock(int(f.ts_ms[start]) + 59_000)
    source = ReplaySource(clock, {SYM: f})
    paper = PaperVenue(source, clock, refresh_ms=0)
    venue = RecordingVenue(paper, plan or FaultPlan(), seed=seed)
    journal = MemoryJournal()
    sink = MemorySink()
    telemetry = Telemetry(sink, clock)
    router = Router(
        venue,
        journal,
        telemetry,
        clock,
        policy or RetryPolicy(),
        sim_sleep(clock),
        random.Random(seed),
        max_notional=max_notional,
    )
    return Kit(clock, source, paper, venue, journal, sink, router)


def request(
    cid: str,
    side: Side = Side.BUY,
    qty: str | None = "0.01",
    *,
    kind: IntentKind = IntentKind.ENTRY,
    type_: OrderType = OrderType.MARKET,
    ref_price: Decimal = Decimal(47000),
    intent_id: str | None = None,
    **kw: Any,
) -> RouterRequest:
    """A router request on BTC (``intent_id`` defaults to ``I-<cid>``)."""
    return RouterRequest(
        intent_id=intent_id or f"I-{cid}",
        kind=kind,
        symbol=SYM,
        side=side,
        type=type_,
        qty=Decimal(qty) if qty is not None else None,
        client_order_id=cid,
        ref_price=ref_price,
        **kw,
    )


@dataclass(frozen=True)
class Call:
    """One recorded venue call: operation, client order id, and the error kind it ended with (None = ok)."""

    op: str
    cid: str | None
    error: VenueErrorKind | None


class RecordingVenue(FaultyVenue):
    """A FaultyVenue that records every create / fetch / cancel and, after each one, checks that no intent
    has two live orders on the venue (client ids ``<root>`` and ``<root>.r<n>`` belong to one intent)."""

    def __init__(self, inner: PaperVenue, plan: FaultPlan, seed: int = 0) -> None:
        super().__init__(inner, plan, seed)
        self.paper = inner
        self.log: list[Call] = []
        self.max_live_per_intent = 0

    def _check_live(self) -> None:
        engine = self.paper.engine
        views = [*engine.open_orders(), *engine.open_orders(conditional=True)]
        roots = Counter(v.client_id.split(".r")[0] for v in views)
        self.max_live_per_intent = max(self.max_live_per_intent, *roots.values(), 0)

    async def _rec(self, op: str, cid: str | None, coro: Coroutine[Any, Any, T]) -> T:
        try:
            out = await coro
        except VenueError as err:
            self.log.append(Call(op, cid, err.kind))
            self._check_live()
            raise
        self.log.append(Call(op, cid, None))
        self._check_live()
        return out

    async def create_order(self, request: OrderRequest) -> OrderReport:
        return await self._rec("create", request.client_order_id, super().create_order(request))

    async def fetch_order(self, symbol: str, **by_id: Any) -> OrderReport:
        return await self._rec("fetch", by_id.get("client_order_id"), super().fetch_order(symbol, **by_id))

    async def cancel_order(self, symbol: str, **by_id: Any) -> OrderReport:
        return await self._rec("cancel", by_id.get("client_order_id"), super().cancel_order(symbol, **by_id))

    def resends_without_not_found(self) -> list[str]:
        """Client ids resent after an uncertain outcome without a lookup answering ORDER_NOT_FOUND."""
        bad: list[str] = []
        pending: dict[str, bool] = {}  # cid -> an uncertain create awaits a not-found
        for c in self.log:
            if c.cid is None:
                continue
            if c.op == "create":
                if pending.get(c.cid):
                    bad.append(c.cid)
                pending[c.cid] = c.error in (
                    VenueErrorKind.OUTCOME_UNKNOWN,
                    VenueErrorKind.DUPLICATE_CLIENT_ID,
                )
            elif c.op == "fetch" and c.error is VenueErrorKind.ORDER_NOT_FOUND:
                pending[c.cid] = False
        return bad
