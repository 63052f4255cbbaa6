"""The simulator's market feed: intrabar path, klines and the forming bar, 24h ticker, market time (replay,
stepped, stall, end, rebase), pushed data, trades and 5m files, and data gaps."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import shared_file
from eclipse.clock import SimClock
from eclipse.market.bars import OhlcvFrame, embedded_dataset, load_ohlcv_csv
from eclipse.venues.sim.market import DAY_MS, FeedConfig, FeedError, FeedMode, MarketFeed
from eclipse.venues.sim.model import EngineReject
from eclipse.venues.sim.series import load_quotes_csv, load_trades_csv
from eclipse.venues.types import Candle

T0 = 1_699_999_980_000  # a minute boundary
M = 60_000


def frame(rows: list[tuple[float, float, float, float]], t0: int = T0, bar_ms: int = M) -> OhlcvFrame:
    arr = np.array(rows, dtype=np.float64)
    n = len(rows)
    ts = t0 + bar_ms * np.arange(n, dtype=np.int64)
    return OhlcvFrame(ts, arr[:, 0], arr[:, 1], arr[:, 2], arr[:, 3], np.full(n, 12.0))


def stepped(f: OhlcvFrame, clock: SimClock | None = None, offset: int = 0, **kw: object) -> MarketFeed:
    feed = MarketFeed(
        clock or SimClock(T0),
        FeedConfig(mode=FeedMode.STEPPED, rebase=False, start_offset_bars=offset, **kw),  # type: ignore[arg-type]
    )
    feed.add_ohlcv("BTCUSDT", f)
    return feed


THREE = [(100.0, 110.0, 95.0, 105.0), (105.0, 108.0, 90.0, 92.0), (92.0, 96.0, 88.0, 94.0)]


def test_intrabar_path_goes_open_nearer_extreme_other_extreme_close() -> None:
    feed = stepped(frame(THREE))
    path = feed.path_since("BTCUSDT", T0 - 1, T0 + 3 * M)
    offs = [0, 15_000, 45_000, 59_999]
    assert path.ts.tolist() == [T0 + b * M + o for b in range(3) for o in offs]
    # bar 0: low nearer the open; bar 1: high nearer; bar 2: a tie on an up bar goes low first
    assert path.price.tolist() == [100, 95, 110, 105, 105, 108, 90, 92, 92, 88, 96, 94]
    assert path.jump.tolist() == [True, False, False, False] * 3


def test_price_is_linear_between_points_and_holds_between_bars() -> None:
    feed = stepped(frame(THREE))
    assert feed.price_at("BTCUSDT", T0 + 7_500) == 97.5
    assert feed.price_at("BTCUSDT", T0 + 30_000) == 102.5
    assert feed.price_at("BTCUSDT", T0 + M - 1) == 105.0
    assert feed.price_at("BTCUSDT", T0 + M) == 105.0
    assert feed.now_ms() == T0
    assert feed.last_price("BTCUSDT") == 100.0


def test_path_since_ends_with_the_interpolated_price_at_t1() -> None:
    feed = stepped(frame(THREE))
    path = feed.path_since("BTCUSDT", T0, T0 + 30_000)
    assert path.start == 100.0
    assert path.ts.tolist() == [T0 + 15_000, T0 + 30_000]
    assert path.price.tolist() == [95.0, 102.5]
    assert path.jump.tolist() == [False, False]
    nothing_new = feed.path_since("BTCUSDT", T0 + M - 1, T0 + M - 1)
    assert len(nothing_new) == 0


def test_stepped_time_moves_only_when_told() -> None:
    clock = SimClock(T0)
    feed = stepped(frame(THREE), clock)
    clock.advance(3600)
    assert feed.now_ms() == T0
    assert feed.step_bars(1) == T0 + M
    assert feed.advance_to(T0) == T0 + M  # never backwards
    assert feed.advance_to(T0 + 10 * M) == T0 + 3 * M - 1  # stops at the last point
    assert feed.ended
    assert feed.last_price("BTCUSDT") == 94.0


@pytest.fixture(scope="module")
def btc() -> OhlcvFrame:
    return embedded_dataset().head(6000)


def test_klines_closed_rows_equal_the_bars_and_the_last_row_is_forming(btc: OhlcvFrame) -> None:
    feed = stepped(btc, offset=1440)
    k = 1440
    t = int(btc.ts_ms[k])
    assert feed.now_ms() == t
    feed.advance_to(t + 30_000)
    rows = feed.klines("BTCUSDT", "1m", limit=5)
    assert [r.open_ms for r in rows] == btc.ts_ms[k - 4 : k + 1].tolist()
    for r, i in zip(rows[:-1], range(k - 4, k), strict=True):
        assert (r.open, r.high, r.low, r.close) == (btc.open[i], btc.high[i], btc.low[i], btc.close[i])
        assert r.volume == pytest.approx(btc.volume[i], rel=1e-9)
        assert r.close_ms == r.open_ms + M - 1
    o, h, lo, c, v = btc.open[k], btc.high[k], btc.low[k], btc.close[k], btc.volume[k]
    e1, e2 = (h, lo) if (h - o) < (o - lo) or ((h - o) == (o - lo) and c < o) else (lo, h)
    mid = round(e1 + (e2 - e1) * 0.5, 1)  # halfway from the first extreme (15s) to the second (45s)
    forming = rows[-1]
    assert (forming.open, forming.close) == (o, mid)
    assert forming.high == max(o, e1, mid)
    assert forming.low == min(o, e1, mid)
    assert forming.volume == pytest.approx(v * 30_000 / 59_999, rel=1e-6)


@pytest.mark.parametrize("interval", ["3m", "5m", "15m", "30m", "1h", "2h", "4h", "1d"])
def test_klines_aggregate_the_bars(btc: OhlcvFrame, interval: str) -> None:
    from eclipse.venues.sim.market import INTERVALS

    step = INTERVALS[interval]
    feed = stepped(btc, offset=5000)
    now = feed.now_ms()
    rows = feed.klines("BTCUSDT", interval, limit=1500)
    assert rows
    assert all(r.open_ms % step == 0 and r.open_ms <= now for r in rows)
    assert rows[-1].open_ms == now // step * step
    bucket = btc.ts_ms // step * step
    complete = [r for r in rows if r.close_ms < now and r.open_ms >= int(btc.ts_ms[0])]
    assert complete
    for r in complete:
        sel = bucket == r.open_ms
        assert r.open == btc.open[sel][0]
        assert r.close == btc.close[sel][-1]
        assert r.high == btc.high[sel].max()
        assert r.low == btc.low[sel].min()
        assert r.volume == pytest.approx(btc.volume[sel].sum(), rel=1e-9)


def test_klines_start_end_and_limit(btc: OhlcvFrame) -> None:
    feed = stepped(btc, offset=2000)
    now = feed.now_ms()
    assert len(feed.klines("BTCUSDT", "1m")) == 500
    start = int(btc.ts_ms[100]) + 1  # inside bar 100: the first row is bar 101
    rows = feed.klines("BTCUSDT", "1m", start_ms=start, limit=3)
    assert [r.open_ms for r in rows] == btc.ts_ms[101:104].tolist()
    end = int(btc.ts_ms[700])
    rows = feed.klines("BTCUSDT", "1m", end_ms=end, limit=10)
    assert rows[-1].open_ms == end
    assert len(rows) == 10
    assert feed.klines("BTCUSDT", "1m", start_ms=now + M) == []
    with pytest.raises(EngineReject) as bad:
        feed.klines("BTCUSDT", "7m")
    assert bad.value.code == -1120
    with pytest.raises(EngineReject) as bad:
        feed.klines("BTCUSDT", "1m", limit=1501)
    assert bad.value.code == -1130


def test_ticker_24h_covers_the_trailing_day(btc: OhlcvFrame) -> None:
    feed = stepped(btc, offset=2500)
    k = 2500
    now = feed.now_ms()
    assert now == int(btc.ts_ms[k])
    t = feed.ticker_24h("BTCUSDT")
    assert (t.open_ms, t.close_ms) == (now - DAY_MS, now)
    assert t.open == btc.open[k - 1440]
    assert t.last == btc.open[k]
    assert t.high == max(btc.high[k - 1440 : k].max(), btc.open[k])
    assert t.low == min(btc.low[k - 1440 : k].min(), btc.open[k])
    assert t.volume == pytest.approx(btc.volume[k - 1440 : k].sum(), rel=1e-9)


def test_replay_speed_stall_and_end_of_data() -> None:
    clock = SimClock(T0 + 5_000_000)
    feed = MarketFeed(clock, FeedConfig(speed=10.0, rebase=False, start_offset_bars=0))
    feed.add_ohlcv("BTCUSDT", frame(THREE * 10))
    assert feed.now_ms() == T0
    clock.advance(6)
    assert feed.now_ms() == T0 + M
    assert feed.last_price("BTCUSDT") == 105.0
    feed.stall(True)
    clock.advance(3)
    assert feed.now_ms() == T0 + M
    assert feed.stalled
    feed.stall(False)
    clock.advance(0.1)
    assert feed.now_ms() == T0 + M + 1_000  # continues from the frozen time, no jump
    assert not feed.ended
    clock.advance(3600)
    assert feed.now_ms() == T0 + 30 * M - 1
    assert feed.ended
    assert feed.last_price("BTCUSDT") == 94.0


def test_rebase_puts_the_start_on_the_clock_and_keeps_bars_aligned() -> None:
    data = embedded_dataset().head(4000)
    wall = 1_800_000_012_345
    feed = MarketFeed(SimClock(wall), FeedConfig())
    feed.add_ohlcv("BTCUSDT", data)
    assert feed.now_ms() == wall
    ((_, shift),) = feed.state().shifts
    assert shift % DAY_MS == 0  # whole days: 1m and 1d bars keep their boundaries
    data_now = wall - shift
    nominal = int(data.ts_ms[1440])
    assert 0 <= data_now - nominal < DAY_MS
    rows = feed.klines("BTCUSDT", "1m", limit=1500)
    assert len(rows) == 1500
    assert all(r.open_ms % M == 0 for r in rows)
    assert rows[-1].open_ms == wall // M * M
    assert feed.klines("BTCUSDT", "1d", limit=1)[0].open_ms % DAY_MS == 0
    assert feed.last_price("BTCUSDT") == stepped(data).price_at("BTCUSDT", data_now)


def test_a_5m_file_keeps_its_bar_size() -> None:
    xrp = load_ohlcv_csv(shared_file("xrpusdt-perp_5m_2021-11.csv"))
    feed = stepped(xrp, offset=600)
    assert feed.bar_ms("BTCUSDT") == 300_000
    k = 600
    rows = feed.klines("BTCUSDT", "5m", limit=4)
    for r, i in zip(rows[:-1], range(k - 3, k), strict=True):
        assert (r.open_ms, r.open, r.high, r.low, r.close) == (
            int(xrp.ts_ms[i]), xrp.open[i], xrp.high[i], xrp.low[i], xrp.close[i]
        )  # fmt: skip
    minutes = feed.klines("BTCUSDT", "1m", start_ms=int(xrp.ts_ms[k - 1]), end_ms=int(xrp.ts_ms[k]) - 1)
    assert len(minutes) == 5
    assert minutes[0].open == xrp.open[k - 1]
    assert minutes[-1].close == xrp.close[k - 1]
    assert max(r.high for r in minutes) == xrp.high[k - 1]
    assert min(r.low for r in minutes) == xrp.low[k - 1]
    assert sum(r.volume for r in minutes) == pytest.approx(xrp.volume[k - 1], rel=1e-9)


def test_missing_minutes_get_no_kline_and_the_path_jumps() -> None:
    alt = load_ohlcv_csv(shared_file("altbtc-spot_1m_2017-11.csv"))
    gaps = np.flatnonzero(np.diff(alt.ts_ms) > M)
    g = int(gaps[gaps > 2000][0])  # bars g and g+1 have missing minutes between them
    feed = stepped(alt, offset=len(alt) // 2)
    assert feed.bar_ms("BTCUSDT") == M
    lo, hi = int(alt.ts_ms[g - 5]), int(alt.ts_ms[g + 5])
    rows = feed.klines("BTCUSDT", "1m", start_ms=lo, end_ms=hi, limit=100)
    assert [r.open_ms for r in rows] == alt.ts_ms[g - 5 : g + 6].tolist()
    path = feed.path_since("BTCUSDT", int(alt.ts_ms[g]), int(alt.ts_ms[g + 1]))
    assert path.jump[-1]
    assert path.price[-1] == pytest.approx(alt.open[g + 1])
    assert feed.tick("BTCUSDT") == pytest.approx(1e-8)


def test_a_trades_file_is_the_path_and_klines_aggregate_it() -> None:
    ts, price, qty = load_trades_csv(shared_file("btcusdt-spot_trades_2021-01-08.csv"))
    feed = MarketFeed(SimClock(0), FeedConfig(mode=FeedMode.STEPPED, rebase=False))
    feed.add_trades("BTCUSDT", shared_file("btcusdt-spot_trades_2021-01-08.csv"))
    feed.add_quotes("BTCUSDT", shared_file("btcusdt-spot_quotes_2021-01-08.csv"))
    now = feed.now_ms()
    assert now == int(ts[0]) + (int(ts[-1]) - int(ts[0])) // 2  # at most half of the data as history
    upto = ts <= now
    assert feed.last_price("BTCUSDT") == price[upto][-1]
    path = feed.path_since("BTCUSDT", int(ts[0]) - 1, int(ts[-1]))
    assert np.array_equal(path.price, price)
    assert path.jump.all()
    [row] = feed.klines("BTCUSDT", "1m")
    assert row.open_ms == int(ts[0]) // M * M
    assert (row.open, row.close) == (price[0], price[upto][-1])
    assert (row.high, row.low) == (price[upto].max(), price[upto].min())
    assert row.volume == pytest.approx(qty[upto].sum(), rel=1e-9)
    assert row.trades == int(upto.sum())
    q_ts, bid, ask = load_quotes_csv(shared_file("btcusdt-spot_quotes_2021-01-08.csv"))
    i = int(np.searchsorted(q_ts, now, "right")) - 1
    quote = feed.bid_ask("BTCUSDT")
    assert (quote.bid, quote.ask) == (bid[i], ask[i])


def test_synthetic_quotes_straddle_last_on_the_tick() -> None:
    feed = stepped(frame([(10_000.0, 10_000.0, 10_000.0, 10_000.0)]), spread_bps=2.0)
    q = feed.bid_ask("BTCUSDT")
    assert (q.bid, q.ask) == (9_999.0, 10_001.0)
    tight = stepped(frame([(10_000.0, 10_000.0, 10_000.0, 10_000.0)]), spread_bps=0.01)
    q = tight.bid_ask("BTCUSDT")
    assert (q.bid, q.ask) == (9_999.9, 10_000.1)  # rounded outward: at least a tick each side


def test_pushed_candles_grow_the_series_without_corrupting_it() -> None:
    clock = SimClock(T0 + 10 * M)
    feed = MarketFeed(clock, FeedConfig(mode=FeedMode.LIVE))
    with pytest.raises(FeedError):
        feed.last_price("BTCUSDT")
    for i, (o, h, lo, c) in enumerate(THREE):  # history, completed bars
        assert feed.push_candle("BTCUSDT", Candle(T0 + i * M, o, h, lo, c, 5.0))
    assert feed.now_ms() == T0 + 10 * M  # the clock at start is later than the history
    assert not feed.push_candle("BTCUSDT", Candle(T0, 1.0, 1.0, 1.0, 1.0, 1.0))  # older: ignored
    t = T0 + 10 * M
    assert feed.push_candle("BTCUSDT", Candle(t, 94.0, 95.0, 94.0, 95.0, 1.0), at_ms=t + 20_000)
    assert feed.now_ms() == t + 20_000
    assert feed.last_price("BTCUSDT") == 95.0
    # the forming bar's update makes a new high then comes back: the high is on the path
    assert feed.push_candle("BTCUSDT", Candle(t, 94.0, 99.0, 94.0, 96.0, 3.0), at_ms=t + 40_000)
    path = feed.path_since("BTCUSDT", t + 20_000, t + 40_000)
    assert path.price.tolist() == [99.0, 96.0]
    assert path.ts[-1] == t + 40_000
    # a repeated update at the same moment moves a millisecond on; the path never goes back
    assert feed.push_candle("BTCUSDT", Candle(t, 94.0, 99.0, 93.0, 93.5, 4.0), at_ms=t + 40_000)
    assert feed.now_ms() == t + 40_001
    rows = feed.klines("BTCUSDT", "1m", limit=10)
    assert [r.open_ms for r in rows] == [T0, T0 + M, T0 + 2 * M, t]
    assert (rows[0].open, rows[0].high, rows[0].low, rows[0].close) == THREE[0]
    assert (rows[-1].open, rows[-1].high, rows[-1].low, rows[-1].close) == (94.0, 99.0, 93.0, 93.5)
    assert rows[-1].volume == pytest.approx(4.0)
    assert rows[0].volume == pytest.approx(5.0)


def test_pushed_trades_keep_time_order() -> None:
    feed = MarketFeed(SimClock(T0), FeedConfig(mode=FeedMode.LIVE))
    assert feed.push_trade("ETHUSDT", T0 + 5, 2000.0, 1.0)
    assert feed.push_trade("ETHUSDT", T0 + 5, 2001.0, 1.0)
    assert not feed.push_trade("ETHUSDT", T0 + 4, 1.0, 1.0)
    path = feed.path_since("ETHUSDT", T0, T0 + 10)
    assert path.ts.tolist() == [T0 + 5, T0 + 6]
    assert path.price.tolist() == [2000.0, 2001.0]
    assert feed.horizon("ETHUSDT") == T0 + 6
    assert feed.last_price("ETHUSDT") == 2001.0


def test_the_feed_is_deterministic_for_a_clock(btc: OhlcvFrame) -> None:
    def run() -> list[object]:
        clock = SimClock(1_800_000_000_000)
        feed = MarketFeed(clock, FeedConfig(speed=7.0))
        feed.add_ohlcv("BTCUSDT", btc)
        out: list[object] = []
        for _ in range(20):
            clock.advance(13.7)
            out.append((feed.now_ms(), feed.last_price("BTCUSDT"), feed.klines("BTCUSDT", "5m", limit=3)))
        return out

    assert run() == run()


def test_a_forming_bars_late_updates_share_its_last_millisecond_and_are_never_dropped() -> None:
    """Updates observed after the bar's end (the venue still shows it forming) land on the bar's last
    millisecond in push order; the horizon holds that millisecond back until the next bar arrives."""
    t = T0 + 10 * M
    end = t + M - 1
    feed = MarketFeed(SimClock(t), FeedConfig(mode=FeedMode.LIVE))
    assert feed.push_candle("BTCUSDT", Candle(t, 100.0, 101.0, 99.0, 100.5, 1.0), at_ms=t + 20_000)
    assert feed.horizon("BTCUSDT") == t + 20_000
    assert feed.push_candle("BTCUSDT", Candle(t, 100.0, 101.0, 99.0, 100.4, 2.0), at_ms=end + 200)
    assert feed.horizon("BTCUSDT") == end - 1  # the bar's last ms may still get points
    assert feed.push_candle("BTCUSDT", Candle(t, 100.0, 101.0, 98.0, 100.3, 3.0), at_ms=end + 1_500)
    assert feed.last_price("BTCUSDT") == 100.3
    path = feed.path_since("BTCUSDT", end - 1, end)
    assert path.price.tolist() == [100.4, 98.0, 100.3]
    assert path.ts.tolist() == [end] * 3
    assert feed.push_candle("BTCUSDT", Candle(t + M, 100.3, 100.4, 100.2, 100.3, 1.0), at_ms=end + 1_500)
    assert feed.horizon("BTCUSDT") > end
    row = feed.klines("BTCUSDT", "1m", limit=2)[0]
    assert (row.open_ms, row.open, row.high, row.low, row.close) == (t, 100.0, 101.0, 98.0, 100.3)
    assert row.volume == pytest.approx(3.0)
