"""A pushed (live) price series keeps a bounded path: a paper venue running for months must not grow without
end. It forgets only what is older than a day of data time; the price where it still looks is unchanged."""

from __future__ import annotations

from eclipse.venues.sim.series import LINEAR, LIVE_MIN_POINTS, LIVE_RETAIN_MS, Series
from eclipse.venues.types import Candle

MIN = 60_000


def _candle(i: int) -> Candle:
    p = 100.0 + (i % 50) * 0.5
    return Candle(i * MIN, p, p + 1.0, p - 1.0, p + 0.5, 10.0)


def test_a_pushed_series_stays_bounded_and_keeps_the_recent_path() -> None:
    s = Series(MIN, 0.1, live=True)
    bars = 3 * LIVE_RETAIN_MS // MIN  # three days of bars, ~4 points each
    for i in range(bars):
        s.push_candle(_candle(i), (i + 1) * MIN)
    assert s.n <= max(2 * LIVE_MIN_POINTS, 2 * 4 * LIVE_RETAIN_MS // MIN)
    assert len(s.ts) <= 2 * max(LIVE_MIN_POINTS, s.n)
    last = s.last_ts()
    assert int(s.ts[0]) > 0  # the first day is forgotten
    assert int(s.ts[0]) >= last - 2 * LIVE_RETAIN_MS  # at most about two days are held
    for t in (last, last - MIN // 2, last - LIVE_RETAIN_MS // 2):
        assert s.price_at(t) == _reference(t)


def _reference(t: int) -> float:
    ref = Series(MIN, 0.1, live=False)
    i0 = max(0, t // MIN - 5)
    for i in range(i0, t // MIN + 2):
        ref.push_candle(_candle(i), (i + 1) * MIN)
    return ref.price_at(t)


def test_forget_before_keeps_the_point_that_sets_the_price_at_the_cut() -> None:
    s = Series(MIN, 0.1, live=True)
    for i in range(10):
        s.append(i * 1000, 100.0 + i, LINEAR, 0.0)
    before = s.price_at(4_500)
    assert s.forget_before(4_500) == 4
    assert int(s.ts[0]) == 4_000
    assert s.price_at(4_500) == before
    assert s.forget_before(0) == 0
