"""The simulator's market: one price path per symbol, market time, klines, tickers and quotes.

**Price path.** Every series is a sequence of points ``(ts, price)``; each point says how the price got
there from the previous one: ``LINEAR`` (a continuous move: a trigger between the two prices is crossed at
its own price), ``HOLD`` (the price stayed at the previous point, then jumped: fills at the new price) or
``GAP`` (as HOLD, and the time in between has no data, so no kline is made for it).

- OHLCV bars (any bar size, inferred as the most common spacing of the timestamps) become four points:
  open at the bar's open time, the extreme nearer the open at 1/4 of the bar, the other extreme at 3/4,
  close at the bar's last millisecond; a tie in distance puts the low first on an up bar (close >= open).
  The bar's volume accrues linearly over the bar. Bar to bar is a HOLD (a GAP over missing bars).
- A trades file: one HOLD point per trade (volume = trade quantity); klines aggregate the trades.
- Pushed data (the paper venue): candles and trades appended at run time; a forming candle's update adds
  its new extremes (nearer the previous price first) and its close at the observation time (clamped to
  the bar's last millisecond; updates observed after the bar's end share that millisecond, and the engine
  walks it only once the next bar has arrived).

**Market time.** ``REPLAY``: ``anchor_market + (clock.now_ms() - anchor_wall) * speed``; ``STEPPED``: moves
only by :meth:`MarketFeed.advance_to` / :meth:`MarketFeed.step_bars`; ``LIVE``: the latest pushed point's
time. Market time stops at the end of the shortest replayed series (``ended``); :meth:`MarketFeed.stall`
freezes it and resuming continues from where it froze. Replay starts ``start_offset_bars`` bars into each
series (at most half of it), so klines have history.

**Rebase** (default on): each series is shifted so that its start point lands on the clock's time at start;
the shift is a whole number of days when the data allows (else hours, minutes, seconds), so bars keep their
alignment (1m bars open on the minute, 1d bars at 00:00 UTC) and the start point moves later by less than
one such unit. Without rebase, market time is the data's own time (all series should then share a period).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from eclipse.clock import Clock
from eclipse.errors import DataError
from eclipse.market.bars import OhlcvFrame
from eclipse.venues.sim.model import EngineReject
from eclipse.venues.sim.series import (
    GAP,
    HOLD,
    LINEAR,
    Series,
    load_quotes_csv,
    load_trades_csv,
    ohlcv_points,
)
from eclipse.venues.types import Candle

__all__ = [
    "INTERVALS",
    "FeedConfig",
    "FeedError",
    "FeedMode",
    "FeedState",
    "Kline",
    "MarketFeed",
    "PricePath",
    "Quote",
    "Ticker24h",
]

INTERVALS: dict[str, int] = {
    "1m": 60_000,
    "3m": 180_000,
    "5m": 300_000,
    "15m": 900_000,
    "30m": 1_800_000,
    "1h": 3_600_000,
    "2h": 7_200_000,
    "4h": 14_400_000,
    "6h": 21_600_000,
    "8h": 28_800_000,
    "12h": 43_200_000,
    "1d": 86_400_000,
}
DAY_MS = 86_400_000
_ALIGN_UNITS = (DAY_MS, 3_600_000, 60_000, 1_000, 1)
KLINES_DEFAULT_LIMIT = 500
KLINES_MAX_LIMIT = 1500


class FeedMode(StrEnum):
    """How market time moves."""

    REPLAY = "replay"
    STEPPED = "stepped"
    LIVE = "live"


class FeedError(DataError):
    """The feed cannot answer: unknown symbol, or no data yet."""


@dataclass(frozen=True, slots=True)
class FeedConfig:
    """Market time and quote settings (``spread_bps`` = synthetic bid/ask spread, full width)."""

    mode: FeedMode = FeedMode.REPLAY
    speed: float = 1.0
    rebase: bool = True
    start_offset_bars: int = 1440
    spread_bps: float = 1.0

    def __post_init__(self) -> None:
        if not self.speed > 0:
            raise ValueError(f"speed must be > 0, got {self.speed}")
        if self.start_offset_bars < 0:
            raise ValueError(f"start_offset_bars must be >= 0, got {self.start_offset_bars}")
        if self.spread_bps < 0:
            raise ValueError(f"spread_bps must be >= 0, got {self.spread_bps}")


@dataclass(frozen=True, slots=True)
class Kline:
    """One kline row (market time); the last row of a query may be the forming bar."""

    open_ms: int
    close_ms: int
    open: float
    high: float
    low: float
    close: float
    volume: float
    quote_volume: float
    trades: int


@dataclass(frozen=True, slots=True)
class Ticker24h:
    """Rolling 24h statistics up to market now."""

    symbol: str
    open_ms: int
    close_ms: int
    open: float
    high: float
    low: float
    last: float
    volume: float
    quote_volume: float


@dataclass(frozen=True, slots=True)
class Quote:
    """Best bid/ask at ``ts_ms`` (market time)."""

    bid: float
    ask: float
    ts_ms: int


@dataclass(frozen=True, slots=True)
class PricePath:
    """Price points crossed in ``(t0, t1]`` (market time): ``start`` is the price at t0; ``jump[i]`` is True
    when the price jumped to ``price[i]`` (fills at the gapped price) rather than moved continuously."""

    start: float
    ts: NDArray[np.int64]
    price: NDArray[np.float64]
    jump: NDArray[np.bool_]

    def __len__(self) -> int:
        return len(self.ts)


@dataclass(frozen=True, slots=True)
class FeedState:
    """What a restart needs to continue market time: the time, the stall flag and each series' shift."""

    market_ms: int
    stalled: bool
    shifts: tuple[tuple[str, int], ...]


class MarketFeed:
    """Prices and market time for every symbol of one simulator (shared by its futures and spot engines).

    Deterministic given the clock. Add series first (``add_ohlcv``/``add_trades``/``add_live``); market
    time is anchored at the first query (or :meth:`start`).
    """

    def __init__(self, clock: Clock, config: FeedConfig | None = None) -> None:
        self._clock = clock
        self.config = config or FeedConfig()
        self._series: dict[str, Series] = {}
        self._started = False
        self._anchor_market = 0
        self._anchor_wall = 0
        self._cursor = 0
        self._live_now = 0
        self._stalled = False
        self._frozen = 0
        self._end: int | None = None
        self._primary: str | None = None
        self.restored = False
        self._live_mode = self.config.mode is FeedMode.LIVE
        self._stepped_mode = self.config.mode is FeedMode.STEPPED
        self._int_speed = int(self.config.speed) if self.config.speed.is_integer() else 0
        self._revision = 0

    # -- building ----------------------------------------------------------------------------------------

    @property
    def revision(self) -> int:
        """Changes whenever the feed's data or its time do other than by the clock (series added, data
        pushed, steps, stalls, restores): with :meth:`now_ms` it says whether any horizon can have moved."""
        return self._revision

    def _add(self, symbol: str, series: Series) -> None:
        self._revision += 1
        if symbol in self._series:
            raise ValueError(f"{symbol}: the feed already has a series")
        self._series[symbol] = series
        if self._primary is None:
            self._primary = symbol
        if self._started and not series.live:
            self._place(symbol, series, self.now_ms())
            self._update_end()

    def add_ohlcv(self, symbol: str, frame: OhlcvFrame, *, tick: float | None = None) -> None:
        """A series from OHLCV bars of any (inferred) bar size."""
        if len(frame) == 0:
            raise DataError(f"{symbol}: no bars")
        bar_ms = 60_000
        if len(frame) > 1:
            vals, counts = np.unique(np.diff(frame.ts_ms), return_counts=True)
            bar_ms = int(vals[int(np.argmax(counts))])
        s = Series(bar_ms, tick, live=False)
        s.set_points(*ohlcv_points(frame, bar_ms))
        self._add(symbol, s)

    def add_trades(
        self,
        symbol: str,
        trades: str | Path | tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.float64]],
        *,
        tick: float | None = None,
    ) -> None:
        """A series from trades (a CSV path or ``(ts_ms, price, qty)`` arrays): the path is their prices."""
        ts, price, qty = load_trades_csv(trades) if isinstance(trades, str | Path) else trades
        seg = np.full(len(ts), HOLD, np.int8)
        seg[0] = GAP
        s = Series(60_000, tick, live=False)
        s.set_points(
            np.asarray(ts, np.int64), np.asarray(price, np.float64), seg, np.asarray(qty, np.float64)
        )
        self._add(symbol, s)

    def add_quotes(
        self,
        symbol: str,
        quotes: str | Path | tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.float64]],
    ) -> None:
        """Real best bid/ask for a symbol already added (same data time as its series)."""
        s = self._get(symbol)
        ts, bid, ask = load_quotes_csv(quotes) if isinstance(quotes, str | Path) else quotes
        s.q_ts, s.q_bid, s.q_ask = np.asarray(ts, np.int64), np.asarray(bid), np.asarray(ask)

    def add_live(self, symbol: str, *, bar_ms: int = 60_000, tick: float | None = None) -> None:
        """An empty series fed by :meth:`push_candle` / :meth:`push_trade` (LIVE mode)."""
        self._add(symbol, Series(bar_ms, tick, live=True))

    # -- market time ---------------------------------------------------------------------------------------

    def _start_data_ms(self, s: Series) -> int:
        first, last = int(s.ts[0]), s.last_ts()
        return first + min(self.config.start_offset_bars * s.bar_ms, (last - first) // 2)

    def _place(self, symbol: str, s: Series, market_ms: int) -> None:
        """Shift ``s`` so that its start point is at ``market_ms`` (rebase), else leave data time."""
        if not self.config.rebase:
            s.shift = 0
            return
        t_start, last = self._start_data_ms(s), s.last_ts()
        for unit in _ALIGN_UNITS:
            start = t_start + (market_ms - t_start) % unit
            if start <= last:
                s.shift = market_ms - start
                return

    def _update_end(self) -> None:
        ends = [s.last_ts() + s.shift for s in self._series.values() if not s.live]
        self._end = min(ends) if ends else None

    def start(self) -> None:
        """Anchor market time now (called by the first query when not called explicitly)."""
        self._revision += 1
        if self._started:
            return
        self._started = True
        wall = self._clock.now_ms()
        replayed = [(k, s) for k, s in self._series.items() if not s.live]
        if self.config.mode is FeedMode.LIVE or not replayed:
            self._anchor_market = self._cursor = wall
            self._live_now = max(self._live_now, wall)
            return
        if self.config.rebase:
            m0 = wall
        else:
            first = self._primary if self._primary in dict(replayed) else replayed[0][0]
            m0 = self._start_data_ms(self._series[first])
        for k, s in replayed:
            self._place(k, s, m0)
        self._update_end()
        self._anchor_market = self._cursor = m0
        self._anchor_wall = wall

    def _raw_now(self) -> int:
        if self._live_mode:
            return self._live_now
        if self._stepped_mode:
            return self._cursor
        elapsed = self._clock.now_ms() - self._anchor_wall
        ispeed = self._int_speed
        delta = elapsed * ispeed if ispeed else math.floor(elapsed * self.config.speed)
        m = self._anchor_market + delta
        return m if self._end is None else min(m, max(self._end, self._anchor_market))

    def now_ms(self) -> int:
        """Market time (Unix ms)."""
        if not self._started:
            self.start()
        return self._frozen if self._stalled else self._raw_now()

    @property
    def ended(self) -> bool:
        """True once market time has reached the end of the replayed data."""
        return self._end is not None and self.now_ms() >= self._end

    @property
    def end_ms(self) -> int | None:
        """Market time at which the replay ends (None: no end)."""
        self.start()
        return self._end

    @property
    def stalled(self) -> bool:
        """True while market time is frozen by :meth:`stall`."""
        return self._stalled

    def stall(self, on: bool) -> None:
        """Freeze (True) or resume (False) market time; resuming continues from the frozen time."""
        self._revision += 1
        self.start()
        if on and not self._stalled:
            self._frozen = self._raw_now()
            self._stalled = True
        elif not on and self._stalled:
            self._stalled = False
            self._anchor_market = self._cursor = self._frozen
            self._anchor_wall = self._clock.now_ms()

    def advance_to(self, market_ms: int) -> int:
        """STEPPED mode: move market time forward to ``market_ms`` (never back, never past the end)."""
        self._revision += 1
        if self.config.mode is not FeedMode.STEPPED:
            raise ValueError(f"advance_to needs STEPPED mode, the feed is {self.config.mode}")
        self.start()
        if not self._stalled:
            target = max(self._cursor, market_ms)
            self._cursor = target if self._end is None else min(target, max(self._end, self._cursor))
        return self.now_ms()

    def step_bars(self, n: int = 1) -> int:
        """STEPPED mode: move ``n`` bars of the first series forward."""
        self._revision += 1
        bar = self._series[self._primary].bar_ms if self._primary else 60_000
        return self.advance_to(self.now_ms() + n * bar)

    def state(self) -> FeedState:
        """Market time, stall flag and shifts, for a restart."""
        now = self.now_ms()
        return FeedState(now, self._stalled, tuple((k, s.shift) for k, s in self._series.items()))

    def restore(self, state: FeedState) -> None:
        """Continue from a saved state: same shifts, market time resumes at ``state.market_ms``."""
        self._revision += 1
        self._started = True
        self.restored = True
        shifts = dict(state.shifts)
        for k, s in self._series.items():
            if k in shifts:
                s.shift = shifts[k]
            elif not s.live:
                self._place(k, s, state.market_ms)
        self._update_end()
        self._anchor_market = self._cursor = self._frozen = state.market_ms
        self._live_now = max(self._live_now, state.market_ms)
        self._anchor_wall = self._clock.now_ms()
        self._stalled = state.stalled

    # -- pushing (LIVE) ------------------------------------------------------------------------------------

    def _live(self, symbol: str) -> Series:
        s = self._series.get(symbol)
        if s is None:
            self.add_live(symbol)
            s = self._series[symbol]
        if not s.live:
            raise ValueError(f"{symbol}: the series is replayed from data; it does not take pushes")
        return s

    def _pushed(self, s: Series) -> None:
        self.start()
        self._live_now = max(self._live_now, s.last_ts())

    def push_candle(self, symbol: str, candle: Candle, at_ms: int | None = None) -> bool:
        """Add or update a bar observed at ``at_ms`` (default: the clock). An older bar is ignored (False);
        the forming bar's update adds its new extremes and close; a completed new bar adds its full path."""
        self._revision += 1
        s = self._live(symbol)
        ok = s.push_candle(candle, self._clock.now_ms() if at_ms is None else at_ms)
        if ok:
            self._pushed(s)
        return ok

    def push_trade(self, symbol: str, ts_ms: int, price: float, qty: float) -> bool:
        """Add a trade; an older one is ignored (False), one at the last point's millisecond moves 1 ms on."""
        self._revision += 1
        s = self._live(symbol)
        ok = s.push_trade(ts_ms, price, qty)
        if ok:
            self._pushed(s)
        return ok

    # -- queries -------------------------------------------------------------------------------------------

    def _get(self, symbol: str) -> Series:
        s = self._series.get(symbol)
        if s is None:
            raise FeedError(f"{symbol}: no market data series")
        return s

    def _ready(self, symbol: str) -> Series:
        s = self._get(symbol)
        if s.n == 0:
            raise FeedError(f"{symbol}: no market data yet")
        return s

    def symbols(self) -> list[str]:
        """Symbols with a series, in the order added."""
        return list(self._series)

    def has_data(self, symbol: str) -> bool:
        """True when ``symbol`` has at least one price point."""
        s = self._series.get(symbol)
        return s is not None and s.n > 0

    def bar_ms(self, symbol: str) -> int:
        """The series' base bar size (ms)."""
        return self._get(symbol).bar_ms

    def tick(self, symbol: str) -> float:
        """The tick prices of this series are rounded to."""
        return self._get(symbol).tick

    def price_at(self, symbol: str, market_ms: int) -> float:
        """Price on the path at a market time."""
        s = self._ready(symbol)
        self.start()
        return s.price_at(market_ms - s.shift)

    def horizon(self, symbol: str) -> int:
        """How far the symbol's path is known for good: market now, or (LIVE) its last pushed point if
        earlier -- one millisecond before it when that point is at the forming bar's last millisecond, where a
        later update of the bar may still add points (``Series.settled_ts``)."""
        s = self._get(symbol)
        now = self.now_ms()
        return min(now, s.settled_ts() + s.shift) if s.live and s.n else now

    def last_price(self, symbol: str) -> float:
        """Price at market now."""
        return self.price_at(symbol, self.now_ms())

    def synthetic_quote(self, symbol: str, price: float) -> tuple[float, float]:
        """(bid, ask) ``spread_bps`` wide around ``price``, each rounded outward to the tick (so at least one
        tick from a price on the tick); (price, price) when the spread is 0."""
        s = self._get(symbol)
        if self.config.spread_bps == 0:
            return price, price
        half = price * self.config.spread_bps / 20_000.0
        tick = s.tick
        bid = math.floor((price - half) / tick + 1e-9) * tick
        ask = math.ceil((price + half) / tick - 1e-9) * tick
        if ask - bid < tick * 0.5:
            ask = bid + tick
        return round(bid, s.decimals), round(ask, s.decimals)

    def bid_ask(self, symbol: str) -> Quote:
        """Best bid/ask now: the real quote when the series has quotes, else synthetic around last."""
        s = self._ready(symbol)
        now = self.now_ms()
        if s.q_ts is not None and s.q_bid is not None and s.q_ask is not None:
            i = int(np.searchsorted(s.q_ts, now - s.shift, "right")) - 1
            if i >= 0:
                return Quote(float(s.q_bid[i]), float(s.q_ask[i]), now)
        bid, ask = self.synthetic_quote(symbol, s.price_at(now - s.shift))
        return Quote(bid, ask, now)

    def path_since(self, symbol: str, t0: int, t1: int) -> PricePath:
        """Points crossed in ``(t0, t1]`` (market time), ending with the interpolated price at ``t1`` when
        t1 falls inside a continuous move; ``start`` and that end are not rounded to the tick, so a walk
        in small steps crosses levels at the same times as one big step."""
        s = self._ready(symbol)
        self.start()
        d0, d1 = t0 - s.shift, t1 - s.shift
        ts = s.ts[: s.n]
        lo = int(ts.searchsorted(d0, "right"))
        hi = int(ts.searchsorted(d1, "right"))
        extra = 0 < hi < s.n and s.seg[hi] == LINEAR and int(ts[hi - 1]) != d1 and d1 > d0
        k = hi - lo
        pts = np.empty(k + extra, np.int64)
        prs = np.empty(k + extra, np.float64)
        jump = np.empty(k + extra, np.bool_)
        pts[:k] = ts[lo:hi]
        pts[:k] += s.shift
        prs[:k] = s.price[lo:hi]
        np.not_equal(s.seg[lo:hi], LINEAR, out=jump[:k])
        if extra:
            pts[k] = t1
            prs[k] = s.exact_price_at(d1)
            jump[k] = False
        return PricePath(s.exact_price_at(d0), pts, prs, jump)

    def klines(
        self,
        symbol: str,
        interval: str,
        start_ms: int | None = None,
        end_ms: int | None = None,
        limit: int | None = None,
    ) -> list[Kline]:
        """Klines oldest first, only bars opened by market now; the last may be the forming bar.

        ``start_ms``: bars opening at or after it (the first ``limit``); else the latest ``limit`` bars up to
        ``end_ms`` (bars opening at or before it). EngineReject -1120 / -1130 for a bad interval / limit.
        """
        step = INTERVALS.get(interval)
        if step is None:
            raise EngineReject(-1120, "Invalid interval.")
        lim = KLINES_DEFAULT_LIMIT if limit is None else limit
        if not 1 <= lim <= KLINES_MAX_LIMIT:
            raise EngineReject(-1130, "Data sent for parameter 'limit' is not valid.")
        s = self._get(symbol)
        if s.n == 0:
            return []
        now = self.now_ms()
        dnow = now - s.shift
        first_b = (int(s.ts[0]) + s.shift) // step * step
        last_b = now // step * step
        if end_ms is not None:
            last_b = min(last_b, end_ms // step * step)
        if start_ms is not None:
            lo_b = max(first_b, -(-start_ms // step) * step)
            chosen = self._covered(s, lo_b, last_b, step, lim, dnow, forward=True)
        else:
            chosen = self._covered(s, first_b, last_b, step, lim, dnow, forward=False)
        if len(chosen) == 0:
            return []
        return self._rows(s, chosen, step, dnow)

    def _covered(
        self, s: Series, lo_b: int, hi_b: int, step: int, lim: int, dnow: int, *, forward: bool
    ) -> NDArray[np.int64]:
        if hi_b < lo_b:
            return np.zeros(0, np.int64)
        span = lim
        while True:
            if forward:
                a = lo_b + step * np.arange(0, min(span, (hi_b - lo_b) // step + 1), dtype=np.int64)
            else:
                a = hi_b - step * np.arange(min(span, (hi_b - lo_b) // step + 1) - 1, -1, -1, dtype=np.int64)
            mask = s.covered(a - s.shift, step, dnow)
            got = a[mask]
            whole = (a[-1] >= hi_b) if forward else (a[0] <= lo_b)
            if len(got) >= lim or whole:
                return got[:lim] if forward else got[-lim:]
            span *= 2

    @staticmethod
    def _rows(s: Series, a: NDArray[np.int64], step: int, dnow: int) -> list[Kline]:
        cols = s.buckets(a - s.shift, step, dnow)
        return [
            Kline(int(t), int(t) + step - 1, o, h, lo, c, v, q, int(k))
            for t, o, h, lo, c, v, q, k in zip(a.tolist(), *(col.tolist() for col in cols), strict=True)
        ]

    def ticker_24h(self, symbol: str) -> Ticker24h:
        """Open/high/low/last/volume over the trailing 24h of market time."""
        s = self._ready(symbol)
        now = self.now_ms()
        d1 = now - s.shift
        d0 = d1 - DAY_MS
        ts = s.ts[: s.n]
        lo = int(np.searchsorted(ts, d0, "right"))
        hi = int(np.searchsorted(ts, d1, "right"))
        o, last = s.price_at(d0), s.price_at(d1)
        high, low = max(o, last), min(o, last)
        if hi > lo:
            high = max(high, float(s.price[lo:hi].max()))
            low = min(low, float(s.price[lo:hi].min()))
        vol, qvol = s.volumes(np.array([d0 + 1], np.int64), np.array([d1], np.int64))
        return Ticker24h(symbol, now - DAY_MS, now, o, high, low, last, float(vol[0]), float(qvol[0]))
