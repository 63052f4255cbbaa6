"""CcxtVenue (binanceusdm, binance spot, coinbase) against the real exchange simulator: every Venue method,
and every simulator fault ending as the right VenueErrorKind (resolved by a lookup by client order id)."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest

from eclipse.clock import LiveClock
from eclipse.market.bars import OhlcvFrame, embedded_dataset
from eclipse.venues.ccxt_venue import CcxtVenue
from eclipse.venues.credentials import Credentials
from eclipse.venues.errors import VenueError, VenueErrorKind
from eclipse.venues.sim.config import DEFAULT_KEY, DEFAULT_SECRET, SimConfig
from eclipse.venues.sim.engine import ALGO_ID_START, AlgoIdLayout
from eclipse.venues.sim.market import FeedConfig, FeedMode, MarketFeed
from eclipse.venues.sim.runner import SimServerThread
from eclipse.venues.types import (
    IdSpace,
    MarginMode,
    MarketKind,
    OrderRequest,
    OrderStatus,
    OrderType,
    Side,
    VenueOrderId,
)

from .sim.conftest import DIP_BAR, DIP_HIGH, DIP_LOW, DIP_START, dip_feed

K = VenueErrorKind
D = Decimal
FUT, SPOT, CB = "BTC/USDT:USDT", "BTC/USDT", "BTC/USDT"


@pytest.fixture(scope="module")
def frame() -> OhlcvFrame:
    return embedded_dataset().head(4000)


@pytest.fixture
def sim(frame: OhlcvFrame) -> Iterator[SimServerThread]:
    feed = MarketFeed(LiveClock(), FeedConfig(mode=FeedMode.STEPPED))
    feed.add_ohlcv("BTCUSDT", frame)
    server = SimServerThread(SimConfig(stepped=True), LiveClock(), feed)
    server.start()
    yield server
    server.stop()


def control(sim: SimServerThread, method: str, path: str, body: Any = None) -> Any:
    """Call a ``/_sim`` control endpoint; the decoded JSON (HTTP errors raise)."""
    return sim.control(method, path, body)


Scenario = Callable[[CcxtVenue], Awaitable[None]]


def run(sim: SimServerThread, exchange_id: str, scenario: Scenario, timeout_ms: int = 3_000) -> None:
    async def main() -> None:
        venue = CcxtVenue(
            exchange_id,
            Credentials(DEFAULT_KEY, DEFAULT_SECRET),
            LiveClock(),
            api_url=sim.url,
            timeout_ms=timeout_ms,
        )
        try:
            await scenario(venue)
        finally:
            await venue.close()

    asyncio.run(main())


async def expect(awaitable: Awaitable[object], kind: K) -> VenueError:
    with pytest.raises(VenueError) as info:
        await awaitable
    assert info.value.kind is kind, info.value
    return info.value


def order(
    symbol: str, cid: str, otype: OrderType = OrderType.LIMIT, side: Side = Side.BUY, **kw: Any
) -> OrderRequest:
    return OrderRequest(
        symbol=symbol, side=side, type=otype, qty=kw.pop("qty", D("0.01")), client_order_id=cid, **kw
    )


async def last_price(venue: CcxtVenue, symbol: str) -> Decimal:
    return (await venue.fetch_ticker(symbol)).last


def test_usdm_market_data(sim: SimServerThread) -> None:
    async def scenario(v: CcxtVenue) -> None:
        markets = await v.load_markets()
        m = markets[FUT]
        assert (m.venue_symbol, m.kind, m.tick_size, m.step_size, m.min_qty, m.min_notional) == (
            "BTCUSDT", MarketKind.LINEAR, D("0.1"), D("0.001"), D("0.001"), D("100"),
        )  # fmt: skip
        assert all(x.kind is MarketKind.LINEAR for x in markets.values())
        assert await v.market(FUT) == m
        assert abs(await v.fetch_time_ms() - LiveClock().now_ms()) < 5_000
        bars = await v.fetch_ohlcv(FUT, "1m", limit=5)
        assert len(bars) == 5
        assert [b.ts_ms for b in bars] == sorted(b.ts_ms for b in bars)
        ticker = await v.fetch_ticker(FUT)
        assert ticker.symbol == FUT
        assert ticker.last == D(str(bars[-1].close))

    run(sim, "binanceusdm", scenario)


def test_usdm_account_orders_protection_and_fills(sim: SimServerThread) -> None:
    async def scenario(v: CcxtVenue) -> None:
        await v.set_margin_mode(FUT, MarginMode.ISOLATED)
        await v.set_margin_mode(FUT, MarginMode.ISOLATED)  # already set: success
        await v.set_leverage(FUT, 5)
        usdt = (await v.fetch_balance())["USDT"]
        assert usdt.free > 0
        px = await last_price(v, FUT)

        buy = await v.create_order(order(FUT, "m-1", OrderType.MARKET))
        assert (buy.status, buy.filled, buy.client_order_id, buy.conditional) == (
            OrderStatus.FILLED,
            D("0.01"),
            "m-1",
            False,
        )
        assert buy.avg_price is not None
        [pos] = await v.fetch_positions([FUT])
        assert (pos.symbol, pos.side, pos.qty, pos.leverage, pos.margin_mode) == (
            FUT,
            Side.BUY,
            D("0.01"),
            5,
            MarginMode.ISOLATED,
        )
        assert pos.entry_price == buy.avg_price

        sl = await v.create_order(
            order(
                FUT, "sl-1", OrderType.STOP_MARKET, Side.SELL, trigger_price=px * D("0.95"), reduce_only=True
            )
        )
        tp_type, tp_trigger = OrderType.TAKE_PROFIT_MARKET, px * D("1.05")
        tp_request = order(
            FUT, "tp-1", tp_type, Side.SELL, qty=None, close_position=True, trigger_price=tp_trigger
        )
        tp = await v.create_order(tp_request)
        assert (sl.status, sl.conditional, sl.type, sl.reduce_only) == (
            OrderStatus.OPEN,
            True,
            OrderType.STOP_MARKET,
            True,
        )
        assert (tp.close_position, tp.qty, tp.type) == (True, None, OrderType.TAKE_PROFIT_MARKET)
        algo = await v.fetch_open_orders(FUT, conditional=True)
        assert sorted(o.client_order_id or "" for o in algo) == ["sl-1", "tp-1"]
        assert all(o.conditional for o in algo)
        got = await v.fetch_order(FUT, client_order_id="sl-1", conditional=True)
        assert (got.order_id, got.trigger_price) == (sl.order_id, sl.trigger_price)
        assert (await v.fetch_order(FUT, order_id=tp.order_id, conditional=True)).client_order_id == "tp-1"

        lim = await v.create_order(order(FUT, "l-1", price=px * D("0.9"), post_only=True))
        assert lim.status is OrderStatus.OPEN
        assert [o.client_order_id for o in await v.fetch_open_orders(FUT)] == ["l-1"]
        assert [o.client_order_id for o in await v.fetch_open_orders()] == ["l-1"]
        by_id = await v.fetch_order(FUT, order_id=lim.order_id)
        by_cid = await v.fetch_order(FUT, client_order_id="l-1")
        assert by_id == by_cid
        assert (await v.cancel_order(FUT, client_order_id="l-1")).status is OrderStatus.CANCELED
        await expect(v.cancel_order(FUT, client_order_id="l-1"), K.ORDER_NOT_FOUND)
        assert (
            await v.cancel_order(FUT, order_id=tp.order_id, conditional=True)
        ).status is OrderStatus.CANCELED
        assert [o.client_order_id for o in await v.fetch_open_orders(FUT, conditional=True)] == ["sl-1"]

        close = await v.create_order(order(FUT, "m-2", OrderType.MARKET, Side.SELL, reduce_only=True))
        assert close.status is OrderStatus.FILLED
        assert await v.fetch_positions() == []
        fills = await v.fetch_fills(FUT)
        assert [f.order_id for f in fills] == [buy.order_id, close.order_id]
        assert all(f.fee_asset == "USDT" and f.qty == D("0.01") for f in fills)
        await expect(v.fetch_order(FUT, client_order_id="never-sent"), K.ORDER_NOT_FOUND)

    run(sim, "binanceusdm", scenario)


def test_usdm_venue_rejections(sim: SimServerThread) -> None:
    async def scenario(v: CcxtVenue) -> None:
        px = await last_price(v, FUT)
        await v.create_order(order(FUT, "dup", price=px * D("0.9")))
        err = await expect(v.create_order(order(FUT, "dup", price=px * D("0.9"))), K.DUPLICATE_CLIENT_ID)
        assert err.code == -4116
        await expect(v.create_order(order(FUT, "big", OrderType.MARKET, qty=D("900"))), K.INSUFFICIENT_FUNDS)
        err = await expect(
            v.create_order(order(FUT, "ro", OrderType.MARKET, Side.SELL, reduce_only=True)), K.INVALID_ORDER
        )
        assert err.code == -2022
        err = await expect(v.create_order(order(FUT, "tiny", qty=D("0.0001"), price=px)), K.INVALID_ORDER)
        assert err.local

    run(sim, "binanceusdm", scenario)


# (fault, expected kind, executed by the venue?)
FAULTS: list[tuple[str, K, bool]] = [
    ("unknown_503", K.OUTCOME_UNKNOWN, True),
    ("unknown_1006", K.OUTCOME_UNKNOWN, True),
    ("unknown_1007", K.OUTCOME_UNKNOWN, True),
    ("lost_response", K.OUTCOME_UNKNOWN, True),
    ("lost_request", K.OUTCOME_UNKNOWN, False),
    ("unavailable_503", K.EXCHANGE_BUSY, False),
    ("internal_error", K.EXCHANGE_BUSY, False),
    ("throttled_1008", K.EXCHANGE_BUSY, False),
    ("http_429", K.RATE_LIMITED, False),
    ("http_418", K.RATE_LIMITED, False),
]


@pytest.mark.parametrize(("fault", "kind", "executed"), FAULTS, ids=[f[0] for f in FAULTS])
def test_simulator_faults_end_as_the_right_kind(
    sim: SimServerThread, fault: str, kind: K, executed: bool
) -> None:
    async def scenario(v: CcxtVenue) -> None:
        px = await last_price(v, FUT)
        control(
            sim, "POST", "/_sim/faults", {"script": [{"on": "order_create", "fault": fault, "hold_ms": 800}]}
        )
        err = await expect(v.create_order(order(FUT, "f-1", price=px * D("0.9"))), kind)
        assert not err.local
        if kind is K.RATE_LIMITED:
            assert err.retry_after_s is not None
            assert err.retry_after_s > 0
            if fault == "http_418":
                assert (await expect(v.fetch_ticker(FUT), K.RATE_LIMITED)).local  # refused without sending
            return
        if executed:  # the outcome is resolved by the client order id
            assert (await v.fetch_order(FUT, client_order_id="f-1")).status is OrderStatus.OPEN
        else:
            await expect(v.fetch_order(FUT, client_order_id="f-1"), K.ORDER_NOT_FOUND)

    run(sim, "binanceusdm", scenario, timeout_ms=400)


def test_clock_skew_is_a_timestamp_error_then_resynced(sim: SimServerThread) -> None:
    async def scenario(v: CcxtVenue) -> None:
        px = await last_price(v, FUT)
        control(sim, "POST", "/_sim/faults", {"clock_skew_ms": 60_000})
        await expect(v.create_order(order(FUT, "t-1", price=px * D("0.9"))), K.TIMESTAMP)
        placed = await v.create_order(order(FUT, "t-1", price=px * D("0.9")))  # the router's resend
        assert placed.status is OrderStatus.OPEN

    run(sim, "binanceusdm", scenario)


def test_binance_spot(sim: SimServerThread) -> None:
    async def scenario(v: CcxtVenue) -> None:
        markets = await v.load_markets()
        assert markets[SPOT].kind is MarketKind.SPOT
        assert all(m.kind is MarketKind.SPOT for m in markets.values())
        px = await last_price(v, SPOT)
        assert len(await v.fetch_ohlcv(SPOT, "5m", limit=3)) == 3
        assert (await v.fetch_balance())["USDT"].free > 0
        buy = await v.create_order(order(SPOT, "s-1", OrderType.MARKET))
        assert (buy.status, buy.filled) == (OrderStatus.FILLED, D("0.01"))
        lim = await v.create_order(order(SPOT, "s-2", price=px * D("0.9"), post_only=True))
        assert lim.status is OrderStatus.OPEN
        assert (await v.fetch_order(SPOT, client_order_id="s-2")).order_id == lim.order_id
        assert [o.order_id for o in await v.fetch_open_orders(SPOT)] == [lim.order_id]
        assert await v.fetch_open_orders(SPOT, conditional=True) == []
        err = await expect(v.create_order(order(SPOT, "s-2", price=px * D("0.9"))), K.DUPLICATE_CLIENT_ID)
        assert err.code == -2010
        assert (await v.cancel_order(SPOT, order_id=lim.order_id)).status is OrderStatus.CANCELED
        held = (await v.fetch_balance())["BTC"].free  # the buy's fee was taken in BTC
        assert D("0.009") < held < D("0.01")
        # reduce_only is dropped on spot; the qty is rounded down to the step, so it fits the balance
        sell = await v.create_order(
            order(SPOT, "s-3", OrderType.MARKET, Side.SELL, qty=held, reduce_only=True)
        )
        assert sell.status is OrderStatus.FILLED
        assert [f.order_id for f in await v.fetch_fills(SPOT)] == [buy.order_id, sell.order_id]
        assert await v.fetch_positions() == []
        await expect(v.set_leverage(SPOT, 3), K.NOT_SUPPORTED)
        await expect(
            v.create_order(order(SPOT, "s-4", OrderType.STOP_MARKET, Side.SELL, trigger_price=px * D("0.9"))),
            K.NOT_SUPPORTED,
        )

    run(sim, "binance", scenario)


def test_coinbase_surface(sim: SimServerThread) -> None:
    async def scenario(v: CcxtVenue) -> None:
        markets = await v.load_markets()
        m = markets[CB]
        assert (m.venue_symbol, m.kind) == ("BTC-USDT", MarketKind.SPOT)
        assert abs(await v.fetch_time_ms() - LiveClock().now_ms()) < 5_000
        assert (await v.fetch_balance())["USDT"].free > 0
        buy = await v.create_order(order(CB, "cb-1", OrderType.MARKET))
        assert (buy.client_order_id, buy.side) == ("cb-1", Side.BUY)
        got = await v.fetch_order(CB, order_id=buy.order_id)
        assert (got.status, got.filled, got.client_order_id) == (OrderStatus.FILLED, D("0.01"), "cb-1")
        px = got.avg_price
        assert px is not None
        lim = await v.create_order(order(CB, "cb-2", price=px * D("0.9"), post_only=True))
        assert (await v.fetch_order(CB, order_id=lim.order_id)).status is OrderStatus.OPEN
        canceled = await v.cancel_order(CB, order_id=lim.order_id)
        assert (canceled.status, canceled.order_id) == (OrderStatus.CANCELED, lim.order_id)
        await expect(v.cancel_order(CB, order_id=lim.order_id), K.ORDER_NOT_FOUND)
        await expect(v.cancel_order(CB, order_id=buy.order_id), K.ORDER_NOT_FOUND)  # already filled
        await expect(v.fetch_order(CB, order_id="999999"), K.ORDER_NOT_FOUND)
        [fill] = await v.fetch_fills(CB)
        assert (fill.order_id, fill.qty, fill.side) == (buy.order_id, D("0.01"), Side.BUY)
        await expect(v.create_order(order(CB, "cb-3", OrderType.MARKET, qty=D("1000"))), K.INSUFFICIENT_FUNDS)

    run(sim, "coinbase", scenario)


def test_coinbase_market_data(sim: SimServerThread) -> None:
    async def scenario(v: CcxtVenue) -> None:
        ticker = await v.fetch_ticker(CB)
        assert ticker.symbol == CB
        assert ticker.bid is not None
        assert ticker.ask is not None
        assert ticker.bid < ticker.last < ticker.ask
        assert ticker.ts_ms == control(sim, "GET", "/_sim/state")["market_time"]
        bars = await v.fetch_ohlcv(CB, "1m", limit=5)
        assert len(bars) == 5
        assert bars[-1].close == float(ticker.last)
        assert [b.ts_ms - bars[0].ts_ms for b in bars] == [0, 60_000, 120_000, 180_000, 240_000]
        # the default 500 bars take two requests of at most 300 bars, seamlessly joined
        before = len(control(sim, "GET", "/_sim/requests")["requests"])
        many = await v.fetch_ohlcv(CB, "1m")
        calls = control(sim, "GET", "/_sim/requests")["requests"][before:]
        assert [c["path"].rsplit("/", 1)[-1] for c in calls] == ["candles", "candles"]
        assert len(many) == 500
        assert all(b.ts_ms - a.ts_ms == 60_000 for a, b in itertools.pairwise(many))
        assert many[-5:] == bars
        since = many[0].ts_ms
        head = await v.fetch_ohlcv(CB, "1m", since_ms=since, limit=400)
        assert head == many[:400]
        assert len(await v.fetch_ohlcv(CB, "1h", limit=3)) == 3

    run(sim, "coinbase", scenario)


def test_coinbase_open_orders_and_lookup_by_client_id(
    sim: SimServerThread, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("eclipse.venues.ccxt_venue._CB_PAGE", 2)  # so that a few orders span pages

    async def scenario(v: CcxtVenue) -> None:
        px = await last_price(v, CB)
        assert await v.fetch_open_orders(CB) == []
        placed = [
            await v.create_order(order(CB, f"o-{i}", price=(px * D("0.9")).quantize(D("0.01")) - i))
            for i in range(5)
        ]
        fill = await v.create_order(order(CB, "o-m", OrderType.MARKET))  # a sparse acknowledgement
        assert (await v.fetch_order(CB, order_id=fill.order_id)).status is OrderStatus.FILLED
        opened = await v.fetch_open_orders(CB)
        assert sorted(o.order_id for o in opened) == sorted(o.order_id for o in placed)
        assert all(o.status is OrderStatus.OPEN and o.symbol == CB for o in opened)
        assert sorted(o.client_order_id or "" for o in await v.fetch_open_orders()) == [
            f"o-{i}" for i in range(5)
        ]

        before = len(control(sim, "GET", "/_sim/requests")["requests"])
        oldest = await v.fetch_order(CB, client_order_id="o-0")  # the 6th newest: on the third page
        calls = control(sim, "GET", "/_sim/requests")["requests"][before:]
        assert [c["path"] for c in calls] == ["/api/v3/brokerage/orders/historical/batch"] * 3
        assert (oldest.order_id, oldest.status, oldest.price) == (
            placed[0].order_id,
            OrderStatus.OPEN,
            placed[0].price,
        )
        assert (await v.fetch_order(CB, client_order_id="o-m")).filled == D("0.01")
        await expect(v.fetch_order(CB, client_order_id="never-sent"), K.ORDER_NOT_FOUND)

        # a reused client_order_id returns the original order (Coinbase's idempotency)
        again = await v.create_order(order(CB, "o-1", price=placed[1].price))
        assert again.order_id == placed[1].order_id
        canceled = await v.cancel_order(CB, client_order_id="o-1")
        assert (canceled.order_id, canceled.status) == (placed[1].order_id, OrderStatus.CANCELED)
        await expect(v.cancel_order(CB, client_order_id="o-1"), K.ORDER_NOT_FOUND)
        assert len(await v.fetch_open_orders(CB)) == 4

        monkeypatch.setattr("eclipse.venues.ccxt_venue._CB_MAX_PAGES", 1)  # 4 open orders, 2 read
        err = await expect(v.fetch_open_orders(CB), K.NOT_SUPPORTED)
        assert "incomplete" in err.message

    run(sim, "coinbase", scenario)


@pytest.mark.parametrize("layout", list(AlgoIdLayout))
def test_usdm_a_triggered_stop_names_the_market_order_it_became(layout: AlgoIdLayout) -> None:
    """Binance keeps conditionals in the algo book (own id sequence): a triggered stop reports TRIGGERED with
    ``triggered_order_id`` (``actualOrderId``) = the regular market order it became, whose fills carry that
    id and which ``fetch_order`` finds in the regular book. Algo ids apart from the order ids (the default)
    or coinciding with them: the two ``VenueOrderId`` spaces keep them apart either way."""
    server = SimServerThread(SimConfig(stepped=True, algo_ids=layout), LiveClock(), dip_feed())
    server.start()

    async def scenario(v: CcxtVenue) -> None:
        entry = await v.create_order(order(FUT, "entry-1", OrderType.MARKET))
        assert entry.status is OrderStatus.FILLED
        trigger = D(str((DIP_HIGH + DIP_LOW) / 2))  # crossed by the dip, below the last price
        placed = await v.create_order(
            order(FUT, "stop-1", OrderType.STOP_MARKET, Side.SELL, trigger_price=trigger, reduce_only=True)
        )
        assert (placed.status, placed.conditional, placed.triggered_order_id) == (
            OrderStatus.OPEN,
            True,
            None,
        )
        assert placed.venue_id == VenueOrderId(FUT, IdSpace.ALGO, placed.order_id)
        assert placed.actual_id is None
        for _ in range(DIP_BAR - DIP_START + 1):
            control(server, "POST", "/_sim/step", {"bars": 1})
            if not await v.fetch_open_orders(FUT, conditional=True):
                break

        stop = await v.fetch_order(FUT, client_order_id="stop-1", conditional=True)
        assert (stop.status, stop.conditional, stop.order_id) == (
            OrderStatus.TRIGGERED,
            True,
            placed.order_id,
        )
        assert stop.venue_id.space is IdSpace.ALGO
        assert str(stop.venue_id) == f"algo:{placed.order_id}"
        actual = stop.triggered_order_id
        assert actual is not None
        assert stop.actual_id == VenueOrderId(FUT, IdSpace.ORDER, actual)
        assert await v.fetch_order(FUT, order_id=stop.order_id, conditional=True) == stop  # by algoId too

        fills = await v.fetch_fills(FUT)
        assert [f.order_id for f in fills] == [entry.order_id, actual]
        stop_fill = fills[-1]
        assert (stop_fill.side, stop_fill.qty, stop_fill.venue_id) == (Side.SELL, D("0.01"), stop.actual_id)
        assert D(str(DIP_LOW)) < stop_fill.price <= trigger

        market = await v.fetch_order(FUT, order_id=actual)  # the regular book, by the actual id
        assert (market.type, market.status, market.conditional, market.reduce_only) == (
            OrderType.MARKET,
            OrderStatus.FILLED,
            False,
            True,
        )
        assert (market.filled, market.triggered_order_id) == (D("0.01"), None)
        assert market.venue_id == stop.actual_id
        assert market.client_order_id == "stop-1"  # the triggered order keeps the conditional's client id
        assert await v.fetch_positions() == []

        regular_ids = {entry.order_id, actual}
        if layout is AlgoIdLayout.APART:
            assert int(stop.order_id) == ALGO_ID_START
            assert stop.order_id not in regular_ids
            await expect(v.fetch_order(FUT, order_id=stop.order_id), K.ORDER_NOT_FOUND)
        else:  # one number, two orders: the entry is regular order 1, the stop algo order 1
            assert stop.order_id == entry.order_id == "1"
            same_number = await v.fetch_order(FUT, order_id=stop.order_id)
            assert (same_number.client_order_id, same_number.conditional) == ("entry-1", False)
            assert same_number.venue_id != stop.venue_id
            assert (str(same_number.venue_id), str(stop.venue_id)) == ("order:1", "algo:1")

    try:
        run(server, "binanceusdm", scenario)
    finally:
        server.stop()
