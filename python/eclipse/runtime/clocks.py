"""The daemon's two clocks: the wall clock (request signing, network timeouts, the router's backoff sleeps)
and market time (the strategy and the engine: bar staleness, fill windows, max hold, protection timing).

On a real venue market time is the venue's server time (the wall clock plus the measured skew); against
the simulator at replay speed ``S`` it runs ``S`` times faster than the wall clock. :class:`MarketClock`
extrapolates from the last observation of the venue's market time at the known speed and never goes
backwards; the daemon re-anchors it whenever it reads the venue's time.
"""

from __future__ import annotations

from eclipse.clock import Clock

__all__ = ["MarketClock"]


class MarketClock:
    """Market time = ``anchor_market + (wall - anchor_wall) * speed``, monotonic (a :class:`Clock`)."""

    __slots__ = ("_anchor_market", "_anchor_wall", "_last", "_wall", "speed")

    def __init__(self, wall: Clock, *, speed: float = 1.0, market_ms: int | None = None) -> None:
        if not speed > 0:
            raise ValueError(f"speed must be > 0, got {speed}")
        self._wall = wall
        self.speed = float(speed)
        now = wall.now_ms()
        self._anchor_wall = now
        self._anchor_market = now if market_ms is None else int(market_ms)
        self._last = self._anchor_market

    def observe(self, market_ms: int) -> None:
        """Re-anchor on the venue's market time ``market_ms`` observed now. When the clock had run ahead of
        the venue it holds still (never goes back) until the venue's time catches up."""
        self._anchor_wall = self._wall.now_ms()
        self._anchor_market = int(market_ms)

    def now_ms(self) -> int:
        """Market time in Unix ms."""
        t = self._anchor_market + round((self._wall.now_ms() - self._anchor_wall) * self.speed)
        if t < self._last:
            t = self._last
        self._last = t
        return t

    def now(self) -> float:
        """Market time in Unix seconds."""
        return self.now_ms() / 1000.0

    def wall_seconds(self, market_seconds: float) -> float:
        """How long ``market_seconds`` of market time take on the wall clock."""
        return market_seconds / self.speed
