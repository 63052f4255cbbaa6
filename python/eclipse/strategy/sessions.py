"""UTC session hours: ``"13-17,19-23"`` (inclusive ranges; ``"22-2"`` wraps midnight; ``""`` = off)."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["HOUR_MS", "SessionHours", "utc_hour"]

HOUR_MS = 3_600_000
HOURS_EXPECTED = 'comma-separated UTC hour ranges like "13-17,19-23" (hours 0-23)'


def utc_hour(ts_ms: int) -> int:
    """UTC hour of day (0-23) of a Unix-millisecond timestamp."""
    return (ts_ms // HOUR_MS) % 24


def _parse_hour(token: str, text: str) -> int:
    token = token.strip()
    if not token.isdigit():
        raise ValueError(f"bad hour {token!r} in {text!r}")
    hour = int(token)
    if not 0 <= hour <= 23:
        raise ValueError(f"hour {hour} out of range 0-23 in {text!r}")
    return hour


@dataclass(frozen=True, slots=True)
class SessionHours:
    """A set of UTC hours given as inclusive ranges; no ranges means the filter is off."""

    ranges: tuple[tuple[int, int], ...] = ()
    _hours: frozenset[int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        out: set[int] = set()
        for start, end in self.ranges:
            if not (0 <= start <= 23 and 0 <= end <= 23):
                raise ValueError(f"hour range {start}-{end} outside 0-23")
            out.update((start + i) % 24 for i in range((end - start) % 24 + 1))
        object.__setattr__(self, "_hours", frozenset(out))

    @classmethod
    def parse(cls, text: str) -> SessionHours:
        """Parse ``"13-17,19-23"``; a single hour ``"8"`` means ``8-8``; ValueError on anything else."""
        text = text.strip()
        if not text:
            return cls()
        ranges: list[tuple[int, int]] = []
        for part in text.split(","):
            if not part.strip():
                raise ValueError(f"empty range in {text!r}")
            bounds = part.split("-")
            if len(bounds) == 1:
                hour = _parse_hour(bounds[0], text)
                ranges.append((hour, hour))
            elif len(bounds) == 2:
                ranges.append((_parse_hour(bounds[0], text), _parse_hour(bounds[1], text)))
            else:
                raise ValueError(f"bad range {part.strip()!r} in {text!r}")
        return cls(tuple(ranges))

    @property
    def enabled(self) -> bool:
        """True when at least one range is set (an empty set disables the filter)."""
        return bool(self.ranges)

    @property
    def hours(self) -> frozenset[int]:
        """Every hour covered; a range whose start is after its end wraps past midnight."""
        return self._hours

    def contains_hour(self, hour: int) -> bool:
        """Whether UTC ``hour`` (0-23) is inside the session."""
        return hour in self._hours

    def contains_ms(self, ts_ms: int) -> bool:
        """Whether the UTC hour of ``ts_ms`` is inside the session."""
        return self.contains_hour(utc_hour(ts_ms))

    def __str__(self) -> str:
        return ",".join(f"{a}-{b}" for a, b in self.ranges)
