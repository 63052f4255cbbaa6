"""Entry leverage and margin mode: a pure function of (symbol, settings, open positions, equity).

Steps, in order (each that changes the value is named in the explanation):

1. ``LEVERAGE``; 2. ``LEVERAGE_<SYMBOL>`` (full key like ``BTCUSDT`` first, then base asset like ``BTC``);
3. ``LEVERAGE_BY_SYMBOL`` (beats the suffix knob, as in the original); 4. ``LEVERAGE_BY_GROUP``: a cap, the
lowest of the symbol's groups wins; 5. ``LEVERAGE_GROUP_DYNAMIC``: x ``LEVERAGE_GROUP_SCALE`` per open symbol
in the symbol's fullest group, or with ``LEVERAGE_GROUP_EXPOSURE`` per ``LEVERAGE_GROUP_EXPOSURE_REF_PCT`` of
equity held in it (fractional steps; falls back to the count without a positive equity), never below
``min(LEVERAGE_GROUP_SCALE_MIN, the unscaled leverage)``; 6. the guard's ``leverage_scale`` (<= 1);
7. clamp to [``LEVERAGE_MIN``, ``LEVERAGE_MAX``] and round *down* to an integer.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from eclipse.contracts import PositionSnapshot
from eclipse.execution.entries.groups import group_exposure
from eclipse.execution.entries.values import CorrGroups, NamedNumbers, base_asset, symbol_key
from eclipse.venues.types import MarginMode

__all__ = ["LeverageDecision", "LeverageSettings", "resolve_leverage"]


@dataclass(frozen=True, slots=True)
class LeverageSettings:
    """The leverage knobs (``symbol_overrides``: the ``LEVERAGE_<SYMBOL>`` values keyed by suffix)."""

    base: int = 1
    symbol_overrides: Mapping[str, int] = field(default_factory=dict)
    by_symbol: NamedNumbers = field(default_factory=NamedNumbers)
    by_group: NamedNumbers = field(default_factory=NamedNumbers)
    groups: CorrGroups = field(default_factory=CorrGroups)
    min: int = 1
    max: int = 125
    group_dynamic: bool = True
    group_scale: float = 0.7
    group_scale_min: float = 1.0
    exclude_self: bool = True
    exposure: bool = False
    exposure_ref_pct: float = 0.10
    margin_mode: MarginMode = MarginMode.ISOLATED

    def __post_init__(self) -> None:
        if not 1 <= self.min <= self.max:
            raise ValueError(f"need 1 <= LEVERAGE_MIN <= LEVERAGE_MAX, got {self.min}, {self.max}")
        if not 0 <= self.group_scale <= 1 or self.exposure_ref_pct <= 0:
            raise ValueError("need LEVERAGE_GROUP_SCALE in [0, 1] and LEVERAGE_GROUP_EXPOSURE_REF_PCT > 0")


@dataclass(frozen=True, slots=True)
class LeverageDecision:
    """The leverage to set before an entry, the margin mode, and how the value was reached."""

    leverage: int
    margin_mode: MarginMode
    explanation: tuple[str, ...]

    @property
    def text(self) -> str:
        """The explanation as one line."""
        return "; ".join(self.explanation)


def _dynamic(
    symbol: str,
    lev: float,
    s: LeverageSettings,
    hits: Sequence[str],
    positions: Sequence[PositionSnapshot],
    equity: Decimal,
) -> tuple[float, str]:
    exclude = symbol if s.exclude_self else None
    exposures = [group_exposure(s.groups, g, positions, exclude=exclude) for g in hits]
    floor = min(s.group_scale_min, lev)
    if s.exposure and equity > 0:
        top = max(exposures, key=lambda e: e.notional)
        pct = float(top.notional / equity)
        steps = pct / s.exposure_ref_pct
        why = f"{top.group} exposure {pct:.2%} of equity = {steps:.2f} steps of {s.exposure_ref_pct:g}"
    else:
        top = max(exposures, key=lambda e: e.positions)
        steps = float(top.positions)
        why = f"{top.group} has {top.positions} open"
        if s.exposure:
            why += " (no positive equity for the exposure mode)"
    if steps <= 0:
        return lev, ""
    scaled = max(floor, lev * math.pow(s.group_scale, steps))
    return scaled, f"LEVERAGE_GROUP_DYNAMIC x{s.group_scale:g}^{steps:.2f} ({why}) -> {scaled:.2f}"


def resolve_leverage(
    symbol: str,
    settings: LeverageSettings,
    positions: Sequence[PositionSnapshot],
    equity: Decimal,
    guard_scale: float = 1.0,
) -> LeverageDecision:
    """The leverage and margin mode for an entry on ``symbol`` (see the module doc for the steps)."""
    s = settings
    key = symbol_key(symbol)
    lev = float(s.base)
    notes = [f"LEVERAGE={s.base}"]
    for suffix in (key, base_asset(symbol)):
        if suffix in s.symbol_overrides:
            lev = float(s.symbol_overrides[suffix])
            notes.append(f"LEVERAGE_{suffix}={lev:g}")
            break
    by_symbol = s.by_symbol.get(key)
    if by_symbol is not None:
        lev = by_symbol
        notes.append(f"LEVERAGE_BY_SYMBOL {key}={lev:g}")
    hits = s.groups.groups_of(symbol)
    caps = [(v, g) for g in hits if (v := s.by_group.get(g)) is not None]
    if caps:
        cap, group = min(caps)
        if cap < lev:
            lev = cap
            notes.append(f"LEVERAGE_BY_GROUP {group}={cap:g}")
    if s.group_dynamic and hits and s.group_scale < 1:
        lev, why = _dynamic(symbol, lev, s, hits, positions, equity)
        if why:
            notes.append(why)
    if guard_scale < 1:
        lev *= max(0.0, guard_scale)
        notes.append(f"guard leverage_scale x{guard_scale:g} -> {lev:.2f}")
    final = max(s.min, min(s.max, math.floor(lev)))
    notes.append(f"clamp [{s.min}, {s.max}], round down -> {final}")
    return LeverageDecision(final, s.margin_mode, tuple(notes))
