"""The execution engine's orders as machines: the journal sink its parts write through (each record stored,
then folded into the order machines of :class:`~eclipse.execution.tracking.OrderLedger`), the protection
machine's events that the position's own orders drive, venue reports journaled as the machines' input, and
the following of a triggered conditional to the regular order it became. Called by
:class:`~eclipse.execution.engine.ExecutionEngine`.

A triggered conditional (Binance: an algo order whose ``actualOrderId`` names the regular order its trigger
placed, from another id sequence) is learnt of by a lookup: at the protection check (it is no longer listed
open), when a cancel finds it triggered, at once when a fill of no known order appears on a symbol where a
conditional of ours is working (:func:`chase_triggers`), and by recovery after a restart. The regular order's
id is then linked to the conditional (its fills, which name only that id, are the conditional's) and that
order is looked up until it ends (:func:`follow_trigger`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from eclipse.contracts import FillRecorded, IntentKind, JournalEvent, OrderSubmitting, TransitionRefused
from eclipse.execution.journal.reports import report_records, trigger_records
from eclipse.execution.tracking import TrackedOrder
from eclipse.machines.order import REFUSED_EVENT
from eclipse.venues.errors import VenueError
from eclipse.venues.types import OrderReport, OrderStatus

if TYPE_CHECKING:
    from eclipse.execution.engine import ExecutionEngine

__all__ = [
    "Recorder",
    "chase_triggers",
    "follow_trigger",
    "order_changed",
    "protection_refused",
    "record_report",
    "refused",
]


class Recorder:
    """The journal as the engine's parts write to it (the router, cancels, the engine itself): each record is
    stored, then folded into the order machines, whose changes drive the protection machine."""

    def __init__(self, engine: ExecutionEngine) -> None:
        self._engine = engine

    def append(self, event: JournalEvent) -> int:
        """Store ``event`` and fold it into the order it concerns; its sequence number."""
        engine = self._engine
        seq = engine.journal.append(event)
        order = engine.orders.apply(event)
        if order is not None:
            order_changed(engine, order, event)
        return seq


def refused(engine: ExecutionEngine, refusal: TransitionRefused) -> None:
    """An order machine refused an event: journal it (the venue's fact stays recorded) and emit
    ``order.transition_refused``."""
    engine.journal.append(refusal)
    engine.telemetry.emit(
        REFUSED_EVENT,
        machine=refusal.machine,
        client_order_id=refusal.subject,
        state=refusal.state,
        trigger=refusal.trigger,
        reason=refusal.reason,
        detail=refusal.detail,
    )


def protection_refused(engine: ExecutionEngine, record: Mapping[str, object]) -> None:
    """A protection machine refused an event (already emitted as telemetry): journal it."""
    engine.journal.append(
        TransitionRefused(
            engine.clock.now_ms(),
            "protection",
            str(record.get("symbol", "")),
            str(record.get("state", "")),
            str(record.get("trigger", "")),
            str(record.get("reason", "")),
        )
    )


def order_changed(engine: ExecutionEngine, order: TrackedOrder, event: JournalEvent) -> None:
    """A journal record moved ``order``: the position's own orders drive its protection machine (an entry
    submitted: ``enter``; one that ended unfilled: ``entry_failed``; an exit submitted: ``exit``; one that
    ended, not by a fill, with the position open: ``exit_failed``). Fills reach it through the book."""
    symbol = order.symbol
    kind = order.kind
    if isinstance(event, OrderSubmitting):
        if kind is IntentKind.ENTRY:
            engine.protection.entering(symbol)
        elif kind in (IntentKind.EXIT, IntentKind.FLATTEN):
            engine.protection.exiting(symbol)
        return
    if order.live or isinstance(event, FillRecorded):
        return
    if kind is IntentKind.ENTRY and order.filled == 0:
        engine.protection.entry_failed(symbol)
    elif kind in (IntentKind.EXIT, IntentKind.FLATTEN) and engine.book.snapshot(symbol).qty != 0:
        engine.protection.exit_failed(symbol)


async def record_report(engine: ExecutionEngine, order: TrackedOrder, rep: OrderReport, detail: str) -> None:
    """Journal the venue's report ``rep`` of ``order`` (its machine follows); a triggered conditional is
    followed to the regular order it became."""
    acked = order.venue_id is not None
    for ev in report_records(engine.clock.now_ms(), order.client_order_id, rep, detail, acked=acked):
        engine.recorder.append(ev)
    if order.actual_id is not None:
        await follow_trigger(engine, order)


async def follow_trigger(engine: ExecutionEngine, order: TrackedOrder) -> None:
    """A triggered conditional: look up the regular order it became (by its id, in the regular book) and
    journal what that order did as the conditional's report (:func:`trigger_records`). Its fills are
    attributed to the conditional by that id."""
    actual = order.actual_id
    if actual is None or not order.live:
        return
    try:
        rep = await engine.venue.fetch_order(order.symbol, order_id=actual.id)
    except VenueError as err:
        engine.telemetry.emit(
            "order.trigger_lookup_failed",
            symbol=order.symbol,
            client_order_id=order.client_order_id,
            actual_order_id=actual.id,
            error_kind=err.kind,
            detail=str(err),
        )
        return
    algo = order.venue_id.id if order.venue_id is not None else ""
    cid = order.client_order_id
    for ev in trigger_records(engine.clock.now_ms(), cid, algo, rep, "the order it became"):
        engine.recorder.append(ev)


async def chase_triggers(engine: ExecutionEngine, symbol: str) -> bool:
    """Look up the working conditionals of ``symbol`` (a fill of no known order appeared there); True when
    one turned out triggered and is now linked to the order it became."""
    linked = False
    for order in engine.orders.live(symbol):
        if not order.conditional or order.actual_id is not None:
            continue
        cid = order.client_order_id
        found = await engine.router.lookup(symbol, cid, conditional=True, intent_id=order.intent_id)
        if found.report is not None and found.report.status is not OrderStatus.OPEN:
            await record_report(engine, order, found.report, "looked up for a fill of no known order")
            linked = linked or order.actual_id is not None
    return linked
