"""The engine's orders are order machines driven by journal records (:class:`OrderLedger`): the fold, the
refusals it reports, attribution by venue id in its id space (an algo id never matches a fill), and the link
from a triggered conditional to the regular order it became."""

from __future__ import annotations

from decimal import Decimal

from eclipse.contracts import (
    CancelRecorded,
    FillRecorded,
    IntentKind,
    OrderAcked,
    OrderResolved,
    OrderSubmitting,
    OrderUnknown,
    TransitionRefused,
)
from eclipse.execution.tracking import CLOSE_POSITION_QTY, OrderLedger
from eclipse.venues.errors import VenueErrorKind
from eclipse.venues.types import Fill, IdSpace, OrderStatus, OrderType, Side, VenueOrderId

SYM = "BTC/USDT:USDT"
D = Decimal
QTY = D("0.010")


def submitting(cid: str, kind: IntentKind = IntentKind.ENTRY, otype: OrderType = OrderType.MARKET,
               qty: Decimal | None = QTY, intent: str = "E-1") -> OrderSubmitting:  # fmt: skip
    side = Side.BUY if kind is IntentKind.ENTRY else Side.SELL
    trig = D(39_000) if otype.conditional else None
    return OrderSubmitting(
        1, intent, cid, kind, SYM, side, otype, qty, None, trig, kind.reduces_risk, False, 1
    )


def fill(tid: str, oid: str, qty: str = "0.010", cid: str | None = None, side: Side = Side.BUY) -> Fill:
    return Fill(tid, oid, SYM, side, D(40_000), D(qty), D("0.2"), "USDT", 5, client_order_id=cid)


def ledger() -> tuple[OrderLedger, list[TransitionRefused]]:
    refusals: list[TransitionRefused] = []
    return OrderLedger(on_refusal=refusals.append), refusals


def test_a_market_entry_runs_submit_ack_fill() -> None:
    led, refused = ledger()
    o = led.apply(submitting("E-1-0"))
    assert o is not None
    assert o.state == "submitting"
    assert o.live
    led.apply(OrderAcked(2, "E-1-0", "7", OrderStatus.FILLED, D("0.010"), D("0.010")))
    assert o.state == "accepted"  # a FILLED report fills nothing: only fills do
    assert o.uncounted
    assert o.venue_id == VenueOrderId(SYM, IdSpace.ORDER, "7")
    assert led.owner(fill("t1", "7")) is o  # by venue order id (no client id on the fill)
    led.apply(FillRecorded(3, "E-1-0", fill("t1", "7")))
    assert (o.state, o.filled, o.counted, o.live, o.uncounted) == (
        "filled",
        D("0.010"),
        D("0.010"),
        False,
        False,
    )
    assert refused == []


def test_unknown_outcome_then_proven_absent_then_a_new_attempt_with_the_same_client_id() -> None:
    led, refused = ledger()
    o = led.apply(submitting("E-1-0"))
    assert o is not None
    led.apply(OrderUnknown(2, "E-1-0", VenueErrorKind.OUTCOME_UNKNOWN, "timeout"))
    assert o.state == "unknown"
    led.apply(OrderResolved(3, "E-1-0", OrderStatus.REJECTED, VenueErrorKind.ORDER_NOT_FOUND, filled=D(0)))
    assert o.state == "absent"
    assert not o.live
    led.apply(submitting("E-1-0"))  # the router resends as the next attempt
    assert (o.state, o.machine.attempt) == ("submitting", 1)
    assert refused == []


def test_a_crash_mid_submit_is_unknown_then_absent() -> None:
    led, refused = ledger()
    o = led.apply(submitting("E-1-0"))
    assert o is not None
    led.apply(OrderResolved(2, "E-1-0", OrderStatus.REJECTED, VenueErrorKind.ORDER_NOT_FOUND, filled=D(0)))
    assert o.state == "absent"
    assert refused == []


def test_a_resend_of_the_same_submission_fires_nothing_and_a_submit_while_live_is_refused() -> None:
    led, refused = ledger()
    o = led.apply(submitting("E-1-0"))
    assert o is not None
    led.apply(submitting("E-1-0"))  # a definitive retryable refusal, then the same client id again
    assert o.state == "submitting"
    assert refused == []
    led.apply(OrderAcked(2, "E-1-0", "7", OrderStatus.OPEN, D(0)))
    led.apply(submitting("E-1-0"))  # never sound: the order is working
    assert o.state == "accepted"
    assert [(r.machine, r.subject, r.state, r.trigger, r.reason) for r in refused] == [
        ("order", "E-1-0", "accepted", "submit", "not_accepted")
    ]


def test_a_fill_refused_by_the_machine_is_still_counted_and_reported() -> None:
    led, refused = ledger()
    led.apply(submitting("E-1-0"))
    led.apply(OrderResolved(2, "E-1-0", OrderStatus.REJECTED, VenueErrorKind.INVALID_ORDER, filled=D(0)))
    o = led.orders["E-1-0"]
    led.apply(FillRecorded(3, "E-1-0", fill("t1", "7", cid="E-1-0")))  # the venue says otherwise
    assert o.state == "rejected"
    assert o.filled == 0
    assert o.counted == D("0.010")  # the book counts the venue's fill: the contradiction is reported
    assert [(r.state, r.trigger, r.reason) for r in refused] == [("rejected", "fill", "stale_for_terminal")]


def test_the_same_final_answer_twice_changes_nothing() -> None:
    led, refused = ledger()
    led.apply(submitting("E-1-0"))
    led.apply(OrderResolved(2, "E-1-0", OrderStatus.REJECTED, VenueErrorKind.INVALID_ORDER, filled=D(0)))
    led.apply(OrderResolved(3, "E-1-0", OrderStatus.REJECTED, VenueErrorKind.ORDER_NOT_FOUND, filled=D(0)))
    assert led.orders["E-1-0"].state == "rejected"
    assert refused == []


def test_a_cancel_of_a_working_order() -> None:
    led, refused = ledger()
    led.apply(submitting("E-1-sl-1", IntentKind.STOP_LOSS, OrderType.STOP_MARKET))
    led.apply(OrderAcked(2, "E-1-sl-1", "5", OrderStatus.OPEN, D(0)))
    led.apply(CancelRecorded(3, "E-1-sl-1", requested=True))
    o = led.orders["E-1-sl-1"]
    assert o.state == "pending_cancel"
    led.apply(CancelRecorded(3, "E-1-sl-1", requested=True))  # asked again: the same pending cancel
    led.apply(OrderResolved(4, "E-1-sl-1", OrderStatus.CANCELED, filled=D(0)))
    assert o.state == "canceled"
    assert refused == []


def test_algo_ids_and_order_ids_never_match_each_other() -> None:
    """The ids coincide (both sequences at 1): a fill of regular order 1 is the entry's, never the stop's."""
    led, _ = ledger()
    led.apply(submitting("E-1-0"))
    led.apply(OrderAcked(2, "E-1-0", "1", OrderStatus.PARTIALLY_FILLED, D("0.004")))
    led.apply(submitting("E-1-sl-1", IntentKind.STOP_LOSS, OrderType.STOP_MARKET, D("0.004")))
    led.apply(OrderAcked(3, "E-1-sl-1", "1", OrderStatus.OPEN, D(0)))
    stop = led.orders["E-1-sl-1"]
    assert stop.venue_id == VenueOrderId(SYM, IdSpace.ALGO, "1")
    assert led.owner(fill("t2", "1", "0.006")) is led.orders["E-1-0"]
    assert led.by_venue_id(VenueOrderId(SYM, IdSpace.ALGO, "1")) is stop


def test_a_triggered_stop_is_linked_to_the_order_it_became_and_its_fills_are_the_stops() -> None:
    led, refused = ledger()
    led.apply(submitting("E-1-sl-1", IntentKind.STOP_LOSS, OrderType.STOP_MARKET))
    led.apply(OrderAcked(2, "E-1-sl-1", "1000000001", OrderStatus.OPEN, D(0)))
    stop = led.orders["E-1-sl-1"]
    stray = fill("t9", "42", side=Side.SELL)
    assert led.owner(stray) is None  # the trigger is not known yet: the fill cannot be attributed
    led.apply(OrderAcked(3, "E-1-sl-1", "1000000001", OrderStatus.TRIGGERED, D(0), None, "42"))
    assert stop.state == "triggered"
    assert stop.live
    assert stop.actual_id == VenueOrderId(SYM, IdSpace.ORDER, "42")
    assert led.owner(stray) is stop
    led.apply(FillRecorded(4, "E-1-sl-1", stray))
    assert stop.state == "filled"
    assert stop.filled == D("0.010")
    assert refused == []


def test_a_triggered_reduce_only_stop_cut_short_by_the_venue_completes_with_what_it_executed() -> None:
    led, refused = ledger()
    led.apply(submitting("E-1-sl-1", IntentKind.STOP_LOSS, OrderType.STOP_MARKET))
    led.apply(OrderAcked(2, "E-1-sl-1", "9", OrderStatus.OPEN, D(0)))
    led.apply(OrderAcked(3, "E-1-sl-1", "9", OrderStatus.TRIGGERED, D("0.007"), D("0.007"), "42"))
    stop = led.orders["E-1-sl-1"]
    assert (stop.state, stop.machine.quantity) == ("triggered", D("0.007"))
    led.apply(FillRecorded(4, "E-1-sl-1", fill("t1", "42", "0.007", side=Side.SELL)))
    assert stop.state == "filled"
    assert refused == []


def test_a_close_position_order_is_unbounded_until_the_venue_says_its_quantity() -> None:
    led, _ = ledger()
    led.apply(submitting("E-1-sl-1", IntentKind.STOP_LOSS, OrderType.STOP_MARKET, None))
    stop = led.orders["E-1-sl-1"]
    assert stop.machine.quantity == CLOSE_POSITION_QTY
    led.apply(OrderAcked(2, "E-1-sl-1", "9", OrderStatus.TRIGGERED, D("0.010"), D("0.010"), "42"))
    led.apply(FillRecorded(3, "E-1-sl-1", fill("t1", "42", side=Side.SELL)))
    assert stop.state == "filled"


def test_a_trigger_found_by_a_cancel_and_a_trigger_after_a_restart_are_the_orders() -> None:
    led, refused = ledger()
    led.apply(submitting("E-1-tp-1", IntentKind.TAKE_PROFIT, OrderType.TAKE_PROFIT_MARKET))
    led.apply(OrderAcked(2, "E-1-tp-1", "3", OrderStatus.OPEN, D(0)))
    led.apply(CancelRecorded(3, "E-1-tp-1", requested=True))
    # the cancel lost the race: the lookup finds it triggered
    led.apply(OrderResolved(4, "E-1-tp-1", OrderStatus.TRIGGERED, filled=D(0), triggered_order_id="8"))
    tp = led.orders["E-1-tp-1"]
    assert tp.state == "triggered"
    assert tp.actual_id == VenueOrderId(SYM, IdSpace.ORDER, "8")
    # replayed after a restart, the same records give the same machine
    again, refused_again = ledger()
    for ev in (
        submitting("E-1-tp-1", IntentKind.TAKE_PROFIT, OrderType.TAKE_PROFIT_MARKET),
        OrderAcked(2, "E-1-tp-1", "3", OrderStatus.OPEN, D(0)),
        CancelRecorded(3, "E-1-tp-1", requested=True),
        OrderResolved(4, "E-1-tp-1", OrderStatus.TRIGGERED, filled=D(0), triggered_order_id="8"),
    ):
        again.apply(ev)
    assert again.orders["E-1-tp-1"].state == "triggered"
    assert again.owner(fill("t1", "8", side=Side.SELL)) is again.orders["E-1-tp-1"]
    assert refused == refused_again == []
