"""Binance spot REST dialect (``/api/v3/...``) of the simulator: the subset ccxt's ``binance`` uses for a
spot account (markets, time, klines, tickers, account, orders, open orders, my trades).

Order types: MARKET (``quantity``, or ``quoteOrderQty`` converted at the current best price), LIMIT and
LIMIT_MAKER (post-only). Response types ACK / RESULT / FULL as Binance (FULL adds ``fills``). A cancel
answers with ``origClientOrderId`` = the order's id and ``clientOrderId`` = the cancel's own id, as Binance.
"""

from __future__ import annotations

import json
from decimal import ROUND_DOWN, Decimal
from typing import TYPE_CHECKING, Any

from eclipse.venues.sim import binance_common as bc
from eclipse.venues.sim.auth import Call, Endpoint
from eclipse.venues.sim.binance_common import (
    binance_endpoint,
    check_client_id,
    fmt,
    order_lookup,
    parse_side,
    parse_tif,
)
from eclipse.venues.sim.model import EngineReject, InstrumentSpec, OrderView, PlaceRequest, TradeView
from eclipse.venues.sim.rules import max_price
from eclipse.venues.types import OrderType, Side, TimeInForce

if TYPE_CHECKING:
    from eclipse.venues.sim.server import SimContext

__all__ = ["SPOT_ROUTES", "exchange_info_spot_parts"]

_P8 = 8
SPOT_ORDER_TYPES = ["LIMIT", "LIMIT_MAKER", "MARKET"]


def _spec(ctx: SimContext, symbol: str) -> InstrumentSpec:
    spec = ctx.spot_specs.get(symbol.upper())
    if spec is None:
        raise EngineReject(-1121, "Invalid symbol.")
    return spec


def _symbol_spec(ctx: SimContext, call: Call) -> InstrumentSpec:
    return _spec(ctx, call.params.req("symbol"))


def exchange_info_spot(specs: dict[str, InstrumentSpec]) -> dict[str, Any]:
    """The static part of ``GET /api/v3/exchangeInfo``."""
    symbols = []
    for s in specs.values():
        lot = {
            "minQty": fmt(s.min_qty, _P8),
            "maxQty": fmt(s.max_qty, _P8),
            "stepSize": fmt(s.step_size, _P8),
        }
        symbols.append(
            {
                "symbol": s.symbol,
                "status": "TRADING",
                "baseAsset": s.base,
                "baseAssetPrecision": 8,
                "quoteAsset": s.quote,
                "quotePrecision": 8,
                "quoteAssetPrecision": 8,
                "baseCommissionPrecision": 8,
                "quoteCommissionPrecision": 8,
                "orderTypes": SPOT_ORDER_TYPES,
                "icebergAllowed": False,
                "ocoAllowed": False,
                "otoAllowed": False,
                "quoteOrderQtyMarketAllowed": True,
                "allowTrailingStop": False,
                "cancelReplaceAllowed": False,
                "isSpotTradingAllowed": True,
                "isMarginTradingAllowed": False,
                "filters": [
                    {
                        "filterType": "PRICE_FILTER",
                        "minPrice": fmt(s.tick_size, _P8),
                        "maxPrice": fmt(max_price(s), _P8),
                        "tickSize": fmt(s.tick_size, _P8),
                    },
                    {"filterType": "LOT_SIZE", **lot},
                    {"filterType": "MARKET_LOT_SIZE", **lot},
                    {
                        "filterType": "NOTIONAL",
                        "minNotional": fmt(s.min_notional, _P8),
                        "applyMinToMarket": True,
                        "maxNotional": "9000000.00000000",
                        "applyMaxToMarket": False,
                        "avgPriceMins": 5,
                    },
                    {"filterType": "MAX_NUM_ORDERS", "maxNumOrders": 200},
                ],
                "permissions": [],
                "permissionSets": [["SPOT"]],
                "defaultSelfTradePreventionMode": "EXPIRE_MAKER",
                "allowedSelfTradePreventionModes": ["NONE", "EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH"],
            }
        )
    return {
        "timezone": "UTC",
        "rateLimits": [
            {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 6000},
            {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 100},
            {"rateLimitType": "ORDERS", "interval": "DAY", "intervalNum": 1, "limit": 200000},
        ],
        "exchangeFilters": [],
        "symbols": symbols,
    }


def exchange_info_spot_parts(specs: dict[str, InstrumentSpec]) -> tuple[bytes, bytes]:
    """Spot ``exchangeInfo`` pre-encoded around its ``serverTime`` value: (head, tail)."""
    body = json.dumps({"serverTime": 0, **exchange_info_spot(specs)}, separators=(",", ":"))
    head, _, tail = body.partition('"serverTime":0')
    return (head + '"serverTime":').encode(), tail.encode()


def _type_out(o: OrderView) -> str:
    if o.type is OrderType.MARKET:
        return "MARKET"
    return "LIMIT_MAKER" if o.time_in_force is TimeInForce.GTX else "LIMIT"


def _tif_out(o: OrderView) -> str:
    tif = o.time_in_force
    return "GTC" if tif is None or tif is TimeInForce.GTX else tif.value


def render_order(o: OrderView, s: InstrumentSpec) -> dict[str, Any]:
    """A spot order as ``GET /api/v3/order`` answers."""
    pp, qp = s.price_precision, s.qty_precision
    return {
        "symbol": o.symbol,
        "orderId": o.order_id,
        "orderListId": -1,
        "clientOrderId": o.client_id,
        "price": fmt(o.price, pp),
        "origQty": fmt(o.qty, qp),
        "executedQty": fmt(o.filled, qp),
        "cummulativeQuoteQty": fmt(o.cum_quote, _P8),
        "status": o.status,
        "timeInForce": _tif_out(o),
        "type": _type_out(o),
        "side": o.side.value.upper(),
        "stopPrice": fmt(Decimal(0), pp),
        "icebergQty": fmt(Decimal(0), qp),
        "time": o.created_ms,
        "updateTime": o.updated_ms,
        "isWorking": True,
        "workingTime": o.created_ms,
        "origQuoteOrderQty": "0.00000000",
        "selfTradePreventionMode": "EXPIRE_MAKER",
    }


def render_fill(t: TradeView, s: InstrumentSpec) -> dict[str, Any]:
    """One entry of a FULL response's ``fills``."""
    return {
        "price": fmt(t.price, s.price_precision),
        "qty": fmt(t.qty, s.qty_precision),
        "commission": fmt(t.commission, _P8),
        "commissionAsset": t.commission_asset,
        "tradeId": t.trade_id,
    }


def render_trade(t: TradeView, s: InstrumentSpec) -> dict[str, Any]:
    """One ``myTrades`` row."""
    return {
        "symbol": t.symbol,
        "id": t.trade_id,
        "orderId": t.order_id,
        "orderListId": -1,
        "price": fmt(t.price, s.price_precision),
        "qty": fmt(t.qty, s.qty_precision),
        "quoteQty": fmt(t.quote_qty, _P8),
        "commission": fmt(t.commission, _P8),
        "commissionAsset": t.commission_asset,
        "time": t.ts_ms,
        "isBuyer": t.side is Side.BUY,
        "isMaker": t.maker,
        "isBestMatch": True,
    }


def _exchange_info(ctx: SimContext, call: Call) -> bytes:
    head, tail = ctx.cache["api_exchange_info"]
    return head + str(call.server_ms).encode() + tail


def _time(ctx: SimContext, call: Call) -> dict[str, Any]:
    return {"serverTime": call.server_ms}


def _ping(ctx: SimContext, call: Call) -> dict[str, Any]:
    return {}


def _klines(ctx: SimContext, call: Call) -> list[list[Any]]:
    return bc.klines(ctx, _symbol_spec(ctx, call), call.params)


def _ticker_24h(ctx: SimContext, call: Call) -> Any:
    if call.params.get("symbol"):
        return bc.ticker_24h(ctx, _symbol_spec(ctx, call), spot=True)
    return [bc.ticker_24h(ctx, s, spot=True) for s in ctx.spot_specs.values()]


def _book_ticker(ctx: SimContext, call: Call) -> Any:
    if call.params.get("symbol"):
        return bc.book_ticker(ctx, _symbol_spec(ctx, call), futures=False)
    return [bc.book_ticker(ctx, s, futures=False) for s in ctx.spot_specs.values()]


def _account(ctx: SimContext, call: Call) -> dict[str, Any]:
    balances = ctx.spot.balances()
    omit_zero = call.params.boolean("omitZeroBalances")
    update = max((b.update_ms for b in balances), default=0) or ctx.started_ms
    return {
        "makerCommission": 10,
        "takerCommission": 10,
        "buyerCommission": 0,
        "sellerCommission": 0,
        "commissionRates": {
            "maker": "0.00100000",
            "taker": "0.00100000",
            "buyer": "0.00000000",
            "seller": "0.00000000",
        },
        "canTrade": True,
        "canWithdraw": False,
        "canDeposit": False,
        "brokered": False,
        "requireSelfTradePrevention": False,
        "preventSor": False,
        "updateTime": update,
        "accountType": "SPOT",
        "balances": [
            {"asset": b.asset, "free": fmt(b.available, _P8), "locked": fmt(b.locked, _P8)}
            for b in balances
            if not (omit_zero and b.available == 0 and b.locked == 0)
        ],
        "permissions": ["SPOT"],
        "uid": 1,
    }


def _market_qty(ctx: SimContext, s: InstrumentSpec, side: Side, quote_qty: Decimal) -> Decimal:
    quote = ctx.feed.bid_ask(s.symbol)
    price = Decimal(str(quote.ask if side is Side.BUY else quote.bid))
    if price <= 0:
        raise EngineReject(-1013, "Filter failure: NOTIONAL")
    return (quote_qty / price / s.step_size).to_integral_value(rounding=ROUND_DOWN) * s.step_size


def _place_order(ctx: SimContext, call: Call) -> dict[str, Any]:
    p = call.params
    s = _symbol_spec(ctx, call)
    side = parse_side(p)
    kind = p.req("type").upper()
    if kind not in SPOT_ORDER_TYPES:
        raise EngineReject(-1116, "Invalid orderType.")
    resp = (p.get("newOrderRespType") or "FULL").upper()
    if resp not in ("ACK", "RESULT", "FULL"):
        raise EngineReject(-1130, "Data sent for parameter 'newOrderRespType' is not valid.")
    qty = p.decimal("quantity")
    if kind == "MARKET":
        quote_qty = p.decimal("quoteOrderQty")
        if qty is None and quote_qty is None:
            raise EngineReject(
                -1102, "Param 'quantity' or 'quoteOrderQty' must be sent, but both were empty/null!"
            )
        if qty is None and quote_qty is not None:
            qty = _market_qty(ctx, s, side, quote_qty)
        tif = None
    else:
        qty = p.decimal("quantity", required=True)
        tif = TimeInForce.GTX if kind == "LIMIT_MAKER" else parse_tif(p, required=True)
    order = ctx.spot.place(
        PlaceRequest(
            symbol=s.symbol,
            side=side,
            type=OrderType.MARKET if kind == "MARKET" else OrderType.LIMIT,
            qty=qty,
            price=None if kind == "MARKET" else p.decimal("price", required=True),
            time_in_force=tif,
            client_id=check_client_id("newClientOrderId", p.get("newClientOrderId")),
        )
    )
    head = {
        "symbol": order.symbol,
        "orderId": order.order_id,
        "orderListId": -1,
        "clientOrderId": order.client_id,
        "transactTime": order.updated_ms,
    }
    if resp == "ACK":
        return head
    full = render_order(order, s)
    out = head | {k: full[k] for k in ("price", "origQty", "executedQty", "cummulativeQuoteQty", "status")}
    out |= {
        "timeInForce": full["timeInForce"],
        "type": full["type"],
        "side": full["side"],
        "workingTime": order.created_ms,
        "origQuoteOrderQty": "0.00000000",
        "selfTradePreventionMode": "EXPIRE_MAKER",
    }
    if resp == "FULL":
        trades = ctx.spot.user_trades(s.symbol, order.created_ms, None, None, 1000)
        out["fills"] = [render_fill(t, s) for t in trades if t.order_id == order.order_id]
    return out


def _cancel_order(ctx: SimContext, call: Call) -> dict[str, Any]:
    p = call.params
    s = _symbol_spec(ctx, call)
    oid, cid = order_lookup(p, "orderId", "origClientOrderId")
    o = ctx.spot.cancel(s.symbol, order_id=oid, client_id=cid)
    full = render_order(o, s)
    cancel_id = check_client_id("newClientOrderId", p.get("newClientOrderId")) or f"sim-cancel-{o.order_id}"
    keep = ("price", "origQty", "executedQty", "cummulativeQuoteQty", "status", "timeInForce", "type", "side")
    return {
        "symbol": o.symbol,
        "origClientOrderId": o.client_id,
        "orderId": o.order_id,
        "orderListId": -1,
        "clientOrderId": cancel_id,
        "transactTime": o.updated_ms,
        **{k: full[k] for k in keep},
        "selfTradePreventionMode": "EXPIRE_MAKER",
    }


def _get_order(ctx: SimContext, call: Call) -> dict[str, Any]:
    s = _symbol_spec(ctx, call)
    oid, cid = order_lookup(call.params, "orderId", "origClientOrderId")
    return render_order(ctx.spot.order(s.symbol, order_id=oid, client_id=cid), s)


def _open_orders(ctx: SimContext, call: Call) -> list[dict[str, Any]]:
    symbol = _symbol_spec(ctx, call).symbol if call.params.get("symbol") else None
    return [render_order(o, ctx.spot_specs[o.symbol]) for o in ctx.spot.open_orders(symbol)]


def _my_trades(ctx: SimContext, call: Call) -> list[dict[str, Any]]:
    p = call.params
    s = _symbol_spec(ctx, call)
    trades = ctx.spot.user_trades(
        s.symbol,
        p.integer("startTime"),
        p.integer("endTime"),
        p.integer("fromId"),
        p.integer("limit", 500, 1, 1000) or 500,
    )
    if p.get("orderId") is not None:
        oid = p.integer("orderId")
        trades = [t for t in trades if t.order_id == oid]
    return [render_trade(t, s) for t in ctx.faults.mangle_trades(trades)]


def _ep(
    method: str, path: str, handler: Any, cls: str, weight: Any, signed: bool = True, orders: bool = False
) -> Endpoint:
    return binance_endpoint("/api", method, path, handler, cls, weight, signed=signed, orders=orders)


SPOT_ROUTES: tuple[Endpoint, ...] = (
    _ep("GET", "/v3/ping", _ping, "market_data", 1, signed=False),
    _ep("GET", "/v3/exchangeInfo", _exchange_info, "market_data", 20, signed=False),
    _ep("GET", "/v3/time", _time, "market_data", 1, signed=False),
    _ep("GET", "/v3/klines", _klines, "market_data", 2, signed=False),
    _ep("GET", "/v3/ticker/24hr", _ticker_24h, "market_data", bc.by_symbol(2, 80), signed=False),
    _ep("GET", "/v3/ticker/bookTicker", _book_ticker, "market_data", bc.by_symbol(2, 4), signed=False),
    _ep("GET", "/v3/account", _account, "account", 20),
    _ep("POST", "/v3/order", _place_order, "order_create", 1, orders=True),
    _ep("DELETE", "/v3/order", _cancel_order, "order_cancel", 1),
    _ep("GET", "/v3/order", _get_order, "order_query", 4),
    _ep("GET", "/v3/openOrders", _open_orders, "order_query", bc.by_symbol(6, 80)),
    _ep("GET", "/v3/myTrades", _my_trades, "order_query", 20),
)
