"""The live :class:`~eclipse.venues.protocol.Venue`: Binance USD-M (``binanceusdm``), Binance spot
(``binance``) and Coinbase Advanced Trade (``coinbase``) through ccxt's async API.

Every call goes: rate-limit turn (:mod:`~eclipse.venues.ratelimit`) -> ccxt -> conversion
(:mod:`~eclipse.venues.ccxt_convert`); any exception on the way becomes one
:class:`~eclipse.venues.errors.VenueError` via :func:`~eclipse.venues.classify.classify`, with the HTTP status
and headers of that very response (captured per call through a context variable hooked into ccxt's
``on_rest_response``). Only task cancellation propagates as itself.

Orders: the request's ``client_order_id`` is always sent (Binance ``newClientOrderId``, USD-M conditionals
``clientAlgoId``, Coinbase ``client_order_id``), so an OUTCOME_UNKNOWN can be resolved by
:meth:`CcxtVenue.fetch_order` (on Coinbase, which has no lookup by client id, by paging through List Orders).
Coinbase candles are asked for by time window, at most 300 bars a request: longer ``fetch_ohlcv`` calls are
split and joined. Protection orders are USD-M STOP_MARKET / TAKE_PROFIT_MARKET algo orders with
``reduceOnly`` + qty or ``closePosition``; spot venues refuse conditionals (NOT_SUPPORTED) and ignore
``reduce_only`` (a spot sell cannot open a short). On a timestamp error the venue resyncs its clock offset
once and raises TIMESTAMP: resending is the router's decision.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TypeVar

from eclipse.clock import Clock
from eclipse.venues import ccxt_convert as cv
from eclipse.venues.ccxt_factory import build_exchange
from eclipse.venues.classify import CCXT, classify
from eclipse.venues.credentials import Credentials
from eclipse.venues.errors import VenueError, VenueErrorKind
from eclipse.venues.precision import check_order
from eclipse.venues.ratelimit import LIMITS, RateLimiter, RateUsage, SleepFn, VenueLimits, scaled_limits
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

__all__ = ["CcxtVenue"]

log = logging.getLogger(__name__)
T = TypeVar("T")
K = VenueErrorKind

# Request weights (Binance figures, estimates between two X-MBX-USED-WEIGHT-1M readings).
_WEIGHTS: Mapping[str, int] = {
    "load_markets": 20,
    "fetch_time": 1,
    "fetch_ohlcv": 5,
    "fetch_ticker": 2,
    "fetch_balance": 10,
    "fetch_positions": 5,
    "set_leverage": 1,
    "set_margin_mode": 1,
    "create_order": 1,
    "cancel_order": 1,
    "fetch_order": 2,
    "fetch_open_orders": 5,
    "fetch_fills": 5,
}
_PROTECTIVE = frozenset({"fetch_open_orders", "fetch_order", "fetch_fills", "fetch_positions"})
"""Reads that keep a position protected: they may use the rate limiter's reserve."""
_PRICE_MAX_AGE_MS = 60_000
# Coinbase: candles per request (ccxt asks for at most 300; the venue allows 350), and List Orders paging
_CB_CANDLES = 300
_CB_PAGE = 250
_CB_MAX_PAGES = 40


@dataclass(slots=True)
class _CallInfo:
    """The response facts of one call (set by the ``on_rest_response`` hook)."""

    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)


_CALL: ContextVar[_CallInfo | None] = ContextVar("eclipse_ccxt_call", default=None)


class CcxtVenue:
    """A :class:`~eclipse.venues.protocol.Venue` over a ccxt async client.

    ``api_url`` points every endpoint at another server (the simulator) keeping the paths; ``credentials``
    None gives a public-only venue (market data; private calls raise AUTH). ``sleep`` is the rate limiter's
    sleep (tests pass one that advances a SimClock).
    """

    def __init__(
        self,
        exchange_id: str,
        credentials: Credentials | None,
        clock: Clock,
        *,
        api_url: str | None = None,
        timeout_ms: int = 10_000,
        recv_window_ms: int = 5_000,
        weight_budget_pct: float = 80.0,
        weight_reserve_pct: float = 0.0,
        rate_scale: float = 1.0,
        options: Mapping[str, Any] | None = None,
        sleep: SleepFn | None = None,
    ) -> None:
        self._id = exchange_id
        self._clock = clock
        self._credentials = credentials
        self._secrets = credentials.secrets if credentials else ()
        self._ex = build_exchange(
            exchange_id,
            credentials,
            clock,
            api_url=api_url,
            timeout_ms=timeout_ms,
            recv_window_ms=recv_window_ms,
            options=options,
        )
        self._limiter = RateLimiter(
            exchange_id,
            clock,
            budget_pct=weight_budget_pct,
            sleep=sleep,
            reserve_pct=weight_reserve_pct,
            limits=scaled_limits(LIMITS.get(exchange_id, VenueLimits(None, None, None)), rate_scale),
        )
        self._markets: dict[str, Market] | None = None
        self._last_price: dict[str, tuple[int, Decimal]] = {}
        self._hook_responses()

    # --- plumbing -------------------------------------------------------------------------------

    def _hook_responses(self) -> None:
        original = self._ex.on_rest_response

        def on_rest_response(code: Any, reason: Any, url: Any, method: Any, headers: Any, *rest: Any) -> Any:
            info = _CALL.get()
            if info is not None:
                info.status = int(code) if code is not None else None
                info.headers = {str(k): str(v) for k, v in dict(headers or {}).items()}
            return original(code, reason, url, method, headers, *rest)

        self._ex.on_rest_response = on_rest_response

    @property
    def name(self) -> str:
        """The ccxt exchange id."""
        return self._id

    @property
    def dry_run(self) -> bool:
        """False: orders reach the account behind the credentials."""
        return False

    @property
    def spot(self) -> bool:
        """True for the spot venues (no positions, leverage or conditional orders)."""
        return self._id != "binanceusdm"

    @property
    def rate_usage(self) -> RateUsage:
        """Request-budget usage for telemetry."""
        return self._limiter.usage

    @property
    def exchange(self) -> Any:
        """The underlying ccxt client (diagnostics and tests)."""
        return self._ex

    def _error(self, kind: VenueErrorKind, message: str, operation: str) -> VenueError:
        return VenueError(kind, message, venue=self._id, operation=operation, local=True)

    def _private(self, operation: str) -> None:
        if self._credentials is None:
            raise self._error(
                K.AUTH, "no API credentials: this venue is public-only (market data)", operation
            )

    async def _call(
        self,
        operation: str,
        action: Callable[[], Awaitable[T]],
        *,
        state_changing: bool = False,
        orders: int = 0,
        essential: bool = False,
    ) -> T:
        """Run ``action`` (ccxt call + conversion) under the rate limiter; every failure -> VenueError.

        The VenueError is raised outside the ``except`` block, so it carries no ``__context__``: the ccxt
        exception (whose text may echo a response body) is never chained onto it.
        """
        await self._limiter.wait_turn(
            _WEIGHTS.get(operation, 1),
            orders=orders,
            essential=essential,
            protective=operation in _PROTECTIVE,
        )
        info = _CallInfo()
        token = _CALL.set(info)
        try:
            return await action()
        except VenueError as exc:
            failure = self._contextualize(exc, operation)
        except Exception as exc:
            failure = classify(
                exc,
                venue=self._id,
                operation=operation,
                state_changing=state_changing,
                secrets=self._secrets,
                http_status=info.status,
                headers=info.headers,
            )
        finally:
            _CALL.reset(token)
            if info.headers:
                self._limiter.observe(info.headers)
        await self._after_error(failure, info)
        raise failure

    def _contextualize(self, exc: VenueError, operation: str) -> VenueError:
        if exc.venue:
            return exc
        return VenueError(
            exc.kind,
            exc.message,
            venue=self._id,
            operation=operation,
            code=exc.code,
            retry_after_s=exc.retry_after_s,
            local=exc.local,
        )

    async def _after_error(self, err: VenueError, info: _CallInfo) -> None:
        if err.kind is K.RATE_LIMITED and err.retry_after_s is not None:
            self._limiter.penalize(err.retry_after_s, ban=info.status == 418)
            log.warning("%s rate limited: back off %.1f s (%s)", self._id, err.retry_after_s, err.message)
        elif err.kind is K.TIMESTAMP:
            await self._resync_time()

    async def _resync_time(self) -> None:
        """Measure the venue clock offset once; later signed requests use it."""
        try:
            offset = await self._ex.load_time_difference()
        except Exception as exc:  # the TIMESTAMP error is raised anyway
            err = classify(
                exc, venue=self._id, operation="fetch_time", state_changing=False, secrets=self._secrets
            )
            log.warning("%s time resync failed: %s", self._id, err)
            return
        self._ex.options["adjustForTimeDifference"] = True
        log.warning("%s clock offset resynced: local - venue = %s ms", self._id, offset)

    # --- market data ----------------------------------------------------------------------------

    def _wanted(self, m: Mapping[str, Any]) -> bool:
        if self._id == "binanceusdm":
            return bool(m.get("swap")) and bool(m.get("linear"))
        return bool(m.get("spot"))

    async def load_markets(self, reload: bool = False) -> Mapping[str, Market]:
        """All tradable markets by unified symbol (cached unless ``reload``); malformed ones are skipped."""
        if self._markets is not None and not reload:
            return self._markets

        async def run() -> dict[str, Market]:
            raw = await self._ex.load_markets(reload)
            out: dict[str, Market] = {}
            for symbol, m in (raw or {}).items():
                if not isinstance(m, Mapping) or not self._wanted(m):
                    continue
                try:
                    out[symbol] = cv.market_from_ccxt(m, self._ex.precisionMode)
                except cv.MalformedResponseError as exc:
                    log.warning("%s: skipping market %s: %s", self._id, symbol, exc)
            return out

        self._markets = await self._call("load_markets", run)
        return self._markets

    async def market(self, symbol: str) -> Market:
        """One market; INVALID_ORDER naming the symbol when the venue does not list it."""
        markets = await self.load_markets()
        found = markets.get(symbol)
        if found is None:
            kind = "USD-M perpetual" if self._id == "binanceusdm" else "spot"
            raise self._error(
                K.INVALID_ORDER,
                f"symbol {symbol!r} is not a listed {kind} market on {self._id} "
                f"(ccxt unified symbols look like {'BTC/USDT:USDT' if kind != 'spot' else 'BTC/USDT'})",
                "market",
            )
        return found

    async def fetch_time_ms(self) -> int:
        """The venue's clock in Unix ms."""

        async def run() -> int:
            value = await self._ex.fetch_time()
            if not isinstance(value, int | float):
                raise cv.MalformedResponseError(f"server time {value!r}")
            return int(value)

        return await self._call("fetch_time", run)

    async def fetch_ohlcv(
        self, symbol: str, timeframe: str = "1m", since_ms: int | None = None, limit: int = 500
    ) -> list[Candle]:
        """Bars oldest first (the last one may still be forming)."""

        async def run() -> list[Candle]:
            if self._id == "coinbase":
                rows = await self._coinbase_ohlcv(symbol, timeframe, since_ms, limit)
            else:
                rows = await self._ex.fetch_ohlcv(symbol, timeframe, since_ms, limit)
            candles = sorted((cv.candle_from_row(r) for r in rows or []), key=lambda c: c.ts_ms)
            if candles:
                self._remember_price(symbol, Decimal(str(candles[-1].close)))
            return candles

        return await self._call("fetch_ohlcv", run)

    async def _coinbase_ohlcv(
        self, symbol: str, timeframe: str, since_ms: int | None, limit: int
    ) -> list[list[Any]]:
        """Coinbase candles are asked for by time window (at most 300 a request): ``limit`` bars from
        ``since_ms``, else the latest ``limit`` bars up to the clock's now, in windows of 300 bars."""
        step = int(self._ex.parse_timeframe(timeframe)) * 1000
        count = max(limit, 1)
        start = since_ms if since_ms is not None else (self._clock.now_ms() // step - count + 1) * step
        rows: dict[int, list[Any]] = {}
        done = 0
        while done < count:
            n = min(count - done, _CB_CANDLES)
            until = start + n * step
            for row in await self._ex.fetch_ohlcv(symbol, timeframe, start, n, {"until": until}) or []:
                if isinstance(row, list) and row and isinstance(row[0], int | float):
                    rows[int(row[0])] = row
            done, start = done + n, until
        ordered = [rows[ts] for ts in sorted(rows)]
        return ordered[:count] if since_ms is not None else ordered[-count:]

    async def fetch_ticker(self, symbol: str) -> Ticker:
        """Last price and best bid/ask."""

        async def run() -> Ticker:
            ticker = cv.ticker_from_ccxt(symbol, await self._ex.fetch_ticker(symbol), self._clock.now_ms())
            self._remember_price(symbol, ticker.last)
            return ticker

        return await self._call("fetch_ticker", run)

    def _remember_price(self, symbol: str, price: Decimal) -> None:
        self._last_price[symbol] = (self._clock.now_ms(), price)

    def _ref_price(self, symbol: str) -> Decimal | None:
        seen = self._last_price.get(symbol)
        if seen is None or self._clock.now_ms() - seen[0] > _PRICE_MAX_AGE_MS:
            return None
        return seen[1]

    # --- account --------------------------------------------------------------------------------

    async def fetch_balance(self) -> Mapping[str, Balance]:
        """Balances by asset."""
        self._private("fetch_balance")

        async def run() -> Mapping[str, Balance]:
            return cv.balances_from_ccxt(await self._ex.fetch_balance())

        return await self._call("fetch_balance", run)

    async def fetch_positions(self, symbols: Sequence[str] | None = None) -> list[Position]:
        """Open USD-M positions (always empty on spot venues)."""
        if self.spot:
            return []
        self._private("fetch_positions")

        async def run() -> list[Position]:
            raw = await self._ex.fetch_positions(list(symbols) if symbols else None)
            now = self._clock.now_ms()
            out = [cv.position_from_ccxt(p, now) for p in raw or []]
            return [p for p in out if p is not None]

        return await self._call("fetch_positions", run)

    def _futures_only(self, operation: str) -> None:
        if self.spot:
            raise self._error(
                K.NOT_SUPPORTED, f"{operation} is a futures call; {self._id} is spot", operation
            )

    async def set_leverage(self, symbol: str, leverage: int) -> None:
        """Set the symbol's leverage (USD-M only)."""
        self._futures_only("set_leverage")
        self._private("set_leverage")
        if leverage < 1:
            raise self._error(
                K.INVALID_ORDER, f"leverage {leverage} for {symbol} must be >= 1", "set_leverage"
            )

        async def run() -> None:
            await self._ex.set_leverage(leverage, symbol)

        await self._call("set_leverage", run, state_changing=True)

    async def set_margin_mode(self, symbol: str, mode: MarginMode) -> None:
        """Set isolated or cross margin (USD-M only); already-set is success."""
        self._futures_only("set_margin_mode")
        self._private("set_margin_mode")

        async def run() -> None:
            try:
                await self._ex.set_margin_mode(mode.value, symbol)
            except CCXT.MarginModeAlreadySet:
                return

        await self._call("set_margin_mode", run, state_changing=True)

    # --- orders ---------------------------------------------------------------------------------

    def _refuse_unsupported(self, req: OrderRequest) -> None:
        if self.spot and (req.type.conditional or req.close_position):
            raise self._error(
                K.NOT_SUPPORTED,
                f"{req.type.value} orders{' with close_position' if req.close_position else ''} are USD-M "
                f"protection orders; {self._id} is spot",
                "create_order",
            )

    async def create_order(self, request: OrderRequest) -> OrderReport:
        """Place ``request`` after the local precision / min-notional checks (INVALID_ORDER, local)."""
        self._private("create_order")
        self._refuse_unsupported(request)
        market = await self.market(request.symbol)
        if not market.active:
            raise self._error(K.INVALID_ORDER, f"market {request.symbol} is not trading", "create_order")
        checked = check_order(request, market, ref_price=self._ref_price(request.symbol), venue=self._id)
        otype, amount, price, params = cv.order_args(self._id, checked)
        essential = checked.reduce_only or checked.close_position

        async def run() -> OrderReport:
            raw = await self._ex.create_order(
                checked.symbol, otype, checked.side.value, amount, price, params
            )
            return cv.order_from_ccxt(
                raw, now_ms=self._clock.now_ms(), conditional=checked.type.conditional, request=checked
            )

        return await self._call("create_order", run, state_changing=True, orders=1, essential=essential)

    def _check_lookup(
        self, operation: str, order_id: str | None, client_order_id: str | None, cond: bool
    ) -> None:
        if order_id is None and client_order_id is None:
            raise self._error(K.INVALID_ORDER, "give order_id or client_order_id", operation)
        if cond and self.spot:
            raise self._error(K.NOT_SUPPORTED, f"{self._id} has no conditional (algo) order book", operation)
        self._private(operation)

    async def cancel_order(
        self,
        symbol: str,
        *,
        order_id: str | None = None,
        client_order_id: str | None = None,
        conditional: bool = False,
    ) -> OrderReport:
        """Cancel one order; ORDER_NOT_FOUND when the venue no longer has it open."""
        self._check_lookup("cancel_order", order_id, client_order_id, conditional)
        if self._id == "coinbase" and order_id is None:
            order_id = (await self.fetch_order(symbol, client_order_id=client_order_id)).order_id

        async def run() -> OrderReport | str | None:
            if self._id == "coinbase":
                return await self._coinbase_cancel(str(order_id))
            params = cv.lookup_params(client_order_id, conditional)
            raw = await self._ex.cancel_order(order_id or "", symbol, params)
            if isinstance(raw, Mapping) and cv.order_is_complete(raw):
                return cv.order_from_ccxt(raw, now_ms=self._clock.now_ms(), conditional=conditional)
            ack = raw.get("id") if isinstance(raw, Mapping) else None
            return str(ack) if ack not in (None, "") else None

        outcome = await self._call("cancel_order", run, state_changing=True, essential=True)
        if isinstance(outcome, OrderReport):
            return outcome
        # a bare acknowledgement (Binance algo cancel, Coinbase): read the order back
        known_id = outcome or order_id
        try:
            return await self.fetch_order(
                symbol,
                order_id=known_id,
                client_order_id=None if known_id else client_order_id,
                conditional=conditional,
            )
        except VenueError as exc:
            raise VenueError(
                K.OUTCOME_UNKNOWN,
                f"cancel acknowledged but the order could not be read back: {exc.message}",
                venue=self._id,
                operation="cancel_order",
                code=exc.code,
            ) from None

    async def fetch_order(
        self,
        symbol: str,
        *,
        order_id: str | None = None,
        client_order_id: str | None = None,
        conditional: bool = False,
    ) -> OrderReport:
        """Look one order up (by venue id or client id); ORDER_NOT_FOUND when the venue never saw it."""
        self._check_lookup("fetch_order", order_id, client_order_id, conditional)
        if self._id == "coinbase" and order_id is None:
            return await self._coinbase_by_client_id(symbol, str(client_order_id))

        async def run() -> OrderReport:
            params = {} if self._id == "coinbase" else cv.lookup_params(client_order_id, conditional)
            raw = await self._ex.fetch_order(order_id or "", symbol, params)
            return cv.order_from_ccxt(raw, now_ms=self._clock.now_ms(), conditional=conditional)

        return await self._call("fetch_order", run)

    async def _coinbase_cancel(self, order_id: str) -> str:
        """Coinbase batch cancel of one id, reading its failure reason (ccxt folds every reason into one)."""
        response = await self._ex.v3PrivatePostBrokerageOrdersBatchCancel({"order_ids": [order_id]})
        results = response.get("results") if isinstance(response, Mapping) else None
        first = (
            results[0] if isinstance(results, list) and results and isinstance(results[0], Mapping) else {}
        )
        if first.get("success") is True:
            return order_id
        reason = str(first.get("failure_reason") or "no result")
        kind = (
            K.ORDER_NOT_FOUND
            if reason in ("UNKNOWN_CANCEL_ORDER", "INVALID_CANCEL_REQUEST")
            else K.INVALID_ORDER
        )
        raise self._error(kind, f"cancel of order {order_id} refused: {reason}", "cancel_order")

    async def _coinbase_orders(
        self, symbol: str | None, status: str | None, stop: Callable[[Mapping[str, Any]], bool] | None = None
    ) -> tuple[list[dict[str, Any]], bool]:
        """Page through Coinbase's List Orders (newest first) of ``symbol`` (all products when None) with
        ``order_status`` ``status``: the parsed ccxt orders, and whether the list was read to its end. Stops
        early at the first order ``stop`` accepts (which is then the last one returned)."""
        request: dict[str, Any] = {"limit": _CB_PAGE}
        market = self._ex.market(symbol) if symbol is not None else None
        if market is not None:
            request["product_id"] = market["id"]
        if status is not None:
            request["order_status"] = status
        out: list[dict[str, Any]] = []
        for _ in range(_CB_MAX_PAGES):
            response = await self._ex.v3PrivateGetBrokerageOrdersHistoricalBatch(dict(request))
            if not isinstance(response, Mapping) or not isinstance(response.get("orders"), list):
                raise cv.MalformedResponseError("List Orders answered without an orders list")
            for raw in response["orders"]:
                if not isinstance(raw, Mapping):
                    raise cv.MalformedResponseError(f"unreadable order in List Orders: {raw!r}")
                parsed: dict[str, Any] = self._ex.parse_order(dict(raw), market)
                out.append(parsed)
                if stop is not None and stop(parsed):
                    return out, False
            cursor = response.get("cursor")
            if response.get("has_next") is not True or not cursor:
                return out, True
            request["cursor"] = cursor
        return out, False

    async def _coinbase_by_client_id(self, symbol: str, client_order_id: str) -> OrderReport:
        """Coinbase has no lookup by client id: search the orders of ``symbol``, newest first (the newest
        ``_CB_PAGE * _CB_MAX_PAGES`` at most)."""
        await self.market(symbol)

        def wanted(o: Mapping[str, Any]) -> bool:
            return o.get("clientOrderId") == client_order_id

        async def run() -> OrderReport:
            orders, complete = await self._coinbase_orders(symbol, None, stop=wanted)
            if orders and wanted(orders[-1]):
                return cv.order_from_ccxt(orders[-1], now_ms=self._clock.now_ms())
            scope = "order" if complete else f"of the newest {len(orders)} orders"
            raise self._error(
                K.ORDER_NOT_FOUND, f"no {symbol} {scope} has client id {client_order_id}", "fetch_order"
            )

        return await self._call("fetch_order", run)

    async def fetch_open_orders(
        self, symbol: str | None = None, *, conditional: bool = False
    ) -> list[OrderReport]:
        """Open orders (the USD-M algo book with ``conditional=True``; spot venues have none there)."""
        if conditional and self.spot:
            return []
        self._private("fetch_open_orders")

        if self._id == "coinbase":  # the paging below reads ccxt's market table
            if symbol is None:
                await self.load_markets()
            else:
                await self.market(symbol)

        async def run() -> list[OrderReport]:
            if self._id == "coinbase":
                raw, complete = await self._coinbase_orders(symbol, "OPEN")
                if not complete:
                    raise self._error(
                        K.NOT_SUPPORTED,
                        f"more than {len(raw)} open orders: the list would be incomplete",
                        "fetch_open_orders",
                    )
            else:
                params = {"trigger": True} if conditional else {}
                raw = await self._ex.fetch_open_orders(symbol, None, None, params)
            now = self._clock.now_ms()
            return [cv.order_from_ccxt(o, now_ms=now, conditional=conditional) for o in raw or []]

        return await self._call("fetch_open_orders", run)

    async def fetch_fills(self, symbol: str, since_ms: int | None = None, limit: int = 500) -> list[Fill]:
        """This account's executions on ``symbol``, oldest first."""
        self._private("fetch_fills")

        async def run() -> list[Fill]:
            raw = await self._ex.fetch_my_trades(symbol, since_ms, limit)
            now = self._clock.now_ms()
            return sorted((cv.fill_from_ccxt(t, now) for t in raw or []), key=lambda f: (f.ts_ms, f.trade_id))

        return await self._call("fetch_fills", run)

    async def close(self) -> None:
        """Release the HTTP session."""
        try:
            await self._ex.close()
        except Exception as exc:
            log.warning("%s close failed: %s", self._id, type(exc).__name__)

    def __repr__(self) -> str:
        return f"CcxtVenue({self._id!r}, credentials={'***' if self._credentials else None})"
