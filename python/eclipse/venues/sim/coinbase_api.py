"""A small Coinbase Advanced Trade surface over the simulator's spot engine: what ccxt's ``coinbase`` class
calls to list products, read the ticker and candles, place, look up, list and cancel orders, list fills and
balances.

Products are the spot listing with Coinbase ids (``BTCUSDT`` -> ``BTC-USDT``); order ids are the engine's
ids as strings. Auth: the legacy HMAC key (``CB-ACCESS-KEY`` / ``CB-ACCESS-SIGN`` / ``CB-ACCESS-TIMESTAMP``).
A reused ``client_order_id`` returns the original order, as Coinbase does. ``/v2`` currency and rate
calls answer minimally (ccxt's ``fetchCurrencies``).

Market data comes from the feed (market time): the ticker's best bid/ask is the feed's quote and, the
simulator having no public trade tape, its ``trades`` hold one print at the last price. Candles take
Coinbase's granularity names and ``start``/``end`` in Unix seconds (bars opening in ``[start, end)``, at most
350, newest first). ``orders/historical/batch`` lists the account's orders newest first (filters
``order_status``, ``product_id``/``product_ids``, ``order_ids``, ``order_side``, ``order_types``,
``start_date``/``end_date``; ``limit`` + ``cursor`` pages); repeated list parameters arrive folded into one
comma-separated value (see the server). Finished orders are listed while the engine keeps them in memory.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from eclipse.venues.sim.auth import Call, Endpoint, HttpError, Security, digits
from eclipse.venues.sim.binance_common import ffmt, fmt
from eclipse.venues.sim.market import INTERVALS, FeedError
from eclipse.venues.sim.model import EngineReject, InstrumentSpec, OrderView, PlaceRequest
from eclipse.venues.types import OrderType, Side, TimeInForce

if TYPE_CHECKING:
    from eclipse.venues.sim.server import SimContext

__all__ = ["COINBASE_ORDER_PREFIX", "COINBASE_ROUTES", "GRANULARITIES", "iso_ms", "render_order"]

COINBASE_ORDER_PREFIX = "/api/v3/brokerage/orders/historical/"
_BROKERAGE = "/api/v3/brokerage"
_STATUS = {
    "NEW": "OPEN",
    "PARTIALLY_FILLED": "OPEN",
    "FILLED": "FILLED",
    "CANCELED": "CANCELLED",
    "EXPIRED": "EXPIRED",
    "REJECTED": "FAILED",
}


# Coinbase candle granularity -> the feed's interval
GRANULARITIES: dict[str, str] = {
    "ONE_MINUTE": "1m",
    "FIVE_MINUTE": "5m",
    "FIFTEEN_MINUTE": "15m",
    "THIRTY_MINUTE": "30m",
    "ONE_HOUR": "1h",
    "TWO_HOUR": "2h",
    "FOUR_HOUR": "4h",
    "SIX_HOUR": "6h",
    "ONE_DAY": "1d",
}
MAX_CANDLES = 350
MAX_TICKER_TRADES = 1000
MAX_LIST_ORDERS = 1000
# List Orders statuses the simulator can hold (engine statuses mapped by _STATUS); others match nothing
_LIST_STATUSES = frozenset(
    {
        "OPEN",
        "FILLED",
        "CANCELLED",
        "EXPIRED",
        "FAILED",
        "PENDING",
        "QUEUED",
        "CANCEL_QUEUED",
        "EDIT_QUEUED",
        "UNKNOWN_ORDER_STATUS",
    }
)
_ORDER_TYPES = frozenset({"MARKET", "LIMIT", "STOP", "STOP_LIMIT", "BRACKET", "TWAP"})


def iso_ms(ms: int) -> str:
    """Unix ms as Coinbase's ISO-8601 UTC text."""
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _product_id(s: InstrumentSpec) -> str:
    return f"{s.base}-{s.quote}"


def _spec_of(ctx: SimContext, product_id: object) -> InstrumentSpec:
    if isinstance(product_id, str):
        spec = ctx.spot_specs.get(product_id.replace("-", "").upper())
        if spec is not None and product_id.upper() == _product_id(spec):
            return spec
    raise HttpError(
        400,
        {"error": "INVALID_ARGUMENT", "error_details": "invalid product_id", "message": "invalid product_id"},
    )


def _bad(detail: str) -> HttpError:
    return HttpError(400, {"error": "INVALID_ARGUMENT", "error_details": detail, "message": detail})


def _json(call: Call) -> dict[str, Any]:
    try:
        raw = json.loads(call.body) if call.body.strip() else {}
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise _bad("body is not valid JSON") from None
    if not isinstance(raw, dict):
        raise _bad("body must be a JSON object")
    return raw


def _dec(raw: dict[str, Any], key: str, required: bool = True) -> Decimal | None:
    """A positive decimal amount of sane size (as ``Params.decimal``: at most 20 integer and 20 fraction
    digits); INVALID_ARGUMENT naming ``key`` otherwise."""
    value = raw.get(key)
    if value is None or value == "":
        if required:
            raise _bad(f"missing {key}")
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise _bad(f"invalid {key}")
    try:
        out = Decimal(str(value))
    except InvalidOperation:
        raise _bad(f"invalid {key}") from None
    if not out.is_finite() or out <= 0 or out.adjusted() >= 20 or _places(out) > 20:
        raise _bad(f"invalid {key}")
    return out


def _places(d: Decimal) -> int:
    """Digits after the decimal point of ``d`` written out (trailing zeros not counted)."""
    exp = d.normalize().as_tuple().exponent
    return -exp if isinstance(exp, int) and exp < 0 else 0


def _product(ctx: SimContext, s: InstrumentSpec) -> dict[str, Any]:
    day = ctx.feed.ticker_24h(s.symbol)
    pid = _product_id(s)
    change = 100.0 * (day.last - day.open) / day.open if day.open else 0.0
    return {
        "product_id": pid,
        "price": ffmt(day.last, s.price_precision),
        "price_percentage_change_24h": ffmt(change, 8),
        "volume_24h": ffmt(day.volume, s.qty_precision),
        "approximate_quote_24h_volume": ffmt(day.quote_volume, 2),
        "volume_percentage_change_24h": "0",
        "base_increment": str(s.step_size),
        "quote_increment": str(s.tick_size),
        "quote_min_size": str(s.min_notional),
        "quote_max_size": "10000000",
        "base_min_size": str(s.min_qty),
        "base_max_size": str(s.max_qty),
        "base_name": s.base,
        "quote_name": s.quote,
        "watched": False,
        "is_disabled": False,
        "new": False,
        "status": "online",
        "cancel_only": False,
        "limit_only": False,
        "post_only": False,
        "trading_disabled": False,
        "auction_mode": False,
        "product_type": "SPOT",
        "quote_currency_id": s.quote,
        "base_currency_id": s.base,
        "mid_market_price": "",
        "alias": "",
        "alias_to": [],
        "base_display_symbol": s.base,
        "quote_display_symbol": s.quote,
        "view_only": False,
        "price_increment": str(s.tick_size),
        "display_name": pid,
        "product_venue": "CBE",
    }


def _feed_error(exc: FeedError) -> HttpError:
    return HttpError(503, {"error": "UNAVAILABLE", "error_details": str(exc), "message": str(exc)})


def _path_spec(ctx: SimContext, call: Call) -> InstrumentSpec:
    """The product named in the path; 404 NOT_FOUND for an unknown one."""
    pid = call.path_args.get("product_id", "")
    spec = ctx.spot_specs.get(pid.replace("-", "").upper())
    if spec is None or pid.upper() != _product_id(spec):
        msg = f"product {pid} not found"
        raise HttpError(404, {"error": "NOT_FOUND", "error_details": msg, "message": msg})
    return spec


def _int_param(call: Call, name: str, default: int | None, lo: int, hi: int) -> int | None:
    """An integer query parameter in ``lo..hi`` (INVALID_ARGUMENT naming it otherwise)."""
    text = call.params.get(name)
    if text is None:
        return default
    if not digits(text) or len(text) > 12 or not lo <= int(text) <= hi:
        raise _bad(f"{name} must be an integer in {lo}..{hi}")
    return int(text)


def _ticker(ctx: SimContext, call: Call) -> dict[str, Any]:
    """``products/{product_id}/ticker``: best bid/ask and the latest trade (one print at the last price)."""
    s = _path_spec(ctx, call)
    _int_param(call, "limit", 1, 1, MAX_TICKER_TRADES)
    try:
        quote = ctx.feed.bid_ask(s.symbol)
        last = ctx.feed.last_price(s.symbol)
    except FeedError as exc:
        raise _feed_error(exc) from None
    pp = s.price_precision
    trade = {
        "trade_id": str(quote.ts_ms),
        "product_id": _product_id(s),
        "price": ffmt(last, pp),
        "size": fmt(s.min_qty, s.qty_precision),
        "time": iso_ms(quote.ts_ms),
        "side": "BUY" if 2 * last >= quote.bid + quote.ask else "SELL",
        "bid": "",
        "ask": "",
        "exchange": "CBE",
    }
    return {"trades": [trade], "best_bid": ffmt(quote.bid, pp), "best_ask": ffmt(quote.ask, pp)}


def _candles(ctx: SimContext, call: Call) -> dict[str, Any]:
    """``products/{product_id}/candles``: bars opening in ``[start, end)`` (Unix seconds), newest first."""
    s = _path_spec(ctx, call)
    p = call.params
    name = (p.get("granularity") or "").upper()
    interval = GRANULARITIES.get(name)
    if interval is None:
        raise _bad(f"granularity must be one of {', '.join(GRANULARITIES)}")
    start = _int_param(call, "start", None, 0, 10**11)
    end = _int_param(call, "end", None, 0, 10**11)
    if start is None or end is None:
        raise _bad("start and end (Unix seconds) are required")
    if end <= start:
        raise _bad("end must be after start")
    step_s = INTERVALS[interval] // 1000
    if -(-(end - start) // step_s) > MAX_CANDLES:
        raise _bad(f"number of candles requested should be less than or equal to {MAX_CANDLES}")
    limit = _int_param(call, "limit", MAX_CANDLES, 1, MAX_CANDLES)
    assert limit is not None
    try:
        rows = ctx.feed.klines(s.symbol, interval, start * 1000, end * 1000 - 1, MAX_CANDLES)
    except FeedError as exc:
        raise _feed_error(exc) from None
    pp, qp = s.price_precision, s.qty_precision
    candles = [
        {
            "start": str(k.open_ms // 1000),
            "low": ffmt(k.low, pp),
            "high": ffmt(k.high, pp),
            "open": ffmt(k.open, pp),
            "close": ffmt(k.close, pp),
            "volume": ffmt(k.volume, qp),
        }
        for k in reversed(rows[-limit:])
    ]
    return {"candles": candles}


def _products(ctx: SimContext, call: Call) -> dict[str, Any]:
    kind = (call.params.get("product_type") or "SPOT").upper()
    products = [_product(ctx, s) for s in ctx.spot_specs.values()] if kind == "SPOT" else []
    return {"products": products, "num_products": len(products)}


def _transaction_summary(ctx: SimContext, call: Call) -> dict[str, Any]:
    tier = {
        "pricing_tier": "Simulator",
        "usd_from": "0",
        "usd_to": "10000",
        "taker_fee_rate": "0.001",
        "maker_fee_rate": "0.001",
    }
    return {"total_volume": 0, "total_fees": 0, "fee_tier": tier, "has_promo_fee": False}


def _time_v3(ctx: SimContext, call: Call) -> dict[str, Any]:
    ms = call.server_ms
    return {"iso": iso_ms(ms), "epochSeconds": str(ms // 1000), "epochMillis": str(ms)}


def _time_v2(ctx: SimContext, call: Call) -> dict[str, Any]:
    return {"data": {"iso": iso_ms(call.server_ms), "epoch": call.server_ms // 1000}}


def _currencies(ctx: SimContext, call: Call) -> dict[str, Any]:
    return {"data": []}


def _exchange_rates(ctx: SimContext, call: Call) -> dict[str, Any]:
    return {"data": {"currency": "USD", "rates": {}}}


def _configuration(o: OrderView, s: InstrumentSpec) -> dict[str, Any]:
    size = f"{o.qty:.{s.qty_precision}f}" if o.qty is not None else "0"
    if o.type is OrderType.MARKET:
        return {"market_market_ioc": {"base_size": size}}
    price = f"{o.price:.{s.price_precision}f}" if o.price is not None else "0"
    if o.time_in_force is TimeInForce.IOC:
        return {"sor_limit_ioc": {"base_size": size, "limit_price": price}}
    if o.time_in_force is TimeInForce.FOK:
        return {"limit_limit_fok": {"base_size": size, "limit_price": price}}
    return {
        "limit_limit_gtc": {
            "base_size": size,
            "limit_price": price,
            "post_only": o.time_in_force is TimeInForce.GTX,
        }
    }


def render_order(o: OrderView, s: InstrumentSpec) -> dict[str, Any]:
    """An order as ``orders/historical/{id}`` answers (inside ``{"order": ...}``)."""
    qty = o.qty or Decimal(0)
    pct = (o.filled / qty * 100) if qty else Decimal(0)
    tif = {TimeInForce.IOC: "IMMEDIATE_OR_CANCEL", TimeInForce.FOK: "FILL_OR_KILL"}
    return {
        "order_id": str(o.order_id),
        "product_id": _product_id(s),
        "user_id": "sim-user",
        "order_configuration": _configuration(o, s),
        "side": o.side.value.upper(),
        "client_order_id": o.client_id,
        "status": _STATUS.get(o.status, "UNKNOWN_ORDER_STATUS"),
        "time_in_force": tif.get(o.time_in_force, "GOOD_UNTIL_CANCELLED")
        if o.time_in_force
        else "IMMEDIATE_OR_CANCEL",
        "created_time": iso_ms(o.created_ms),
        "completion_percentage": f"{pct:.2f}",
        "filled_size": f"{o.filled:.{s.qty_precision}f}",
        "average_filled_price": f"{o.avg_price:.{s.price_precision}f}",
        "number_of_fills": "0",
        "filled_value": f"{o.cum_quote:.8f}",
        "pending_cancel": False,
        "size_in_quote": False,
        "total_fees": "0",
        "size_inclusive_of_fees": False,
        "total_value_after_fees": f"{o.cum_quote:.8f}",
        "trigger_status": "INVALID_ORDER_TYPE",
        "order_type": "MARKET" if o.type is OrderType.MARKET else "LIMIT",
        "reject_reason": "",
        "settled": o.status == "FILLED",
        "product_type": "SPOT",
        "reject_message": "",
        "cancel_message": "",
        "order_placement_source": "RETAIL_ADVANCED",
        "outstanding_hold_amount": "0",
        "is_liquidation": False,
        "last_fill_time": iso_ms(o.updated_ms) if o.filled else None,
        "edit_history": [],
        "leverage": "",
        "margin_type": "UNKNOWN_MARGIN_TYPE",
        "retail_portfolio_id": "sim-portfolio",
    }


def _failure(error: str, message: str) -> dict[str, Any]:
    preview = (
        "PREVIEW_INSUFFICIENT_FUND" if error == "INSUFFICIENT_FUND" else "UNKNOWN_PREVIEW_FAILURE_REASON"
    )
    return {
        "success": False,
        "failure_reason": "UNKNOWN_FAILURE_REASON",
        "order_id": "",
        "error_response": {
            "error": error,
            "message": message,
            "error_details": message,
            "preview_failure_reason": preview,
            "new_order_failure_reason": error,
        },
    }


def _find(
    ctx: SimContext, order_id: int | None, client_id: str | None
) -> tuple[OrderView, InstrumentSpec] | None:
    for s in ctx.spot_specs.values():
        try:
            return ctx.spot.order(s.symbol, order_id=order_id, client_id=client_id), s
        except EngineReject:
            continue
    return None


def _parse_config(
    raw: dict[str, Any], side: Side, ctx: SimContext, s: InstrumentSpec
) -> tuple[OrderType, Decimal, Decimal | None, TimeInForce | None]:
    config = raw.get("order_configuration")
    if not isinstance(config, dict) or len(config) != 1:
        raise _bad("order_configuration must hold exactly one configuration")
    ((name, body),) = config.items()
    if not isinstance(body, dict):
        raise _bad("invalid order_configuration")
    if name == "market_market_ioc":
        base = _dec(body, "base_size", required=False)
        if base is None:
            quote = _dec(body, "quote_size")
            assert quote is not None
            q = ctx.feed.bid_ask(s.symbol)
            px = Decimal(str(q.ask if side is Side.BUY else q.bid))
            base = (quote / px / s.step_size).to_integral_value(rounding="ROUND_DOWN") * s.step_size
        return OrderType.MARKET, base, None, None
    tifs = {"limit_limit_gtc": None, "sor_limit_ioc": TimeInForce.IOC, "limit_limit_fok": TimeInForce.FOK}
    if name not in tifs:
        raise HttpError(
            400,
            {
                "error": "UNSUPPORTED_ORDER_CONFIGURATION",
                "message": f"{name} is not supported by the simulator",
            },
        )
    base, price = _dec(body, "base_size"), _dec(body, "limit_price")
    assert base is not None
    tif = tifs[name] or (TimeInForce.GTX if body.get("post_only") is True else TimeInForce.GTC)
    return OrderType.LIMIT, base, price, tif


def _create_order(ctx: SimContext, call: Call) -> dict[str, Any]:
    raw = _json(call)
    s = _spec_of(ctx, raw.get("product_id"))
    side = {"BUY": Side.BUY, "SELL": Side.SELL}.get(str(raw.get("side", "")).upper())
    if side is None:
        raise _bad("side must be BUY or SELL")
    client_id = raw.get("client_order_id")
    if not isinstance(client_id, str) or not 0 < len(client_id) <= 128:
        raise _bad("client_order_id is required")
    kind, qty, price, tif = _parse_config(raw, side, ctx, s)
    found = _find(ctx, None, client_id)
    if found is None:
        try:
            order = ctx.spot.place(
                PlaceRequest(s.symbol, side, kind, qty, price=price, time_in_force=tif, client_id=client_id)
            )
        except EngineReject as exc:
            low = exc.msg.lower()
            if "insufficient" in low or exc.code == -2019:
                return _failure("INSUFFICIENT_FUND", "Insufficient balance in source account")
            if "immediately match" in low:
                return _failure("INVALID_LIMIT_PRICE_POST_ONLY", exc.msg)
            return _failure("INVALID_ARGUMENT", exc.msg)
    else:
        order = found[0]
    return {
        "success": True,
        "success_response": {
            "order_id": str(order.order_id),
            "product_id": _product_id(s),
            "side": order.side.value.upper(),
            "client_order_id": order.client_id,
        },
        "order_configuration": _configuration(order, s),
    }


def _not_found() -> HttpError:
    msg = "order with this orderID was not found"
    return HttpError(404, {"error": "NOT_FOUND", "error_details": msg, "message": msg})


def _get_order(ctx: SimContext, call: Call) -> dict[str, Any]:
    text = call.path_args.get("order_id", "")
    found = _find(ctx, int(text), None) if digits(text) and len(text) <= 18 else None
    if found is None:
        raise _not_found()
    return {"order": render_order(*found)}


def _listed(text: str | None) -> list[str]:
    """A list parameter (repeats arrive comma-separated) as its non-empty values."""
    return [v.strip() for v in (text or "").split(",") if v.strip()]


def _date_ms(call: Call, name: str) -> int | None:
    """An RFC 3339 date parameter as Unix ms (INVALID_ARGUMENT naming it when unreadable)."""
    text = call.params.get(name)
    if text is None:
        return None
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise _bad(f"{name} must be an RFC 3339 timestamp") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return int(when.timestamp() * 1000)


def _list_orders(ctx: SimContext, call: Call) -> dict[str, Any]:
    """``orders/historical/batch``: the account's orders, newest first, filtered and paged by ``cursor``
    (the id of the last order of the previous page)."""
    p = call.params
    statuses = {v.upper() for v in _listed(p.get("order_status"))}
    if statuses - _LIST_STATUSES:
        raise _bad(f"invalid order_status {', '.join(sorted(statuses - _LIST_STATUSES))}")
    if "OPEN" in statuses and len(statuses) > 1:
        raise _bad("OPEN cannot be combined with other order_status values")
    symbols = {
        _spec_of(ctx, pid).symbol for pid in _listed(p.get("product_ids")) + _listed(p.get("product_id"))
    }
    ids = set(_listed(p.get("order_ids")))
    side = (p.get("order_side") or "").upper()
    if side not in ("", "BUY", "SELL"):
        raise _bad("order_side must be BUY or SELL")
    types = {v.upper() for v in _listed(p.get("order_types"))}
    if types - _ORDER_TYPES:
        raise _bad(f"invalid order_types {', '.join(sorted(types - _ORDER_TYPES))}")
    start, end = _date_ms(call, "start_date"), _date_ms(call, "end_date")
    limit = _int_param(call, "limit", MAX_LIST_ORDERS, 1, MAX_LIST_ORDERS)
    assert limit is not None
    cursor_text = p.get("cursor")
    if cursor_text is not None and not (digits(cursor_text) and len(cursor_text) <= 18):
        raise _bad("invalid cursor")
    cursor = int(cursor_text) if cursor_text is not None else None

    if statuses == {"OPEN"}:
        candidates = ctx.spot.open_orders()
    else:
        ctx.spot.sync()
        candidates = [o.view() for o in ctx.spot.book(False).orders.values()]
    wanted: list[OrderView] = []
    for o in candidates:
        if (
            o.conditional
            or (symbols and o.symbol not in symbols)
            or (ids and str(o.order_id) not in ids)
            or (statuses and _STATUS.get(o.status, "UNKNOWN_ORDER_STATUS") not in statuses)
            or (side and o.side.value.upper() != side)
            or (types and ("MARKET" if o.type is OrderType.MARKET else "LIMIT") not in types)
            or (start is not None and o.created_ms < start)
            or (end is not None and o.created_ms > end)
            or (cursor is not None and o.order_id >= cursor)
            or o.symbol not in ctx.spot_specs
        ):
            continue
        wanted.append(o)
    wanted.sort(key=lambda o: o.order_id, reverse=True)
    page, has_next = wanted[:limit], len(wanted) > limit
    orders = [render_order(o, ctx.spot_specs[o.symbol]) for o in page]
    return {
        "orders": orders,
        "sequence": "0",
        "has_next": has_next,
        "cursor": str(page[-1].order_id) if has_next else "",
    }


def _batch_cancel(ctx: SimContext, call: Call) -> dict[str, Any]:
    ids = _json(call).get("order_ids")
    if not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids):
        raise _bad("order_ids must be a non-empty list of strings")
    results = []
    for text in ids:
        found = _find(ctx, int(text), None) if digits(text) and len(text) <= 18 else None
        ok = False
        if found is not None and found[0].status in ("NEW", "PARTIALLY_FILLED"):
            try:
                ctx.spot.cancel(found[1].symbol, order_id=found[0].order_id)
                ok = True
            except EngineReject:
                ok = False
        reason = "UNKNOWN_CANCEL_FAILURE_REASON" if ok else "UNKNOWN_CANCEL_ORDER"
        results.append({"success": ok, "failure_reason": reason, "order_id": text})
    return {"results": results}


def _fills(ctx: SimContext, call: Call) -> dict[str, Any]:
    p = call.params
    specs = [_spec_of(ctx, p.get("product_id"))] if p.get("product_id") else list(ctx.spot_specs.values())
    oid = p.get("order_id")
    rows = []
    for s in specs:
        for t in ctx.faults.mangle_trades(ctx.spot.user_trades(s.symbol, None, None, None, 1000)):
            if oid is not None and str(t.order_id) != oid:
                continue
            rows.append(
                {
                    "entry_id": str(t.trade_id),
                    "trade_id": str(t.trade_id),
                    "order_id": str(t.order_id),
                    "trade_time": iso_ms(t.ts_ms),
                    "trade_type": "FILL",
                    "price": f"{t.price:.{s.price_precision}f}",
                    "size": f"{t.qty:.{s.qty_precision}f}",
                    "commission": f"{t.commission:.8f}",
                    "product_id": _product_id(s),
                    "sequence_timestamp": iso_ms(t.ts_ms),
                    "liquidity_indicator": "MAKER" if t.maker else "TAKER",
                    "size_in_quote": False,
                    "user_id": "sim-user",
                    "side": t.side.value.upper(),
                }
            )
    return {"fills": rows, "cursor": ""}


def _accounts(ctx: SimContext, call: Call) -> dict[str, Any]:
    accounts = [
        {
            "uuid": f"sim-{b.asset.lower()}",
            "name": f"{b.asset} Wallet",
            "currency": b.asset,
            "available_balance": {"value": f"{b.available:.8f}", "currency": b.asset},
            "default": True,
            "active": True,
            "created_at": iso_ms(ctx.started_ms),
            "updated_at": iso_ms(b.update_ms or ctx.started_ms),
            "deleted_at": None,
            "type": "ACCOUNT_TYPE_CRYPTO",
            "ready": True,
            "hold": {"value": f"{b.locked:.8f}", "currency": b.asset},
            "retail_portfolio_id": "sim-portfolio",
        }
        for b in ctx.spot.balances()
    ]
    return {"accounts": accounts, "has_next": False, "cursor": "", "size": len(accounts)}


def _ep(method: str, path: str, handler: Any, cls: str, signed: bool = True) -> Endpoint:
    return Endpoint(
        method,
        path,
        handler,
        cls,
        1,
        Security.COINBASE if signed else Security.NONE,
        orders=signed and method == "POST" and path.endswith("/orders"),
        state_changing=signed and method == "POST",
        dialect="coinbase",
    )


COINBASE_ROUTES: tuple[Endpoint, ...] = (
    _ep("GET", "/v2/currencies", _currencies, "market_data", signed=False),
    _ep("GET", "/v2/currencies/crypto", _currencies, "market_data", signed=False),
    _ep("GET", "/v2/exchange-rates", _exchange_rates, "market_data", signed=False),
    _ep("GET", "/v2/time", _time_v2, "market_data", signed=False),
    _ep("GET", _BROKERAGE + "/time", _time_v3, "market_data", signed=False),
    _ep("GET", _BROKERAGE + "/market/products", _products, "market_data", signed=False),
    _ep("GET", _BROKERAGE + "/products", _products, "market_data"),
    _ep("GET", _BROKERAGE + "/transaction_summary", _transaction_summary, "account"),
    _ep("GET", _BROKERAGE + "/accounts", _accounts, "account"),
    _ep("POST", _BROKERAGE + "/orders", _create_order, "order_create"),
    _ep("GET", _BROKERAGE + "/market/products/{product_id}/ticker", _ticker, "market_data", signed=False),
    _ep("GET", _BROKERAGE + "/market/products/{product_id}/candles", _candles, "market_data", signed=False),
    _ep("GET", _BROKERAGE + "/products/{product_id}/ticker", _ticker, "market_data"),
    _ep("GET", _BROKERAGE + "/products/{product_id}/candles", _candles, "market_data"),
    _ep("GET", COINBASE_ORDER_PREFIX + "batch", _list_orders, "order_query"),
    _ep("GET", COINBASE_ORDER_PREFIX + "fills", _fills, "order_query"),
    _ep("GET", COINBASE_ORDER_PREFIX + "{order_id}", _get_order, "order_query"),
    _ep("POST", _BROKERAGE + "/orders/batch_cancel", _batch_cancel, "order_cancel"),
)
