"""The protection manager's records: the plan it hands the engine (orders to place, cancels, journal events,
positions to close), its legs and covers, and the trigger distances (pure). See :mod:`.protection`."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

from eclipse.contracts import IntentKind, ProtectionEvent, RouterRequest
from eclipse.execution.exits.overrides import ExitKnobs
from eclipse.venues.types import Side

__all__ = [
    "OUR_LEG",
    "CancelRequest",
    "Cover",
    "Leg",
    "LegState",
    "ProtectionPlan",
    "protection_triggers",
    "symbol_tag",
]

OUR_LEG = re.compile(r"-(sl|tp)-(\d+)$")
"""Our protective leg ids end in ``-sl-<n>`` / ``-tp-<n>``."""


@dataclass(frozen=True, slots=True)
class CancelRequest:
    """Cancel one (conditional) order by client id; a not-found answer is success."""

    symbol: str
    client_order_id: str
    conditional: bool = True
    reason: str = ""
    after: str | None = None
    """Send the cancel only once this replacement leg is confirmed (None: at once)."""


@dataclass(frozen=True, slots=True)
class ProtectionPlan:
    """What to do now: orders to place (first), orders to cancel (after), journal events, and symbols whose
    position must be closed at market (a stop-loss that cannot be placed: the price is beyond it)."""

    place: tuple[RouterRequest, ...] = ()
    cancel: tuple[CancelRequest, ...] = ()
    events: tuple[ProtectionEvent, ...] = ()
    flatten: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        """True when there is nothing to do."""
        return not (self.place or self.cancel or self.events or self.flatten)


class LegState(StrEnum):
    REQUESTED = "requested"
    CONFIRMED = "confirmed"
    FAILED = "failed"
    REFUSED = "refused"


@dataclass(slots=True)
class Leg:
    request: RouterRequest
    state: LegState
    since_ms: int
    breached: bool = False


@dataclass(slots=True)
class Cover:
    intent_id: str
    side: Side
    qty: Decimal
    atr_pct: float | None
    legs: dict[IntentKind, Leg] = field(default_factory=dict)
    counts: dict[IntentKind, int] = field(default_factory=dict)
    retired: dict[IntentKind, list[str]] = field(default_factory=dict)
    """Superseded legs still possibly working, canceled once their kind's current leg is confirmed."""


def _dec(x: float) -> Decimal:
    return Decimal(repr(x))


def protection_triggers(
    side: Side, entry: Decimal, knobs: ExitKnobs, atr_pct: float | None
) -> tuple[Decimal, Decimal | None]:
    """``(stop trigger, take-profit trigger or None)`` for a ``side`` position entered at ``entry`` (pure)."""
    atr_ok = atr_pct is not None and math.isfinite(atr_pct) and atr_pct > 0
    d_sl = knobs.stop_loss_pct
    if knobs.stop_loss_atr > 0 and atr_ok and atr_pct is not None:
        d_sl = min(d_sl, knobs.stop_loss_atr * atr_pct)
    d_tp = knobs.take_profit_pct
    if knobs.take_profit_atr > 0 and atr_ok and atr_pct is not None:
        d_tp = knobs.take_profit_atr * atr_pct
    one = Decimal(1)
    if side is Side.BUY:
        return entry * (one - _dec(d_sl)), (entry * (one + _dec(d_tp)) if d_tp > 0 else None)
    tp = entry * (one - _dec(d_tp)) if 0 < d_tp < 1 else None
    return entry * (one + _dec(d_sl)), tp


def symbol_tag(symbol: str) -> str:
    return symbol.split(":")[0].replace("/", "")
