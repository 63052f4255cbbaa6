"""Exit rules: pure functions of (position, feature values, clock time, knobs) -> an exit decision.

No guard, posture, gate or GuardKnobs is an input of anything here: an exit cannot be blocked by them
because they cannot reach it. Rules, first match wins:

1. ``max_hold``: held for at least ``EXIT_MAX_HOLD_SEC`` (ATR-scaled);
2. ``mom_fade``: 5m and 15m momentum (either one with ``EXIT_MOM_REQUIRE_BOTH=0``) at or past
   ``EXIT_MOM_MIN`` against the position (long: <= -min, short: >= +min);
3. ``vwap_cross``: price on the wrong side of the ``EXIT_VWAP_TF`` VWAP; with ``EXIT_VWAP_REQUIRE_CROSS`` it
   must have been on the right side (or on it) at the previous closed bar of that timeframe;
4. ``stagnation``: held for at least ``EXIT_STAGNATION_SEC`` (ATR-scaled) and
   ``|price / entry - 1| < EXIT_STAGNATION_ATR x ATR%``.

A feature still warming up (NaN) never triggers a rule. An exit becomes a reduce-only MARKET order for the
whole position (:func:`exit_request`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from eclipse import _core
from eclipse.contracts import IntentKind, PositionSnapshot, RouterRequest
from eclipse.execution.exits.atr_scale import AtrScale, atr_scale
from eclipse.execution.exits.overrides import ExitKnobs
from eclipse.venues.types import OrderType, Side

__all__ = [
    "ExitDecision",
    "ExitFeatures",
    "ExitRule",
    "decide_exit",
    "exit_intent_id",
    "exit_request",
    "features_from_state",
    "max_hold_exit",
    "mom_fade_exit",
    "stagnation_exit",
    "vwap_cross_exit",
]


class ExitRule(StrEnum):
    """Why a position is closed (telemetry event ``exit.<rule>``)."""

    MAX_HOLD = "max_hold"
    MOM_FADE = "mom_fade"
    VWAP_CROSS = "vwap_cross"
    STAGNATION = "stagnation"
    FORCED = "forced"


@dataclass(frozen=True, slots=True)
class ExitFeatures:
    """The feature values the exit rules read (NaN while warming up).

    ``mom_fast`` / ``mom_slow`` are the 5- and 15-bar returns of 1m closes (the original's 5m and 15m
    momentum); ``vwap_dist`` is ``close / VWAP - 1`` on EXIT_VWAP_TF and ``vwap_dist_prev`` its value at the
    previous closed bar of that timeframe (None when unknown); ``atr_pct`` is ATR / close on EXIT_ATR_TF.
    """

    close: float
    mom_fast: float
    mom_slow: float
    vwap_dist: float
    vwap_dist_prev: float | None
    atr_pct: float


def features_from_state(
    state: _core.FeatureState, knobs: ExitKnobs, vwap_dist_prev: float | None = None
) -> ExitFeatures:
    """Read :class:`ExitFeatures` from a FeatureState; ValueError when its VWAP window is not
    EXIT_VWAP_WINDOW (keep a second state built with that window)."""
    if state.config.vwap_window != knobs.vwap_window:
        raise ValueError(
            f"EXIT_VWAP_WINDOW={knobs.vwap_window} but the feature state's VWAP window is "
            f"{state.config.vwap_window}: build the exits' FeatureState with vwap_window={knobs.vwap_window}"
        )
    one = state.features("1m")
    vwap = state.features(knobs.vwap_tf)
    atr = state.features(knobs.atr_tf)
    return ExitFeatures(
        close=one["close"],
        mom_fast=one["mom_fast"],
        mom_slow=one["mom_slow"],
        vwap_dist=vwap["vwap_dist"],
        vwap_dist_prev=vwap_dist_prev,
        atr_pct=atr["atr_pct"],
    )


@dataclass(frozen=True, slots=True)
class ExitDecision:
    """Close ``symbol``'s position because of ``rule``; ``reason`` says with which numbers."""

    symbol: str
    rule: ExitRule
    reason: str
    held_sec: float
    scale: AtrScale | None = None


def _held_sec(position: PositionSnapshot, now_ms: int) -> float:
    return 0.0 if position.opened_ms is None else max(0, now_ms - position.opened_ms) / 1000.0


def max_hold_exit(held_sec: float, scale: AtrScale) -> str | None:
    """The reason to close a position held ``held_sec`` past the (scaled) max hold, else None."""
    limit = scale.max_hold_sec
    if limit > 0 and held_sec >= limit:
        return f"held {held_sec:.0f}s >= max hold {limit:.0f}s (atr x{scale.multiplier:.3f})"
    return None


def mom_fade_exit(side: Side, features: ExitFeatures, knobs: ExitKnobs) -> str | None:
    """The reason to close a ``side`` position whose momentum turned against it, else None."""
    if not knobs.mom_enabled:
        return None
    sign = 1.0 if side is Side.BUY else -1.0
    against = [sign * m <= -knobs.mom_min for m in (features.mom_fast, features.mom_slow) if math.isfinite(m)]
    hit = (len(against) == 2 and all(against)) if knobs.mom_require_both else any(against)
    if not hit:
        return None
    return (
        f"momentum against {side.value}: 5m={features.mom_fast:.5f} 15m={features.mom_slow:.5f} "
        f"(min {knobs.mom_min:g}, both={int(knobs.mom_require_both)})"
    )


def vwap_cross_exit(side: Side, features: ExitFeatures, knobs: ExitKnobs) -> str | None:
    """The reason to close a ``side`` position when price crossed its VWAP against it, else None."""
    if not knobs.vwap_enabled or not math.isfinite(features.vwap_dist):
        return None
    sign = 1.0 if side is Side.BUY else -1.0
    if sign * features.vwap_dist >= 0:
        return None
    prev = features.vwap_dist_prev
    if knobs.vwap_require_cross and (prev is None or not math.isfinite(prev) or sign * prev < 0):
        return None
    return (
        f"price {'below' if sign > 0 else 'above'} {knobs.vwap_tf} VWAP: dist={features.vwap_dist:.5f} "
        f"prev={'n/a' if prev is None else f'{prev:.5f}'} (cross={int(knobs.vwap_require_cross)})"
    )


def stagnation_exit(
    position: PositionSnapshot, features: ExitFeatures, held_sec: float, scale: AtrScale, knobs: ExitKnobs
) -> str | None:
    """The reason to close a position that made no progress within the (scaled) stagnation time."""
    limit = scale.stagnation_sec
    atr = scale.atr_pct if scale.atr_pct is not None else features.atr_pct
    if limit <= 0 or held_sec < limit or not math.isfinite(features.close) or position.avg_entry <= 0:
        return None
    if not (math.isfinite(atr) and atr > 0):
        return None
    move = abs(features.close / float(position.avg_entry) - 1.0)
    band = knobs.stagnation_atr * atr
    if move >= band:
        return None
    return (
        f"held {held_sec:.0f}s >= {limit:.0f}s with |move| {move:.5f} "
        f"< {knobs.stagnation_atr:g} x ATR% {atr:.5f}"
    )


def decide_exit(
    position: PositionSnapshot,
    features: ExitFeatures,
    now_ms: int,
    knobs: ExitKnobs,
    entry_atr_pct: float | None = None,
) -> ExitDecision | None:
    """The first exit rule that fires for ``position`` at ``now_ms``, or None (also None when flat)."""
    side = position.side
    if side is None:
        return None
    held = _held_sec(position, now_ms)
    ref_atr = entry_atr_pct if entry_atr_pct is not None else features.atr_pct
    scale = atr_scale(knobs, ref_atr)
    checks: tuple[tuple[ExitRule, str | None], ...] = (
        (ExitRule.MAX_HOLD, max_hold_exit(held, scale)),
        (ExitRule.MOM_FADE, mom_fade_exit(side, features, knobs)),
        (ExitRule.VWAP_CROSS, vwap_cross_exit(side, features, knobs)),
        (ExitRule.STAGNATION, stagnation_exit(position, features, held, scale, knobs)),
    )
    for rule, reason in checks:
        if reason is not None:
            return ExitDecision(position.symbol, rule, reason, held, scale)
    return None


def exit_intent_id(position: PositionSnapshot) -> str:
    """The deterministic intent id of the exits of one position (symbol and the ms it opened)."""
    sym = position.symbol.split(":")[0].replace("/", "")
    return f"X-{sym}-{position.opened_ms if position.opened_ms is not None else 0}"


def exit_request(position: PositionSnapshot, ref_price: Decimal, attempt: int = 1) -> RouterRequest:
    """The reduce-only MARKET order closing all of ``position`` (ValueError when flat).

    The client id is ``<exit intent id>-<attempt>``: the same position and attempt always give the same id.
    """
    side = position.side
    if side is None:
        raise ValueError(f"{position.symbol}: no position to exit")
    intent = exit_intent_id(position)
    return RouterRequest(
        intent_id=intent,
        kind=IntentKind.EXIT,
        symbol=position.symbol,
        side=Side.SELL if side is Side.BUY else Side.BUY,
        type=OrderType.MARKET,
        qty=abs(position.qty),
        client_order_id=f"{intent}-{attempt}",
        ref_price=ref_price,
        reduce_only=True,
    )
