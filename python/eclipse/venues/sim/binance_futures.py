"""Binance USD-M futures REST dialect (``/fapi/...``) of the simulator: the routes ccxt's ``binanceusdm``
calls, answering in Binance's field names and formats (numbers as strings where Binance sends strings).

Conditional orders (STOP_MARKET / TAKE_PROFIT_MARKET) live in the algo-order book (``/fapi/v1/algoOrder``)
as on Binance since the algo migration; ``/fapi/v1/order`` refuses them with -4120. One-way mode only
(``positionSide`` BOTH). ``positionRisk`` (v3) also carries v2's ``leverage`` and ``marginType`` so ccxt
fills the unified ``leverage`` / ``marginMode`` (real v3 omits them).
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from eclipse.venues.sim import binance_common as bc
from eclipse.venues.sim.auth import Call, Endpoint, Params
from eclipse.venues.sim.binance_common import (
    binance_endpoint,
    check_client_id,
    fmt,
    order_lookup,
    parse_side,
    parse_tif,
)
from eclipse.venues.sim.instruments import leverage_brackets, max_notional_for
from eclipse.venues.sim.model import EngineReject, InstrumentSpec, OrderView, PlaceRequest, TradeView
from eclipse.venues.types import MarginMode, OrderType, Side, TimeInForce

if TYPE_CHECKING:
    from eclipse.venues.sim.server import SimContext

__all__ = ["FUTURES_ROUTES", "render_algo", "render_order", "render_trade"]

_TYPES_OUT = {
    OrderType.MARKET: "MARKET",
    OrderType.LIMIT: "LIMIT",
    OrderType.STOP_MARKET: "STOP_MARKET",
    OrderType.TAKE_PROFIT_MARKET: "TAKE_PROFIT_MARKET",
}
_MONEY = 8


def _spec(ctx: SimContext, p: Params) -> InstrumentSpec:
    spec = ctx.futures_specs.get(p.req("symbol").upper())
    if spec is None:
        raise EngineReject(-1121, "Invalid symbol.")
    return spec


# --- renderers ----------------------------------------------------------------------------------------


def render_order(o: OrderView, s: InstrumentSpec, ack: bool = False) -> dict[str, Any]:
    """A regular order as ``/fapi/v1/order`` answers (``ack``: the ACK shape, nothing filled yet)."""
    pp, qp = s.price_precision, s.qty_precision
    filled = Decimal(0) if ack else o.filled
    kind = _TYPES_OUT[o.type]
    return {
        "orderId": o.order_id,
        "symbol": o.symbol,
        "status": "NEW" if ack else o.status,
        "clientOrderId": o.client_id,
        "price": fmt(o.price, pp),
        "avgPrice": fmt(Decimal(0) if ack else o.avg_price, pp),
        "origQty": fmt(o.qty, qp),
        "executedQty": fmt(filled, qp),
        "cumQty": fmt(filled, qp),
        "cumQuote": fmt(Decimal(0) if ack else o.cum_quote, _MONEY),
        "timeInForce": (o.time_in_force or TimeInForce.GTC).value,
        "type": kind,
        "reduceOnly": o.reduce_only,
        "closePosition": o.close_position,
        "side": o.side.value.upper(),
        "positionSide": "BOTH",
        "stopPrice": fmt(o.trigger_price, pp),
        "workingType": "CONTRACT_PRICE",
        "priceProtect": False,
        "origType": kind,
        "priceMatch": "NONE",
        "selfTradePreventionMode": "EXPIRE_MAKER",
        "goodTillDate": 0,
        "time": o.created_ms,
        "updateTime": o.updated_ms,
    }


_ALGO_STATUS = {"NEW": "NEW", "PARTIALLY_FILLED": "NEW", "TRIGGERED": "TRIGGERED", "FILLED": "FINISHED"}


def render_algo(o: OrderView, s: InstrumentSpec) -> dict[str, Any]:
    """A conditional order as ``/fapi/v1/algoOrder`` answers."""
    pp, qp = s.price_precision, s.qty_precision
    return {
        "algoId": o.order_id,
        "clientAlgoId": o.client_id,
        "algoType": "CONDITIONAL",
        "orderType": _TYPES_OUT[o.type],
        "symbol": o.symbol,
        "side": o.side.value.upper(),
        "positionSide": "BOTH",
        "timeInForce": "GTC",
        "quantity": fmt(o.qty, qp),
        "algoStatus": _ALGO_STATUS.get(o.status, o.status),
        "actualOrderId": "" if o.triggered_order_id is None else str(o.triggered_order_id),
        "actualPrice": "0",
        "triggerPrice": fmt(o.trigger_price, pp),
        "price": fmt(o.price, pp),
        "icebergQuantity": None,
        "selfTradePreventionMode": "EXPIRE_MAKER",
        "workingType": "CONTRACT_PRICE",
        "priceMatch": "NONE",
        "closePosition": o.close_position,
        "priceProtect": False,
        "reduceOnly": o.reduce_only,
        "createTime": o.created_ms,
        "updateTime": o.updated_ms,
        "triggerTime": o.updated_ms if o.triggered_order_id is not None else 0,
        "goodTillDate": 0,
    }


def render_trade(t: TradeView, s: InstrumentSpec) -> dict[str, Any]:
    """One ``userTrades`` row."""
    return {
        "buyer": t.side is Side.BUY,
        "commission": fmt(t.commission, _MONEY),
        "commissionAsset": t.commission_asset,
        "id": t.trade_id,
        "maker": t.maker,
        "orderId": t.order_id,
        "price": fmt(t.price, s.price_precision),
        "qty": fmt(t.qty, s.qty_precision),
        "quoteQty": fmt(t.quote_qty, _MONEY),
        "realizedPnl": fmt(t.realized_pnl, _MONEY),
        "side": t.side.value.upper(),
        "positionSide": "BOTH",
        "symbol": t.symbol,
        "time": t.ts_ms,
    }


# --- handlers -----------------------------------------------------------------------------------------


def _exchange_info(ctx: SimContext, call: Call) -> bytes:
    head, tail = ctx.cache["fapi_exchange_info"]
    return head + str(call.server_ms).encode() + tail


def _time(ctx: SimContext, call: Call) -> dict[str, Any]:
    return {"serverTime": call.server_ms}


def _klines(ctx: SimContext, call: Call) -> list[list[Any]]:
    return bc.klines(ctx, _spec(ctx, call.params), call.params)


def _ticker_24h(ctx: SimContext, call: Call) -> Any:
    p = call.params
    specs = [_spec(ctx, p)] if p.get("symbol") else list(ctx.futures_specs.values())
    rows = [bc.ticker_24h(ctx, s) for s in specs]
    return rows[0] if p.get("symbol") else rows


def _book_ticker(ctx: SimContext, call: Call) -> Any:
    p = call.params
    specs = [_spec(ctx, p)] if p.get("symbol") else list(ctx.futures_specs.values())
    rows = [bc.book_ticker(ctx, s, futures=True) for s in specs]
    return rows[0] if p.get("symbol") else rows


def _account(ctx: SimContext, call: Call) -> dict[str, Any]:
    eng = ctx.futures
    balances = eng.balances()
    positions = eng.positions()
    assets = []
    tot: dict[str, Decimal] = dict.fromkeys(("wallet", "upnl", "margin", "im", "mm", "avail"), Decimal(0))
    for b in balances:
        upd = b.update_ms or ctx.started_ms
        assets.append(
            {
                "asset": b.asset,
                "walletBalance": fmt(b.wallet, _MONEY),
                "unrealizedProfit": fmt(b.unrealized_pnl, _MONEY),
                "marginBalance": fmt(b.margin_balance, _MONEY),
                "maintMargin": fmt(sum((p.maint_margin for p in positions), Decimal(0)), _MONEY),
                "initialMargin": fmt(b.initial_margin, _MONEY),
                "positionInitialMargin": fmt(sum((p.initial_margin for p in positions), Decimal(0)), _MONEY),
                "openOrderInitialMargin": fmt(b.locked, _MONEY),
                "crossWalletBalance": fmt(b.wallet, _MONEY),
                "crossUnPnl": fmt(b.unrealized_pnl, _MONEY),
                "availableBalance": fmt(b.available, _MONEY),
                "maxWithdrawAmount": fmt(b.available, _MONEY),
                "updateTime": upd,
            }
        )
        tot["wallet"] += b.wallet
        tot["upnl"] += b.unrealized_pnl
        tot["margin"] += b.margin_balance
        tot["im"] += b.initial_margin
        tot["avail"] += b.available
    tot["mm"] = sum((p.maint_margin for p in positions), Decimal(0))
    return {
        "totalInitialMargin": fmt(tot["im"], _MONEY),
        "totalMaintMargin": fmt(tot["mm"], _MONEY),
        "totalWalletBalance": fmt(tot["wallet"], _MONEY),
        "totalUnrealizedProfit": fmt(tot["upnl"], _MONEY),
        "totalMarginBalance": fmt(tot["margin"], _MONEY),
        "totalPositionInitialMargin": fmt(sum((p.initial_margin for p in positions), Decimal(0)), _MONEY),
        "totalOpenOrderInitialMargin": fmt(
            tot["im"] - sum((p.initial_margin for p in positions), Decimal(0)), _MONEY
        ),
        "totalCrossWalletBalance": fmt(tot["wallet"], _MONEY),
        "totalCrossUnPnl": fmt(tot["upnl"], _MONEY),
        "availableBalance": fmt(tot["avail"], _MONEY),
        "maxWithdrawAmount": fmt(tot["avail"], _MONEY),
        "assets": assets,
        "positions": [
            {
                "symbol": p.symbol,
                "positionSide": "BOTH",
                "positionAmt": fmt(p.qty, ctx.futures_specs[p.symbol].qty_precision),
                "unrealizedProfit": fmt(p.unrealized_pnl, _MONEY),
                "isolatedMargin": fmt(p.isolated_margin, _MONEY),
                "notional": fmt(p.notional, _MONEY),
                "isolatedWallet": fmt(p.isolated_margin, _MONEY),
                "initialMargin": fmt(p.initial_margin, _MONEY),
                "maintMargin": fmt(p.maint_margin, _MONEY),
                "updateTime": p.update_ms,
            }
            for p in positions
            if p.qty != 0
        ],
    }


def _leverage_bracket(ctx: SimContext, call: Call) -> Any:
    p = call.params
    specs = [_spec(ctx, p)] if p.get("symbol") else list(ctx.futures_specs.values())
    rows = [
        {
            "symbol": s.symbol,
            "notionalCoef": 1.0,
            "brackets": [
                {
                    "bracket": b.bracket,
                    "initialLeverage": b.initial_leverage,
                    "notionalCap": int(b.notional_cap),
                    "notionalFloor": int(b.notional_floor),
                    "maintMarginRatio": float(b.maint_margin_ratio),
                    "cum": float(b.cum),
                }
                for b in leverage_brackets(s)
            ],
        }
        for s in specs
    ]
    return rows[0] if p.get("symbol") else rows


def _position_risk(ctx: SimContext, call: Call) -> list[dict[str, Any]]:
    p = call.params
    symbol = _spec(ctx, p).symbol if p.get("symbol") else None
    out = []
    for pos in ctx.futures.positions(symbol):
        if pos.qty == 0:
            continue
        s = ctx.futures_specs[pos.symbol]
        out.append(
            {
                "symbol": pos.symbol,
                "positionSide": "BOTH",
                "positionAmt": fmt(pos.qty, s.qty_precision),
                "entryPrice": fmt(pos.entry_price, _MONEY),
                "breakEvenPrice": fmt(pos.entry_price, _MONEY),
                "markPrice": fmt(pos.mark_price, _MONEY),
                "unRealizedProfit": fmt(pos.unrealized_pnl, _MONEY),
                "liquidationPrice": fmt(pos.liquidation_price, _MONEY),
                "isolatedMargin": fmt(pos.isolated_margin, _MONEY),
                "notional": fmt(pos.notional, _MONEY),
                "marginAsset": s.quote,
                "isolatedWallet": fmt(pos.isolated_margin, _MONEY),
                "initialMargin": fmt(pos.initial_margin, _MONEY),
                "maintMargin": fmt(pos.maint_margin, _MONEY),
                "positionInitialMargin": fmt(pos.initial_margin, _MONEY),
                "openOrderInitialMargin": "0",
                "adl": 0,
                "bidNotional": "0",
                "askNotional": "0",
                "updateTime": pos.update_ms,
                "leverage": str(pos.leverage),
                "marginType": "isolated" if pos.margin_mode is MarginMode.ISOLATED else "cross",
            }
        )
    return out


def _set_leverage(ctx: SimContext, call: Call) -> dict[str, Any]:
    p = call.params
    s = _spec(ctx, p)
    lev = p.integer("leverage")
    if lev is None:
        p.req("leverage")
    assert lev is not None
    if not 1 <= lev <= s.max_leverage:
        raise EngineReject(-4028, f"Leverage {lev} is not valid")
    ctx.futures.set_leverage(s.symbol, lev)
    return {
        "leverage": lev,
        "maxNotionalValue": str(int(max_notional_for(leverage_brackets(s), lev))),
        "symbol": s.symbol,
    }


_MARGIN_TYPES = {"ISOLATED": MarginMode.ISOLATED, "CROSSED": MarginMode.CROSS, "CROSS": MarginMode.CROSS}


def _set_margin_type(ctx: SimContext, call: Call) -> dict[str, Any]:
    p = call.params
    s = _spec(ctx, p)
    mode = _MARGIN_TYPES.get(p.req("marginType").upper())
    if mode is None:
        raise EngineReject(-1130, "Data sent for parameter 'marginType' is not valid.")
    ctx.futures.set_margin_mode(s.symbol, mode)
    return {"code": 200, "msg": "success"}


def _place_order(ctx: SimContext, call: Call) -> dict[str, Any]:
    p = call.params
    s = _spec(ctx, p)
    side = parse_side(p)
    kind = p.req("type").upper()
    if kind in ("STOP_MARKET", "TAKE_PROFIT_MARKET", "STOP", "TAKE_PROFIT", "TRAILING_STOP_MARKET"):
        raise EngineReject(
            -4120,
            "Order type not supported for this endpoint. Please use the Algo Order API endpoints instead.",
        )
    if kind not in ("MARKET", "LIMIT"):
        raise EngineReject(-1116, "Invalid orderType.")
    if (p.get("positionSide") or "BOTH").upper() != "BOTH":
        raise EngineReject(-4061, "Order's position side does not match user's setting.")
    resp_type = (p.get("newOrderRespType") or "ACK").upper()
    if resp_type not in ("ACK", "RESULT"):
        raise EngineReject(-1130, "Data sent for parameter 'newOrderRespType' is not valid.")
    limit = kind == "LIMIT"
    req = PlaceRequest(
        symbol=s.symbol,
        side=side,
        type=OrderType.LIMIT if limit else OrderType.MARKET,
        qty=p.decimal("quantity", required=True),
        price=p.decimal("price", required=True) if limit else None,
        time_in_force=parse_tif(p, required=limit),
        reduce_only=p.boolean("reduceOnly"),
        client_id=check_client_id("newClientOrderId", p.get("newClientOrderId")),
    )
    order = ctx.futures.place(req)
    return render_order(order, s, ack=resp_type == "ACK")


def _cancel_order(ctx: SimContext, call: Call) -> dict[str, Any]:
    s = _spec(ctx, call.params)
    oid, cid = order_lookup(call.params, "orderId", "origClientOrderId")
    return render_order(ctx.futures.cancel(s.symbol, order_id=oid, client_id=cid), s)


def _get_order(ctx: SimContext, call: Call) -> dict[str, Any]:
    s = _spec(ctx, call.params)
    oid, cid = order_lookup(call.params, "orderId", "origClientOrderId")
    return render_order(ctx.futures.order(s.symbol, order_id=oid, client_id=cid), s)


def _open_order(ctx: SimContext, call: Call) -> dict[str, Any]:
    s = _spec(ctx, call.params)
    oid, cid = order_lookup(call.params, "orderId", "origClientOrderId")
    order = ctx.futures.order(s.symbol, order_id=oid, client_id=cid)
    if order.status not in ("NEW", "PARTIALLY_FILLED"):
        raise EngineReject(-2013, "Order does not exist.")
    return render_order(order, s)


def _open_orders(ctx: SimContext, call: Call) -> list[dict[str, Any]]:
    p = call.params
    symbol = _spec(ctx, p).symbol if p.get("symbol") else None
    return [render_order(o, ctx.futures_specs[o.symbol]) for o in ctx.futures.open_orders(symbol)]


def _cancel_all(ctx: SimContext, call: Call, conditional: bool) -> dict[str, Any]:
    s = _spec(ctx, call.params)
    for o in ctx.futures.open_orders(s.symbol, conditional=conditional):
        ctx.futures.cancel(s.symbol, order_id=o.order_id, conditional=conditional)
    return {"code": 200, "msg": "The operation of cancel all open order is done."}


def _place_algo(ctx: SimContext, call: Call) -> dict[str, Any]:
    p = call.params
    if p.req("algoType").upper() != "CONDITIONAL":
        raise EngineReject(-1130, "Data sent for parameter 'algoType' is not valid.")
    s = _spec(ctx, p)
    side = parse_side(p)
    kind = {"STOP_MARKET": OrderType.STOP_MARKET, "TAKE_PROFIT_MARKET": OrderType.TAKE_PROFIT_MARKET}.get(
        p.req("type").upper()
    )
    if kind is None:
        raise EngineReject(-1116, "Invalid orderType.")
    close = p.boolean("closePosition")
    if close and "reduceOnly" in p:
        raise EngineReject(-1106, "Parameter 'reduceonly' sent when not required.")
    if close and p.get("quantity") is not None:
        raise EngineReject(-1106, "Parameter 'quantity' sent when not required.")
    req = PlaceRequest(
        symbol=s.symbol,
        side=side,
        type=kind,
        qty=None if close else p.decimal("quantity", required=True),
        trigger_price=p.decimal("triggerPrice", required=True),
        reduce_only=p.boolean("reduceOnly"),
        close_position=close,
        client_id=check_client_id("clientAlgoId", p.get("clientAlgoId")),
    )
    return render_algo(ctx.futures.place(req), s)


def _cancel_algo(ctx: SimContext, call: Call) -> dict[str, Any]:
    p = call.params
    oid, cid = order_lookup(p, "algoId", "clientAlgoId")
    symbol = _spec(ctx, p).symbol if p.get("symbol") else _algo_symbol(ctx, oid, cid)
    o = ctx.futures.cancel(symbol, order_id=oid, client_id=cid, conditional=True)
    return {"algoId": o.order_id, "clientAlgoId": o.client_id, "code": "200", "msg": "success"}


def _algo_symbol(ctx: SimContext, oid: int | None, cid: str | None) -> str:
    for symbol in ctx.futures_specs:
        try:
            ctx.futures.order(symbol, order_id=oid, client_id=cid, conditional=True)
        except EngineReject:
            continue
        return symbol
    raise EngineReject(-2013, "Order does not exist.")


def _get_algo(ctx: SimContext, call: Call) -> dict[str, Any]:
    p = call.params
    oid, cid = order_lookup(p, "algoId", "clientAlgoId")
    symbol = _spec(ctx, p).symbol if p.get("symbol") else _algo_symbol(ctx, oid, cid)
    return render_algo(
        ctx.futures.order(symbol, order_id=oid, client_id=cid, conditional=True), ctx.futures_specs[symbol]
    )


def _open_algo(ctx: SimContext, call: Call) -> list[dict[str, Any]]:
    p = call.params
    symbol = _spec(ctx, p).symbol if p.get("symbol") else None
    return [
        render_algo(o, ctx.futures_specs[o.symbol]) for o in ctx.futures.open_orders(symbol, conditional=True)
    ]


def _user_trades(ctx: SimContext, call: Call) -> list[dict[str, Any]]:
    p = call.params
    s = _spec(ctx, p)
    limit = p.integer("limit", 500, 1, 1000) or 500
    trades = ctx.futures.user_trades(
        s.symbol, p.integer("startTime"), p.integer("endTime"), p.integer("fromId"), limit
    )
    return [render_trade(t, s) for t in ctx.faults.mangle_trades(trades)]


def _ping(ctx: SimContext, call: Call) -> dict[str, Any]:
    return {}


def _ep(
    method: str, path: str, handler: Any, cls: str, weight: Any = 1, signed: bool = True, orders: bool = False
) -> Endpoint:
    return binance_endpoint("/fapi", method, path, handler, cls, weight, signed=signed, orders=orders)


FUTURES_ROUTES: tuple[Endpoint, ...] = (
    _ep("GET", "/v1/ping", _ping, "market_data", signed=False),
    _ep("GET", "/v1/exchangeInfo", _exchange_info, "market_data", signed=False),
    _ep("GET", "/v1/time", _time, "market_data", signed=False),
    _ep("GET", "/v1/klines", _klines, "market_data", bc.klines_weight, signed=False),
    _ep("GET", "/v1/ticker/24hr", _ticker_24h, "market_data", bc.by_symbol(1, 40), signed=False),
    _ep("GET", "/v1/ticker/bookTicker", _book_ticker, "market_data", bc.by_symbol(2, 5), signed=False),
    _ep("GET", "/v3/account", _account, "account", 5),
    _ep("GET", "/v1/leverageBracket", _leverage_bracket, "account", 1),
    _ep("GET", "/v3/positionRisk", _position_risk, "account", 5),
    _ep("POST", "/v1/leverage", _set_leverage, "account", 1),
    _ep("POST", "/v1/marginType", _set_margin_type, "account", 1),
    _ep("POST", "/v1/order", _place_order, "order_create", 1, orders=True),
    _ep("DELETE", "/v1/order", _cancel_order, "order_cancel", 1),
    _ep("GET", "/v1/order", _get_order, "order_query", 1),
    _ep("GET", "/v1/openOrder", _open_order, "order_query", 1),
    _ep("GET", "/v1/openOrders", _open_orders, "order_query", bc.by_symbol(1, 40)),
    _ep("DELETE", "/v1/allOpenOrders", lambda c, k: _cancel_all(c, k, False), "order_cancel", 1),
    _ep("POST", "/v1/algoOrder", _place_algo, "order_create", 1, orders=True),
    _ep("DELETE", "/v1/algoOrder", _cancel_algo, "order_cancel", 1),
    _ep("GET", "/v1/algoOrder", _get_algo, "order_query", 1),
    _ep("GET", "/v1/openAlgoOrders", _open_algo, "order_query", bc.by_symbol(1, 40)),
    _ep("DELETE", "/v1/algoOpenOrders", lambda c, k: _cancel_all(c, k, True), "order_cancel", 1),
    _ep("GET", "/v1/userTrades", _user_trades, "order_query", 5),
)
