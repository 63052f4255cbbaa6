"""The HTTP layer on raw requests: routing errors, authentication and the timestamp rule, weights and rate
limits, garbage input (never a 500), the request log and journal (never a secret or signature)."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import urllib.error
import urllib.request
from dataclasses import replace
from typing import Any
from urllib.parse import urlencode

import ccxt.async_support as ccxt_async
import pytest

from eclipse.clock import SimClock
from eclipse.venues.sim.auth import WeightLimiter
from eclipse.venues.sim.config import DEFAULT_KEY, DEFAULT_SECRET, KeyPair
from eclipse.venues.sim.runner import SimServerThread

from .conftest import SimFactory, control, control_error, requests_log, run, usdm

T0 = 1_767_225_600_000  # 2026-01-01 00:00:00 UTC, the start of a minute


def http(
    sim: SimServerThread,
    method: str,
    path: str,
    body: str | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], Any]:
    """A raw request: (status, headers, decoded JSON body)."""
    req = urllib.request.Request(
        sim.url + path, data=body.encode() if body is not None else None, method=method
    )
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, dict(resp.headers), json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), json.loads(exc.read())


def signed(params: dict[str, Any], ts: int, secret: str = DEFAULT_SECRET, **extra: Any) -> str:
    """A Binance-signed query string (``timestamp`` added, ``signature`` last)."""
    q = urlencode({**params, "timestamp": ts, **extra})
    return q + "&signature=" + hmac.new(secret.encode(), q.encode(), hashlib.sha256).hexdigest()


KEY = {"X-MBX-APIKEY": DEFAULT_KEY}


def cb_headers(method: str, path: str, body: str, now_ms: int) -> dict[str, str]:
    """Coinbase legacy-key headers for one request."""
    ts = str(now_ms // 1000)
    sig = hmac.new(DEFAULT_SECRET.encode(), (ts + method + path + body).encode(), hashlib.sha256).hexdigest()
    return {"CB-ACCESS-KEY": DEFAULT_KEY, "CB-ACCESS-SIGN": sig, "CB-ACCESS-TIMESTAMP": ts}


def _order_json(params: dict[str, str]) -> str:
    """A Coinbase order body built from garbage values."""
    size = params.get("quantity", "x")
    return json.dumps(
        {
            "client_order_id": params.get("newClientOrderId", "g1"),
            "product_id": params.get("symbol", "BTC-USDT"),
            "side": params.get("side", "BUY"),
            "order_configuration": {
                "limit_limit_gtc": {"base_size": size, "limit_price": params.get("price", size)}
            },
            "order_ids": [params.get("orderId", "1"), 7],
        }
    )


def test_unknown_path_and_wrong_method_answer_like_binance(sim: SimServerThread) -> None:
    status, headers, body = http(sim, "GET", "/fapi/v1/nope")
    assert (status, body) == (404, {"code": -5000, "msg": "Path /fapi/v1/nope, Method GET is invalid"})
    assert headers["X-MBX-USED-WEIGHT-1M"] == "0"
    status, _, body = http(sim, "PUT", "/fapi/v1/order")
    assert (status, body["code"]) == (405, -5000)
    status, _, body = http(sim, "GET", "/")
    assert status == 404
    assert body["code"] == -5000


def test_signature_key_and_timestamp_rules(sim: SimServerThread) -> None:
    now = sim.call(sim.ctx.server_ms)
    path = "/fapi/v3/account?"
    assert http(sim, "GET", path + signed({}, now), headers=KEY)[0] == 200
    cases = [
        ({}, signed({}, now), (401, -2014, "API-key format invalid.")),
        (
            {"X-MBX-APIKEY": "nobody"},
            signed({}, now),
            (401, -2015, "Invalid API-key, IP, or permissions for action."),
        ),
        (KEY, signed({}, now, secret="wrong"), (400, -1022, "Signature for this request is not valid.")),
        (KEY, urlencode({"timestamp": now}), (400, -1102, "Mandatory parameter 'signature' was not sent")),
        (
            KEY,
            signed({}, now + 1500),
            (400, -1021, "Timestamp for this request is outside of the recvWindow."),
        ),
        (
            KEY,
            signed({}, now - 6000),
            (400, -1021, "Timestamp for this request is outside of the recvWindow."),
        ),
        (KEY, signed({}, now - 6000, recvWindow=60000), (200, None, None)),
        (KEY, signed({}, now, recvWindow=60001), (400, -1131, "recvWindow must be less than 60000")),
        (KEY, _bad_ts(), (400, -1100, "Illegal characters")),
    ]
    for headers, query, (status, code, msg) in cases:
        got_status, got_headers, body = http(sim, "GET", path + query, headers=headers)
        assert got_status == status, (query, body)
        assert "X-MBX-USED-WEIGHT-1M" in got_headers
        if code is not None:
            assert body["code"] == code, body
            assert body["msg"].startswith(msg), body
            assert DEFAULT_SECRET not in json.dumps(body)


def _bad_ts() -> str:
    q = "timestamp=soon"
    return q + "&signature=" + hmac.new(DEFAULT_SECRET.encode(), q.encode(), hashlib.sha256).hexdigest()


def test_post_body_is_signed_as_sent(sim: SimServerThread) -> None:
    now = sim.call(sim.ctx.server_ms)
    body = signed({"symbol": "BTCUSDT", "leverage": 7}, now)
    headers = {**KEY, "Content-Type": "application/x-www-form-urlencoded"}
    status, _, resp = http(sim, "POST", "/fapi/v1/leverage", body=body, headers=headers)
    assert status == 200
    assert resp["leverage"] == 7
    tampered = body.replace("leverage=7", "leverage=8")
    status, _, resp = http(sim, "POST", "/fapi/v1/leverage", body=tampered, headers=headers)
    assert (status, resp["code"]) == (400, -1022)
    status, _, resp = http(
        sim,
        "POST",
        "/fapi/v1/leverage",
        body=signed({"symbol": "BTCUSDT", "leverage": 200}, now),
        headers=headers,
    )
    assert (status, resp["code"]) == (400, -4028)


def test_weights_count_per_minute_and_order_counts(make_sim: SimFactory) -> None:
    clock = SimClock(T0)
    sim = make_sim(clock=clock)
    if True:
        seen = []
        for path in (
            "/fapi/v1/time",
            "/fapi/v1/exchangeInfo",
            "/fapi/v1/klines?symbol=BTCUSDT&interval=1m&limit=500",
            "/api/v3/exchangeInfo",
        ):
            status, headers, _ = http(sim, "GET", path)
            assert status == 200
            seen.append(int(headers["X-MBX-USED-WEIGHT-1M"]))
        assert seen == [1, 2, 7, 27]
        clock.advance(60)  # a new minute
        _, headers, _ = http(sim, "GET", "/fapi/v1/time")
        assert headers["X-MBX-USED-WEIGHT-1M"] == "1"
        body = signed(
            {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.003"}, clock.now_ms()
        )
        status, headers, order = http(sim, "POST", "/fapi/v1/order", body=body, headers=KEY)
        assert status == 200
        assert order["status"] == "NEW"
        assert (headers["X-MBX-ORDER-COUNT-10S"], headers["X-MBX-ORDER-COUNT-1M"]) == ("1", "1")
        assert headers["X-MBX-USED-WEIGHT-1M"] == "2"  # weight is per IP: signed or not, one bucket


def test_over_the_limit_429_then_418_ban_and_ccxt_ddos_protection(make_sim: SimFactory) -> None:
    sim = make_sim(weight_limit_1m=12, ban_after=2, ban_ms=60_000)
    statuses = []
    retry = []
    for _ in range(8):
        status, headers, body = http(sim, "GET", "/fapi/v1/klines?symbol=BTCUSDT&interval=1m&limit=100")
        statuses.append(status)
        if status != 200:
            retry.append(int(headers["Retry-After"]))
            assert body["code"] == -1003
    assert statuses[:6] == [200, 200, 200, 200, 200, 200]  # 6 x weight 2
    assert statuses[6:] == [429, 429] or statuses[6:] == [429, 418]
    assert all(r >= 1 for r in retry)
    status, headers, body = http(sim, "GET", "/fapi/v1/time")
    assert status == 418
    assert "banned until" in body["msg"]
    assert int(headers["Retry-After"]) > 1

    async def go() -> None:
        async with usdm(sim) as ex:
            with pytest.raises(ccxt_async.DDoSProtection):
                await ex.fetch_time()

    run(go())
    control(sim, "POST", "/_sim/limits/reset")
    assert http(sim, "GET", "/fapi/v1/time")[0] == 200


def test_weight_and_bans_are_per_ip_and_order_counts_per_api_key(make_sim: SimFactory) -> None:
    """Binance counts request weight (and 429/418 bans) per IP, new orders per account (its API key)."""
    other = KeyPair("second-key", "second-secret")
    sim = make_sim(
        keys=(KeyPair(DEFAULT_KEY, DEFAULT_SECRET), other), weight_limit_1m=10, order_limit_10s=1, ban_after=1
    )
    now = sim.call(sim.ctx.server_ms)

    def order(key: KeyPair, cid: str) -> tuple[int, dict[str, str], Any]:
        params = {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.003"}
        body = signed({**params, "newClientOrderId": cid}, now, secret=key.secret)
        return http(sim, "POST", "/fapi/v1/order", body=body, headers={"X-MBX-APIKEY": key.key})

    status, headers, _ = order(KeyPair(DEFAULT_KEY, DEFAULT_SECRET), "k1-a")
    assert (status, headers["X-MBX-ORDER-COUNT-10S"], headers["X-MBX-USED-WEIGHT-1M"]) == (200, "1", "1")
    assert order(KeyPair(DEFAULT_KEY, DEFAULT_SECRET), "k1-b")[2]["code"] == -1015  # this key's 10 s budget
    status, headers, _ = order(other, "k2-a")  # another key: its own order count, the IP's weight
    assert (status, headers["X-MBX-ORDER-COUNT-10S"], headers["X-MBX-USED-WEIGHT-1M"]) == (200, "1", "2")
    _, headers, _ = http(sim, "GET", "/fapi/v1/time")  # unsigned: the same IP bucket
    assert headers["X-MBX-USED-WEIGHT-1M"] == "3"
    statuses = [http(sim, "GET", "/fapi/v1/klines?symbol=BTCUSDT&interval=1m&limit=100")[0] for _ in range(6)]
    assert statuses[:3] == [200, 200, 200]
    assert 418 in statuses  # banned: the IP, whatever key it presents
    assert order(other, "k2-b")[0] == 418
    control(sim, "POST", "/_sim/limits/reset")
    assert order(other, "k2-c")[0] == 200


def test_the_limiter_keys_weight_by_ip_and_orders_by_account() -> None:
    lim = WeightLimiter(weight_limit=5, order_10s=1, order_1m=10, ban_after=0, ban_ms=60_000)
    assert lim.admit("10.0.0.1", "key-a", 3, True, T0).status == 200
    assert lim.admit("10.0.0.2", "key-a", 3, True, T0).code == -1015  # same account from another IP
    assert lim.admit("10.0.0.2", "key-b", 3, True, T0).status == 200  # another IP: its own weight
    assert (lim.used("10.0.0.1", T0), lim.used("10.0.0.2", T0)) == (3, 3)
    assert lim.admit("10.0.0.1", "key-c", 3, False, T0).status == 418  # over the limit: the IP is banned
    assert lim.admit("10.0.0.1", "key-b", 1, False, T0 + 1).status == 418
    assert lim.admit("10.0.0.2", "key-a", 1, False, T0 + 1).status == 200


def test_ids_beyond_64_bits_are_refused_not_a_500(make_sim: SimFactory, tmp_path: Any) -> None:
    sim = make_sim(db_path=str(tmp_path / "sim.db"))
    now = sim.call(sim.ctx.server_ms)
    big = str(2**63)  # 19 digits, one past the largest signed 64-bit integer (SQLite's INTEGER)
    for method, path, params in (
        ("GET", "/fapi/v1/order", {"symbol": "BTCUSDT", "orderId": big}),
        ("DELETE", "/fapi/v1/order", {"symbol": "BTCUSDT", "orderId": big}),
        ("GET", "/fapi/v1/algoOrder", {"algoId": big}),
        ("GET", "/api/v3/order", {"symbol": "BTCUSDT", "orderId": big}),
        ("GET", "/fapi/v1/userTrades", {"symbol": "BTCUSDT", "fromId": big}),
    ):
        status, _, body = http(sim, method, path + "?" + signed(params, now), headers=KEY)
        assert (status, body["code"]) == (400, -1100), (path, body)
    ok = {"symbol": "BTCUSDT", "orderId": str(2**63 - 1)}
    status, _, body = http(sim, "GET", "/fapi/v1/order?" + signed(ok, now), headers=KEY)
    assert (status, body["code"]) == (400, -2013)
    assert not [r for r in requests_log(sim) if r["status"] >= 500]


def test_coinbase_create_refuses_absurd_sizes_and_prices(sim: SimServerThread) -> None:
    path = "/api/v3/brokerage/orders"
    now = sim.call(sim.ctx.server_ms)
    for n, config in enumerate(
        (
            {"market_market_ioc": {"base_size": "1e100"}},
            {"market_market_ioc": {"quote_size": "1e100"}},
            {"limit_limit_gtc": {"base_size": "0.001", "limit_price": "1e100"}},
            {"limit_limit_gtc": {"base_size": "1e-30", "limit_price": "100"}},
            {"limit_limit_gtc": {"base_size": "0.001", "limit_price": "Infinity"}},
        )
    ):
        order = {"product_id": "BTC-USDT", "side": "BUY", "client_order_id": f"big{n}"}
        raw = json.dumps({**order, "order_configuration": config})
        status, _, body = http(sim, "POST", path, body=raw, headers=cb_headers("POST", path, raw, now))
        assert (status, body["error"]) == (400, "INVALID_ARGUMENT"), (config, body)
    assert not [r for r in requests_log(sim) if r["status"] >= 500]


def test_an_unexpected_error_answers_minus_1000_and_is_logged(
    sim: SimServerThread, caplog: pytest.LogCaptureFixture
) -> None:
    def boom(ctx: Any, call: Any) -> Any:
        raise RuntimeError("a bug")

    def patch() -> None:
        for key in (("GET", "/fapi/v1/time"), ("GET", "/_sim/state")):
            sim.ctx.routes[key] = replace(sim.ctx.routes[key], handler=boom)

    sim.call(patch)
    caplog.set_level(logging.ERROR, logger="eclipse.sim")
    status, _, body = http(sim, "GET", "/fapi/v1/time")
    # Binance's own message, spelling included
    assert (status, body) == (
        500,
        {"code": -1000, "msg": "An unknown error occured while processing the request."},
    )
    assert any("unhandled error serving GET /fapi/v1/time" in r.getMessage() for r in caplog.records)
    status, body = control_error(sim, "GET", "/_sim/state")  # the control plane: JSON, no traceback
    assert status == 500
    assert body == {"error": "internal error (RuntimeError); see the server log"}
    assert any("unhandled error serving GET /_sim/state" in r.getMessage() for r in caplog.records)


def test_order_rate_limit_answers_minus_1015(make_sim: SimFactory) -> None:
    sim = make_sim(order_limit_10s=2)
    now = sim.call(sim.ctx.server_ms)
    results = []
    for i in range(3):
        body = signed(
            {
                "symbol": "BTCUSDT",
                "side": "BUY",
                "type": "MARKET",
                "quantity": "0.003",
                "newClientOrderId": f"r{i}",
            },
            now,
        )
        results.append(http(sim, "POST", "/fapi/v1/order", body=body, headers=KEY))
    assert [r[0] for r in results] == [200, 200, 429]
    assert results[2][2]["code"] == -1015
    assert "10 SECOND" in results[2][2]["msg"]


GARBAGE: list[dict[str, str]] = [
    {},
    {
        "symbol": "BTCUSDT",
        "side": "BUY",
        "type": "LIMIT",
        "quantity": "0.001",
        "price": "1e999",
        "timeInForce": "GTC",
    },
    {
        "symbol": "BTCUSDT",
        "side": "SELL",
        "type": "MARKET",
        "quantity": "1E-9",
        "orderId": "\u00b2",
        "limit": "\u0663",
    },
    {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "quantity": "9" * 25, "price": "0." + "1" * 25},
    {"symbol": "@@@"},
    {"symbol": "BTCUSDT", "side": "UP", "type": "LIMIT", "quantity": "1", "price": "1"},
    {"symbol": "BTCUSDT", "side": "BUY", "type": "WAT", "quantity": "1"},
    {
        "symbol": "BTCUSDT",
        "side": "BUY",
        "type": "LIMIT",
        "quantity": "abc",
        "price": "1e999",
        "timeInForce": "XYZ",
    },
    {
        "symbol": "BTCUSDT",
        "side": "BUY",
        "type": "LIMIT",
        "quantity": "-1",
        "price": "NaN",
        "timeInForce": "GTC",
    },
    {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.0000001", "reduceOnly": "maybe"},
    {
        "symbol": "BTCUSDT",
        "side": "SELL",
        "type": "STOP_MARKET",
        "algoType": "CONDITIONAL",
        "triggerPrice": "x",
    },
    {
        "symbol": "BTCUSDT",
        "orderId": "12abc",
        "origClientOrderId": "",
        "algoId": "-5",
        "clientAlgoId": "x" * 80,
    },
    {"symbol": "BTCUSDT", "interval": "7x", "limit": "-1", "startTime": "yesterday", "endTime": "9" * 30},
    {"symbol": "BTCUSDT", "interval": "1m", "limit": "100000"},
    {
        "symbol": "BTCUSDT",
        "leverage": "zero",
        "marginType": "BOTH",
        "fromId": "1.5",
        "newOrderRespType": "ALL",
    },
    {
        "symbol": "btcusdt",
        "side": "buy",
        "type": "limit",
        "quantity": "0.001",
        "price": "1",
        "timeInForce": "gtx",
        "newClientOrderId": "bad id!",
    },
]


def test_garbage_never_yields_a_500_on_any_route(sim: SimServerThread) -> None:
    ctx_routes = sim.call(lambda: list(sim.ctx.routes.values()))
    now = sim.call(sim.ctx.server_ms)
    answered = 0
    for ep in ctx_routes:
        if ep.security.value == "control":
            continue
        for params in GARBAGE:
            path = ep.path.replace("{order_id}", "x1")
            if ep.dialect == "binance":
                query = signed(params, now)
                if ep.method in ("GET", "DELETE"):
                    status, _, body = http(sim, ep.method, path + "?" + query, headers=KEY)
                else:
                    status, _, body = http(sim, ep.method, path, body=query, headers=KEY)
            elif ep.method == "GET":
                status, _, body = http(
                    sim, "GET", path + "?" + urlencode(params), headers=cb_headers("GET", path, "", now)
                )
            else:
                for raw in (
                    json.dumps(params),
                    json.dumps(params)[:5],
                    json.dumps([params]),
                    _order_json(params),
                ):
                    status, _, body = http(
                        sim, "POST", path, body=raw, headers=cb_headers("POST", path, raw, now)
                    )
                    assert status < 500, (path, raw, body)
            assert status < 500, (ep.method, ep.path, params, body)
            assert isinstance(body, dict | list)
            if status >= 400 and ep.dialect == "binance":
                assert set(body) == {"code", "msg"}, body
            answered += 1
    assert answered > 300
    assert not [r for r in requests_log(sim) if r["status"] >= 500]


def test_request_log_and_journal_never_hold_secrets(
    sim: SimServerThread, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="eclipse.sim")

    async def go() -> None:
        async with usdm(sim) as ex:
            await ex.load_markets()
            await ex.fetch_balance()
            await ex.create_order("BTC/USDT:USDT", "market", "buy", 0.003, params={"clientOrderId": "log-1"})
            await ex.fetch_open_orders("BTC/USDT:USDT")

    run(go())
    text = "\n".join(r.getMessage() for r in caplog.records if r.name == "eclipse.sim")
    assert "POST /fapi/v1/order 200" in text
    assert "GET /fapi/v3/account 200" in text
    journal = json.dumps(control(sim, "GET", "/_sim/requests"))
    for leak in (DEFAULT_SECRET, DEFAULT_KEY, "signature", "timestamp="):
        assert leak not in text
        assert leak not in journal
    rows = requests_log(sim)
    assert [r["path"] for r in rows] == [
        "/fapi/v1/exchangeInfo",
        "/fapi/v3/account",
        "/fapi/v1/order",
        "/fapi/v1/openOrders",
    ]
    assert all(r["latency_ms"] >= 0 and r["status"] == 200 for r in rows)
    changing = requests_log(sim, state_changing="1")
    assert [(r["method"], r["path"], r["client_id"]) for r in changing] == [
        ("POST", "/fapi/v1/order", "log-1")
    ]
    control(sim, "DELETE", "/_sim/requests")
    assert requests_log(sim) == []


def test_control_plane_validates_its_input(sim: SimServerThread) -> None:
    assert control_error(sim, "POST", "/_sim/faults", {"random": [{"fault": "boom"}]})[0] == 400
    status, body = control_error(sim, "POST", "/_sim/step", {"bars": 0})
    assert status == 400
    assert "bad step value" in body["error"]
    assert control_error(sim, "POST", "/_sim/step", {})[0] == 400
    assert control_error(sim, "POST", "/_sim/stall", {"stalled": "yes"})[0] == 400
    assert control_error(sim, "GET", "/_sim/requests?since=abc")[0] == 400
    assert control_error(sim, "GET", "/_sim/requests?limit=-1")[0] == 400
    for bad in (10**30, -5):
        assert control_error(sim, "POST", "/_sim/step", {"to_ms": bad})[0] == 400
    assert control_error(sim, "POST", "/_sim/step", {"bars": 10**20})[0] == 400
    # non-finite and absurd numbers: a clear 400, never an overflow (Infinity is what json.dumps writes)
    for plan in (
        {"random": [{"fault": "latency", "ms": float("inf")}]},
        {"random": [{"fault": "latency", "ms": float("nan")}]},
        {"script": [{"fault": "lost_response", "hold_ms": 1e300}]},
        {"engine": {"partial_fills": {"slices": 1e12}}},
    ):
        status, body = control_error(sim, "POST", "/_sim/faults", plan)
        assert status == 400
        assert "Traceback" not in body["error"]
    assert control(sim, "GET", "/_sim/faults")["plan"]["random"] == []
    req = urllib.request.Request(sim.url + "/_sim/faults", data=b"{nope", method="POST")
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(req, timeout=5)
    assert info.value.code == 400
    state = control(sim, "GET", "/_sim/state")
    assert state["feed"]["mode"] == "stepped"
    assert state["futures"]["balances"] == {"USDT": "10000"}
