"""The supervisor restarts a crashed loop with backoff, emits each crash, stops entries at the crash limit,
and stops every loop; the market clock runs at its speed and never goes back; the polling feed hands out
only closed bars, each once."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from eclipse.clock import SimClock
from eclipse.market.bars import BAR_MS
from eclipse.runtime.clocks import MarketClock
from eclipse.runtime.feed import PollingBarFeed, fetch_history, next_close_ms
from eclipse.runtime.supervisor import LoopSpec, Supervisor
from eclipse.telemetry import MemorySink, Telemetry
from eclipse.venues.errors import VenueError, VenueErrorKind
from eclipse.venues.types import Candle

T0 = 1_641_816_000_000  # 2022-01-10 12:00 UTC


def test_a_crashed_loop_is_restarted_and_the_limit_stops_entries() -> None:
    clock = SimClock(T0)
    sink = MemorySink()
    limited: list[str] = []
    runs = {"n": 0}

    async def fragile() -> None:
        runs["n"] += 1
        if runs["n"] <= 3:
            raise RuntimeError(f"boom {runs['n']}")
        await asyncio.sleep(3600)

    async def go() -> Supervisor:
        async def no_sleep(_: float) -> None:
            await asyncio.sleep(0)

        sup = Supervisor(
            clock, Telemetry(sink, clock), no_sleep, max_crashes=3, on_crash_limit=limited.append
        )
        sup.start(LoopSpec("bars", fragile))
        for _ in range(50):
            await asyncio.sleep(0)
        assert [r.state for r in sup.rows()] == ["running"]
        await sup.stop()
        return sup

    sup = asyncio.run(go())
    crashes = sink.named("runtime.loop_crashed")
    assert [c["crashes"] for c in crashes] == [1, 2, 3]
    assert crashes[0]["error"] == "RuntimeError"
    assert limited == ["bars"]
    assert sink.named("runtime.loop_crash_limit")[0]["severity"] == "critical"
    assert sup.rows()[0].crashes == 3
    assert sup.rows()[0].state == "stopped"


def test_crashes_outside_the_window_do_not_add_up() -> None:
    clock = SimClock(T0)
    sink = MemorySink()
    limited: list[str] = []
    runs = {"n": 0}

    async def slow_fail() -> None:
        runs["n"] += 1
        clock.advance(601)  # each crash more than the ten-minute window after the last
        if runs["n"] <= 4:
            raise ValueError("again")
        await asyncio.sleep(3600)

    async def go() -> None:
        async def no_sleep(_: float) -> None:
            await asyncio.sleep(0)

        sup = Supervisor(
            clock, Telemetry(sink, clock), no_sleep, max_crashes=2, on_crash_limit=limited.append
        )
        sup.start(LoopSpec("tick", slow_fail))
        for _ in range(50):
            await asyncio.sleep(0)
        await sup.stop()

    asyncio.run(go())
    assert len(sink.named("runtime.loop_crashed")) == 4
    assert limited == []


def test_market_clock_runs_at_its_speed_and_never_goes_back() -> None:
    wall = SimClock(1_000_000)
    clock = MarketClock(wall, speed=60.0, market_ms=T0)
    wall.advance(1.0)
    assert clock.now_ms() == T0 + 60_000
    clock.observe(T0)  # the venue is behind: the clock never goes back, it holds still until caught up
    assert clock.now_ms() == T0 + 60_000
    wall.advance(0.5)
    assert clock.now_ms() == T0 + 60_000
    wall.advance(1.0)
    assert clock.now_ms() == T0 + 90_000
    assert clock.wall_seconds(60.0) == 1.0
    with pytest.raises(ValueError, match="speed"):
        MarketClock(wall, speed=0)


class FakeCandles:
    """1m candles up to the market clock's now; the last one forming."""

    def __init__(self, clock: MarketClock, first_open: int) -> None:
        self.clock = clock
        self.first = first_open
        self.calls: list[tuple[int | None, int]] = []

    async def fetch_ohlcv(
        self, symbol: str, timeframe: str = "1m", since_ms: int | None = None, limit: int = 500
    ) -> list[Candle]:
        self.calls.append((since_ms, limit))
        now = self.clock.now_ms()
        last_open = now // BAR_MS * BAR_MS
        start = since_ms if since_ms is not None else last_open - (limit - 1) * BAR_MS
        start = max(start, self.first)
        out: list[Candle] = []
        t = start
        while t <= last_open and len(out) < limit:
            price = 100.0 + (t - self.first) / BAR_MS
            out.append(Candle(t, price, price + 1, price - 1, price + 0.5, 10.0))
            t += BAR_MS
        return out


def _opens(bars: Sequence[object]) -> list[int]:
    return [b.bar.ts_ms for b in bars]  # type: ignore[attr-defined]


def test_the_feed_hands_out_closed_bars_once_and_pages_a_gap() -> None:
    wall = SimClock(T0 + 30_000)
    clock = MarketClock(wall, market_ms=T0 + 30_000)
    source = FakeCandles(clock, T0 - 100 * BAR_MS)

    async def sleep(seconds: float) -> None:
        wall.advance(seconds)

    async def go() -> None:
        feed = PollingBarFeed(source, ["X"], clock, sleep, settle_sec=1.0)
        feed.mark_seen("X", T0 - 2 * BAR_MS)  # the bar opened at T0 - 1 min is the first due
        first = await feed.next_bars()
        assert _opens(first) == [T0 - BAR_MS, T0]  # the bar closing at T0 + 1 min, after the one before
        assert clock.now_ms() >= T0 + BAR_MS + 1000  # waited for the close and the settle delay
        second = await feed.next_bars()
        assert _opens(second) == [T0 + BAR_MS]
        wall.advance(300)  # five minutes without polling: the gap comes in one call, in order
        third = await feed.next_bars()
        assert _opens(third) == [T0 + k * BAR_MS for k in range(2, 8)]
        assert all(b.bar.close_ms() <= b.seen_ms for b in third)

    asyncio.run(go())


def test_history_is_paged_and_stops_before_the_current_bar() -> None:
    wall = SimClock(T0 + 5_000)
    clock = MarketClock(wall, market_ms=T0 + 5_000)
    source = FakeCandles(clock, T0 - 5000 * BAR_MS)
    bars = asyncio.run(fetch_history(source, "X", T0, 2500))
    assert len(bars) == 2500
    assert bars[0].ts_ms == T0 - 2500 * BAR_MS
    assert bars[-1].ts_ms == T0 - BAR_MS
    assert len(source.calls) >= 3
    assert next_close_ms(T0) == T0 + BAR_MS
    assert next_close_ms(T0 - 1) == T0


class Flaky(FakeCandles):
    """Fails every request for the symbols in ``down``."""

    def __init__(self, clock: MarketClock, first_open: int) -> None:
        super().__init__(clock, first_open)
        self.down: set[str] = set()

    async def fetch_ohlcv(
        self, symbol: str, timeframe: str = "1m", since_ms: int | None = None, limit: int = 500
    ) -> list[Candle]:
        if symbol in self.down:
            raise VenueError(VenueErrorKind.RATE_LIMITED, "busy", venue="fake", operation="fetch_ohlcv")
        return await super().fetch_ohlcv(symbol, timeframe, since_ms, limit)


def test_a_failing_symbol_never_costs_another_symbol_or_itself_a_bar() -> None:
    wall = SimClock(T0 + 30_000)
    clock = MarketClock(wall, market_ms=T0 + 30_000)
    source = Flaky(clock, T0 - 100 * BAR_MS)

    async def sleep(seconds: float) -> None:
        wall.advance(seconds)

    async def go() -> None:
        feed = PollingBarFeed(source, ["A", "B"], clock, sleep, settle_sec=1.0, retries=0)
        for s in ("A", "B"):
            feed.mark_seen(s, T0 - BAR_MS)
        source.down = {"B"}
        first = await feed.next_bars()
        assert [(b.symbol, b.bar.ts_ms) for b in first] == [("A", T0)]
        assert len(feed.errors) == 1
        source.down = set()
        second = await feed.next_bars()
        assert [(b.symbol, b.bar.ts_ms) for b in second] == [
            ("A", T0 + BAR_MS),
            ("B", T0),
            ("B", T0 + BAR_MS),
        ]
        source.down = {"A", "B"}
        with pytest.raises(VenueError):
            await feed.next_bars()

    asyncio.run(go())
