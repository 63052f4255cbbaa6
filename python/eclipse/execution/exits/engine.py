"""The exit loop: per symbol and closed bar, read the features, run the exit rules on the position and turn a
decision into a reduce-only MARKET request; forced exits on demand.

The engine keeps only what the pure rules cannot: the previous ``EXIT_VWAP_TF`` VWAP distance (for the
cross), the entry ATR% of each position, the exit attempt counter of each position (deterministic client
ids) and whether an exit is in flight (no second rule exit is produced while one is). It has no guard,
posture or GuardKnobs input: exits cannot be blocked by them.

Telemetry: ``exit.<rule>`` (``exit.max_hold``, ``exit.mom_fade``, ``exit.vwap_cross``, ``exit.stagnation``,
``exit.forced``) with the reason, and ``exit.atr_scaled`` with the multiplier once per position when ATR
scaling applies.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from eclipse import _core
from eclipse.clock import Clock
from eclipse.contracts import PositionSnapshot, RouterRequest
from eclipse.execution.exits.atr_scale import atr_scale
from eclipse.execution.exits.overrides import ExitSettings
from eclipse.execution.exits.rules import (
    ExitDecision,
    ExitFeatures,
    ExitRule,
    decide_exit,
    exit_intent_id,
    exit_request,
    features_from_state,
)
from eclipse.execution.positions import PositionBook
from eclipse.telemetry import Telemetry

__all__ = ["ExitEngine"]


@dataclass(slots=True)
class _VwapTrack:
    bars: int = -1
    cur: float | None = None
    prev: float | None = None


@dataclass(slots=True)
class _PositionTrack:
    intent_id: str
    attempts: int = 0
    in_flight: bool = False
    scaled_reported: bool = False
    entry_atr_pct: float | None = None


class ExitEngine:
    """Exit decisions and requests for every symbol of a :class:`PositionBook`."""

    def __init__(
        self, settings: ExitSettings, book: PositionBook, clock: Clock, telemetry: Telemetry | None = None
    ) -> None:
        self._settings = settings
        self._book = book
        self._clock = clock
        self._telemetry = telemetry
        self._vwap: dict[str, _VwapTrack] = {}
        self._tracks: dict[str, _PositionTrack] = {}
        self._entry_atr: dict[str, float] = {}

    @property
    def settings(self) -> ExitSettings:
        """The exit settings in use."""
        return self._settings

    def note_entry_atr(self, symbol: str, atr_pct: float | None) -> None:
        """Remember the ATR% at entry of ``symbol``'s next or current position (ATR scaling reference)."""
        if atr_pct is None:
            self._entry_atr.pop(symbol, None)
        else:
            self._entry_atr[symbol] = atr_pct

    def observe(self, symbol: str, state: _core.FeatureState) -> ExitFeatures:
        """Read ``symbol``'s exit features after a closed 1m bar was applied to ``state`` (call it on every
        bar, flat or not, so the VWAP cross knows the previous bar)."""
        knobs = self._settings.for_symbol(symbol)
        track = self._vwap.setdefault(symbol, _VwapTrack())
        count = state.bars(knobs.vwap_tf)
        if count != track.bars:
            track.bars = count
            track.prev = track.cur
            track.cur = state.features(knobs.vwap_tf)["vwap_dist"]
        return features_from_state(state, knobs, track.prev)

    def on_bar(self, symbol: str, state: _core.FeatureState) -> RouterRequest | None:
        """Observe the bar and evaluate the exit rules on ``symbol``'s position; the exit request when one
        fires (None when flat, nothing fires, or an exit of this position is already in flight)."""
        features = self.observe(symbol, state)
        return self.evaluate(symbol, features)

    def evaluate(self, symbol: str, features: ExitFeatures) -> RouterRequest | None:
        """Run the rules on ``symbol``'s position with ``features`` at the clock's time."""
        position = self._position(symbol, features)
        if position is None:
            return None
        track = self._track(position)
        if track.in_flight:
            return None
        knobs = self._settings.for_symbol(symbol)
        decision = decide_exit(position, features, self._clock.now_ms(), knobs, track.entry_atr_pct)
        ref = track.entry_atr_pct if track.entry_atr_pct is not None else features.atr_pct
        scale = atr_scale(knobs, ref)
        if scale.applied and not track.scaled_reported:
            track.scaled_reported = True
            self._emit(
                "exit.atr_scaled",
                symbol=symbol,
                multiplier=scale.multiplier,
                atr_pct=scale.atr_pct,
                ref_pct=knobs.atr_scale_ref_pct,
                max_hold_sec=scale.max_hold_sec,
                stagnation_sec=scale.stagnation_sec,
            )
        if decision is None:
            return None
        return self._request(position, track, decision, Decimal(repr(features.close)))

    def force_exit(self, symbol: str, reason: str, ref_price: Decimal | None = None) -> RouterRequest | None:
        """A reduce-only MARKET exit of ``symbol``'s whole position now, whatever else is going on (None when
        flat). Produced even while another exit is in flight: reduce-only orders can never flip it."""
        position = self._book.snapshot(symbol)
        if position.side is None:
            return None
        track = self._track(position)
        price = ref_price if ref_price is not None else (position.mark or position.avg_entry)
        now = self._clock.now_ms()
        held = 0.0 if position.opened_ms is None else max(0, now - position.opened_ms) / 1000.0
        decision = ExitDecision(symbol, ExitRule.FORCED, reason or "forced", held)
        return self._request(position, track, decision, price)

    def exit_resolved(self, symbol: str) -> None:
        """The in-flight exit of ``symbol`` ended (filled, rejected, canceled): rules may fire again."""
        track = self._tracks.get(symbol)
        if track is not None:
            track.in_flight = False

    # --- internals ------------------------------------------------------------------------------------------
    def _position(self, symbol: str, features: ExitFeatures) -> PositionSnapshot | None:
        mark = Decimal(repr(features.close)) if features.close > 0 else None
        position = self._book.snapshot(symbol, mark)
        if position.side is None:
            if self._tracks.pop(symbol, None) is not None:
                self._entry_atr.pop(symbol, None)  # that position's entry ATR% must not leak into the next
            return None
        return position

    def _track(self, position: PositionSnapshot) -> _PositionTrack:
        intent = exit_intent_id(position)
        track = self._tracks.get(position.symbol)
        if track is None or track.intent_id != intent:
            track = _PositionTrack(intent, entry_atr_pct=self._entry_atr.get(position.symbol))
            self._tracks[position.symbol] = track
        return track

    def _request(
        self, position: PositionSnapshot, track: _PositionTrack, decision: ExitDecision, price: Decimal
    ) -> RouterRequest:
        track.attempts += 1
        track.in_flight = True
        request = exit_request(position, price, track.attempts)
        self._emit(
            f"exit.{decision.rule.value}",
            symbol=position.symbol,
            reason=decision.reason,
            held_sec=decision.held_sec,
            side=request.side,
            qty=request.qty,
            client_order_id=request.client_order_id,
            intent_id=request.intent_id,
        )
        return request

    def _emit(self, event: str, **fields: object) -> None:
        if self._telemetry is not None:
            self._telemetry.emit(event, **fields)
