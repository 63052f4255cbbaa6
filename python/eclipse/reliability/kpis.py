"""The brief's reliability KPIs, measured by the running loop (status, ``/metrics``, run summary).

* **mismatch debt minutes**: minutes (market time) during which at least one belief contradiction was open,
  and the same per day of run (``x 1440 / run minutes``); sampled at every update of the loop;
* **repair success ratio**: repairs that succeeded / repairs attempted (1.0 when none were needed);
* **unknown-order resolution time**: from an order's submit to the update that saw its unknown outcome settled
  (by the router, the protection check or the reconcile; p50 / p95, milliseconds);
* **protection coverage gap**: seconds open positions spent without a working stop, from the moment the bot
  knows (a fill it has booked, a stop it found missing) to the stop confirmed on the venue or the position
  closed, as each symbol's protection tracker measures them; total and the longest, open gaps included.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from eclipse.clock import Clock
from eclipse.machines.protection import ProtectionTracker

__all__ = ["KpiSnapshot", "ReliabilityKpis"]


@dataclass(frozen=True, slots=True)
class KpiSnapshot:
    """The KPIs now (JSON-ready through :meth:`as_dict`)."""

    mismatch_debt_min: float
    mismatch_debt_min_per_day: float
    repairs_attempted: int
    repairs_succeeded: int
    repair_success_ratio: float
    unknown_resolved: int
    unknown_resolution_p50_ms: float | None
    unknown_resolution_p95_ms: float | None
    protection_gap_total_sec: float
    protection_gap_longest_sec: float
    protection_gaps: int

    def as_dict(self) -> dict[str, float | int | None]:
        """Field -> value."""
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def _quantile(values: list[int], q: float) -> float | None:
    if not values:
        return None
    xs = sorted(values)
    pos = q * (len(xs) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


class ReliabilityKpis:
    """Accumulates the KPIs from what the loop observes (module docstring)."""

    __slots__ = (
        "_attempted",
        "_clock",
        "_debt_ms",
        "_last_ms",
        "_last_open",
        "_resolved",
        "_started_ms",
        "_succeeded",
        "_trackers",
        "_unknown",
    )

    def __init__(self, clock: Clock, trackers: Callable[[], Iterable[ProtectionTracker]] = tuple) -> None:
        self._clock = clock
        self._started_ms = clock.now_ms()
        self._last_ms = self._started_ms
        self._last_open = False
        self._debt_ms = 0
        self._attempted = 0
        self._succeeded = 0
        self._resolved: list[int] = []
        self._unknown: dict[str, int] = {}
        self._trackers = trackers

    def sample_debt(self, contradictions_open: bool) -> None:
        """Whether any contradiction is open now (the time since the previous sample counts when one was)."""
        now = self._clock.now_ms()
        if self._last_open:
            self._debt_ms += max(0, now - self._last_ms)
        self._last_ms, self._last_open = now, contradictions_open

    def repairs(self, attempted: int, succeeded: int) -> None:
        """Count one cycle's repairs."""
        self._attempted += attempted
        self._succeeded += succeeded

    def sample_unknown(self, unknown: dict[str, int]) -> None:
        """client id -> submit time of the orders whose outcome is unknown now; one that was unknown at the
        previous sample and is not any more was resolved now (whoever resolved it)."""
        now = self._clock.now_ms()
        for cid, placed in self._unknown.items():
            if cid not in unknown:
                self._resolved.append(max(0, now - placed))
        if len(self._resolved) > 10_000:
            del self._resolved[:5_000]
        self._unknown = dict(unknown)

    def snapshot(self) -> KpiSnapshot:
        """The KPIs now (open gaps and an open debt interval included)."""
        now = self._clock.now_ms()
        debt_ms = self._debt_ms + (max(0, now - self._last_ms) if self._last_open else 0)
        run_min = max(1.0, (now - self._started_ms) / 60_000)
        count = total = longest = 0
        for tr in self._trackers():
            count, total, longest = (
                count + tr.gap_count,
                total + tr.gap_total_ms,
                max(longest, tr.gap_longest_ms),
            )
            since = tr.gap_since_ms
            if since is not None and now > since:
                count, total, longest = count + 1, total + now - since, max(longest, now - since)
        ratio = self._succeeded / self._attempted if self._attempted else 1.0
        return KpiSnapshot(
            mismatch_debt_min=debt_ms / 60_000,
            mismatch_debt_min_per_day=debt_ms / 60_000 * 1440 / run_min,
            repairs_attempted=self._attempted,
            repairs_succeeded=self._succeeded,
            repair_success_ratio=ratio,
            unknown_resolved=len(self._resolved),
            unknown_resolution_p50_ms=_quantile(self._resolved, 0.5),
            unknown_resolution_p95_ms=_quantile(self._resolved, 0.95),
            protection_gap_total_sec=total / 1000,
            protection_gap_longest_sec=longest / 1000,
            protection_gaps=count,
        )
