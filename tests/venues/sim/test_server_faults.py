"""Every fault of the injector as the real ccxt client meets it: what ccxt raises, and whether the request
was executed (the order exists when looked up by client id) or not."""

from __future__ import annotations

import contextlib
import time
from typing import Any

import ccxt.async_support as ccxt_async
import pytest
from ccxt.base.errors import (
    DDoSProtection,
    ExchangeError,
    ExchangeNotAvailable,
    InvalidNonce,
    OperationFailed,
    OrderNotFound,
    RequestTimeout,
)

from eclipse.venues.sim.runner import SimServerThread

from .conftest import FUTURES, SimFactory, control, requests_log, run, set_faults, step, usdm


async def _lookup(ex: Any, client_id: str) -> dict[str, Any] | None:
    try:
        order: dict[str, Any] = await ex.fetch_order(None, FUTURES, params={"origClientOrderId": client_id})
    except OrderNotFound:
        return None
    return order


def _create_with_fault(
    sim: SimServerThread, fault: dict[str, Any], timeout_ms: int = 3000
) -> tuple[type, Any]:
    """Place one market order under ``fault``: (the ccxt exception class, the order found by client id)."""
    set_faults(sim, {"script": [{"on": "order_create", **fault}]})

    async def go() -> tuple[type, Any]:
        async with usdm(sim, timeout_ms=timeout_ms) as ex:
            await ex.load_markets()
            with pytest.raises(ccxt_async.BaseError) as info:
                await ex.create_order(FUTURES, "market", "buy", 0.003, params={"clientOrderId": "f-1"})
        async with usdm(sim) as ex:  # a fresh connection: the faulted one may be gone
            await ex.load_markets()
            return type(info.value), await _lookup(ex, "f-1")

    return run(go())


@pytest.mark.parametrize(
    ("fault", "raised", "placed"),
    [
        ("unknown_503", ExchangeNotAvailable, True),
        ("unknown_1006", OperationFailed, True),
        ("unknown_1007", RequestTimeout, True),
        ("unavailable_503", ExchangeNotAvailable, False),
        ("internal_error", OperationFailed, False),
        ("http_429", DDoSProtection, False),
        ("http_418", DDoSProtection, False),
    ],
)
def test_status_faults_and_whether_the_order_was_placed(
    sim: SimServerThread, fault: str, raised: type, placed: bool
) -> None:
    cls, order = _create_with_fault(sim, {"fault": fault})
    assert issubclass(cls, raised)
    assert not (raised is OperationFailed and issubclass(cls, ExchangeError))
    assert (order is not None) is placed
    if placed:
        assert order["status"] == "closed"
        assert order["filled"] == 0.003
    [row] = requests_log(sim, path="/fapi/v1/order", method="POST")
    assert row["fault"] == fault
    assert row["client_id"] == "f-1"


def test_unknown_503_has_no_code_and_the_documented_message(sim: SimServerThread) -> None:
    set_faults(
        sim,
        {
            "script": [
                {"on": "order_create", "fault": "unknown_503"},
                {"on": "order_create", "fault": "unavailable_503"},
            ]
        },
    )

    async def go() -> list[str]:
        async with usdm(sim) as ex:
            await ex.load_markets()
            out = []
            for cid in ("u-1", "u-2"):
                with pytest.raises(ExchangeNotAvailable) as info:
                    await ex.create_order(FUTURES, "market", "buy", 0.003, params={"clientOrderId": cid})
                out.append(str(info.value))
            return out

    unknown, unavailable = run(go())
    assert "Unknown error, please check your request or try again later." in unknown
    assert '"code"' not in unknown
    assert "Service Unavailable." in unavailable
    assert '"code"' not in unavailable


def test_lost_response_times_out_fast_and_the_order_exists(sim: SimServerThread) -> None:
    t0 = time.perf_counter()
    cls, order = _create_with_fault(sim, {"fault": "lost_response", "hold_ms": 1200}, timeout_ms=400)
    assert issubclass(cls, RequestTimeout)
    assert order is not None
    assert order["status"] == "closed"
    assert time.perf_counter() - t0 < 3


def test_lost_request_times_out_and_nothing_was_placed(sim: SimServerThread) -> None:
    cls, order = _create_with_fault(sim, {"fault": "lost_request", "hold_ms": 800}, timeout_ms=300)
    assert issubclass(cls, RequestTimeout)
    assert order is None


def test_latency_delays_the_answer(sim: SimServerThread) -> None:
    set_faults(sim, {"random": [{"on": "market_data", "fault": "latency", "p": 1.0, "ms": 250}]})

    async def go() -> float:
        async with usdm(sim) as ex:
            t0 = time.perf_counter()
            await ex.fetch_time()
            return time.perf_counter() - t0

    assert run(go()) >= 0.25
    assert requests_log(sim)[-1]["fault"] == "latency"


def test_throttling_1008_spares_reduce_only_orders(sim: SimServerThread) -> None:
    async def go() -> None:
        async with usdm(sim) as ex:
            await ex.load_markets()
            await ex.create_order(FUTURES, "market", "buy", 0.004)
            set_faults(sim, {"random": [{"on": "order_create", "fault": "throttled_1008", "p": 1.0}]})
            with pytest.raises(ExchangeError, match="-1008"):
                await ex.create_order(FUTURES, "market", "buy", 0.003, params={"clientOrderId": "t-1"})
            assert await _lookup(ex, "t-1") is None
            o = await ex.create_order(FUTURES, "market", "sell", 0.002, params={"reduceOnly": True})
            assert o["status"] == "closed"

    run(go())


def test_clock_skew_gives_invalid_nonce_until_the_time_difference_is_loaded(sim: SimServerThread) -> None:
    set_faults(sim, {"clock_skew_ms": -4000})  # the venue clock is 4 s behind: requests look early

    async def go() -> None:
        async with usdm(sim) as ex:
            with pytest.raises(InvalidNonce):
                await ex.fetch_balance()
            ex.options["adjustForTimeDifference"] = True
            await ex.load_time_difference()
            assert 3_000 < ex.options["timeDifference"] < 5_000
            assert (await ex.fetch_balance())["USDT"]["total"] == 10_000

    run(go())
    set_faults(sim, {"clock_skew_ms": 25_000})  # ahead by more than recvWindow: requests look stale

    async def late() -> None:
        async with usdm(sim) as ex:
            with pytest.raises(InvalidNonce):
                await ex.fetch_balance()

    run(late())


def _fault_sequence(make_sim: SimFactory, seed: int) -> list[tuple[str | None, int]]:
    sim = make_sim(seed=seed)
    set_faults(
        sim,
        {
            "random": [
                {"on": "order_create", "fault": "unknown_503", "p": 0.3},
                {"on": "order_create", "fault": "unavailable_503", "p": 0.3},
                {"on": "*", "fault": "latency", "p": 0.3, "ms": 1, "jitter_ms": 3},
            ],
            "script": [{"on": "order_query", "fault": "http_429", "count": 2}],
        },
    )

    async def go() -> None:
        async with usdm(sim) as ex:
            await ex.load_markets()
            for i in range(12):
                with contextlib.suppress(ExchangeNotAvailable, DDoSProtection):
                    await ex.create_order(FUTURES, "market", "buy", 0.003, params={"clientOrderId": f"s-{i}"})
                with contextlib.suppress(DDoSProtection):
                    await ex.fetch_open_orders(FUTURES)

    run(go())
    return [(r["fault"], r["status"]) for r in requests_log(sim)]


def test_random_plans_replay_exactly_for_a_seed(make_sim: SimFactory) -> None:
    a = _fault_sequence(make_sim, 11)
    b = _fault_sequence(make_sim, 11)
    c = _fault_sequence(make_sim, 12)
    assert a == b
    assert a != c
    faults = [f for f, _ in a]
    assert faults.count("http_429") == 2
    assert "unknown_503" in faults
    assert "unavailable_503" in faults


def test_user_trade_listing_faults(sim: SimServerThread) -> None:
    async def go() -> None:
        async with usdm(sim) as ex:
            await ex.load_markets()
            for _ in range(4):
                await ex.create_order(FUTURES, "market", "buy", 0.003)
            clean = [t["id"] for t in await ex.fetch_my_trades(FUTURES)]
            assert clean == sorted(clean, key=int)
            assert len(set(clean)) == 4
            set_faults(sim, {"trades": {"duplicate": 1.0}})
            dup = [t["id"] for t in await ex.fetch_my_trades(FUTURES)]
            assert len(dup) == 5
            assert set(dup) == set(clean)
            set_faults(sim, {"trades": {"missing": 1.0}})
            missing = [t["id"] for t in await ex.fetch_my_trades(FUTURES)]
            assert len(missing) == 3
            assert set(missing) < set(clean)
            set_faults(sim, {"trades": {"out_of_order": 1.0}})
            ex.enableLastJsonResponse = True
            parsed = [t["id"] for t in await ex.fetch_my_trades(FUTURES)]
            raw = [str(t["id"]) for t in ex.last_json_response]
            assert sorted(raw, key=int) == clean
            assert raw != clean
            assert sorted(parsed, key=int) == clean  # (ccxt sorts by time; equal times keep the wire order)
            control(sim, "DELETE", "/_sim/faults")
            assert [t["id"] for t in await ex.fetch_my_trades(FUTURES)] == clean

    run(go())


def test_stalled_market_data_stops_advancing(sim: SimServerThread) -> None:
    async def go() -> None:
        async with usdm(sim) as ex:
            before = (await ex.fetch_ohlcv(FUTURES, "1m", limit=2))[-1]
            control(sim, "POST", "/_sim/stall", {"stalled": True})
            state = step(sim, 30)
            assert state["feed"]["stalled"] is True
            assert (await ex.fetch_ohlcv(FUTURES, "1m", limit=2))[-1] == before
            control(sim, "POST", "/_sim/stall", {"stalled": False})
            step(sim, 3)
            after = (await ex.fetch_ohlcv(FUTURES, "1m", limit=2))[-1]
            assert after[0] > before[0]
            set_faults(sim, {"stall": True})  # the plan can stall too
            assert control(sim, "GET", "/_sim/state")["feed"]["stalled"] is True

    run(go())


def test_partial_fills_arrive_over_market_time(sim: SimServerThread) -> None:
    set_faults(sim, {"engine": {"partial_fills": {"p": 1.0, "slices": 3, "interval_ms": 60_000}}})

    async def go() -> None:
        async with usdm(sim) as ex:
            await ex.load_markets()
            o = await ex.create_order(FUTURES, "market", "buy", 0.009, params={"clientOrderId": "p-1"})
            assert o["status"] == "open"
            assert o["filled"] == 0.003
            fills = [o["filled"]]
            for _ in range(4):
                step(sim, 1)
                fills.append((await ex.fetch_order(o["id"], FUTURES))["filled"])
            assert fills[0] < fills[-1] == 0.009
            assert fills == sorted(fills)
            assert (await ex.fetch_order(o["id"], FUTURES))["status"] == "closed"
            assert len(await ex.fetch_my_trades(FUTURES)) == 3

    run(go())


def test_cancel_that_races_a_fill_loses(sim: SimServerThread) -> None:
    async def go() -> None:
        async with usdm(sim) as ex:
            await ex.load_markets()
            last = (await ex.fetch_ticker(FUTURES))["last"]
            o = await ex.create_order(FUTURES, "limit", "buy", 0.004, round(last * 0.95, 1))
            set_faults(sim, {"engine": {"cancel_race": {"p": 1.0}}})
            with pytest.raises(OrderNotFound):
                await ex.cancel_order(o["id"], FUTURES)
            after = await ex.fetch_order(o["id"], FUTURES)
            assert after["status"] == "closed"
            assert after["filled"] == 0.004

    run(go())


def test_reduce_only_quantity_shrunk_by_the_venue(sim: SimServerThread) -> None:
    async def go() -> None:
        async with usdm(sim) as ex:
            await ex.load_markets()
            await ex.create_order(FUTURES, "market", "buy", 0.01)
            set_faults(sim, {"engine": {"reduce_only_shrink": {"p": 1.0, "ratio": 0.5}}})
            o = await ex.create_order(FUTURES, "market", "sell", 0.01, params={"reduceOnly": True})
            assert o["amount"] == 0.005
            assert o["filled"] == 0.005
            [pos] = await ex.fetch_positions([FUTURES])
            assert pos["contracts"] == 0.005

    run(go())


def test_faults_endpoint_shows_and_clears_the_plan(make_sim: SimFactory) -> None:
    plan = {"seed": 3, "script": [{"on": "order_cancel", "fault": "http_418", "count": 2}]}
    sim = make_sim(faults=None)
    desc = set_faults(sim, plan)
    assert desc["plan"]["seed"] == 3
    assert desc["remaining_script"][0]["count"] == 2
    cleared = control(sim, "DELETE", "/_sim/faults")
    assert cleared["remaining_script"] == []
    assert cleared["plan"]["random"] == []
    assert control(sim, "GET", "/_sim/faults")["injected"] == {}
