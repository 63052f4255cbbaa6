"""The order machine (``specs/order.toml``) and its run-time trackers.

:class:`OrderMachine` is the declarative python-statemachine class, kept equal to the spec by the conformance
test. At run time nothing calls python-statemachine: :data:`ORDER_TABLE` (compiled once, here) drives one
:class:`OrderTracker` per venue order through :class:`~eclipse.machines.table.Runner`, one dict lookup per
event. :class:`IntentOrders` holds the attempts of one intent and enforces "one live order per intent" and
"an unknown outcome is resolved before any resubmit".

Guards see the *would-be* quantities ``(filled, quantity)``: for ``fill`` the filled quantity after the fill,
for ``qty_reduced`` the new order quantity, so a refused event never has to be undone. Quantities compare with
a relative :data:`EPSILON`; a filled order has ``filled_qty == quantity`` exactly.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from types import MappingProxyType
from typing import Any, Final, Generic, TypeVar

from statemachine import State, StateMachine

from eclipse.clock import Clock
from eclipse.errors import EclipseError
from eclipse.machines.table import CompiledMachine, Guard, Runner, compile_class

__all__ = [
    "EPSILON",
    "GUARDS",
    "ORDER_TABLE",
    "REFUSAL_REASONS",
    "REFUSED_EVENT",
    "EventSink",
    "IntentOrders",
    "OrderMachine",
    "OrderOutcome",
    "OrderRuleError",
    "OrderTracker",
    "client_order_id",
]

_LOG = logging.getLogger(__name__)

EPSILON: Final = 1e-9
"""Relative tolerance when comparing a filled quantity with the order quantity."""

REFUSED_EVENT: Final = "order.transition_refused"

_Ctx = tuple[float, float]  # (filled quantity, order quantity), both as they would be after the event


def _complete(ctx: _Ctx) -> bool:
    return ctx[0] >= ctx[1] * (1.0 - EPSILON)


def _remainder(ctx: _Ctx) -> bool:
    return ctx[0] < ctx[1] * (1.0 - EPSILON)


def _has_fills(ctx: _Ctx) -> bool:
    return ctx[0] > 0.0


def _no_fills(ctx: _Ctx) -> bool:
    return ctx[0] <= 0.0


GUARDS: Final[Mapping[str, Guard]] = MappingProxyType(
    {
        "completes": _complete,
        "now_complete": _complete,
        "leaves_remainder": _remainder,
        "has_fills": _has_fills,
        "no_fills": _no_fills,
    }
)
"""Guard name -> predicate of ``(filled, quantity)``."""


class OrderMachine(StateMachine):
    """Lifecycle of one venue order, row for row as ``specs/order.toml`` (declarative; run via ORDER_TABLE).

    Terminal states are not ``final=True``: ``canceled`` and ``expired`` have the documented late rows.
    """

    NAME = "order"
    TERMINAL = frozenset({"filled", "canceled", "rejected", "expired", "absent"})
    IN_FLIGHT = frozenset({"submitting", "unknown", "pending_cancel"})
    validate_trap_states = False  # terminal states without outgoing rows are intended

    created = State(initial=True)
    submitting = State()
    unknown = State()
    accepted = State()
    partially_filled = State()
    pending_cancel = State()
    triggered = State()
    filled = State()
    canceled = State()
    rejected = State()
    expired = State()
    absent = State()

    submit = created.to(submitting)
    ack = submitting.to(accepted) | unknown.to(accepted) | partially_filled.to(partially_filled)
    reject = submitting.to(rejected) | unknown.to(rejected) | accepted.to(rejected)
    transport_error = submitting.to(unknown) | unknown.to(unknown) | pending_cancel.to(pending_cancel)
    fill = (
        submitting.to(filled, cond="completes")
        | submitting.to(partially_filled, cond="leaves_remainder")
        | unknown.to(filled, cond="completes")
        | unknown.to(partially_filled, cond="leaves_remainder")
        | accepted.to(filled, cond="completes")
        | accepted.to(partially_filled, cond="leaves_remainder")
        | partially_filled.to(filled, cond="completes")
        | partially_filled.to(partially_filled, cond="leaves_remainder")
        | pending_cancel.to(filled, cond="completes")
        | pending_cancel.to(pending_cancel, cond="leaves_remainder")
        | canceled.to(filled, cond="completes")
        | canceled.to(canceled, cond="leaves_remainder")
        | expired.to(filled, cond="completes")
        | expired.to(expired, cond="leaves_remainder")
        | triggered.to(filled, cond="completes")
        | triggered.to(triggered, cond="leaves_remainder")
    )
    lookup_found = unknown.to(accepted)
    lookup_absent = unknown.to(absent)
    cancel_request = (
        accepted.to(pending_cancel) | partially_filled.to(pending_cancel) | triggered.to(triggered)
    )
    cancel_confirmed = (
        accepted.to(canceled)
        | partially_filled.to(canceled)
        | pending_cancel.to(canceled)
        | triggered.to(canceled)
    )
    expire = (
        accepted.to(expired)
        | partially_filled.to(expired)
        | pending_cancel.to(expired)
        | triggered.to(expired)
    )
    trigger = (
        accepted.to(triggered)
        | submitting.to(triggered)
        | unknown.to(triggered)
        | partially_filled.to(triggered)
        | pending_cancel.to(triggered)
        | triggered.to(triggered)
    )
    qty_reduced = (
        accepted.to(accepted)
        | partially_filled.to(filled, cond="now_complete")
        | partially_filled.to(partially_filled, cond="leaves_remainder")
        | pending_cancel.to(filled, cond="now_complete")
        | pending_cancel.to(pending_cancel, cond="leaves_remainder")
        | canceled.to(filled, cond="now_complete")
        | canceled.to(canceled, cond="leaves_remainder")
        | triggered.to(filled, cond="now_complete")
        | triggered.to(triggered, cond="leaves_remainder")
    )
    cancel_rejected = pending_cancel.to(accepted, cond="no_fills") | pending_cancel.to(
        partially_filled, cond="has_fills"
    )

    def completes(self, filled: float = 0.0, quantity: float = 0.0) -> bool:
        """The filled quantity after this fill reaches the order quantity."""
        return _complete((filled, quantity))

    def now_complete(self, filled: float = 0.0, quantity: float = 0.0) -> bool:
        """The new (reduced) order quantity is already filled."""
        return _complete((filled, quantity))

    def leaves_remainder(self, filled: float = 0.0, quantity: float = 0.0) -> bool:
        """Some quantity remains open after the event."""
        return _remainder((filled, quantity))

    def has_fills(self, filled: float = 0.0, quantity: float = 0.0) -> bool:
        """Something was filled already."""
        return _has_fills((filled, quantity))

    def no_fills(self, filled: float = 0.0, quantity: float = 0.0) -> bool:
        """Nothing was filled yet."""
        return _no_fills((filled, quantity))


ORDER_TABLE: Final[CompiledMachine] = compile_class(OrderMachine)
"""The run-time table of :class:`OrderMachine`, compiled once at import."""

_PREFIX = re.compile(r"[A-Za-z0-9_-]{1,7}")
_DIGEST_BYTES = 15  # 120 bits -> 24 base32 characters, no padding


def client_order_id(intent_id: str, attempt: int = 0, prefix: str = "ecl") -> str:
    """Deterministic venue client order id of attempt ``attempt`` of ``intent_id``: ``<prefix>-<24 base32>``.

    At most 32 characters of ``[A-Za-z0-9_-]`` (valid for Binance ``newClientOrderId``); the same inputs
    always give the same id, so a retry or a restart finds the order it may already have placed.
    """
    if not isinstance(intent_id, str) or not intent_id:
        raise ValueError(f"intent_id must be a non-empty string, got {intent_id!r}")
    if isinstance(attempt, bool) or not isinstance(attempt, int) or attempt < 0:
        raise ValueError(f"attempt must be an integer >= 0, got {attempt!r}")
    if not isinstance(prefix, str) or not _PREFIX.fullmatch(prefix):
        raise ValueError(f"prefix must be 1-7 characters of [A-Za-z0-9_-], got {prefix!r}")
    # "<attempt>:<intent>" is unambiguous: the attempt has no ':'.
    digest = hashlib.blake2b(f"{attempt}:{intent_id}".encode(), digest_size=_DIGEST_BYTES).digest()
    return f"{prefix}-{base64.b32encode(digest).decode('ascii').lower()}"


_derived_id = client_order_id  # the tracker's ``client_order_id`` argument shadows the function


class OrderRuleError(EclipseError):
    """A new order for an intent that still has a live or unknown-outcome order."""


@dataclass(frozen=True, slots=True)
class OrderOutcome:
    """Result of one report or command applied to an :class:`OrderTracker`.

    ``accepted``: the machine took a row (quantities were applied). ``duplicate``: a fill whose trade id was
    already applied (ignored, not a refusal). ``overfill``: a fill that would exceed the order quantity
    (refused). ``refusal``: why nothing changed (``not_accepted``, ``guard_failed``, ``stale_for_terminal``,
    ``overfill``), else None.
    """

    event: str
    accepted: bool
    source: str
    target: str
    refusal: str | None = None
    duplicate: bool = False
    overfill: bool = False

    @property
    def stale(self) -> bool:
        """True for a report that arrived after the order reached a terminal state that does not accept it."""
        return self.refusal == "stale_for_terminal"


REFUSAL_REASONS: Final = ("not_accepted", "guard_failed", "stale_for_terminal", "overfill")

# Every possible outcome, built once: outcomes are immutable values, so the hot path looks one up instead of
# constructing a frozen dataclass (~0.8 us) per event.
_ACCEPTED: Final[Mapping[tuple[str, str, str], OrderOutcome]] = MappingProxyType(
    {(r.source, r.event, r.target): OrderOutcome(r.event, True, r.source, r.target) for r in ORDER_TABLE.rows}
)
_REFUSED: Final[Mapping[tuple[str, str, str], OrderOutcome]] = MappingProxyType(
    {
        (event, state, why): OrderOutcome(event, False, state, state, why, overfill=why == "overfill")
        for event in ORDER_TABLE.events
        for state in ORDER_TABLE.states
        for why in REFUSAL_REASONS
    }
)
_DUPLICATE: Final[Mapping[str, OrderOutcome]] = MappingProxyType(
    {state: OrderOutcome("fill", False, state, state, duplicate=True) for state in ORDER_TABLE.states}
)


Q = TypeVar("Q", float, Decimal)
"""A quantity: float (the model and property tests) or Decimal (the execution engine's exact quantities)."""


def _positive(name: str, value: Q) -> Q:
    # NaN fails both comparisons; a non-number raises TypeError, turned into the same ValueError.
    if isinstance(value, Decimal):
        if value.is_finite() and value > 0:
            return value
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    try:
        ok = 0.0 < value < math.inf and not isinstance(value, bool)
    except TypeError:
        ok = False
    if not ok:
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return float(value)


def _exceeds(a: Q, b: Q) -> bool:
    """``a > b``: exact for Decimal, beyond the relative :data:`EPSILON` for floats."""
    if isinstance(b, Decimal):
        return a > b
    return a > b * (1.0 + EPSILON)


def _below(a: Q, b: Q) -> bool:
    """``a < b``: exact for Decimal, beyond the relative :data:`EPSILON` for floats."""
    if isinstance(b, Decimal):
        return a < b
    return a < b * (1.0 - EPSILON)


def _no_event(_: dict[str, Any]) -> None:
    """Default ``on_event``: drop it."""


EventSink = Callable[[dict[str, Any]], None]


class OrderTracker(Generic[Q]):
    """One venue order: its state (via :data:`ORDER_TABLE`), quantities, applied trade ids and fill price.

    Every method applies one venue report or one local command and returns an :class:`OrderOutcome`; none
    raises on a report the machine refuses (the refusal is returned and sent to ``on_event``). ValueError is
    raised only for malformed arguments (non-positive or non-finite quantities and prices, empty trade ids, a
    "reduction" that grows the order or cuts below the filled quantity).

    Quantities are floats or Decimals (one type per tracker; Decimals compare exactly). ``client_order_id``
    overrides the derived :func:`client_order_id` (the engine's ids follow its own scheme); ``table`` is
    the compiled machine to run (default :data:`ORDER_TABLE`, looked up when the tracker is made).
    """

    __slots__ = (
        "_clock",
        "_fill_qty",
        "_notional",
        "_on_event",
        "_runner",
        "_trade_ids",
        "attempt",
        "client_order_id",
        "created_ms",
        "filled_qty",
        "intent_id",
        "quantity",
        "updated_ms",
    )

    def __init__(
        self,
        intent_id: str,
        quantity: Q,
        *,
        attempt: int = 0,
        prefix: str = "ecl",
        on_event: EventSink | None = None,
        clock: Clock | None = None,
        client_order_id: str | None = None,
        table: CompiledMachine | None = None,
    ) -> None:
        self.intent_id = intent_id
        self.attempt = attempt
        self.client_order_id = (
            client_order_id if client_order_id is not None else _derived_id(intent_id, attempt, prefix)
        )
        self.quantity: Q = _positive("quantity", quantity)
        zero: Q = self.quantity * 0
        self.filled_qty: Q = zero
        self._fill_qty: Q = zero  # raw sum of applied fills (the price average's denominator)
        self._notional: Q = zero
        self._trade_ids: set[str] = set()
        self._runner = Runner(table if table is not None else ORDER_TABLE, GUARDS)
        self._on_event: EventSink = on_event if on_event is not None else _no_event
        self._clock = clock
        self.created_ms: int | None = clock.now_ms() if clock is not None else None
        self.updated_ms: int | None = self.created_ms

    # --- views ----------------------------------------------------------------------------------------------
    @property
    def state(self) -> str:
        """Current state id (one of the spec's states)."""
        return self._runner.state

    @property
    def is_live(self) -> bool:
        """True until the order reaches a terminal state (``created`` counts as live)."""
        return not self._runner.terminal

    @property
    def in_flight(self) -> bool:
        """True while a venue answer is awaited (submitting, unknown, pending_cancel)."""
        return self._runner.state in self._runner.machine.in_flight

    @property
    def needs_lookup(self) -> bool:
        """True when the outcome is unknown: a lookup by client order id (or a venue report) resolves it."""
        return self._runner.state == "unknown"

    @property
    def leaves_qty(self) -> Q:
        """Quantity still open on the order (0 once filled)."""
        return max(self.quantity - self.filled_qty, self.quantity * 0)

    @property
    def avg_price(self) -> Q | None:
        """Quantity-weighted average price of the applied fills; None before the first fill."""
        return self._notional / self._fill_qty if self._fill_qty > 0 else None

    @property
    def trade_ids(self) -> frozenset[str]:
        """Trade ids applied so far (a copy)."""
        return frozenset(self._trade_ids)

    def has_trade(self, trade_id: str) -> bool:
        """True when ``trade_id`` was already applied to this order."""
        return trade_id in self._trade_ids

    # --- machinery ------------------------------------------------------------------------------------------
    def _fire(self, event: str, ctx: _Ctx | None = None) -> OrderOutcome:
        out = self._runner.fire(event, ctx)
        if out.refusal is not None:
            return self._refused(event, out.source, out.refusal.reason)
        if self._clock is not None:
            self.updated_ms = self._clock.now_ms()
        return _accepted(out.source, event, out.target)

    def _refused(self, event: str, state: str, reason: str, **extra: Any) -> OrderOutcome:
        record: dict[str, Any] = {
            "event": REFUSED_EVENT,
            "machine": self._runner.machine.name,
            "state": state,
            "trigger": event,
            "reason": reason,
            "client_order_id": self.client_order_id,
            "intent_id": self.intent_id,
        }
        record.update(extra)
        if self._clock is not None:
            record["ts_ms"] = self._clock.now_ms()
        self._on_event(record)
        known = _REFUSED.get((event, state, reason))
        return known if known is not None else OrderOutcome(event, False, state, state, reason)

    def _qty_ctx(self) -> _Ctx:
        return (float(self.filled_qty), float(self.quantity))

    # --- commands and venue reports ------------------------------------------------------------------------
    def submit(self) -> OrderOutcome:
        """The order is about to be sent (journaled before the venue call)."""
        return self._fire("submit")

    def ack(self) -> OrderOutcome:
        """The venue acknowledged the order."""
        return self._fire("ack")

    def reject(self) -> OrderOutcome:
        """A definitive rejection by the venue (never for timeouts or transport errors)."""
        return self._fire("reject")

    def transport_error(self) -> OrderOutcome:
        """Timeout, 5xx or lost connection: the outcome is not known; never terminal."""
        return self._fire("transport_error")

    def lookup_found(self) -> OrderOutcome:
        """A lookup by client order id found the order on the venue."""
        return self._fire("lookup_found")

    def lookup_absent(self) -> OrderOutcome:
        """A lookup by client order id proved the order absent: only now may the intent submit again."""
        return self._fire("lookup_absent")

    def cancel_request(self) -> OrderOutcome:
        """A cancel is about to be sent."""
        return self._fire("cancel_request")

    def cancel_confirmed(self) -> OrderOutcome:
        """The venue confirmed the order canceled (solicited or not)."""
        return self._fire("cancel_confirmed")

    def cancel_rejected(self) -> OrderOutcome:
        """The venue refused the cancel: back to accepted or partially filled."""
        return self._fire("cancel_rejected", self._qty_ctx())

    def expire(self) -> OrderOutcome:
        """The venue expired the order."""
        return self._fire("expire")

    def trigger(self) -> OrderOutcome:
        """A conditional order's trigger fired: the venue placed the regular order it became, whose fills
        are this order's fills (the caller links the two venue ids)."""
        return self._fire("trigger")

    def fire(self, event: str) -> OrderOutcome:
        """Apply any quantity-free event of the spec by name (``fill`` and ``qty_reduced`` have their own
        methods; ``cancel_rejected`` gets the quantities)."""
        if event in ("fill", "qty_reduced"):
            raise ValueError(f"{event} needs its quantities: call the {event}() method")
        return self._fire(event, self._qty_ctx() if event == "cancel_rejected" else None)

    def fill(self, trade_id: str, qty: Q, price: Q) -> OrderOutcome:
        """Apply one venue fill: duplicates (same trade id) are ignored, overfills refused and reported; the
        quantity, trade id and price are recorded only when the machine accepts the fill."""
        if not isinstance(trade_id, str) or not trade_id:
            raise ValueError(f"trade_id must be a non-empty string, got {trade_id!r}")
        qty = _positive("qty", qty)
        price = _positive("price", price)
        state = self._runner.state
        if trade_id in self._trade_ids:
            return (
                _DUPLICATE[state]
                if state in _DUPLICATE
                else OrderOutcome("fill", False, state, state, None, True)
            )
        would = self.filled_qty + qty
        quantity = self.quantity
        if _exceeds(would, quantity):
            _LOG.warning(
                "order %s: fill %s of %s would exceed quantity %s (filled %s): refused",
                self.client_order_id,
                trade_id,
                qty,
                quantity,
                self.filled_qty,
            )
            return self._refused(
                "fill", state, "overfill", trade_id=trade_id, qty=qty, filled_qty=self.filled_qty
            )
        out = self._runner.fire("fill", (float(would), float(quantity)))
        if out.refusal is not None:
            return self._refused("fill", state, out.refusal.reason, trade_id=trade_id, qty=qty)
        self._trade_ids.add(trade_id)
        self.filled_qty = quantity if out.target == "filled" else would  # filled: exactly the quantity
        self._fill_qty += qty
        self._notional += qty * price
        if self._clock is not None:
            self.updated_ms = self._clock.now_ms()
        return _accepted(state, "fill", out.target)

    def qty_reduced(self, new_qty: Q) -> OrderOutcome:
        """The venue shrank the order quantity (reduce-only): to the filled quantity -> filled.

        ValueError when ``new_qty`` is not finite and > 0, exceeds the current quantity, or is below the
        filled quantity (a venue never reports less than it executed).
        """
        new_qty = _positive("new_qty", new_qty)
        if _exceeds(new_qty, self.quantity):
            raise ValueError(f"new_qty {new_qty} exceeds the order quantity {self.quantity}: not a reduction")
        if _below(new_qty, self.filled_qty):
            raise ValueError(f"new_qty {new_qty} is below the filled quantity {self.filled_qty}")
        out = self._fire("qty_reduced", (float(self.filled_qty), float(new_qty)))
        if not out.accepted:
            return out
        if out.target == "filled":  # within EPSILON of the filled quantity: both become the larger
            self.quantity = self.filled_qty = max(new_qty, self.filled_qty)
        else:
            self.quantity = new_qty
        return out

    def __repr__(self) -> str:
        return (
            f"OrderTracker({self.client_order_id} intent={self.intent_id!r} attempt={self.attempt} "
            f"state={self.state} filled={self.filled_qty}/{self.quantity})"
        )


def _accepted(source: str, event: str, target: str) -> OrderOutcome:
    """The (prebuilt) outcome of an accepted row; built on the spot for a row outside ORDER_TABLE (a table
    compiled from a changed spec)."""
    known = _ACCEPTED.get((source, event, target))
    return known if known is not None else OrderOutcome(event, True, source, target)


class IntentOrders:
    """The venue orders of one intent, attempt by attempt (attempt n has ``client_order_id(intent, n)``).

    :meth:`new_order` refuses while an order is live, and in particular while one has an unknown outcome:
    one live order per intent, and an unknown outcome is resolved before any resubmit. ``table``: the compiled
    machine every attempt runs (default :data:`ORDER_TABLE`).
    """

    __slots__ = ("_by_id", "_clock", "_on_event", "_orders", "_table", "intent_id", "prefix")

    def __init__(
        self,
        intent_id: str,
        *,
        prefix: str = "ecl",
        on_event: EventSink | None = None,
        clock: Clock | None = None,
        table: CompiledMachine | None = None,
    ) -> None:
        client_order_id(intent_id, 0, prefix)  # validates both
        self.intent_id = intent_id
        self.prefix = prefix
        self._on_event = on_event
        self._clock = clock
        self._table = table  # the machine every attempt runs (None: ORDER_TABLE)
        self._orders: list[OrderTracker[float]] = []
        self._by_id: dict[str, OrderTracker[float]] = {}

    @property
    def orders(self) -> tuple[OrderTracker[float], ...]:
        """Every attempt, oldest first."""
        return tuple(self._orders)

    @property
    def live(self) -> OrderTracker[float] | None:
        """The order not yet in a terminal state, if any (at most one)."""
        for order in self._orders:
            if order.is_live:
                return order
        return None

    @property
    def filled_qty(self) -> float:
        """Quantity filled over all attempts (late fills on canceled attempts included)."""
        return sum(o.filled_qty for o in self._orders)

    def get(self, client_order_id: str) -> OrderTracker[float] | None:
        """The attempt with this client order id, or None (another intent's order, or an external one)."""
        return self._by_id.get(client_order_id)

    def new_order(self, quantity: float) -> OrderTracker[float]:
        """Create the next attempt; OrderRuleError while an attempt is live or its outcome unknown."""
        for order in self._orders:
            if order.needs_lookup:
                raise OrderRuleError(
                    f"intent {self.intent_id!r}: order {order.client_order_id} (attempt {order.attempt}) "
                    "has an unknown outcome; resolve it by a lookup by client order id (found, or proven "
                    "absent) before submitting again"
                )
            if order.is_live:
                raise OrderRuleError(
                    f"intent {self.intent_id!r}: order {order.client_order_id} (attempt {order.attempt}) is "
                    f"still live ({order.state}); one live order per intent: wait for a terminal state"
                )
        order = OrderTracker(
            self.intent_id,
            quantity,
            attempt=len(self._orders),
            prefix=self.prefix,
            on_event=self._on_event,
            clock=self._clock,
            table=self._table,
        )
        self._orders.append(order)
        self._by_id[order.client_order_id] = order
        return order
