"""ReplaySource: 1m bars up to the clock (the forming one as in the data), aggregation, tickers, and the
in-process simulator it makes with PaperVenue."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from decimal import Decimal
from typing import Any, TypeVar

import numpy as np
import pytest

from eclipse.clock import SimClock
from eclipse.market.bars import OhlcvFrame, embedded_dataset
from eclipse.venues.errors import VenueError, VenueErrorKind
from eclipse.venues.paper import PaperVenue
from eclipse.venues.replay_source import ReplaySource, replay_market
from eclipse.venues.types import MarketKind, OrderRequest, OrderStatus, OrderType, Side

T = TypeVar("T")
BTC = "BTC/USDT:USDT"
ALT = "ALT/USDT:USDT"
BAR = 60_000


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


@pytest.fixture(scope="module")
def frame() -> OhlcvFrame:
    return embedded_dataset().head(600)


def test_bars_up_to_the_clock_with_the_forming_one_as_in_the_data(frame: OhlcvFrame) -> None:
    t0 = int(frame.ts_ms[0])
    clock = SimClock(t0 + 10 * BAR + 30_000)  # mid bar 10
    src = ReplaySource(clock, {BTC: frame})
    bars = run(src.fetch_ohlcv(BTC, limit=3))
    assert [b.ts_ms for b in bars] == [t0 + 8 * BAR, t0 + 9 * BAR, t0 + 10 * BAR]
    assert bars[-1].close == float(frame.close[10])
    assert bars[-1].high == float(frame.high[10])
    assert src.current_index(BTC) == 10
    clock.set_ms(t0 + 11 * BAR)  # a bar opens exactly now: it is the forming one
    assert run(src.fetch_ohlcv(BTC, limit=1))[0].ts_ms == t0 + 11 * BAR
    ticker = run(src.fetch_ticker(BTC))
    assert ticker.last == Decimal(repr(float(frame.close[11])))
    assert ticker.ts_ms == clock.now_ms()


def test_since_pages_forward_and_stops_at_now(frame: OhlcvFrame) -> None:
    t0 = int(frame.ts_ms[0])
    clock = SimClock(t0 + 20 * BAR)
    src = ReplaySource(clock, {BTC: frame})
    page = run(src.fetch_ohlcv(BTC, since_ms=t0 + 5 * BAR + 1, limit=4))
    assert [b.ts_ms for b in page] == [t0 + k * BAR for k in (6, 7, 8, 9)]
    tail = run(src.fetch_ohlcv(BTC, since_ms=t0 + 18 * BAR, limit=100))
    assert [b.ts_ms for b in tail] == [t0 + 18 * BAR, t0 + 19 * BAR, t0 + 20 * BAR]
    assert run(src.fetch_ohlcv(BTC, since_ms=t0 + 30 * BAR)) == []
    assert run(src.fetch_ohlcv(BTC, limit=0)) == []


def test_before_the_data_there_are_no_bars_and_no_ticker(frame: OhlcvFrame) -> None:
    clock = SimClock(int(frame.ts_ms[0]) - 1)
    src = ReplaySource(clock, {BTC: frame})
    assert run(src.fetch_ohlcv(BTC)) == []
    with pytest.raises(VenueError) as exc:
        run(src.fetch_ticker(BTC))
    assert exc.value.kind is VenueErrorKind.NETWORK


def test_higher_timeframes_aggregate_the_1m_bars(frame: OhlcvFrame) -> None:
    t0 = int(frame.ts_ms[0])
    clock = SimClock(t0 + 200 * BAR)
    src = ReplaySource(clock, {BTC: frame})
    bars = run(src.fetch_ohlcv(BTC, "5m", limit=3))
    assert len(bars) == 3
    last = bars[-1]
    assert last.ts_ms % (5 * BAR) == 0
    idx = [i for i in range(201) if int(frame.ts_ms[i]) // (5 * BAR) * (5 * BAR) == last.ts_ms]
    assert last.open == float(frame.open[idx[0]])
    assert last.close == float(frame.close[idx[-1]]) == float(frame.close[200])
    assert last.high == float(np.max(frame.high[idx[0] : idx[-1] + 1]))
    assert last.low == float(np.min(frame.low[idx[0] : idx[-1] + 1]))
    assert last.volume == pytest.approx(float(np.sum(frame.volume[idx[0] : idx[-1] + 1])))
    with pytest.raises(VenueError) as exc:
        run(src.fetch_ohlcv(BTC, "7m"))
    assert exc.value.kind is VenueErrorKind.NOT_SUPPORTED


def test_several_symbols_and_custom_markets(frame: OhlcvFrame) -> None:
    clock = SimClock(int(frame.ts_ms[50]))
    alt = replay_market(ALT, tick_size=Decimal("0.01"), min_notional=Decimal(5))
    src = ReplaySource(clock, {BTC: frame, ALT: frame.slice(10)}, markets={ALT: alt})
    markets = run(src.load_markets())
    assert markets[ALT].min_notional == 5
    assert markets[BTC].venue_symbol == "BTCUSDT"
    assert markets[BTC].kind is MarketKind.LINEAR
    assert src.current_index(ALT) == 40
    with pytest.raises(VenueError):
        run(src.fetch_ticker("ETH/USDT:USDT"))
    with pytest.raises(ValueError, match="without a frame"):
        ReplaySource(clock, {BTC: frame}, markets={ALT: alt})
    with pytest.raises(ValueError, match="at least one"):
        ReplaySource(clock, {})


def test_paper_venue_over_a_replay_is_an_in_process_simulator(frame: OhlcvFrame) -> None:
    t0 = int(frame.ts_ms[0])
    clock = SimClock(t0 + 100 * BAR + 59_000)
    venue = PaperVenue(ReplaySource(clock, {BTC: frame}), clock, refresh_ms=0)

    async def go() -> None:
        rep = await venue.create_order(OrderRequest(BTC, Side.BUY, OrderType.MARKET, Decimal("0.01"), "m1"))
        assert rep.status is OrderStatus.FILLED
        below = Decimal(repr(float(np.min(frame.low[101:400])))) + Decimal(1)
        lim = OrderRequest(BTC, Side.BUY, OrderType.LIMIT, Decimal("0.01"), "l1", price=below)
        assert (await venue.create_order(lim)).status is OrderStatus.OPEN
        clock.set_ms(t0 + 400 * BAR)  # the market walks down through the limit: it fills
        got = await venue.fetch_order(BTC, client_order_id="l1")
        assert got.status is OrderStatus.FILLED
        (pos,) = await venue.fetch_positions()
        assert pos.qty == Decimal("0.02")

    run(go())
