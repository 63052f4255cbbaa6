"""The paper venue (dry-run): real market data in, local fills out.

:class:`PaperVenue` reads market data from a *source* venue through public calls only (markets, OHLCV,
ticker) and fills every order locally with the simulator's :class:`~eclipse.venues.sim.engine.MatchingEngine`
on a live-pushed :class:`~eclipse.venues.sim.market.MarketFeed`: the same engine, the same Binance rules
(filters, reduce-only, margin, triggers, fees) as the exchange simulator, one implementation. In real use the
source is a :class:`~eclipse.venues.ccxt_venue.CcxtVenue` built *without credentials* (it physically cannot
sign a request); in tests it can be the simulator.

Each call that needs prices first refreshes the symbol from the source (at most every ``refresh_ms``): the
latest candles are pushed into the feed (the forming one updates its extremes and close), then the engine
walks the path, so stops, take-profits and resting limits fire on the prices the market really went through.
With ``store_path`` the paper account (balances, orders, fills, positions) survives a restart.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Protocol, TypeVar

from eclipse.clock import Clock
from eclipse.venues.classify import CCXT, classify
from eclipse.venues.errors import VenueError, VenueErrorKind
from eclipse.venues.precision import check_order
from eclipse.venues.sim.engine import EngineConfig, MatchingEngine
from eclipse.venues.sim.market import FeedConfig, FeedError, FeedMode, MarketFeed
from eclipse.venues.sim.model import (
    BalanceView,
    EngineFaults,
    EngineReject,
    InstrumentSpec,
    OrderView,
    PlaceRequest,
    PositionView,
    TradeView,
)
from eclipse.venues.sim.store import SimStore
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

__all__ = ["MarketDataSource", "PaperVenue", "order_report", "spec_from_market"]

T = TypeVar("T")

_STATUS = {
    "NEW": OrderStatus.OPEN,
    "PARTIALLY_FILLED": OrderStatus.PARTIALLY_FILLED,
    "FILLED": OrderStatus.FILLED,
    "CANCELED": OrderStatus.CANCELED,
    "REJECTED": OrderStatus.REJECTED,
    "EXPIRED": OrderStatus.EXPIRED,
    "EXPIRED_IN_MATCH": OrderStatus.EXPIRED,
    "TRIGGERED": OrderStatus.TRIGGERED,
    "FINISHED": OrderStatus.TRIGGERED,
}
_STATE_CHANGING = frozenset({"create_order", "cancel_order", "set_leverage", "set_margin_mode"})
_HISTORY_BARS = 3
_BAR_MS = 60_000
_PAGE = 1000
_MAX_PAGES = 50


class MarketDataSource(Protocol):
    """The public half of a venue: all the paper venue ever calls on its source."""

    @property
    def name(self) -> str:
        """Source venue name."""
        ...

    async def load_markets(self, reload: bool = False) -> Mapping[str, Market]:
        """Markets by unified symbol."""
        ...

    async def fetch_ohlcv(
        self, symbol: str, timeframe: str = "1m", since_ms: int | None = None, limit: int = 500
    ) -> list[Candle]:
        """Bars oldest first (the last may be forming)."""
        ...

    async def fetch_ticker(self, symbol: str) -> Ticker:
        """Last price and best bid/ask."""
        ...

    async def fetch_time_ms(self) -> int:
        """Source clock."""
        ...

    async def close(self) -> None:
        """Release connections."""
        ...


def _decimals(step: Decimal) -> int:
    exp = step.normalize().as_tuple().exponent
    return max(0, -exp) if isinstance(exp, int) else 0


def spec_from_market(m: Market) -> InstrumentSpec:
    """The engine's instrument for a venue market (same filters, so paper fills obey the venue's rules)."""
    return InstrumentSpec(
        symbol=m.venue_symbol,
        base=m.base,
        quote=m.quote,
        kind=m.kind,
        tick_size=m.tick_size,
        step_size=m.step_size,
        min_qty=m.min_qty,
        max_qty=m.max_qty if m.max_qty is not None else Decimal(10) ** 9,
        min_notional=m.min_notional,
        price_precision=_decimals(m.tick_size),
        qty_precision=_decimals(m.step_size),
    )


def _opt(x: Decimal) -> Decimal | None:
    return x if x > 0 else None


def order_report(view: OrderView, symbol: str) -> OrderReport:
    """An engine order as the venue-neutral :class:`OrderReport` (``symbol`` = the unified symbol)."""
    return OrderReport(
        symbol=symbol,
        order_id=str(view.order_id),
        client_order_id=view.client_id,
        side=view.side,
        type=view.type,
        status=_STATUS.get(view.status, OrderStatus.OPEN),
        qty=view.qty,
        filled=view.filled,
        avg_price=_opt(view.avg_price),
        price=view.price,
        trigger_price=view.trigger_price,
        reduce_only=view.reduce_only,
        close_position=view.close_position,
        ts_ms=view.created_ms,
        update_ms=view.updated_ms,
        conditional=view.conditional,
        triggered_order_id=None if view.triggered_order_id is None else str(view.triggered_order_id),
    )


def _fill(t: TradeView, symbol: str) -> Fill:
    return Fill(
        trade_id=str(t.trade_id),
        order_id=str(t.order_id),
        symbol=symbol,
        side=t.side,
        price=t.price,
        qty=t.qty,
        fee=t.commission,
        fee_asset=t.commission_asset,
        ts_ms=t.ts_ms,
        maker=t.maker,
        realized_pnl=t.realized_pnl,
        client_order_id=t.client_id,
    )


class PaperVenue:
    """A :class:`~eclipse.venues.protocol.Venue` that never sends a state-changing request anywhere.

    ``symbols`` restricts trading to these unified symbols (default: every market of ``kind`` the source
    lists). ``config`` sets fees, slippage and the starting balances (default: the simulator's 10,000 USDT).
    """

    def __init__(
        self,
        source: MarketDataSource,
        clock: Clock,
        *,
        kind: MarketKind = MarketKind.LINEAR,
        symbols: Sequence[str] | None = None,
        config: EngineConfig | None = None,
        store_path: str | Path | None = None,
        refresh_ms: int = 1_000,
        spread_bps: float = 1.0,
        faults: EngineFaults | None = None,
    ) -> None:
        if refresh_ms < 0:
            raise ValueError(f"refresh_ms must be >= 0, got {refresh_ms}")
        self._source = source
        self._clock = clock
        self._kind = kind
        self._symbols = tuple(symbols) if symbols is not None else None
        default = EngineConfig.futures() if kind is MarketKind.LINEAR else EngineConfig.spot()
        self._config = config or default
        if self._config.kind is not kind:
            raise ValueError(f"config is for {self._config.kind} markets, the paper venue trades {kind}")
        self._store_path = Path(store_path) if store_path is not None else None
        self._faults = faults
        self._refresh_ms = refresh_ms
        self._feed = MarketFeed(clock, FeedConfig(mode=FeedMode.LIVE, spread_bps=spread_bps))
        self._engine: MatchingEngine | None = None
        self._store: SimStore | None = None
        self._markets: dict[str, Market] = {}
        self._by_venue_symbol: dict[str, str] = {}
        self._refreshed: dict[str, int] = {}
        self._last_bar: dict[str, int] = {}

    # --- identity -------------------------------------------------------------------------------

    @property
    def name(self) -> str:
        """``paper:<source>``."""
        return f"paper:{self._source.name}"

    @property
    def dry_run(self) -> bool:
        """Always True."""
        return True

    @property
    def engine(self) -> MatchingEngine:
        """The local matching engine (after :meth:`load_markets`)."""
        if self._engine is None:
            raise self._local(VenueErrorKind.NOT_SUPPORTED, "call load_markets() first", "engine")
        return self._engine

    # --- plumbing -------------------------------------------------------------------------------

    def _local(self, kind: VenueErrorKind, message: str, operation: str) -> VenueError:
        """A refusal decided here, before (or instead of) the engine."""
        return VenueError(kind, message, venue=self.name, operation=operation, local=True)

    def _error(self, exc: EngineReject | FeedError, operation: str) -> VenueError:
        if isinstance(exc, FeedError):
            return self._local(VenueErrorKind.NETWORK, str(exc), operation)
        # One taxonomy: the engine's Binance code goes through the same table as a live venue's answer.
        body = json.dumps({"code": exc.code, "msg": exc.msg})
        wire = CCXT.ExchangeError(f"paper {body}")
        err = classify(
            wire, venue=self.name, operation=operation, state_changing=operation in _STATE_CHANGING
        )
        return VenueError(err.kind, exc.msg, venue=self.name, operation=operation, code=exc.code, local=True)

    def _run(self, operation: str, fn: Callable[[], T]) -> T:
        try:
            return fn()
        except (EngineReject, FeedError) as exc:
            raise self._error(exc, operation) from None

    async def _ensure(self) -> MatchingEngine:
        if self._engine is None:
            await self.load_markets()
        assert self._engine is not None
        return self._engine

    def _venue_symbol(self, symbol: str) -> str:
        m = self._markets.get(symbol)
        if m is None:
            raise self._local(
                VenueErrorKind.INVALID_ORDER,
                f"symbol {symbol!r} is not traded by this paper venue; expected one of "
                f"{', '.join(sorted(self._markets)) or '(none)'}",
                "",
            )
        return m.venue_symbol

    def _unified(self, venue_symbol: str) -> str:
        return self._by_venue_symbol.get(venue_symbol, venue_symbol)

    async def _refresh(self, symbol: str) -> None:
        """Push the source's candles for ``symbol`` since the last one pushed (throttled by ``refresh_ms``).

        The first refresh of a fresh account pushes the last few bars; after a restart from the store it
        pushes every bar since the market time the account was saved at (paged), so a stop the market
        crossed while the process was down fires on that path.
        """
        now = self._clock.now_ms()
        last = self._refreshed.get(symbol)
        if last is not None and (now == last or now - last < self._refresh_ms):
            return  # nothing new can have formed at the same instant
        vs = self._venue_symbol(symbol)
        since = self._last_bar.get(symbol)
        if since is not None and now - since > _HISTORY_BARS * _BAR_MS and not self._holds(vs):
            since = None  # nothing here reacts to the prices missed meanwhile: catch up with the latest bars
        if since is None:
            candles = await self._source.fetch_ohlcv(symbol, "1m", limit=_HISTORY_BARS)
            for c in candles:
                self._feed.push_candle(vs, c, at_ms=now)
            if candles:
                self._last_bar[symbol] = candles[-1].ts_ms
        else:
            for _ in range(_MAX_PAGES):
                want = min(_PAGE, max(2, (now - since) // _BAR_MS + 2))
                candles = [
                    c for c in await self._source.fetch_ohlcv(symbol, "1m", since, want) if c.ts_ms >= since
                ]
                for c in candles:
                    self._feed.push_candle(vs, c, at_ms=now)
                if not candles or candles[-1].ts_ms <= since:
                    break
                since = self._last_bar[symbol] = candles[-1].ts_ms
                if len(candles) < want:
                    break
        self._refreshed[symbol] = now

    def _holds(self, venue_symbol: str) -> bool:
        """True when the account has an order or a position on ``venue_symbol`` (prices matter to it)."""
        return self._engine is not None and self._engine.active(venue_symbol)

    def _engaged(self) -> list[str]:
        """Unified symbols whose prices matter to the account now: open orders (both books) or a position."""
        engine = self.engine
        venue_symbols = {o.symbol for o in engine.open_orders()}
        venue_symbols |= {o.symbol for o in engine.open_orders(conditional=True)}
        if engine.futures:
            venue_symbols |= {p.symbol for p in engine.positions() if p.qty != 0}
        return [self._unified(v) for v in sorted(venue_symbols)]

    async def _refresh_all(self) -> None:
        """Refresh only the symbols the account is engaged in (not every listed market)."""
        for symbol in self._engaged():
            await self._refresh(symbol)

    # --- market data (from the source) ----------------------------------------------------------

    async def load_markets(self, reload: bool = False) -> Mapping[str, Market]:
        """The source's markets of this venue's kind (restricted to ``symbols``); builds the engine once."""
        if self._markets and not reload:
            return dict(self._markets)
        markets = await self._source.load_markets(reload)
        wanted = {
            s: m
            for s, m in markets.items()
            if m.kind is self._kind and m.active and (self._symbols is None or s in self._symbols)
        }
        missing = [s for s in self._symbols or () if s not in wanted]
        if not wanted and not missing:
            missing = [f"(any {self._kind} market)"]
        if missing:
            raise self._local(
                VenueErrorKind.INVALID_ORDER,
                f"{self._source.name} lists no active {self._kind} market {', '.join(missing)}",
                "load_markets",
            )
        self._markets = wanted
        self._by_venue_symbol = {m.venue_symbol: s for s, m in wanted.items()}
        if self._engine is None:
            for m in wanted.values():
                self._feed.add_live(m.venue_symbol, tick=float(m.tick_size))
            if self._store_path is not None:
                self._store = SimStore(self._store_path)
            self._engine = MatchingEngine(
                [spec_from_market(m) for m in wanted.values()],
                self._feed,
                self._clock,
                self._config,
                faults=self._faults,
                store=self._store,
            )
            if self._feed.restored:
                # resume from the saved market time: the bars missed while down are fetched and walked
                resume = self._feed.now_ms() // _BAR_MS * _BAR_MS
                self._last_bar = {symbol: resume for symbol in wanted}
        return dict(wanted)

    async def market(self, symbol: str) -> Market:
        """One market (VenueError naming the symbol when not traded here)."""
        await self._ensure()
        self._venue_symbol(symbol)
        return self._markets[symbol]

    async def fetch_time_ms(self) -> int:
        """The paper venue's clock."""
        return self._clock.now_ms()

    async def fetch_ohlcv(
        self, symbol: str, timeframe: str = "1m", since_ms: int | None = None, limit: int = 500
    ) -> list[Candle]:
        """Straight from the source."""
        return await self._source.fetch_ohlcv(symbol, timeframe, since_ms, limit)

    async def fetch_ticker(self, symbol: str) -> Ticker:
        """The source's ticker."""
        return await self._source.fetch_ticker(symbol)

    # --- account (local) ------------------------------------------------------------------------

    async def fetch_balance(self) -> Mapping[str, Balance]:
        """The paper account's balances."""
        engine = await self._ensure()
        await self._refresh_all()
        views: list[BalanceView] = self._run("fetch_balance", engine.balances)
        return {
            b.asset: Balance(
                b.asset, b.available, b.wallet + b.unrealized_pnl - b.available, b.wallet + b.unrealized_pnl
            )
            if engine.futures
            else Balance(b.asset, b.available, b.locked, b.available + b.locked)
            for b in views
        }

    async def fetch_positions(self, symbols: Sequence[str] | None = None) -> list[Position]:
        """Open paper positions (flat rows dropped)."""
        engine = await self._ensure()
        if not engine.futures:
            return []
        await self._refresh_all()
        views: list[PositionView] = self._run("fetch_positions", engine.positions)
        wanted = set(symbols) if symbols is not None else None
        out: list[Position] = []
        for p in views:
            unified = self._unified(p.symbol)
            if p.qty == 0 or (wanted is not None and unified not in wanted):
                continue
            out.append(
                Position(
                    symbol=unified,
                    side=Side.BUY if p.qty > 0 else Side.SELL,
                    qty=abs(p.qty),
                    entry_price=p.entry_price,
                    mark_price=p.mark_price,
                    unrealized_pnl=p.unrealized_pnl,
                    liquidation_price=_opt(p.liquidation_price),
                    leverage=p.leverage,
                    margin_mode=p.margin_mode,
                    notional=p.notional,
                    ts_ms=p.update_ms,
                )
            )
        return out

    def _futures_only(self, engine: MatchingEngine, operation: str) -> None:
        if not engine.futures:
            raise self._local(
                VenueErrorKind.NOT_SUPPORTED,
                f"{operation} needs a futures account; this paper venue trades spot",
                operation,
            )

    async def set_leverage(self, symbol: str, leverage: int) -> None:
        """Set the paper account's leverage for ``symbol``."""
        engine = await self._ensure()
        self._futures_only(engine, "set_leverage")
        vs = self._venue_symbol(symbol)
        self._run("set_leverage", lambda: engine.set_leverage(vs, leverage))

    async def set_margin_mode(self, symbol: str, mode: MarginMode) -> None:
        """Set the margin mode; already set is success."""
        engine = await self._ensure()
        self._futures_only(engine, "set_margin_mode")
        vs = self._venue_symbol(symbol)
        try:
            engine.set_margin_mode(vs, mode)
        except EngineReject as exc:
            if exc.code != -4046:
                raise self._error(exc, "set_margin_mode") from None

    async def create_order(self, request: OrderRequest) -> OrderReport:
        """Check precision and min notional like the live adapter, then fill locally."""
        engine = await self._ensure()
        market = self._markets.get(request.symbol)
        vs = self._venue_symbol(request.symbol)
        await self._refresh(request.symbol)
        ref = Decimal(str(self._run("create_order", lambda: self._feed.last_price(vs))))
        req = check_order(request, market, ref_price=ref, venue=self.name) if market is not None else request
        tif = req.time_in_force
        if req.post_only:
            tif = TimeInForce.GTX
        elif tif is None and req.type is OrderType.LIMIT:
            tif = TimeInForce.GTC
        place = PlaceRequest(
            symbol=vs,
            side=req.side,
            type=req.type,
            qty=req.qty,
            price=req.price,
            trigger_price=req.trigger_price,
            time_in_force=tif,
            reduce_only=req.reduce_only,
            close_position=req.close_position,
            client_id=req.client_order_id,
        )
        view = self._run("create_order", lambda: engine.place(place))
        return order_report(view, request.symbol)

    async def _lookup(
        self,
        operation: str,
        fn: Callable[..., OrderView],
        symbol: str,
        order_id: str | None,
        client_order_id: str | None,
        conditional: bool,
    ) -> OrderReport:
        engine = await self._ensure()
        vs = self._venue_symbol(symbol)
        if order_id is None and client_order_id is None:
            raise self._local(
                VenueErrorKind.INVALID_ORDER,
                "give order_id or client_order_id",
                operation,
            )
        try:
            oid = int(order_id) if order_id is not None else None
        except ValueError:
            raise self._local(
                VenueErrorKind.ORDER_NOT_FOUND,
                f"order_id {order_id!r} is not an id this venue issued",
                operation,
            ) from None
        await self._refresh(symbol)
        del engine
        view = self._run(
            operation, lambda: fn(vs, order_id=oid, client_id=client_order_id, conditional=conditional)
        )
        return order_report(view, symbol)

    async def cancel_order(
        self,
        symbol: str,
        *,
        order_id: str | None = None,
        client_order_id: str | None = None,
        conditional: bool = False,
    ) -> OrderReport:
        """Cancel a paper order (ORDER_NOT_FOUND when it is no longer open)."""
        engine = await self._ensure()
        return await self._lookup(
            "cancel_order", engine.cancel, symbol, order_id, client_order_id, conditional
        )

    async def fetch_order(
        self,
        symbol: str,
        *,
        order_id: str | None = None,
        client_order_id: str | None = None,
        conditional: bool = False,
    ) -> OrderReport:
        """Look a paper order up."""
        engine = await self._ensure()
        return await self._lookup("fetch_order", engine.order, symbol, order_id, client_order_id, conditional)

    async def fetch_open_orders(
        self, symbol: str | None = None, *, conditional: bool = False
    ) -> list[OrderReport]:
        """Open paper orders."""
        engine = await self._ensure()
        if symbol is not None:
            vs: str | None = self._venue_symbol(symbol)
            await self._refresh(symbol)
        else:
            vs = None
            await self._refresh_all()
        views = self._run("fetch_open_orders", lambda: engine.open_orders(vs, conditional=conditional))
        return [order_report(v, self._unified(v.symbol)) for v in views]

    async def fetch_fills(self, symbol: str, since_ms: int | None = None, limit: int = 500) -> list[Fill]:
        """Paper fills, oldest first."""
        engine = await self._ensure()
        vs = self._venue_symbol(symbol)
        await self._refresh(symbol)
        trades = self._run("fetch_fills", lambda: engine.user_trades(vs, start_ms=since_ms, limit=limit))
        return [_fill(t, symbol) for t in trades]

    async def close(self) -> None:
        """Close the source and the store."""
        try:
            await self._source.close()
        finally:
            if self._store is not None:
                self._store.close()
                self._store = None
