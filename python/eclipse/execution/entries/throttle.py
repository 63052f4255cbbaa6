"""Entry throttles: count events in a sliding window and block entries for a backoff once a threshold is
reached (router blocks per symbol, entry errors overall), and per-symbol entry backoffs set by others (the
partial-fill resolver). Times are Unix ms from the caller (who reads the injected Clock)."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

__all__ = ["ALL_SYMBOLS", "Backoff", "EntryBackoff", "ThrottleSettings", "WindowThrottle"]

ALL_SYMBOLS = "*"
"""Key of a throttle or backoff that applies to every symbol."""


@dataclass(frozen=True, slots=True)
class ThrottleSettings:
    """``threshold`` events within ``window_sec`` block entries for ``backoff_sec`` (when ``enabled``)."""

    enabled: bool
    window_sec: float
    threshold: int
    backoff_sec: float

    def __post_init__(self) -> None:
        if self.threshold < 1 or self.window_sec < 0 or self.backoff_sec < 0:
            raise ValueError(f"invalid throttle settings {self}")


@dataclass(frozen=True, slots=True)
class Backoff:
    """An active entry block: until when and why."""

    until_ms: int
    reason: str
    detail: str = ""


class WindowThrottle:
    """Sliding-window counter per key; reaching the threshold starts a backoff and clears the window."""

    def __init__(self, settings: ThrottleSettings) -> None:
        self.settings = settings
        self._events: dict[str, deque[int]] = {}
        self._until: dict[str, int] = {}

    def record(self, key: str, ts_ms: int) -> int | None:
        """Count one event for ``key`` at ``ts_ms``; the backoff end (ms) when this event trips it, else None.

        Disabled throttles count nothing. An event older than the window's newest is still counted.
        """
        s = self.settings
        if not s.enabled:
            return None
        window_ms = round(s.window_sec * 1000)
        events = self._events.setdefault(key, deque())
        events.append(ts_ms)
        while events and events[0] < ts_ms - window_ms:
            events.popleft()
        if len(events) < s.threshold:
            return None
        events.clear()
        until = ts_ms + round(s.backoff_sec * 1000)
        self._until[key] = max(until, self._until.get(key, 0))
        return self._until[key]

    def blocked_until(self, key: str, now_ms: int) -> int | None:
        """The end of ``key``'s active backoff, None when entries are allowed."""
        until = self._until.get(key)
        if until is None:
            return None
        if now_ms >= until:
            del self._until[key]
            return None
        return until

    def recent(self, key: str) -> int:
        """Events of ``key`` still in the window (as of its last event)."""
        return len(self._events.get(key, ()))


class EntryBackoff:
    """Per-symbol entry blocks with a reason; a later block never shortens an earlier one."""

    def __init__(self) -> None:
        self._blocks: dict[str, Backoff] = {}

    def block(self, symbol: str, until_ms: int, reason: str, detail: str = "") -> Backoff:
        """Block ``symbol``'s entries until ``until_ms`` (kept if an active block already lasts longer)."""
        current = self._blocks.get(symbol)
        if current is not None and current.until_ms >= until_ms:
            return current
        block = Backoff(until_ms, reason, detail)
        self._blocks[symbol] = block
        return block

    def active(self, symbol: str, now_ms: int) -> Backoff | None:
        """``symbol``'s active block (or the all-symbols one), None when there is none."""
        for key in (symbol, ALL_SYMBOLS):
            block = self._blocks.get(key)
            if block is None:
                continue
            if now_ms < block.until_ms:
                return block
            del self._blocks[key]
        return None

    def clear(self, symbol: str) -> None:
        """Lift ``symbol``'s block."""
        self._blocks.pop(symbol, None)
