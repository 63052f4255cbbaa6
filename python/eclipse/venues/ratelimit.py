"""Our own request budget for a venue (ccxt's ``enableRateLimit`` is off: this module decides).

Binance reports the weight used in the current minute (``X-MBX-USED-WEIGHT-1M``) and the order counts
(``X-MBX-ORDER-COUNT-10S`` / ``-1M``) on every response. :class:`RateLimiter` keeps the latest figures per
window (windows are aligned to the clock, like Binance's), adds the weight of requests sent since, and
before a request :meth:`RateLimiter.wait_turn` sleeps until the window rolls over when the request would
exceed ``budget_pct`` of the venue limit. After a 429 it waits out ``Retry-After``; after a 418 (IP ban) it
refuses every request with ``VenueError(RATE_LIMITED)`` until the ban ends, because sending during a ban
extends it. Essential requests (reduce-only, close-position, cancels) skip the budget, never a ban.

Three tiers share the weight budget: ``reserve_pct`` of the venue limit is kept for *protective* reads
(the fills, open orders, order lookups and positions that keep a position protected): other requests
(market data, balances, entries) stop at ``budget_pct - reserve_pct``, protective reads at ``budget_pct``,
essential requests go beyond it. So many symbols' market data never starve a protection check.

Time comes from the injected :class:`~eclipse.clock.Clock`; sleeping from the injected ``sleep`` coroutine
function, so tests drive both with a :class:`~eclipse.clock.SimClock`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from eclipse.clock import Clock
from eclipse.venues.errors import VenueError, VenueErrorKind

__all__ = ["LIMITS", "RateLimiter", "RateUsage", "SleepFn", "VenueLimits", "scaled_limits"]

SleepFn = Callable[[float], Awaitable[None]]

_MINUTE_MS = 60_000
_TEN_S_MS = 10_000
_WEIGHT_HEADER = "x-mbx-used-weight-1m"
_ORDERS_10S_HEADER = "x-mbx-order-count-10s"
_ORDERS_1M_HEADER = "x-mbx-order-count-1m"
_MAX_SLEEPS = 4


@dataclass(frozen=True, slots=True)
class VenueLimits:
    """A venue's published limits (None = not tracked)."""

    weight_1m: int | None
    orders_10s: int | None
    orders_1m: int | None


LIMITS: Mapping[str, VenueLimits] = {
    "binanceusdm": VenueLimits(weight_1m=2400, orders_10s=300, orders_1m=1200),
    "binance": VenueLimits(weight_1m=6000, orders_10s=100, orders_1m=None),
    "coinbase": VenueLimits(weight_1m=None, orders_10s=None, orders_1m=None),
}


def scaled_limits(limits: VenueLimits, scale: float) -> VenueLimits:
    """``limits`` times ``scale``: a replay at speed S lives S market minutes per wall minute, so a venue
    simulated at that speed grants S times the per-minute (wall) budget."""
    if scale == 1.0:
        return limits

    def mul(x: int | None) -> int | None:
        return None if x is None else max(1, round(x * scale))

    return VenueLimits(mul(limits.weight_1m), mul(limits.orders_10s), mul(limits.orders_1m))


@dataclass(frozen=True, slots=True)
class RateUsage:
    """Current usage for telemetry: used/limit per window, and the back-off or ban end (Unix ms, 0 = none)."""

    weight_1m: int
    weight_limit_1m: int | None
    orders_10s: int
    orders_10s_limit: int | None
    orders_1m: int
    orders_1m_limit: int | None
    budget_pct: float
    backoff_until_ms: int
    banned_until_ms: int


class _Window:
    """Usage in one clock-aligned window: the venue's last figure plus what we sent since."""

    __slots__ = ("length_ms", "start_ms", "used")

    def __init__(self, length_ms: int) -> None:
        self.length_ms = length_ms
        self.start_ms = 0
        self.used = 0

    def _roll(self, now_ms: int) -> None:
        start = now_ms - now_ms % self.length_ms
        if start != self.start_ms:
            self.start_ms = start
            self.used = 0

    def current(self, now_ms: int) -> int:
        self._roll(now_ms)
        return self.used

    def add(self, now_ms: int, amount: int) -> None:
        self._roll(now_ms)
        self.used += amount

    def report(self, now_ms: int, used: int) -> None:
        self._roll(now_ms)
        self.used = used

    def ms_to_next(self, now_ms: int) -> int:
        return self.length_ms - now_ms % self.length_ms


class RateLimiter:
    """Request budget and back-off state of one venue connection (see the module docstring)."""

    def __init__(
        self,
        venue: str,
        clock: Clock,
        *,
        budget_pct: float = 80.0,
        limits: VenueLimits | None = None,
        sleep: SleepFn | None = None,
        max_wait_s: float = 15.0,
        reserve_pct: float = 0.0,
    ) -> None:
        if not 0.0 < budget_pct <= 100.0:
            raise ValueError(f"budget_pct must be in (0, 100], got {budget_pct}")
        if not 0.0 <= reserve_pct < budget_pct:
            raise ValueError(f"reserve_pct must be in [0, budget_pct), got {reserve_pct}")
        self._reserve = reserve_pct / 100.0
        self._venue = venue
        self._clock = clock
        self._budget = budget_pct / 100.0
        self._limits = limits or LIMITS.get(venue, VenueLimits(None, None, None))
        self._sleep: SleepFn = sleep or asyncio.sleep
        self._max_wait_s = max_wait_s
        self._weight = _Window(_MINUTE_MS)
        self._orders_10s = _Window(_TEN_S_MS)
        self._orders_1m = _Window(_MINUTE_MS)
        self._backoff_until_ms = 0
        self._banned_until_ms = 0

    @property
    def usage(self) -> RateUsage:
        """A snapshot of the current usage and back-off state."""
        now = self._clock.now_ms()
        return RateUsage(
            weight_1m=self._weight.current(now),
            weight_limit_1m=self._limits.weight_1m,
            orders_10s=self._orders_10s.current(now),
            orders_10s_limit=self._limits.orders_10s,
            orders_1m=self._orders_1m.current(now),
            orders_1m_limit=self._limits.orders_1m,
            budget_pct=self._budget * 100.0,
            backoff_until_ms=self._backoff_until_ms if self._backoff_until_ms > now else 0,
            banned_until_ms=self._banned_until_ms if self._banned_until_ms > now else 0,
        )

    def observe(self, headers: Mapping[str, str]) -> None:
        """Take the venue's usage figures from response ``headers`` (names are case-insensitive)."""
        now = self._clock.now_ms()
        for key, value in headers.items():
            low = key.lower()
            window = {
                _WEIGHT_HEADER: self._weight,
                _ORDERS_10S_HEADER: self._orders_10s,
                _ORDERS_1M_HEADER: self._orders_1m,
            }.get(low)
            if window is None:
                continue
            try:
                window.report(now, int(str(value).strip()))
            except ValueError:
                continue

    def penalize(self, retry_after_s: float, *, ban: bool = False) -> None:
        """Record a 429 (back off ``retry_after_s``) or a 418 ban (refuse requests for ``retry_after_s``)."""
        until = self._clock.now_ms() + max(0, round(retry_after_s * 1000))
        if ban:
            self._banned_until_ms = max(self._banned_until_ms, until)
        else:
            self._backoff_until_ms = max(self._backoff_until_ms, until)

    def _refuse(self, why: str, wait_ms: int) -> VenueError:
        return VenueError(
            VenueErrorKind.RATE_LIMITED,
            f"{why}; retry in {wait_ms / 1000:.1f} s",
            venue=self._venue,
            operation="rate limit",
            retry_after_s=wait_ms / 1000,
            local=True,
        )

    def _budget_wait_ms(self, now: int, weight: int, orders: int, protective: bool = False) -> int:
        wait = 0
        share = self._budget if protective else self._budget - self._reserve
        checks = (
            (self._weight, self._limits.weight_1m, weight),
            (self._orders_10s, self._limits.orders_10s, orders),
            (self._orders_1m, self._limits.orders_1m, orders),
        )
        for window, limit, amount in checks:
            if limit is None or amount <= 0:
                continue
            if window.current(now) + amount > limit * share:
                wait = max(wait, window.ms_to_next(now))
        return wait

    async def wait_turn(
        self, weight: int = 1, *, orders: int = 0, essential: bool = False, protective: bool = False
    ) -> None:
        """Wait until a request of ``weight`` (placing ``orders`` orders) fits, then count it.

        Raises VenueError(RATE_LIMITED, local=True) while banned, or when the wait would exceed
        ``max_wait_s``. ``essential`` requests skip the budget and the 429 back-off, never a ban;
        ``protective`` ones may use the reserve (module docstring).
        """
        for _ in range(_MAX_SLEEPS):
            now = self._clock.now_ms()
            if now < self._banned_until_ms:
                raise self._refuse("IP banned by the venue (HTTP 418)", self._banned_until_ms - now)
            wait = 0
            if not essential:
                budget_wait = self._budget_wait_ms(now, weight, orders, protective)
                wait = max(self._backoff_until_ms - now, budget_wait)
            if wait <= 0:
                break
            if wait > self._max_wait_s * 1000:
                raise self._refuse(
                    f"request budget {self._budget * 100:g}% of the venue limit is spent", wait
                )
            await self._sleep(wait / 1000)
        else:
            raise self._refuse("still over the request budget after waiting", wait)
        now = self._clock.now_ms()
        self._weight.add(now, weight)
        self._orders_10s.add(now, orders)
        self._orders_1m.add(now, orders)
