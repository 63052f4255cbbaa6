"""The stop-breach cooldown: after ``protection.stop_breached`` for a symbol, entries on that symbol are
blocked for STOP_BREACH_COOLDOWN_SEC (0 = off; code ``stop_breach_cooldown``). A breach without a symbol
blocks every symbol. A new breach during a cooldown extends it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from eclipse.contracts import GuardKnobs
from eclipse.reliability.guards.base import ALL, ActiveGuard, Outbox, block, get_int, record_symbol, record_ts

__all__ = ["CODE", "BreachCooldown", "BreachSettings"]

CODE = "stop_breach_cooldown"


@dataclass(frozen=True, slots=True)
class BreachSettings:
    """STOP_BREACH_COOLDOWN_SEC (0 = off)."""

    cooldown_sec: float


@dataclass(slots=True)
class _Cooldown:
    until_ms: int
    since_ms: int


class BreachCooldown:
    """Cooldowns per symbol (``*`` = every symbol)."""

    def __init__(self, settings: BreachSettings) -> None:
        self.settings = settings
        self.out = Outbox()
        self.changed = False
        self._cooldowns: dict[str, _Cooldown] = {}

    def observe(self, record: Mapping[str, object], now: int) -> None:
        """Start or extend the cooldown of the symbol of a ``protection.stop_breached`` record."""
        if record.get("event") != "protection.stop_breached" or self.settings.cooldown_sec <= 0:
            return
        ts = record_ts(record, now)
        until = ts + round(self.settings.cooldown_sec * 1000)
        scope = record_symbol(record) or ALL
        cur = self._cooldowns.get(scope)
        if until <= now or (cur is not None and cur.until_ms >= until):
            return
        action = "start" if cur is None or cur.until_ms <= now else "extend"
        self._cooldowns[scope] = _Cooldown(until, ts if action == "start" or cur is None else cur.since_ms)
        self.changed = True
        self.out.put("guard.breach_cooldown", symbol=scope, until_ms=until, action=action)

    def evaluate(self, now: int) -> None:
        """Drop the cooldowns that ended (``guard.breach_cooldown`` with action=expired)."""
        for scope, c in list(self._cooldowns.items()):
            if c.until_ms <= now:
                del self._cooldowns[scope]
                self.changed = True
                self.out.put("guard.breach_cooldown", symbol=scope, until_ms=c.until_ms, action="expired")

    def knobs(self, symbol: str | None, now: int) -> GuardKnobs:
        """A block while ``symbol`` (or every symbol) cools down."""
        out = GuardKnobs()
        for scope in (ALL, symbol) if symbol is not None else (ALL,):
            c = self._cooldowns.get(scope)
            if c is not None and now < c.until_ms:
                where = "a symbol" if scope == ALL else scope
                out = out.tighten(block(CODE, f"stop-loss breach on {where}: cooldown until {c.until_ms}"))
        return out

    def active(self, now: int) -> list[ActiveGuard]:
        """The cooldowns in force."""
        return [
            ActiveGuard("breach_cooldown", CODE, None if s == ALL else s, "stop-loss breached", c.until_ms)
            for s, c in self._cooldowns.items()
            if now < c.until_ms
        ]

    def lift(self, code: str, symbol: str | None) -> bool:
        """The operator ends the cooldown of ``symbol`` (None: every cooldown)."""
        if code != CODE:
            return False
        scopes = [s for s in self._cooldowns if symbol is None or s == symbol]
        for scope in scopes:
            c = self._cooldowns.pop(scope)
            self.out.put("guard.breach_cooldown", symbol=scope, until_ms=c.until_ms, action="lifted")
        self.changed |= bool(scopes)
        return bool(scopes)

    def dump(self) -> dict[str, object]:
        """The cooldowns by scope."""
        return {s: {"until_ms": c.until_ms, "since_ms": c.since_ms} for s, c in self._cooldowns.items()}

    def restore(self, data: Mapping[str, object], now: int) -> None:
        """Load :meth:`dump`'s output; ended cooldowns are dropped (ValueError on bad data)."""
        self._cooldowns = {}
        for scope, raw in data.items():
            if not isinstance(raw, Mapping):
                raise ValueError(f"cooldown {scope!r} must be an object")
            c = _Cooldown(get_int(raw, "until_ms"), get_int(raw, "since_ms"))
            if now < c.until_ms:
                self._cooldowns[str(scope)] = c
