"""Engine-level protection safety: a stop refused as "would immediately trigger" closes the position at once,
a definitively refused stop is never resent unchanged, a re-size keeps the old stop until its replacement
works, ``tick()`` re-places missing protection between bars and reports it overdue, one symbol's listing
failure does not abort the check, and a restart takes fresh protective ids at once."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

from eclipse.contracts import IntentKind, OrderAcked, OrderSubmitting
from eclipse.execution.engine import ExecutionEngine
from eclipse.execution.journal import Journal, JournalState
from eclipse.execution.router import MemoryJournal, sim_sleep
from eclipse.execution.tracking import OrderLedger
from eclipse.telemetry import MemorySink, Telemetry
from eclipse.venues.errors import VenueError, VenueErrorKind
from eclipse.venues.paper import PaperVenue
from eclipse.venues.sim.model import EngineReject
from eclipse.venues.types import Fill, OrderReport, OrderRequest, OrderStatus, OrderType, Side

from .test_engine_kit import SYM, World, bar, engine, run, settings, world

ENV = {"EXIT_MAX_HOLD_SEC": "100000"}
OTHER = "AAA/USDT:USDT"


class StopVenue(PaperVenue):
    """Paper venue whose STOP_MARKET creates fail with ``mode``: "trigger" (-2021), "precision" (-1111,
    definitive), "busy" (transient, every try) or None (accepted)."""

    mode: str | None = None
    stops = 0

    async def create_order(self, request: OrderRequest) -> OrderReport:
        if request.type is OrderType.STOP_MARKET:
            self.stops += 1
            if self.mode == "trigger":
                raise self._error(EngineReject(-2021, "Order would immediately trigger."), "create_order")
            if self.mode == "precision":
                raise self._error(EngineReject(-1111, "Precision is over the maximum."), "create_order")
            if self.mode == "busy":
                raise VenueError(VenueErrorKind.EXCHANGE_BUSY, "busy", operation="create_order")
        return await super().create_order(request)


class TakeProfitRefusingVenue(PaperVenue):
    """Refuses every TAKE_PROFIT_MARKET create for good (-1111); stops are accepted."""

    async def create_order(self, request: OrderRequest) -> OrderReport:
        if request.type is OrderType.TAKE_PROFIT_MARKET:
            raise self._error(EngineReject(-1111, "Precision is over the maximum."), "create_order")
        return await super().create_order(request)


class SplitVenue(StopVenue):
    """Reports every fill as two trades (so an entry resizes its protection once)."""

    async def fetch_fills(self, symbol: str, since_ms: int | None = None, limit: int = 500) -> list[Fill]:
        out: list[Fill] = []
        for f in await super().fetch_fills(symbol, since_ms, limit):
            h = f.qty / 2
            out += [
                replace(f, trade_id=f.trade_id + "a", qty=h, fee=f.fee / 2),
                replace(f, trade_id=f.trade_id + "b", qty=f.qty - h, fee=f.fee - f.fee / 2),
            ]
        return out


class FailOtherVenue(StopVenue):
    """Listing the open orders of ``OTHER`` always fails."""

    async def fetch_open_orders(
        self, symbol: str | None = None, *, conditional: bool = False
    ) -> list[OrderReport]:
        if symbol == OTHER:
            raise VenueError(VenueErrorKind.NETWORK, "down", operation="fetch_open_orders")
        return await super().fetch_open_orders(symbol, conditional=conditional)


def _venue(w: World, cls: type[StopVenue] = StopVenue) -> Any:
    return cls(w.source, w.clock, refresh_ms=0)


async def _stops(v: PaperVenue) -> list[OrderReport]:
    return [o for o in await v.fetch_open_orders(SYM, conditional=True) if o.type is OrderType.STOP_MARKET]


def _submits(j: Any, kind: IntentKind) -> list[OrderSubmitting]:
    return [e for e in j.of(OrderSubmitting) if e.kind is kind and e.attempt == 1]


async def _bar0(w: World, eng: ExecutionEngine) -> None:
    b = bar(0)
    w.clock.set_ms(b.close_ms())
    await eng.on_bar(SYM, b)


def test_stop_refused_as_would_trigger_flattens_at_once_and_is_not_resent() -> None:
    async def go() -> None:
        w = world()
        v = _venue(w)
        v.mode = "trigger"
        eng, j, sink = engine(w, ENV, venue=v)
        await _bar0(w, eng)
        assert isinstance(j, MemoryJournal)
        assert len(_submits(j, IntentKind.ENTRY)) == 1
        assert eng.book.snapshot(SYM).qty == 0  # closed at once, not left unprotected
        assert len(_submits(j, IntentKind.FLATTEN)) == 1
        assert len(_submits(j, IntentKind.STOP_LOSS)) == 1
        (ev,) = sink.named("protection.stop_breached")
        assert (ev["severity"], ev["code"], ev["action"]) == ("critical", -2021, "flatten")
        for _ in range(5):  # later checks never resend it
            w.clock.advance(5)
            await eng.tick()
        assert len(_submits(j, IntentKind.STOP_LOSS)) == 1
        assert not await v.fetch_open_orders(SYM, conditional=True)

    run(go())


def test_a_stop_refused_for_good_closes_the_position_and_is_not_resent() -> None:
    """Any definitive refusal of the stop-loss (here a precision error, price not yet at the trigger) means
    the position can never be protected: it is flattened at once, never left open without a stop."""

    async def go() -> None:
        w = world()
        v = _venue(w)
        v.mode = "precision"
        eng, j, sink = engine(w, ENV, venue=v)
        await _bar0(w, eng)
        assert isinstance(j, MemoryJournal)
        (ev,) = sink.named("protection.refused")
        assert (ev["severity"], ev["code"], ev["action"]) == ("critical", -1111, "flatten")
        assert not sink.named("protection.stop_breached")  # the price was not beyond the trigger
        assert eng.book.snapshot(SYM).qty == 0
        assert len(_submits(j, IntentKind.FLATTEN)) == 1
        for _ in range(6):
            w.clock.advance(5)
            await eng.tick()
        assert v.stops == 1  # never resent unchanged
        assert await v.fetch_positions() == []

    run(go())


def test_a_refused_take_profit_keeps_the_position_and_its_stop() -> None:
    async def go() -> None:
        w = world()
        v = TakeProfitRefusingVenue(w.source, w.clock, refresh_ms=0)
        eng, _j, sink = engine(w, ENV, venue=v)
        await _bar0(w, eng)
        (ev,) = sink.named("protection.refused")
        assert (ev["severity"], ev["action"]) == ("high", "no_resend_unchanged")
        assert eng.book.snapshot(SYM).qty != 0  # still open, and still protected by its stop
        assert len(await _stops(v)) == 1

    run(go())


def test_resize_keeps_the_old_stop_until_its_replacement_is_placed() -> None:
    async def go() -> None:
        w = world()
        v = _venue(w, SplitVenue)
        eng, _j, _sink = engine(w, ENV, venue=v)
        orig = v.create_order

        async def create(req: OrderRequest) -> OrderReport:
            if req.type is OrderType.STOP_MARKET and v.stops >= 1:
                v.mode = "busy"  # the resized stop (2nd) cannot be placed
            return await orig(req)

        v.create_order = create  # type: ignore[method-assign]
        await _bar0(w, eng)
        qty = eng.book.snapshot(SYM).qty
        stops = await _stops(v)
        assert [o.client_order_id for o in stops] == [eng.entry_of[SYM][0] + "-sl-1"]  # still working
        assert stops[0].qty == qty / 2
        v.create_order = orig  # type: ignore[method-assign]
        v.mode = None
        w.clock.advance(5)
        assert await eng.tick()
        stops = await _stops(v)
        assert len(stops) == 1
        assert stops[0].qty == qty
        assert not stops[0].client_order_id.endswith("-sl-1")

    run(go())


def test_tick_replaces_a_stop_canceled_outside_within_the_grace() -> None:
    async def go() -> None:
        w = world()
        eng, _j, sink = engine(w, ENV)
        await _bar0(w, eng)
        (stop,) = await _stops(w.paper)
        w.clock.advance(1)
        await w.paper.cancel_order(SYM, client_order_id=stop.client_order_id, conditional=True)
        gone = w.clock.now_ms()
        grace = eng.settings.exits.for_symbol(SYM).protect_grace_sec
        while not await _stops(w.paper):
            assert w.clock.now_ms() - gone <= grace * 1000, "not re-placed within the grace"
            w.clock.advance(1)
            await eng.tick()
        assert not sink.named("protection.overdue")
        assert not eng.protection.entries_blocked(SYM)

    run(go())


def test_overdue_fires_when_the_grace_passes_between_bars() -> None:
    async def go() -> None:
        w = world()
        v = _venue(w)
        eng, _j, sink = engine(w, ENV, venue=v)
        await _bar0(w, eng)
        (stop,) = await _stops(v)
        v.mode = "busy"  # re-placement keeps failing (transient: it is retried)
        await v.cancel_order(SYM, client_order_id=stop.client_order_id, conditional=True)
        gone = w.clock.now_ms()
        grace = eng.settings.exits.for_symbol(SYM).protect_grace_sec
        tries = v.stops
        while not sink.named("protection.overdue"):
            assert w.clock.now_ms() - gone <= (grace + 2 * eng.settings.protection_check_sec) * 1000
            w.clock.advance(1)
            await eng.tick()
        assert v.stops > tries + 1  # resent at each check while transient
        assert eng.protection.entries_blocked(SYM)

    run(go())


def test_one_symbols_listing_failure_does_not_abort_the_check() -> None:
    async def go() -> None:
        w = world()
        v = _venue(w, FailOtherVenue)
        eng, _j, sink = engine(w, ENV, venue=v)
        await _bar0(w, eng)
        now = w.clock.now_ms()  # a live order the check must list first (sorted)
        eng.recorder.append(
            OrderSubmitting(
                now, "E-AAA", "E-AAA-1", IntentKind.ENTRY, OTHER, Side.BUY, OrderType.LIMIT, Decimal(1),
                Decimal(1), None, False, False, 1,
            )
        )  # fmt: skip
        eng.recorder.append(OrderAcked(now, "E-AAA-1", "77", OrderStatus.OPEN, Decimal(0)))
        (stop,) = await _stops(v)
        await v.cancel_order(SYM, client_order_id=stop.client_order_id, conditional=True)
        w.clock.advance(5)
        await eng.check_protection()
        assert await _stops(v)  # SYM was still checked and its stop re-placed
        assert [e.get("symbol") for e in sink.named("protection.check_failed")] == [OTHER]
        assert eng.orders.orders["E-AAA-1"].live  # the failed symbol was left alone

    run(go())


def test_restart_takes_the_next_free_protective_id_at_once(tmp_path: Path) -> None:
    async def go() -> None:
        w = world()
        v = _venue(w)
        path = tmp_path / "j.sqlite"
        j = Journal.open(path)
        eng, _, _ = engine(w, ENV, journal=j, venue=v)
        await _bar0(w, eng)
        v.mode = "busy"
        (stop,) = await _stops(v)
        await v.cancel_order(SYM, client_order_id=stop.client_order_id, conditional=True)
        for _ in range(12):  # every check sends a new stop id that fails
            w.clock.advance(5)
            await eng.check_protection()
        intent = eng.entry_of[SYM][0]
        sent = JournalState.replay(j).orders
        used = [int(c.rsplit("-", 1)[1]) for c in sent if c.startswith(intent + "-sl-")]
        assert max(used) >= 8
        qty = eng.book.snapshot(SYM).qty
        j.close()
        v.mode = None  # the venue accepts stops again; the process restarts
        j = Journal.open(path)
        eng2, _ = await ExecutionEngine.resume(
            j, v, w.clock, Telemetry(MemorySink(), w.clock), settings(ENV), sleep=sim_sleep(w.clock)
        )
        assert eng2.book.snapshot(SYM).qty == qty
        stops = await _stops(v)  # protected by resume's own check, with the next free id
        assert [o.client_order_id for o in stops] == [f"{intent}-sl-{max(used) + 1}"]
        j.close()

    run(go())


def test_fresh_id_takes_the_next_free_counter() -> None:
    t = OrderLedger()
    assert t.fresh_id("X-BTCUSDT-1-1") == "X-BTCUSDT-1-1"
    for cid in ("X-BTCUSDT-1-1", "X-BTCUSDT-1-2", "X-BTCUSDT-1-3", "E-1-sl-4", "plain"):
        t.remember(cid)
    assert t.fresh_id("X-BTCUSDT-1-1") == "X-BTCUSDT-1-4"
    assert t.fresh_id("E-1-sl-4") == "E-1-sl-5"
    assert t.fresh_id("plain") == "plain.r1"
    assert Counter(t.fresh_id("X-BTCUSDT-1-2") for _ in range(3)) == Counter({"X-BTCUSDT-1-4": 3})
