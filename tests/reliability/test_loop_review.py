"""Regressions from the review of the reliability loop: our own order's fills are never taken for someone
else's (Binance fills carry no client id), a lookup gives an order its venue id, a failed fill read is a
failed read, an old manual trade does not spoil the repair of a venue-side close, a foreign order canceled
outside resolves, an exception never leaves the reconcile machine stuck, and a manual trade on top of ours
does not lock the account."""

from __future__ import annotations

from decimal import Decimal

from tests.execution.test_engine_kit import run, venue_qty, world

from eclipse.contracts import IntentKind
from eclipse.reliability.settings import ReliabilitySettings
from eclipse.venues.faulty import Fault, FaultPlan, FaultRule, FaultyVenue
from eclipse.venues.types import OrderRequest, OrderType, Side

from .loop_kit import SYM, BinanceFills, Rig, manual_order, rig


def test_our_exit_of_unknown_outcome_is_never_adopted_as_a_venue_side_close() -> None:
    async def go() -> tuple[Rig, int]:
        w = world()
        v = BinanceFills(w.paper)
        r = rig({"SCALPER_DEBUG_FORCE_ENTRY": "long", "EXIT_MAX_HOLD_SEC": "120"}, venue=v, w=w)
        await r.loop.run_cycle(force=True)
        await r.bars(0, 1)
        v.lose_next_exit_answer = v.fail_lookups = True
        i = 1
        while not any(o.kind is IntentKind.EXIT for o in r.eng.orders.orders.values()):
            await r.bars(i, i + 1)
            i += 1
        v.fail_lookups = False
        await r.bars(i, i + 30)
        return r, i

    r, _ = run(go())
    first = next(o for o in r.eng.orders.orders.values() if o.kind is IntentKind.EXIT)
    assert not first.live
    assert first.counted == first.filled
    assert not r.events("reconcile.venue_close_adopted")
    exits = [o for o in r.eng.orders.orders.values() if o.kind is IntentKind.EXIT]
    assert len(exits) > 1  # later positions still exit (no exit stuck in flight)
    assert r.loop.debt.open_contradictions() == ()


def test_an_entry_settled_by_lookup_gets_its_venue_id_its_fills_and_its_stop() -> None:
    plan = FaultPlan.script({"create_order": [Fault.EXECUTED_UNKNOWN], "fetch_order": [Fault.NETWORK] * 10})

    async def go() -> tuple[Rig, int]:
        w = world()
        v = BinanceFills(FaultyVenue(w.paper, plan))
        s = ReliabilitySettings(positions_check_sec=5.0, orders_check_sec=5.0, inflight_age_sec=2.0)
        env = {
            "SCALPER_DEBUG_FORCE_ENTRY": "long",
            "ROUTER_RETRY_BUDGET_SEC": "1",
            "EXIT_MAX_HOLD_SEC": "100000",
        }
        r = rig(env, s, venue=v, w=w)
        await r.loop.run_cycle(force=True)
        await r.bars(0, 1)
        await r.quiet(240, engine_tick=False)
        return r, len(await w.paper.fetch_open_orders(SYM, conditional=True))

    r, stops = run(go())
    entry = next(o for o in r.eng.orders.orders.values() if o.kind is IntentKind.ENTRY)
    assert entry.state == "filled"
    assert entry.venue_id is not None
    assert r.eng.book.snapshot(SYM).qty == entry.filled
    assert stops >= 1
    assert not r.events("reconcile.foreign")  # our own position is never called foreign
    assert r.loop.symbol_block(SYM) is None


def test_a_failed_fill_read_is_a_failed_read_never_an_adoption() -> None:
    async def go() -> tuple[Rig, Decimal]:
        w = world()
        v = BinanceFills(w.paper, strip_cid=False)
        s = ReliabilitySettings(foreign_policy="protect", positions_check_sec=5.0, orders_check_sec=5.0)
        r = rig({"SCALPER_DEBUG_FORCE_ENTRY": "long", "EXIT_MAX_HOLD_SEC": "100000"}, s, venue=v, w=w)
        await r.loop.run_cycle(force=True)
        v.fail_fills = True
        await r.bars(0, 1)
        await r.quiet(6)
        assert r.loop.symbol_block(SYM) == "reconcile_failing"
        v.fail_fills = False
        await r.quiet(60)
        return r, venue_qty(await w.paper.fetch_positions())

    r, there = run(go())
    assert not r.events("reconcile.position_adopted")
    assert r.eng.book.snapshot(SYM).qty == there
    assert there > 0
    assert r.loop.symbol_block(SYM) is None
    assert r.loop.debt.open_contradictions() == ()


def test_an_old_manual_round_trip_does_not_spoil_the_repair_of_a_venue_side_close() -> None:
    async def go() -> Rig:
        w = world()
        await manual_order(w, Side.BUY, "0.004", cid="manual-1")
        await manual_order(w, Side.SELL, "0.004", reduce_only=True, cid="manual-2")  # flat again
        r = rig({"SCALPER_DEBUG_FORCE_ENTRY": "long", "EXIT_MAX_HOLD_SEC": "100000"}, w=w)
        await r.loop.run_cycle(force=True)
        await r.bars(0, 2)
        held = r.eng.book.snapshot(SYM).qty
        await manual_order(w, Side.SELL, str(held), reduce_only=True, cid="autoclose-1")
        await r.quiet(30, engine_tick=False)
        return r

    r = run(go())
    assert r.eng.book.snapshot(SYM).qty == 0
    (adopted,) = r.events("reconcile.venue_close_adopted")
    assert adopted["client_order_id"] == "autoclose-1"
    assert r.loop.symbol_block(SYM) is None


def test_a_foreign_order_canceled_outside_after_a_failed_cancel_resolves() -> None:
    async def go() -> Rig:
        w = world()
        price = Decimal(int(w.source.frame(SYM).close[0] * 0.5))
        req = OrderRequest(SYM, Side.BUY, OrderType.LIMIT, Decimal("0.01"), "manual-9", price)
        rep = await w.paper.create_order(req)
        busy = FaultPlan((FaultRule("cancel_order", Fault.EXCHANGE_BUSY, calls=frozenset({1})),))
        s = ReliabilitySettings(foreign_policy="flatten", positions_check_sec=5.0, orders_check_sec=5.0)
        r = rig({"SCALPER_DEBUG_FORCE_ENTRY": "off"}, s, venue=FaultyVenue(w.paper, busy), w=w)
        await r.loop.run_cycle(force=True)
        await w.paper.cancel_order(SYM, order_id=rep.order_id)  # the user removes it himself
        await r.quiet(120, engine_tick=False)
        return r

    r = run(go())
    assert r.loop.debt.open_contradictions() == ()
    assert r.loop.current_posture.value in ("GREEN", "YELLOW")
    assert r.loop.symbol_block(SYM) is None


def test_an_unexpected_exception_backs_the_machine_off_and_cycles_go_on() -> None:
    async def go() -> tuple[Rig, int]:
        r = rig({"SCALPER_DEBUG_FORCE_ENTRY": "off"})
        await r.loop.run_cycle(force=True)
        real = r.eng.venue.fetch_positions
        calls = {"n": 0}

        async def flaky(*args: object, **kw: object) -> object:
            calls["n"] += 1
            if calls["n"] == 1:
                raise OSError("a disk error, or any bug in a repair")
            return await real()

        r.eng.venue.fetch_positions = flaky  # type: ignore[method-assign]
        r.w.clock.advance(ms=6000)
        try:
            await r.loop.run_cycle()
        except OSError:
            pass
        else:
            raise AssertionError("the exception must reach the supervisor")
        assert r.loop.cycle.state == "backoff"
        ran = 0
        for _ in range(120):
            r.w.clock.advance(ms=1000)
            ran += (await r.loop.run_cycle()) is not None
        return r, ran

    r, ran = run(go())
    assert ran > 10
    assert r.loop.cycle.state == "idle"
    assert r.loop.symbol_block(SYM) is None


def test_a_manual_trade_on_top_of_ours_blocks_its_symbol_not_the_account() -> None:
    async def go() -> Rig:
        w = world()
        r = rig({"SCALPER_DEBUG_FORCE_ENTRY": "long", "EXIT_MAX_HOLD_SEC": "100000"}, w=w)
        await r.loop.run_cycle(force=True)
        await r.bars(0, 2)
        await manual_order(w, Side.BUY, "0.005", cid="manual-add")
        await r.quiet(25 * 60, engine_tick=False)
        return r

    r = run(go())
    assert r.loop.current_posture.value == "GREEN"
    assert r.loop.debt.open_contradictions() == ()
    assert r.loop.symbol_block(SYM) == "foreign_position"
    assert r.guard.current(None).entries_allowed  # other symbols trade on
