"""Pieces the Binance futures and spot dialects share: parameter parsing for orders, number formatting,
the market-data rows (klines, 24h ticker, book ticker) built from the simulator's feed, and the USD-M
``exchangeInfo`` document."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from eclipse.venues.sim.auth import Endpoint, Params, Security, digits
from eclipse.venues.sim.model import EngineReject, InstrumentSpec
from eclipse.venues.sim.rules import max_price
from eclipse.venues.types import Side, TimeInForce

if TYPE_CHECKING:
    from eclipse.venues.sim.server import SimContext

__all__ = [
    "BOOK_QTY",
    "FUTURES_ORDER_TYPES",
    "by_symbol",
    "check_client_id",
    "exchange_info_futures",
    "exchange_info_parts",
    "fmt",
    "klines",
    "klines_weight",
    "order_lookup",
    "parse_side",
    "parse_tif",
    "ticker_24h",
]

_CLIENT_ID = re.compile(r"^[.A-Z:/a-z0-9_-]{1,36}$")
_SIDES = {"BUY": Side.BUY, "SELL": Side.SELL}
_TIFS = {t.value: t for t in TimeInForce}
FUTURES_ORDER_TYPES = [
    "LIMIT",
    "MARKET",
    "STOP",
    "STOP_MARKET",
    "TAKE_PROFIT",
    "TAKE_PROFIT_MARKET",
    "TRAILING_STOP_MARKET",
]
BOOK_QTY = Decimal(1)  # synthetic size shown at the best bid and ask
_MONEY = 8


def fmt(value: Decimal | None, places: int) -> str:
    """``value`` with exactly ``places`` decimals (None -> zero), as Binance prints amounts."""
    return f"{(value if value is not None else Decimal(0)):.{places}f}"


def ffmt(value: float, places: int) -> str:
    """A float price/volume with ``places`` decimals."""
    return f"{value:.{places}f}"


def check_client_id(name: str, value: str | None) -> str | None:
    """A client order id within Binance's charset and length, or -1100."""
    if value is not None and not _CLIENT_ID.match(value):
        raise EngineReject(
            -1100, f"Illegal characters found in parameter '{name}'; legal range is '{_CLIENT_ID.pattern}'."
        )
    return value


def parse_side(p: Params) -> Side:
    """The ``side`` parameter (-1117 on anything but BUY/SELL)."""
    side = _SIDES.get(p.req("side").upper())
    if side is None:
        raise EngineReject(-1117, "Invalid side.")
    return side


def parse_tif(p: Params, required: bool) -> TimeInForce | None:
    """The ``timeInForce`` parameter (-1115 when unknown)."""
    text = p.req("timeInForce") if required else p.get("timeInForce")
    if text is None:
        return None
    tif = _TIFS.get(text.upper())
    if tif is None:
        raise EngineReject(-1115, "Invalid timeInForce.")
    return tif


def order_lookup(p: Params, id_key: str, client_key: str) -> tuple[int | None, str | None]:
    """(order id, client id) of a lookup or cancel; -1102 when both are missing."""
    order_id = p.integer(id_key)
    client_id = p.get(client_key)
    if order_id is None and client_id is None:
        raise EngineReject(
            -1102, f"Param '{client_key}' or '{id_key}' must be sent, but both were empty/null!"
        )
    return order_id, client_id


def by_symbol(with_symbol: int, without: int) -> Callable[[Params], int]:
    """A weight that depends on whether ``symbol`` was given."""
    return lambda p: with_symbol if "symbol" in p else without


def klines_weight(p: Params) -> int:
    """USD-M klines weight by ``limit`` (1 / 2 / 5 / 10)."""
    text = p.get("limit")
    limit = int(text) if text is not None and digits(text) and len(text) < 8 else 500
    return 1 if limit < 100 else 2 if limit < 500 else 5 if limit <= 1000 else 10


def klines(ctx: SimContext, s: InstrumentSpec, p: Params) -> list[list[Any]]:
    """Kline rows ``[open time, o, h, l, c, volume, close time, quote volume, trades, taker base, taker
    quote, "0"]`` (numbers as strings) from the feed; the last row may be the forming bar."""
    interval = p.req("interval")
    rows = ctx.feed.klines(
        s.symbol, interval, p.integer("startTime"), p.integer("endTime"), p.integer("limit", None, 1)
    )
    pp, qp = s.price_precision, s.qty_precision
    return [
        [
            k.open_ms,
            ffmt(k.open, pp),
            ffmt(k.high, pp),
            ffmt(k.low, pp),
            ffmt(k.close, pp),
            ffmt(k.volume, qp),
            k.close_ms,
            ffmt(k.quote_volume, _MONEY),
            k.trades,
            ffmt(k.volume / 2, qp),
            ffmt(k.quote_volume / 2, _MONEY),
            "0",
        ]
        for k in rows
    ]


def ticker_24h(ctx: SimContext, s: InstrumentSpec, spot: bool = False) -> dict[str, Any]:
    """``ticker/24hr`` for one symbol (spot adds the book's best bid/ask)."""
    t = ctx.feed.ticker_24h(s.symbol)
    pp, qp = s.price_precision, s.qty_precision
    change = t.last - t.open
    row: dict[str, Any] = {
        "symbol": s.symbol,
        "priceChange": ffmt(change, pp),
        "priceChangePercent": ffmt(100.0 * change / t.open if t.open else 0.0, 3),
        "weightedAvgPrice": ffmt(t.quote_volume / t.volume if t.volume else t.last, pp),
        "lastPrice": ffmt(t.last, pp),
        "lastQty": fmt(s.min_qty, qp),
        "openPrice": ffmt(t.open, pp),
        "highPrice": ffmt(t.high, pp),
        "lowPrice": ffmt(t.low, pp),
        "volume": ffmt(t.volume, qp),
        "quoteVolume": ffmt(t.quote_volume, _MONEY),
        "openTime": t.open_ms,
        "closeTime": t.close_ms,
        "firstId": 0,
        "lastId": 0,
        "count": 0,
    }
    if spot:
        q = ctx.feed.bid_ask(s.symbol)
        row |= {
            "prevClosePrice": ffmt(t.open, pp),
            "bidPrice": ffmt(q.bid, pp),
            "bidQty": fmt(BOOK_QTY, qp),
            "askPrice": ffmt(q.ask, pp),
            "askQty": fmt(BOOK_QTY, qp),
        }
    return row


def book_ticker(ctx: SimContext, s: InstrumentSpec, futures: bool) -> dict[str, Any]:
    """``ticker/bookTicker`` for one symbol (futures adds ``time`` and ``lastUpdateId``)."""
    q = ctx.feed.bid_ask(s.symbol)
    pp, qp = s.price_precision, s.qty_precision
    row: dict[str, Any] = {
        "symbol": s.symbol,
        "bidPrice": ffmt(q.bid, pp),
        "bidQty": fmt(BOOK_QTY, qp),
        "askPrice": ffmt(q.ask, pp),
        "askQty": fmt(BOOK_QTY, qp),
    }
    if futures:
        row |= {"time": q.ts_ms, "lastUpdateId": q.ts_ms}
    return row


def exchange_info_futures(specs: dict[str, InstrumentSpec], onboard_ms: int) -> dict[str, Any]:
    """The static part of ``GET /fapi/v1/exchangeInfo`` (``serverTime`` is added per response)."""
    symbols = []
    for s in specs.values():
        lot = {"minQty": str(s.min_qty), "maxQty": str(s.max_qty), "stepSize": str(s.step_size)}
        symbols.append(
            {
                "symbol": s.symbol,
                "pair": s.symbol,
                "contractType": "PERPETUAL",
                "deliveryDate": 4133404800000,
                "onboardDate": onboard_ms,
                "status": "TRADING",
                "maintMarginPercent": "2.5000",
                "requiredMarginPercent": "5.0000",
                "baseAsset": s.base,
                "quoteAsset": s.quote,
                "marginAsset": s.quote,
                "pricePrecision": s.price_precision,
                "quantityPrecision": s.qty_precision,
                "baseAssetPrecision": 8,
                "quotePrecision": 8,
                "underlyingType": "COIN",
                "underlyingSubType": [],
                "triggerProtect": "0.0500",
                "liquidationFee": "0.012500",
                "marketTakeBound": "0.05",
                "maxMoveOrderLimit": 10000,
                "filters": [
                    {
                        "filterType": "PRICE_FILTER",
                        "minPrice": str(s.tick_size),
                        "maxPrice": f"{max_price(s).normalize():f}",
                        "tickSize": str(s.tick_size),
                    },
                    {"filterType": "LOT_SIZE", **lot},
                    {"filterType": "MARKET_LOT_SIZE", **lot},
                    {"filterType": "MAX_NUM_ORDERS", "limit": 200},
                    {"filterType": "MAX_NUM_ALGO_ORDERS", "limit": 10},
                    {"filterType": "MIN_NOTIONAL", "notional": str(s.min_notional)},
                    {
                        "filterType": "PERCENT_PRICE",
                        "multiplierUp": "1.0500",
                        "multiplierDown": "0.9500",
                        "multiplierDecimal": "4",
                    },
                ],
                "orderTypes": FUTURES_ORDER_TYPES,
                "timeInForce": ["GTC", "IOC", "FOK", "GTX"],
            }
        )
    assets = sorted({s.quote for s in specs.values()})
    return {
        "timezone": "UTC",
        "futuresType": "U_MARGINED",
        "rateLimits": [
            {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 2400},
            {"rateLimitType": "ORDERS", "interval": "MINUTE", "intervalNum": 1, "limit": 1200},
            {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 300},
        ],
        "exchangeFilters": [],
        "assets": [{"asset": a, "marginAvailable": True, "autoAssetExchange": "0"} for a in assets],
        "symbols": symbols,
    }


def exchange_info_parts(specs: dict[str, InstrumentSpec], onboard_ms: int) -> tuple[bytes, bytes]:
    """``exchangeInfo`` pre-encoded around its ``serverTime`` value: (head, tail)."""
    body = json.dumps({"serverTime": 0, **exchange_info_futures(specs, onboard_ms)}, separators=(",", ":"))
    head, _, tail = body.partition('"serverTime":0')
    return (head + '"serverTime":').encode(), tail.encode()


def binance_endpoint(
    prefix: str,
    method: str,
    path: str,
    handler: Any,
    cls: str,
    weight: Any,
    *,
    signed: bool = True,
    orders: bool = False,
) -> Endpoint:
    """A Binance route under ``prefix`` (``/fapi`` or ``/api``): HMAC-signed unless ``signed`` is False,
    state-changing when signed and not a GET."""
    return Endpoint(
        method,
        prefix + path,
        handler,
        cls,
        weight,
        Security.BINANCE if signed else Security.NONE,
        orders=orders,
        state_changing=signed and method != "GET",
    )
