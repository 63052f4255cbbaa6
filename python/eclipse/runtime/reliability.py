"""The daemon's side of the reliability loop: building it once the engine exists, the startup reconcile
(before any entry), and what the status and the run summary show of it (posture, debt, KPIs, blocks)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from eclipse.reliability.loop import ReliabilityLoop

if TYPE_CHECKING:
    from eclipse.runtime.daemon import Daemon

__all__ = ["entry_reasons", "reliability_status", "start_reliability"]


async def start_reliability(daemon: Daemon) -> ReliabilityLoop:
    """Build the loop over the daemon's engine and run the startup reconcile (every check, before any
    entry); a symbol it could not reconcile stays blocked for entries and the terminal says why."""
    engine, telemetry = daemon.engine, daemon.telemetry
    assert engine is not None
    assert telemetry is not None
    loop = ReliabilityLoop(
        engine,
        daemon.symbols,
        daemon.reliability_settings,
        telemetry.emit,
        spot=daemon.spot,
        reconcile_table=daemon.reconcile_table,
        posture_table=daemon.posture_table,
        on_line=daemon.event,
    )
    daemon.provider.loop = loop
    summary = await loop.run_cycle(force=True)
    if summary is not None and not summary.complete:
        daemon.event(f"startup reconcile incomplete ({summary.error}); entries blocked until it completes")
    for symbol, why in sorted((summary.blocked if summary is not None else {}).items()):
        daemon.event(f"{symbol}: entries blocked after the startup reconcile ({why.replace('_', ' ')})")
    return loop


def entry_reasons(daemon: Daemon) -> list[str]:
    """Every reason entries are blocked or restricted now, for the status line."""
    reasons = daemon.guard.reasons()
    loop = daemon.reliability
    if loop is None:
        return [*reasons, "reconcile: not run yet"]
    knobs = loop.posture.knobs()
    if knobs.restricts:
        reasons.append(knobs.reason)
    for symbol in daemon.symbols:
        why = loop.symbol_block(symbol)
        if why is not None:
            reasons.append(f"{symbol}: {why}")
    if daemon.guards is not None:
        reasons += [f"{g.symbol or 'all'}: {g.code}" for g in daemon.guards.active()]
    return reasons


def reliability_status(daemon: Daemon) -> dict[str, Any]:
    """Posture, debt, open contradictions, symbol blocks, the last reconcile and the KPIs (JSON-ready)."""
    loop = daemon.reliability
    if loop is None:
        return {}
    last = loop.last_summary
    return {
        "posture": loop.current_posture.value,
        "red_lock_streak": loop.posture.red_lock_streak,
        "debt": round(loop.debt.debt(), 4),
        "debt_growth_per_min": round(loop.debt.growth_per_min(), 4),
        "contradictions": [
            {"key": c.key, "kind": c.kind, "weight": c.weight, "opened_ms": c.opened_ms}
            for c in loop.debt.open_contradictions()
        ],
        "foreign": sorted(loop.acknowledged),
        "symbol_blocks": {s: w for s in loop.symbols if (w := loop.symbol_block(s)) is not None},
        "reconcile": {
            "cycles": loop.cycles,
            "state": loop.cycle.state,
            "failures": loop.cycle.consecutive_failures,
            "last_ms": last.ts_ms if last is not None else None,
            "last_complete": last.complete if last is not None else None,
        },
        "kpis": loop.kpis.snapshot().as_dict(),
    }
