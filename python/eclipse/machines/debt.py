"""Belief debt: how wrong the local belief may be, measured from the contradictions between local state and
venue evidence that are still open.

Each contradiction has a kind, a severity weight and the time it was opened. The debt at time ``t`` is::

    debt(t) = sum over contradictions open at t of  weight * (1 + age_min(t) / aging_min)

so a contradiction counts its weight when it appears and one more weight every ``aging_min`` minutes it stays
unresolved (default 10 min: an unresolved contradiction doubles in 10 minutes). The aging is linear and
unbounded on purpose: any contradiction left open long enough drives the posture to RED_LOCK.

Growth is the debt change per minute over a trailing window (default 60 s)::

    growth(t) = (debt(t) - debt(t - window)) / window_min

computed exactly: resolved contradictions are kept until they leave the window, so ``debt`` at any time in
the window is known (before this ledger existed the debt was 0). Growth is negative while debt is being paid.

Contradictions are keyed (e.g. ``"position_mismatch:BTCUSDT"``): re-reporting an open key (the same mismatch
seen again by the next reconcile cycle) keeps its original age and weight.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from eclipse.clock import Clock

__all__ = ["DEFAULT_WEIGHTS", "SEVERITY", "BeliefDebt", "Contradiction"]

SEVERITY: Final[Mapping[str, float]] = MappingProxyType(
    {"low": 1.0, "medium": 2.0, "high": 4.0, "critical": 8.0}
)
"""Severity weights."""

DEFAULT_WEIGHTS: Final[Mapping[str, float]] = MappingProxyType(
    {
        "stale_order_status": SEVERITY["low"],  # an order's status is older than its refresh interval
        "fill_gap": SEVERITY["low"],  # a trade id sequence gap, not yet backfilled
        "orphan_order": SEVERITY["medium"],  # a venue order with no local intent
        "order_unknown": SEVERITY["medium"],  # an order whose submit outcome is unknown
        "missing_order": SEVERITY["medium"],  # a local live order the venue does not list
        "position_mismatch": SEVERITY["high"],  # venue position quantity differs from local
        "unprotected_position": SEVERITY["high"],  # an open position uncovered past T_protect
        "unknown_position": SEVERITY["critical"],  # a venue position with no local record
        "balance_mismatch": SEVERITY["critical"],  # margin or balance differs beyond tolerance
    }
)
"""Weight of each known kind; other kinds weigh ``SEVERITY["medium"]`` unless a weight is given."""


@dataclass(frozen=True, slots=True)
class Contradiction:
    """One disagreement between local belief and venue evidence."""

    key: str
    kind: str
    weight: float
    opened_ms: int
    resolved_ms: int | None = None

    def debt_at(self, t_ms: int, aging_ms: float) -> float:
        """Contribution to the debt at ``t_ms`` (0 when not open then)."""
        if t_ms < self.opened_ms or (self.resolved_ms is not None and t_ms >= self.resolved_ms):
            return 0.0
        return self.weight * (1.0 + (t_ms - self.opened_ms) / aging_ms)


class BeliefDebt:
    """The ledger of contradictions and the debt and growth they imply (see the module docstring)."""

    __slots__ = ("_aging_ms", "_clock", "_open", "_resolved", "_window_ms")

    def __init__(self, clock: Clock, aging_min: float = 10.0, growth_window_sec: float = 60.0) -> None:
        if not aging_min > 0 or not growth_window_sec > 0:
            raise ValueError(
                f"aging_min and growth_window_sec must be > 0, got {aging_min}, {growth_window_sec}"
            )
        self._clock = clock
        self._aging_ms = aging_min * 60_000.0
        self._window_ms = round(growth_window_sec * 1000)
        self._open: dict[str, Contradiction] = {}
        self._resolved: list[Contradiction] = []

    @property
    def growth_window_sec(self) -> float:
        """The trailing window of :meth:`growth_per_min`."""
        return self._window_ms / 1000.0

    def add(self, key: str, kind: str, weight: float | None = None) -> bool:
        """Open contradiction ``key``; False (and no change) when it is already open."""
        if key in self._open:
            return False
        w = DEFAULT_WEIGHTS.get(kind, SEVERITY["medium"]) if weight is None else float(weight)
        if not w > 0:
            raise ValueError(f"contradiction weight must be > 0, got {w}")
        self._open[key] = Contradiction(key, kind, w, self._clock.now_ms())
        return True

    def resolve(self, key: str) -> bool:
        """Close contradiction ``key``; False when it is not open."""
        c = self._open.pop(key, None)
        if c is None:
            return False
        now = self._clock.now_ms()
        self._resolved.append(Contradiction(c.key, c.kind, c.weight, c.opened_ms, now))
        self._prune(now)
        return True

    def is_open(self, key: str) -> bool:
        """True while ``key`` is open."""
        return key in self._open

    def open_contradictions(self) -> tuple[Contradiction, ...]:
        """The open contradictions, oldest first."""
        return tuple(sorted(self._open.values(), key=lambda c: (c.opened_ms, c.key)))

    def debt(self, at_ms: int | None = None) -> float:
        """The debt now, or at ``at_ms`` (which must be within the growth window before now)."""
        now = self._clock.now_ms()
        return self._debt_at(now if at_ms is None else at_ms, now)

    def growth_per_min(self) -> float:
        """Debt change per minute over the trailing window (one reading of the clock: a clock that moves
        between two readings must not put the window's start out of range)."""
        now = self._clock.now_ms()
        self._prune(now)
        start = self._debt_at(now - self._window_ms, now)
        return (self._debt_at(now, now) - start) / (self._window_ms / 60_000.0)

    def _debt_at(self, t: int, now: int) -> float:
        if t > now or t < now - self._window_ms:
            raise ValueError(f"debt is known from {now - self._window_ms} to {now} ms, not at {t}")
        total = sum(c.debt_at(t, self._aging_ms) for c in self._open.values())
        return total + sum(c.debt_at(t, self._aging_ms) for c in self._resolved)

    def _prune(self, now: int) -> None:
        horizon = now - self._window_ms
        if (
            self._resolved
            and self._resolved[0].resolved_ms is not None
            and self._resolved[0].resolved_ms <= horizon
        ):
            self._resolved = [
                c for c in self._resolved if c.resolved_ms is not None and c.resolved_ms > horizon
            ]
