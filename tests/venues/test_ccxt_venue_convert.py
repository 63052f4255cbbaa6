"""ccxt_convert: unified ccxt dicts -> records (raw venue strings preferred), and requests -> ccxt args."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from eclipse.venues import ccxt_convert as cv
from eclipse.venues.errors import VenueErrorKind
from eclipse.venues.types import (
    Balance,
    IdSpace,
    MarginMode,
    MarketKind,
    OrderRequest,
    OrderStatus,
    OrderType,
    Side,
    TimeInForce,
)

D = Decimal
NOW = 1_700_000_000_000
S = OrderStatus


def binance_order(**info: Any) -> dict[str, Any]:
    raw = {
        "orderId": 7,
        "symbol": "BTCUSDT",
        "side": "SELL",
        "type": "LIMIT",
        "origQty": "0.010",
        "price": "50000.1",
    }
    raw.update(info)
    return {
        "id": "7",
        "symbol": "BTC/USDT:USDT",
        "side": "sell",
        "type": "limit",
        "status": None,
        "info": raw,
    }


@pytest.mark.parametrize(
    ("raw", "filled", "expected"),
    [
        ("NEW", "0", S.OPEN),
        ("NEW", "0.004", S.PARTIALLY_FILLED),
        ("PARTIALLY_FILLED", "0.004", S.PARTIALLY_FILLED),
        ("FILLED", "0.010", S.FILLED),
        ("CANCELED", "0", S.CANCELED),
        ("REJECTED", "0", S.REJECTED),
        ("EXPIRED", "0", S.EXPIRED),
        ("EXPIRED_IN_MATCH", "0", S.EXPIRED),
        ("PENDING_CANCEL", "0", S.OPEN),
        ("CANCELLED", "0", S.CANCELED),  # Coinbase spelling
        ("FAILED", "0", S.REJECTED),
        ("QUEUED", "0", S.OPEN),
    ],
)
def test_order_status_from_the_raw_venue_status(raw: str, filled: str, expected: OrderStatus) -> None:
    report = cv.order_from_ccxt(binance_order(status=raw, executedQty=filled), now_ms=NOW)
    assert report.status is expected
    assert report.filled == D(filled)


@pytest.mark.parametrize(
    ("algo_status", "expected"),
    [("NEW", S.OPEN), ("TRIGGERING", S.OPEN), ("TRIGGERED", S.TRIGGERED), ("FINISHED", S.TRIGGERED),
     ("CANCELED", S.CANCELED), ("REJECTED", S.REJECTED), ("EXPIRED", S.EXPIRED)],
)  # fmt: skip
def test_binance_algo_statuses(algo_status: str, expected: OrderStatus) -> None:
    raw = {
        "id": "2001",
        "clientOrderId": "sl-1",
        "symbol": "BTC/USDT:USDT",
        "side": "sell",
        "type": "market",  # ccxt's view of STOP_MARKET
        "timestamp": NOW,
        "info": {
            "algoId": 2001,
            "orderType": "STOP_MARKET",
            "algoStatus": algo_status,
            "triggerPrice": "48000",
            "quantity": "0",
            "closePosition": True,
            "reduceOnly": False,
        },
    }
    report = cv.order_from_ccxt(raw, now_ms=NOW)
    assert (report.status, report.type, report.conditional) == (expected, OrderType.STOP_MARKET, True)
    assert (report.trigger_price, report.qty, report.close_position) == (D("48000"), None, True)
    assert report.status.terminal == (expected not in (S.OPEN, S.PARTIALLY_FILLED))


def _algo(**info: Any) -> dict[str, Any]:
    raw = {"algoId": 2001, "clientAlgoId": "sl-1", "orderType": "STOP_MARKET", "algoStatus": "TRIGGERED",
           "triggerPrice": "48000", "quantity": "0.010", "reduceOnly": True, **info}  # fmt: skip
    return {"id": "2001", "clientOrderId": "sl-1", "symbol": "BTC/USDT:USDT", "side": "sell", "info": raw}


@pytest.mark.parametrize(
    ("info", "expected"),
    [({"actualOrderId": "8389765"}, "8389765"), ({"actualOrderId": 8389765}, "8389765"),
     ({"actualOrderId": ""}, None), ({"actualOrderId": "0"}, None), ({"actualOrderId": 0}, None),
     ({"actualOrderId": None}, None), ({}, None)],
)  # fmt: skip
def test_binance_algo_actual_order_id(info: dict[str, Any], expected: str | None) -> None:
    report = cv.order_from_ccxt(_algo(**info), now_ms=NOW)
    assert report.triggered_order_id == expected
    assert (str(report.venue_id), report.venue_id.space, report.venue_id.symbol) == (
        "algo:2001",
        IdSpace.ALGO,
        "BTC/USDT:USDT",
    )
    if expected is None:
        assert report.actual_id is None
    else:
        assert report.actual_id is not None
        assert (str(report.actual_id), report.actual_id.space) == (f"order:{expected}", IdSpace.ORDER)


def test_only_algo_orders_have_an_actual_order_id() -> None:
    # a regular order's info never names one (even a stray field): it is an order, not a trigger
    report = cv.order_from_ccxt(binance_order(status="FILLED", actualOrderId="99"), now_ms=NOW)
    assert (report.triggered_order_id, report.actual_id, str(report.venue_id)) == (None, None, "order:7")
    fill = cv.fill_from_ccxt(
        {"id": "5", "order": "99", "symbol": "BTC/USDT:USDT", "side": "sell", "price": 1.0, "amount": 1.0},
        NOW,
    )
    assert (str(fill.venue_id), fill.venue_id.space) == ("order:99", IdSpace.ORDER)


def test_unified_fallbacks_when_info_is_missing() -> None:
    raw = {"id": "9", "symbol": "BTC/USD", "side": "buy", "type": "limit", "status": "closed", "amount": 0.5,
           "filled": 0.5, "average": 100.5, "price": 100.0, "timestamp": NOW, "lastUpdateTimestamp": NOW + 5,
           "clientOrderId": "c-9", "reduceOnly": None}  # fmt: skip
    report = cv.order_from_ccxt(raw, now_ms=0)
    assert (report.status, report.qty, report.filled, report.avg_price) == (
        S.FILLED,
        D("0.5"),
        D("0.5"),
        D("100.5"),
    )
    assert (report.ts_ms, report.update_ms, report.client_order_id, report.reduce_only) == (
        NOW,
        NOW + 5,
        "c-9",
        False,
    )


def test_sparse_acknowledgement_is_completed_from_the_request() -> None:
    req = OrderRequest("BTC/USD", Side.BUY, OrderType.LIMIT, D("0.5"), "c-1", price=D("100"))
    ack = {
        "id": "abc",
        "clientOrderId": "c-1",
        "info": {"success": True, "success_response": {"order_id": "abc"}},
    }
    report = cv.order_from_ccxt(ack, now_ms=NOW, request=req)
    assert (report.order_id, report.status, report.side, report.type) == (
        "abc",
        S.OPEN,
        Side.BUY,
        OrderType.LIMIT,
    )
    assert (report.qty, report.price, report.filled, report.ts_ms) == (D("0.5"), D("100"), D(0), NOW)


@pytest.mark.parametrize(
    "raw",
    [
        {"symbol": "X", "side": "buy", "type": "limit", "status": "open"},  # no id
        {"id": "1", "symbol": "X", "type": "limit", "status": "open"},  # no side
        {"id": "1", "symbol": "X", "side": "buy", "status": "open"},  # no type
        {"id": "1", "symbol": "X", "side": "buy", "type": "limit"},  # no status
        {"id": "1", "symbol": "X", "side": "buy", "type": "limit", "status": "weird"},
    ],
)
def test_missing_essentials_are_a_malformed_response_not_a_key_error(raw: dict[str, Any]) -> None:
    with pytest.raises(cv.MalformedResponseError):
        cv.order_from_ccxt(raw, now_ms=NOW)


def test_a_foreign_order_type_is_reported_as_other_not_an_error() -> None:
    # A manual trailing stop on the account must not blind a whole open-orders listing (reconcile needs it).
    rep = cv.order_from_ccxt(binance_order(status="NEW", type="TRAILING_STOP_MARKET"), now_ms=NOW)
    assert rep.type is OrderType.OTHER
    assert rep.status is OrderStatus.OPEN


def test_an_unreadable_reply_to_a_state_changing_call_is_outcome_unknown() -> None:
    from eclipse.venues.classify import classify

    err = classify(
        cv.MalformedResponseError("missing order id"),
        venue="x",
        operation="create_order",
        state_changing=True,
    )
    assert err.kind is VenueErrorKind.OUTCOME_UNKNOWN
    assert not err.definitive


def test_order_is_complete() -> None:
    assert cv.order_is_complete(binance_order(status="NEW"))
    assert not cv.order_is_complete({"id": "2001", "info": {"algoId": 2001, "code": "200", "msg": "success"}})


def test_markets_binance_filters_are_exact() -> None:
    info = {"filters": [{"filterType": "PRICE_FILTER", "tickSize": "0.10"},
                        {"filterType": "LOT_SIZE", "stepSize": "0.001", "minQty": "0.001", "maxQty": "1000"},
                        {"filterType": "MIN_NOTIONAL", "notional": "100"}]}  # fmt: skip
    m = cv.market_from_ccxt({"symbol": "BTC/USDT:USDT", "id": "BTCUSDT", "base": "BTC", "quote": "USDT",
                             "settle": "USDT", "contract": True, "linear": True, "info": info})  # fmt: skip
    assert (m.kind, m.tick_size, m.step_size, m.min_qty, m.max_qty, m.min_notional) == (
        MarketKind.LINEAR, D("0.10"), D("0.001"), D("0.001"), D("1000"), D("100"),
    )  # fmt: skip
    spot = {"filters": [{"filterType": "PRICE_FILTER", "tickSize": "0.01"},
                        {"filterType": "LOT_SIZE", "stepSize": "1e-5", "minQty": "1e-5", "maxQty": "9000"},
                        {"filterType": "NOTIONAL", "minNotional": "5"}]}  # fmt: skip
    s = cv.market_from_ccxt({"symbol": "BTC/USDT", "id": "BTCUSDT", "spot": True, "info": spot})
    assert (s.kind, s.min_notional, s.settle) == (MarketKind.SPOT, D("5"), None)


def test_markets_coinbase_increments_and_precision_fallbacks() -> None:
    info = {"quote_increment": "0.01", "base_increment": "0.00000001", "base_min_size": "0.000001",
            "base_max_size": "3400", "quote_min_size": "1"}  # fmt: skip
    m = cv.market_from_ccxt({"symbol": "BTC/USD", "id": "BTC-USD", "spot": True, "info": info})
    assert (m.tick_size, m.step_size, m.min_qty, m.max_qty, m.min_notional) == (
        D("0.01"), D("0.00000001"), D("0.000001"), D("3400"), D("1"),
    )  # fmt: skip
    digits = cv.market_from_ccxt({"symbol": "A/B", "precision": {"price": 2, "amount": 3}}, precision_mode=2)
    assert (digits.tick_size, digits.step_size, digits.min_qty, digits.min_notional) == (
        D("0.01"), D("0.001"), D(0), D(0),
    )  # fmt: skip
    ticks = cv.market_from_ccxt(
        {"symbol": "A/B", "precision": {"price": 0.5, "amount": 0.1}, "active": False}
    )
    assert (ticks.tick_size, ticks.step_size, ticks.active) == (D("0.5"), D("0.1"), False)
    with pytest.raises(cv.MalformedResponseError, match="tick size"):
        cv.market_from_ccxt({"symbol": "A/B", "precision": {"amount": 0.1}})
    with pytest.raises(cv.MalformedResponseError, match="without a symbol"):
        cv.market_from_ccxt({"id": "AB"})


def test_positions() -> None:
    flat = {"symbol": "BTC/USDT:USDT", "contracts": 0, "info": {"positionAmt": "0"}}
    assert cv.position_from_ccxt(flat, NOW) is None
    info = {"positionAmt": "-0.020", "entryPrice": "50000.5", "markPrice": "49000"}
    info.update(unRealizedProfit="30.01", liquidationPrice="0", notional="-980")
    short = {"symbol": "BTC/USDT:USDT", "contracts": 0.02, "side": None, "leverage": 5}
    short.update(marginMode="isolated", timestamp=NOW, info=info)
    p = cv.position_from_ccxt(short, 0)
    assert p is not None
    assert (p.side, p.qty, p.entry_price, p.mark_price, p.unrealized_pnl) == (
        Side.SELL, D("0.020"), D("50000.5"), D("49000"), D("30.01"),
    )  # fmt: skip
    assert (p.liquidation_price, p.leverage, p.margin_mode, p.notional, p.ts_ms) == (
        None, 5, MarginMode.ISOLATED, D("980"), NOW,
    )  # fmt: skip
    with pytest.raises(cv.MalformedResponseError):
        cv.position_from_ccxt(
            {"symbol": "X", "contracts": 1, "side": "long", "info": {}}, NOW
        )  # no entry price


def test_balances_tickers_candles_fills() -> None:
    b = cv.balances_from_ccxt(
        {"free": {"USDT": 90.5, "BTC": None}, "used": {"USDT": 9.5}, "total": {"USDT": 100}}
    )
    assert b["USDT"] == Balance("USDT", D("90.5"), D("9.5"), D("100"))
    assert "BTC" not in b
    t = cv.ticker_from_ccxt("X", {"close": 5.5, "bid": 0, "ask": 5.6}, NOW)
    assert (t.last, t.bid, t.ask, t.ts_ms) == (D("5.5"), None, D("5.6"), NOW)
    with pytest.raises(cv.MalformedResponseError):
        cv.ticker_from_ccxt("X", {}, NOW)
    c = cv.candle_from_row([NOW, "1", "2", "0.5", "1.5", None])
    assert (c.ts_ms, c.open, c.high, c.low, c.close, c.volume) == (NOW, 1.0, 2.0, 0.5, 1.5, 0.0)
    with pytest.raises(cv.MalformedResponseError):
        cv.candle_from_row([NOW, "x"])
    trade = {"id": "t1", "order": "7", "symbol": "BTC/USDT:USDT", "side": "buy", "price": 1.0, "amount": 1.0,
             "timestamp": NOW, "takerOrMaker": "maker", "fee": {"cost": 0.1, "currency": "USDT"},
             "info": {"price": "50000.10", "qty": "0.003", "commission": "0.06", "commissionAsset": "USDT",
                      "realizedPnl": "-1.5"}}  # fmt: skip
    f = cv.fill_from_ccxt(trade, 0)
    assert (f.price, f.qty, f.fee, f.fee_asset, f.realized_pnl, f.maker) == (
        D("50000.10"), D("0.003"), D("0.06"), "USDT", D("-1.5"), True,
    )  # fmt: skip
    with pytest.raises(cv.MalformedResponseError):
        cv.fill_from_ccxt({"id": "t2", "symbol": "X", "side": "buy"}, NOW)


def req(otype: OrderType = OrderType.LIMIT, **kw: Any) -> OrderRequest:
    price = D("100") if otype is OrderType.LIMIT else None
    base: dict[str, Any] = {"symbol": "BTC/USDT:USDT", "side": Side.BUY, "type": otype, "qty": D("0.01"),
                            "client_order_id": "c-1", "price": price}  # fmt: skip
    base.update(kw)
    return OrderRequest(**base)


def test_order_args_for_each_venue() -> None:
    assert cv.order_args("binanceusdm", req()) == ("limit", 0.01, 100.0, {"newClientOrderId": "c-1"})
    assert cv.order_args("binanceusdm", req(post_only=True))[3] == {
        "postOnly": True,
        "newClientOrderId": "c-1",
    }
    assert cv.order_args("binance", req(time_in_force=TimeInForce.IOC))[3]["timeInForce"] == "IOC"
    assert cv.order_args("binanceusdm", req(OrderType.MARKET, reduce_only=True))[3]["reduceOnly"] is True
    assert "reduceOnly" not in cv.order_args("binance", req(OrderType.MARKET, reduce_only=True))[3]
    stop = cv.order_args("binanceusdm", req(OrderType.STOP_MARKET, trigger_price=D("90"), reduce_only=True))
    assert stop == ("market", 0.01, None, {"clientAlgoId": "c-1", "stopLossPrice": 90.0, "reduceOnly": True})
    tp = cv.order_args(
        "binanceusdm",
        req(OrderType.TAKE_PROFIT_MARKET, qty=None, trigger_price=D("110"), close_position=True),
    )
    assert tp == (
        "market",
        None,
        None,
        {"clientAlgoId": "c-1", "takeProfitPrice": 110.0, "closePosition": True},
    )
    cb = cv.order_args("coinbase", req(OrderType.MARKET, qty=D("0.00001")))
    assert cb[3]["client_order_id"] == "c-1"
    assert cb[3]["order_configuration"] == {"market_market_ioc": {"base_size": "0.00001"}}
    assert cv.order_args("coinbase", req(post_only=True))[3] == {"postOnly": True, "client_order_id": "c-1"}


def test_lookup_params() -> None:
    assert cv.lookup_params("c-1", False) == {"origClientOrderId": "c-1"}
    assert cv.lookup_params("c-1", True) == {"trigger": True, "clientAlgoId": "c-1"}
    assert cv.lookup_params(None, True) == {"trigger": True}
    assert cv.dec("1e-5") == D("0.00001")
    assert cv.dec("nan") is None
    assert cv.dec(True) is None
