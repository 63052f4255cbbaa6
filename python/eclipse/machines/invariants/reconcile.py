"""Property checkers of the reconcile cycle (``specs/reconcile.toml``): a :class:`ReconcileCycle` compared
with the test's own count of failed cycles, its clock and the cycles it ran."""

from __future__ import annotations

from eclipse.machines.checkers import register
from eclipse.machines.reconcile import ReconcileCycle

__all__ = [
    "backoff_capped_exponential",
    "backoff_waits_for_the_clock",
    "converges_within_k_cycles",
    "one_cycle_at_a_time",
]


@register("reconcile.property.one_cycle_at_a_time")
def one_cycle_at_a_time(event: str, before: str, accepted: bool) -> list[str]:
    """one_cycle_at_a_time: ``start`` was accepted exactly when the cycle was idle."""
    if event == "start" and accepted != (before == "idle"):
        return [f"start {'accepted' if accepted else 'refused'} in {before}"]
    return []


@register("reconcile.property.backoff_capped_exponential", reads=("backoff_factor",))
def backoff_capped_exponential(
    rc: ReconcileCycle, failures: int, entered_backoff: bool, now_ms: int, factor: int
) -> list[str]:
    """backoff_capped_exponential: after the n-th consecutive failed cycle (``failures``, the test's own
    count) the next attempt is due min(max_backoff, base_backoff * factor^(n-1)) later."""
    out = []
    if rc.consecutive_failures != failures:
        out.append(f"{rc.consecutive_failures} consecutive failures counted, {failures} happened")
    if entered_backoff:
        delay = min(rc.max_backoff_ms, rc.base_backoff_ms * factor ** max(failures - 1, 0))
        if rc.next_attempt_ms != now_ms + delay:
            out.append(f"failure #{failures}: next attempt at {rc.next_attempt_ms}, want {now_ms} + {delay}")
    if rc.state == "backoff" and (
        rc.next_attempt_ms is None or rc.next_attempt_ms - now_ms > rc.max_backoff_ms
    ):
        out.append(f"backing off until {rc.next_attempt_ms} at {now_ms}: beyond the cap {rc.max_backoff_ms}")
    return out


@register("reconcile.property.backoff_waits_for_the_clock")
def backoff_waits_for_the_clock(before: str, after: str, due_before: int | None, now_ms: int) -> list[str]:
    """backoff_waits_for_the_clock: backoff was left only to idle, at or after the attempt it was due."""
    if before != "backoff" or after == "backoff":
        return []
    if after != "idle":
        return [f"backoff left to {after}"]
    if due_before is None or now_ms < due_before:
        return [f"backoff left at {now_ms}, the next attempt was due at {due_before}"]
    return []


@register("reconcile.property.converges_within_k_cycles", reads=("k_cycles",))
def converges_within_k_cycles(cycles: int | None, k: int) -> list[str]:
    """converges_within_k_cycles: once faults stopped, a clean cycle came within ``k`` cycles started after
    (``cycles``: how many it took; None: none came within the test's bound)."""
    if cycles is None:
        return [f"no clean cycle after the faults stopped (bound {k} cycles)"]
    return (
        []
        if cycles <= k
        else [f"{cycles} cycles started after the faults stopped before a clean one (K={k})"]
    )
