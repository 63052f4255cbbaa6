"""Idempotent cancel and the replace manager through the in-process simulator."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import numpy as np

from eclipse.contracts import (
    CancelRecorded,
    IntentKind,
    OrderAcked,
    OrderResolved,
    OrderSubmitting,
    RouterOutcome,
    RouterRequest,
)
from eclipse.execution.router import ReplaceManager, ReplaceOutcome, RetryPolicy, RetryRule, RetryTable
from eclipse.execution.router.cancel import CancelResult, cancel_order
from eclipse.execution.router.replace import replacement_id, split_id
from eclipse.venues.faulty import Fault, FaultPlan
from eclipse.venues.sim.fills import fill
from eclipse.venues.types import OrderStatus, OrderType, Side

from .router_kit import START, SYM, Kit, frame, make_kit, request, run

FAST = RetryPolicy(RetryTable((("network", RetryRule(2, 0.1, 1.0, 1)),)), base_s=0.05, max_delay_s=0.5)


def resting(kit: Kit, cid: str, qty: str = "0.01", price: str = "40000") -> RouterRequest:
    """A buy limit far below the market (rests), placed through the router."""
    req = request(cid, qty=qty, type_=OrderType.LIMIT, price=Decimal(price))
    res = run(kit.router.submit(req))
    assert res.outcome is RouterOutcome.PLACED
    assert res.report is not None
    assert res.report.status is OrderStatus.OPEN
    return res.request


def cancel(kit: Kit, cid: str, conditional: bool = False) -> CancelResult:
    return run(cancel_order(kit.router, SYM, cid, conditional=conditional, intent_id=f"I-{cid}"))


# --- cancel ---------------------------------------------------------------------------------------------


def test_cancel_of_an_open_order_and_again_is_success_both_times() -> None:
    kit = make_kit()
    resting(kit, "c1")
    first = cancel(kit, "c1")
    assert (first.confirmed, first.why) == (True, "canceled")
    assert first.report is not None
    assert first.report.status is OrderStatus.CANCELED
    n = len(kit.journal.events)
    again = cancel(kit, "c1")  # ORDER_NOT_FOUND from the venue, lookup says canceled
    assert again.confirmed
    assert again.report is not None
    assert again.report.status is OrderStatus.CANCELED
    assert again.lookups == 1
    tail = kit.journal.events[n:]
    assert [type(e).__name__ for e in tail] == ["CancelRecorded", "OrderResolved", "CancelRecorded"]
    assert isinstance(tail[0], CancelRecorded)
    assert tail[0].requested
    assert isinstance(tail[2], CancelRecorded)
    assert not tail[2].requested
    assert kit.live() == []


def test_cancel_of_a_filled_order_reports_the_fill() -> None:
    kit = make_kit()
    run(kit.router.submit(request("m1")))
    res = cancel(kit, "m1")
    assert (res.confirmed, res.why, res.filled) == (True, "already_terminal", Decimal("0.01"))
    resolved = [e for e in kit.journal.events if isinstance(e, OrderResolved)]
    assert (resolved[-1].status, resolved[-1].filled) == (OrderStatus.FILLED, Decimal("0.01"))


def test_cancel_of_an_order_the_venue_never_saw_is_success() -> None:
    kit = make_kit()
    res = cancel(kit, "ghost")
    assert (res.confirmed, res.why, res.report, res.filled) == (True, "unknown_to_venue", None, Decimal(0))


def test_cancel_through_faults() -> None:
    plan = FaultPlan.script({"cancel_order": [Fault.EXECUTED_UNKNOWN]})
    kit = make_kit(plan, policy=FAST)
    resting(kit, "c2")
    res = cancel(kit, "c2")
    assert (res.confirmed, res.why, res.tries, res.lookups) == (True, "canceled", 1, 1)
    plan = FaultPlan.script({"cancel_order": [Fault.NETWORK, Fault.EXCHANGE_BUSY]})
    kit = make_kit(plan, policy=FAST)
    resting(kit, "c3")
    res = cancel(kit, "c3")
    assert (res.confirmed, res.tries) == (True, 3)
    assert kit.live() == []


def test_cancel_that_cannot_be_confirmed_says_so() -> None:
    kit = make_kit(FaultPlan.script({"cancel_order": [Fault.NETWORK] * 10}), policy=FAST)
    resting(kit, "c4")
    res = cancel(kit, "c4")
    assert (res.confirmed, res.why, res.tries) == (False, "retries_exhausted", 3)
    assert kit.live() == ["c4"]
    assert len(kit.events("order.cancel.unconfirmed")) == 1
    assert kit.events("order.create.retry_alert")[0]["stage"] == "cancel"
    plan = FaultPlan.script({"cancel_order": [Fault.LOST_REQUEST], "fetch_order": [Fault.NETWORK] * 10})
    kit = make_kit(plan, policy=FAST)
    resting(kit, "c5")
    res = cancel(kit, "c5")
    assert (res.confirmed, res.why) == (False, "lookup_failed")


# --- replace -------------------------------------------------------------------------------------------


def test_replace_moves_the_order_with_one_live_order_at_any_time() -> None:
    kit = make_kit()
    live = resting(kit, "r")
    mgr = ReplaceManager(kit.router, max_attempts=3)
    res = run(mgr.replace(live, price=Decimal(41000)))
    assert res.outcome is ReplaceOutcome.REPLACED
    assert res.placed is not None
    assert res.placed.report is not None
    assert res.placed.report.price == Decimal(41000)
    assert res.placed.request.client_order_id == "r.r1"
    assert kit.live() == ["r.r1"]
    assert kit.venue.max_live_per_intent == 1
    ev = kit.events("order.replaced")[0]
    assert (ev["client_order_id"], ev["new_client_order_id"], ev["attempt"]) == ("r", "r.r1", 1)
    res2 = run(mgr.replace(res.placed.request, price=Decimal(42000), qty=Decimal("0.02")))
    assert res2.placed is not None
    assert res2.placed.request.client_order_id == "r.r2"
    assert res2.placed.request.qty == Decimal("0.02")
    assert kit.live() == ["r.r2"]


def test_replace_gives_up_after_max_attempts_without_touching_the_live_order() -> None:
    kit = make_kit()
    live = resting(kit, "g")
    mgr = ReplaceManager(kit.router, max_attempts=2)
    for _ in range(2):
        res = run(mgr.replace(live, price=Decimal(40500)))
        assert res.outcome is ReplaceOutcome.REPLACED
        assert res.placed is not None
        live = res.placed.request
    res = run(mgr.replace(live, price=Decimal(40100)))
    assert (res.outcome, res.attempt) == (ReplaceOutcome.GAVE_UP, 2)
    assert kit.live() == ["g.r2"]
    (ev,) = kit.events("order.replace.gave_up")
    assert (ev["why"], ev["max_attempts"]) == ("max_attempts", 2)
    assert mgr.attempts("I-g") == 2
    zero = ReplaceManager(kit.router, max_attempts=0)
    assert run(zero.replace(live, price=Decimal(40200))).outcome is ReplaceOutcome.GAVE_UP


def test_a_fill_that_raced_the_cancel_completes_the_replace() -> None:
    kit = make_kit()
    f = frame()
    limit = kit.price() + 100  # a sell above the market: the market rises through it later
    crossed = START + 1 + int(np.argmax(f.high[START + 1 :] > float(limit) + 1))
    assert f.high[crossed] > float(limit)
    placed = run(kit.router.submit(request("f", Side.SELL, type_=OrderType.LIMIT, price=limit)))
    assert placed.report is not None
    assert placed.report.status is OrderStatus.OPEN
    kit.clock.set_ms(int(f.ts_ms[crossed]) + 59_000)  # it fills before the cancel reaches the venue
    res = run(ReplaceManager(kit.router).replace(placed.request, price=limit + 100))
    assert (res.outcome, res.filled) == (ReplaceOutcome.COMPLETED, Decimal("0.01"))
    assert res.placed is None
    assert kit.live() == []
    assert kit.orders_per_cid() == {"f": 1}


def test_a_partial_fill_sizes_the_replacement_from_the_venue() -> None:
    kit = make_kit()
    live = resting(kit, "p", qty="0.01")
    engine = kit.paper.engine
    (rec,) = [o for o in engine.regular.orders.values() if o.client_id == "p"]
    fill(engine, rec, Decimal("0.004"), Decimal(40000), True, engine.now_ms())  # fill behind our back
    res = run(ReplaceManager(kit.router).replace(live, price=Decimal(40100)))
    assert res.outcome is ReplaceOutcome.REPLACED
    assert res.filled == Decimal("0.004")
    canceled = [e for e in kit.journal.events if isinstance(e, OrderResolved) and e.client_order_id == "p"]
    assert [(e.status, e.filled) for e in canceled] == [(OrderStatus.CANCELED, Decimal("0.004"))]
    assert res.placed is not None
    assert res.placed.request.qty == Decimal("0.006")
    assert kit.live() == ["p.r1"]


def test_no_replacement_when_the_cancel_is_not_confirmed() -> None:
    kit = make_kit(FaultPlan.script({"cancel_order": [Fault.NETWORK] * 10}), policy=FAST)
    live = resting(kit, "u")
    res = run(ReplaceManager(kit.router).replace(live, price=Decimal(40100)))
    assert res.outcome is ReplaceOutcome.CANCEL_UNCONFIRMED
    assert res.placed is None
    assert kit.live() == ["u"]
    assert kit.venue.calls["create_order"] == 1
    assert kit.events("order.replace.failed")[0]["why"] == "cancel_unconfirmed"


def test_a_refused_replacement_is_reported() -> None:
    kit = make_kit(max_notional=Decimal(500))
    live = resting(kit, "b")
    res = run(ReplaceManager(kit.router).replace(live, qty=Decimal("0.02"), price=Decimal(40000)))  # 800
    assert res.outcome is ReplaceOutcome.PLACE_FAILED
    assert res.placed is not None
    assert res.placed.why == "router_notional_cap"
    assert kit.live() == []


def test_a_stop_is_moved_as_a_close_position_stop() -> None:
    kit = make_kit()
    run(kit.router.submit(request("e")))
    px = kit.price()
    stop = request(
        "sl", Side.SELL, None, kind=IntentKind.STOP_LOSS, type_=OrderType.STOP_MARKET,
        trigger_price=px * Decimal("0.97"),
    )  # fmt: skip
    placed = run(kit.router.submit(stop))
    assert placed.outcome is RouterOutcome.PLACED
    res = run(ReplaceManager(kit.router).replace(placed.request, trigger_price=px * Decimal("0.99")))
    assert res.outcome is ReplaceOutcome.REPLACED
    assert res.placed is not None
    assert res.placed.report is not None
    assert res.placed.report.close_position
    assert res.placed.report.conditional
    assert kit.live() == ["sl.r1"]


def test_replacement_ids() -> None:
    assert replacement_id("abc", 1) == "abc.r1"
    assert replacement_id("abc.r1", 2) == "abc.r2"
    assert replacement_id("a.rx", 3) == "a.rx.r3"
    assert (split_id("a.r12"), split_id("a"), split_id("a.rx")) == (("a", 12), ("a", 0), ("a.rx", 0))
    assert dataclasses.replace(request("x"), client_order_id=replacement_id("x", 9)).client_order_id == "x.r9"


# --- unresolved replacements and replacement ids --------------------------------------------------------


def test_an_unresolved_replacement_blocks_the_intent_until_a_lookup_finds_it() -> None:
    # the replacement lands but its create times out and its lookups fail: it may be live
    plan = FaultPlan.script(
        {"create_order": [None, Fault.EXECUTED_UNKNOWN], "fetch_order": [Fault.NETWORK] * 6}
    )
    kit = make_kit(plan, policy=FAST)
    live = resting(kit, "r")
    mgr = ReplaceManager(kit.router, max_attempts=3)
    first = run(mgr.replace(live, price=Decimal(41000)))
    assert (first.outcome, first.why) == (ReplaceOutcome.PLACE_UNRESOLVED, "place_unresolved")
    assert first.placed is not None
    assert first.placed.outcome is RouterOutcome.UNRESOLVED
    assert first.placed.request.client_order_id == "r.r1"
    assert mgr.pending("I-r") == first.placed.request
    assert kit.live() == ["r.r1"]
    # a retry while the lookups still fail: refused, nothing cancelled or sent, no attempt spent
    creates = kit.venue.calls["create_order"]
    again = run(mgr.replace(live, price=Decimal(41000)))
    assert (again.outcome, again.why) == (ReplaceOutcome.PLACE_UNRESOLVED, "replacement_unresolved")
    assert again.placed is first.placed
    assert kit.venue.calls["create_order"] == creates
    assert mgr.attempts("I-r") == 1
    assert kit.live() == ["r.r1"]
    # the lookup answers: r.r1 is the live order, it is cancelled before r.r2 goes out
    third = run(mgr.replace(live, price=Decimal(41000)))
    assert third.outcome is ReplaceOutcome.REPLACED
    assert third.cancel is not None
    assert third.cancel.client_order_id == "r.r1"
    assert third.placed is not None
    assert third.placed.request.client_order_id == "r.r2"
    assert kit.live() == ["r.r2"]
    assert kit.venue.max_live_per_intent == 1
    assert mgr.pending("I-r") is None
    assert any(isinstance(e, OrderAcked) and e.client_order_id == "r.r1" for e in kit.journal.events)


def test_an_unresolved_replacement_that_never_landed_lets_the_replace_proceed() -> None:
    plan = FaultPlan.script({"create_order": [None, Fault.LOST_REQUEST], "fetch_order": [Fault.NETWORK] * 3})
    kit = make_kit(plan, policy=FAST)
    live = resting(kit, "n")
    mgr = ReplaceManager(kit.router)
    first = run(mgr.replace(live, price=Decimal(41000), qty=Decimal("0.02")))
    assert first.outcome is ReplaceOutcome.PLACE_UNRESOLVED
    assert kit.live() == []
    res = run(mgr.replace(live, price=Decimal(41000), qty=Decimal("0.02")))
    assert res.outcome is ReplaceOutcome.REPLACED
    assert res.placed is not None
    assert (res.placed.request.client_order_id, res.placed.request.qty) == ("n.r2", Decimal("0.02"))
    assert kit.live() == ["n.r2"]
    gone = [e for e in kit.journal.events if isinstance(e, OrderResolved) and e.client_order_id == "n.r1"]
    assert [e.status for e in gone] == [OrderStatus.REJECTED]


def test_replacement_ids_are_never_reused_across_a_restart() -> None:
    kit = make_kit()
    live = resting(kit, "k")
    first = run(ReplaceManager(kit.router).replace(live, price=Decimal(40100)))
    assert first.placed is not None
    assert first.placed.request.client_order_id == "k.r1"
    # a restarted manager (fresh counters) replacing the live k.r1 must not send k.r1 again
    second = run(ReplaceManager(kit.router).replace(first.placed.request, price=Decimal(40200)))
    assert second.outcome is ReplaceOutcome.REPLACED
    assert second.placed is not None
    assert second.placed.request.client_order_id == "k.r2"
    # ids the journal knows (incl. ones that never became the live order) are skipped too
    used = [e.client_order_id for e in kit.journal.events if isinstance(e, OrderSubmitting)] + ["k.r5"]
    restarted = ReplaceManager(kit.router, used_client_ids=used)
    third = run(restarted.replace(second.placed.request, price=Decimal(40300)))
    assert third.placed is not None
    assert third.placed.request.client_order_id == "k.r6"
    assert kit.live() == ["k.r6"]
    assert max(kit.orders_per_cid().values()) == 1
