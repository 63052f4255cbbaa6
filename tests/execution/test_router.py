"""The router through the in-process simulator: validation and shaping, the notional cap, retries by
taxonomy class, retry alerts and the journal protocol."""

from __future__ import annotations

from decimal import Decimal

from eclipse.contracts import (
    IntentKind,
    OrderAcked,
    OrderResolved,
    OrderSubmitting,
    OrderUnknown,
    RouterOutcome,
    RouterResult,
)
from eclipse.execution.router import RetryPolicy, RetryRule, RetryTable
from eclipse.execution.router.settings import load_router_settings
from eclipse.venues.errors import VenueErrorKind
from eclipse.venues.faulty import Fault, FaultPlan
from eclipse.venues.types import OrderStatus, OrderType, Side

from .router_kit import SYM, Kit, make_kit, request, run

K = VenueErrorKind


def fast_policy(**rules: RetryRule) -> RetryPolicy:
    base = {"network": RetryRule(3, 0.1, 1.0, 1), "exchange_busy": RetryRule(3, 0.2, 2.0, 1)}
    base.update(rules)
    return RetryPolicy(RetryTable(tuple(base.items())), base_s=0.05, max_delay_s=0.5)


def submit(kit: Kit, *args: object, **kw: object) -> RouterResult:
    return run(kit.router.submit(request(*args, **kw)))  # type: ignore[arg-type]


# --- validation and shaping -----------------------------------------------------------------------


def test_entry_is_placed_and_journaled_submitting_then_acked() -> None:
    kit = make_kit()
    res = submit(kit, "e1", qty="0.0109")
    assert res.outcome is RouterOutcome.PLACED
    assert res.report is not None
    assert res.report.status is OrderStatus.FILLED
    assert res.report.qty == Decimal("0.010")  # rounded down to the step before sending
    assert res.tries == 1
    sub, ack = kit.journal.events
    assert isinstance(sub, OrderSubmitting)
    assert (sub.client_order_id, sub.attempt, sub.qty, sub.reduce_only) == ("e1", 1, Decimal("0.010"), False)
    assert isinstance(ack, OrderAcked)
    assert (ack.order_id, ack.status) == (res.report.order_id, OrderStatus.FILLED)


def test_notional_cap_blocks_entries_above_it_and_never_calls_the_venue() -> None:
    kit = make_kit(max_notional=Decimal(300))
    res = submit(kit, "big", qty="0.01", ref_price=Decimal(47000))  # 470 > 300
    assert res.outcome is RouterOutcome.BLOCKED
    assert res.why == "router_notional_cap"
    (ev,) = kit.events("order.blocked")
    assert ev["why"] == "router_notional_cap"
    assert Decimal(str(ev["notional"])) == Decimal(470)
    assert Decimal(str(ev["cap"])) == Decimal(300)
    assert kit.venue.calls["create_order"] == 0
    assert kit.journal.events == []  # no order exists: nothing to journal
    assert submit(kit, "ok", qty="0.006").outcome is RouterOutcome.PLACED  # 282 <= 300
    # a limit entry is capped at its own price
    limit = submit(kit, "lim", qty="0.01", type_=OrderType.LIMIT, price=Decimal(25000))
    assert limit.outcome is RouterOutcome.PLACED  # 250 <= 300 although ref 470


def test_cap_zero_is_off() -> None:
    kit = make_kit(max_notional=Decimal(0))
    assert submit(kit, "huge", qty="0.2").outcome is RouterOutcome.PLACED


def test_exits_are_never_blocked_by_the_cap_and_are_forced_reduce_only() -> None:
    kit = make_kit(max_notional=Decimal(150))
    for i in range(3):
        assert submit(kit, f"e{i}", qty="0.003").outcome is RouterOutcome.PLACED  # 141 each
    res = submit(kit, "x1", Side.SELL, "0.009", kind=IntentKind.EXIT)  # 423 > cap, reduce_only not asked
    assert res.outcome is RouterOutcome.PLACED
    assert res.report is not None
    assert res.report.reduce_only
    subs = [e for e in kit.journal.events if isinstance(e, OrderSubmitting) and e.client_order_id == "x1"]
    assert [s.reduce_only for s in subs] == [True]
    assert run(kit.paper.fetch_positions()) == []
    assert kit.events("order.blocked") == []


def test_every_risk_reducing_kind_is_shaped() -> None:
    kit = make_kit()
    submit(kit, "e", qty="0.01")
    px = kit.price()
    sl = submit(
        kit, "sl", Side.SELL, None, kind=IntentKind.STOP_LOSS, type_=OrderType.STOP_MARKET,
        trigger_price=px * Decimal("0.98"),
    )  # fmt: skip
    assert sl.outcome is RouterOutcome.PLACED
    assert sl.report is not None
    assert sl.report.close_position
    assert not sl.report.reduce_only
    tp = submit(
        kit, "tp", Side.SELL, "0.005", kind=IntentKind.TAKE_PROFIT, type_=OrderType.TAKE_PROFIT_MARKET,
        trigger_price=px * Decimal("1.02"),
    )  # fmt: skip
    assert tp.report is not None
    assert tp.report.reduce_only
    assert tp.report.conditional
    fl = submit(kit, "fl", Side.SELL, "0.01", kind=IntentKind.FLATTEN)
    assert fl.report is not None
    assert fl.report.reduce_only
    assert fl.report.status is OrderStatus.FILLED


def test_entries_cannot_be_reduce_only() -> None:
    kit = make_kit()
    res = submit(kit, "e", qty="0.01", reduce_only=True)
    assert (res.outcome, res.why) == (RouterOutcome.BLOCKED, "entry_reduce_only")


def test_min_notional_and_precision_refusals_are_blocked_but_reduce_only_is_exempt() -> None:
    kit = make_kit()
    small = submit(kit, "s", qty="0.001")  # ~47 USDT < 100
    assert (small.outcome, small.why) == (RouterOutcome.BLOCKED, "min_notional")
    dust = submit(kit, "d", qty="0.0004")  # rounds to 0 < min_qty
    assert (dust.outcome, dust.why) == (RouterOutcome.BLOCKED, "precision")
    assert [e["why"] for e in kit.events("order.blocked")] == ["min_notional", "precision"]
    submit(kit, "e", qty="0.01")
    exit_small = submit(kit, "x", Side.SELL, "0.001", kind=IntentKind.EXIT)
    assert exit_small.outcome is RouterOutcome.PLACED
    no_price = submit(kit, "l", qty="0.01", type_=OrderType.LIMIT)
    assert (no_price.outcome, no_price.why) == (RouterOutcome.BLOCKED, "invalid_order")
    assert kit.venue.inner_calls["create_order"] == 2


def test_unknown_symbol_is_blocked() -> None:
    kit = make_kit()
    from dataclasses import replace

    res = run(kit.router.submit(replace(request("u"), symbol="ETH/USDT:USDT")))
    assert (res.outcome, res.why) == (RouterOutcome.BLOCKED, "market_unavailable")


def test_a_definitive_refusal_is_rejected_without_retry() -> None:
    kit = make_kit()
    res = submit(kit, "fat", qty="50")  # 2.3M notional: the paper account cannot margin it
    assert res.outcome is RouterOutcome.REJECTED
    assert res.error_kind is K.INSUFFICIENT_FUNDS
    assert res.tries == 1
    resolved = kit.journal.events[-1]
    assert isinstance(resolved, OrderResolved)
    assert (resolved.status, resolved.error_kind) == (OrderStatus.REJECTED, K.INSUFFICIENT_FUNDS)
    assert kit.events("order.rejected")[0]["why"] == "insufficient_funds"


# --- retries ----------------------------------------------------------------------------------------


def test_definitive_failures_are_resent_with_the_same_client_id_after_backoff() -> None:
    plan = FaultPlan.script({"create_order": [Fault.NETWORK, Fault.EXCHANGE_BUSY, Fault.TIMESTAMP]})
    kit = make_kit(plan, policy=fast_policy())
    t0 = kit.clock.now_ms()
    res = submit(kit, "r1")
    assert res.outcome is RouterOutcome.PLACED
    assert res.tries == 4
    subs = [e for e in kit.journal.events if isinstance(e, OrderSubmitting)]
    assert [(s.client_order_id, s.attempt) for s in subs] == [("r1", 1), ("r1", 2), ("r1", 3), ("r1", 4)]
    retries = kit.events("order.create.retry")
    assert [r["reason"] for r in retries] == ["network", "exchange_busy", "timestamp"]
    waited = sum(float(str(r["delay_s"])) for r in retries)
    assert abs((kit.clock.now_ms() - t0) / 1000 - waited) < 0.01
    assert kit.orders_per_cid() == {"r1": 1}
    assert kit.events("order.create.retry_alert") == []


def test_rate_limit_waits_at_least_retry_after() -> None:
    plan = FaultPlan.script({"create_order": [Fault.RATE_LIMITED]}, retry_after_s=7.0)
    kit = make_kit(plan, policy=fast_policy())
    t0 = kit.clock.now_ms()
    assert submit(kit, "rl").outcome is RouterOutcome.PLACED
    assert kit.clock.now_ms() - t0 >= 7000


def test_retry_alert_at_max_then_give_up_after_extra() -> None:
    plan = FaultPlan.script({"create_order": [Fault.NETWORK] * 10})
    kit = make_kit(plan, policy=fast_policy(network=RetryRule(2, 0.1, 1.0, 1)))
    res = submit(kit, "g1")
    assert (res.outcome, res.why, res.tries) == (RouterOutcome.REJECTED, "retries_exhausted", 3)
    (alert,) = kit.events("order.create.retry_alert")
    assert (alert["tries"], alert["reason"], alert["stage"], alert["extra_left"]) == (
        2,
        "network",
        "create",
        1,
    )
    assert alert["code"] == "injected:network"
    (gave_up,) = kit.events("order.create.gave_up")
    assert gave_up["tries"] == 3
    last = kit.journal.events[-1]
    assert isinstance(last, OrderResolved)
    assert (last.status, last.error_kind) == (OrderStatus.REJECTED, K.NETWORK)
    assert kit.orders_per_cid() == {}


def test_extra_tries_after_the_alert_can_still_succeed() -> None:
    plan = FaultPlan.script({"create_order": [Fault.EXCHANGE_BUSY] * 3})
    kit = make_kit(plan, policy=fast_policy(exchange_busy=RetryRule(2, 0.1, 1.0, 2)))
    res = submit(kit, "x")
    assert (res.outcome, res.tries) == (RouterOutcome.PLACED, 4)
    assert len(kit.events("order.create.retry_alert")) == 1


def test_eight_plus_two_network_failures_are_tolerated_within_the_time_budget() -> None:
    short = RetryPolicy(RetryTable((("network", RetryRule(8, 0.01, 0.05, 2)),)))  # the default counts
    kit = make_kit(FaultPlan.script({"create_order": [Fault.NETWORK] * 9}), policy=short)
    res = submit(kit, "n")
    assert (res.outcome, res.tries) == (RouterOutcome.PLACED, 10)
    assert [a["tries"] for a in kit.events("order.create.retry_alert")] == [8]
    kit2 = make_kit(FaultPlan.script({"create_order": [Fault.NETWORK] * 10}), policy=short)
    assert submit(kit2, "n").why == "retries_exhausted"


def test_the_time_budget_ends_a_retry_storm_before_the_protection_grace() -> None:
    # the original network=8:0.35:3:2 would back off ~10-20 s over 10 failures: the 10 s budget cuts it
    kit = make_kit(FaultPlan.script({"create_order": [Fault.NETWORK] * 100}))
    t0 = kit.clock.now_ms()
    res = submit(kit, "n")
    assert (res.outcome, res.why) == (RouterOutcome.REJECTED, "retry_budget")
    assert 2 <= res.tries < 10
    assert kit.clock.now_ms() - t0 <= 10_000
    (alert,) = kit.events("order.create.retry_alert")  # no max reached yet: the budget alerts once
    assert (alert["why"], alert["reason"], alert["stage"]) == ("retry_budget", "network", "create")
    (gave_up,) = kit.events("order.create.gave_up")
    assert gave_up["why"] == "retry_budget"
    resolved = kit.journal.events[-1]
    assert isinstance(resolved, OrderResolved)
    assert resolved.status is OrderStatus.REJECTED
    assert kit.venue.calls["create_order"] == res.tries


def test_the_time_budget_leaves_an_unsettled_unknown_outcome_unresolved() -> None:
    table = RetryTable((("network", RetryRule(50, 1.0, 2.0, 20)),))
    plan = FaultPlan.script({"create_order": [Fault.LOST_REQUEST], "fetch_order": [Fault.NETWORK] * 100})
    kit = make_kit(plan, policy=RetryPolicy(table, budget_s=5.0))
    t0 = kit.clock.now_ms()
    res = submit(kit, "u")
    assert (res.outcome, res.why) == (RouterOutcome.UNRESOLVED, "lookup_failed")
    assert kit.clock.now_ms() - t0 <= 5_000
    assert kit.venue.calls["create_order"] == 1  # never resent blindly
    assert kit.events("order.create.retry_alert")[0]["why"] == "retry_budget"


# --- unknown outcomes ---------------------------------------------------------------------------------


def test_executed_unknown_is_found_by_lookup_and_never_resent() -> None:
    kit = make_kit(FaultPlan.script({"create_order": [Fault.EXECUTED_UNKNOWN]}))
    res = submit(kit, "u1")
    assert (res.outcome, res.tries, res.lookups) == (RouterOutcome.PLACED, 1, 1)
    assert kit.venue.calls["create_order"] == 1
    kinds = [type(e).__name__ for e in kit.journal.events]
    assert kinds == ["OrderSubmitting", "OrderUnknown", "OrderAcked"]
    unknown = kit.journal.events[1]
    assert isinstance(unknown, OrderUnknown)
    assert unknown.error_kind is K.OUTCOME_UNKNOWN
    assert kit.orders_per_cid() == {"u1": 1}


def test_lost_request_is_resent_only_after_the_lookup_says_not_found() -> None:
    kit = make_kit(FaultPlan.script({"create_order": [Fault.LOST_REQUEST, Fault.LOST_REQUEST]}))
    res = submit(kit, "u2")
    assert (res.outcome, res.tries, res.lookups) == (RouterOutcome.PLACED, 3, 2)
    assert [(c.op, c.error) for c in kit.venue.log] == [
        ("create", K.OUTCOME_UNKNOWN), ("fetch", K.ORDER_NOT_FOUND),
        ("create", K.OUTCOME_UNKNOWN), ("fetch", K.ORDER_NOT_FOUND),
        ("create", None),
    ]  # fmt: skip
    assert kit.orders_per_cid() == {"u2": 1}


def test_duplicate_client_id_is_resolved_by_lookup() -> None:
    kit = make_kit(FaultPlan.script({"create_order": [Fault.EXECUTED_DUPLICATE]}))
    res = submit(kit, "d1")
    assert (res.outcome, res.tries) == (RouterOutcome.PLACED, 1)
    assert kit.orders_per_cid() == {"d1": 1}


def test_failing_lookups_are_retried_until_they_answer() -> None:
    plan = FaultPlan.script(
        {"create_order": [Fault.EXECUTED_UNKNOWN], "fetch_order": [Fault.NETWORK, Fault.EXCHANGE_BUSY]}
    )
    kit = make_kit(plan, policy=fast_policy())
    res = submit(kit, "l1")
    assert (res.outcome, res.lookups) == (RouterOutcome.PLACED, 3)
    assert kit.venue.calls["create_order"] == 1


def test_unknown_outcome_with_lookups_out_of_tries_is_unresolved_and_never_resent() -> None:
    for first in (Fault.EXECUTED_UNKNOWN, Fault.LOST_REQUEST):
        plan = FaultPlan.script({"create_order": [first], "fetch_order": [Fault.NETWORK] * 20})
        kit = make_kit(plan, policy=fast_policy(network=RetryRule(2, 0.1, 1.0, 1)))
        res = submit(kit, "z")
        assert (res.outcome, res.why, res.tries, res.lookups) == (
            RouterOutcome.UNRESOLVED, "lookup_failed", 1, 3,
        )  # fmt: skip
        assert kit.venue.calls["create_order"] == 1
        (alert,) = kit.events("order.create.retry_alert")
        assert (alert["stage"], alert["reason"]) == ("lookup", "network")
        assert len(kit.events("order.create.unresolved")) == 1
        assert not any(isinstance(e, OrderResolved | OrderAcked) for e in kit.journal.events)
        assert kit.orders_per_cid() == ({"z": 1} if first is Fault.EXECUTED_UNKNOWN else {})


def test_journal_is_written_before_each_venue_call() -> None:
    kit = make_kit(FaultPlan.script({"create_order": [Fault.NETWORK]}), policy=fast_policy())
    seen: list[int] = []
    inner = kit.venue.create_order

    async def spy(req):  # type: ignore[no-untyped-def]
        seen.append(len([e for e in kit.journal.events if isinstance(e, OrderSubmitting)]))
        return await inner(req)

    kit.venue.create_order = spy  # type: ignore[method-assign]
    assert submit(kit, "j").outcome is RouterOutcome.PLACED
    assert seen == [1, 2]  # the n-th call saw n Submitting records already journaled
    assert SYM in {e.symbol for e in kit.journal.events if isinstance(e, OrderSubmitting)}


def test_knobs_drive_the_router_end_to_end() -> None:
    env = {
        "ROUTER_NOTIONAL_CAP": "200",  # legacy alias
        "ROUTER_RETRY_POLICY": "network=1:0.1:0.1:0",
        "ROUTER_RETRY_BASE_SEC": "2",
        "ROUTER_RETRY_MAX_DELAY_SEC": "2",
    }
    s = load_router_settings(env)
    plan = FaultPlan.script({"create_order": [Fault.RATE_LIMITED, None, Fault.NETWORK]}, retry_after_s=None)
    kit = make_kit(plan, policy=s.policy, max_notional=s.max_notional)
    assert submit(kit, "cap", qty="0.005").why == "router_notional_cap"  # 235 > 200
    t0 = kit.clock.now_ms()
    assert submit(kit, "rl", qty="0.004").outcome is RouterOutcome.PLACED  # rate_limited: base-knob backoff
    assert 1000 <= kit.clock.now_ms() - t0 <= 2000
    gave_up = submit(kit, "nw", qty="0.004")  # network max 1, extra 0: alert and give up at once
    assert (gave_up.outcome, gave_up.why, gave_up.tries) == (RouterOutcome.REJECTED, "retries_exhausted", 1)
    assert [a["reason"] for a in kit.events("order.create.retry_alert")] == ["network"]
