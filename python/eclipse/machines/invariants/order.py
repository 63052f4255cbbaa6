"""Property checkers of the order lifecycle (``specs/order.toml``): :class:`OrderTracker` and
:class:`IntentOrders` compared with :class:`OrderVenueRecord`, what the venue did as a test records it.

The record is written before each report reaches the tracker and whatever the tracker does with it: every fill
the venue sent (trade id and quantity), whether the order was submitted, whether the venue denied it (a
rejection, or a lookup that proved it absent). The checkers compare the tracker's quantities, trade ids and
refusals with that record.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from eclipse.machines.checkers import register
from eclipse.machines.order import EPSILON, IntentOrders, OrderOutcome, OrderTracker, client_order_id
from eclipse.machines.table import CompiledMachine

__all__ = [
    "OrderVenueRecord",
    "filled_qty_monotonic_and_bounded",
    "one_live_order",
    "terminal_states_absorb",
    "trade_id_applied_once",
    "transport_errors_never_definitive",
    "unknown_resolved_before_resubmit",
    "venue_fills_never_lost",
]

LATE_REPORTS: Final = frozenset({"fill", "qty_reduced"})
"""Events of the documented rows that may leave a terminal state (into a terminal one)."""
_NEVER_HAD_IT: Final = frozenset({"created", "rejected", "absent"})


@dataclass
class OrderVenueRecord:
    """What the venue did with one order, recorded before the tracker sees it (accepted or not)."""

    submitted: bool = False
    denied: bool = False  # the venue rejected it, or a lookup by client id proved it absent
    reports: list[str] = field(default_factory=list)
    fills: dict[str, Any] = field(default_factory=dict)  # every fill the venue sent: trade id -> quantity

    def report(self, event: str) -> None:
        """A report (or the bot's command) ``event`` happened."""
        self.reports.append(event)
        if event == "submit":
            self.submitted = True
        elif event in ("reject", "lookup_absent"):
            self.denied = True

    def fill(self, trade_id: str, qty: Any) -> None:
        """The venue sent the fill ``trade_id`` (a re-send keeps the first quantity)."""
        self.fills.setdefault(trade_id, qty)


@register("order.property.one_live_order", reads=("max_live_orders_per_intent",))
def one_live_order(intent: IntentOrders, max_live: int) -> list[str]:
    """one_live_order_per_intent: at most ``max_live`` attempt live, every older attempt ended, and the
    client order ids derive from the intent id and the attempt number."""
    orders = intent.orders
    out = []
    live = [o.client_order_id for o in orders if o.is_live]
    if len(live) > max_live:
        out.append(f"{len(live)} live orders {live}, at most {max_live}")
    out.extend(f"older attempt {o.attempt} is still live ({o.state})" for o in orders[:-1] if o.is_live)
    for i, order in enumerate(orders):
        if order.attempt != i or order.client_order_id != client_order_id(intent.intent_id, i, intent.prefix):
            out.append(f"attempt {i}: id {order.client_order_id} (attempt {order.attempt}) is not derived")
        if intent.get(order.client_order_id) is not order:
            out.append(f"attempt {i}: get({order.client_order_id}) does not find it")
    if len({o.client_order_id for o in orders}) != len(orders):
        out.append("two attempts share a client order id")
    return out


@register("order.property.unknown_resolved_before_resubmit")
def unknown_resolved_before_resubmit(before: Sequence[OrderTracker[Any]], created: bool) -> list[str]:
    """unknown_resolved_before_resubmit: a new order was created exactly when no earlier attempt was live,
    in particular none had an unknown outcome."""
    blocking = [f"{o.client_order_id} ({o.state})" for o in before if o.is_live or o.needs_lookup]
    if created and blocking:
        return [f"a new order was created while {blocking} was live or unknown"]
    if not created and not blocking:
        return ["a new order was refused although every earlier attempt had ended"]
    return []


@register("order.property.filled_qty_monotonic_and_bounded")
def filled_qty_monotonic_and_bounded(order: OrderTracker[Any], previous: tuple[Any, Any]) -> list[str]:
    """filled_qty_monotonic_and_bounded: filled never decreases, never exceeds the quantity (which only
    shrinks), and a filled order is filled exactly."""
    filled, quantity = previous
    out = []
    if not filled <= order.filled_qty <= order.quantity <= quantity:
        out.append(
            f"{order.client_order_id}: filled {filled} -> {order.filled_qty}, quantity {quantity} -> "
            f"{order.quantity}"
        )
    if order.state == "filled" and order.filled_qty != order.quantity:
        out.append(f"{order.client_order_id}: filled with {order.filled_qty} of {order.quantity}")
    return out


@register("order.property.trade_id_applied_once")
def trade_id_applied_once(order: OrderTracker[Any], record: OrderVenueRecord) -> list[str]:
    """trade_id_applied_once: the tracker's trade ids are fills the venue sent, and its filled quantity is
    their sum, each counted once (a trade id applied twice would show as a larger filled quantity)."""
    out = []
    unknown = sorted(order.trade_ids - set(record.fills))
    if unknown:
        out.append(f"{order.client_order_id}: trade ids {unknown} were never sent by the venue")
    total = sum(float(record.fills[t]) for t in order.trade_ids if t in record.fills)
    if abs(total - float(order.filled_qty)) > float(order.quantity) * EPSILON * 4:
        out.append(
            f"{order.client_order_id}: filled {order.filled_qty}, but its trade ids sum to {total} "
            f"({sorted(order.trade_ids)})"
        )
    return out


@register("order.property.venue_fills_never_lost")
def venue_fills_never_lost(
    order: OrderTracker[Any], record: OrderVenueRecord, refusals: Sequence[Mapping[str, Any]]
) -> list[str]:
    """venue_fills_never_lost: every fill the venue sent is applied, or its refusal was reported and is one
    the venue's record allows: an overfill, or an order the venue never had (not submitted yet, rejected,
    proven absent)."""
    out = []
    for trade_id in sorted(set(record.fills) - order.trade_ids):
        why = [r for r in refusals if r.get("trade_id") == trade_id]
        if not why:
            out.append(f"{order.client_order_id}: fill {trade_id} was neither applied nor reported refused")
            continue
        ok = any(
            r["reason"] == "overfill"
            or r["state"] == "created"
            or (r["state"] in _NEVER_HAD_IT and record.denied)
            for r in why
        )
        if not ok:
            states = sorted({f"{r['state']} ({r['reason']})" for r in why})
            out.append(
                f"{order.client_order_id}: fill {trade_id} refused in {states}, but the venue had the order "
                f"(submitted={record.submitted}, denied={record.denied})"
            )
    return out


@register("order.property.terminal_states_absorb")
def terminal_states_absorb(table: CompiledMachine, before: str, event: str | None, after: str) -> list[str]:
    """terminal_states_absorb: a terminal state is left only by a documented late ``fill`` or
    ``qty_reduced`` row, into a terminal state. ``event``: the accepted event that led from ``before`` to
    ``after``; None when comparing two snapshots (any late row will do, and no change is fine)."""
    if before not in table.terminal or (event is None and after == before):
        return []
    events = LATE_REPORTS if event is None else LATE_REPORTS & {event}
    ok = after in table.terminal and any(
        r.target == after for e in events for r in table.rows_for.get((before, e), ())
    )
    return [] if ok else [f"{before} --{event or '?'}--> {after}: only a late fill or reduction leaves it"]


@register("order.property.transport_errors_never_definitive")
def transport_errors_never_definitive(table: CompiledMachine, outcome: OrderOutcome) -> list[str]:
    """transport_errors_never_definitive: an accepted ``transport_error`` never ends the order."""
    if outcome.event == "transport_error" and outcome.accepted and outcome.target in table.terminal:
        return [f"transport_error moved {outcome.source} to {outcome.target}"]
    return []
