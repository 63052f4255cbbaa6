"""A send whose outcome is unknown may still be in flight when the lookup answers "not found": it lands
later. The router resends only once the landing window (the venue's receive window and a margin) has
passed since the send; before that it looks again. Chaos scenario 3b: a market entry that landed and filled
after the lookup was placed a second time (the venue refuses a repeated client id only while it is open)."""

from __future__ import annotations

import random
from typing import Any

from eclipse.clock import SimClock
from eclipse.contracts import RouterOutcome
from eclipse.execution.router import MemoryJournal, RetryPolicy, Router, sim_sleep
from eclipse.telemetry import MemorySink, Telemetry
from eclipse.venues.errors import VenueError, VenueErrorKind
from eclipse.venues.paper import PaperVenue
from eclipse.venues.replay_source import ReplaySource
from eclipse.venues.types import OrderReport, OrderRequest

from .router_kit import START, SYM, frame, request, run


class InFlight:
    """The first create times out while still in flight: it lands ``delay_ms`` later (at the next call
    made after that time), as a request stuck in a proxy or a slow venue would."""

    def __init__(self, inner: PaperVenue, clock: SimClock, delay_ms: int) -> None:
        self._inner, self.clock, self._delay = inner, clock, delay_ms
        self._pending: tuple[int, OrderRequest] | None = None
        self._first = True
        self.creates_landed = 0

    async def _land(self) -> None:
        if self._pending is not None and self.clock.now_ms() >= self._pending[0]:
            _, req = self._pending
            self._pending = None
            await self._inner.create_order(req)
            self.creates_landed += 1

    async def create_order(self, request: OrderRequest) -> OrderReport:
        await self._land()
        if self._first:
            self._first = False
            self._pending = (self.clock.now_ms() + self._delay, request)
            raise VenueError(
                VenueErrorKind.OUTCOME_UNKNOWN, "timeout", venue="test", operation="create_order"
            )
        rep = await self._inner.create_order(request)
        self.creates_landed += 1
        return rep

    async def fetch_order(self, *args: Any, **kwargs: Any) -> OrderReport:
        await self._land()
        return await self._inner.fetch_order(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def _router(window_ms: int, delay_ms: int, budget_s: float = 10.0) -> tuple[Router, InFlight, MemorySink]:
    f = frame()
    clock = SimClock(int(f.ts_ms[START]) + 59_000)
    paper = PaperVenue(ReplaySource(clock, {SYM: f}), clock, refresh_ms=0)
    venue = InFlight(paper, clock, delay_ms)
    sink = MemorySink()
    router = Router(
        venue,  # type: ignore[arg-type]
        MemoryJournal(),
        Telemetry(sink, clock),
        clock,
        RetryPolicy(budget_s=budget_s),
        sim_sleep(clock),
        random.Random(0),
        landing_window_ms=window_ms,
    )
    return router, venue, sink


def test_a_send_that_lands_after_the_first_lookup_is_found_not_sent_again() -> None:
    router, venue, _ = _router(window_ms=6_000, delay_ms=2_000)
    res = run(router.submit(request("e1", qty="0.004")))
    assert res.outcome is RouterOutcome.PLACED
    assert venue.creates_landed == 1  # the late original only: never a second order


def test_without_the_window_the_late_original_doubles_the_order() -> None:
    """The behaviour the window fixes: "not found" at once, a resend, and the original lands as well."""
    router, venue, _ = _router(window_ms=0, delay_ms=2_000)
    res = run(router.submit(request("e1", qty="0.004")))
    assert res.outcome is RouterOutcome.PLACED
    venue.clock.set_ms(venue.clock.now_ms() + 3_000)
    run(venue.fetch_order(SYM, client_order_id="e1"))  # the original lands now
    assert venue.creates_landed == 2


def test_a_window_past_the_time_budget_leaves_the_order_unresolved_never_resent() -> None:
    router, venue, sink = _router(window_ms=6_000, delay_ms=60_000, budget_s=3.0)
    res = run(router.submit(request("e1", qty="0.004")))
    assert res.outcome is RouterOutcome.UNRESOLVED
    assert res.why == "may_still_land"
    assert venue.creates_landed == 0
    assert sink.named("order.create.unresolved")


def test_a_send_that_never_lands_is_resent_once_the_window_has_passed() -> None:
    router, venue, _ = _router(window_ms=6_000, delay_ms=10**9)
    res = run(router.submit(request("e1", qty="0.004")))
    assert res.outcome is RouterOutcome.PLACED
    assert venue.creates_landed == 1  # the resend; the original never arrives


def test_the_engine_router_waits_the_venues_receive_window_and_a_second() -> None:
    from eclipse.execution.router.settings import LANDING_MARGIN_MS, load_router_settings

    assert load_router_settings({}).landing_window_ms == 5_000 + LANDING_MARGIN_MS
    assert (
        load_router_settings({"VENUE_RECV_WINDOW_MS": "2000"}).landing_window_ms == 2_000 + LANDING_MARGIN_MS
    )


def test_the_router_tells_reconcile_while_a_send_may_still_land() -> None:
    """Reconcile defers a "not found" of an order the router sent inside its landing window."""
    router, venue, _ = _router(window_ms=6_000, delay_ms=10**9, budget_s=3.0)
    res = run(router.submit(request("e1", qty="0.004")))
    assert res.outcome is RouterOutcome.UNRESOLVED
    assert router.may_still_land("e1")
    assert not router.may_still_land("never-sent")
    venue.clock.set_ms(venue.clock.now_ms() + 6_000)
    assert not router.may_still_land("e1")
