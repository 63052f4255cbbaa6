"""The one async :class:`Venue` protocol everything above the venue layer uses.

Implementations: :class:`~eclipse.venues.ccxt_venue.CcxtVenue` (Binance USD-M, Binance spot, Coinbase via
ccxt) and :class:`~eclipse.venues.paper.PaperVenue` (dry-run: real market data, local fills by the
simulator's matching engine). Every method raises only :class:`~eclipse.venues.errors.VenueError`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol, runtime_checkable

from eclipse.venues.types import (
    Balance,
    Candle,
    Fill,
    MarginMode,
    Market,
    OrderReport,
    OrderRequest,
    Position,
    Ticker,
)

__all__ = ["Venue"]


@runtime_checkable
class Venue(Protocol):
    """An exchange account seen through unified, typed calls.

    ``order_id`` / ``client_order_id``: give either to identify an order; ``conditional=True`` addresses the
    trigger-order book (stop-market / take-profit-market protection), whose ids are a separate sequence
    (algo ids: :attr:`OrderReport.venue_id` says which). A triggered conditional names the regular order it
    became in ``triggered_order_id``; its fills carry that id, and ``fetch_order(order_id=...)`` (not
    conditional) finds it.
    """

    @property
    def name(self) -> str:
        """Short venue name, e.g. ``binanceusdm``, ``binance``, ``coinbase``, ``paper``."""
        ...

    @property
    def dry_run(self) -> bool:
        """True when no state-changing request ever reaches a real account."""
        ...

    async def load_markets(self, reload: bool = False) -> Mapping[str, Market]:
        """All tradable markets by unified symbol (cached after the first call unless ``reload``)."""
        ...

    async def market(self, symbol: str) -> Market:
        """One market; VenueError(INVALID_ORDER) naming the symbol when the venue does not list it."""
        ...

    async def fetch_time_ms(self) -> int:
        """The venue's clock in Unix ms."""
        ...

    async def fetch_ohlcv(
        self, symbol: str, timeframe: str = "1m", since_ms: int | None = None, limit: int = 500
    ) -> list[Candle]:
        """Bars oldest first; the last one may still be forming (its close time is in the future)."""
        ...

    async def fetch_ticker(self, symbol: str) -> Ticker:
        """Last price and best bid/ask."""
        ...

    async def fetch_balance(self) -> Mapping[str, Balance]:
        """Balances by asset."""
        ...

    async def fetch_positions(self, symbols: Sequence[str] | None = None) -> list[Position]:
        """Open positions (none for spot)."""
        ...

    async def set_leverage(self, symbol: str, leverage: int) -> None:
        """Set the symbol's leverage (futures)."""
        ...

    async def set_margin_mode(self, symbol: str, mode: MarginMode) -> None:
        """Set isolated or cross margin (futures); already-set is success."""
        ...

    async def create_order(self, request: OrderRequest) -> OrderReport:
        """Place an order after local precision and min-notional checks."""
        ...

    async def cancel_order(
        self,
        symbol: str,
        *,
        order_id: str | None = None,
        client_order_id: str | None = None,
        conditional: bool = False,
    ) -> OrderReport:
        """Cancel one order; ORDER_NOT_FOUND when the venue no longer has it open."""
        ...

    async def fetch_order(
        self,
        symbol: str,
        *,
        order_id: str | None = None,
        client_order_id: str | None = None,
        conditional: bool = False,
    ) -> OrderReport:
        """Look one order up; ORDER_NOT_FOUND when the venue never saw it."""
        ...

    async def fetch_open_orders(
        self, symbol: str | None = None, *, conditional: bool = False
    ) -> list[OrderReport]:
        """Open orders (conditional ones with ``conditional=True``)."""
        ...

    async def fetch_fills(self, symbol: str, since_ms: int | None = None, limit: int = 500) -> list[Fill]:
        """Recent executions of this account, oldest first."""
        ...

    async def close(self) -> None:
        """Release connections."""
        ...
