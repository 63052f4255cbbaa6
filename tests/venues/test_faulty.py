"""FaultyVenue: scripted and random taxonomy faults, executed-or-not as declared, deterministic per seed."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from decimal import Decimal
from typing import Any, TypeVar

import pytest

from eclipse.clock import SimClock
from eclipse.market.bars import embedded_dataset
from eclipse.venues.errors import VenueError, VenueErrorKind
from eclipse.venues.faulty import Fault, FaultPlan, FaultRule, FaultyVenue
from eclipse.venues.paper import PaperVenue
from eclipse.venues.replay_source import ReplaySource
from eclipse.venues.types import OrderRequest, OrderStatus, OrderType, Side

T = TypeVar("T")
SYM = "BTC/USDT:USDT"
K = VenueErrorKind


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def paper() -> PaperVenue:
    frame = embedded_dataset().head(400)
    clock = SimClock(int(frame.ts_ms[100]) + 59_000)
    return PaperVenue(ReplaySource(clock, {SYM: frame}), clock, refresh_ms=0)


def buy(cid: str) -> OrderRequest:
    return OrderRequest(SYM, Side.BUY, OrderType.MARKET, Decimal("0.01"), cid)


async def attempt(venue: FaultyVenue, cid: str) -> VenueError | None:
    try:
        await venue.create_order(buy(cid))
    except VenueError as err:
        return err
    return None


@pytest.mark.parametrize(
    ("fault", "kind", "executed"),
    [
        (Fault.EXECUTED_UNKNOWN, K.OUTCOME_UNKNOWN, True),
        (Fault.EXECUTED_DUPLICATE, K.DUPLICATE_CLIENT_ID, True),
        (Fault.LOST_REQUEST, K.OUTCOME_UNKNOWN, False),
        (Fault.NETWORK, K.NETWORK, False),
        (Fault.EXCHANGE_BUSY, K.EXCHANGE_BUSY, False),
        (Fault.TIMESTAMP, K.TIMESTAMP, False),
        (Fault.RATE_LIMITED, K.RATE_LIMITED, False),
    ],
)
def test_each_fault_raises_its_kind_and_executes_only_when_declared(
    fault: Fault, kind: VenueErrorKind, executed: bool
) -> None:
    async def go() -> None:
        venue = FaultyVenue(paper(), FaultPlan.script({"create_order": [fault]}, retry_after_s=1.5))
        err = await attempt(venue, "c1")
        assert err is not None
        assert err.kind is kind
        assert err.definitive == (kind is not K.OUTCOME_UNKNOWN)
        assert err.retry_after_s == (1.5 if fault is Fault.RATE_LIMITED else None)
        assert venue.inner_calls["create_order"] == int(executed)
        if executed:
            assert (await venue.fetch_order(SYM, client_order_id="c1")).status is OrderStatus.FILLED
        else:
            with pytest.raises(VenueError) as exc:
                await venue.fetch_order(SYM, client_order_id="c1")
            assert exc.value.kind is K.ORDER_NOT_FOUND
        assert await attempt(venue, "c2") is None  # the script covered the first call only
        assert [(f.operation, f.call, f.fault, f.client_order_id) for f in venue.injected] == [
            ("create_order", 1, fault, "c1")
        ]

    run(go())


def test_scripts_pick_call_numbers_per_operation() -> None:
    async def go() -> None:
        plan = FaultPlan.script(
            {"create_order": [None, Fault.NETWORK, None, Fault.EXCHANGE_BUSY], "fetch_order": [Fault.NETWORK]}
        )
        venue = FaultyVenue(paper(), plan)
        got = [await attempt(venue, f"c{i}") for i in range(5)]
        assert [e.kind if e else None for e in got] == [None, K.NETWORK, None, K.EXCHANGE_BUSY, None]
        with pytest.raises(VenueError) as exc:
            await venue.fetch_order(SYM, client_order_id="c0")
        assert exc.value.kind is K.NETWORK
        assert (await venue.fetch_order(SYM, client_order_id="c0")).client_order_id == "c0"

    run(go())


def test_random_faults_are_deterministic_per_seed_and_follow_p() -> None:
    plan = FaultPlan.random("create_order", [(Fault.NETWORK, 0.3), (Fault.EXECUTED_UNKNOWN, 0.2)])

    async def kinds(seed: int) -> list[Fault | None]:
        venue = FaultyVenue(paper(), plan, seed=seed)
        for i in range(200):
            await attempt(venue, f"c{i}")
        by_call = {f.call: f.fault for f in venue.injected}
        return [by_call.get(n) for n in range(1, 201)]

    a, b, c = run(kinds(7)), run(kinds(7)), run(kinds(8))
    assert a == b
    assert a != c
    assert 30 <= a.count(Fault.NETWORK) <= 90  # p = 0.3 of 200
    assert 15 <= a.count(Fault.EXECUTED_UNKNOWN) <= 60  # 0.2 of the remaining 0.7


def test_rules_are_validated() -> None:
    with pytest.raises(ValueError, match="unknown operation"):
        FaultRule("create", Fault.NETWORK)
    with pytest.raises(ValueError, match="p must be"):
        FaultRule("create_order", Fault.NETWORK, p=1.5)
    with pytest.raises(ValueError, match="1-based"):
        FaultRule("create_order", Fault.NETWORK, calls=frozenset({0}))


def test_faults_on_reads_and_cancels_and_plan_addition() -> None:
    async def go() -> None:
        plan = FaultPlan.script({"cancel_order": [Fault.EXECUTED_UNKNOWN]}) + FaultPlan.script(
            {"fetch_positions": [Fault.TIMESTAMP]}
        )
        venue = FaultyVenue(paper(), plan)
        lim = OrderRequest(SYM, Side.BUY, OrderType.LIMIT, Decimal("0.01"), "l1", price=Decimal(30000))
        await venue.create_order(lim)
        with pytest.raises(VenueError) as exc:
            await venue.cancel_order(SYM, client_order_id="l1")
        assert exc.value.kind is K.OUTCOME_UNKNOWN
        assert (await venue.fetch_order(SYM, client_order_id="l1")).status is OrderStatus.CANCELED
        with pytest.raises(VenueError) as exc:
            await venue.fetch_positions()
        assert exc.value.kind is K.TIMESTAMP
        assert venue.name == "faulty:paper:replay"
        assert venue.dry_run

    run(go())
