"""Exits: protective stop-loss / take-profit orders, exit rules (momentum fade, VWAP cross, max hold,
stagnation, ATR-scaled timing, per-symbol overrides) and forced exits. Always allowed, always reduce-only:
nothing in this package takes a guard, a posture or GuardKnobs as input."""

from __future__ import annotations

from eclipse.execution.exits.atr_scale import AtrScale, atr_scale
from eclipse.execution.exits.engine import ExitEngine
from eclipse.execution.exits.overrides import ExitKnobs, ExitSettings, load_exit_settings, symbol_keys
from eclipse.execution.exits.protection import (
    CancelRequest,
    ProtectionManager,
    ProtectionPlan,
    protection_triggers,
)
from eclipse.execution.exits.rules import (
    ExitDecision,
    ExitFeatures,
    ExitRule,
    decide_exit,
    exit_request,
    features_from_state,
)

__all__ = [
    "AtrScale",
    "CancelRequest",
    "ExitDecision",
    "ExitEngine",
    "ExitFeatures",
    "ExitKnobs",
    "ExitRule",
    "ExitSettings",
    "ProtectionManager",
    "ProtectionPlan",
    "atr_scale",
    "decide_exit",
    "exit_request",
    "features_from_state",
    "load_exit_settings",
    "protection_triggers",
    "symbol_keys",
]
