"""RateLimiter: header-fed usage, budget waits on a SimClock, 429 back-off, 418 ban refusals."""

from __future__ import annotations

import asyncio

import pytest

from eclipse.clock import SimClock
from eclipse.venues.errors import VenueError, VenueErrorKind
from eclipse.venues.ratelimit import RateLimiter, VenueLimits

START = 1_700_000_000_000  # a minute boundary + 20 s
assert START % 60_000 == 20_000


class Sleeper:
    """An injected sleep that records the wait and advances the SimClock by it."""

    def __init__(self, clock: SimClock) -> None:
        self.clock = clock
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)
        self.clock.advance(seconds)


def make(budget: float = 80.0, max_wait_s: float = 60.0) -> tuple[RateLimiter, SimClock, Sleeper]:
    clock = SimClock(START)
    sleeper = Sleeper(clock)
    limiter = RateLimiter("binanceusdm", clock, budget_pct=budget, sleep=sleeper, max_wait_s=max_wait_s)
    return limiter, clock, sleeper


def test_headers_feed_usage_case_insensitively() -> None:
    limiter, _, _ = make()
    limiter.observe(
        {"X-MBX-USED-WEIGHT-1M": "123", "x-mbx-order-count-10s": "4", "X-MBX-ORDER-COUNT-1M": "9"}
    )
    usage = limiter.usage
    assert (usage.weight_1m, usage.orders_10s, usage.orders_1m) == (123, 4, 9)
    assert (usage.weight_limit_1m, usage.orders_10s_limit, usage.budget_pct) == (2400, 300, 80.0)
    limiter.observe({"X-MBX-USED-WEIGHT-1M": "garbage", "Content-Type": "application/json"})
    assert limiter.usage.weight_1m == 123


def test_requests_are_counted_and_windows_roll_with_the_clock() -> None:
    limiter, clock, sleeper = make()
    asyncio.run(limiter.wait_turn(5, orders=1))
    asyncio.run(limiter.wait_turn(2))
    assert (limiter.usage.weight_1m, limiter.usage.orders_10s) == (7, 1)
    clock.advance(10)
    assert (limiter.usage.weight_1m, limiter.usage.orders_10s) == (7, 0)  # the 10 s window rolled
    clock.advance(40)
    assert limiter.usage.weight_1m == 0  # next minute
    assert sleeper.calls == []


def test_over_budget_sleeps_until_the_minute_rolls_over() -> None:
    limiter, clock, sleeper = make()
    limiter.observe({"X-MBX-USED-WEIGHT-1M": "1918"})  # budget 0.8 * 2400 = 1920
    asyncio.run(limiter.wait_turn(2))
    assert sleeper.calls == []
    asyncio.run(limiter.wait_turn(1))
    assert sleeper.calls == [40.0]  # 20 s into the minute -> 40 s to the next one
    assert clock.now_ms() == START + 40_000
    assert limiter.usage.weight_1m == 1


def test_order_count_budget() -> None:
    clock = SimClock(START)
    sleeper = Sleeper(clock)
    limiter = RateLimiter("x", clock, limits=VenueLimits(None, 10, None), budget_pct=50, sleep=sleeper)
    for _ in range(5):
        asyncio.run(limiter.wait_turn(1, orders=1))
    asyncio.run(limiter.wait_turn(1, orders=1))
    assert sleeper.calls == [10.0]  # START is on a 10 s boundary


def test_essential_requests_skip_the_budget_and_back_off() -> None:
    limiter, _, sleeper = make()
    limiter.observe({"X-MBX-USED-WEIGHT-1M": "2399"})
    limiter.penalize(30)
    asyncio.run(limiter.wait_turn(1, orders=1, essential=True))
    assert sleeper.calls == []


def test_429_back_off_is_waited_out() -> None:
    limiter, _, sleeper = make()
    limiter.penalize(7)
    assert limiter.usage.backoff_until_ms == START + 7000
    asyncio.run(limiter.wait_turn(1))
    assert sleeper.calls == [7.0]
    assert limiter.usage.backoff_until_ms == 0


def test_a_wait_longer_than_max_wait_raises_rate_limited() -> None:
    limiter, _, sleeper = make(max_wait_s=5)
    limiter.penalize(30)
    with pytest.raises(VenueError) as info:
        asyncio.run(limiter.wait_turn(1))
    assert info.value.kind is VenueErrorKind.RATE_LIMITED
    assert info.value.local
    assert info.value.retry_after_s == 30.0
    assert sleeper.calls == []


def test_ban_refuses_every_request_until_it_ends() -> None:
    limiter, clock, sleeper = make()
    limiter.penalize(120, ban=True)
    for essential in (False, True):
        with pytest.raises(VenueError) as info:
            asyncio.run(limiter.wait_turn(1, essential=essential))
        assert info.value.kind is VenueErrorKind.RATE_LIMITED
        assert "418" in info.value.message
        assert info.value.retry_after_s == 120.0
    assert limiter.usage.banned_until_ms == START + 120_000
    clock.advance(120)
    asyncio.run(limiter.wait_turn(1))
    assert sleeper.calls == []


def test_a_sleep_that_does_not_advance_time_cannot_spin_forever() -> None:
    clock = SimClock(START)

    async def no_sleep(_: float) -> None:
        return None

    limiter = RateLimiter("binanceusdm", clock, sleep=no_sleep, max_wait_s=600)
    limiter.penalize(1)
    with pytest.raises(VenueError, match="still over the request budget"):
        asyncio.run(limiter.wait_turn(1))


def test_untracked_venue_only_honours_back_off() -> None:
    clock = SimClock(START)
    sleeper = Sleeper(clock)
    limiter = RateLimiter("coinbase", clock, sleep=sleeper)
    for _ in range(1000):
        asyncio.run(limiter.wait_turn(50, orders=1))
    assert sleeper.calls == []
    assert limiter.usage.weight_limit_1m is None


def test_bad_budget_is_refused() -> None:
    with pytest.raises(ValueError, match="budget_pct"):
        RateLimiter("binanceusdm", SimClock(), budget_pct=0)
