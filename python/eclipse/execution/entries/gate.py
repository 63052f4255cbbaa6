"""The entry gate: what may stop an :class:`~eclipse.contracts.EntryIntent` before it becomes an order.

Checks, in order (the first block wins; each emits ``entry.blocked`` with ``reason``, ``symbol``, ``detail``):

1. the guard knobs block entries: the reason is the knobs' ``code`` (``posture_red_lock``,
   ``kill_daily_loss``, ``reconcile_stale`` ..., ``guard_entry_block`` when unnamed);
2. ``guard_min_confidence``: confidence below the guard's floor (its absolute ``min_confidence``, or
   ``ENTRY_MIN_CONFIDENCE`` + its ``min_confidence_delta``);
3. a per-symbol backoff set elsewhere (``partial_fill`` ...); 4. ``router_block_backoff``:
   ENTRY_BLOCK_ROUTER_THRESHOLD router blocks of the symbol within the window; 5. ``error_backoff``:
   ENTRY_BLOCK_ERRORS_THRESHOLD entry errors within the window (all symbols); 6. ``corr_group_positions``;
   and, once the size is known, 7. ``corr_group_notional`` (:meth:`EntryGate.admit_request`).

Only entries are gated: :meth:`EntryGate.admit_request` passes every risk-reducing request untouched.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from eclipse.clock import Clock
from eclipse.contracts import EntryIntent, GuardKnobs, PositionSnapshot, RouterRequest
from eclipse.execution.entries.groups import CorrCaps, check_corr_count, check_corr_notional
from eclipse.execution.entries.throttle import ALL_SYMBOLS, EntryBackoff, ThrottleSettings, WindowThrottle
from eclipse.execution.entries.values import symbol_key
from eclipse.telemetry import Telemetry

__all__ = [
    "ADMIT",
    "EntryGate",
    "GateSettings",
    "GateVerdict",
    "GuardKnobsProvider",
    "StaticGuardProvider",
]


@runtime_checkable
class GuardKnobsProvider(Protocol):
    """Supplies the guard knobs in force right now (the reliability layer: posture, guards, reconcile
    completeness), for one symbol or (``symbol`` None) for every symbol."""

    def current(self, symbol: str | None = None) -> GuardKnobs:
        """The knobs in force now for entries on ``symbol``."""
        ...


class StaticGuardProvider:
    """Always the same knobs (default: allow everything, no scaling)."""

    def __init__(self, knobs: GuardKnobs | None = None) -> None:
        self._knobs = knobs if knobs is not None else GuardKnobs()

    def current(self, symbol: str | None = None) -> GuardKnobs:
        """The fixed knobs (whatever the symbol)."""
        return self._knobs


@dataclass(frozen=True, slots=True)
class GateSettings:
    """Router-block throttle (per symbol), error throttle (all entries) and correlation caps."""

    router: ThrottleSettings = field(default_factory=lambda: ThrottleSettings(True, 60.0, 1, 10.0))
    errors: ThrottleSettings = field(default_factory=lambda: ThrottleSettings(False, 60.0, 3, 15.0))
    caps: CorrCaps = field(default_factory=CorrCaps)
    base_min_confidence: float = 0.0
    """The strategy's ``ENTRY_MIN_CONFIDENCE``: a guard's ``min_confidence_delta`` is added to it."""


@dataclass(frozen=True, slots=True)
class GateVerdict:
    """``ok``, else the block's stable ``reason`` and a human ``detail``."""

    ok: bool
    reason: str | None = None
    detail: str = ""


ADMIT = GateVerdict(True)


class EntryGate:
    """Applies the guard knobs, throttles, backoffs and correlation caps to entries."""

    def __init__(
        self,
        settings: GateSettings,
        guard: GuardKnobsProvider,
        telemetry: Telemetry,
        clock: Clock,
        backoff: EntryBackoff | None = None,
    ) -> None:
        self.settings = settings
        self._guard = guard
        self._telemetry = telemetry
        self._clock = clock
        self.backoff = backoff if backoff is not None else EntryBackoff()
        self._router = WindowThrottle(settings.router)
        self._errors = WindowThrottle(settings.errors)

    @property
    def guard(self) -> GuardKnobsProvider:
        """The guard-knob provider."""
        return self._guard

    def record_router_block(self, symbol: str, ts_ms: int | None = None, detail: str = "") -> None:
        """The router refused an order of ``symbol`` (``order.blocked``); may start the symbol's backoff."""
        ts = self._clock.now_ms() if ts_ms is None else ts_ms
        key = symbol_key(symbol)
        until = self._router.record(key, ts)
        if until is not None:
            self._telemetry.emit(
                "entry.backoff", symbol=key, reason="router_block", until_ms=until, detail=detail
            )

    def record_error(self, symbol: str | None = None, ts_ms: int | None = None, detail: str = "") -> None:
        """An entry failed (venue reject, unresolved outcome, ...); may start the all-entries backoff."""
        ts = self._clock.now_ms() if ts_ms is None else ts_ms
        until = self._errors.record(ALL_SYMBOLS, ts)
        if until is not None:
            where = symbol_key(symbol) if symbol is not None else ALL_SYMBOLS
            self._telemetry.emit(
                "entry.backoff", symbol=where, reason="errors", until_ms=until, detail=detail
            )

    def admit(self, intent: EntryIntent, positions: Sequence[PositionSnapshot]) -> GateVerdict:
        """Checks 1-6 for ``intent`` against the open ``positions``."""
        now = self._clock.now_ms()
        symbol = intent.symbol
        knobs = self._guard.current(symbol)
        if knobs.entry_block:
            reason = knobs.code or "guard_entry_block"
            return self._block(symbol, reason, f"guard: {knobs.reason}", intent)
        floor = knobs.min_confidence
        if knobs.min_confidence_delta > 0:
            floor = max(floor, self.settings.base_min_confidence + knobs.min_confidence_delta)
        if intent.confidence < floor:
            detail = f"confidence {intent.confidence:.4f} < guard {floor:.4f} ({knobs.reason})"
            return self._block(symbol, "guard_min_confidence", detail, intent, guard=knobs.code)
        key = symbol_key(symbol)
        held = self.backoff.active(key, now)
        if held is not None:
            detail = f"{held.detail or held.reason} until {held.until_ms}"
            return self._block(symbol, held.reason, detail, intent)
        until = self._router.blocked_until(key, now)
        if until is not None:
            s = self.settings.router
            detail = f">= {s.threshold} router blocks in {s.window_sec:g}s; until {until}"
            return self._block(symbol, "router_block_backoff", detail, intent)
        until = self._errors.blocked_until(ALL_SYMBOLS, now)
        if until is not None:
            s = self.settings.errors
            detail = f">= {s.threshold} entry errors in {s.window_sec:g}s; until {until}"
            return self._block(symbol, "error_backoff", detail, intent)
        breach = check_corr_count(symbol, positions, self.settings.caps)
        if breach is not None:
            return self._block(symbol, breach.reason, breach.detail, intent, group=breach.group)
        return ADMIT

    def admit_request(self, request: RouterRequest, positions: Sequence[PositionSnapshot]) -> GateVerdict:
        """The sized request: exits and protection always pass; an entry must fit the group notional caps."""
        if request.kind.reduces_risk:
            return ADMIT
        breach = check_corr_notional(request.symbol, request.notional, positions, self.settings.caps)
        if breach is not None:
            return self._block(
                request.symbol,
                breach.reason,
                breach.detail,
                None,
                group=breach.group,
                intent_id=request.intent_id,
                notional=request.notional,
            )
        return ADMIT

    def _block(
        self, symbol: str, reason: str, detail: str, intent: EntryIntent | None, **extra: object
    ) -> GateVerdict:
        fields: dict[str, object] = {"symbol": symbol_key(symbol), "reason": reason, "detail": detail}
        if intent is not None:
            fields.update(intent_id=intent.intent_id, side=intent.side, confidence=intent.confidence)
        fields.update(extra)
        self._telemetry.emit("entry.blocked", **fields)
        return GateVerdict(False, reason, detail)
