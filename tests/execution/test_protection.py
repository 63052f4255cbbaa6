"""Protective stop-loss / take-profit orders: placement on fill, re-size, missing-protection check, flat
cleanup, T_protect through the protection tracker."""

from __future__ import annotations

import inspect
from decimal import Decimal

import pytest

from eclipse.clock import SimClock
from eclipse.contracts import IntentKind, ProtectionState
from eclipse.execution.exits import (
    ExitKnobs,
    ProtectionManager,
    ProtectionPlan,
    load_exit_settings,
    protection_triggers,
)
from eclipse.execution.positions import PositionBook
from eclipse.telemetry import MemorySink, Telemetry
from eclipse.venues.types import Fill, OrderReport, OrderStatus, OrderType, Side

D = Decimal
SYM = "BTC/USDT:USDT"
INTENT = "E-BTCUSDT-b-60000"


class Rig:
    def __init__(self, env: dict[str, str] | None = None) -> None:
        self.clock = SimClock(60_000)
        self.sink = MemorySink()
        self.book = PositionBook(self.clock)
        self.pm = ProtectionManager(
            load_exit_settings(env or {}), self.clock, Telemetry(self.sink, self.clock)
        )
        self.n = 0

    def fill(
        self, side: Side, qty: str, price: str, client_id: str | None = None, intent: str = INTENT
    ) -> ProtectionPlan:
        self.n += 1
        f = Fill(
            f"t{self.n}",
            f"o{self.n}",
            SYM,
            side,
            D(price),
            D(qty),
            D(0),
            "USDT",
            self.clock.now_ms(),
            client_order_id=client_id,
        )
        self.book.apply(f)
        return self.pm.on_fill(f, self.book.snapshot(SYM), intent, None)


def report(
    cid: str, kind: OrderType = OrderType.STOP_MARKET, symbol: str = SYM, reduce_only: bool = True
) -> OrderReport:
    return OrderReport(
        symbol,
        "v" + cid,
        cid,
        Side.SELL,
        kind,
        OrderStatus.OPEN,
        D(1),
        D(0),
        None,
        None,
        D(1),
        reduce_only,
        False,
        0,
        0,
        conditional=True,
    )


def test_triggers_from_percent_and_atr() -> None:
    k = ExitKnobs(stop_loss_pct=0.01, take_profit_pct=0.015)
    assert protection_triggers(Side.BUY, D(100), k, None) == (D("99.00"), D("101.500"))
    assert protection_triggers(Side.SELL, D(100), k, None) == (D("101.00"), D("98.500"))
    atr = ExitKnobs(stop_loss_pct=0.01, stop_loss_atr=2.0, take_profit_atr=3.0)
    sl, tp = protection_triggers(Side.BUY, D(100), atr, 0.002)
    assert (sl, tp) == (D("99.6000"), D("100.6000"))
    sl, _ = protection_triggers(Side.BUY, D(100), atr, 0.01)  # 2 x 1 % capped at 1 %
    assert sl == D("99.00")
    _, none = protection_triggers(Side.BUY, D(100), ExitKnobs(take_profit_pct=0.0), None)
    assert none is None


def test_entry_fill_places_reduce_only_stop_and_take_profit() -> None:
    rig = Rig()
    plan = rig.fill(Side.BUY, "0.5", "40000")
    sl, tp = plan.place
    assert (sl.kind, sl.type, sl.side, sl.qty, sl.trigger_price) == (
        IntentKind.STOP_LOSS, OrderType.STOP_MARKET, Side.SELL, D("0.5"), D("39600.00"),
    )  # fmt: skip
    assert (tp.kind, tp.type, tp.trigger_price) == (
        IntentKind.TAKE_PROFIT,
        OrderType.TAKE_PROFIT_MARKET,
        D("40600.000"),
    )
    assert all(r.reduce_only and not r.close_position and r.kind.reduces_risk for r in plan.place)
    assert [r.client_order_id for r in plan.place] == [f"{INTENT}-sl-1", f"{INTENT}-tp-1"]
    assert plan.cancel == ()
    tr = rig.pm.tracker(SYM)
    assert (tr.state, tr.covered) == ("open_unprotected", False)
    ev = rig.pm.placed(f"{INTENT}-sl-1")
    assert ev is not None
    assert ev.state is ProtectionState.PLACED
    assert (tr.state, tr.covered) == ("protected", True)
    assert rig.pm.placed(f"{INTENT}-sl-1") is None  # idempotent
    assert rig.sink.named("protection")[0]["state"] == "placed"


def test_close_position_mode() -> None:
    rig = Rig({"EXIT_PROTECT_CLOSE_POSITION": "1"})
    plan = rig.fill(Side.SELL, "1", "100")
    assert all(r.close_position and not r.reduce_only and r.qty is None for r in plan.place)
    assert plan.place[0].side is Side.BUY
    assert plan.place[0].trigger_price == D("101.00")


def test_growth_resizes_and_reduction_does_not() -> None:
    rig = Rig()
    rig.fill(Side.BUY, "1", "100")
    rig.pm.placed(f"{INTENT}-sl-1")
    plan = rig.fill(Side.BUY, "1", "102")  # grows to 2 @ 101
    assert [r.client_order_id for r in plan.place] == [f"{INTENT}-sl-2", f"{INTENT}-tp-2"]
    assert all(r.qty == D(2) for r in plan.place)
    assert plan.place[0].trigger_price == D(101) * D("0.99")
    assert [c.client_order_id for c in plan.cancel] == [f"{INTENT}-sl-1", f"{INTENT}-tp-1"]
    assert rig.pm.tracker(SYM).covered is False  # the old stop no longer covers the whole position
    assert rig.fill(Side.SELL, "0.5", "101").empty  # partial exit: reduce-only legs still cover
    assert [r.client_order_id for r in rig.pm.active(SYM)] == [f"{INTENT}-sl-2", f"{INTENT}-tp-2"]


def test_flat_cancels_leftovers_and_stop_hit_reaches_the_tracker() -> None:
    rig = Rig()
    rig.fill(Side.BUY, "1", "100")
    rig.pm.placed(f"{INTENT}-sl-1")
    plan = rig.fill(Side.SELL, "1", "99", client_id=f"{INTENT}-sl-1")  # the stop triggered
    assert [c.client_order_id for c in plan.cancel] == [f"{INTENT}-tp-1"]
    assert rig.pm.tracker(SYM).state == "flat"
    assert rig.pm.active(SYM) == ()
    # a plain exit closing an uncovered position also goes flat and cancels both legs
    rig.fill(Side.BUY, "1", "100", intent="E2")
    plan = rig.fill(Side.SELL, "1", "100", client_id="X-1")
    assert sorted(c.client_order_id for c in plan.cancel) == ["E2-sl-1", "E2-tp-1"]
    assert rig.pm.tracker(SYM).state == "flat"


def test_flip_replaces_the_cover_on_the_other_side() -> None:
    rig = Rig()
    rig.fill(Side.BUY, "1", "100")
    plan = rig.fill(Side.SELL, "3", "100", intent="E-flip")
    assert [r.side for r in plan.place] == [Side.BUY, Side.BUY]
    assert plan.place[0].qty == D(2)
    assert plan.place[0].trigger_price == D("101.00")
    assert [c.client_order_id for c in plan.cancel] == [f"{INTENT}-sl-1", f"{INTENT}-tp-1"]


def test_check_replaces_missing_protection_and_emits_protection_event() -> None:
    rig = Rig()
    rig.fill(Side.BUY, "1", "100")
    sl1, tp1 = f"{INTENT}-sl-1", f"{INTENT}-tp-1"
    positions = {SYM: rig.book.snapshot(SYM)}
    # just requested and not yet on the venue: in flight, not missing
    assert rig.pm.check([], positions).empty
    live = [report(sl1), report(tp1, OrderType.TAKE_PROFIT_MARKET)]
    seen = rig.pm.check(live, positions)  # seeing them live confirms them
    assert (seen.place, seen.cancel) == ((), ())
    assert [(e.state, e.client_order_id) for e in seen.events] == [
        (ProtectionState.PLACED, sl1),
        (ProtectionState.PLACED, tp1),
    ]
    assert rig.pm.tracker(SYM).covered
    # the stop disappears (canceled by someone, expired)
    plan = rig.pm.check(live[1:], positions)
    assert [r.client_order_id for r in plan.place] == [f"{INTENT}-sl-2"]
    assert plan.place[0].qty == D(1)
    assert plan.place[0].reduce_only
    assert [(e.state, e.client_order_id) for e in plan.events] == [(ProtectionState.MISSING, sl1)]
    assert [e["state"] for e in rig.sink.named("protection")][-1] == "missing"
    tr = rig.pm.tracker(SYM)
    assert (tr.state, tr.covered) == ("open_unprotected", False)
    # T_protect (15 s by default): entries blocked once the gap outlasts it, unblocked when covered again
    rig.clock.advance(15.001)
    assert rig.pm.entries_blocked(SYM)
    rig.pm.check([*live[1:], report(f"{INTENT}-sl-2")], {SYM: rig.book.snapshot(SYM)})
    assert not rig.pm.entries_blocked(SYM)
    assert tr.covered
    assert rig.sink.named("protection.overdue") or rig.sink.named("protection.gap_closed")


def test_failed_and_overdue_requests_are_replaced() -> None:
    rig = Rig({"EXIT_PROTECT_GRACE_SEC": "5"})
    rig.fill(Side.BUY, "1", "100")
    rig.pm.failed(f"{INTENT}-sl-1")
    positions = {SYM: rig.book.snapshot(SYM)}
    plan = rig.pm.check([report(f"{INTENT}-tp-1", OrderType.TAKE_PROFIT_MARKET)], positions)
    assert [r.client_order_id for r in plan.place] == [f"{INTENT}-sl-2"]
    rig.clock.advance(5.001)  # sl-2 requested but never seen: overdue
    plan = rig.pm.check([report(f"{INTENT}-tp-1", OrderType.TAKE_PROFIT_MARKET)], positions)
    assert [r.client_order_id for r in plan.place] == [f"{INTENT}-sl-3"]
    assert [c.client_order_id for c in plan.cancel] == [f"{INTENT}-sl-2"]


def test_check_adopts_unprotected_positions_and_cancels_leftovers_on_flat_symbols() -> None:
    rig = Rig()
    other = "ETH/USDT:USDT"
    book = PositionBook(rig.clock)
    book.apply(Fill("x", "o", SYM, Side.SELL, D(100), D(2), D(0), "USDT", 1_000))
    leftover = report("manual-stop", symbol=other)
    stale = report("E-OLD-sl-4")
    plan = rig.pm.check([leftover, stale], {SYM: book.snapshot(SYM), other: book.snapshot(other)})
    assert [r.client_order_id for r in plan.place] == ["P-BTCUSDT-1000-sl-1", "P-BTCUSDT-1000-tp-1"]
    assert all(r.side is Side.BUY and r.qty == D(2) for r in plan.place)
    assert sorted(c.client_order_id for c in plan.cancel) == ["E-OLD-sl-4", "manual-stop"]
    assert plan.events[0].state is ProtectionState.MISSING
    assert rig.pm.tracker(SYM).state == "open_unprotected"
    # the position is gone on the venue: the cover is canceled
    plan = rig.pm.check([], {})
    assert sorted(c.client_order_id for c in plan.cancel) == ["P-BTCUSDT-1000-sl-1", "P-BTCUSDT-1000-tp-1"]
    assert rig.pm.tracker(SYM).state == "flat"


def test_unknown_client_ids_are_ignored() -> None:
    rig = Rig()
    assert rig.pm.placed("nope") is None
    rig.pm.failed("nope")
    assert not rig.pm.entries_blocked(SYM)


@pytest.mark.parametrize("qty", ["0.001", "3"])
def test_protection_is_never_blocked_by_a_guard(qty: str) -> None:
    """Structural: ProtectionManager's methods take no guard input; placement works for any position."""
    for _, m in inspect.getmembers(ProtectionManager, inspect.isfunction):
        assert not any(b in p for p in inspect.signature(m).parameters for b in ("guard", "posture", "gate"))
    rig = Rig()
    assert len(rig.fill(Side.BUY, qty, "100").place) == 2


def test_resize_cancels_the_old_legs_only_after_their_replacement() -> None:
    rig = Rig()
    rig.fill(Side.BUY, "1", "100")
    rig.pm.placed(f"{INTENT}-sl-1")
    plan = rig.fill(Side.BUY, "1", "102")
    assert [(c.client_order_id, c.after) for c in plan.cancel] == [
        (f"{INTENT}-sl-1", f"{INTENT}-sl-2"),
        (f"{INTENT}-tp-1", f"{INTENT}-tp-2"),
    ]
    rig.pm.failed(f"{INTENT}-sl-2")  # the replacement failed: sl-1 stays (retired, never stale)
    assert not rig.pm.confirmed(f"{INTENT}-sl-2")
    positions = {SYM: rig.book.snapshot(SYM)}
    plan = rig.pm.check([report(f"{INTENT}-sl-1")], positions)
    assert [r.client_order_id for r in plan.place] == [f"{INTENT}-sl-3"]
    assert (f"{INTENT}-sl-1", f"{INTENT}-sl-3") in [(c.client_order_id, c.after) for c in plan.cancel]
    assert rig.pm.retired(SYM) == (f"{INTENT}-sl-1", f"{INTENT}-tp-1")
    rig.pm.forget(f"{INTENT}-sl-1")
    assert rig.pm.retired(SYM) == (f"{INTENT}-tp-1",)


def test_refused_legs_are_not_resent_unchanged_and_a_breached_stop_asks_to_flatten() -> None:
    rig = Rig()
    rig.fill(Side.BUY, "1", "100")
    positions = {SYM: rig.book.snapshot(SYM)}
    tp = report(f"{INTENT}-tp-1", OrderType.TAKE_PROFIT_MARKET)
    rig.pm.failed(f"{INTENT}-sl-1", refused=True)
    assert rig.pm.check([tp], positions).place == ()  # same trigger and qty: not resent
    plan = rig.fill(Side.BUY, "1", "100")  # grown: new trigger / qty, placed again
    assert [r.client_order_id for r in plan.place] == [f"{INTENT}-sl-2", f"{INTENT}-tp-2"]
    rig.pm.failed(f"{INTENT}-sl-2", breached=True)
    plan = rig.pm.check(
        [report(f"{INTENT}-tp-2", OrderType.TAKE_PROFIT_MARKET)], {SYM: rig.book.snapshot(SYM)}
    )
    assert (plan.place, plan.flatten) == ((), (SYM,))


def test_check_leaves_skipped_symbols_alone_and_resume_counts_moves_past_used_ids() -> None:
    rig = Rig()
    rig.fill(Side.BUY, "1", "100")
    plan = rig.pm.check([], {}, skip={SYM})  # listing failed: not treated as flat
    assert plan.cancel == ()
    assert rig.pm.active(SYM)
    rig.pm.resume_counts([f"{INTENT}-sl-7", f"{INTENT}-tp-3", "OTHER-sl-99"])
    rig.pm.failed(f"{INTENT}-sl-1")
    plan = rig.pm.check(
        [report(f"{INTENT}-tp-1", OrderType.TAKE_PROFIT_MARKET)], {SYM: rig.book.snapshot(SYM)}
    )
    assert [r.client_order_id for r in plan.place] == [f"{INTENT}-sl-8"]
    assert rig.pm.renumber(f"{INTENT}-sl-8", f"{INTENT}-sl-12") is not None
    assert next(r.client_order_id for r in rig.pm.active(SYM)) == f"{INTENT}-sl-12"


def test_a_stop_cut_to_the_position_is_not_a_shrunk_stop() -> None:
    """A stop the venue acknowledges for exactly the position (a reduce-only order cut to it) covers it:
    the tracker stays protected (review: it went uncovered for good, entries blocked, overdue alerts)."""
    from dataclasses import replace as _replace

    r = Rig()
    plan = r.fill(Side.BUY, "0.006", "60000")
    sl = next(p for p in plan.place if p.kind is IntentKind.STOP_LOSS)
    tp = next(p for p in plan.place if p.kind is IntentKind.TAKE_PROFIT)
    r.pm.placed(sl.client_order_id)
    r.pm.placed(tp.client_order_id)
    r.fill(Side.SELL, "0.003", "60100", client_id="X-BTCUSDT-1")  # an exit halves the position
    r.clock.set_ms(r.clock.now_ms() + 5000)
    tpr = report(tp.client_order_id, OrderType.TAKE_PROFIT_MARKET)
    plan3 = r.pm.check([tpr], {SYM: r.book.snapshot(SYM)})  # the stop went missing: placed again
    new_sl = next(p for p in plan3.place if p.kind is IntentKind.STOP_LOSS)
    r.pm.placed(new_sl.client_order_id)
    position = r.book.snapshot(SYM).qty
    assert not r.pm.shrunk(new_sl.client_order_id, Decimal("0.003"), position)
    assert r.pm.tracker(SYM).state == "protected"
    slr = _replace(report(new_sl.client_order_id), qty=Decimal("0.003"))
    assert r.pm.check([slr, tpr], {SYM: r.book.snapshot(SYM)}).place == ()
    assert r.pm.tracker(SYM).state == "protected"
    # below the position it is shrunk: uncovered, and regrow places the whole size again
    assert r.pm.shrunk(new_sl.client_order_id, Decimal("0.001"), position)
    assert r.pm.tracker(SYM).state == "open_unprotected"
    again = r.pm.regrow(r.book.snapshot(SYM))
    assert [p.qty for p in again.place if p.kind is IntentKind.STOP_LOSS] == [Decimal("0.003")]
