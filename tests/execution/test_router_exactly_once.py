"""Exactly-once under every fault kind: hypothesis draws fault scripts for creates, lookups and cancels; the
router must never double an order, never resend after an unknown outcome without a lookup saying "not
found", and never leave two live orders for one intent (replaces included)."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eclipse.contracts import OrderSubmitting, RouterOutcome, RouterRequest
from eclipse.execution.router import ReplaceManager, ReplaceOutcome, RetryPolicy, RetryRule, RetryTable
from eclipse.venues.faulty import Fault, FaultPlan
from eclipse.venues.types import OrderStatus, OrderType, Side

from .router_kit import Kit, make_kit, request, run

ALL_FAULTS = list(Fault)
READ_FAULTS = [Fault.NETWORK, Fault.EXCHANGE_BUSY, Fault.TIMESTAMP, Fault.RATE_LIMITED, Fault.LOST_REQUEST]
TIGHT = RetryPolicy(
    RetryTable(
        (
            ("network", RetryRule(2, 0.1, 0.5, 1)),
            ("exchange_busy", RetryRule(1, 0.1, 0.5, 1)),
            ("timestamp", RetryRule(1, 0.1, 0.5, 0)),
        )
    ),
    base_s=0.05,
    max_delay_s=0.5,
)
POLICIES = st.sampled_from([RetryPolicy(), TIGHT])
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def script(faults: list[Fault]) -> st.SearchStrategy[list[Fault | None]]:
    return st.lists(st.one_of(st.none(), st.sampled_from(faults)), max_size=14)


def check_exactly_once(kit: Kit) -> None:
    per_cid = kit.orders_per_cid()
    assert set(per_cid.values()) <= {1}, per_cid  # at most one venue order per client id
    assert kit.venue.resends_without_not_found() == []
    assert kit.venue.max_live_per_intent <= 1
    submitting = [e.client_order_id for e in kit.journal.events if isinstance(e, OrderSubmitting)]
    creates = [c.cid for c in kit.venue.log if c.op == "create"]
    assert submitting == creates  # one journal record before every venue call, same client id each time


@SETTINGS
@given(
    creates=script(ALL_FAULTS),
    lookups=script(READ_FAULTS),
    policy=POLICIES,
    seed=st.integers(0, 1000),
)
def test_submit_is_exactly_once_under_any_fault_script(
    creates: list[Fault | None], lookups: list[Fault | None], policy: RetryPolicy, seed: int
) -> None:
    kit = make_kit(
        FaultPlan.script({"create_order": creates, "fetch_order": lookups}, retry_after_s=2.0),
        seed=seed,
        policy=policy,
    )
    reqs = [
        request("m1", Side.BUY, "0.004"),
        request("l1", Side.BUY, "0.01", type_=OrderType.LIMIT, price=Decimal(40000)),
        request("m2", Side.SELL, "0.003"),
        request("m3", Side.BUY, "0.005"),
    ]

    async def go() -> None:
        for req in reqs:
            res = await kit.router.submit(req)
            at_venue = kit.orders_per_cid()[req.client_order_id]
            if res.outcome is RouterOutcome.PLACED:
                assert at_venue == 1
                assert res.report is not None
                assert res.report.client_order_id == req.client_order_id
            elif res.outcome is RouterOutcome.REJECTED:
                assert at_venue == 0  # every attempt was refused or proven absent
            else:
                assert res.outcome is RouterOutcome.UNRESOLVED
                assert at_venue <= 1
                assert res.why == "lookup_failed"

    run(go())
    check_exactly_once(kit)
    # fills never doubled: the position is the sum of the market orders that exist on the venue
    engine = kit.paper.engine
    signed = {"m1": Decimal("0.004"), "m2": Decimal("-0.003"), "m3": Decimal("0.005")}
    expected = sum((q for cid, q in signed.items() if kit.orders_per_cid()[cid]), Decimal(0))
    assert engine.pos_state["BTCUSDT"].qty == expected
    if kit.orders_per_cid()["l1"]:
        assert kit.live() == ["l1"]


@SETTINGS
@given(
    cancels=script(ALL_FAULTS),
    creates=script(ALL_FAULTS),
    lookups=script(READ_FAULTS),
    policy=POLICIES,
    seed=st.integers(0, 1000),
)
def test_replace_never_leaves_two_live_orders(
    cancels: list[Fault | None],
    creates: list[Fault | None],
    lookups: list[Fault | None],
    policy: RetryPolicy,
    seed: int,
) -> None:
    plan = FaultPlan.script(
        {"cancel_order": cancels, "create_order": [None, *creates], "fetch_order": lookups}
    )
    kit = make_kit(plan, seed=seed, policy=policy)
    mgr = ReplaceManager(kit.router, max_attempts=3)

    async def go() -> None:
        first = await kit.router.submit(
            request("q", Side.BUY, "0.01", type_=OrderType.LIMIT, price=Decimal(40000))
        )
        assert first.outcome is RouterOutcome.PLACED
        live: RouterRequest = first.request
        for price in (40100, 40200, 40300, 40400):
            res = await mgr.replace(live, price=Decimal(price))
            if res.outcome is ReplaceOutcome.REPLACED:
                assert res.placed is not None
                live = res.placed.request
            elif res.outcome is ReplaceOutcome.CANCEL_UNCONFIRMED:
                assert res.placed is None
            elif res.outcome is ReplaceOutcome.GAVE_UP:
                assert price == 40400
                assert res.placed is None
            elif res.outcome is ReplaceOutcome.PLACE_UNRESOLVED:
                assert res.placed is not None  # may be live: the next replace settles it first
                assert mgr.pending(live.intent_id) == res.placed.request
            else:
                assert res.outcome is ReplaceOutcome.PLACE_FAILED
                break  # the intent has no live order: the caller stops (reconcile takes over)
            assert len(kit.live()) <= 1

    run(go())
    check_exactly_once(kit)
    assert len(kit.live()) <= 1
    statuses = {
        cid: run(kit.paper.fetch_order("BTC/USDT:USDT", client_order_id=cid)).status
        for cid in kit.orders_per_cid()
    }
    assert sum(s is OrderStatus.OPEN for s in statuses.values()) <= 1
