"""Test kit for the entry guards: a GuardSet on a SimClock from an env mapping, and telemetry records as the
daemon emits them. No tests here."""

from __future__ import annotations

from collections.abc import Mapping

from eclipse.clock import SimClock
from eclipse.reliability.guards import GuardSet, GuardSettings, GuardStateStore


def guard_set(
    start_ms: int, base: Mapping[str, str], env: Mapping[str, str] | None, store: GuardStateStore | None
) -> tuple[GuardSet, SimClock]:
    """A GuardSet from ``base`` updated with ``env``, on a SimClock at ``start_ms``."""
    clock = SimClock(start_ms)
    return GuardSet(GuardSettings.load({**base, **(env or {})}), clock, store), clock


def rec(clock: SimClock, event: str, **fields: object) -> dict[str, object]:
    """A telemetry record named ``event`` at the clock's time."""
    return {"event": event, "schema": 1, "ts_ms": clock.now_ms(), **fields}
