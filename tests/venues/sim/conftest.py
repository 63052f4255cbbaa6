"""Fixtures for the simulator server tests: a running server on a free loopback port (stepped market time,
so prices move only when a test says so), configured real ccxt clients and the control-plane helpers."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import ccxt.async_support as ccxt_async
import numpy as np
import pytest

from eclipse.clock import Clock, LiveClock
from eclipse.market.bars import OhlcvFrame, embedded_dataset
from eclipse.venues.sim.config import DEFAULT_KEY, DEFAULT_SECRET, SimConfig
from eclipse.venues.sim.market import FeedConfig, FeedMode, MarketFeed
from eclipse.venues.sim.runner import SimServerThread, binance_urls

T = TypeVar("T")
FUTURES = "BTC/USDT:USDT"
SPOT = "BTC/USDT"
BARS = 4000  # enough history for klines, quick to load


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run one coroutine to completion (the tests are plain sync tests)."""
    return asyncio.run(coro)


@pytest.fixture(scope="session")
def btc_frame() -> OhlcvFrame:
    """The first BARS bars of the embedded BTC month."""
    return embedded_dataset().head(BARS)


def stepped_feed(frame: OhlcvFrame, clock: Clock | None = None) -> MarketFeed:
    """A stepped feed over ``frame`` as BTCUSDT (market time moves only by /_sim/step)."""
    feed = MarketFeed(clock or LiveClock(), FeedConfig(mode=FeedMode.STEPPED))
    feed.add_ohlcv("BTCUSDT", frame)
    return feed


DIP_HIGH, DIP_LOW, DIP_CLOSE = 40_000.0, 39_000.0, 39_200.0
DIP_BAR, DIP_START = 20, 10


def dip_feed(clock: Clock | None = None) -> MarketFeed:
    """A stepped BTCUSDT feed of 40 1m bars: flat at 40,000 until bar 20 dips to 39,000 and closes at
    39,200 (flat there after). Market time is the data's own and starts at bar 10, so a sell stop between
    the two levels fires within 11 one-bar steps."""
    n = 40
    ts = 1_699_999_980_000 + 60_000 * np.arange(n, dtype=np.int64)
    level = np.where(np.arange(n) < DIP_BAR, DIP_HIGH, DIP_CLOSE)
    opens, highs, lows = level.copy(), level.copy(), level.copy()
    opens[DIP_BAR] = highs[DIP_BAR] = DIP_HIGH
    lows[DIP_BAR] = DIP_LOW
    frame = OhlcvFrame(ts, opens, highs, lows, level.copy(), np.full(n, 50.0))
    config = FeedConfig(mode=FeedMode.STEPPED, rebase=False, start_offset_bars=DIP_START)
    feed = MarketFeed(
        clock or LiveClock(), config
    )  # data time: the dip is always DIP_BAR - DIP_START bars on
    feed.add_ohlcv("BTCUSDT", frame)
    return feed


SimFactory = Callable[..., SimServerThread]


@pytest.fixture
def make_sim(btc_frame: OhlcvFrame) -> Iterator[SimFactory]:
    """Start simulators (stepped BTCUSDT feed unless ``feed`` is given, venue clock ``clock`` or the wall
    clock); all stopped at teardown."""
    started: list[SimServerThread] = []

    def make(feed: MarketFeed | None = None, clock: Clock | None = None, **config: Any) -> SimServerThread:
        config.setdefault("stepped", True)
        sim = SimServerThread(
            SimConfig(**config), clock or LiveClock(), feed if feed is not None else stepped_feed(btc_frame)
        )
        started.append(sim)
        sim.start()
        return sim

    yield make
    for sim in started:
        sim.stop()


@pytest.fixture
def sim(make_sim: SimFactory) -> SimServerThread:
    """A running simulator with the default configuration (stepped market time)."""
    return make_sim()


def control(sim: SimServerThread, method: str, path: str, body: Any = None) -> Any:
    """Call a ``/_sim`` control endpoint; the decoded JSON (HTTP errors raise)."""
    return sim.control(method, path, body)


def control_error(sim: SimServerThread, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    """Call a control endpoint expected to fail: (status, decoded body)."""
    try:
        control(sim, method, path, body)
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())
    raise AssertionError(f"{method} {path} did not fail")


def set_faults(sim: SimServerThread, plan: dict[str, Any]) -> dict[str, Any]:
    """Install a fault plan at runtime."""
    result: dict[str, Any] = control(sim, "POST", "/_sim/faults", plan)
    return result


def requests_log(sim: SimServerThread, **query: str) -> list[dict[str, Any]]:
    """The server's request journal (filtered by ``query``)."""
    qs = "&".join(f"{k}={v}" for k, v in query.items())
    rows: list[dict[str, Any]] = control(sim, "GET", "/_sim/requests" + (f"?{qs}" if qs else ""))["requests"]
    return rows


def step(sim: SimServerThread, bars: int = 1) -> dict[str, Any]:
    """Advance the stepped market by ``bars`` bars."""
    state: dict[str, Any] = control(sim, "POST", "/_sim/step", {"bars": bars})
    return state


def _options(extra: dict[str, Any] | None) -> dict[str, Any]:
    opts: dict[str, Any] = {"fetchCurrencies": False, "fetchOpenOrders": {"warnWithoutSymbol": False}}
    opts.update(extra or {})
    return opts


@asynccontextmanager
async def usdm(
    sim: SimServerThread,
    *,
    secret: str = DEFAULT_SECRET,
    timeout_ms: int = 3000,
    options: dict[str, Any] | None = None,
) -> AsyncIterator[ccxt_async.binanceusdm]:
    """A real ccxt binanceusdm client pointed at the simulator (closed on exit)."""
    ex = ccxt_async.binanceusdm(
        {
            "apiKey": DEFAULT_KEY,
            "secret": secret,
            "enableRateLimit": False,
            "timeout": timeout_ms,
            "urls": {"api": binance_urls(sim.url)},
            "options": _options(options),
        }
    )
    try:
        yield ex
    finally:
        await ex.close()


@asynccontextmanager
async def spot(sim: SimServerThread, *, timeout_ms: int = 3000) -> AsyncIterator[ccxt_async.binance]:
    """A real ccxt binance (spot) client pointed at the simulator (closed on exit)."""
    ex = ccxt_async.binance(
        {
            "apiKey": DEFAULT_KEY,
            "secret": DEFAULT_SECRET,
            "enableRateLimit": False,
            "timeout": timeout_ms,
            "urls": {"api": binance_urls(sim.url)},
            "options": _options({"fetchMarkets": {"types": ["spot"]}, "fetchMargins": False}),
        }
    )
    try:
        yield ex
    finally:
        await ex.close()


@asynccontextmanager
async def coinbase(
    sim: SimServerThread, *, secret: str = DEFAULT_SECRET
) -> AsyncIterator[ccxt_async.coinbase]:
    """A real ccxt coinbase client (legacy HMAC key) pointed at the simulator (closed on exit)."""
    ex = ccxt_async.coinbase(
        {
            "apiKey": DEFAULT_KEY,
            "secret": secret,
            "enableRateLimit": False,
            "timeout": 3000,
            "urls": {"api": {"rest": sim.url}},
            "options": {"fetchBalance": "v3PrivateGetBrokerageAccounts"},  # Advanced Trade, not v2
        }
    )
    ex.has["fetchCurrencies"] = False
    try:
        yield ex
    finally:
        await ex.close()
