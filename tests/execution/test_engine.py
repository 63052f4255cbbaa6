"""The execution engine on the in-process simulator and real BTC bars: whole trades (entry, protection on
the venue, exit), PnL and fees against the venue's fills, and the safety properties."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

from eclipse.contracts import FillRecorded, GuardKnobs, IntentKind, OrderSubmitting
from eclipse.execution.router import MemoryJournal
from eclipse.venues.paper import PaperVenue
from eclipse.venues.sim.model import NoFaults, OrderView
from eclipse.venues.types import Fill

from .test_engine_kit import SYM, drive, engine, run, venue_qty, world


class DupFillsVenue(PaperVenue):
    """Serves every fill page twice, newest first: duplicated and out-of-order fills."""

    async def fetch_fills(self, symbol: str, since_ms: int | None = None, limit: int = 500) -> list[Fill]:
        page = await super().fetch_fills(symbol, since_ms, limit)
        return [*reversed(page), *page]


def test_whole_trades_protection_exits_and_pnl_match_the_venue() -> None:
    async def go() -> None:
        w = world()
        eng, j, sink = engine(w)
        await drive(eng, w, 0, 300)
        assert isinstance(j, MemoryJournal)
        subs = [e for e in j.of(OrderSubmitting) if isinstance(e, OrderSubmitting)]
        kinds = Counter(e.kind for e in subs)
        assert kinds[IntentKind.ENTRY] >= 5
        assert kinds[IntentKind.STOP_LOSS] >= kinds[IntentKind.ENTRY]
        assert kinds[IntentKind.EXIT] >= 1  # max hold fired
        # every protective order is a reduce-only conditional on the opposite side
        for e in subs:
            if e.kind in (IntentKind.STOP_LOSS, IntentKind.TAKE_PROFIT):
                assert e.reduce_only
                assert e.type.conditional
                assert e.trigger_price is not None
            if e.kind is not IntentKind.ENTRY:
                assert e.reduce_only
        # the book matches the venue; fills journaled once each, PnL and fees add up to the venue's fills
        assert eng.book.snapshot(SYM).qty == venue_qty(await w.paper.fetch_positions())
        venue_fills = await w.paper.fetch_fills(SYM, since_ms=0, limit=1000)
        journaled = [e.fill for e in j.of(FillRecorded) if isinstance(e, FillRecorded)]
        assert sorted(f.trade_id for f in journaled) == sorted(f.trade_id for f in venue_fills)
        snap = eng.book.snapshot(SYM)
        assert snap.fees == sum((f.fee for f in venue_fills), Decimal(0))
        cash = sum(
            ((f.price * f.qty) * (1 if f.side.value == "sell" else -1) for f in venue_fills), Decimal(0)
        )
        open_cost = snap.avg_entry * snap.qty
        assert snap.realized_pnl == cash + open_cost
        # protection: while a position is open the venue holds its stop; when flat no conditional is left
        cond = await w.paper.fetch_open_orders(SYM, conditional=True)
        if snap.qty != 0:
            assert any(o.reduce_only and o.side.value != ("buy" if snap.qty > 0 else "sell") for o in cond)
        else:
            assert cond == []
        assert sink.named("exit.max_hold")
        assert sink.named("protection")
        # some positions were closed by a rule exit, others by the venue triggering a protective order
        closers = Counter(
            f.client_order_id.split("-")[-2]
            for f in journaled
            if f.client_order_id and "-" in f.client_order_id
        )
        assert closers["sl"] + closers["tp"] >= 1

    run(go())


def test_never_two_live_orders_per_intent_and_one_entry_per_intent() -> None:
    async def go() -> None:
        w = world()
        eng, j, _ = engine(w)
        worst = 0
        for start in range(0, 240, 20):
            await drive(eng, w, start, start + 20)
            live = [*w.paper.engine.open_orders(), *w.paper.engine.open_orders(conditional=True)]
            per = Counter(f"{v.client_id.rsplit('-', 2)[0]}:{v.type}" for v in live)
            worst = max(worst, *per.values(), 0)
        assert worst <= 1
        assert isinstance(j, MemoryJournal)
        entries = [
            e for e in j.of(OrderSubmitting) if isinstance(e, OrderSubmitting) and e.kind is IntentKind.ENTRY
        ]
        assert len({e.intent_id for e in entries}) == len(entries)

    run(go())


class SwitchGuard:
    """A guard-knob provider the test flips."""

    def __init__(self) -> None:
        self.knobs = GuardKnobs()

    def current(self, symbol: str | None = None) -> GuardKnobs:
        return self.knobs


def test_exits_are_never_blocked_by_guards_or_throttles() -> None:
    async def go() -> None:
        w = world()
        guard = SwitchGuard()
        eng, j, sink = engine(w, guard=guard)
        await drive(eng, w, 0, 40)
        assert eng.book.snapshot(SYM).qty != 0
        # now every entry guard and throttle is against us
        guard.knobs = GuardKnobs(entry_block=True, reason="test")
        for _ in range(10):
            eng.gate.record_error(SYM)
            eng.gate.record_router_block(SYM)
        n_entries = len(
            [
                e
                for e in j.of(OrderSubmitting)
                if isinstance(e, OrderSubmitting) and e.kind is IntentKind.ENTRY
            ]
        )
        await drive(eng, w, 40, 200)
        after = [e for e in j.of(OrderSubmitting) if isinstance(e, OrderSubmitting)]
        assert len([e for e in after if e.kind is IntentKind.ENTRY]) == n_entries
        assert {str(e["reason"]) for e in sink.named("entry.blocked")} >= {"guard_entry_block"}
        # the open position was still protected and closed by an exit (rule or stop)
        assert eng.book.snapshot(SYM).qty == 0 == venue_qty(await w.paper.fetch_positions())
        forced = await eng.force_exit(SYM, "test")
        assert forced is None  # flat: nothing to do

    run(go())


def test_fills_are_never_double_counted() -> None:
    async def go() -> None:
        w = world()
        dup = DupFillsVenue(w.source, w.clock, refresh_ms=0)
        eng, j, _ = engine(w, venue=dup)
        await drive(eng, w, 0, 200)
        for _ in range(3):
            assert await eng.sync_fills() == 0
        assert isinstance(j, MemoryJournal)
        ids = [e.fill.trade_id for e in j.of(FillRecorded) if isinstance(e, FillRecorded)]
        assert ids
        assert len(ids) == len(set(ids))
        venue_fills = await dup.fetch_fills(SYM, since_ms=0, limit=1000)
        assert set(ids) == {f.trade_id for f in venue_fills}
        assert eng.book.snapshot(SYM).qty == venue_qty(await dup.fetch_positions())

    run(go())


class SliceEntries(NoFaults):
    """Engine faults: every opening (non reduce-only) order fills in 4 slices 10 minutes apart."""

    def fill_slices(self, order: OrderView) -> tuple[int, int]:
        return (1, 0) if order.reduce_only else (4, 600_000)


def test_partial_entry_is_canceled_and_flattened_through_the_router() -> None:
    async def go() -> None:
        w = world()
        await w.paper.load_markets()
        sim = w.paper.engine
        sim.faults, sim.has_faults = SliceEntries(), True
        eng, j, sink = engine(w)
        await drive(eng, w, 0, 3)
        states = sink.named("entry.partial_fill_state")
        assert states, "the first entry fills 25 % then waits: the resolver must act"
        first = states[0]
        assert first["outcome"] == "partial_forced_flatten"
        assert first["cancel_ok"] is True
        assert first["flatten_ok"] is True
        assert isinstance(j, MemoryJournal)
        kinds = [e.kind for e in j.of(OrderSubmitting) if isinstance(e, OrderSubmitting)]
        assert IntentKind.FLATTEN in kinds
        flat = [
            e
            for e in j.of(OrderSubmitting)
            if isinstance(e, OrderSubmitting) and e.kind is IntentKind.FLATTEN
        ]
        assert all(e.reduce_only for e in flat)
        assert eng.book.snapshot(SYM).qty == venue_qty(await w.paper.fetch_positions()) == 0
        until, at = first["backoff_until_ms"], first["ts_ms"]
        assert isinstance(until, int)
        assert isinstance(at, int)
        assert until > at
        assert not [o for o in w.paper.engine.open_orders()]  # no remainder left live

    run(go())
