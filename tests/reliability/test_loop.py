"""The reliability loop on the in-process simulator: foreign positions under each policy, an orphan order, a
missing stop, an unknown order from a lost acknowledgement, a position the venue closed, a failing and a
stale reconcile blocking entries (never exits), the completeness gate, KPIs."""

from __future__ import annotations

from decimal import Decimal

from tests.execution.test_engine_kit import run, venue_qty, world

from eclipse.contracts import IntentKind
from eclipse.reliability.settings import ReliabilitySettings
from eclipse.venues.faulty import Fault, FaultPlan, FaultRule, FaultyVenue
from eclipse.venues.types import OrderRequest, OrderType, Side

from .loop_kit import SYM, Rig, manual_order, rig


def entries_placed(r: Rig) -> int:
    return sum(1 for o in r.eng.orders.orders.values() if o.kind is IntentKind.ENTRY)


def blocked_reasons(r: Rig) -> set[str]:
    return {str(e["reason"]) for e in r.events("entry.blocked")}


async def venue_position(r: Rig) -> Decimal:
    return venue_qty(await r.w.paper.fetch_positions())


def test_a_clean_run_keeps_the_symbol_tradeable_and_the_debt_at_zero() -> None:
    async def go() -> Rig:
        r = rig()
        assert r.loop.symbol_block(SYM) == "reconcile_pending"  # nothing before the first reconcile
        await r.loop.run_cycle(force=True)
        await r.bars(0, 30)
        return r

    r = run(go())
    assert r.loop.symbol_block(SYM) is None
    assert entries_placed(r) > 0
    assert r.loop.debt.open_contradictions() == ()
    assert r.loop.current_posture.value == "GREEN"
    summaries = r.events("reconcile.summary")
    assert len(summaries) == r.loop.cycles
    assert all(s["complete"] for s in summaries)


def test_no_entry_before_the_startup_reconcile() -> None:
    async def go() -> Rig:
        r = rig()
        await r.bars(0, 5, cycle=False)
        return r

    r = run(go())
    assert entries_placed(r) == 0
    assert blocked_reasons(r) == {"reconcile_pending"}


def test_a_foreign_position_under_block_is_reported_never_touched_and_blocks_its_symbol() -> None:
    async def go() -> tuple[Rig, Decimal, Decimal]:
        w = world()
        await manual_order(w, Side.BUY, "0.01")
        r = rig(w=w)
        await r.loop.run_cycle(force=True)
        await r.bars(0, 10)
        during = await venue_position(r)
        await manual_order(w, Side.SELL, "0.01", reduce_only=True, cid="manual-2")  # the user closes it
        await r.quiet(6)
        return r, during, await venue_position(r)

    r, during, after = run(go())
    assert during == Decimal("0.01")  # the user's trade is never touched
    assert after == 0
    (foreign,) = r.events("reconcile.foreign")
    assert foreign["kind"] == "unknown_position"
    assert foreign["policy"] == "block"
    assert "foreign_position" in blocked_reasons(r)
    assert r.loop.debt.open_contradictions() == ()  # acknowledged: a manual trade does not lock the account
    assert r.loop.symbol_block(SYM) is None  # gone from the venue: tradeable again
    assert r.events("reconcile.symbol_ready")


def test_a_foreign_position_under_protect_is_adopted_and_gets_a_stop() -> None:
    async def go() -> tuple[Rig, int]:
        w = world()
        await manual_order(w, Side.BUY, "0.01")
        r = rig({"SCALPER_DEBUG_FORCE_ENTRY": "off"}, ReliabilitySettings(foreign_policy="protect"), w=w)
        await r.loop.run_cycle(force=True)
        stops = await w.paper.fetch_open_orders(SYM, conditional=True)
        return r, len(stops)

    r, stops = run(go())
    assert r.eng.book.snapshot(SYM).qty == Decimal("0.01")
    assert stops >= 1
    assert r.events("reconcile.position_adopted")
    assert r.eng.protection.tracker(SYM).covered


def test_a_foreign_position_under_flatten_is_closed() -> None:
    async def go() -> tuple[Rig, Decimal]:
        w = world()
        await manual_order(w, Side.SELL, "0.02")
        r = rig({"SCALPER_DEBUG_FORCE_ENTRY": "off"}, ReliabilitySettings(foreign_policy="flatten"), w=w)
        await r.loop.run_cycle(force=True)
        return r, await venue_position(r)

    r, after = run(go())
    assert after == 0
    assert r.eng.book.snapshot(SYM).qty == 0


def test_a_foreign_order_blocks_its_symbol_under_block_and_is_canceled_under_flatten() -> None:
    async def go(policy: str) -> tuple[Rig, int]:
        w = world()
        price = Decimal(int(w.source.frame(SYM).close[0] * 0.5))  # far below: rests
        await w.paper.create_order(
            OrderRequest(SYM, Side.BUY, OrderType.LIMIT, Decimal("0.01"), "manual-9", price)
        )
        r = rig({"SCALPER_DEBUG_FORCE_ENTRY": "off"}, ReliabilitySettings(foreign_policy=policy), w=w)
        await r.loop.run_cycle(force=True)
        return r, len(await w.paper.fetch_open_orders(SYM))

    blocked, resting = run(go("block"))
    assert resting == 1
    assert blocked.loop.symbol_block(SYM) == "foreign_order"
    flattened, left = run(go("flatten"))
    assert left == 0
    assert flattened.loop.symbol_block(SYM) is None


def test_an_orphan_order_with_our_client_id_is_adopted() -> None:
    async def go() -> tuple[Rig, str]:
        w = world()
        r = rig({"SCALPER_DEBUG_FORCE_ENTRY": "off"}, w=w)
        price = Decimal(int(w.source.frame(SYM).close[0] * 0.5))
        cid = f"E-BTCUSDT-b-{w.clock.now_ms()}-1"
        await w.paper.create_order(OrderRequest(SYM, Side.BUY, OrderType.LIMIT, Decimal("0.01"), cid, price))
        await r.loop.run_cycle(force=True)
        return r, cid

    r, cid = run(go())
    assert cid in r.eng.orders.orders
    assert r.eng.orders.orders[cid].live
    assert r.events("reconcile.adopted")
    assert r.loop.symbol_block(SYM) is None


def test_a_stop_removed_on_the_venue_is_replaced_and_the_gap_is_counted() -> None:
    """The stop vanishes; re-placing it fails for a while (the venue refuses orders): the gap is counted
    from the moment the bot knows until the stop is working again, and the debt is paid."""

    async def go() -> tuple[Rig, int]:
        w = world()
        venue = FaultyVenue(w.paper, FaultPlan(()))
        r = rig({"SCALPER_DEBUG_FORCE_ENTRY": "long", "EXIT_MAX_HOLD_SEC": "100000"}, venue=venue, w=w)
        await r.loop.run_cycle(force=True)
        await r.bars(0, 2)
        listed = await w.paper.fetch_open_orders(SYM, conditional=True)
        (stop,) = [o for o in listed if "-sl-" in (o.client_order_id or "")]
        await w.paper.cancel_order(SYM, order_id=stop.order_id, conditional=True)
        venue.plan = FaultPlan((FaultRule("create_order", Fault.EXCHANGE_BUSY, p=1.0),))
        await r.quiet(40)
        venue.plan = FaultPlan(())
        await r.quiet(20)
        return r, len(await w.paper.fetch_open_orders(SYM, conditional=True))

    r, legs = run(go())
    assert legs >= 1
    assert r.eng.protection.tracker(SYM).covered
    kpis = r.loop.kpis.snapshot()
    assert kpis.protection_gaps >= 1
    assert kpis.protection_gap_longest_sec >= 30
    assert [e for e in r.events("reconcile.mismatch") if e["kind"] == "unprotected_position"]
    assert r.loop.debt.open_contradictions() == ()


def test_an_order_of_unknown_outcome_is_found_by_the_inflight_check_and_settled() -> None:
    """The entry's request is lost (timeout before the venue acted) and lookups fail for a while: the order
    stays of unknown outcome; the in-flight check reports it (debt), a lookup settles it once the venue
    answers (never landed: absent), the resolution time is measured and the debt is paid."""
    plan = FaultPlan.script({"create_order": [Fault.LOST_REQUEST], "fetch_order": [Fault.NETWORK] * 10})

    async def go(engine_tick: bool) -> Rig:
        w = world()
        venue = FaultyVenue(w.paper, plan)
        s = ReliabilitySettings(positions_check_sec=5.0, orders_check_sec=5.0, inflight_age_sec=2.0)
        r = rig({"SCALPER_DEBUG_FORCE_ENTRY": "long", "ROUTER_RETRY_BUDGET_SEC": "1"}, s, venue=venue, w=w)
        await r.loop.run_cycle(force=True)
        await r.bars(0, 1)
        await r.quiet(120 if engine_tick else 240, engine_tick=engine_tick)  # alone: one lookup per 5 s
        return r

    alone = run(go(False))  # the reconcile's own lookup settles it (no protection check runs)
    assert next(o for o in alone.eng.orders.orders.values() if o.kind is IntentKind.ENTRY).state == "absent"
    assert alone.loop.kpis.snapshot().repairs_succeeded >= 1
    r = run(go(True))
    entry = next(o for o in r.eng.orders.orders.values() if o.kind is IntentKind.ENTRY)
    assert entry.state == "absent"  # never landed
    assert [e for e in r.events("reconcile.finding") if e["kind"] == "order_unknown"]
    kpis = r.loop.kpis.snapshot()
    assert kpis.unknown_resolved == 1
    assert kpis.unknown_resolution_p50_ms is not None
    assert kpis.unknown_resolution_p50_ms > 2000
    assert r.loop.debt.open_contradictions() == ()
    assert kpis.mismatch_debt_min > 0


def test_a_stop_whose_acknowledgement_was_lost_is_found_by_the_loops_lookup() -> None:
    """The stop lands but its answer is lost and lookups fail for a while: no fill can settle a resting
    stop, only a lookup; the loop alone (no protection check) finds it working and the position is covered."""
    plan = FaultPlan.script(
        {"create_order": [None, Fault.EXECUTED_UNKNOWN], "fetch_order": [Fault.NETWORK] * 10}
    )

    async def go() -> Rig:
        w = world()
        venue = FaultyVenue(w.paper, plan)
        s = ReliabilitySettings(positions_check_sec=5.0, orders_check_sec=5.0, inflight_age_sec=2.0)
        env = {
            "SCALPER_DEBUG_FORCE_ENTRY": "long",
            "ROUTER_RETRY_BUDGET_SEC": "1",
            "EXIT_MAX_HOLD_SEC": "100000",
        }
        r = rig(env, s, venue=venue, w=w)
        await r.loop.run_cycle(force=True)
        await r.bars(0, 1)
        stop = next(o for o in r.eng.orders.orders.values() if o.kind is IntentKind.STOP_LOSS)
        assert stop.state == "unknown"
        await r.quiet(240, engine_tick=False)
        return r

    r = run(go())
    stop = next(o for o in r.eng.orders.orders.values() if o.kind is IntentKind.STOP_LOSS)
    assert stop.state == "accepted"
    assert r.loop.kpis.snapshot().unknown_resolved == 1
    assert r.loop.debt.open_contradictions() == ()


def test_a_position_the_venue_closed_is_repaired_from_the_venues_fills() -> None:
    async def go() -> tuple[Rig, Decimal]:
        r = rig({"SCALPER_DEBUG_FORCE_ENTRY": "long", "EXIT_MAX_HOLD_SEC": "100000"})
        await r.loop.run_cycle(force=True)
        await r.bars(0, 2)
        held = r.eng.book.snapshot(SYM).qty
        await manual_order(r.w, Side.SELL, str(held), reduce_only=True, cid="autoclose-1")
        await r.quiet(12)
        return r, held

    r, held = run(go())
    assert held > 0
    assert r.eng.book.snapshot(SYM).qty == 0
    assert r.events("reconcile.venue_close_adopted")
    assert r.loop.symbol_block(SYM) is None
    assert r.loop.debt.open_contradictions() == ()


def test_a_failing_reconcile_blocks_entries_but_never_exits() -> None:
    plan = FaultPlan((FaultRule("fetch_positions", Fault.NETWORK, calls=frozenset(range(2, 10_000))),))

    async def go() -> Rig:
        w = world()
        r = rig(
            {"SCALPER_DEBUG_FORCE_ENTRY": "long", "EXIT_MAX_HOLD_SEC": "120"},
            venue=FaultyVenue(w.paper, plan),
            w=w,
        )
        await r.loop.run_cycle(force=True)
        await r.bars(0, 1)  # an entry while the reconcile is sound
        await r.bars(1, 12)
        return r

    r = run(go())
    assert r.loop.symbol_block(SYM) == "reconcile_failing"
    assert "reconcile_failing" in blocked_reasons(r)
    assert entries_placed(r) == 1
    exits = [o for o in r.eng.orders.orders.values() if o.kind is IntentKind.EXIT]
    assert exits  # the max-hold exit went out while entries were blocked
    assert r.loop.cycle.state == "backoff" or r.loop.cycle.consecutive_failures > 0
    assert r.loop.debt.is_open("venue_errors:reconcile")


def test_a_stale_reconcile_blocks_entries() -> None:
    async def go() -> Rig:
        r = rig(
            {"SCALPER_DEBUG_FORCE_ENTRY": "off"},
            ReliabilitySettings(stale_sec=30.0, positions_check_sec=5.0),
        )
        await r.loop.run_cycle(force=True)
        assert r.guard.current(SYM).entries_allowed
        await r.bars(0, 3, cycle=False)  # no reconcile for 3 minutes
        return r

    r = run(go())
    assert r.loop.symbol_block(SYM) == "reconcile_stale"
    knobs = r.guard.current(SYM)
    assert knobs.entry_block
    assert knobs.code == "reconcile_stale"
    assert knobs.exits_allowed


def test_the_routers_alerts_are_debt_until_it_has_been_quiet_for_five_minutes() -> None:
    async def go() -> tuple[Rig, bool, bool]:
        r = rig({"SCALPER_DEBUG_FORCE_ENTRY": "off"})
        await r.loop.run_cycle(force=True)
        r.loop.observe({"event": "order.create.retry_alert", "reason": "rate_limited"})
        r.loop.observe({"event": "entry.blocked"})  # anything else is no evidence
        await r.quiet(2)
        during = r.loop.debt.is_open("venue_errors:router")
        await r.quiet(450)  # quiet for 5 minutes, then the posture's hysteresis window
        return r, during, r.loop.debt.is_open("venue_errors:router")

    r, during, after = run(go())
    assert during
    assert not after
    assert [e["to"] for e in r.events("posture.changed")] == ["YELLOW", "GREEN"]
