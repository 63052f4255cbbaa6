"""Rebuilding an :class:`~eclipse.execution.engine.ExecutionEngine` after a restart (called by
:meth:`ExecutionEngine.resume` once :func:`~eclipse.execution.journal.recover` has settled the journal against
the venue): the journal replayed through the same paths as live, then the protective legs working on the venue
adopted.

Bound on protective orders: a replacement leg is placed before the leg it replaces is canceled (the position
is never uncovered), and every cancel that does not wait for a replacement is sent before any placement
(:func:`~eclipse.execution.engine_protection.run_protection`); a restart cancels the surplus before it places
anything (:func:`adopt_live_legs`). So while the engine is down, a position has at most two working stops
(the working one and a replacement placed just before a crash), and after every completed resume exactly one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from eclipse.contracts import FillRecorded, IntentCreated, IntentKind, OrderSubmitting
from eclipse.execution.journal import JournalSource
from eclipse.execution.router import cancel_order
from eclipse.venues.errors import VenueError
from eclipse.venues.types import OrderReport

if TYPE_CHECKING:
    from eclipse.execution.engine import ExecutionEngine

__all__ = ["adopt_live_legs", "restore_from_journal"]

_IN_FLIGHT = frozenset({"submitting", "unknown"})
"""Order machine states of a send whose outcome is not known yet."""


def restore_from_journal(engine: ExecutionEngine, journal: JournalSource) -> None:
    """Replay every record in order, as live: intents are remembered (an entry's ATR% too), order records
    drive the order machines and, through them, the protection machine (``ExecutionEngine.order_changed``),
    fills rebuild the book and drive the protection manager (the same calls as live, so the same leg ids).
    Refusals met while replaying were journaled when they happened and are not repeated. Then legs the order
    machines show live are confirmed, the others failed (the next check re-places them, with leg counters
    moved past every journaled ``-sl|tp-<n>``)."""
    ledger = engine.orders
    sink, ledger.on_refusal = ledger.on_refusal, None
    entry_atr: dict[str, float | None] = {}  # entry intent id -> its journaled ATR% (None in old records)
    try:
        for rec in journal.records(0):
            ev = rec.event
            if isinstance(ev, IntentCreated):
                ledger.remember_intent(ev.intent_id)
                if ev.kind is IntentKind.ENTRY:
                    engine.entry_of[ev.symbol] = (ev.intent_id, ev.atr_pct)
                    entry_atr[ev.intent_id] = ev.atr_pct
                    engine.exits.note_entry_atr(ev.symbol, ev.atr_pct)
                continue
            order = ledger.apply(ev)
            if order is None:
                continue
            if isinstance(ev, OrderSubmitting) or not isinstance(ev, FillRecorded):
                engine.order_changed(order, ev)
                continue
            fill = ev.fill
            if not engine.book.apply(fill):
                continue
            snap = engine.book.snapshot(fill.symbol)
            entry = engine.entry_of.get(fill.symbol)
            intent = order.intent_id if order.kind is IntentKind.ENTRY else None
            # an entry fill brings its own intent's ATR% (the ATR stop distances survive the restart); other
            # fills keep the one their cover already has
            atr = entry_atr.get(intent) if intent is not None else None
            cid = order.client_order_id
            engine.protection.on_fill(
                fill, snap, intent or (entry[0] if entry else None), atr, owner=cid, owner_kind=order.kind
            )
            if order.kind in (IntentKind.EXIT, IntentKind.FLATTEN) and not order.live and snap.qty != 0:
                engine.protection.exit_failed(fill.symbol)
    finally:
        ledger.on_refusal = sink
    # the replay restarts each leg counter from the fills: move it past every journaled leg id, so the next
    # placement takes a fresh id at once instead of walking through used ones check after check
    engine.protection.resume_counts(ledger.orders)
    for symbol in engine.book.symbols():
        for req in engine.protection.active(symbol):
            leg = ledger.orders.get(req.client_order_id)
            if leg is not None and leg.state in _IN_FLIGHT:
                # sent, not known to have landed (recovery left it unresolved: it may still land): neither
                # covering nor failed; the check finds it listed, or calls it missing past the grace
                continue
            if leg is not None and leg.live:
                engine.protection.placed(req.client_order_id)  # its event was journaled before the restart
            else:
                engine.protection.failed(req.client_order_id)
        for cid in engine.protection.retired(symbol):
            old = ledger.orders.get(cid)
            if old is None or not old.live:
                engine.protection.forget(cid)  # superseded and already gone from the venue


async def adopt_live_legs(engine: ExecutionEngine) -> None:
    """The protective legs of ours working on the venue for each open position become its current legs, and
    the surplus is canceled before anything is placed (:meth:`ProtectionManager.adopt_live`). A symbol whose
    conditional orders cannot be listed is left to the first protection check."""
    positions = engine.book.open_positions()
    listed: list[OrderReport] = []
    for symbol in sorted(positions):
        try:
            listed.extend(await engine.venue.fetch_open_orders(symbol, conditional=True))
        except VenueError as err:
            engine.telemetry.emit(
                "protection.check_failed", symbol=symbol, error_kind=err.kind, detail=str(err)
            )
    for c in engine.protection.adopt_live(listed, positions):
        if c.client_order_id in engine.orders.orders:
            ok = await engine.cancel(c.client_order_id)
        else:  # ours by its id, but not in the journal (lost with a power loss)
            res = await cancel_order(engine.router, c.symbol, c.client_order_id, conditional=True)
            ok = res.confirmed
            engine.orders.remember(c.client_order_id)
        engine.telemetry.emit(
            "protection.surplus_canceled" if ok else "protection.surplus_cancel_failed",
            symbol=c.symbol,
            client_order_id=c.client_order_id,
            severity="high",
        )
