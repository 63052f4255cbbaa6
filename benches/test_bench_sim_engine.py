"""The simulator's matching engine: one market order through ``MatchingEngine.place``, with and without
its SQLite write-through store (what every simulated order request pays on top of HTTP). Reported only."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest

from eclipse.clock import SimClock
from eclipse.market.bars import embedded_dataset
from eclipse.venues.sim.engine import EngineConfig, MatchingEngine
from eclipse.venues.sim.instruments import FUTURES_BTCUSDT
from eclipse.venues.sim.market import FeedConfig, FeedMode, MarketFeed
from eclipse.venues.sim.model import PlaceRequest
from eclipse.venues.sim.store import SimStore
from eclipse.venues.types import OrderType, Side

SYM = "BTCUSDT"


def _placer(store: SimStore | None) -> Callable[[], object]:
    frame = embedded_dataset().head(3000)
    clock = SimClock(int(frame.ts_ms[0]))
    feed = MarketFeed(clock, FeedConfig(mode=FeedMode.STEPPED))
    feed.add_ohlcv(SYM, frame)
    engine = MatchingEngine([FUTURES_BTCUSDT], feed, clock, EngineConfig.futures(), None, store)
    orders = [
        PlaceRequest(SYM, Side.BUY if i % 2 else Side.SELL, OrderType.MARKET, Decimal("0.01"))
        for i in range(2)
    ]
    n = [0]

    def place() -> object:
        n[0] += 1
        return engine.place(orders[n[0] % 2])

    return place


@pytest.mark.benchmark(group="sim engine place")
@pytest.mark.parametrize("with_store", [False, True], ids=["memory", "sqlite-store"])
def test_place_market_order(benchmark: Callable[..., object], with_store: bool, tmp_path: Path) -> None:
    store = SimStore(tmp_path / "sim.sqlite") if with_store else None
    benchmark(_placer(store))
    if store is not None:
        store.close()
