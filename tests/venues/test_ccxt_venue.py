"""CcxtVenue end to end with the REAL ccxt client against a tiny aiohttp stub speaking Binance USD-M.

Each canned failure (venue codes, HTTP statuses, a slow answer, a refused connection) must come out of
CcxtVenue as the right VenueErrorKind; this also proves the error-table fix for a non-Binance host.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl

import ccxt as ccxt_sync
import pytest
from aiohttp import web

from eclipse.clock import SimClock
from eclipse.venues.ccxt_venue import CcxtVenue
from eclipse.venues.credentials import Credentials
from eclipse.venues.errors import VenueError, VenueErrorKind
from eclipse.venues.protocol import Venue
from eclipse.venues.types import OrderRequest, OrderType, Side

K = VenueErrorKind
D = Decimal
NOW = 1_700_000_000_000
KEY = "stub-api-key-0123456789"
SECRET = "stub-secret-abcdefghijklmnop"
SYMBOL = "BTC/USDT:USDT"

EXCHANGE_INFO = {
    "timezone": "UTC",
    "serverTime": NOW,
    "rateLimits": [],
    "exchangeFilters": [],
    "assets": [],
    "symbols": [
        {
            "symbol": "BTCUSDT",
            "pair": "BTCUSDT",
            "contractType": "PERPETUAL",
            "deliveryDate": 4133404800000,
            "onboardDate": 1569398400000,
            "status": "TRADING",
            "baseAsset": "BTC",
            "quoteAsset": "USDT",
            "marginAsset": "USDT",
            "pricePrecision": 2,
            "quantityPrecision": 3,
            "baseAssetPrecision": 8,
            "quotePrecision": 8,
            "underlyingType": "COIN",
            "triggerProtect": "0.0500",
            "filters": [
                {
                    "filterType": "PRICE_FILTER",
                    "minPrice": "556.80",
                    "maxPrice": "4529764",
                    "tickSize": "0.10",
                },
                {"filterType": "LOT_SIZE", "stepSize": "0.001", "maxQty": "1000", "minQty": "0.001"},
                {"filterType": "MARKET_LOT_SIZE", "stepSize": "0.001", "maxQty": "120", "minQty": "0.001"},
                {"filterType": "MIN_NOTIONAL", "notional": "100"},
            ],
            "orderTypes": ["LIMIT", "MARKET", "STOP", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET"],
            "timeInForce": ["GTC", "IOC", "FOK", "GTX"],
        }
    ],
}

Handler = Callable[[dict[str, str]], Awaitable[web.StreamResponse]]


def reply(body: object, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    text = body if isinstance(body, str) else json.dumps(body)
    ctype = "application/json" if not isinstance(body, str) else "text/html"
    return web.Response(text=text, status=status, headers=headers, content_type=ctype)


def error(code: int, msg: str, status: int = 400, headers: dict[str, str] | None = None) -> Handler:
    async def handle(_: dict[str, str]) -> web.Response:
        return reply({"code": code, "msg": msg}, status, headers)

    return handle


class Stub:
    """A Binance USD-M dialect good enough for ccxt: echoes orders, keeps the last algo order."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self.algo: dict[str, Any] = {}
        self.weight = "10"
        self.routes: dict[tuple[str, str], Handler] = {
            ("GET", "/fapi/v1/exchangeInfo"): self._static(EXCHANGE_INFO),
            ("GET", "/fapi/v1/time"): self._static({"serverTime": NOW + 2500}),
            ("GET", "/fapi/v1/ticker/24hr"): self._static(
                {"symbol": "BTCUSDT", "lastPrice": "50000.10", "closeTime": NOW, "openPrice": "49000"}
            ),
            ("POST", "/fapi/v1/order"): self._order,
            ("POST", "/fapi/v1/algoOrder"): self._algo_create,
            ("DELETE", "/fapi/v1/algoOrder"): self._algo_cancel,
            ("GET", "/fapi/v1/algoOrder"): self._algo_get,
        }

    @staticmethod
    def _static(body: object) -> Handler:
        async def handle(_: dict[str, str]) -> web.Response:
            return reply(body)

        return handle

    async def _order(self, p: dict[str, str]) -> web.Response:
        market = p["type"] == "MARKET"
        return reply(
            {
                "orderId": 1001,
                "symbol": p["symbol"],
                "status": "FILLED" if market else "NEW",
                "clientOrderId": p.get("newClientOrderId"),
                "price": p.get("price", "0"),
                "avgPrice": "50000.10" if market else "0.00",
                "origQty": p["quantity"],
                "executedQty": p["quantity"] if market else "0",
                "cumQuote": "0",
                "timeInForce": p.get("timeInForce", "GTC"),
                "type": p["type"],
                "origType": p["type"],
                "reduceOnly": p.get("reduceOnly") == "true",
                "closePosition": False,
                "side": p["side"],
                "positionSide": "BOTH",
                "stopPrice": "0",
                "workingType": "CONTRACT_PRICE",
                "updateTime": NOW,
            }
        )

    async def _algo_create(self, p: dict[str, str]) -> web.Response:
        self.algo = {
            "algoId": 2001,
            "clientAlgoId": p["clientAlgoId"],
            "algoType": p["algoType"],
            "orderType": p["type"],
            "symbol": p["symbol"],
            "side": p["side"],
            "positionSide": "BOTH",
            "timeInForce": "GTC",
            "quantity": p.get("quantity", "0"),
            "algoStatus": "NEW",
            "triggerPrice": p["triggerPrice"],
            "price": "0",
            "workingType": "CONTRACT_PRICE",
            "closePosition": p.get("closePosition") == "true",
            "reduceOnly": p.get("reduceOnly") == "true",
            "createTime": NOW,
            "updateTime": NOW,
        }
        return reply(self.algo)

    async def _algo_cancel(self, p: dict[str, str]) -> web.Response:
        self.algo["algoStatus"] = "CANCELED"
        return reply(
            {"algoId": 2001, "clientAlgoId": self.algo["clientAlgoId"], "code": "200", "msg": "success"}
        )

    async def _algo_get(self, p: dict[str, str]) -> web.Response:
        if p.get("clientAlgoId", self.algo.get("clientAlgoId")) != self.algo.get("clientAlgoId"):
            return reply({"code": -2013, "msg": "Order does not exist."}, 400)
        return reply(self.algo)

    async def dispatch(self, request: web.Request) -> web.StreamResponse:
        params = dict(request.query)
        params.update(parse_qsl(await request.text()))
        self.requests.append((request.method, request.path, params))
        handler = self.routes.get((request.method, request.path))
        if handler is None:
            return reply(
                {"code": -5000, "msg": f"Path {request.path}, Method {request.method} is invalid"}, 404
            )
        response = await handler(params)
        response.headers.setdefault("X-MBX-USED-WEIGHT-1M", self.weight)
        return response

    def sent(self, method: str, path: str) -> list[dict[str, str]]:
        return [p for m, pa, p in self.requests if (m, pa) == (method, path)]


@asynccontextmanager
async def serve(stub: Stub) -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", stub.dispatch)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


class Sleeps:
    def __init__(self, clock: SimClock) -> None:
        self.clock, self.calls = clock, list[float]()

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)
        self.clock.advance(seconds)


def make_venue(url: str, timeout_ms: int = 2_000) -> tuple[CcxtVenue, SimClock, Sleeps]:
    clock = SimClock(NOW)
    sleeps = Sleeps(clock)
    venue = CcxtVenue(
        "binanceusdm", Credentials(KEY, SECRET), clock, api_url=url, timeout_ms=timeout_ms, sleep=sleeps
    )
    return venue, clock, sleeps


def limit_buy(cid: str = "eclipse-1", **kw: Any) -> OrderRequest:
    base: dict[str, Any] = {
        "symbol": SYMBOL,
        "side": Side.BUY,
        "type": OrderType.LIMIT,
        "qty": D("0.0109"),
        "client_order_id": cid,
        "price": D("50000.07"),
    }
    base.update(kw)
    return OrderRequest(**base)


def run(
    coro_fn: Callable[[Stub, CcxtVenue, SimClock, Sleeps], Awaitable[None]], stub: Stub | None = None
) -> Stub:
    stub = stub or Stub()

    async def main() -> None:
        async with serve(stub) as url:
            venue, clock, sleeps = make_venue(url)
            try:
                await coro_fn(stub, venue, clock, sleeps)
            finally:
                await venue.close()

    asyncio.run(main())
    return stub


async def expect(awaitable: Awaitable[object]) -> VenueError:
    with pytest.raises(VenueError) as info:
        await awaitable
    return info.value


UNKNOWN = "Unknown error, please check your request or try again later."
CREATE_FAILURES: list[tuple[str, Handler, K, int | None]] = [
    ("-2019", error(-2019, "Margin is insufficient."), K.INSUFFICIENT_FUNDS, -2019),
    ("-2022", error(-2022, "ReduceOnly Order is rejected."), K.INVALID_ORDER, -2022),
    (
        "-4164",
        error(-4164, "Order's notional must be no smaller than 100 (unless you choose reduce only)."),
        K.INVALID_ORDER,
        -4164,
    ),
    ("-4116", error(-4116, "ClientOrderId is duplicated."), K.DUPLICATE_CLIENT_ID, -4116),
    (
        "-1008",
        error(
            -1008,
            "Request throttled by system-level protection. Reduce-only/close-position orders are exempt.",
            503,
        ),
        K.EXCHANGE_BUSY,
        -1008,
    ),
    (
        "-1001",
        error(-1001, "Internal error; unable to process your request. Please try again.", 503),
        K.EXCHANGE_BUSY,
        -1001,
    ),
    (
        "-1000",
        error(-1000, "An unknown error occured while processing the request.", 503),
        K.OUTCOME_UNKNOWN,
        -1000,
    ),
    (
        "-1007",
        error(-1007, "Timeout waiting for response from backend server. Send status unknown.", 408),
        K.OUTCOME_UNKNOWN,
        -1007,
    ),
]


async def _static_reply(body: object, status: int, headers: dict[str, str] | None = None) -> web.Response:
    return reply(body, status, headers)


def raw(body: object, status: int, headers: dict[str, str] | None = None) -> Handler:
    return lambda _: _static_reply(body, status, headers)


HTTP_FAILURES: list[tuple[str, Handler, K]] = [
    ("503-no-code", raw("", 503), K.OUTCOME_UNKNOWN),
    ("503-unknown", raw({"msg": UNKNOWN}, 503), K.OUTCOME_UNKNOWN),
    ("503-service-unavailable", raw({"msg": "Service Unavailable."}, 503), K.EXCHANGE_BUSY),
    ("500-non-json", raw("<html><body>Internal Server Error</body></html>", 500), K.OUTCOME_UNKNOWN),
    ("502", raw("bad gateway", 502), K.OUTCOME_UNKNOWN),
]


@pytest.mark.parametrize(
    ("handler", "kind", "code"), [c[1:] for c in CREATE_FAILURES], ids=[c[0] for c in CREATE_FAILURES]
)
def test_coded_failures_of_create(handler: Handler, kind: K, code: int) -> None:
    async def scenario(stub: Stub, venue: CcxtVenue, clock: SimClock, sleeps: Sleeps) -> None:
        stub.routes[("POST", "/fapi/v1/order")] = handler
        err = await expect(venue.create_order(limit_buy()))
        assert (err.kind, err.code, err.venue, err.operation) == (kind, code, "binanceusdm", "create_order")
        assert not err.local

    stub = run(scenario)
    assert len(stub.sent("POST", "/fapi/v1/order")) == 1  # never re-sent by ccxt or the venue


@pytest.mark.parametrize(
    ("handler", "kind"), [c[1:] for c in HTTP_FAILURES], ids=[c[0] for c in HTTP_FAILURES]
)
def test_http_failures_of_create_and_of_a_read(handler: Handler, kind: K) -> None:
    async def scenario(stub: Stub, venue: CcxtVenue, clock: SimClock, sleeps: Sleeps) -> None:
        stub.routes[("POST", "/fapi/v1/order")] = handler
        stub.routes[("GET", "/fapi/v1/ticker/24hr")] = handler
        assert (await expect(venue.create_order(limit_buy()))).kind is kind
        read_kind = K.NETWORK if kind is K.OUTCOME_UNKNOWN else kind
        assert (await expect(venue.fetch_ticker(SYMBOL))).kind is read_kind

    run(scenario)


def test_error_table_fix_is_what_makes_ccxt_classes_right() -> None:
    """With a local URL plain ccxt says ExchangeError for -2019; the venue's client says InsufficientFunds."""

    async def scenario(stub: Stub, venue: CcxtVenue, clock: SimClock, sleeps: Sleeps) -> None:
        stub.routes[("POST", "/fapi/v1/order")] = error(-2019, "Margin is insufficient.")
        await venue.load_markets()
        with pytest.raises(ccxt_sync.InsufficientFunds):
            await venue.exchange.create_order(SYMBOL, "limit", "buy", 0.01, 50000.0)
        import ccxt.async_support as ccxt_async

        plain = ccxt_async.binanceusdm(
            {"apiKey": KEY, "secret": SECRET, "enableRateLimit": False, "options": {"fetchCurrencies": False}}
        )
        plain.urls["api"] = dict(venue.exchange.urls["api"])
        try:
            await plain.load_markets()
            with pytest.raises(ccxt_sync.ExchangeError) as info:
                await plain.create_order(SYMBOL, "limit", "buy", 0.01, 50000.0)
            assert type(info.value) is ccxt_sync.ExchangeError
        finally:
            await plain.close()

    run(scenario)


def test_timestamp_error_resyncs_once_and_does_not_resend() -> None:
    async def scenario(stub: Stub, venue: CcxtVenue, clock: SimClock, sleeps: Sleeps) -> None:
        stub.routes[("POST", "/fapi/v1/order")] = error(
            -1021, "Timestamp for this request is outside of the recvWindow."
        )
        err = await expect(venue.create_order(limit_buy()))
        assert (err.kind, err.code) == (K.TIMESTAMP, -1021)
        assert venue.exchange.options["timeDifference"] == -2500  # local - server
        assert venue.exchange.options["adjustForTimeDifference"] is True
        stub.routes[("POST", "/fapi/v1/order")] = Stub()._order
        await venue.create_order(limit_buy("eclipse-2"))

    stub = run(scenario)
    orders = stub.sent("POST", "/fapi/v1/order")
    assert len(orders) == 2
    assert len(stub.sent("GET", "/fapi/v1/time")) == 1
    assert int(orders[1]["timestamp"]) == NOW + 2500  # signed with the venue's clock after the resync


def test_429_sets_retry_after_and_the_next_call_waits_it_out() -> None:
    async def scenario(stub: Stub, venue: CcxtVenue, clock: SimClock, sleeps: Sleeps) -> None:
        stub.routes[("POST", "/fapi/v1/order")] = error(
            -1003, "Too many requests.", 429, {"Retry-After": "7"}
        )
        err = await expect(venue.create_order(limit_buy()))
        assert (err.kind, err.retry_after_s) == (K.RATE_LIMITED, 7.0)
        await venue.fetch_ticker(SYMBOL)
        assert sleeps.calls == [7.0]

    run(scenario)


def test_418_ban_refuses_locally_without_sending() -> None:
    async def scenario(stub: Stub, venue: CcxtVenue, clock: SimClock, sleeps: Sleeps) -> None:
        stub.routes[("GET", "/fapi/v1/ticker/24hr")] = error(
            -1003, "Way too many requests; IP banned.", 418, {"Retry-After": "300"}
        )
        err = await expect(venue.fetch_ticker(SYMBOL))
        assert (err.kind, err.retry_after_s) == (K.RATE_LIMITED, 300.0)
        sent = len(stub.requests)
        again = await expect(venue.create_order(limit_buy()))
        assert again.kind is K.RATE_LIMITED
        assert again.local
        assert len(stub.requests) == sent
        assert venue.rate_usage.banned_until_ms == NOW + 300_000

    run(scenario)


def test_slow_response_beyond_the_timeout() -> None:
    async def slow(_: dict[str, str]) -> web.Response:
        await asyncio.sleep(1.0)
        return reply({})

    async def main() -> None:
        stub = Stub()
        stub.routes[("POST", "/fapi/v1/order")] = slow
        stub.routes[("GET", "/fapi/v1/ticker/24hr")] = slow
        async with serve(stub) as url:
            venue, _, _ = make_venue(url, timeout_ms=250)
            try:
                await venue.load_markets()
                assert (await expect(venue.create_order(limit_buy()))).kind is K.OUTCOME_UNKNOWN
                assert (await expect(venue.fetch_ticker(SYMBOL))).kind is K.NETWORK
            finally:
                await venue.close()

    asyncio.run(main())


def test_connection_refused_is_never_sent() -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()

    async def main() -> None:
        venue, _, _ = make_venue(f"http://127.0.0.1:{port}")
        try:
            err = await expect(venue.load_markets())
            assert err.kind is K.NETWORK
            venue._markets = {}  # pretend markets are known so create reaches the wire
            venue._markets[SYMBOL] = _btc_market()
            assert (await expect(venue.create_order(limit_buy()))).kind is K.NETWORK
        finally:
            await venue.close()

    asyncio.run(main())


def _btc_market() -> Any:
    from eclipse.venues.ccxt_convert import market_from_ccxt

    info = EXCHANGE_INFO["symbols"][0]  # type: ignore[index]
    raw = {"symbol": SYMBOL, "id": "BTCUSDT", "base": "BTC", "quote": "USDT", "settle": "USDT"}
    return market_from_ccxt({**raw, "contract": True, "linear": True, "info": info})


def test_order_parameters_on_the_wire() -> None:
    async def scenario(stub: Stub, venue: CcxtVenue, clock: SimClock, sleeps: Sleeps) -> None:
        assert isinstance(venue, Venue)
        await venue.fetch_ticker(SYMBOL)
        limit = await venue.create_order(limit_buy(post_only=True))
        assert (limit.order_id, limit.client_order_id, limit.status.value) == ("1001", "eclipse-1", "open")
        assert (limit.qty, limit.price, limit.type) == (D("0.010"), D("50000.0"), OrderType.LIMIT)
        market = await venue.create_order(
            limit_buy("eclipse-2", type=OrderType.MARKET, price=None, side=Side.SELL, reduce_only=True)
        )
        assert (market.status.value, market.filled, market.avg_price, market.reduce_only) == (
            "filled", D("0.010"), D("50000.10"), True,
        )  # fmt: skip
        stop = await venue.create_order(
            limit_buy("eclipse-sl", type=OrderType.STOP_MARKET, side=Side.SELL, price=None,
                      trigger_price=D("48000.04"), reduce_only=True)
        )  # fmt: skip
        assert (stop.order_id, stop.client_order_id, stop.type, stop.conditional) == (
            "2001", "eclipse-sl", OrderType.STOP_MARKET, True,
        )  # fmt: skip
        assert (stop.trigger_price, stop.qty, stop.reduce_only) == (D("48000.0"), D("0.010"), True)
        tp = await venue.create_order(
            limit_buy("eclipse-tp", type=OrderType.TAKE_PROFIT_MARKET, side=Side.SELL, price=None, qty=None,
                      trigger_price=D("52000"), close_position=True)
        )  # fmt: skip
        assert (tp.type, tp.close_position, tp.qty) == (OrderType.TAKE_PROFIT_MARKET, True, None)
        canceled = await venue.cancel_order(SYMBOL, client_order_id="eclipse-tp", conditional=True)
        assert (canceled.status.value, canceled.client_order_id, canceled.conditional) == (
            "canceled",
            "eclipse-tp",
            True,
        )

    stub = run(scenario)
    plain = stub.sent("POST", "/fapi/v1/order")
    assert plain[0]["newClientOrderId"] == "eclipse-1"
    assert (plain[0]["quantity"], plain[0]["price"], plain[0]["timeInForce"]) == ("0.01", "50000", "GTX")
    assert plain[0]["recvWindow"] == "5000"
    assert "signature" in plain[0]
    assert (plain[1]["type"], plain[1]["reduceOnly"], plain[1]["newClientOrderId"]) == (
        "MARKET",
        "true",
        "eclipse-2",
    )
    assert "price" not in plain[1]
    algo = stub.sent("POST", "/fapi/v1/algoOrder")
    assert algo[0]["type"] == "STOP_MARKET"
    assert (algo[0]["algoType"], algo[0]["clientAlgoId"], algo[0]["triggerPrice"]) == (
        "CONDITIONAL",
        "eclipse-sl",
        "48000",
    )
    assert (algo[0]["quantity"], algo[0]["reduceOnly"]) == ("0.01", "true")
    assert (algo[1]["type"], algo[1]["closePosition"]) == ("TAKE_PROFIT_MARKET", "true")
    assert "quantity" not in algo[1]
    assert "reduceOnly" not in algo[1]
    assert stub.sent("DELETE", "/fapi/v1/algoOrder")[0]["clientAlgoId"] == "eclipse-tp"
    assert stub.sent("GET", "/fapi/v1/algoOrder")[0]["algoId"] == "2001"  # the bare ack is read back by id


def test_local_checks_refuse_before_sending() -> None:
    async def scenario(stub: Stub, venue: CcxtVenue, clock: SimClock, sleeps: Sleeps) -> None:
        err = await expect(venue.create_order(limit_buy(qty=D("0.0004"))))
        assert (err.kind, err.local) == (K.INVALID_ORDER, True)
        assert "below min_qty 0.001" in err.message
        err = await expect(venue.create_order(limit_buy(qty=D("0.001"), price=D("50000"))))
        assert "min_notional 100" in err.message
        err = await expect(venue.create_order(limit_buy(symbol="DOGE/USDT:USDT")))
        assert "not a listed USD-M perpetual" in err.message
        err = await expect(venue.fetch_order(SYMBOL))
        assert err.kind is K.INVALID_ORDER

    stub = run(scenario)
    assert stub.sent("POST", "/fapi/v1/order") == []


def test_secrets_never_reach_errors_or_logs(caplog: pytest.LogCaptureFixture) -> None:
    async def scenario(stub: Stub, venue: CcxtVenue, clock: SimClock, sleeps: Sleeps) -> None:
        stub.routes[("POST", "/fapi/v1/order")] = raw(f"echo {SECRET} {KEY}", 500)
        errors = [await expect(venue.create_order(limit_buy()))]
        stub.routes[("POST", "/fapi/v1/order")] = error(
            -1021, "Timestamp for this request is outside of the recvWindow."
        )
        errors.append(await expect(venue.create_order(limit_buy())))
        stub.routes[("POST", "/fapi/v1/order")] = error(-1003, "slow down", 429)
        errors.append(await expect(venue.create_order(limit_buy())))
        for err in errors:
            for text in (str(err), repr(err), err.message):
                assert SECRET not in text
                assert KEY not in text
            assert err.__context__ is None  # the raw ccxt exception (it echoes the body) is not chained
            assert err.__cause__ is None
        assert "***" in errors[0].message
        assert SECRET not in repr(venue)

    with caplog.at_level(logging.DEBUG):
        run(scenario)
    assert caplog.records  # the venue did log (resync, rate limit)
    assert SECRET not in caplog.text
    assert KEY not in caplog.text


def test_malformed_answers_are_venue_errors_never_key_errors() -> None:
    async def scenario(stub: Stub, venue: CcxtVenue, clock: SimClock, sleeps: Sleeps) -> None:
        stub.routes[("POST", "/fapi/v1/order")] = raw({"symbol": "BTCUSDT"}, 200)  # no orderId
        err = await expect(venue.create_order(limit_buy()))
        assert err.kind is K.OUTCOME_UNKNOWN  # it may have been placed: look it up
        assert "MalformedResponseError" in err.message
        stub.routes[("GET", "/fapi/v1/order")] = raw(
            {"orderId": 5, "symbol": "BTCUSDT", "status": "ODD"}, 200
        )
        assert (await expect(venue.fetch_order(SYMBOL, order_id="5"))).kind is K.NETWORK
        stub.routes[("GET", "/fapi/v1/ticker/24hr")] = raw(["not", "a", "ticker"], 200)
        assert (await expect(venue.fetch_ticker(SYMBOL))).kind is K.NETWORK
        stub.routes[("GET", "/fapi/v1/ticker/24hr")] = raw("plain text", 200)
        assert (await expect(venue.fetch_ticker(SYMBOL))).kind is K.NETWORK

    run(scenario)


def test_public_only_venue_refuses_private_calls_locally() -> None:
    async def main() -> None:
        stub = Stub()
        async with serve(stub) as url:
            venue = CcxtVenue("binanceusdm", None, SimClock(NOW), api_url=url)
            try:
                assert (await venue.fetch_ticker(SYMBOL)).last == D("50000.10")
                for call in (
                    venue.fetch_balance(),
                    venue.create_order(limit_buy()),
                    venue.fetch_fills(SYMBOL),
                ):
                    err = await expect(call)
                    assert (err.kind, err.local) == (K.AUTH, True)
                assert not venue.dry_run
                assert venue.name == "binanceusdm"
            finally:
                await venue.close()
        assert stub.sent("POST", "/fapi/v1/order") == []

    asyncio.run(main())
