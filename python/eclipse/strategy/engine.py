"""The signal engine: per symbol, one Rust call per closed bar (``Scorer.step``), then the Python gates.

Gate order (the first block wins and names the decision's ``blocked_by``):

1. ``stale_data``: the bar is older than SCALPER_DATA_MAX_STALE_SEC (nothing is trusted on stale data);
2. the scorer's own block (``warmup``, ``vol_regime_low``, ``trend_gate``, ``below_min_confidence`` ...),
   unless a debug force-entry replaces the scorer's direction;
3. ``session_hours``; 4. ``loss_cooldown``; 5. ``session_momentum`` (only when there is a direction).
"""

from __future__ import annotations

import json
import logging
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field

from eclipse import _core
from eclipse.clock import Clock
from eclipse.config.settings import StrategySettings
from eclipse.errors import DataError, StateError
from eclipse.market.bars import Bar
from eclipse.strategy.audit import AuditWriter
from eclipse.strategy.decision import Decision
from eclipse.strategy.gates import (
    ForceEntry,
    GateResult,
    LossCooldown,
    SessionHoursGate,
    SessionMomentumGate,
    StaleDataGate,
)

__all__ = ["DIAG_INTERVAL_MS", "STATE_MAGIC", "SignalEngine"]

_LOG = logging.getLogger(__name__)
DIAG_INTERVAL_MS = 300_000
STATE_MAGIC = b"ECLIPSE-ENGINE-STATE\x01"
_LEN = struct.Struct(">I")


@dataclass(slots=True)
class _SymbolState:
    features: _core.FeatureState
    scorer: _core.Scorer
    cooldown: LossCooldown
    force: ForceEntry
    last_diag_ms: int | None = field(default=None)
    advanced_ts_ms: int | None = field(default=None)
    """The bar :meth:`SignalEngine.advance` applied ahead of :meth:`SignalEngine.on_bar` (not scored yet)."""


class SignalEngine:
    """Turns closed 1m bars into :class:`Decision` objects, one symbol state per symbol.

    ``clock`` gives "now" for the staleness, session and cooldown gates; ``audit`` (optional) records signals
    and near-misses.
    """

    def __init__(self, settings: StrategySettings, clock: Clock, audit: AuditWriter | None = None) -> None:
        self._settings = settings
        self._clock = clock
        self._audit = audit
        gates = settings.gates
        self._stale = StaleDataGate(gates.max_stale_sec)
        self._session = SessionHoursGate(gates.session_hours)
        self._session_mom = SessionMomentumGate(gates.session_mom_hours, gates.session_mom_min)
        self._symbols: dict[str, _SymbolState] = {}

    @property
    def settings(self) -> StrategySettings:
        """The settings the engine was built with."""
        return self._settings

    @property
    def symbols(self) -> tuple[str, ...]:
        """Symbols seen so far."""
        return tuple(self._symbols)

    def features(self, symbol: str) -> _core.FeatureState | None:
        """``symbol``'s live FeatureState (after the last bar applied by :meth:`advance` / :meth:`on_bar`), or
        None before its first bar. Read-only: it is the engine's own state, shared to avoid a second feature
        pass per bar (the exit rules read it); callers must never ``update`` or otherwise mutate it."""
        st = self._symbols.get(symbol)
        return None if st is None else st.features

    def advance(self, symbol: str, bar: Bar) -> _core.FeatureState:
        """Apply one closed 1m bar of ``symbol`` to its features now, ahead of scoring it, and return the
        (read-only) state; the next :meth:`on_bar` with the same bar then only scores and gates it (the same
        result as scoring it in one step). DataError if the bar is invalid."""
        st = self._state(symbol)
        try:
            st.features.update(bar.ts_ms, bar.open, bar.high, bar.low, bar.close, bar.volume)
        except ValueError as exc:
            raise DataError(f"{symbol}: bar ts_ms={bar.ts_ms} rejected: {exc}") from None
        st.advanced_ts_ms = bar.ts_ms
        return st.features

    def _state(self, symbol: str) -> _SymbolState:
        st = self._symbols.get(symbol)
        if st is None:
            st = self._new_state(_core.FeatureState(self._settings.features))
            self._symbols[symbol] = st
        return st

    def _new_state(self, features: _core.FeatureState) -> _SymbolState:
        g = self._settings.gates
        return _SymbolState(
            features=features,
            scorer=_core.Scorer(self._settings.scorer),
            cooldown=LossCooldown(g.cooldown_losses, g.cooldown_minutes),
            force=ForceEntry(self._settings.force_entry),
        )

    def on_bar(self, symbol: str, bar: Bar) -> Decision:
        """Score one closed 1m bar of ``symbol`` and apply the gates; DataError if the bar is invalid.

        A bar already applied by :meth:`advance` is only scored (not applied twice)."""
        st = self._state(symbol)
        if st.advanced_ts_ms is not None and st.advanced_ts_ms == bar.ts_ms:
            st.advanced_ts_ms = None
            sig = st.scorer.score(st.features)
        else:
            st.advanced_ts_ms = None
            try:
                sig = st.scorer.step(
                    st.features, bar.ts_ms, bar.open, bar.high, bar.low, bar.close, bar.volume
                )
            except ValueError as exc:
                raise DataError(f"{symbol}: bar ts_ms={bar.ts_ms} rejected: {exc}") from None
        now_ms = self._clock.now_ms()
        decision = self._decide(symbol, st, bar, sig, now_ms)
        if self._settings.confidence_diag:
            self._diag(symbol, st, sig, now_ms)
        if self._audit is not None:
            self._audit.record(decision)
        return decision

    def _decide(self, symbol: str, st: _SymbolState, bar: Bar, sig: _core.Signal, now_ms: int) -> Decision:
        direction, candidate, forced = sig.direction, sig.candidate, False
        blocked: str | None = None
        stale = self._stale.check(bar.ts_ms, now_ms)
        if not stale.ok:
            blocked = stale.reason
        elif st.force.active:
            direction = candidate = st.force.next_direction()
            forced = True
        elif direction == 0:
            blocked = sig.blocked or "no_consensus"
        if blocked is None:  # the gates of _gate_results, in order, inlined (the first block wins)
            r = self._session.check(now_ms)
            if r.ok:
                r = st.cooldown.check(now_ms)
            if r.ok:
                r = self._session_mom.check(now_ms, direction, sig.mom_fast, sig.mom_slow)
            if not r.ok:
                blocked = r.reason
        final = 0 if blocked is not None else direction
        return Decision(
            symbol=symbol,
            ts_ms=bar.ts_ms,
            direction=final,
            side=Decision.side_of(final),
            confidence=sig.confidence,
            candidate=candidate,
            blocked_by=blocked,
            forced=forced,
            signal=sig,
        )

    def _gate_results(
        self, st: _SymbolState, sig: _core.Signal, direction: int, now_ms: int
    ) -> Iterator[GateResult]:
        """The gates after the scorer, in order, evaluated lazily (:meth:`_decide` runs the same sequence
        inline)."""
        yield self._session.check(now_ms)
        yield st.cooldown.check(now_ms)
        yield self._session_mom.check(now_ms, direction, sig.mom_fast, sig.mom_slow)

    def _diag(self, symbol: str, st: _SymbolState, sig: _core.Signal, now_ms: int) -> None:
        if sig.candidate == 0:
            return
        if st.last_diag_ms is not None and now_ms - st.last_diag_ms < DIAG_INTERVAL_MS:
            return
        st.last_diag_ms = now_ms
        _LOG.info(
            "confidence %s: raw=%.4f vol_mult=%.3f -> %.4f (%s)",
            symbol,
            sig.raw_confidence,
            sig.vol_multiplier,
            sig.confidence,
            sig.blocked or sig.side,
        )

    def record_trade_result(self, symbol: str, pnl: float, at_ms: int) -> None:
        """Feed a closed trade's pnl to the symbol's loss cooldown."""
        self._state(symbol).cooldown.record_result(pnl, at_ms)

    def forget(self, symbol: str) -> None:
        """Drop ``symbol``'s state (features and cooldown): the next bar starts it afresh."""
        self._symbols.pop(symbol, None)

    def save_state(self, symbol: str) -> bytes:
        """Serialize ``symbol``'s features and loss-cooldown state (versioned blob)."""
        st = self._symbols.get(symbol)
        if st is None:
            raise KeyError(f"no state for symbol {symbol!r}")
        meta = json.dumps(
            {"symbol": symbol, "cooldown": st.cooldown.to_state(), "features": st.features.config.to_dict()},
            sort_keys=True,
        ).encode()
        return STATE_MAGIC + _LEN.pack(len(meta)) + meta + st.features.to_bytes()

    def restore_state(self, symbol: str, blob: bytes) -> None:
        """Replace ``symbol``'s state with a :meth:`save_state` blob; StateError if it is corrupt, belongs to
        another symbol or was built with a different FeatureConfig."""
        head = len(STATE_MAGIC)
        if not blob.startswith(STATE_MAGIC) or len(blob) < head + _LEN.size:
            raise StateError(f"{symbol}: not an engine state blob")
        (size,) = _LEN.unpack_from(blob, head)
        body = head + _LEN.size
        try:
            meta = json.loads(blob[body : body + size])
            features = _core.FeatureState.from_bytes(blob[body + size :])
        except ValueError as exc:
            raise StateError(f"{symbol}: corrupt engine state ({exc})") from None
        if not isinstance(meta, dict):
            raise StateError(f"{symbol}: corrupt engine state (bad header)")
        if meta.get("symbol") != symbol:
            raise StateError(f"{symbol}: the state belongs to {meta.get('symbol')!r}")
        if features.config.to_dict() != self._settings.features.to_dict():
            raise StateError(f"{symbol}: the state was built with a different FeatureConfig")
        st = self._new_state(features)
        try:
            st.cooldown.load_state(meta["cooldown"])
        except (KeyError, ValueError) as exc:
            raise StateError(f"{symbol}: corrupt engine state ({exc})") from None
        self._symbols[symbol] = st
