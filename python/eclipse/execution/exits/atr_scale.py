"""ATR scaling of the time exits: a volatile position gets more time, a quiet one less.

``multiplier = clamp(atr_pct / EXIT_ATR_SCALE_REF_PCT, EXIT_ATR_SCALE_MIN, EXIT_ATR_SCALE_MAX)`` applied to
``EXIT_MAX_HOLD_SEC`` and ``EXIT_STAGNATION_SEC``. ``atr_pct`` is the entry's ATR% when the entry recorded
one, else the current ATR% of ``EXIT_ATR_TF``. Disabled, or without a usable ATR%, the multiplier is 1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from eclipse.execution.exits.overrides import ExitKnobs

__all__ = ["AtrScale", "atr_scale"]


@dataclass(frozen=True, slots=True)
class AtrScale:
    """The time multiplier and the limits it gives; ``applied`` is False when scaling was not used."""

    multiplier: float
    atr_pct: float | None
    applied: bool
    max_hold_sec: float
    stagnation_sec: float


def atr_scale(knobs: ExitKnobs, atr_pct: float | None) -> AtrScale:
    """The scaled time limits for a position whose reference ATR% is ``atr_pct`` (pure)."""
    usable = atr_pct is not None and math.isfinite(atr_pct) and atr_pct > 0
    if not knobs.atr_scale_enabled or not usable or atr_pct is None:
        return AtrScale(1.0, atr_pct if usable else None, False, knobs.max_hold_sec, knobs.stagnation_sec)
    mult = min(knobs.atr_scale_max, max(knobs.atr_scale_min, atr_pct / knobs.atr_scale_ref_pct))
    return AtrScale(mult, atr_pct, True, knobs.max_hold_sec * mult, knobs.stagnation_sec * mult)
