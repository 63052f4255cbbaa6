"""The adaptive guard: alerts in the daemon's own telemetry raise the minimum entry confidence for a while.

Triggers (delta / duration knobs; a duration of 0 means ADAPTIVE_GUARD_DURATION_SEC, a delta of 0 ignores the
event): ``entry.partial_fill_escalation`` (ADAPTIVE_GUARD_PARTIAL_ESCALATE_*), ``order.create.retry_alert``
(ADAPTIVE_GUARD_RETRY_*), ``telemetry.confidence_drift`` (ADAPTIVE_GUARD_DRIFT_*), ``exit.signal_issue``
(ADAPTIVE_GUARD_EXIT_*), ``exit.telemetry_guard`` (ADAPTIVE_GUARD_TELEMETRY_*). An event with a ``symbol``
raises that symbol only; one without raises every symbol. Overlapping raises of one scope merge: the larger
delta and the later expiry. The gate adds the delta to ENTRY_MIN_CONFIDENCE (``min_confidence_delta``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from eclipse.contracts import GuardKnobs
from eclipse.reliability.guards.base import (
    ALL,
    ActiveGuard,
    Outbox,
    get_float,
    get_int,
    get_str,
    record_symbol,
    record_ts,
)

__all__ = ["CODE", "AdaptiveGuard", "AdaptiveRule", "AdaptiveSettings"]

CODE = "adaptive_guard"


@dataclass(frozen=True, slots=True)
class AdaptiveRule:
    """How much one trigger raises the minimum confidence, and for how long (0 = the default duration)."""

    delta: float
    duration_sec: float


@dataclass(frozen=True, slots=True)
class AdaptiveSettings:
    """ADAPTIVE_GUARD_* knobs."""

    enabled: bool
    duration_sec: float
    partial_escalate: AdaptiveRule
    retry: AdaptiveRule
    drift: AdaptiveRule
    exit_issue: AdaptiveRule
    telemetry_guard: AdaptiveRule

    def rules(self) -> dict[str, AdaptiveRule]:
        """Trigger event -> its rule."""
        return {
            "entry.partial_fill_escalation": self.partial_escalate,
            "order.create.retry_alert": self.retry,
            "telemetry.confidence_drift": self.drift,
            "exit.signal_issue": self.exit_issue,
            "exit.telemetry_guard": self.telemetry_guard,
        }


@dataclass(slots=True)
class _Override:
    delta: float
    until_ms: int
    trigger: str
    since_ms: int


class AdaptiveGuard:
    """Confidence raises per symbol (and for ``*``, every symbol)."""

    def __init__(self, settings: AdaptiveSettings) -> None:
        self.settings = settings
        self.out = Outbox()
        self.changed = False
        self._rules = settings.rules()
        self._overrides: dict[str, _Override] = {}

    def observe(self, record: Mapping[str, object], now: int) -> None:
        """Start or extend a raise when ``record`` is a trigger."""
        name = record.get("event")
        if not self.settings.enabled or not isinstance(name, str):
            return
        rule = self._rules.get(name)
        if rule is None or rule.delta <= 0:
            return
        duration = rule.duration_sec if rule.duration_sec > 0 else self.settings.duration_sec
        until = record_ts(record, now) + round(duration * 1000)
        if until <= now:
            return
        scope = record_symbol(record) or ALL
        cur = self._overrides.get(scope)
        if cur is None or cur.until_ms <= now:
            self._overrides[scope] = _Override(rule.delta, until, name, now)
            action = "start"
        elif rule.delta > cur.delta or until > cur.until_ms:
            cur.delta, cur.until_ms, cur.trigger = max(cur.delta, rule.delta), max(cur.until_ms, until), name
            action = "extend"
        else:
            return
        self.changed = True
        self._announce(scope, self._overrides[scope], action)

    def evaluate(self, now: int) -> None:
        """Drop the raises that expired (``guard.adaptive`` with action=expired)."""
        for scope, o in list(self._overrides.items()):
            if o.until_ms <= now:
                del self._overrides[scope]
                self.changed = True
                self._announce(scope, o, "expired")

    def delta(self, symbol: str | None, now: int) -> tuple[float, list[str]]:
        """The raise in force for ``symbol`` (the larger of its own and the all-symbol one), its triggers."""
        delta, why = 0.0, []
        for scope in (ALL, symbol) if symbol is not None else (ALL,):
            o = self._overrides.get(scope)
            if o is not None and now < o.until_ms:
                delta = max(delta, o.delta)
                why.append(o.trigger)
        return delta, why

    def knobs(self, symbol: str | None, now: int) -> GuardKnobs:
        """``min_confidence_delta`` while a raise is in force (code ``adaptive_guard``)."""
        if not self.settings.enabled:
            return GuardKnobs()
        delta, why = self.delta(symbol, now)
        if delta <= 0:
            return GuardKnobs()
        reason = f"adaptive guard: min confidence +{delta:g} after {', '.join(dict.fromkeys(why))}"
        return GuardKnobs(min_confidence_delta=delta, reason=reason, code=CODE)

    def active(self, now: int) -> list[ActiveGuard]:
        """The raises in force."""
        if not self.settings.enabled:
            return []
        return [
            ActiveGuard(
                "adaptive",
                CODE,
                None if scope == ALL else scope,
                f"+{o.delta:g} after {o.trigger}",
                o.until_ms,
            )
            for scope, o in self._overrides.items()
            if now < o.until_ms
        ]

    def lift(self, code: str, symbol: str | None) -> bool:
        """The operator drops the raise of ``symbol`` (None: every raise, the all-symbol one included)."""
        if code != CODE:
            return False
        scopes = [s for s in self._overrides if symbol is None or s == symbol]
        for scope in scopes:
            o = self._overrides.pop(scope)
            self._announce(scope, o, "lifted")
        self.changed |= bool(scopes)
        return bool(scopes)

    # --- persistence ----------------------------------------------------------------------------------------
    def _announce(self, scope: str, o: _Override, action: str) -> None:
        """``guard.adaptive`` for an override that started, was extended, expired or was lifted."""
        self.out.put(
            "guard.adaptive",
            symbol=scope,
            trigger=o.trigger,
            delta=o.delta,
            until_ms=o.until_ms,
            action=action,
        )

    def dump(self) -> dict[str, object]:
        """The raises by scope (``*`` = every symbol)."""
        return {
            s: {"delta": o.delta, "until_ms": o.until_ms, "trigger": o.trigger, "since_ms": o.since_ms}
            for s, o in self._overrides.items()
        }

    def restore(self, data: Mapping[str, object], now: int) -> None:
        """Load :meth:`dump`'s output; expired raises are dropped (ValueError on bad data)."""
        self._overrides = {}
        for scope, raw in data.items():
            if not isinstance(raw, Mapping):
                raise ValueError(f"adaptive override {scope!r} must be an object")
            o = _Override(
                min(1.0, max(0.0, get_float(raw, "delta"))),
                get_int(raw, "until_ms"),
                get_str(raw, "trigger"),
                get_int(raw, "since_ms"),
            )
            if now < o.until_ms:
                self._overrides[str(scope)] = o
