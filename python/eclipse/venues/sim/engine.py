"""The matching engine: one account (futures or spot) trading against the :class:`MarketFeed` price path.

Every public call first syncs to market time: it walks each active symbol's path from the last processed
time and, in time order, delivers scheduled partial fills, fills resting limits the price touches (at the
limit price, maker fee), fires stop-market / take-profit-market triggers (at the trigger price when the
path moves through it, at the gapped price when it jumps over it), and liquidates a futures position whose
liquidation price is crossed. Events at the same point go in the order the path crosses their levels.
Market orders fill at once at the ask (buy) / bid (sell), moved by ``slippage_bps`` (+ ``impact`` bps per
million of notional), rounded against the taker to the tick, taker fee.

Determinism: ids come from counters and times from the feed, so the same requests under the same clock
give the same ids, fills and timestamps. Regular orders and conditional (algo) orders have separate
counters, as Binance's ``orderId`` and ``algoId``: by default (:attr:`AlgoIdLayout.APART`) order ids start
at 1 and algo ids at :data:`ALGO_ID_START` (1,000,000,001), so an algo id mistaken for an order id finds
nothing; :attr:`AlgoIdLayout.COINCIDE` starts both at 1, so the same number names an order in each book.
With a :class:`SimStore` every call is written through in one transaction and a new engine on the same
store continues where the previous one stopped (counters included).
"""

from __future__ import annotations

import bisect
import json
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from enum import StrEnum
from typing import Any

from eclipse.clock import Clock
from eclipse.venues.sim.accounts import (
    PositionState,
    SpotBalance,
)
from eclipse.venues.sim.fills import finish, track
from eclipse.venues.sim.instruments import LeverageBracket, leverage_brackets, max_notional_for
from eclipse.venues.sim.margin import margin_summary, position_view
from eclipse.venues.sim.market import MarketFeed
from eclipse.venues.sim.model import (
    BalanceView,
    EngineFaults,
    EngineReject,
    InstrumentSpec,
    NoFaults,
    OrderView,
    PlaceRequest,
    PositionView,
    TradeView,
)
from eclipse.venues.sim.orders import OrderRecord, dumps, trade_from_json, trade_to_data
from eclipse.venues.sim.placing import place_order, race_fill
from eclipse.venues.sim.rules import FUTURES_CODES, SPOT_CODES
from eclipse.venues.sim.store import OrderRow, SimStore
from eclipse.venues.sim.walk import walk_symbol
from eclipse.venues.types import MarginMode, MarketKind, Side

__all__ = ["ALGO_ID_START", "AlgoIdLayout", "EngineConfig", "MatchingEngine"]

ALGO_ID_START = 1_000_000_001  # the first algo id of the APART layout (order ids start at 1)
_ZERO = Decimal(0)
_UNKNOWN = (-2011, "Unknown order sent.")
_MISSING = (-2013, "Order does not exist.")


class AlgoIdLayout(StrEnum):
    """Where the algo-id sequence starts: ``apart`` (at :data:`ALGO_ID_START`, far from the order ids, which
    start at 1) or ``coincide`` (at 1, like the order ids: one number names an order in each book)."""

    APART = "apart"
    COINCIDE = "coincide"

    @property
    def first_algo_id(self) -> int:
        """The first algo id of this layout."""
        return ALGO_ID_START if self is AlgoIdLayout.APART else 1

    @classmethod
    def parse(cls, value: str) -> AlgoIdLayout:
        """``value`` (a layout or its name) as a layout; ValueError naming the choices otherwise."""
        try:
            return cls(value)
        except ValueError:
            raise ValueError(f"algo_ids must be 'apart' or 'coincide', got {value!r}") from None


@dataclass(frozen=True, slots=True)
class EngineConfig:
    """Fees, slippage, starting balances and defaults of one account kind (see :meth:`futures` /
    :meth:`spot`). ``max_terminal_orders`` (in all) / ``max_trades`` (per symbol): how many finished orders
    and trades stay in memory (older ones are answered from the store, or archived as Binance does).
    The first of ``initial_balances`` is a futures account's settle asset. ``algo_ids``: where the algo-id
    sequence starts (a restored account keeps its saved counters whatever this says)."""

    kind: MarketKind = MarketKind.LINEAR
    maker_fee: Decimal = Decimal("0.0002")
    taker_fee: Decimal = Decimal("0.0004")
    slippage_bps: Decimal = Decimal("0.5")
    impact_bps_per_million: Decimal = _ZERO
    initial_balances: tuple[tuple[str, Decimal], ...] = (("USDT", Decimal(10_000)),)
    default_leverage: int = 20
    margin_mode: MarginMode = MarginMode.CROSS
    max_terminal_orders: int = 100_000
    max_trades: int = 200_000
    algo_ids: AlgoIdLayout = AlgoIdLayout.APART

    def __post_init__(self) -> None:
        object.__setattr__(self, "algo_ids", AlgoIdLayout.parse(self.algo_ids))

    @classmethod
    def futures(cls, **overrides: Any) -> EngineConfig:
        """USD-M defaults: fees 0.02% / 0.04%, 10,000 USDT, leverage 20, cross margin, algo ids apart."""
        return replace(cls(), **overrides)

    @classmethod
    def spot(cls, **overrides: Any) -> EngineConfig:
        """Spot defaults: fees 0.1% / 0.1%, 10,000 USDT and 0 BTC."""
        base = cls(
            kind=MarketKind.SPOT,
            maker_fee=Decimal("0.001"),
            taker_fee=Decimal("0.001"),
            initial_balances=(("USDT", Decimal(10_000)), ("BTC", _ZERO)),
        )
        return replace(base, **overrides)

    @property
    def namespace(self) -> str:
        """``futures`` or ``spot`` (the store's namespace)."""
        return "futures" if self.kind is MarketKind.LINEAR else "spot"


@dataclass(slots=True)
class OrderBook:
    """One order book of the account: regular orders or conditional (algo) orders."""

    tag: str
    orders: dict[int, OrderRecord] = field(default_factory=dict)
    open: dict[str, dict[int, OrderRecord]] = field(default_factory=dict)
    cid_open: dict[str, int] = field(default_factory=dict)
    cid_last: dict[str, int] = field(default_factory=dict)


class MatchingEngine:
    """One account's orders, fills and balances (Binance semantics; see the module docstring).

    Market time (every timestamp) comes from ``feed``; ``clock`` is kept for callers that need the wall
    time. ``store``: restore from it when it holds this account, and write every change through to it.
    """

    def __init__(
        self,
        instruments: Mapping[str, InstrumentSpec] | Iterable[InstrumentSpec],
        feed: MarketFeed,
        clock: Clock,
        config: EngineConfig | None = None,
        faults: EngineFaults | None = None,
        store: SimStore | None = None,
    ) -> None:
        self.config = cfg = config or EngineConfig.futures()
        specs = list(instruments.values()) if isinstance(instruments, Mapping) else list(instruments)
        for s in specs:
            if s.kind is not cfg.kind:
                raise ValueError(f"{s.symbol} is a {s.kind} instrument, this engine trades {cfg.kind}")
        self.specs: dict[str, InstrumentSpec] = {s.symbol: s for s in specs}
        self.futures = cfg.kind is MarketKind.LINEAR
        self.codes = FUTURES_CODES if self.futures else SPOT_CODES
        self.ns = cfg.namespace
        self.feed = feed
        self.clock = clock
        self.faults: EngineFaults = faults or NoFaults()
        self.has_faults = not isinstance(self.faults, NoFaults)
        self.store = store
        self.brackets: dict[str, tuple[LeverageBracket, ...]] = {
            k: leverage_brackets(s) for k, s in self.specs.items() if self.futures
        }
        self.regular = OrderBook("o", open={k: {} for k in self.specs})
        self.algo = OrderBook("a", open={k: {} for k in self.specs})
        self.terminal: deque[tuple[str, int]] = deque()
        self.trades_mem: dict[str, list[TradeView]] = {k: [] for k in self.specs}
        self.trades_evicted = False
        self.next_order_id = 1
        self.next_algo_id = cfg.algo_ids.first_algo_id
        self.next_trade_id = 1
        self.cursor: dict[str, int] = {}
        self._synced: tuple[int, int] | None = None
        self.settle = cfg.initial_balances[0][0]
        self.wallet = Decimal(cfg.initial_balances[0][1])
        self.update_ms = 0
        self.pos_state: dict[str, PositionState] = {
            k: PositionState(leverage=cfg.default_leverage, margin_mode=cfg.margin_mode) for k in self.specs
        }
        self.assets: dict[str, SpotBalance] = {a: SpotBalance(Decimal(v)) for a, v in cfg.initial_balances}
        for s in self.specs.values():
            for a in (s.base, s.quote):
                self.assets.setdefault(a, SpotBalance())
        # open-order margin sums per symbol and side: [priced qty, its notional, unpriced qty]
        self.order_agg: dict[str, dict[int, list[Decimal]]] = {
            k: {1: [_ZERO, _ZERO, _ZERO], -1: [_ZERO, _ZERO, _ZERO]} for k in self.specs
        }
        self.tracked: dict[int, tuple[Decimal, Decimal, Decimal]] = {}
        self._dirty: dict[tuple[str, int], OrderRecord] = {}
        self.new_trades: list[TradeView] = []
        self._dirty_state = False
        if store is not None:
            self._restore(store)
        if not self.update_ms:
            self.update_ms = feed.now_ms()  # a funded account has an update time (ccxt skips 0)

    # -- persistence -------------------------------------------------------------------------------------

    def _account_data(self) -> dict[str, Any]:
        acc: dict[str, Any] = {
            "counters": [self.next_order_id, self.next_algo_id, self.next_trade_id],
            "cursors": self.cursor,
            "update_ms": self.update_ms,
            "wallet": str(self.wallet),
            "positions": {
                k: [str(p.qty), str(p.entry), p.leverage, p.margin_mode.value, p.update_ms]
                for k, p in self.pos_state.items()
            },
            "balances": {a: [str(b.free), str(b.locked)] for a, b in self.assets.items()},
        }
        return acc

    def _restore(self, store: SimStore) -> None:
        saved_feed = store.load_feed()
        if saved_feed is not None and not self.feed.restored:
            self.feed.restore(saved_feed)
        state = store.load_state(self.ns)
        if "account" not in state:
            return
        acc = json.loads(state["account"])
        self.next_order_id, self.next_algo_id, self.next_trade_id = (int(x) for x in acc["counters"])
        self.cursor = {k: int(v) for k, v in acc["cursors"].items()}
        self.update_ms = int(acc["update_ms"])
        self.wallet = Decimal(acc["wallet"])
        for k, (q, e, lev, mode, ms) in acc["positions"].items():
            if k in self.pos_state:
                self.pos_state[k] = PositionState(Decimal(q), Decimal(e), int(lev), MarginMode(mode), int(ms))
        for a, (free, locked) in acc["balances"].items():
            self.assets[a] = SpotBalance(Decimal(free), Decimal(locked))
        records = sorted(
            (OrderRecord.from_json(t) for t in store.load_orders(self.ns, self.config.max_terminal_orders)),
            key=lambda o: (o.conditional, o.order_id),
        )
        for o in records:
            book = self.algo if o.conditional else self.regular
            book.orders[o.order_id] = o
            book.cid_last[o.client_id] = o.order_id
            if o.is_open:
                book.open.setdefault(o.symbol, {})[o.order_id] = o
                book.cid_open[o.client_id] = o.order_id
                track(self, o, True)
            else:
                self.terminal.append((book.tag, o.order_id))
        trades = [trade_from_json(t) for t in store.load_trades(self.ns, self.config.max_trades)]
        self.trades_evicted = len(trades) >= self.config.max_trades
        for t in trades:
            self.trades_mem.setdefault(t.symbol, []).append(t)

    def _flush(self) -> None:
        if not (self._dirty or self.new_trades or self._dirty_state):
            return
        if self.store is not None:
            rows: list[OrderRow] = [
                (tag, o.order_id, o.client_id, o.symbol, o.status, dumps(o.to_data()))
                for (tag, _), o in self._dirty.items()
            ]
            trades = [(t.trade_id, t.symbol, t.ts_ms, dumps(trade_to_data(t))) for t in self.new_trades]
            self.store.write(
                self.ns, rows, trades, {"account": dumps(self._account_data())}, self.feed.state()
            )
        self._dirty.clear()
        self.new_trades.clear()
        self._dirty_state = False

    def touch(self, o: OrderRecord) -> None:
        """Mark an order (and the account) for the next write-through."""
        self._dirty[("a" if o.conditional else "o", o.order_id)] = o
        self._dirty_state = True

    # -- time and prices -----------------------------------------------------------------------------------

    def now_ms(self) -> int:
        """Market time."""
        return self.feed.now_ms()

    def to_price(self, symbol: str, x: float, rounding: str = ROUND_FLOOR) -> Decimal:
        """A feed price as a Decimal on the symbol's tick."""
        tick = self.specs[symbol].tick_size
        return (Decimal(repr(x)) / tick).to_integral_value(rounding) * tick

    def mark(self, symbol: str) -> Decimal:
        """Mark price = last price, on the tick."""
        tick = self.specs[symbol].tick_size
        return (Decimal(repr(self.feed.last_price(symbol))) / tick).quantize(Decimal(1)) * tick

    def taker_price(self, symbol: str, side: Side, base: float, qty: Decimal) -> Decimal:
        """``base`` (ask for a buy, bid for a sell) moved by slippage against the taker, on the tick."""
        b = Decimal(repr(base))
        cfg = self.config
        bps = cfg.slippage_bps + cfg.impact_bps_per_million * qty * b / Decimal(1_000_000)
        if side is Side.BUY:
            return self.to_price(symbol, float(b * (1 + bps / 10_000)), ROUND_CEILING)
        return max(
            self.to_price(symbol, float(b * (1 - bps / 10_000)), ROUND_FLOOR), self.specs[symbol].tick_size
        )

    # -- sync ----------------------------------------------------------------------------------------------

    def active(self, symbol: str) -> bool:
        """True when something on ``symbol`` may react to price (orders, or a futures position)."""
        return bool(self.regular.open[symbol] or self.algo.open[symbol] or self.pos_state[symbol].qty)

    def _sync(self) -> None:
        key = (self.feed.now_ms(), self.feed.revision)
        if key == self._synced:
            return  # neither the market's time nor its data moved: no horizon can have moved either
        self._synced = key
        for sym in self.specs:
            if not self.feed.has_data(sym):
                continue
            h = self.feed.horizon(sym)
            c = self.cursor.get(sym)
            if c is None or h <= c:
                self.cursor[sym] = h if c is None else c
                continue
            if self.active(sym):
                walk_symbol(self, sym, c, h)
                self._dirty_state = True
            self.cursor[sym] = h

    def sync(self) -> None:
        """Process everything the market did up to now (and write it through)."""
        try:
            self._sync()
        finally:
            self._flush()

    # -- public API: orders ----------------------------------------------------------------------------

    def place(self, req: PlaceRequest) -> OrderView:
        """Place an order (regular or conditional); EngineReject with Binance's code when refused."""
        try:
            self._sync()
            return place_order(self, req)
        finally:
            self._flush()

    def book(self, conditional: bool) -> OrderBook:
        """The algo book or the regular book."""
        return self.algo if conditional else self.regular

    def _find(
        self, book: OrderBook, symbol: str, order_id: int | None, client_id: str | None
    ) -> OrderRecord | None:
        if order_id is None and client_id is None:
            raise EngineReject(
                -1102, "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!"
            )
        oid = order_id if order_id is not None else book.cid_last.get(client_id or "")
        o = book.orders.get(oid) if oid is not None else None
        if o is None and self.store is not None:
            text = self.store.find_order(self.ns, book.tag, order_id, client_id)
            o = OrderRecord.from_json(text) if text is not None else None
        if o is None or o.symbol != symbol or (client_id is not None and o.client_id != client_id):
            return None
        return o

    def cancel(
        self,
        symbol: str,
        order_id: int | None = None,
        client_id: str | None = None,
        conditional: bool = False,
    ) -> OrderView:
        """Cancel an open order; -2011 when it is not open. A cancel that loses the race (fault) lets the
        pending fill happen first and then fails with -2011."""
        try:
            self._sync()
            if symbol not in self.specs:
                raise EngineReject(-1121, "Invalid symbol.")
            book = self.book(conditional)
            if order_id is None and client_id is not None and client_id in book.cid_open:
                order_id = book.cid_open[client_id]
            o = self._find(book, symbol, order_id, client_id)
            if o is None or not o.is_open or book.open[symbol].get(o.order_id) is not o:
                raise EngineReject(*_UNKNOWN)
            if self.has_faults and self.faults.cancel_races_fill(o.view()):
                race_fill(self, o)
                raise EngineReject(*_UNKNOWN)
            finish(self, o, "CANCELED", self.now_ms())
            return o.view()
        finally:
            self._flush()

    def order(
        self,
        symbol: str,
        order_id: int | None = None,
        client_id: str | None = None,
        conditional: bool = False,
    ) -> OrderView:
        """Any order ever placed (open or terminal); -2013 when never seen."""
        try:
            self._sync()
            if symbol not in self.specs:
                raise EngineReject(-1121, "Invalid symbol.")
            o = self._find(self.book(conditional), symbol, order_id, client_id)
            if o is None:
                raise EngineReject(*_MISSING)
            return o.view()
        finally:
            self._flush()

    def open_orders(self, symbol: str | None = None, conditional: bool = False) -> list[OrderView]:
        """Open orders (of one symbol or all), oldest first."""
        try:
            self._sync()
            if symbol is not None and symbol not in self.specs:
                raise EngineReject(-1121, "Invalid symbol.")
            book = self.book(conditional)
            syms = [symbol] if symbol is not None else list(self.specs)
            return sorted((o.view() for s in syms for o in book.open[s].values()), key=lambda v: v.order_id)
        finally:
            self._flush()

    def user_trades(
        self,
        symbol: str,
        start_ms: int | None = None,
        end_ms: int | None = None,
        from_id: int | None = None,
        limit: int = 500,
    ) -> list[TradeView]:
        """Trades of a symbol, oldest first: from ``from_id`` / ``start_ms`` the first ``limit``, else the
        newest ``limit`` (up to ``end_ms``)."""
        try:
            self._sync()
            if symbol not in self.specs:
                raise EngineReject(-1121, "Invalid symbol.")
            if self.store is not None and self.trades_evicted:
                self._flush()
                rows = self.store.query_trades(self.ns, symbol, start_ms, end_ms, from_id, limit)
                return [trade_from_json(r) for r in rows]
            lst = self.trades_mem.get(symbol, [])
            i = 0 if from_id is None else bisect.bisect_left(lst, from_id, key=lambda x: x.trade_id)
            if start_ms is not None:
                i = max(i, bisect.bisect_left(lst, start_ms, key=lambda x: x.ts_ms))
            j = len(lst) if end_ms is None else bisect.bisect_right(lst, end_ms, key=lambda x: x.ts_ms)
            if from_id is None and start_ms is None:
                return lst[max(i, j - limit) : j]
            return lst[i : min(j, i + limit)]
        finally:
            self._flush()

    # -- public API: account -------------------------------------------------------------------------------

    def positions(self, symbol: str | None = None) -> list[PositionView]:
        """Futures position rows for every listed symbol (or one), flat ones included; [] for spot."""
        try:
            self._sync()
            if symbol is not None and symbol not in self.specs:
                raise EngineReject(-1121, "Invalid symbol.")
            if not self.futures:
                return []
            return [position_view(self, s) for s in ([symbol] if symbol else self.specs)]
        finally:
            self._flush()

    def balances(self) -> list[BalanceView]:
        """Futures: the settle-asset wallet with margins; spot: free/locked per asset."""
        try:
            self._sync()
            t = self.update_ms
            if self.futures:
                upnl, _, pos_im, order_im, avail = margin_summary(self)
                w = self.wallet
                return [BalanceView(self.settle, w, avail, _ZERO, pos_im + order_im, upnl, w + upnl, t)]
            return [
                BalanceView(a, b.free + b.locked, b.free, b.locked, _ZERO, _ZERO, b.free + b.locked, t)
                for a, b in self.assets.items()
            ]
        finally:
            self._flush()

    def _futures_only(self, symbol: str) -> PositionState:
        if not self.futures:
            # Binance's -1020 UNSUPPORTED_OPERATION: a definitive refusal (-1000 would read "outcome unknown")
            raise EngineReject(-1020, "This operation is not supported by a spot account.")
        if symbol not in self.specs:
            raise EngineReject(-1121, "Invalid symbol.")
        return self.pos_state[symbol]

    def set_leverage(self, symbol: str, leverage: int) -> Decimal:
        """Set the symbol's leverage (1..max, else -4028); returns the bracket's max notional."""
        try:
            self._sync()
            pos = self._futures_only(symbol)
            if not 1 <= leverage <= self.specs[symbol].max_leverage:
                raise EngineReject(-4028, f"Leverage {leverage} is not valid")
            if pos.leverage != leverage:
                pos.leverage = leverage
                self._dirty_state = True
            return max_notional_for(self.brackets[symbol], leverage)
        finally:
            self._flush()

    def set_margin_mode(self, symbol: str, mode: MarginMode) -> None:
        """Switch cross/isolated: -4046 when unchanged, -4048 with a position, -4047 with open orders."""
        try:
            self._sync()
            pos = self._futures_only(symbol)
            if pos.margin_mode is mode:
                raise EngineReject(-4046, "No need to change margin type.")
            if pos.qty:
                raise EngineReject(-4048, "Margin type cannot be changed if there exists position.")
            if self.regular.open[symbol] or self.algo.open[symbol]:
                raise EngineReject(-4047, "Margin type cannot be changed if there exists open orders.")
            pos.margin_mode = mode
            self._dirty_state = True
        finally:
            self._flush()

    def require_symbol(self, symbol: str) -> InstrumentSpec:
        """The spec of a listed symbol with market data: -1121 for an unlisted symbol, -2010 (new order
        rejected: definitive, nothing was placed) when it has no market data yet."""
        spec = self.specs.get(symbol)
        if spec is None:
            raise EngineReject(-1121, "Invalid symbol.")
        if not self.feed.has_data(symbol):
            raise EngineReject(-2010, f"No market data for {symbol} yet.")
        return spec
