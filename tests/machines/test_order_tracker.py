"""OrderTracker and IntentOrders, scenario by scenario: lost acks, fills before acks, cancel races, venue
quantity reductions (NautilusTrader #3983), stale reports (NautilusTrader #4157), duplicates and overfills."""

from __future__ import annotations

import math
import re
from typing import Any

import pytest

from eclipse.clock import SimClock
from eclipse.machines.order import (
    ORDER_TABLE,
    IntentOrders,
    OrderOutcome,
    OrderRuleError,
    OrderTracker,
    client_order_id,
)

BINANCE_CLIENT_ID = re.compile(r"^[\.A-Z\:/a-z0-9_-]{1,36}$")
REFUSAL_KEYS = {"event", "machine", "state", "trigger", "reason", "client_order_id", "intent_id"}

# A path of (method, args) from `created` to each state of the spec (order quantity 1.0).
PATHS: dict[str, list[tuple[str, tuple[Any, ...]]]] = {
    "created": [],
    "submitting": [("submit", ())],
    "unknown": [("submit", ()), ("transport_error", ())],
    "accepted": [("submit", ()), ("ack", ())],
    "partially_filled": [("submit", ()), ("ack", ()), ("fill", ("p1", 0.4, 100.0))],
    "pending_cancel": [("submit", ()), ("ack", ()), ("cancel_request", ())],
    "triggered": [("submit", ()), ("ack", ()), ("trigger", ())],
    "filled": [("submit", ()), ("ack", ()), ("fill", ("p1", 1.0, 100.0))],
    "canceled": [("submit", ()), ("ack", ()), ("cancel_request", ()), ("cancel_confirmed", ())],
    "rejected": [("submit", ()), ("reject", ())],
    "expired": [("submit", ()), ("ack", ()), ("expire", ())],
    "absent": [("submit", ()), ("transport_error", ()), ("lookup_absent", ())],
}
SIMPLE_REPORTS = (
    "submit",
    "ack",
    "reject",
    "transport_error",
    "lookup_found",
    "lookup_absent",
    "cancel_request",
    "cancel_confirmed",
    "cancel_rejected",
    "expire",
    "trigger",
)


class Sink:
    """Collects the on_event records."""

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []

    def __call__(self, record: dict[str, Any]) -> None:
        self.records.append(record)

    @property
    def reasons(self) -> list[str]:
        return [r["reason"] for r in self.records]


def make(quantity: float = 1.0, state: str = "created", **kw: Any) -> tuple[OrderTracker, Sink]:
    sink = Sink()
    order = OrderTracker("intent-1", quantity, on_event=sink, **kw)
    for method, args in PATHS[state]:
        assert getattr(order, method)(*args).accepted, (state, method)
    assert order.state == state
    return order, sink


def test_paths_cover_every_state() -> None:
    assert set(PATHS) == set(ORDER_TABLE.states)


# --- submission, lost acks, unknown outcome -----------------------------------------------------------------
def test_happy_path() -> None:
    order, sink = make(2.0)
    assert order.submit() == OrderOutcome("submit", True, "created", "submitting")
    assert order.in_flight
    assert order.ack().target == "accepted"
    out = order.fill("t1", 2.0, 101.5)
    assert (out.accepted, out.source, out.target) == (True, "accepted", "filled")
    assert (order.filled_qty, order.leaves_qty, order.avg_price) == (2.0, 0.0, 101.5)
    assert not order.is_live
    assert sink.records == []


def test_lost_ack_goes_unknown_then_lookup_found() -> None:
    order, _ = make(state="submitting")
    out = order.transport_error()
    assert (out.accepted, out.target) == (True, "unknown")
    assert order.needs_lookup
    assert order.is_live
    assert order.transport_error().target == "unknown"  # a failed lookup: still unknown
    assert order.lookup_found().target == "accepted"
    assert not order.needs_lookup


def test_lost_ack_then_lookup_absent_frees_the_intent() -> None:
    intent = IntentOrders("intent-7")
    first = intent.new_order(1.0)
    first.submit()
    first.transport_error()
    with pytest.raises(OrderRuleError, match="unknown outcome"):
        intent.new_order(1.0)
    assert first.lookup_absent().target == "absent"
    assert not first.is_live
    second = intent.new_order(1.0)
    assert second.attempt == 1
    assert second.client_order_id == client_order_id("intent-7", 1)
    assert second.client_order_id != first.client_order_id


def test_late_ack_or_fill_resolves_unknown() -> None:
    order, _ = make(state="unknown")
    assert order.ack().target == "accepted"
    order, _ = make(state="unknown")
    assert order.fill("t1", 0.3, 10.0).target == "partially_filled"
    order, _ = make(state="unknown")
    assert order.reject().target == "rejected"


def test_lookups_outside_unknown_are_refused() -> None:
    order, sink = make(state="submitting")
    out = order.lookup_absent()
    assert (out.accepted, out.refusal, order.state) == (False, "not_accepted", "submitting")
    assert sink.records[0]["trigger"] == "lookup_absent"


# --- fills --------------------------------------------------------------------------------------------------
def test_fill_before_ack_then_out_of_order_ack() -> None:
    order, sink = make(state="submitting")
    assert order.fill("t1", 0.25, 100.0).target == "partially_filled"
    out = order.ack()  # the ack arrives after the first fill
    assert (out.accepted, out.source, out.target) == (True, "partially_filled", "partially_filled")
    assert order.fill("t2", 0.75, 104.0).target == "filled"
    assert order.avg_price == pytest.approx(103.0)
    assert sink.records == []


def test_complete_fill_before_ack_makes_the_late_ack_stale() -> None:
    order, sink = make(state="submitting")
    assert order.fill("t1", 1.0, 100.0).target == "filled"
    out = order.ack()
    assert out.stale
    assert (out.accepted, out.target) == (False, "filled")
    assert sink.reasons == ["stale_for_terminal"]


def test_partial_fills_and_average_price() -> None:
    order, _ = make(3.0, state="accepted")
    assert order.fill("a", 1.0, 10.0).target == "partially_filled"
    assert order.fill("b", 1.0, 11.0).target == "partially_filled"
    assert order.leaves_qty == pytest.approx(1.0)
    assert order.fill("c", 1.0, 15.0).target == "filled"
    assert order.avg_price == pytest.approx(12.0)
    assert order.trade_ids == {"a", "b", "c"}


def test_fills_that_sum_to_the_quantity_within_epsilon_complete() -> None:
    order, _ = make(1.0, state="accepted")
    for i in range(10):
        order.fill(f"t{i}", 0.1, 100.0)  # the float sum is 0.9999999999999999
    assert order.state == "filled"
    assert order.filled_qty == order.quantity == 1.0


def test_duplicate_trade_id_is_ignored() -> None:
    order, sink = make(state="accepted")
    assert order.fill("t1", 0.5, 100.0).accepted
    out = order.fill("t1", 0.5, 100.0)
    assert out == OrderOutcome("fill", False, "partially_filled", "partially_filled", None, duplicate=True)
    assert order.filled_qty == 0.5
    assert order.has_trade("t1")
    assert order.fill("t2", 0.5, 100.0).target == "filled"
    assert order.fill("t2", 0.5, 100.0).duplicate  # a duplicate on a filled order is still a duplicate
    assert sink.records == []


def test_overfill_is_refused_and_reported_without_change() -> None:
    order, sink = make(state="accepted")
    order.fill("t1", 0.6, 100.0)
    out = order.fill("t2", 0.6, 100.0)
    assert (out.accepted, out.overfill, out.refusal) == (False, True, "overfill")
    assert out.target == "partially_filled"
    assert (order.filled_qty, order.trade_ids) == (0.6, frozenset({"t1"}))
    assert sink.records == [
        {
            "event": "order.transition_refused",
            "machine": "order",
            "state": "partially_filled",
            "trigger": "fill",
            "reason": "overfill",
            "client_order_id": order.client_order_id,
            "intent_id": "intent-1",
            "trade_id": "t2",
            "qty": 0.6,
            "filled_qty": 0.6,
        }
    ]
    assert order.fill("t2", 0.4, 100.0).target == "filled"  # the same trade id was not recorded


@pytest.mark.parametrize("state", ["created", "rejected", "absent"])
def test_a_refused_fill_records_nothing(state: str) -> None:
    order, sink = make(state=state)
    out = order.fill("late", 0.5, 100.0)
    assert not out.accepted
    assert out.refusal == ("not_accepted" if state == "created" else "stale_for_terminal")
    assert (order.state, order.filled_qty, order.avg_price) == (state, 0.0, None)
    assert order.trade_ids == frozenset()
    assert not order.fill("late", 0.5, 100.0).duplicate  # nothing was recorded, so not a duplicate either
    assert sink.records[0]["trade_id"] == "late"


@pytest.mark.parametrize(
    ("field", "args"),
    [
        ("qty", ("t", 0.0, 1.0)),
        ("qty", ("t", -1.0, 1.0)),
        ("qty", ("t", math.nan, 1.0)),
        ("qty", ("t", math.inf, 1.0)),
        ("qty", ("t", True, 1.0)),
        ("price", ("t", 0.5, 0.0)),
        ("price", ("t", 0.5, math.nan)),
        ("trade_id", ("", 0.5, 1.0)),
    ],
)
def test_malformed_fills_raise_naming_the_field(field: str, args: tuple[Any, ...]) -> None:
    order, _ = make(state="accepted")
    with pytest.raises(ValueError, match=f"^{field} must be"):
        order.fill(*args)
    assert (order.state, order.filled_qty) == ("accepted", 0.0)


@pytest.mark.parametrize("quantity", [0.0, -2.0, math.nan, math.inf])
def test_order_quantity_must_be_positive_and_finite(quantity: float) -> None:
    with pytest.raises(ValueError, match=r"^quantity must be"):
        OrderTracker("intent-1", quantity)


# --- cancels and their races --------------------------------------------------------------------------------
def test_fill_wins_the_race_against_the_cancel() -> None:
    order, sink = make(state="pending_cancel")
    assert order.fill("t1", 0.3, 100.0).target == "pending_cancel"
    assert order.fill("t2", 0.7, 100.0).target == "filled"
    out = order.cancel_confirmed()  # the venue's cancel answer arrives after the fill
    assert out.stale
    assert order.state == "filled"
    assert sink.records[-1]["reason"] == "stale_for_terminal"


def test_late_fills_after_a_cancel() -> None:
    order, _ = make(state="pending_cancel")
    assert order.cancel_confirmed().target == "canceled"
    out = order.fill("late1", 0.4, 100.0)  # a partial late fill: recorded, stays canceled
    assert (out.accepted, out.source, out.target) == (True, "canceled", "canceled")
    assert order.filled_qty == 0.4
    assert not order.is_live
    out = order.fill("late2", 0.6, 100.0)  # the rest: the venue's fill is the truth
    assert (out.accepted, out.target) == (True, "filled")


def test_late_fills_after_an_expiry() -> None:
    """An IOC's REST answer (expired) overtakes its trades on the user stream: the fills still count."""
    order, sink = make(state="submitting")
    order.ack()
    assert order.expire().target == "expired"
    out = order.fill("t1", 0.6, 100.0)
    assert (out.accepted, out.source, out.target, order.filled_qty) == (True, "expired", "expired", 0.6)
    assert order.fill("t2", 0.4, 100.0).target == "filled"
    assert sink.records == []


def test_cancel_rejected_restores_the_previous_state() -> None:
    order, _ = make(state="pending_cancel")
    assert order.cancel_rejected().target == "accepted"
    order, _ = make(state="partially_filled")
    assert order.cancel_request().target == "pending_cancel"
    assert order.cancel_rejected().target == "partially_filled"


def test_transport_error_during_a_cancel_keeps_it_pending() -> None:
    order, _ = make(state="pending_cancel")
    for _ in range(5):
        assert order.transport_error().target == "pending_cancel"  # retries running out: still pending


def test_unsolicited_cancel_and_expiry() -> None:
    for state in ("accepted", "partially_filled"):
        order, _ = make(state=state)
        assert order.cancel_confirmed().target == "canceled"
    for state in ("accepted", "partially_filled", "pending_cancel"):
        order, _ = make(state=state)
        assert order.expire().target == "expired"
        assert not order.is_live


# --- venue quantity reductions (NautilusTrader #3983) -------------------------------------------------------
def test_reduce_only_shrunk_to_the_filled_quantity_completes() -> None:
    order, _ = make(state="partially_filled")  # 0.4 of 1.0 filled
    out = order.qty_reduced(0.4)
    assert (out.accepted, out.source, out.target) == (True, "partially_filled", "filled")
    assert order.quantity == order.filled_qty == 0.4
    assert not order.is_live


def test_reduce_only_shrunk_with_a_remainder() -> None:
    order, _ = make(state="partially_filled")
    assert order.qty_reduced(0.7).target == "partially_filled"
    assert order.quantity == 0.7
    assert order.fill("t2", 0.4, 100.0).overfill  # 0.4 + 0.4 > 0.7
    assert order.fill("t3", 0.3, 100.0).target == "filled"


def test_reduction_before_any_fill_and_while_a_cancel_is_pending() -> None:
    order, _ = make(state="accepted")
    assert order.qty_reduced(0.5).target == "accepted"
    assert order.quantity == 0.5
    order, _ = make(state="partially_filled")
    order.cancel_request()
    assert order.qty_reduced(0.8).target == "pending_cancel"
    assert order.qty_reduced(0.4).target == "filled"  # a later rejected cancel cannot leave it stuck


def test_reduction_in_flight_is_refused_and_bad_reductions_raise() -> None:
    order, sink = make(state="submitting")
    assert order.qty_reduced(0.5).refusal == "not_accepted"
    assert order.quantity == 1.0
    assert sink.reasons == ["not_accepted"]
    order, _ = make(state="partially_filled")
    with pytest.raises(ValueError, match="below the filled quantity"):
        order.qty_reduced(0.3)
    with pytest.raises(ValueError, match="not a reduction"):
        order.qty_reduced(1.5)
    with pytest.raises(ValueError, match=r"^new_qty must be"):
        order.qty_reduced(math.nan)


# --- rejection after acceptance, stale reports, transport errors --------------------------------------------
def test_rejection_after_acceptance() -> None:
    order, _ = make(state="accepted")
    assert order.reject().target == "rejected"
    assert not order.is_live


@pytest.mark.parametrize("state", sorted(ORDER_TABLE.states))
def test_transport_error_is_never_terminal(state: str) -> None:
    order, _ = make(state=state)
    out = order.transport_error()
    if out.accepted:
        assert out.target not in ORDER_TABLE.terminal
    else:
        assert order.state == state


@pytest.mark.parametrize("state", sorted(ORDER_TABLE.terminal))
@pytest.mark.parametrize("report", SIMPLE_REPORTS)
def test_reports_on_a_terminal_order_are_stale_and_emitted(state: str, report: str) -> None:
    clock = SimClock(5_000)
    order, sink = make(state=state, clock=clock)
    out = getattr(order, report)()
    assert out == OrderOutcome(report, False, state, state, "stale_for_terminal")
    assert out.stale
    assert order.state == state
    assert sink.records == [
        {
            "event": "order.transition_refused",
            "machine": "order",
            "state": state,
            "trigger": report,
            "reason": "stale_for_terminal",
            "client_order_id": order.client_order_id,
            "intent_id": "intent-1",
            "ts_ms": 5_000,
        }
    ]


def test_refusals_in_live_states_are_not_stale() -> None:
    order, sink = make(state="accepted")
    out = order.ack()  # a duplicated ack
    assert (out.accepted, out.refusal, out.stale) == (False, "not_accepted", False)
    assert set(sink.records[0]) >= REFUSAL_KEYS


def test_clock_stamps_accepted_transitions() -> None:
    clock = SimClock(1_000)
    order, _ = make(clock=clock)
    assert order.created_ms == order.updated_ms == 1_000
    clock.advance(ms=250)
    order.submit()
    assert order.updated_ms == 1_250
    clock.advance(ms=250)
    order.ack()
    clock.advance(ms=250)
    order.lookup_found()  # refused in accepted: not stamped
    assert order.updated_ms == 1_500
    assert OrderTracker("i", 1.0).updated_ms is None


# --- client order ids ---------------------------------------------------------------------------------------
def test_client_order_id_is_deterministic_short_and_venue_safe() -> None:
    cid = client_order_id("intent-1", 3)
    assert cid == client_order_id("intent-1", 3)
    assert cid.startswith("ecl-")
    assert len(cid) <= 32
    assert re.fullmatch(r"[A-Za-z0-9_-]+", cid)
    assert BINANCE_CLIENT_ID.match(cid)
    assert client_order_id("intent-1", 3, prefix="abcdefg").startswith("abcdefg-")
    assert len(client_order_id("x" * 500, 10**9, prefix="abcdefg")) == 32


def test_client_order_ids_differ_across_intents_and_attempts() -> None:
    ids = {client_order_id(f"intent-{i}", a) for i in range(20_000) for a in range(3)}
    assert len(ids) == 60_000
    # ambiguity check: no separator trick makes two (intent, attempt) pairs collide
    assert client_order_id("1:x", 0) != client_order_id("x", 1)
    assert client_order_id("a", 0, "ecl") != client_order_id("a", 0, "ecm")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("", 0), "intent_id"),
        (("i", -1), "attempt"),
        (("i", True), "attempt"),
        (("i", 0, ""), "prefix"),
        (("i", 0, "abcdefgh"), "prefix"),
        (("i", 0, "a.b"), "prefix"),
    ],
)
def test_client_order_id_rejects_bad_inputs(args: tuple[Any, ...], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        client_order_id(*args)


# --- one live order per intent ------------------------------------------------------------------------------
def test_one_live_order_per_intent() -> None:
    sink = Sink()
    intent = IntentOrders("intent-9", on_event=sink)
    first = intent.new_order(1.0)
    assert intent.live is first
    with pytest.raises(OrderRuleError, match="still live \\(created\\)"):
        intent.new_order(1.0)
    first.submit()
    first.ack()
    first.fill("t1", 0.4, 100.0)
    first.cancel_request()
    with pytest.raises(OrderRuleError, match="still live \\(pending_cancel\\)"):
        intent.new_order(0.6)
    first.cancel_confirmed()
    second = intent.new_order(0.6)
    assert (second.attempt, intent.live, intent.orders) == (1, second, (first, second))
    assert intent.get(second.client_order_id) is second
    assert intent.get(client_order_id("intent-9", 5)) is None
    assert first.fill("late", 0.2, 100.0).target == "canceled"  # a late fill on the canceled attempt counts
    assert intent.filled_qty == pytest.approx(0.6)
    second.submit()
    second.reject()
    second.ack()
    assert sink.records[-1]["client_order_id"] == second.client_order_id  # the sink is shared by the attempts


def test_intent_orders_validates_its_inputs() -> None:
    with pytest.raises(ValueError, match="intent_id"):
        IntentOrders("")
    with pytest.raises(ValueError, match="quantity"):
        IntentOrders("i").new_order(0.0)
    intent = IntentOrders("i", prefix="bot1")
    assert intent.new_order(1.0).client_order_id == client_order_id("i", 0, "bot1")


def test_a_stale_reduction_on_a_filled_order_changes_nothing() -> None:
    order, sink = make(state="filled")
    out = order.qty_reduced(0.5 + 0.5)
    assert (out.stale, order.quantity, order.filled_qty) == (True, 1.0, 1.0)
    assert sink.reasons == ["stale_for_terminal"]
