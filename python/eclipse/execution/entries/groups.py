"""Correlation groups: exposure of a group in the open positions, hard caps on positions and notional per
group (``CORR_GROUP_MAX_POSITIONS`` / ``CORR_GROUP_LIMITS``, ``CORR_GROUP_MAX_NOTIONAL_USDT`` /
``CORR_GROUP_NOTIONAL``) and the exposure size scale (``CORR_GROUP_EXPOSURE_SCALE_*``).

A position's notional is ``|qty| x mark`` (the entry price when no mark is known).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from eclipse.contracts import PositionSnapshot
from eclipse.execution.entries.values import CorrGroups, NamedNumbers, symbol_key

__all__ = [
    "CorrCaps",
    "CorrExposureScale",
    "GroupBreach",
    "GroupExposure",
    "check_corr_count",
    "check_corr_notional",
    "group_exposure",
    "position_notional",
]

_ZERO = Decimal(0)


def position_notional(pos: PositionSnapshot) -> Decimal:
    """``|qty| x (mark or average entry)``."""
    price = pos.mark if pos.mark is not None else pos.avg_entry
    return abs(pos.qty) * price


@dataclass(frozen=True, slots=True)
class GroupExposure:
    """Open positions of one group: how many symbols, their total notional, and which."""

    group: str
    positions: int
    notional: Decimal
    symbols: tuple[str, ...]


def group_exposure(
    groups: CorrGroups, group: str, positions: Sequence[PositionSnapshot], *, exclude: str | None = None
) -> GroupExposure:
    """Open (non-zero) positions of ``group``'s members, leaving out ``exclude`` (a symbol) if given."""
    members = set(groups.members(group))
    skip = symbol_key(exclude) if exclude is not None else None
    syms: list[str] = []
    total = _ZERO
    for pos in positions:
        key = symbol_key(pos.symbol)
        if pos.qty == 0 or key not in members or key == skip:
            continue
        syms.append(key)
        total += position_notional(pos)
    return GroupExposure(group, len(syms), total, tuple(syms))


@dataclass(frozen=True, slots=True)
class CorrCaps:
    """Hard caps per correlation group; 0 disables a cap. Per-group values override the global ones."""

    groups: CorrGroups = field(default_factory=CorrGroups)
    max_positions: int = 0
    max_notional: Decimal = _ZERO
    limits: NamedNumbers = field(default_factory=NamedNumbers)
    notional: NamedNumbers = field(default_factory=NamedNumbers)

    def position_cap(self, group: str) -> int:
        """Max open positions in ``group`` (0 = none)."""
        value = self.limits.get(group)
        return self.max_positions if value is None else int(value)

    def notional_cap(self, group: str) -> Decimal:
        """Max open notional of ``group`` in USDT (0 = none)."""
        value = self.notional.get(group)
        return self.max_notional if value is None else Decimal(str(value))


@dataclass(frozen=True, slots=True)
class GroupBreach:
    """A cap an entry would break."""

    group: str
    reason: str
    detail: str


def check_corr_count(
    symbol: str, positions: Sequence[PositionSnapshot], caps: CorrCaps
) -> GroupBreach | None:
    """The first group of ``symbol`` whose open-position cap a new position would exceed, else None."""
    for group in caps.groups.groups_of(symbol):
        cap = caps.position_cap(group)
        if cap <= 0:
            continue
        exp = group_exposure(caps.groups, group, positions, exclude=symbol)
        if exp.positions + 1 > cap:
            detail = f"{group}: {exp.positions} open ({','.join(exp.symbols)}) + 1 > cap {cap}"
            return GroupBreach(group, "corr_group_positions", detail)
    return None


def check_corr_notional(
    symbol: str, notional: Decimal, positions: Sequence[PositionSnapshot], caps: CorrCaps
) -> GroupBreach | None:
    """The first group of ``symbol`` whose notional cap ``notional`` more would exceed, else None."""
    for group in caps.groups.groups_of(symbol):
        cap = caps.notional_cap(group)
        if cap <= 0:
            continue
        exp = group_exposure(caps.groups, group, positions, exclude=symbol)
        if exp.notional + notional > cap:
            detail = f"{group}: open {exp.notional:.2f} + entry {notional:.2f} > cap {cap} USDT"
            return GroupBreach(group, "corr_group_notional", detail)
    return None


@dataclass(frozen=True, slots=True)
class CorrExposureScale:
    """``CORR_GROUP_EXPOSURE_SCALE_*``: scale = max(MIN, SCALE ** ((group notional + entry) / REF)).

    REF is the per-group value, else the global one, else the group's notional cap, else the global cap; with
    no reference at all there is no scaling. A symbol in several groups gets the smallest scale.
    """

    enabled: bool = False
    scale: float = 0.7
    scale_min: float = 0.25
    ref_notional: float = 0.0
    scale_by_group: NamedNumbers = field(default_factory=NamedNumbers)
    min_by_group: NamedNumbers = field(default_factory=NamedNumbers)
    ref_by_group: NamedNumbers = field(default_factory=NamedNumbers)

    def _ref(self, group: str, caps: CorrCaps) -> float:
        for value in (self.ref_by_group.get(group), self.ref_notional, float(caps.notional_cap(group))):
            if value is not None and value > 0:
                return value
        return 0.0

    def factor(
        self, symbol: str, planned: Decimal, positions: Sequence[PositionSnapshot], caps: CorrCaps
    ) -> tuple[float, str]:
        """``(scale in [min, 1], explanation)``; ``(1.0, "")`` when disabled or not applicable."""
        if not self.enabled:
            return 1.0, ""
        best, why = 1.0, ""
        for group in caps.groups.groups_of(symbol):
            ref = self._ref(group, caps)
            if ref <= 0:
                continue
            by_group = self.scale_by_group.get(group)
            base = self.scale if by_group is None else by_group
            floor = self.min_by_group.get(group)
            floor = self.scale_min if floor is None else floor
            exp = group_exposure(caps.groups, group, positions, exclude=symbol)
            total = float(exp.notional + max(planned, _ZERO))
            value = min(1.0, max(floor, math.pow(base, total / ref)))
            if value < best:
                best = value
                why = f"corr_group_exposure {group} notional={total:.2f} ref={ref:g}"
        return best, why
