"""Time seam: every component asks an injected :class:`Clock` for "now", so tests and replays control time."""

from __future__ import annotations

import time
from typing import Protocol, runtime_checkable

__all__ = ["Clock", "LiveClock", "SimClock", "perf_ns"]


@runtime_checkable
class Clock(Protocol):
    """Source of the current UTC time."""

    def now_ms(self) -> int:
        """Current time as Unix milliseconds (UTC)."""
        ...

    def now(self) -> float:
        """Current time as Unix seconds (UTC)."""
        ...


def perf_ns() -> int:
    """A monotonic counter in nanoseconds for measuring durations (never a time of day)."""
    return time.perf_counter_ns()


class LiveClock:
    """The wall clock (the only place in the package that reads the system time)."""

    __slots__ = ()

    def now_ms(self) -> int:
        """Current wall-clock time in Unix milliseconds."""
        return time.time_ns() // 1_000_000

    def now(self) -> float:
        """Current wall-clock time in Unix seconds."""
        return time.time_ns() / 1e9


class SimClock:
    """A clock that only moves when told to (tests, replay, backtests); it never goes backwards."""

    __slots__ = ("_now_ms",)

    def __init__(self, start_ms: int = 0) -> None:
        if start_ms < 0:
            raise ValueError(f"start_ms must be >= 0, got {start_ms}")
        self._now_ms = int(start_ms)

    def now_ms(self) -> int:
        """The simulated time in Unix milliseconds."""
        return self._now_ms

    def now(self) -> float:
        """The simulated time in Unix seconds."""
        return self._now_ms / 1000.0

    def set_ms(self, ms: int) -> None:
        """Move to ``ms``; ValueError if that is earlier than the current time."""
        if ms < self._now_ms:
            raise ValueError(f"SimClock cannot go backwards: {ms} < {self._now_ms}")
        self._now_ms = int(ms)

    def advance(self, seconds: float = 0.0, *, ms: int = 0) -> None:
        """Move forward by ``seconds`` plus ``ms`` milliseconds (both >= 0)."""
        step = round(seconds * 1000) + ms
        if step < 0:
            raise ValueError(f"SimClock cannot go backwards: step {step} ms")
        self._now_ms += step

    def __repr__(self) -> str:
        return f"SimClock(now_ms={self._now_ms})"
