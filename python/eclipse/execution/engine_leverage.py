"""Leverage and margin mode on the venue: set once per value, before the first entry where possible
(:func:`prepare_leverage` at startup), else on the entry's path (:func:`set_entry_leverage`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from eclipse.execution.entries.leverage import LeverageDecision, resolve_leverage
from eclipse.execution.entries.pipeline import EntryPlan
from eclipse.venues.errors import VenueError

if TYPE_CHECKING:
    from eclipse.execution.engine import ExecutionEngine

__all__ = ["prepare_leverage", "set_entry_leverage"]


async def prepare_leverage(engine: ExecutionEngine, symbol: str) -> bool:
    """Set ``symbol``'s leverage as an entry would resolve it now; True when it is in force."""
    positions = list(engine.book.open_positions().values())
    lev = resolve_leverage(symbol, engine.settings.entries.leverage, positions, engine.equity)
    return await _apply(engine, symbol, lev) is None


async def set_entry_leverage(engine: ExecutionEngine, plan: EntryPlan) -> bool:
    """Set the plan's leverage before its order; False (the entry blocked, an error recorded) on failure."""
    symbol = plan.intent.symbol
    err = await _apply(engine, symbol, plan.leverage)
    if err is None:
        return True
    engine.gate.record_error(symbol, detail=f"leverage: {err}")
    engine.telemetry.emit(
        "entry.blocked",
        symbol=symbol,
        reason="leverage_failed",
        detail=str(err),
        intent_id=plan.intent.intent_id,
    )
    return False


async def _apply(engine: ExecutionEngine, symbol: str, lev: LeverageDecision) -> VenueError | None:
    """Set ``lev`` on the venue unless it is already in force; the venue's error, if any."""
    want = (lev.leverage, lev.margin_mode.value)
    if engine.leverage_set.get(symbol) == want:
        return None
    try:
        await engine.venue.set_margin_mode(symbol, lev.margin_mode)
        await engine.venue.set_leverage(symbol, lev.leverage)
    except VenueError as err:
        return err
    engine.leverage_set[symbol] = want
    engine.telemetry.emit(
        "entry.leverage_set",
        symbol=symbol,
        leverage=lev.leverage,
        margin_mode=lev.margin_mode,
        explanation=lev.text,
    )
    return None
