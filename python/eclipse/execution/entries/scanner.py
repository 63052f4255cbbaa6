"""The entry scanner: per symbol and closed bar, the :class:`~eclipse.strategy.engine.SignalEngine` (features,
Rust scorer, strategy gates) decides; a direction becomes an :class:`~eclipse.contracts.EntryIntent` with a
deterministic id, a near-miss is logged and emitted as ``entry.near_miss``.

One position per symbol: every bar still feeds the engine (its features must see every bar), but when the
symbol has a position (``position_open``) or a live entry order (``entry_pending``) a would-be intent is
dropped and ``entry.blocked`` is emitted.

An intent carries the ATR% (ATR / close) of the engine's features at the decision, on the timeframe
``atr_timeframe(symbol)`` names (the execution engine passes the exits' ``EXIT_ATR_TF``; 1m when not given),
None while the ATR warms up: the protective orders' ATR distances and the exits' ATR scaling use it.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol, runtime_checkable

from eclipse.contracts import EntryIntent, Side
from eclipse.market.bars import Bar
from eclipse.strategy.decision import Decision
from eclipse.strategy.engine import SignalEngine
from eclipse.telemetry import Telemetry

__all__ = ["EntryScanner", "PositionView", "ScanResult"]

_LOG = logging.getLogger(__name__)


@runtime_checkable
class PositionView(Protocol):
    """Whether a symbol already has a position or a live (unfinished) entry order."""

    def has_position(self, symbol: str) -> bool:
        """True when ``symbol`` has a non-zero position."""
        ...

    def has_live_entry(self, symbol: str) -> bool:
        """True when an entry order of ``symbol`` is still working (or its outcome is unknown)."""
        ...


@dataclass(frozen=True, slots=True)
class ScanResult:
    """The engine's decision on one bar and, when an entry is wanted and allowed, the intent."""

    decision: Decision
    intent: EntryIntent | None = None
    skipped: str | None = None


class EntryScanner:
    """Turns closed bars into entry intents (the clock is the engine's)."""

    def __init__(
        self,
        engine: SignalEngine,
        positions: PositionView,
        telemetry: Telemetry,
        atr_timeframe: Callable[[str], str] | None = None,
    ) -> None:
        self.engine = engine
        self._positions = positions
        self._telemetry = telemetry
        self._atr_timeframe = atr_timeframe

    def atr_pct(self, symbol: str) -> float | None:
        """``symbol``'s current ATR% on its ATR timeframe (module docstring); None before the first bar or
        while the ATR warms up."""
        state = self.engine.features(symbol)
        if state is None:
            return None
        tf = self._atr_timeframe(symbol) if self._atr_timeframe is not None else "1m"
        value = state.feature(tf, "atr_pct")
        return value if math.isfinite(value) and value > 0 else None

    def on_bar(self, symbol: str, bar: Bar) -> ScanResult:
        """Score ``bar`` of ``symbol``; an intent when the strategy wants an entry and the symbol is free."""
        decision = self.engine.on_bar(symbol, bar)
        if decision.direction == 0:
            if decision.near_miss:
                self._near_miss(decision)
            return ScanResult(decision)
        skipped = (
            "position_open"
            if self._positions.has_position(symbol)
            else "entry_pending"
            if self._positions.has_live_entry(symbol)
            else None
        )
        side = Side.BUY if decision.direction > 0 else Side.SELL
        bar_close = bar.close_ms()
        intent_id = EntryIntent.make_id(symbol, side, bar_close)
        if skipped is not None:
            self._telemetry.emit(
                "entry.blocked",
                symbol=symbol,
                reason=skipped,
                detail=f"one position per symbol ({decision.side} signal dropped)",
                intent_id=intent_id,
                side=side,
                confidence=decision.confidence,
            )
            return ScanResult(decision, None, skipped)
        intent = EntryIntent(
            intent_id=intent_id,
            symbol=symbol,
            side=side,
            bar_close_ms=bar_close,
            confidence=decision.confidence,
            ref_price=Decimal(repr(bar.close)),
            atr_pct=self.atr_pct(symbol),
            reason="forced" if decision.forced else decision.signal.explain(),
        )
        return ScanResult(decision, intent)

    def _near_miss(self, d: Decision) -> None:
        side = Decision.side_of(d.candidate)
        _LOG.debug("near-miss %s %s conf=%.4f blocked_by=%s", d.symbol, side, d.confidence, d.blocked_by)
        self._telemetry.emit(
            "entry.near_miss",
            symbol=d.symbol,
            side=side,
            confidence=d.confidence,
            blocked_by=d.blocked_by,
            bar_ts_ms=d.ts_ms,
        )
