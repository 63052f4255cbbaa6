"""Recovery against a paper venue: bounded retries, nothing guessed, foreign fills ignored, fills paged,
positions compared."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

import pytest

from eclipse.contracts import (
    CancelRecorded,
    IntentKind,
    OrderAcked,
    OrderSubmitting,
)
from eclipse.execution.journal import recovery
from eclipse.execution.journal.recovery import PositionMismatch, recover
from eclipse.execution.journal.state import JournalState, OrderPhase
from eclipse.execution.journal.store import Journal
from eclipse.venues.errors import VenueErrorKind
from eclipse.venues.types import OrderRequest, OrderStatus, OrderType, Side

from .journal_kit import SYM, FaultyPaper, make_venue, no_sleep


def submitting(cid: str, ts: int, qty: str = "0.010", side: Side = Side.BUY, **kw: object) -> OrderSubmitting:
    args: dict[str, object] = {
        "type": OrderType.MARKET, "price": None, "trigger_price": None, "reduce_only": False,
        "close_position": False, "attempt": 0,
    }  # fmt: skip
    args.update(kw)
    return OrderSubmitting(ts, f"I-{cid}", cid, IntentKind.ENTRY, SYM, side, qty=Decimal(qty), **args)  # type: ignore[arg-type]


async def sent_then_crashed(j: Journal, venue: FaultyPaper, cid: str, **kw: object) -> None:
    """Journal the submit, send it, die before the answer is journaled."""
    ev = submitting(cid, venue._clock.now_ms(), **kw)  # type: ignore[attr-defined]
    j.append(ev)
    req = OrderRequest(SYM, ev.side, ev.type, ev.qty, cid, price=ev.price, reduce_only=ev.reduce_only)
    await venue.create_order(req)


def test_lookups_are_retried_with_backoff_then_settle(tmp_path: Path) -> None:
    async def go() -> None:
        venue, clock = make_venue()
        with Journal.open(tmp_path / "j.db") as j:
            await sent_then_crashed(j, venue, "c-1")
            venue.lookup_failures = 2
            slept: list[float] = []

            async def sleep(s: float) -> None:
                slept.append(s)

            report = await recover(j, venue, clock, backoff_s=0.5, sleep=sleep)
            assert slept == [0.5, 1.0]
            assert report.retries == 2
            assert [(r.client_order_id, r.status, r.landed) for r in report.resolved] == [
                ("c-1", OrderStatus.FILLED, True)
            ]
            assert len(report.fills_added) == 1
            assert report.positions_journaled == (SYM,)
            assert report.clean
            summary = report.summary()
            assert (summary.orders_checked, summary.unknown_resolved, summary.fills_added) == (1, 1, 1)
            assert summary.clean

    asyncio.run(go())


@pytest.mark.parametrize(
    ("kind", "failures", "calls"),
    [(VenueErrorKind.NETWORK, 99, 3), (VenueErrorKind.OUTCOME_UNKNOWN, 99, 3), (VenueErrorKind.AUTH, 1, 1)],
)
def test_a_lookup_that_keeps_failing_is_reported_never_guessed(
    tmp_path: Path, kind: VenueErrorKind, failures: int, calls: int
) -> None:
    async def go() -> None:
        venue, clock = make_venue()
        with Journal.open(tmp_path / "j.db") as j:
            await sent_then_crashed(j, venue, "c-1")
            venue.lookup_failures, venue.lookup_error = failures, kind
            venue.calls.clear()
            report = await recover(j, venue, clock, attempts=3, sleep=no_sleep)
            assert venue.calls.count("fetch_order") == calls
            (u,) = report.unresolved
            assert (u.client_order_id, u.phase) == ("c-1", OrderPhase.SUBMITTING)
            assert "lookup failed" in u.reason
            assert kind.value in u.reason
            assert not report.clean
            assert report.resolved == ()
            state = JournalState.replay(j)
            assert state.orders["c-1"].phase is OrderPhase.SUBMITTING  # left as it was
            # ... but its fill is not lost: fills are matched by client id even before the order settles
            assert len(report.fills_added) == 1
            assert state.orders["c-1"].filled == Decimal("0.010")
            assert report.position_mismatches == ()
            venue.lookup_failures = 0
            later = await recover(j, venue, clock, sleep=no_sleep)  # the next pass settles it
            assert [r.client_order_id for r in later.resolved] == ["c-1"]
            assert later.clean
            assert later.fills_added == ()

    asyncio.run(go())


def test_an_acknowledged_order_the_venue_no_longer_finds_is_reported(tmp_path: Path) -> None:
    async def go() -> None:
        venue, clock = make_venue()
        with Journal.open(tmp_path / "j.db") as j:
            j.append(submitting("ghost", clock.now_ms(), type=OrderType.LIMIT, price=Decimal(1000)))
            j.append(OrderAcked(clock.now_ms(), "ghost", "987654", OrderStatus.OPEN, Decimal(0)))
            report = await recover(j, venue, clock, sleep=no_sleep)
            (u,) = report.unresolved
            assert "acknowledged as 987654 but the venue no longer finds it" in u.reason
            assert JournalState.replay(j).orders["ghost"].phase is OrderPhase.ACKED

    asyncio.run(go())


def test_foreign_orders_are_not_adopted_and_show_as_a_position_mismatch(tmp_path: Path) -> None:
    async def go() -> None:
        venue, clock = make_venue()
        await venue.create_order(OrderRequest(SYM, Side.BUY, OrderType.MARKET, Decimal("0.005"), "manual-1"))
        clock.advance(1)
        with Journal.open(tmp_path / "j.db") as j:
            await sent_then_crashed(j, venue, "c-1", qty="0.003")
            report = await recover(j, venue, clock, sleep=no_sleep)
            assert [f.client_order_id for f in report.fills_added] == ["c-1"]
            assert report.position_mismatches == (PositionMismatch(SYM, Decimal("0.003"), Decimal("0.008")),)
            assert str(report.position_mismatches[0]) == f"{SYM}: journal 0.003 venue 0.008"
            assert not report.clean
            assert report.summary().position_mismatches == (f"{SYM}: journal 0.003 venue 0.008",)

    asyncio.run(go())


def test_a_resting_order_with_a_cancel_in_flight_is_reported_live(tmp_path: Path) -> None:
    async def go() -> None:
        venue, clock = make_venue()
        with Journal.open(tmp_path / "j.db") as j:
            await sent_then_crashed(j, venue, "lim", type=OrderType.LIMIT, price=Decimal(20_000))
            j.append(CancelRecorded(clock.now_ms(), "lim", True))
            report = await recover(j, venue, clock, sleep=no_sleep)
            assert report.live == ("lim",)
            assert report.cancel_pending == ("lim",)
            assert report.resolved == ()
            assert report.clean
            o = JournalState.replay(j).orders["lim"]
            assert (o.phase, o.status, o.venue_filled) == (OrderPhase.ACKED, OrderStatus.OPEN, Decimal(0))

    asyncio.run(go())


def test_fills_are_fetched_in_pages(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(recovery, "_FILL_PAGE", 2)

    async def go() -> None:
        venue, clock = make_venue()
        with Journal.open(tmp_path / "j.db") as j:
            for i in range(5):
                await sent_then_crashed(j, venue, f"c-{i}", qty="0.003")
                clock.advance(0.5)
            fetches: list[int | None] = []
            original = venue.fetch_fills

            async def spy(symbol: str, since_ms: int | None = None, limit: int = 500):  # type: ignore[no-untyped-def]
                fetches.append(since_ms)
                return await original(symbol, since_ms, limit)

            venue.fetch_fills = spy  # type: ignore[method-assign]
            report = await recover(j, venue, clock, sleep=no_sleep)
            assert len(report.fills_added) == 5
            assert report.clean
            assert len(fetches) >= 3
            assert JournalState.replay(j).position_qty(SYM) == Decimal("0.015")

    asyncio.run(go())


def test_a_send_not_found_inside_its_landing_window_is_left_unresolved(tmp_path: Path) -> None:
    """Submitted moments before the crash and not on the venue yet: it may still land, so recovery does not
    call it absent (a resend could double it); past the window "not found" proves it never landed."""

    async def go() -> None:
        venue, clock = make_venue()
        with Journal.open(tmp_path / "j.db") as j:
            j.append(submitting("c-1", clock.now_ms()))  # journaled; the send never made it (yet)
            clock.set_ms(clock.now_ms() + 2_000)
            early = await recover(j, venue, clock, sleep=no_sleep, landing_window_ms=6_000)
            assert [u.client_order_id for u in early.unresolved] == ["c-1"]
            assert "may still land" in early.unresolved[0].reason
            assert JournalState.replay(j).orders["c-1"].in_flight
            clock.set_ms(clock.now_ms() + 5_000)
            late = await recover(j, venue, clock, sleep=no_sleep, landing_window_ms=6_000)
            assert late.unresolved == ()
            assert [(r.client_order_id, r.status, r.landed) for r in late.resolved] == [
                ("c-1", OrderStatus.REJECTED, False)
            ]

    asyncio.run(go())
