"""The journal records that adopt an order of ours the journal does not know (its lost tail after a power
loss, or an order found by the running reconcile): one function used by recovery and by the reliability loop,
so an adopted order reads the same whoever adopted it."""

from __future__ import annotations

from collections.abc import Set
from decimal import Decimal

from eclipse.contracts import (
    IntentCreated,
    IntentKind,
    JournalEvent,
    OrderAcked,
    OrderResolved,
    OrderSubmitting,
)
from eclipse.execution.journal.client_ids import ClientId
from eclipse.venues.types import OrderReport

__all__ = ["adoption_records"]


def adoption_records(
    report: OrderReport, parsed: ClientId, known_intents: Set[str], now_ms: int, detail: str
) -> list[JournalEvent]:
    """:class:`IntentCreated` (when the intent is unknown), :class:`OrderSubmitting` with ``recovered=True``,
    :class:`OrderAcked` with the venue's status and, when terminal, :class:`OrderResolved` (``detail``)."""
    r = report
    cid = r.client_order_id or ""
    events: list[JournalEvent] = []
    if parsed.intent_id not in known_intents:
        is_entry = parsed.entry_side is not None
        ref = r.avg_price or r.price or r.trigger_price or Decimal(0)
        events.append(
            IntentCreated(
                r.ts_ms,
                parsed.intent_id,
                IntentKind.ENTRY if is_entry else parsed.kind,
                r.symbol,
                parsed.entry_side or r.side,
                r.qty if parsed.kind is IntentKind.ENTRY or not is_entry else None,
                ref,
            )
        )
    events.append(
        OrderSubmitting(
            r.ts_ms,
            parsed.intent_id,
            cid,
            parsed.kind,
            r.symbol,
            r.side,
            r.type,
            r.qty,
            r.price,
            r.trigger_price,
            r.reduce_only,
            r.close_position,
            0,
            recovered=True,
        )
    )
    events.append(OrderAcked(now_ms, cid, r.order_id, r.status, r.filled))
    if r.status.terminal:
        events.append(OrderResolved(now_ms, cid, r.status, detail=detail, filled=r.filled))
    return events
