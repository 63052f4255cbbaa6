"""Records shared by the simulator's matching engine, its HTTP dialects and the paper venue.

The engine speaks in Binance terms (integer order ids, NEW/PARTIALLY_FILLED/... statuses, error codes),
because Binance is the dialect the simulator is faithful to; the Coinbase surface and the paper venue
translate. Every price/quantity is a Decimal.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from eclipse.venues.types import MarginMode, MarketKind, OrderType, Side, TimeInForce

__all__ = [
    "BalanceView",
    "EngineFaults",
    "EngineReject",
    "InstrumentSpec",
    "NoFaults",
    "OrderView",
    "PlaceRequest",
    "PositionView",
    "TradeView",
]


class EngineReject(Exception):  # noqa: N818 (the venue's word: a rejection)
    """The venue refuses a request: Binance error ``code`` and message ``msg`` (HTTP ``status``)."""

    def __init__(self, code: int, msg: str, status: int = 400) -> None:
        self.code = code
        self.msg = msg
        self.status = status
        super().__init__(f"{code}: {msg}")


@dataclass(frozen=True, slots=True)
class InstrumentSpec:
    """One listed instrument (venue symbol like ``BTCUSDT``) and its filters."""

    symbol: str
    base: str
    quote: str
    kind: MarketKind
    tick_size: Decimal
    step_size: Decimal
    min_qty: Decimal
    max_qty: Decimal
    min_notional: Decimal
    price_precision: int
    qty_precision: int
    max_leverage: int = 125
    maint_margin_rate: Decimal = Decimal("0.004")
    max_price: Decimal | None = None  # PRICE_FILTER maxPrice (None: Binance's default for the kind)


@dataclass(frozen=True, slots=True)
class PlaceRequest:
    """A new order as the venue receives it (already parsed from the wire).

    ``qty`` is None only for ``close_position`` conditionals. ``client_id`` None = the venue invents one.
    """

    symbol: str
    side: Side
    type: OrderType
    qty: Decimal | None
    price: Decimal | None = None
    trigger_price: Decimal | None = None
    time_in_force: TimeInForce | None = None
    reduce_only: bool = False
    close_position: bool = False
    client_id: str | None = None


@dataclass(frozen=True, slots=True)
class OrderView:
    """A snapshot of one order (regular or conditional).

    ``status`` uses Binance's words: NEW, PARTIALLY_FILLED, FILLED, CANCELED, REJECTED, EXPIRED; a
    conditional that fired is TRIGGERED and names the market order it became in ``triggered_order_id``.
    """

    order_id: int
    client_id: str
    symbol: str
    side: Side
    type: OrderType
    status: str
    qty: Decimal | None
    price: Decimal | None
    trigger_price: Decimal | None
    filled: Decimal
    cum_quote: Decimal
    avg_price: Decimal
    reduce_only: bool
    close_position: bool
    time_in_force: TimeInForce | None
    conditional: bool
    created_ms: int
    updated_ms: int
    triggered_order_id: int | None = None


@dataclass(frozen=True, slots=True)
class TradeView:
    """One execution of one order (a user trade)."""

    trade_id: int
    order_id: int
    client_id: str
    symbol: str
    side: Side
    price: Decimal
    qty: Decimal
    quote_qty: Decimal
    commission: Decimal
    commission_asset: str
    realized_pnl: Decimal
    maker: bool
    ts_ms: int


@dataclass(frozen=True, slots=True)
class PositionView:
    """A futures position; ``qty`` is signed (> 0 long, < 0 short, 0 flat)."""

    symbol: str
    qty: Decimal
    entry_price: Decimal
    mark_price: Decimal
    unrealized_pnl: Decimal
    liquidation_price: Decimal
    leverage: int
    margin_mode: MarginMode
    isolated_margin: Decimal
    initial_margin: Decimal
    maint_margin: Decimal
    notional: Decimal
    update_ms: int


@dataclass(frozen=True, slots=True)
class BalanceView:
    """One asset of the account. Futures: wallet/available/margins; spot: ``free``/``locked``."""

    asset: str
    wallet: Decimal
    available: Decimal
    locked: Decimal
    initial_margin: Decimal
    unrealized_pnl: Decimal
    margin_balance: Decimal
    update_ms: int


class EngineFaults(Protocol):
    """Faults that live inside the matching engine (the HTTP-level ones live in the server).

    The engine asks at the moment the decision matters; implementations are seeded so runs reproduce.
    """

    def fill_slices(self, order: OrderView) -> tuple[int, int]:
        """(number of partial fills, ms between them) for an order about to fill; (1, 0) = all at once."""
        ...

    def cancel_races_fill(self, order: OrderView) -> bool:
        """True: a cancel arriving for this open order loses the race and the order fills first."""
        ...

    def reduce_only_shrink(self, order: OrderView) -> Decimal | None:
        """A smaller quantity the venue imposes on a new reduce-only order, or None."""
        ...


class NoFaults:
    """The engine without faults."""

    def fill_slices(self, order: OrderView) -> tuple[int, int]:
        """Fill at once."""
        return (1, 0)

    def cancel_races_fill(self, order: OrderView) -> bool:
        """Cancels win."""
        return False

    def reduce_only_shrink(self, order: OrderView) -> Decimal | None:
        """No shrink."""
        return None
