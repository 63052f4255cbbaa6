"""ccxt unified structures -> the frozen records of :mod:`eclipse.venues.types`.

ccxt's unified dicts carry floats and lose some venue facts (Binance's ``STOP_MARKET`` becomes ``market``,
``PARTIALLY_FILLED`` becomes ``open``), so each converter prefers the raw venue strings in ``info`` and
falls back to the unified fields. A missing essential field raises :class:`MalformedResponseError` (mapped by
the venue to OUTCOME_UNKNOWN on a state-changing call, NETWORK on a read), never a KeyError; an order of a
type Eclipse does not model raises ``VenueError(NOT_SUPPORTED)`` naming it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from eclipse.venues.types import (
    Balance,
    Candle,
    Fill,
    MarginMode,
    Market,
    MarketKind,
    OrderReport,
    OrderRequest,
    OrderStatus,
    OrderType,
    Position,
    Side,
    Ticker,
    TimeInForce,
)

__all__ = [
    "MalformedResponseError",
    "balances_from_ccxt",
    "candle_from_row",
    "dec",
    "fill_from_ccxt",
    "lookup_params",
    "market_from_ccxt",
    "order_args",
    "order_from_ccxt",
    "order_is_complete",
    "position_from_ccxt",
    "ticker_from_ccxt",
]

Json = Mapping[str, Any]
_DECIMAL_PLACES = 2  # ccxt precisionMode constants
_TICK_SIZE = 4

_STATUS: Mapping[str, OrderStatus] = {
    "NEW": OrderStatus.OPEN,
    "OPEN": OrderStatus.OPEN,
    "PENDING": OrderStatus.OPEN,
    "QUEUED": OrderStatus.OPEN,
    "ACCEPTED": OrderStatus.OPEN,
    "PENDING_CANCEL": OrderStatus.OPEN,
    "CANCEL_QUEUED": OrderStatus.OPEN,
    "EDIT_QUEUED": OrderStatus.OPEN,
    "TRIGGERING": OrderStatus.OPEN,  # Binance algo: trigger hit, order being placed
    "PARTIALLY_FILLED": OrderStatus.PARTIALLY_FILLED,
    "FILLED": OrderStatus.FILLED,
    "CANCELED": OrderStatus.CANCELED,
    "CANCELLED": OrderStatus.CANCELED,
    "REJECTED": OrderStatus.REJECTED,
    "FAILED": OrderStatus.REJECTED,
    "EXPIRED": OrderStatus.EXPIRED,
    "EXPIRED_IN_MATCH": OrderStatus.EXPIRED,
    "TRIGGERED": OrderStatus.TRIGGERED,  # Binance algo: the market order was placed
    "FINISHED": OrderStatus.TRIGGERED,  # Binance algo: ... and it finished
}
_UNIFIED_STATUS: Mapping[str, OrderStatus] = {
    "open": OrderStatus.OPEN,
    "closed": OrderStatus.FILLED,
    "canceled": OrderStatus.CANCELED,
    "rejected": OrderStatus.REJECTED,
    "expired": OrderStatus.EXPIRED,
}
_TYPES: Mapping[str, OrderType] = {
    "MARKET": OrderType.MARKET,
    "LIMIT": OrderType.LIMIT,
    "LIMIT_MAKER": OrderType.LIMIT,
    "STOP_MARKET": OrderType.STOP_MARKET,
    "TAKE_PROFIT_MARKET": OrderType.TAKE_PROFIT_MARKET,
}


class MalformedResponseError(ValueError):
    """A venue response lacks a field Eclipse needs (or has an unreadable value)."""


def dec(value: object) -> Decimal | None:
    """``value`` as a Decimal (floats via their shortest repr); None for None, '' or non-numbers."""
    if value is None or isinstance(value, bool):
        return None
    try:
        out = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None
    return out if out.is_finite() else None


def _nonzero(value: object) -> Decimal | None:
    d = dec(value)
    return d if d is not None and d != 0 else None


def _first(*values: object) -> object:
    return next((v for v in values if v is not None and v != ""), None)


def _need(value: Decimal | None, what: str) -> Decimal:
    if value is None:
        raise MalformedResponseError(f"missing or unreadable {what}")
    return value


def _bool(value: object) -> bool:
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return bool(value)


def _mapping(value: object) -> Json:
    return value if isinstance(value, Mapping) else {}


def _info(obj: Json) -> Json:
    return _mapping(obj.get("info"))


def _grid(precision: object, mode: int) -> Decimal | None:
    d = dec(precision)
    if d is None:
        return None
    if mode == _DECIMAL_PLACES:
        return Decimal(1).scaleb(-int(d))
    return d if mode == _TICK_SIZE else None


def market_from_ccxt(m: Json, precision_mode: int = _TICK_SIZE) -> Market:
    """One ccxt market -> :class:`Market` (Binance filters and Coinbase increments read exactly from info)."""
    info = _info(m)
    raw_filters = info.get("filters")
    filters: dict[str, Json] = {}
    if isinstance(raw_filters, Sequence):
        filters = {str(f.get("filterType")): f for f in raw_filters if isinstance(f, Mapping)}
    price_f, lot_f = filters.get("PRICE_FILTER", {}), filters.get("LOT_SIZE", {})
    notional_f = filters.get("MIN_NOTIONAL") or filters.get("NOTIONAL") or {}
    precision, limits = _mapping(m.get("precision")), _mapping(m.get("limits"))
    amount_l, cost_l = _mapping(limits.get("amount")), _mapping(limits.get("cost"))
    symbol = m.get("symbol")
    if not isinstance(symbol, str) or not symbol:
        raise MalformedResponseError(f"market without a symbol: {m.get('id')!r}")
    what = f"market {symbol}"
    tick = _nonzero(price_f.get("tickSize")) or _nonzero(info.get("quote_increment"))
    tick = tick or _grid(precision.get("price"), precision_mode)
    step = _nonzero(lot_f.get("stepSize")) or _nonzero(info.get("base_increment"))
    step = step or _grid(precision.get("amount"), precision_mode)
    min_qty = dec(_first(lot_f.get("minQty"), info.get("base_min_size"), amount_l.get("min"))) or Decimal(0)
    max_qty = _nonzero(_first(lot_f.get("maxQty"), info.get("base_max_size"), amount_l.get("max")))
    min_notional = dec(
        _first(
            notional_f.get("notional"),
            notional_f.get("minNotional"),
            info.get("quote_min_size"),
            cost_l.get("min"),
        )
    )
    linear = bool(m.get("contract")) and bool(m.get("linear"))
    return Market(
        symbol=symbol,
        venue_symbol=str(m.get("id") or symbol),
        base=str(m.get("base") or ""),
        quote=str(m.get("quote") or ""),
        kind=MarketKind.LINEAR if linear else MarketKind.SPOT,
        tick_size=_need(tick, f"{what} tick size"),
        step_size=_need(step, f"{what} step size"),
        min_qty=min_qty,
        max_qty=max_qty,
        min_notional=min_notional or Decimal(0),
        settle=str(m["settle"]) if m.get("settle") else None,
        contract_size=_nonzero(m.get("contractSize")) or Decimal(1),
        active=m.get("active") is not False,
    )


def candle_from_row(row: Sequence[Any]) -> Candle:
    """``[ts, open, high, low, close, volume]`` -> :class:`Candle`."""
    try:
        ts, o, h, low, c = int(row[0]), float(row[1]), float(row[2]), float(row[3]), float(row[4])
        v = float(row[5]) if len(row) > 5 and row[5] is not None else 0.0
    except (TypeError, ValueError, IndexError) as exc:
        raise MalformedResponseError(f"unreadable OHLCV row {list(row)[:6]!r}") from exc
    return Candle(ts, o, h, low, c, v)


def ticker_from_ccxt(symbol: str, t: Json, now_ms: int) -> Ticker:
    """A ccxt ticker -> :class:`Ticker` (``last`` falls back to ``close``)."""
    last = _need(dec(_first(t.get("last"), t.get("close"))), f"last price of {symbol}")
    ts = t.get("timestamp")
    return Ticker(
        symbol=str(t.get("symbol") or symbol),
        ts_ms=int(ts) if isinstance(ts, int | float) else now_ms,
        last=last,
        bid=_nonzero(t.get("bid")),
        ask=_nonzero(t.get("ask")),
    )


def balances_from_ccxt(b: Json) -> dict[str, Balance]:
    """A ccxt balance -> balances by asset (assets with neither free, used nor total are skipped)."""
    free, used, total = (_mapping(b.get(k)) for k in ("free", "used", "total"))
    out: dict[str, Balance] = {}
    for asset in sorted(set(free) | set(used) | set(total)):
        f, u, t = dec(free.get(asset)), dec(used.get(asset)), dec(total.get(asset))
        if f is None and u is None and t is None:
            continue
        f0, u0 = f or Decimal(0), u or Decimal(0)
        out[asset] = Balance(asset=asset, free=f0, used=u0, total=t if t is not None else f0 + u0)
    return out


def position_from_ccxt(p: Json, now_ms: int) -> Position | None:
    """A ccxt position -> :class:`Position`, or None when it is flat."""
    info = _info(p)
    symbol = p.get("symbol")
    if not isinstance(symbol, str):
        raise MalformedResponseError(f"position without a symbol: {dict(info)!r}")
    amount = dec(info.get("positionAmt"))
    contracts = abs(amount) if amount is not None else dec(p.get("contracts"))
    if contracts is None or contracts == 0:
        return None
    qty = contracts * (_nonzero(p.get("contractSize")) or Decimal(1))
    raw_side = str(p.get("side") or "").lower()
    if amount is not None and amount != 0 and raw_side not in ("long", "short"):
        raw_side = "long" if amount > 0 else "short"
    if raw_side not in ("long", "short"):
        raise MalformedResponseError(f"position {symbol} has no side")
    entry = _need(dec(_first(info.get("entryPrice"), p.get("entryPrice"))), f"entry price of {symbol}")
    mode = str(p.get("marginMode") or "").lower()
    lev = dec(p.get("leverage"))
    notional = dec(_first(info.get("notional"), p.get("notional")))
    ts = p.get("timestamp")
    return Position(
        symbol=symbol,
        side=Side.BUY if raw_side == "long" else Side.SELL,
        qty=qty,
        entry_price=entry,
        mark_price=_nonzero(_first(info.get("markPrice"), p.get("markPrice"))),
        unrealized_pnl=dec(_first(info.get("unRealizedProfit"), p.get("unrealizedPnl"))) or Decimal(0),
        liquidation_price=_nonzero(_first(info.get("liquidationPrice"), p.get("liquidationPrice"))),
        leverage=int(lev) if lev is not None else None,
        margin_mode=MarginMode(mode) if mode in ("isolated", "cross") else None,
        notional=abs(notional) if notional is not None else qty * entry,
        ts_ms=int(ts) if isinstance(ts, int | float) and ts > 0 else now_ms,
    )


def _status(o: Json, info: Json, filled: Decimal) -> OrderStatus | None:
    raw = _first(info.get("algoStatus"), info.get("status"))
    if isinstance(raw, str) and raw.upper() in _STATUS:
        status = _STATUS[raw.upper()]
    elif isinstance(o.get("status"), str) and o["status"] in _UNIFIED_STATUS:
        status = _UNIFIED_STATUS[o["status"]]
    elif raw is None and o.get("status") is None:
        return None
    else:
        raise MalformedResponseError(f"unknown order status {raw or o.get('status')!r}")
    if status is OrderStatus.OPEN and filled > 0:
        return OrderStatus.PARTIALLY_FILLED
    return status


def _type(o: Json, info: Json) -> OrderType | None:
    raw = _first(info.get("orderType"), info.get("type"), info.get("order_type"))
    if isinstance(raw, str):
        # A type Eclipse never places (trailing stop, stop-limit, bracket...) is still an order on the
        # account: report it as OTHER rather than fail a whole listing (reconcile must see it).
        return _TYPES.get(raw.upper(), OrderType.OTHER)
    unified = o.get("type")
    return _TYPES.get(unified.upper()) if isinstance(unified, str) else None


def order_from_ccxt(
    o: Json, *, now_ms: int, conditional: bool = False, request: OrderRequest | None = None
) -> OrderReport:
    """A ccxt order -> :class:`OrderReport`.

    ``request`` (on create) fills what a sparse acknowledgement omits; such an order is reported OPEN with
    nothing filled until :meth:`fetch_order` says otherwise. An algo order (``algoId`` in ``info``) reports
    its ``actualOrderId`` as ``triggered_order_id``.
    """
    info = _info(o)
    order_id = _first(o.get("id"), info.get("orderId"), info.get("algoId"), info.get("order_id"))
    if order_id is None:
        raise MalformedResponseError("order response without an order id")
    side_raw = o.get("side")
    side = Side(side_raw) if side_raw in ("buy", "sell") else (request.side if request else None)
    otype = _type(o, info) or (request.type if request else None)
    symbol = o.get("symbol") or (request.symbol if request else None)
    filled = dec(_first(info.get("executedQty"), o.get("filled"))) or Decimal(0)
    status = _status(o, info, filled) or (OrderStatus.OPEN if request else None)
    if side is None or otype is None or not symbol or status is None:
        raise MalformedResponseError(f"order {order_id} lacks side, type, symbol or status")
    close_position = _bool(info.get("closePosition")) or bool(request and request.close_position)
    qty = _nonzero(_first(info.get("origQty"), info.get("quantity"), o.get("amount")))
    if qty is None and request is not None:
        qty = request.qty
    reduce_raw = _first(info.get("reduceOnly"), o.get("reduceOnly"))
    ts = o.get("timestamp")
    ts_ms = int(ts) if isinstance(ts, int | float) and ts > 0 else now_ms
    upd = o.get("lastUpdateTimestamp")
    return OrderReport(
        symbol=str(symbol),
        order_id=str(order_id),
        client_order_id=_str_or_none(o.get("clientOrderId"))
        or (request.client_order_id if request else None),
        side=side,
        type=otype,
        status=status,
        qty=None if close_position and qty is None else qty,
        filled=filled,
        avg_price=_nonzero(_first(info.get("avgPrice"), o.get("average"))),
        price=_nonzero(_first(info.get("price"), o.get("price"))) or (request.price if request else None),
        trigger_price=_nonzero(_first(info.get("triggerPrice"), info.get("stopPrice"), o.get("triggerPrice")))
        or (request.trigger_price if request else None),
        reduce_only=_bool(reduce_raw) if reduce_raw is not None else bool(request and request.reduce_only),
        close_position=close_position,
        ts_ms=ts_ms,
        update_ms=int(upd) if isinstance(upd, int | float) and upd > 0 else ts_ms,
        conditional=conditional or "algoId" in info or bool(request and request.type.conditional),
        triggered_order_id=_actual_order_id(info),
    )


def _actual_order_id(info: Json) -> str | None:
    """A Binance algo order's ``actualOrderId`` (the regular order it became when it triggered); None for a
    regular order or an algo order that has not triggered ("", "0", 0 or missing)."""
    if "algoId" not in info:
        return None
    raw = info.get("actualOrderId")
    if raw is None or isinstance(raw, bool):
        return None
    text = str(raw).strip()
    return None if text in ("", "0") else text


def order_is_complete(o: Json) -> bool:
    """True when a ccxt order carries side, type and status (a cancel acknowledgement may not)."""
    info = _info(o)
    return (
        o.get("side") in ("buy", "sell")
        and (o.get("type") is not None or _first(info.get("orderType"), info.get("type")) is not None)
        and _first(info.get("algoStatus"), info.get("status"), o.get("status")) is not None
        and bool(o.get("symbol"))
    )


def _str_or_none(value: object) -> str | None:
    return str(value) if value not in (None, "") else None


def fill_from_ccxt(t: Json, now_ms: int) -> Fill:
    """A ccxt trade of this account -> :class:`Fill` (raw Binance strings preferred)."""
    info = _info(t)
    trade_id, order_id = t.get("id"), _first(t.get("order"), info.get("orderId"), info.get("order_id"))
    side = t.get("side")
    if trade_id is None or order_id is None or side not in ("buy", "sell") or not t.get("symbol"):
        raise MalformedResponseError(f"trade {trade_id!r} lacks id, order, side or symbol")
    fee = _mapping(t.get("fee"))
    ts = t.get("timestamp")
    return Fill(
        trade_id=str(trade_id),
        order_id=str(order_id),
        symbol=str(t["symbol"]),
        side=Side(side),
        price=_need(dec(_first(info.get("price"), t.get("price"))), f"price of trade {trade_id}"),
        qty=_need(dec(_first(info.get("qty"), t.get("amount"))), f"qty of trade {trade_id}"),
        fee=dec(_first(info.get("commission"), fee.get("cost"))) or Decimal(0),
        fee_asset=str(_first(info.get("commissionAsset"), fee.get("currency")) or ""),
        ts_ms=int(ts) if isinstance(ts, int | float) else now_ms,
        maker=t.get("takerOrMaker") == "maker",
        realized_pnl=dec(info.get("realizedPnl")) or Decimal(0),
        client_order_id=_str_or_none(info.get("clientOrderId")),
    )


# --- the other direction: a checked OrderRequest -> ccxt create_order arguments ------------------------


def order_args(exchange_id: str, req: OrderRequest) -> tuple[str, float | None, float | None, dict[str, Any]]:
    """``(type, amount, price, params)`` for ccxt ``create_order`` of a checked request.

    Client ids: Binance ``newClientOrderId``, USD-M conditionals ``clientAlgoId`` (algo endpoint), Coinbase
    ``client_order_id`` (ccxt drops the unified one). Post-only: ``postOnly`` (GTX on USD-M, LIMIT_MAKER on
    spot). Coinbase market orders carry ``base_size`` (the quantity, not a quote amount). ``reduce_only`` is
    dropped on spot venues.
    """
    params: dict[str, Any] = {}
    amount = float(req.qty) if req.qty is not None else None
    price = float(req.price) if req.price is not None else None
    otype = "limit" if req.type is OrderType.LIMIT else "market"
    if req.type is OrderType.LIMIT:
        if req.post_only or req.time_in_force is TimeInForce.GTX:
            params["postOnly"] = True
        elif req.time_in_force is not None:
            params["timeInForce"] = req.time_in_force.value
    if exchange_id == "coinbase":
        params["client_order_id"] = req.client_order_id
        if req.type is OrderType.MARKET:
            size = format(req.qty, "f") if req.qty is not None else None
            params["order_configuration"] = {"market_market_ioc": {"base_size": size}}
            params["createMarketBuyOrderRequiresPrice"] = False
        return otype, amount, price, params
    if req.type.conditional:
        params["clientAlgoId"] = req.client_order_id
        key = "stopLossPrice" if req.type is OrderType.STOP_MARKET else "takeProfitPrice"
        params[key] = float(req.trigger_price) if req.trigger_price is not None else None
        if req.close_position:
            params["closePosition"] = True
        elif req.reduce_only:
            params["reduceOnly"] = True
        return "market", amount, None, params
    params["newClientOrderId"] = req.client_order_id
    if req.reduce_only and exchange_id == "binanceusdm":
        params["reduceOnly"] = True
    return otype, amount, price, params


def lookup_params(client_order_id: str | None, conditional: bool) -> dict[str, Any]:
    """Binance params of fetch/cancel: ``origClientOrderId`` or, in the algo book, ``clientAlgoId`` +
    ``trigger``."""
    params: dict[str, Any] = {"trigger": True} if conditional else {}
    if client_order_id is not None:
        params["clientAlgoId" if conditional else "origClientOrderId"] = client_order_id
    return params
