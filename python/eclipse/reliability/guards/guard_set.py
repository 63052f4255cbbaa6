"""The entry guards as one object the daemon drives: telemetry in (:meth:`GuardSet.observe`), bars in
(:meth:`GuardSet.on_bar`), equity in (:meth:`GuardSet.check_risk`), time (:meth:`GuardSet.evaluate`); guard
knobs out (:meth:`GuardSet.knobs`) and events the caller emits. Nothing here emits telemetry itself, and
nothing blocks an exit or a stop: :class:`~eclipse.contracts.GuardKnobs` has no such knob.

The state is saved through the :class:`GuardStateStore` after every call that changed it (a failed automatic
save is logged and reported as ``guard.state_save_failed``, never raised) and loaded back at construction.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Protocol

from eclipse.clock import Clock
from eclipse.contracts import GuardKnobs
from eclipse.market.bars import Bar
from eclipse.reliability.guards.adaptive import AdaptiveGuard
from eclipse.reliability.guards.anomaly import AnomalyGuard
from eclipse.reliability.guards.base import ActiveGuard, GuardEvent, Outbox, sym
from eclipse.reliability.guards.breach import BreachCooldown
from eclipse.reliability.guards.data_quality import DataQualityGuard
from eclipse.reliability.guards.kill_switch import KillSwitch
from eclipse.reliability.guards.settings import GuardSettings
from eclipse.reliability.guards.store import GuardStateError, GuardStateStore

__all__ = ["STATE_VERSION", "GuardSet"]

STATE_VERSION = 1
"""Version of the saved document; another version is refused (GuardStateError)."""
_LOG = logging.getLogger(__name__)


class _Guard(Protocol):
    """What every guard has: an outbox, a changed flag and its persisted state."""

    out: Outbox
    changed: bool

    def dump(self) -> dict[str, object]: ...

    def restore(self, data: Mapping[str, object], now: int) -> None: ...


BOOKKEEPING_SAVE_MS = 300_000
"""Guard bookkeeping that decides nothing yet is saved at most this often (market time)."""


class GuardSet:
    """Kill switch, data quality, anomaly pause, stop-breach cooldown and adaptive guard, combined."""

    def __init__(self, settings: GuardSettings, clock: Clock, store: GuardStateStore | None = None) -> None:
        self.settings = settings
        self._clock = clock
        self._store = store
        self.kill = KillSwitch(settings.kill)
        self.data = DataQualityGuard(settings.data)
        self.anomaly = AnomalyGuard(settings.anomaly)
        self.breach = BreachCooldown(settings.breach)
        self.adaptive = AdaptiveGuard(settings.adaptive)
        self._parts: tuple[tuple[str, _Guard], ...] = (
            ("kill_switch", self.kill),
            ("anomaly", self.anomaly),
            ("data_quality", self.data),
            ("breach_cooldown", self.breach),
            ("adaptive", self.adaptive),
        )
        self._out = Outbox()
        self._save_failed = False
        self._saved_ms: int | None = None
        self._saved_active: tuple[tuple[object, ...], ...] = ()
        if store is not None:
            state = store.load()
            if state is not None:
                self._restore(state, store)

    # --- inputs ---------------------------------------------------------------------------------------------
    def observe(self, record: Mapping[str, object]) -> None:
        """Every telemetry record the daemon emits; cheap, never emits, never raises on an odd record (the
        events it causes come out of the next :meth:`evaluate`, :meth:`on_bar` or :meth:`check_risk`)."""
        try:
            now = self._clock.now_ms()
            self.anomaly.observe(record, now)
            self.breach.observe(record, now)
            self.adaptive.observe(record, now)
            self._autosave(now)
        except Exception:  # the contract: a telemetry record never breaks the daemon
            _LOG.exception("guards: a telemetry record was skipped")

    def on_bar(self, symbol: str, bar: Bar) -> list[GuardEvent]:
        """A closed 1m bar of ``symbol`` as the daemon receives it (now = its receive time)."""
        now = self._clock.now_ms()
        self.data.on_bar(str(sym(symbol)), bar, now)
        return self._finish(now)

    def check_risk(self, equity: Decimal) -> list[GuardEvent]:
        """The equity now (venue balance at start + run PnL), once per bar close: the kill switch."""
        now = self._clock.now_ms()
        self.kill.check(equity, now)
        return self._finish(now)

    def evaluate(self) -> list[GuardEvent]:
        """Time-driven work: expiries, data-quality scores and events, anomaly detection."""
        now = self._clock.now_ms()
        self.kill.expire(now)
        self.data.evaluate(now)
        self.anomaly.evaluate(now)
        self.breach.evaluate(now)
        self.adaptive.evaluate(now)
        return self._finish(now)

    # --- outputs --------------------------------------------------------------------------------------------
    def knobs(self, symbol: str | None = None) -> GuardKnobs:
        """The strictest combination of every restriction in force for ``symbol`` and of the global ones
        (``symbol`` None: the global ones only). A block's code is, by priority: kill switch, anomaly pause,
        data quality, stop-breach cooldown; the adaptive guard sets ``min_confidence_delta``."""
        now = self._clock.now_ms()
        key = sym(symbol)
        out = GuardKnobs()
        for part in (
            self.kill.knobs(now),
            self.anomaly.knobs(now),
            self.data.knobs(key, now),
            self.breach.knobs(key, now),
            self.adaptive.knobs(key, now),
        ):
            out = out.tighten(part)
        return out

    def current(self, symbol: str | None = None) -> GuardKnobs:
        """:meth:`knobs` under the gate's ``GuardKnobsProvider`` name."""
        return self.knobs(symbol)

    def active(self) -> list[ActiveGuard]:
        """Every restriction in force, for the status page."""
        now = self._clock.now_ms()
        return [
            *self.kill.active(now),
            *self.anomaly.active(now),
            *self.data.active(now),
            *self.breach.active(now),
            *self.adaptive.active(now),
        ]

    def lift(self, code: str, symbol: str | None = None) -> bool:
        """The operator lifts the restriction ``code`` (of ``symbol``; None = of every symbol). True when
        something was lifted; the events come out of the next :meth:`evaluate`."""
        key = sym(symbol)
        lifted = [
            self.kill.lift(code),
            self.anomaly.lift(code),
            self.data.lift(code, key),
            self.breach.lift(code, key),
            self.adaptive.lift(code, key),
        ]
        self._autosave(self._clock.now_ms())
        return any(lifted)

    def save(self) -> None:
        """Persist now (OSError when the disk refuses)."""
        if self._store is not None:
            self._store.save(self.state())
            self._clear_changed()

    def state(self) -> dict[str, Any]:
        """The document :meth:`save` writes."""
        doc: dict[str, Any] = {"version": STATE_VERSION, "saved_ms": self._clock.now_ms()}
        doc.update((name, guard.dump()) for name, guard in self._parts)
        return doc

    # --- internals ------------------------------------------------------------------------------------------
    def _finish(self, now: int) -> list[GuardEvent]:
        self._autosave(now)
        events = self._out.drain()
        for _, guard in self._parts:
            events += guard.out.drain()
        return events

    def _changed(self) -> bool:
        return any(guard.changed for _, guard in self._parts)

    def _clear_changed(self) -> None:
        for _, guard in self._parts:
            guard.changed = False

    def _autosave(self, now: int) -> None:
        """Save when a decision changed (a halt, pause, cooldown or raise started or ended: the set of active
        guards differs from the last save) at once; bookkeeping alone (data-quality samples, the equity peak,
        exposure levels) at most every :data:`BOOKKEEPING_SAVE_MS` of market time, and at :meth:`save`."""
        if self._store is None or not self._changed():
            return
        active = tuple((g.guard, g.code, g.symbol, g.until_ms) for g in self.active())
        decisions = self.adaptive.changed or self.breach.changed or active != self._saved_active
        if not decisions and self._saved_ms is not None and now - self._saved_ms < BOOKKEEPING_SAVE_MS:
            return
        try:
            self.save()
            self._saved_ms, self._saved_active = now, active
        except OSError as exc:
            _LOG.warning("guards: state not saved to %s: %s", self._store.path, exc)
            if not self._save_failed:  # once per failure streak
                self._out.put(
                    "guard.state_save_failed", path=str(self._store.path), error=str(exc), severity="high"
                )
            self._save_failed = True
            return
        self._save_failed = False

    def _restore(self, state: Mapping[str, Any], store: GuardStateStore) -> None:
        version = state.get("version")
        if version != STATE_VERSION:
            raise GuardStateError(store.path, f"version {version!r}, this build reads {STATE_VERSION}")
        now = self._clock.now_ms()
        for name, guard in self._parts:
            data = state.get(name, {})
            if not isinstance(data, Mapping):
                raise GuardStateError(store.path, f"{name} must be an object")
            try:
                guard.restore(data, now)
            except (ValueError, TypeError, KeyError, ArithmeticError) as exc:
                raise GuardStateError(store.path, f"{name}: {exc}") from None
