"""Venue-neutral records that cross the venue boundary: markets, candles, tickers, balances, positions,
order requests, order reports and fills, and the venue order ids they carry.

Prices and quantities are :class:`~decimal.Decimal` (exact tick and step arithmetic); candles are floats
because they feed numpy and the Rust core. Symbols are ccxt unified symbols (``BTC/USDT:USDT`` for a USD-M
perpetual, ``BTC/USDT`` for spot).

Venue order ids come from two independent sequences on Binance USD-M: regular orders (``orderId``) and
conditional orders in the algo book (``algoId``), which may hold the same number. :class:`VenueOrderId`
keeps the sequence (:class:`IdSpace`) with the number, so the two can never be confused.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

__all__ = [
    "Balance",
    "Candle",
    "Fill",
    "IdSpace",
    "MarginMode",
    "Market",
    "MarketKind",
    "OrderReport",
    "OrderRequest",
    "OrderStatus",
    "OrderType",
    "Position",
    "Side",
    "Ticker",
    "TimeInForce",
    "VenueOrderId",
]


class Side(StrEnum):
    """Order side."""

    BUY = "buy"
    SELL = "sell"


class OrderType(StrEnum):
    """Order types the engine uses; STOP_MARKET and TAKE_PROFIT_MARKET are conditional (protection) orders.

    ``OTHER`` is an order Eclipse never places but may find on the account (a manual trailing stop, a spot
    stop-limit): it is reported so reconciliation sees it, and refused locally if asked to be created.
    """

    MARKET = "market"
    LIMIT = "limit"
    STOP_MARKET = "stop_market"
    TAKE_PROFIT_MARKET = "take_profit_market"
    OTHER = "other"

    @property
    def conditional(self) -> bool:
        """True for trigger orders (Binance USD-M keeps them in the separate algo-order book)."""
        return self in (OrderType.STOP_MARKET, OrderType.TAKE_PROFIT_MARKET)


class TimeInForce(StrEnum):
    """Time in force of a limit order (GTX = post-only on Binance)."""

    GTC = "GTC"
    IOC = "IOC"
    FOK = "FOK"
    GTX = "GTX"


class OrderStatus(StrEnum):
    """Venue-reported order status, normalised."""

    OPEN = "open"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELED = "canceled"
    REJECTED = "rejected"
    EXPIRED = "expired"
    TRIGGERED = "triggered"

    @property
    def terminal(self) -> bool:
        """True once the order can no longer fill (a triggered conditional has become a market order)."""
        return self not in (OrderStatus.OPEN, OrderStatus.PARTIALLY_FILLED)


class IdSpace(StrEnum):
    """The id sequence a venue order id belongs to: regular orders (Binance ``orderId``) or conditional
    orders in the algo book (``algoId``). The sequences are independent: one number can name two orders."""

    ORDER = "order"
    ALGO = "algo"


@dataclass(frozen=True, slots=True)
class VenueOrderId:
    """A venue order id with its symbol and id space; ``algo:7`` and ``order:7`` are different orders."""

    symbol: str
    space: IdSpace
    id: str

    def __str__(self) -> str:
        return f"{self.space.value}:{self.id}"


class MarketKind(StrEnum):
    """Spot or linear (USD-margined) perpetual."""

    SPOT = "spot"
    LINEAR = "linear"


class MarginMode(StrEnum):
    """Futures margin mode."""

    ISOLATED = "isolated"
    CROSS = "cross"


@dataclass(frozen=True, slots=True)
class Market:
    """One tradable instrument with the filters an order must pass before it is sent."""

    symbol: str
    venue_symbol: str
    base: str
    quote: str
    kind: MarketKind
    tick_size: Decimal
    step_size: Decimal
    min_qty: Decimal
    max_qty: Decimal | None
    min_notional: Decimal
    settle: str | None = None
    contract_size: Decimal = Decimal(1)
    active: bool = True


@dataclass(frozen=True, slots=True)
class Candle:
    """One OHLCV bar; ``ts_ms`` is the open time (UTC ms)."""

    ts_ms: int
    open: float
    high: float
    low: float
    close: float
    volume: float


@dataclass(frozen=True, slots=True)
class Ticker:
    """Last trade price and best bid/ask (None when the venue did not say)."""

    symbol: str
    ts_ms: int
    last: Decimal
    bid: Decimal | None = None
    ask: Decimal | None = None


@dataclass(frozen=True, slots=True)
class Balance:
    """One asset's balance: ``free`` can be used for new orders, ``used`` is locked in orders/margin."""

    asset: str
    free: Decimal
    used: Decimal
    total: Decimal


@dataclass(frozen=True, slots=True)
class Position:
    """An open futures position as the venue reports it; ``qty`` > 0, direction in ``side``."""

    symbol: str
    side: Side
    qty: Decimal
    entry_price: Decimal
    mark_price: Decimal | None
    unrealized_pnl: Decimal
    liquidation_price: Decimal | None
    leverage: int | None
    margin_mode: MarginMode | None
    notional: Decimal
    ts_ms: int


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """An order to place. ``client_order_id`` is mandatory: it is how an unknown outcome is resolved.

    ``qty`` is None only with ``close_position`` (a conditional that closes whatever is open).
    ``price`` is required for LIMIT, ``trigger_price`` for STOP_MARKET / TAKE_PROFIT_MARKET.
    """

    symbol: str
    side: Side
    type: OrderType
    qty: Decimal | None
    client_order_id: str
    price: Decimal | None = None
    trigger_price: Decimal | None = None
    reduce_only: bool = False
    close_position: bool = False
    post_only: bool = False
    time_in_force: TimeInForce | None = None


@dataclass(frozen=True, slots=True)
class OrderReport:
    """The venue's view of one order. ``conditional`` orders live in the trigger (algo) book, and their
    ``order_id`` is an algo id. ``triggered_order_id``: for a conditional that triggered, the venue order id
    of the regular order it became (Binance ``actualOrderId``; its fills carry that id); None otherwise."""

    symbol: str
    order_id: str
    client_order_id: str | None
    side: Side
    type: OrderType
    status: OrderStatus
    qty: Decimal | None
    filled: Decimal
    avg_price: Decimal | None
    price: Decimal | None
    trigger_price: Decimal | None
    reduce_only: bool
    close_position: bool
    ts_ms: int
    update_ms: int
    conditional: bool = False
    triggered_order_id: str | None = None

    @property
    def remaining(self) -> Decimal | None:
        """Quantity still to fill (None for a close-position conditional)."""
        return None if self.qty is None else self.qty - self.filled

    @property
    def venue_id(self) -> VenueOrderId:
        """``order_id`` in its id space (ALGO for a conditional, else ORDER)."""
        space = IdSpace.ALGO if self.conditional else IdSpace.ORDER
        return VenueOrderId(self.symbol, space, self.order_id)

    @property
    def actual_id(self) -> VenueOrderId | None:
        """The regular order a triggered conditional became (ORDER space), or None."""
        if self.triggered_order_id is None:
            return None
        return VenueOrderId(self.symbol, IdSpace.ORDER, self.triggered_order_id)


@dataclass(frozen=True, slots=True)
class Fill:
    """One execution (a venue trade) of one order; ``trade_id`` is unique per symbol and dedups fills."""

    trade_id: str
    order_id: str
    symbol: str
    side: Side
    price: Decimal
    qty: Decimal
    fee: Decimal
    fee_asset: str
    ts_ms: int
    maker: bool = False
    realized_pnl: Decimal = Decimal(0)
    client_order_id: str | None = None

    @property
    def venue_id(self) -> VenueOrderId:
        """``order_id`` in the ORDER space (fills belong to regular orders, never to algo orders)."""
        return VenueOrderId(self.symbol, IdSpace.ORDER, self.order_id)
