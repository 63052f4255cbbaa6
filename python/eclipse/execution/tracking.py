"""The execution engine's orders: one instance of the order machine (``specs/order.toml``) per order, driven
by the journal records that concern it, live (each record as it is appended) and after a restart (the journal
replayed), so what the journal says and what the machine believes cannot part.

The fold, record -> machine events (:meth:`OrderLedger.apply`):

* :class:`OrderSubmitting`: ``submit``. A resend of the same submission (the router resends the same client
  id after a definitive, retryable refusal: nothing landed) fires nothing; after an attempt ended (proven
  absent, or rejected) the same client id starts a new attempt, a new machine instance.
* :class:`OrderUnknown`: ``transport_error``.
* :class:`OrderAcked` (the venue's report of the order): ``ack`` (``lookup_found`` while unknown) when the
  order was not known to the venue yet; ``qty_reduced`` when the venue reports a smaller quantity; then the
  status: ``trigger`` (TRIGGERED), ``cancel_confirmed``, ``expire``, ``reject``. FILLED fires nothing: only
  fills, by trade id, fill an order.
* :class:`OrderResolved`: the same status events; REJECTED with ``order_not_found`` is ``lookup_absent``
  (after ``transport_error`` for an order whose send was never answered: a crash mid-submit).
* :class:`CancelRecorded` (requested): ``cancel_request``.
* :class:`FillRecorded`: ``fill`` (trade id, quantity, price).

A refusal never undoes the venue's fact: the journal record stands and the refusal is handed to
``on_refusal`` (the engine journals it as :class:`~eclipse.contracts.TransitionRefused` and emits
``order.transition_refused``).

Venue ids live in their id spaces (:class:`~eclipse.venues.types.VenueOrderId`): a conditional order's id is
an algo id; once triggered, the regular order it became is linked to it (``actual_id``), so that order's
fills, which carry only its own id, are the conditional's. A fill is attributed by client id, else by its
order id in the ORDER space, never to an algo id.

Beside the machine, a :class:`TrackedOrder` keeps only what the machine does not: the request, the venue's
ids, the venue's last reported filled quantity (a hint that fills remain to fetch) and the quantity of its
fills the position book counted. :class:`OrderLedger` also owns client-id hygiene: a client id already used
(in this run or, after a restart, anywhere in the journal) is never sent again for a new order
(:meth:`OrderLedger.fresh_id`), and an entry intent that already exists is never submitted twice.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from eclipse.contracts import (
    CancelRecorded,
    FillRecorded,
    IntentKind,
    JournalEvent,
    OrderAcked,
    OrderResolved,
    OrderSubmitting,
    OrderUnknown,
    RouterRequest,
    TransitionRefused,
)
from eclipse.machines.order import REFUSED_EVENT, OrderTracker
from eclipse.machines.table import CompiledMachine
from eclipse.venues.errors import VenueErrorKind
from eclipse.venues.types import Fill, IdSpace, OrderStatus, VenueOrderId

__all__ = ["CLOSE_POSITION_QTY", "OrderLedger", "TrackedOrder", "request_of"]

_ZERO = Decimal(0)
_COUNTER = re.compile(r"-(\d+)$")
CLOSE_POSITION_QTY = Decimal(10) ** 18
"""The machine quantity of a close-position order (it closes whatever is open): unbounded until the venue
reports the quantity of the order it became (``qty_reduced``)."""

_STATUS_EVENT = {
    OrderStatus.TRIGGERED: "trigger",
    OrderStatus.CANCELED: "cancel_confirmed",
    OrderStatus.EXPIRED: "expire",
    OrderStatus.REJECTED: "reject",
}
_UNANSWERED = ("created", "submitting", "unknown")
_ENDS = {OrderStatus.CANCELED: "canceled", OrderStatus.EXPIRED: "expired", OrderStatus.REJECTED: "rejected"}


def request_of(ev: OrderSubmitting) -> RouterRequest:
    """The request an :class:`OrderSubmitting` record sent (its reference price is not journaled: 0)."""
    return RouterRequest(
        ev.intent_id,
        ev.kind,
        ev.symbol,
        ev.side,
        ev.type,
        ev.qty,
        ev.client_order_id,
        _ZERO,
        price=ev.price,
        trigger_price=ev.trigger_price,
        reduce_only=ev.reduce_only,
        close_position=ev.close_position,
    )


@dataclass(slots=True, eq=False)
class TrackedOrder:
    """One order of the engine: its machine (state, filled quantity and trade ids: the current attempt), the
    record that submitted it, the venue's ids, the venue's last reported filled quantity and what the book
    counted."""

    submitted: OrderSubmitting
    placed_ms: int
    machine: OrderTracker[Decimal]
    venue_id: VenueOrderId | None = None
    actual_id: VenueOrderId | None = None
    """For a triggered conditional: the regular order it became (its fills are this order's)."""
    venue_filled: Decimal = _ZERO
    counted: Decimal = _ZERO
    counted_ids: set[str] = field(default_factory=set)

    @property
    def request(self) -> RouterRequest:
        """The request the order was sent for (its reference price is not journaled: 0)."""
        return request_of(self.submitted)

    @property
    def client_order_id(self) -> str:
        """Its client order id."""
        return self.submitted.client_order_id

    @property
    def intent_id(self) -> str:
        """The intent it serves."""
        return self.submitted.intent_id

    @property
    def qty(self) -> Decimal | None:
        """The quantity sent (None for a close-position order)."""
        return self.submitted.qty

    @property
    def state(self) -> str:
        """The order machine's state."""
        return self.machine.state

    @property
    def live(self) -> bool:
        """Not terminal in the order machine (working, triggered, or of unknown outcome)."""
        return self.machine.is_live

    @property
    def filled(self) -> Decimal:
        """Quantity filled as the machine applied it (fills by trade id)."""
        return self.machine.filled_qty

    @property
    def uncounted(self) -> bool:
        """The venue reported more filled quantity than the book has applied."""
        return self.counted < self.venue_filled

    @property
    def kind(self) -> IntentKind:
        """The intent kind."""
        return self.submitted.kind

    @property
    def symbol(self) -> str:
        """The symbol."""
        return self.submitted.symbol

    @property
    def conditional(self) -> bool:
        """A trigger (algo-book) order."""
        return self.submitted.type.conditional


RefusalSink = Callable[[TransitionRefused], None]


class OrderLedger:
    """The engine's orders by client order id (each an order machine, see the module docstring), the venue
    ids that name them, and the client ids and intents already used.

    ``table`` is the compiled order machine to run (default: the code's, ``ORDER_TABLE``); ``on_refusal``
    receives each refusal (None while replaying a journal: its refusals were journaled when they happened).
    """

    def __init__(self, table: CompiledMachine | None = None, on_refusal: RefusalSink | None = None) -> None:
        self.orders: dict[str, TrackedOrder] = {}
        self._active: dict[str, dict[str, TrackedOrder]] = {}
        """symbol -> orders that may be live or uncounted (a superset, pruned when scanned; :meth:`apply`
        re-adds an order a late report revives), so the per-bar scans walk neither every order of the run
        nor every symbol's."""
        self.on_refusal = on_refusal
        self._table = table
        self._by_venue: dict[VenueOrderId, str] = {}
        self._used: set[str] = set()
        self._intents: set[str] = set()
        self._now = 0

    # --- ids -----------------------------------------------------------------------------------------------
    def remember(self, client_order_id: str) -> None:
        """Mark ``client_order_id`` as used (a request refused before any venue call, a foreign leftover)."""
        self._used.add(client_order_id)

    def remember_intent(self, intent_id: str) -> None:
        """Mark ``intent_id`` as existing."""
        self._intents.add(intent_id)

    def used(self, client_order_id: str) -> bool:
        """True when ``client_order_id`` was already sent (or journaled)."""
        return client_order_id in self._used

    def has_intent(self, intent_id: str) -> bool:
        """True when ``intent_id`` was already created."""
        return intent_id in self._intents

    def fresh_id(self, client_order_id: str) -> str:
        """``client_order_id`` when unused; else, for an id ending in a counter (``<prefix>-<n>``: exit
        attempts ``X-...-<n>``, protective legs ``<intent>-sl-<n>``), ``<prefix>-<m>`` with the smallest
        unused ``m > n``; else ``<id>.r<n>`` with the smallest unused ``n``. Taken at once, no venue call."""
        if client_order_id not in self._used:
            return client_order_id
        m = _COUNTER.search(client_order_id)
        if m is not None:
            prefix, k = client_order_id[: m.start()], int(m.group(1)) + 1
            while f"{prefix}-{k}" in self._used:
                k += 1
            return f"{prefix}-{k}"
        n = 1
        while f"{client_order_id}.r{n}" in self._used:
            n += 1
        return f"{client_order_id}.r{n}"

    # --- the fold ------------------------------------------------------------------------------------------
    def apply(self, ev: JournalEvent) -> TrackedOrder | None:
        """Fold one journal record into the order it concerns; that order (None for other records)."""
        order = self._apply(ev)
        if order is not None and (order.live or order.uncounted):
            self._active.setdefault(order.symbol, {}).setdefault(order.client_order_id, order)
        return order

    def _apply(self, ev: JournalEvent) -> TrackedOrder | None:
        if isinstance(ev, OrderSubmitting):
            self._now = ev.ts_ms
            return self._submitting(ev)
        if not isinstance(ev, OrderAcked | OrderResolved | OrderUnknown | CancelRecorded | FillRecorded):
            return None
        order = self.orders.get(ev.client_order_id)
        if order is None:
            return None
        self._now = ev.ts_ms
        m = order.machine
        if isinstance(ev, FillRecorded):
            self._fill(order, ev.fill)
        elif isinstance(ev, OrderAcked):
            self._report(order, ev.order_id, ev.status, ev.filled, ev.qty, ev.triggered_order_id)
        elif isinstance(ev, OrderResolved):
            if ev.status is OrderStatus.REJECTED and ev.error_kind is VenueErrorKind.ORDER_NOT_FOUND:
                if m.state == "submitting":
                    m.transport_error()  # the send was never answered (a crash mid-submit): unknown
                if m.state == "unknown":
                    m.lookup_absent()
                    return order
            self._report(order, None, ev.status, ev.filled, None, ev.triggered_order_id)
        elif isinstance(ev, OrderUnknown):
            m.transport_error()
        elif ev.requested and m.is_live and m.state != "pending_cancel":
            m.cancel_request()
        return order

    def _machine(self, ev: OrderSubmitting, attempt: int) -> OrderTracker[Decimal]:
        qty = ev.qty if ev.qty is not None and ev.qty > 0 else CLOSE_POSITION_QTY
        return OrderTracker(
            ev.intent_id,
            qty,
            attempt=attempt,
            client_order_id=ev.client_order_id,
            on_event=self._refused,
            table=self._table,
        )

    def _submitting(self, ev: OrderSubmitting) -> TrackedOrder:
        cid = ev.client_order_id
        self._used.add(cid)
        self._intents.add(ev.intent_id)
        order = self.orders.get(cid)
        if order is None:
            order = TrackedOrder(ev, ev.ts_ms, self._machine(ev, 0))
            self.orders[cid] = order
        elif order.machine.state == "submitting":
            return order  # the same submission resent (the previous try was refused definitively)
        elif not order.machine.is_live:  # a new attempt with the same client id (the last one ended)
            order.machine = self._machine(order.submitted, order.machine.attempt + 1)
        order.machine.submit()  # refused (and reported) for an order still live in any other state
        return order

    def _report(
        self,
        order: TrackedOrder,
        order_id: str | None,
        status: OrderStatus,
        filled: Decimal | None,
        qty: Decimal | None,
        triggered_id: str | None,
    ) -> None:
        m = order.machine
        symbol = order.symbol
        if order_id is not None:
            space = IdSpace.ALGO if order.conditional else IdSpace.ORDER
            order.venue_id = VenueOrderId(symbol, space, order_id)
            self._by_venue.setdefault(order.venue_id, order.client_order_id)  # a venue id names one order
        if triggered_id is not None and order.conditional:
            order.actual_id = VenueOrderId(symbol, IdSpace.ORDER, triggered_id)
            self._by_venue.setdefault(order.actual_id, order.client_order_id)
        if filled is not None and filled > order.venue_filled:
            order.venue_filled = filled
        event = _STATUS_EVENT.get(status)
        if m.state in _UNANSWERED and event not in ("trigger", "reject"):
            if m.state == "created":
                m.submit()  # a record of an order adopted without its submit (never in a sound journal)
            if m.state == "unknown":
                m.lookup_found()
            else:
                m.ack()
        reduce = qty is not None and 0 < qty < m.quantity and qty >= m.filled_qty
        if reduce and m.is_live and m.state not in _UNANSWERED and qty is not None:
            m.qty_reduced(qty)  # the venue shrank the order (reduce-only) before this status
            reduce = False
        if event is not None and not (m.state == _ENDS.get(status) and not m.is_live):
            m.fire(event)  # (the same final answer again changes nothing: no event)
        if reduce and m.is_live and qty is not None:
            m.qty_reduced(qty)  # the order a conditional became, cut to what the position held

    def _fill(self, order: TrackedOrder, fill: Fill) -> None:
        if fill.trade_id not in order.counted_ids:
            order.counted_ids.add(fill.trade_id)
            order.counted += fill.qty
            order.venue_filled = max(order.venue_filled, order.counted)
        try:
            order.machine.fill(fill.trade_id, fill.qty, fill.price)
        except ValueError as exc:  # a malformed venue fill (zero quantity or price): kept, reported
            self._refused(
                {
                    "machine": "order",
                    "state": order.machine.state,
                    "trigger": "fill",
                    "reason": "malformed",
                    "client_order_id": order.client_order_id,
                    "detail": str(exc),
                }
            )

    def _refused(self, record: dict[str, Any]) -> None:
        if self.on_refusal is None:
            return
        extra = {k: v for k, v in record.items() if k not in _REFUSAL_KEYS}
        self.on_refusal(
            TransitionRefused(
                self._now,
                str(record.get("machine", "order")),
                str(record.get("client_order_id", "")),
                str(record.get("state", "")),
                str(record.get("trigger", "")),
                str(record.get("reason", "")),
                " ".join(f"{k}={v}" for k, v in sorted(extra.items())),
            )
        )

    # --- queries -------------------------------------------------------------------------------------------
    def owner(self, fill: Fill) -> TrackedOrder | None:
        """The order ``fill`` belongs to (by client id, else by its order id in the ORDER space: a regular
        order of ours, or the regular order one of our conditionals became), None when not ours."""
        cid = fill.client_order_id
        if cid is not None:
            order = self.orders.get(cid)
            if order is not None:
                return order
        own = self._by_venue.get(fill.venue_id)
        return self.orders.get(own) if own is not None else None

    def by_venue_id(self, venue_id: VenueOrderId) -> TrackedOrder | None:
        """The order a venue id names (its own id, or the order a triggered conditional became)."""
        own = self._by_venue.get(venue_id)
        return self.orders.get(own) if own is not None else None

    def _scan(self, symbol: str | None = None) -> list[TrackedOrder]:
        """The orders (of ``symbol`` when given) that are live or uncounted now (the active index, pruned)."""
        out: list[TrackedOrder] = []
        groups = [symbol] if symbol is not None else list(self._active)
        for sym in groups:
            active = self._active.get(sym)
            if active is None:
                continue
            for cid, o in list(active.items()):
                if o.live or o.uncounted:
                    out.append(o)
                else:
                    del active[cid]
            if not active:
                del self._active[sym]
        return out

    def live(self, symbol: str | None = None) -> list[TrackedOrder]:
        """Orders not terminal in their machine (of ``symbol`` when given), in placement order."""
        found = [o for o in self._scan(symbol) if o.live]
        return found if symbol is not None else sorted(found, key=lambda o: o.placed_ms)

    def needs_fills(self, symbol: str | None = None) -> dict[str, int]:
        """Symbols (``symbol`` only, when given) with an order still live or with uncounted fills -> the
        earliest such placement time."""
        out: dict[str, int] = {}
        for o in self._scan(symbol):
            if o.live or o.uncounted:
                out[o.symbol] = min(out.get(o.symbol, o.placed_ms), o.placed_ms)
        return out

    def has_live_entry(self, symbol: str) -> bool:
        """True while an entry order of ``symbol`` is live or of unknown outcome."""
        return any(o.kind is IntentKind.ENTRY and o.live for o in self.live(symbol))

    def has_live_exit(self, symbol: str) -> bool:
        """True while a market exit (rule, forced or flatten) of ``symbol`` is live."""
        return any(o.kind in (IntentKind.EXIT, IntentKind.FLATTEN) and o.live for o in self.live(symbol))


_REFUSAL_KEYS = frozenset({"event", "machine", "state", "trigger", "reason", "client_order_id", "intent_id"})
assert REFUSED_EVENT == "order.transition_refused"
