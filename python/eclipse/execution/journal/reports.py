"""A venue's report of one of our orders as journal records (the input of the order machines), shared by the
engine (live) and recovery (after a restart).

A conditional order that triggered is reported twice over: the algo order (status TRIGGERED, naming the
regular order it became, Binance ``actualOrderId``) and that regular order, whose status, filled quantity and
fills are the conditional's from then on. :func:`trigger_records` writes both into one conditional's records.
"""

from __future__ import annotations

from eclipse.contracts import JournalEvent, OrderAcked, OrderResolved
from eclipse.venues.types import OrderReport, OrderStatus

__all__ = ["report_records", "trigger_records"]


def report_records(
    now: int, client_order_id: str, rep: OrderReport, detail: str, *, acked: bool = True
) -> list[JournalEvent]:
    """The records of the venue's report ``rep`` of ``client_order_id``: :class:`OrderAcked` while it may
    still fill (a triggered conditional included: it names the order it became), :class:`OrderResolved`
    once it cannot. ``acked`` False (the order's venue id is not known yet: its outcome was unknown): a
    terminal report is preceded by :class:`OrderAcked`, so the order gets its venue id and its fills, which
    carry only that id on some venues, are its own."""
    if rep.triggered_order_id is not None or rep.status is OrderStatus.TRIGGERED:
        return [
            OrderAcked(
                now, client_order_id, rep.order_id, rep.status, rep.filled, rep.qty, rep.triggered_order_id
            )
        ]
    if rep.status.terminal:
        resolved = OrderResolved(now, client_order_id, rep.status, detail=detail, filled=rep.filled)
        if acked:
            return [resolved]
        return [OrderAcked(now, client_order_id, rep.order_id, rep.status, rep.filled, rep.qty), resolved]
    return [OrderAcked(now, client_order_id, rep.order_id, rep.status, rep.filled, rep.qty)]


def trigger_records(
    now: int, client_order_id: str, algo_id: str, actual: OrderReport, detail: str
) -> list[JournalEvent]:
    """The records of a triggered conditional ``client_order_id`` (venue id ``algo_id``) from ``actual``, the
    venue's report of the regular order it became: :class:`OrderAcked` (TRIGGERED, linking ``actual``'s id,
    with its filled quantity and its quantity: a FILLED order's is what it executed, so a reduce-only order
    the venue cut short still completes), then :class:`OrderResolved` with its status once it has ended."""
    qty = actual.filled if actual.status is OrderStatus.FILLED and actual.filled > 0 else actual.qty
    out: list[JournalEvent] = [
        OrderAcked(now, client_order_id, algo_id, OrderStatus.TRIGGERED, actual.filled, qty, actual.order_id)
    ]
    if actual.status.terminal:
        out.append(
            OrderResolved(
                now,
                client_order_id,
                actual.status,
                detail=detail,
                filled=actual.filled,
                triggered_order_id=actual.order_id,
            )
        )
    return out
