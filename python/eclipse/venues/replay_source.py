"""Market data replayed from OHLCV frames under an injected clock: the source of an in-process simulator.

:class:`ReplaySource` is a :class:`~eclipse.venues.paper.MarketDataSource` over one
:class:`~eclipse.market.bars.OhlcvFrame` per symbol. At any clock time it shows the bars whose open time is
<= now; the last of them is the *forming* bar, served as it is in the data (its final high, low and close).
With ``partial_forming`` the forming bar is served as far as it has formed at the clock's time (on the
simulator's intrabar path): no look-ahead, what the daemon's simulated time uses.
So ``PaperVenue(ReplaySource(clock, {symbol: frame}), clock, refresh_ms=0)`` is an in-process exchange:
the simulator's matching engine on historical prices, moved by advancing a :class:`~eclipse.clock.SimClock`
-- the same engine as the HTTP simulator, without sockets, for tests and benches.

Timeframes other than 1m are aggregated from the 1m bars (multiples of a minute, aligned on the epoch);
the last aggregated bar holds only the 1m bars opened so far.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Mapping
from decimal import Decimal
from itertools import pairwise

import numpy as np

from eclipse.clock import Clock
from eclipse.market.bars import BAR_MS, OhlcvFrame
from eclipse.venues.errors import VenueError, VenueErrorKind
from eclipse.venues.types import Candle, Market, MarketKind, Ticker

__all__ = ["TIMEFRAME_MS", "ReplaySource", "replay_market"]

TIMEFRAME_MS: Mapping[str, int] = {
    "1m": BAR_MS,
    "3m": 3 * BAR_MS,
    "5m": 5 * BAR_MS,
    "15m": 15 * BAR_MS,
    "30m": 30 * BAR_MS,
    "1h": 60 * BAR_MS,
    "2h": 120 * BAR_MS,
    "4h": 240 * BAR_MS,
}
"""Timeframes the replay can aggregate from 1m bars."""


def replay_market(
    symbol: str,
    *,
    kind: MarketKind = MarketKind.LINEAR,
    tick_size: Decimal = Decimal("0.1"),
    step_size: Decimal = Decimal("0.001"),
    min_qty: Decimal = Decimal("0.001"),
    max_qty: Decimal | None = Decimal(1000),
    min_notional: Decimal = Decimal(100),
) -> Market:
    """A market for ``symbol`` (unified, e.g. ``BTC/USDT:USDT``) with Binance BTCUSDT-perp-like filters."""
    pair = symbol.split(":")[0]
    base, _, quote = pair.partition("/")
    if not base or not quote:
        raise ValueError(f"symbol {symbol!r} is not a unified symbol like BTC/USDT:USDT or BTC/USDT")
    settle = symbol.split(":")[1] if ":" in symbol else None
    return Market(
        symbol=symbol,
        venue_symbol=f"{base}{quote}",
        base=base,
        quote=quote,
        kind=kind,
        tick_size=tick_size,
        step_size=step_size,
        min_qty=min_qty,
        max_qty=max_qty,
        min_notional=min_notional,
        settle=settle,
    )


class ReplaySource:
    """Public market data of ``frames`` (1m bars by unified symbol) as seen at ``clock``'s time.

    ``markets`` gives each symbol's filters (default: :func:`replay_market` of the symbol and ``kind``).
    Read-only and deterministic: two sources on equal clocks answer the same.
    """

    def __init__(
        self,
        clock: Clock,
        frames: Mapping[str, OhlcvFrame],
        *,
        markets: Mapping[str, Market] | None = None,
        kind: MarketKind = MarketKind.LINEAR,
        name: str = "replay",
        partial_forming: bool = False,
    ) -> None:
        if not frames:
            raise ValueError("ReplaySource needs at least one symbol's frame")
        for symbol, frame in frames.items():
            if len(frame) == 0:
                raise ValueError(f"frame of {symbol} has no bars")
            if len(frame) > 1 and int(np.min(np.diff(frame.ts_ms))) <= 0:
                raise ValueError(f"frame of {symbol}: ts_ms must be strictly increasing")
        self._clock = clock
        self._frames = dict(frames)
        self._ts: dict[str, list[int]] = {s: f.ts_ms.tolist() for s, f in frames.items()}
        given = dict(markets or {})
        unknown = sorted(set(given) - set(frames))
        if unknown:
            raise ValueError(f"markets given for symbols without a frame: {', '.join(unknown)}")
        self._markets = {s: given.get(s) or replay_market(s, kind=kind) for s in frames}
        self._name = name
        self._partial = partial_forming

    @property
    def name(self) -> str:
        """Source name (``replay`` by default)."""
        return self._name

    @property
    def symbols(self) -> tuple[str, ...]:
        """The replayed symbols."""
        return tuple(self._frames)

    def frame(self, symbol: str) -> OhlcvFrame:
        """The replayed bars of ``symbol``."""
        return self._frames[self._known(symbol)]

    def first_ms(self, symbol: str) -> int:
        """Open time of the first bar of ``symbol``."""
        return self._ts[self._known(symbol)][0]

    def _known(self, symbol: str) -> str:
        if symbol not in self._frames:
            raise VenueError(
                VenueErrorKind.INVALID_ORDER,
                f"symbol {symbol!r} is not replayed; expected one of {', '.join(self._frames)}",
                venue=self._name,
                operation="market_data",
                local=True,
            )
        return symbol

    def current_index(self, symbol: str) -> int:
        """Index of the forming bar of ``symbol`` at the clock's time (-1 before the first bar)."""
        return bisect_right(self._ts[self._known(symbol)], self._clock.now_ms()) - 1

    async def load_markets(self, reload: bool = False) -> Mapping[str, Market]:
        """The replayed markets."""
        return dict(self._markets)

    def _candles_1m(self, symbol: str, first: int, last: int) -> list[Candle]:
        f = self._frames[symbol]
        out = [
            Candle(int(f.ts_ms[i]), float(f.open[i]), float(f.high[i]), float(f.low[i]), float(f.close[i]),
                   float(f.volume[i]))
            for i in range(first, last + 1)
        ]  # fmt: skip
        if self._partial and out and last == self.current_index(symbol):
            out[-1] = self._forming(out[-1])
        return out

    def _forming(self, c: Candle) -> Candle:
        """The forming bar as far as it has gone at the clock's time, on the simulator's intrabar path
        (open, the extreme nearer the open at 1/4 of the bar, the other at 3/4, close at its end), so a
        replay never shows a price before the market reached it."""
        elapsed = self._clock.now_ms() - c.ts_ms
        if elapsed >= BAR_MS - 1:
            return c
        up, down = c.high - c.open, c.open - c.low
        high_first = up < down or (up == down and c.close < c.open)
        e1, e2 = (c.high, c.low) if high_first else (c.low, c.high)
        knots = ((0, c.open), (BAR_MS // 4, e1), ((3 * BAR_MS) // 4, e2), (BAR_MS - 1, c.close))
        seen = [c.open]
        price = c.open
        for (t0, p0), (t1, p1) in pairwise(knots):
            if elapsed >= t1:
                seen.append(p1)
                price = p1
                continue
            price = p0 + (p1 - p0) * (elapsed - t0) / (t1 - t0)
            seen.append(price)
            break
        volume = c.volume * max(0, elapsed) / (BAR_MS - 1)
        return Candle(c.ts_ms, c.open, max(seen), min(seen), price, volume)

    async def fetch_ohlcv(
        self, symbol: str, timeframe: str = "1m", since_ms: int | None = None, limit: int = 500
    ) -> list[Candle]:
        """Up to ``limit`` bars, oldest first: the latest, or the first opened at/after ``since_ms``."""
        tf = TIMEFRAME_MS.get(timeframe)
        if tf is None:
            raise VenueError(
                VenueErrorKind.NOT_SUPPORTED,
                f"timeframe {timeframe!r} cannot be replayed; expected one of {', '.join(TIMEFRAME_MS)}",
                venue=self._name,
                operation="fetch_ohlcv",
                local=True,
            )
        if limit <= 0:
            return []
        last = self.current_index(symbol)
        if last < 0:
            return []
        ts = self._ts[symbol]
        if tf == BAR_MS:
            if since_ms is None:
                first = max(0, last - limit + 1)
            else:
                first = bisect_right(ts, since_ms - 1)
                last = min(last, first + limit - 1)
            return self._candles_1m(symbol, first, last) if first <= last else []
        # aggregate: walk back far enough for ``limit`` buckets (or from ``since_ms``)
        start_bucket = (ts[last] // tf - (limit - 1)) * tf if since_ms is None else -(-since_ms // tf) * tf
        first = bisect_right(ts, start_bucket - 1)
        out: list[Candle] = []
        for c in self._candles_1m(symbol, first, last):
            bucket = c.ts_ms // tf * tf
            if out and out[-1].ts_ms == bucket:
                p = out[-1]
                out[-1] = Candle(
                    bucket, p.open, max(p.high, c.high), min(p.low, c.low), c.close, p.volume + c.volume
                )
            else:
                out.append(Candle(bucket, c.open, c.high, c.low, c.close, c.volume))
        return out[:limit] if since_ms is not None else out[-limit:]

    async def fetch_ticker(self, symbol: str) -> Ticker:
        """The forming bar's close as the last price (no book: bid/ask None)."""
        i = self.current_index(symbol)
        if i < 0:
            raise VenueError(
                VenueErrorKind.NETWORK,
                f"no {symbol} bar at or before {self._clock.now_ms()} (data starts {self.first_ms(symbol)})",
                venue=self._name,
                operation="fetch_ticker",
                local=True,
            )
        last = float(self._frames[symbol].close[i])
        if self._partial:
            last = self._candles_1m(symbol, i, i)[0].close
        return Ticker(symbol, self._clock.now_ms(), Decimal(repr(last)))

    async def fetch_time_ms(self) -> int:
        """The clock's time."""
        return self._clock.now_ms()

    async def close(self) -> None:
        """Nothing to release."""
