"""Rebuilding an :class:`~eclipse.execution.engine.ExecutionEngine` from a replayed journal after a restart
(called by :meth:`ExecutionEngine.resume` once :func:`~eclipse.execution.journal.recover` has settled the
journal against the venue)."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from eclipse.contracts import IntentKind, RouterRequest
from eclipse.execution.journal import JournalState, OrderPhase

if TYPE_CHECKING:
    from eclipse.execution.engine import ExecutionEngine

__all__ = ["restore_from_journal"]


def restore_from_journal(engine: ExecutionEngine, state: JournalState) -> None:
    """Mark every journaled client id and intent as used, track the orders with their last status, rebuild
    the position book from the deduplicated fills and replay them through the protection manager (the same
    calls as live, so the same leg ids); legs the journal shows live are confirmed, the others failed (the
    next protection check re-places them, with leg counters moved past every journaled ``-sl|tp-<n>``). Exit
    attempt ids already journaled are skipped at once by :meth:`OrderTracker.fresh_id`."""
    entry_atr: dict[str, float | None] = {}  # entry intent id -> its journaled ATR% (None in old records)
    for intent_id, ev in state.intents.items():
        engine.orders.remember_intent(intent_id)
        if ev.kind is IntentKind.ENTRY:
            engine.entry_of[ev.symbol] = (intent_id, ev.atr_pct)
            entry_atr[intent_id] = ev.atr_pct
    for symbol, (_, atr_pct) in engine.entry_of.items():
        engine.exits.note_entry_atr(symbol, atr_pct)
    for o in state.orders.values():
        req = RouterRequest(
            o.intent_id,
            o.kind,
            o.symbol,
            o.side,
            o.type,
            o.qty,
            o.client_order_id,
            Decimal(0),
            reduce_only=o.kind.reduces_risk,
        )
        tracked = engine.orders.track(req, o.submitted_ms)
        tracked.status = o.status if o.phase is OrderPhase.RESOLVED or o.order_id is not None else None
        tracked.filled = o.venue_filled if o.venue_filled is not None else Decimal(0)
        if o.order_id is not None:
            engine.orders.link(o.symbol, o.order_id, o.client_order_id)
    for rec in sorted(state.fills.values(), key=lambda r: (r.fill.ts_ms, r.fill.trade_id)):
        fill = rec.fill
        if not engine.book.apply(fill):
            continue
        order = engine.orders.orders.get(rec.client_order_id)
        if order is not None:
            order.counted += fill.qty
        snap = engine.book.snapshot(fill.symbol)
        entry = engine.entry_of.get(fill.symbol)
        intent = order.request.intent_id if order is not None and order.kind is IntentKind.ENTRY else None
        # an entry fill brings its own intent's ATR% (the ATR stop distances survive the restart); other fills
        # keep the one their cover already has
        atr = entry_atr.get(intent) if intent is not None else None
        engine.protection.on_fill(fill, snap, intent or (entry[0] if entry else None), atr)
    # the replay restarts each leg counter from the fills: move it past every journaled leg id, so the next
    # placement takes a fresh id at once instead of walking through used ones check after check
    engine.protection.resume_counts(state.orders)
    for symbol in engine.book.symbols():
        for req in engine.protection.active(symbol):
            leg = engine.orders.orders.get(req.client_order_id)
            if leg is not None and leg.live:
                engine.protection.placed(req.client_order_id)  # its event was journaled before the restart
            else:
                engine.protection.failed(req.client_order_id)
        for cid in engine.protection.retired(symbol):
            old = engine.orders.orders.get(cid)
            if old is None or not old.live:
                engine.protection.forget(cid)  # superseded and already gone from the venue
