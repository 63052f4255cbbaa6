"""Market data for the daemon: closed 1m bars per symbol, and the history that warms the features up.

:class:`BarFeed` is the seam a later websocket stream fills; :class:`PollingBarFeed` implements it with REST
polling aligned to the bar close: it waits (wall time) until market time passes the next close plus a small
settle delay, then asks each symbol for its candles since the last one it handed out. A candle is closed
only when a later candle exists in the answer (venues list the forming bar last), so a forming bar is never
mistaken for a closed one whatever the two clocks say. A missing bar (the venue had no trades, or answered
late) is retried a few times, then the feed moves on; a gap after a restart is paged through.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from eclipse.market.bars import BAR_MS, Bar
from eclipse.runtime.clocks import MarketClock
from eclipse.venues.errors import VenueError
from eclipse.venues.types import Candle

__all__ = [
    "BarFeed",
    "CandleSource",
    "ClosedBar",
    "PollingBarFeed",
    "fetch_history",
    "next_close_ms",
]

PAGE = 1000
"""Candles asked for per request (Binance allows 1,500 on USD-M and 1,000 on spot)."""
_MAX_PAGES = 40

Sleep = Callable[[float], Awaitable[None]]


class CandleSource(Protocol):
    """The one venue call the feed makes."""

    async def fetch_ohlcv(
        self, symbol: str, timeframe: str = "1m", since_ms: int | None = None, limit: int = 500
    ) -> list[Candle]:
        """Bars oldest first (the last may be forming)."""
        ...


@dataclass(frozen=True, slots=True)
class ClosedBar:
    """A closed 1m bar of ``symbol`` and the market time it was handed out at (for the lag)."""

    symbol: str
    bar: Bar
    seen_ms: int

    @property
    def lag_ms(self) -> int:
        """Market milliseconds between the bar's close and its hand-out."""
        return self.seen_ms - self.bar.close_ms()


class BarFeed(Protocol):
    """Closed 1m bars, oldest first per symbol, each exactly once."""

    async def next_bars(self) -> list[ClosedBar]:
        """Wait for the next bar close; the bars that closed since the last call (empty when none came)."""
        ...

    def mark_seen(self, symbol: str, last_open_ms: int) -> None:
        """Start ``symbol`` after the bar that opened at ``last_open_ms`` (warm-up or restored state)."""
        ...


def next_close_ms(now_ms: int) -> int:
    """The next 1m bar close strictly after ``now_ms`` (a multiple of a minute)."""
    return (now_ms // BAR_MS + 1) * BAR_MS


def _bar(c: Candle) -> Bar:
    return Bar(c.ts_ms, c.open, c.high, c.low, c.close, c.volume)


async def fetch_history(source: CandleSource, symbol: str, until_ms: int, bars: int) -> list[Bar]:
    """The closed 1m bars of ``symbol`` opening in ``[until_ms - bars min, until_ms)``, oldest first, paged.

    ``until_ms`` is a bar boundary (normally the current bar's open): nothing at or after it is returned."""
    since = until_ms - bars * BAR_MS
    out: list[Bar] = []
    cursor = since
    for _ in range(max(1, bars // PAGE + 2)):
        if cursor >= until_ms:
            break
        page = await source.fetch_ohlcv(symbol, "1m", since_ms=cursor, limit=PAGE)
        fresh = [c for c in page if cursor <= c.ts_ms < until_ms]
        if not fresh:
            break
        out.extend(_bar(c) for c in fresh)
        cursor = fresh[-1].ts_ms + BAR_MS
    return out


class PollingBarFeed:
    """REST polling aligned to the bar close (see the module docstring)."""

    def __init__(
        self,
        source: CandleSource,
        symbols: Sequence[str],
        clock: MarketClock,
        sleep: Sleep,
        *,
        settle_sec: float = 1.5,
        retries: int = 5,
        resync: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self._source = source
        self._symbols = tuple(symbols)
        self._clock = clock
        self._sleep = sleep
        self._settle_ms = round(settle_sec * 1000)
        self._retries = retries
        self._resync = resync
        self._last: dict[str, int] = {}
        self.errors: list[VenueError] = []
        """The venue errors of the last :meth:`next_bars` (symbols skipped that time)."""

    def mark_seen(self, symbol: str, last_open_ms: int) -> None:
        """Start ``symbol`` after the bar that opened at ``last_open_ms``."""
        self._last[symbol] = last_open_ms

    async def _wait_until(self, market_ms: int) -> None:
        while True:
            ahead = market_ms - self._clock.now_ms()
            if ahead <= 0:
                return
            await self._sleep(min(self._clock.wall_seconds(ahead / 1000.0), 5.0))

    async def next_bars(self) -> list[ClosedBar]:
        """Wait for the next close (+ settle), then each symbol's closed bars since its last one. A symbol
        the venue fails to answer for is skipped this time (its error in :attr:`errors`; its bars come with
        the next call): no bar already fetched is ever dropped. Raises only when every symbol failed."""
        if self._resync is not None:
            await self._resync()
        target = next_close_ms(self._clock.now_ms() - self._settle_ms) + self._settle_ms
        await self._wait_until(target)
        if self._resync is not None:
            await self._resync()
        due_open = target - self._settle_ms - BAR_MS  # the bar that just closed
        out: list[ClosedBar] = []
        self.errors = []
        for symbol in self._symbols:
            bars, error = await self._poll(symbol, due_open)
            out.extend(bars)
            if error is not None:
                self.errors.append(error)
        if self.errors and len(self.errors) == len(self._symbols) and not out:
            raise self.errors[0]
        return out

    async def _poll(self, symbol: str, due_open: int) -> tuple[list[ClosedBar], VenueError | None]:
        out: list[ClosedBar] = []
        for attempt in range(self._retries + 1):
            try:
                out.extend(await self._closed_since(symbol))
            except VenueError as err:
                return out, err
            if self._last.get(symbol, due_open - BAR_MS) >= due_open:
                break
            if attempt < self._retries:  # the venue has not closed the bar yet: a short wait
                await self._sleep(self._clock.wall_seconds(max(self._settle_ms, 500) / 1000.0))
        return out, None

    async def _closed_since(self, symbol: str) -> list[ClosedBar]:
        """The closed bars after the symbol's last one; the cursor moves only when every page was read."""
        out: list[ClosedBar] = []
        last = self._last.get(symbol)
        for _ in range(_MAX_PAGES):
            since = None if last is None else last + BAR_MS
            page = await self._source.fetch_ohlcv(symbol, "1m", since_ms=since, limit=PAGE if last else 3)
            closed = [c for c in page[:-1] if last is None or c.ts_ms > last]
            now = self._clock.now_ms()
            if last is None and closed:
                closed = closed[-1:]  # a first poll with no history hands out only the latest bar
            for c in closed:
                out.append(ClosedBar(symbol, _bar(c), now))
                last = c.ts_ms
            if len(page) < PAGE or not closed:
                break
        if last is not None:
            self._last[symbol] = last
        return out
