"""Exactly-once under faults: the taxonomy is enough to never double an order.

A minimal resend loop that follows only the VenueError contract (resend a *definitive* failure with the same
client order id; resolve a *non-definitive* one by a lookup before anything is resent) places a run of
market orders through the real ccxt client while the simulator injects, at random (seeded), every create
fault it has: executed-then-503, executed-then-lost response, refused with 503 / -1001 / -1008 / 429, and a
request lost before execution; lookups are faulted too. At the end the venue holds exactly one order per
client id and the position equals the sum of the intents.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from decimal import Decimal

import pytest

from eclipse.clock import LiveClock
from eclipse.venues.ccxt_venue import CcxtVenue
from eclipse.venues.credentials import Credentials
from eclipse.venues.errors import VenueError, VenueErrorKind
from eclipse.venues.sim.config import DEFAULT_KEY, DEFAULT_SECRET, SimConfig
from eclipse.venues.sim.faults import load_fault_plan
from eclipse.venues.sim.runner import SimServerThread
from eclipse.venues.types import OrderRequest, OrderType, Side

K = VenueErrorKind
SYM = "BTC/USDT:USDT"
INTENTS = 24
QTY = Decimal("0.003")

PLAN = {
    "random": [
        {"on": "order_create", "fault": "unknown_503", "p": 0.12},
        {"on": "order_create", "fault": "lost_response", "p": 0.08, "hold_ms": 700},
        {"on": "order_create", "fault": "lost_request", "p": 0.05, "hold_ms": 700},
        {"on": "order_create", "fault": "unavailable_503", "p": 0.08},
        {"on": "order_create", "fault": "internal_error", "p": 0.05},
        {"on": "order_create", "fault": "throttled_1008", "p": 0.05},
        {"on": "order_create", "fault": "http_429", "p": 0.05, "retry_after_s": 0},
        {"on": "order_query", "fault": "unavailable_503", "p": 0.15},
    ]
}


async def _lookup(venue: CcxtVenue, cid: str, seen: Counter[str]) -> bool:
    """True if the venue has the order (a definitive answer, retried through lookup faults)."""
    while True:
        try:
            await venue.fetch_order(SYM, client_order_id=cid)
            return True
        except VenueError as err:
            seen[err.kind.value] += 1
            if err.kind is K.ORDER_NOT_FOUND:
                return False
            if err.definitive and not err.retryable:
                raise AssertionError(f"lookup of {cid} refused for good: {err}") from err


async def _place_once(venue: CcxtVenue, req: OrderRequest, seen: Counter[str]) -> None:
    for _ in range(50):
        try:
            rep = await venue.create_order(req)
            assert rep.client_order_id == req.client_order_id
            return
        except VenueError as err:
            seen[err.kind.value] += 1
            if not err.definitive or err.kind is K.DUPLICATE_CLIENT_ID:
                if await _lookup(venue, req.client_order_id, seen):
                    return  # it landed: never resend
                continue  # the venue never saw it: resend with the same client id
            if not err.retryable:
                raise AssertionError(f"{req.client_order_id} refused for good: {err}") from err
            if err.retry_after_s:
                await asyncio.sleep(min(err.retry_after_s, 0.05))
    raise AssertionError(f"{req.client_order_id}: not placed after 50 attempts")


@pytest.mark.parametrize("seed", [3, 11])
def test_every_intent_lands_exactly_once_under_create_faults(seed: int) -> None:
    config = SimConfig(stepped=True, seed=seed, faults=load_fault_plan(json.dumps(PLAN | {"seed": seed})))
    with SimServerThread(config, LiveClock()) as sim:
        seen: Counter[str] = Counter()

        async def go() -> None:
            venue = CcxtVenue(
                "binanceusdm",
                Credentials(DEFAULT_KEY, DEFAULT_SECRET),
                LiveClock(),
                api_url=sim.url,
                timeout_ms=400,
            )
            try:
                await venue.load_markets()
                for i in range(INTENTS):
                    side = Side.BUY if i % 3 else Side.SELL
                    await _place_once(
                        venue, OrderRequest(SYM, side, OrderType.MARKET, QTY, f"x{seed}-{i}"), seen
                    )
            finally:
                await venue.close()

        asyncio.run(go())
        orders = sim.call(lambda: sim.ctx.futures.user_trades("BTCUSDT", limit=1000))
        per_cid = Counter(t.client_id for t in orders)
        assert sorted(per_cid) == sorted(f"x{seed}-{i}" for i in range(INTENTS))
        assert set(per_cid.values()) == {1}, per_cid  # one fill each: no order was doubled
        (pos,) = [p for p in sim.call(lambda: sim.ctx.futures.positions("BTCUSDT")) if p.qty != 0]
        expected = sum((QTY if i % 3 else -QTY) for i in range(INTENTS))
        assert pos.qty == expected
        # the faults really fired: some outcomes were unknown and some refusals definitive
        assert seen[K.OUTCOME_UNKNOWN.value] > 0
        assert seen[K.EXCHANGE_BUSY.value] + seen[K.RATE_LIMITED.value] > 0
        assert sim.call(lambda: sim.ctx.futures.open_orders()) == []
