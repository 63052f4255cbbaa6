"""The execution engine's order book-keeping: every order it placed, by client order id, with what the venue
last said of it and how much of its fills the position book has counted.

:class:`OrderTracker` also owns client-id hygiene: a client id already used (in this run or, after a restart,
anywhere in the journal) is never sent again for a new order (:meth:`OrderTracker.fresh_id`), and an entry
intent that already exists is never submitted twice.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from eclipse.contracts import IntentKind, RouterRequest
from eclipse.venues.types import Fill, OrderReport, OrderStatus

__all__ = ["OrderTracker", "TrackedOrder"]

_ZERO = Decimal(0)
_COUNTER = re.compile(r"-(\d+)$")


@dataclass(slots=True)
class TrackedOrder:
    """One order of the engine: the request, the venue's last report (id, status, filled) and the quantity
    of its fills the position book has applied (``counted``)."""

    request: RouterRequest
    placed_ms: int
    order_id: str | None = None
    status: OrderStatus | None = None
    filled: Decimal = _ZERO
    counted: Decimal = _ZERO

    @property
    def live(self) -> bool:
        """Not known to be terminal (open, partially filled, or its outcome still unknown)."""
        return self.status is None or not self.status.terminal

    @property
    def uncounted(self) -> bool:
        """The venue reported more filled quantity than the book has applied."""
        return self.counted < self.filled

    @property
    def kind(self) -> IntentKind:
        """The request's intent kind."""
        return self.request.kind

    @property
    def symbol(self) -> str:
        """The request's symbol."""
        return self.request.symbol


class OrderTracker:
    """Orders by client order id, plus the client ids and intents already used."""

    def __init__(self) -> None:
        self.orders: dict[str, TrackedOrder] = {}
        self._by_oid: dict[tuple[str, str], str] = {}
        self._used: set[str] = set()
        self._intents: set[str] = set()

    # --- ids -----------------------------------------------------------------------------------------------
    def remember(self, client_order_id: str) -> None:
        """Mark ``client_order_id`` as used (journal replay)."""
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

    # --- orders --------------------------------------------------------------------------------------------
    def track(self, request: RouterRequest, now_ms: int, report: OrderReport | None = None) -> TrackedOrder:
        """Start tracking ``request`` (placed or of unknown outcome), with the venue's report when known."""
        self._used.add(request.client_order_id)
        self._intents.add(request.intent_id)
        order = self.orders.get(request.client_order_id)
        if order is None:
            order = TrackedOrder(request, now_ms)
            self.orders[request.client_order_id] = order
        if report is not None:
            self.update(report)
        return order

    def update(self, report: OrderReport) -> TrackedOrder | None:
        """Apply the venue's report of one of our orders (None when it is not ours)."""
        cid = report.client_order_id
        order = self.orders.get(cid) if cid is not None else None
        if order is None:
            return None
        order.order_id = report.order_id
        order.status = report.status
        order.filled = max(order.filled, report.filled)
        self._by_oid[(report.symbol, report.order_id)] = order.request.client_order_id
        return order

    def link(self, symbol: str, order_id: str, client_order_id: str) -> None:
        """Remember that the venue's ``order_id`` is our ``client_order_id`` (journal replay)."""
        self._by_oid[(symbol, order_id)] = client_order_id

    def resolve(self, client_order_id: str, status: OrderStatus, filled: Decimal | None = None) -> None:
        """Record a terminal status learnt without a report (cancel confirmed, lookup not found)."""
        order = self.orders.get(client_order_id)
        if order is not None:
            order.status = status
            if filled is not None:
                order.filled = max(order.filled, filled)

    def owner(self, fill: Fill) -> TrackedOrder | None:
        """The order ``fill`` belongs to (by client id, else by venue order id), None when not ours."""
        if fill.client_order_id is not None and fill.client_order_id in self.orders:
            return self.orders[fill.client_order_id]
        cid = self._by_oid.get((fill.symbol, fill.order_id))
        return self.orders.get(cid) if cid is not None else None

    def live(self, symbol: str | None = None) -> list[TrackedOrder]:
        """Orders not known to be terminal (of ``symbol`` when given), in placement order."""
        return [o for o in self.orders.values() if o.live and (symbol is None or o.symbol == symbol)]

    def needs_fills(self) -> dict[str, int]:
        """Symbols with an order still live or with uncounted fills -> the earliest such placement time."""
        out: dict[str, int] = {}
        for o in self.orders.values():
            if o.live or o.uncounted:
                out[o.symbol] = min(out.get(o.symbol, o.placed_ms), o.placed_ms)
        return out

    def has_live_entry(self, symbol: str) -> bool:
        """True while an entry order of ``symbol`` is live or of unknown outcome."""
        return any(o.kind is IntentKind.ENTRY and o.live for o in self.live(symbol))

    def has_live_exit(self, symbol: str) -> bool:
        """True while a market exit (rule, forced or flatten) of ``symbol`` is live."""
        return any(o.kind in (IntentKind.EXIT, IntentKind.FLATTEN) and o.live for o in self.live(symbol))
