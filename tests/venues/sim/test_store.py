"""SQLite persistence: a restarted simulator continues exactly like an uninterrupted one; foreign or
corrupt files are refused and left untouched; write-through stays cheap."""

from __future__ import annotations

import hashlib
import sqlite3
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest

from eclipse.clock import SimClock
from eclipse.market.bars import embedded_dataset
from eclipse.venues.sim.engine import ALGO_ID_START, AlgoIdLayout, EngineConfig, MatchingEngine
from eclipse.venues.sim.instruments import FUTURES_BTCUSDT, SPOT_BTCUSDT
from eclipse.venues.sim.market import FeedConfig, FeedMode, MarketFeed
from eclipse.venues.sim.model import EngineReject, PlaceRequest
from eclipse.venues.sim.store import SimStore, StoreError
from eclipse.venues.types import OrderType, Side

from .test_engine import FakeFaults, err

D = Decimal

SYM = "BTCUSDT"
BARS = embedded_dataset().head(3000)
WALL = 1_800_000_000_000


@dataclass
class Venue:
    feed: MarketFeed
    store: SimStore
    fut: MatchingEngine
    spot: MatchingEngine


def open_venue(
    path: Path, clock: SimClock, mode: FeedMode = FeedMode.STEPPED, slices: tuple[int, int] = (2, 30_000)
) -> Venue:
    feed = MarketFeed(clock, FeedConfig(mode=mode))
    feed.add_ohlcv(SYM, BARS)
    store = SimStore(path)
    faults = FakeFaults(slices=slices)
    fut = MatchingEngine([FUTURES_BTCUSDT], feed, clock, EngineConfig.futures(), faults, store)
    spot = MatchingEngine([SPOT_BTCUSDT], feed, clock, EngineConfig.spot(), None, store)
    return Venue(feed, store, fut, spot)


def px(v: Venue, bps: int) -> D:
    last = D(repr(v.feed.last_price(SYM)))
    return (last * (1 + D(bps) / 10_000)).quantize(D("0.1"))


def first_half(v: Venue) -> None:
    v.fut.set_leverage(SYM, 10)
    v.fut.place(PlaceRequest(SYM, Side.BUY, OrderType.MARKET, D("0.05"), client_id="entry"))
    v.fut.place(
        PlaceRequest(
            SYM, Side.SELL, OrderType.STOP_MARKET, D("0.05"), trigger_price=px(v, -150), reduce_only=True
        )
    )
    v.fut.place(PlaceRequest(SYM, Side.SELL, OrderType.LIMIT, D("0.05"), price=px(v, 25), reduce_only=True))
    v.fut.place(PlaceRequest(SYM, Side.BUY, OrderType.LIMIT, D("0.02"), price=px(v, -15)))
    v.spot.place(PlaceRequest(SYM, Side.BUY, OrderType.LIMIT, D("0.01"), price=px(v, -10)))
    v.spot.place(PlaceRequest(SYM, Side.BUY, OrderType.MARKET, D("0.02")))
    for _ in range(3):
        v.feed.advance_to(v.feed.now_ms() + 7 * 60_000)
        v.fut.sync()
    v.fut.place(PlaceRequest(SYM, Side.BUY, OrderType.MARKET, D("0.03"), client_id="late"))  # slices pending


def second_half(v: Venue) -> None:
    for _ in range(40):
        v.feed.advance_to(v.feed.now_ms() + 5 * 60_000)
        v.spot.sync()
        v.fut.sync()
    v.fut.place(PlaceRequest(SYM, Side.SELL, OrderType.MARKET, D("0.03"), client_id="exit"))
    v.spot.place(PlaceRequest(SYM, Side.SELL, OrderType.MARKET, D("0.01")))


def snapshot(v: Venue) -> dict[str, object]:
    out: dict[str, object] = {"now": v.feed.now_ms()}
    for name, eng in (("fut", v.fut), ("spot", v.spot)):
        orders = [eng.order(SYM, order_id=i) for i in range(1, eng.next_order_id)]
        first_algo = eng.config.algo_ids.first_algo_id
        algos = [eng.order(SYM, order_id=i, conditional=True) for i in range(first_algo, eng.next_algo_id)]
        out[name] = (
            orders,
            algos,
            eng.open_orders(),
            eng.open_orders(conditional=True),
            eng.user_trades(SYM, limit=1000),
            eng.positions(),
            eng.balances(),
            (eng.next_order_id, eng.next_algo_id, eng.next_trade_id),
        )
    return out


def test_a_restarted_simulator_continues_like_an_uninterrupted_one(tmp_path: Path) -> None:
    clock_a = SimClock(WALL)
    a = open_venue(tmp_path / "a.db", clock_a)
    first_half(a)
    second_half(a)
    expected = snapshot(a)

    clock_b = SimClock(WALL)
    b = open_venue(tmp_path / "b.db", clock_b)
    first_half(b)
    mid = snapshot(b)
    assert b.fut.open_orders(conditional=True)
    assert b.fut.positions()[0].qty
    del b  # a crash: no close(), the journal is not folded
    restarted = open_venue(tmp_path / "b.db", clock_b)
    assert snapshot(restarted) == mid
    second_half(restarted)
    assert snapshot(restarted) == expected
    restarted.store.close()
    again = open_venue(tmp_path / "b.db", clock_b)
    assert snapshot(again) == expected


def test_replayed_market_time_resumes_where_it_stopped(tmp_path: Path) -> None:
    clock = SimClock(WALL)
    v = open_venue(tmp_path / "s.db", clock, mode=FeedMode.REPLAY, slices=(1, 0))
    clock.advance(30)
    v.fut.place(PlaceRequest(SYM, Side.BUY, OrderType.MARKET, D("0.01")))
    saved = v.feed.now_ms()
    assert saved == WALL + 30_000
    v.store.close()
    clock.advance(600)  # ten minutes of downtime
    back = open_venue(tmp_path / "s.db", clock, mode=FeedMode.REPLAY, slices=(1, 0))
    assert back.feed.now_ms() == saved  # no jump over the downtime
    clock.advance(5)
    assert back.feed.now_ms() == saved + 5_000
    assert back.fut.positions()[0].qty == D("0.01")
    assert back.fut.place(PlaceRequest(SYM, Side.SELL, OrderType.MARKET, D("0.01"))).order_id == 2


@pytest.mark.parametrize("layout", list(AlgoIdLayout))
def test_algo_ids_continue_in_their_saved_sequence_after_a_restart(
    tmp_path: Path, layout: AlgoIdLayout
) -> None:
    """The algo counter is saved with the account: a restart continues it, even when the restarted engine is
    configured with the other layout (existing ids cannot be renumbered)."""
    clock = SimClock(WALL)
    other = AlgoIdLayout.COINCIDE if layout is AlgoIdLayout.APART else AlgoIdLayout.APART

    def engine(config: EngineConfig) -> tuple[MarketFeed, SimStore, MatchingEngine]:
        feed = MarketFeed(clock, FeedConfig(mode=FeedMode.STEPPED))
        feed.add_ohlcv(SYM, BARS)
        store = SimStore(tmp_path / "s.db")
        return feed, store, MatchingEngine([FUTURES_BTCUSDT], feed, clock, config, store=store)

    feed, store, eng = engine(EngineConfig.futures(algo_ids=layout))
    eng.place(PlaceRequest(SYM, Side.BUY, OrderType.MARKET, D("0.01")))
    below = (D(repr(feed.last_price(SYM))) * D("0.9")).quantize(D("0.1"))
    stop = PlaceRequest(
        SYM, Side.SELL, OrderType.STOP_MARKET, D("0.01"), trigger_price=below, reduce_only=True
    )
    first = eng.place(stop)
    assert first.order_id == (ALGO_ID_START if layout is AlgoIdLayout.APART else 1)
    store.close()
    _, store, back = engine(EngineConfig.futures(algo_ids=other))
    assert back.order(SYM, order_id=first.order_id, conditional=True) == first
    assert back.place(stop).order_id == first.order_id + 1
    assert back.place(PlaceRequest(SYM, Side.BUY, OrderType.MARKET, D("0.01"))).order_id == 2
    store.close()


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_corrupt_file_is_refused_and_untouched(tmp_path: Path) -> None:
    path = tmp_path / "sim.db"
    path.write_bytes(b"this is not a database at all\n" * 100)
    before = _digest(path)
    with pytest.raises(StoreError, match="not an SQLite database"):
        SimStore(path)
    assert _digest(path) == before


def test_a_foreign_sqlite_file_is_refused_and_untouched(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE notes(body TEXT)")
    db.execute("INSERT INTO notes VALUES ('mine')")
    db.commit()
    db.close()
    before = _digest(path)
    with pytest.raises(StoreError, match="another application"):
        SimStore(path)
    assert _digest(path) == before
    assert not Path(f"{path}-wal").exists()


def test_another_schema_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "sim.db"
    SimStore(path).close()
    db = sqlite3.connect(path)
    db.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    db.commit()
    db.close()
    before = _digest(path)
    with pytest.raises(StoreError, match="schema version '99'"):
        SimStore(path)
    assert _digest(path) == before


def test_finished_orders_beyond_the_memory_cap_come_from_the_store(tmp_path: Path) -> None:
    clock = SimClock(WALL)
    feed = MarketFeed(clock, FeedConfig(mode=FeedMode.STEPPED))
    feed.add_ohlcv(SYM, BARS)
    config = EngineConfig.futures(max_terminal_orders=3, max_trades=4)
    store = SimStore(tmp_path / "s.db", compact_every=5)
    eng = MatchingEngine([FUTURES_BTCUSDT], feed, clock, config, store=store)
    bare = MatchingEngine([FUTURES_BTCUSDT], feed, clock, config)
    for e in (eng, bare):
        for i in range(10):
            e.place(
                PlaceRequest(
                    SYM, Side.BUY if i % 2 else Side.SELL, OrderType.MARKET, D("0.01"), client_id=f"c{i}"
                )
            )
    assert eng.order(SYM, order_id=1).client_id == "c0"
    assert eng.order(SYM, client_id="c1").order_id == 2
    assert [t.trade_id for t in eng.user_trades(SYM, limit=1000)] == list(range(1, 11))
    assert [t.trade_id for t in eng.user_trades(SYM, from_id=2, limit=2)] == [2, 3]
    with pytest.raises(EngineReject) as archived:  # without a store, old orders are archived as on Binance
        bare.order(SYM, order_id=1)
    assert archived.value.code == -2013
    # ids and times beyond SQLite's signed 64 bits simply match nothing (never an OverflowError)
    for huge in (2**63, 10**30, -(2**63) - 1):
        for conditional in (False, True):
            assert err(eng.order, SYM, order_id=huge, conditional=conditional).code == -2013
            assert err(eng.cancel, SYM, order_id=huge, conditional=conditional).code == -2011
    assert eng.user_trades(SYM, from_id=2**63) == []
    assert eng.user_trades(SYM, start_ms=10**30) == []
    assert len(eng.user_trades(SYM, end_ms=10**30, limit=1000)) == 10
