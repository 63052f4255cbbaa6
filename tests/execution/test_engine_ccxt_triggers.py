"""Fills of triggered stops and take-profits are booked to their leg: the engine through the real ccxt client
against the exchange simulator, with Binance's separate id sequences for regular and algo orders (far apart)
and with the two coinciding. Each time the journal's fills equal the venue's trades order by order (same
trade ids, same owning order, same fees), the book equals the venue's position and a recovery over the
journal is clean (:func:`~tests.execution.ccxt_rig.agreement`)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from eclipse.contracts import IntentKind
from eclipse.execution.engine import ExecutionEngine
from eclipse.venues.sim.engine import AlgoIdLayout
from eclipse.venues.types import OrderRequest, OrderStatus, OrderType

from .ccxt_rig import LEVEL, SYM, Killed, Rig, agreement, path_frame

LAYOUTS = [AlgoIdLayout.APART, AlgoIdLayout.COINCIDE]
DIP = 16  # the path bar where the price dips through the stop (or spikes through the take-profit)


def play(rig: Rig, scenario: Callable[[Rig], Awaitable[None]]) -> None:
    async def main() -> None:
        try:
            await scenario(rig)
        finally:
            await rig.close()

    asyncio.run(main())


async def enter(rig: Rig, engine: ExecutionEngine) -> None:
    """One bar: the forced long entry fills and its stop and take-profit are placed."""
    rig.step()
    await engine.on_bar(SYM, await rig.bar())
    assert engine.book.snapshot(SYM).qty > 0
    kinds = {o.kind for o in engine.orders.live(SYM)}
    assert kinds == {IntentKind.STOP_LOSS, IntentKind.TAKE_PROFIT}, engine.orders.orders


async def until_flat(rig: Rig, engine: ExecutionEngine) -> None:
    """Step the market to past the move, ticking the engine after each bar (no new entries)."""
    while rig.index <= DIP + 1:
        rig.step()
        await engine.tick()


def leg(engine: ExecutionEngine, kind: IntentKind) -> str:
    (cid,) = [c for c, o in engine.orders.orders.items() if o.kind is kind]
    return cid


@pytest.mark.parametrize("layout", LAYOUTS)
def test_a_stop_fires_and_its_fill_is_the_stops(tmp_path: Path, layout: AlgoIdLayout) -> None:
    async def scenario(rig: Rig) -> None:
        engine = rig.start()
        await enter(rig, engine)
        stop = leg(engine, IntentKind.STOP_LOSS)
        await until_flat(rig, engine)
        assert engine.book.snapshot(SYM).qty == 0
        order = engine.orders.orders[stop]
        assert order.state == "filled"
        assert order.actual_id is not None
        assert order.venue_id is not None
        assert order.actual_id != order.venue_id
        assert engine.protection.tracker(SYM).state == "flat"
        assert rig.truth()["stops"] == []
        assert rig.truth()["takes"] == []
        assert await agreement(rig, engine) == []
        refusals = [e for s in rig.sinks for e in s.events if e["event"] == "order.transition_refused"]
        assert refusals == []

    play(Rig(tmp_path, layout, path_frame(moves={DIP: (LEVEL, 39_000.0, 39_200.0)})), scenario)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_a_take_profit_fires_and_its_fill_is_the_take_profits(tmp_path: Path, layout: AlgoIdLayout) -> None:
    async def scenario(rig: Rig) -> None:
        engine = rig.start()
        await enter(rig, engine)
        take = leg(engine, IntentKind.TAKE_PROFIT)
        await until_flat(rig, engine)
        assert engine.book.snapshot(SYM).qty == 0
        assert engine.orders.orders[take].state == "filled"
        assert engine.protection.tracker(SYM).state == "flat"
        assert rig.truth()["stops"] == []
        assert await agreement(rig, engine) == []

    play(Rig(tmp_path, layout, path_frame(moves={DIP: (41_000.0, LEVEL, 40_800.0)})), scenario)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_a_stop_that_fires_while_the_engine_is_down_is_booked_by_recovery(
    tmp_path: Path, layout: AlgoIdLayout
) -> None:
    async def scenario(rig: Rig) -> None:
        engine = rig.start()
        await enter(rig, engine)
        stop = leg(engine, IntentKind.STOP_LOSS)
        del engine  # the process stops; the market moves through the stop meanwhile
        rig.step(DIP + 2 - rig.index)
        assert rig.truth()["position"] == 0
        engine, report = await rig.resume()
        assert report.clean, report
        assert [o.client_order_id for o in report.resolved] == [stop]
        assert report.resolved[0].status is OrderStatus.FILLED
        assert engine.book.snapshot(SYM).qty == 0
        assert engine.orders.orders[stop].state == "filled"
        assert engine.entries_enabled
        assert not engine.blocked
        assert rig.truth()["takes"] == []  # the leftover take-profit was canceled by the resume's check
        assert await agreement(rig, engine) == []

    play(Rig(tmp_path, layout, path_frame(moves={DIP: (LEVEL, 39_000.0, 39_200.0)})), scenario)


SLICES = {"engine": {"partial_fills": {"p": 1.0, "slices": 6, "interval_ms": 60_000}}}
"""Every order fills in 6 slices, one per bar (the entry, and the market order a triggered stop becomes)."""


@pytest.mark.parametrize("layout", LAYOUTS)
def test_an_entry_that_partially_fills_across_a_stops_trigger(tmp_path: Path, layout: AlgoIdLayout) -> None:
    async def scenario(rig: Rig) -> None:
        engine = rig.start()
        rig.step()
        await engine.on_bar(SYM, await rig.bar())  # the first slice of the entry; its stop is placed
        assert 0 < engine.book.snapshot(SYM).qty < 12 * engine.book.snapshot(SYM).qty
        while rig.index < 30:  # the entry keeps filling while the stop triggers and sells in slices
            rig.step()
            await engine.tick()
        kinds = {o.kind for o in engine.orders.orders.values() if o.filled > 0}
        assert {IntentKind.ENTRY, IntentKind.STOP_LOSS} <= kinds
        assert await agreement(rig, engine) == []

    frame = path_frame(moves={13: (LEVEL, 39_000.0, 39_200.0)})
    play(Rig(tmp_path, layout, frame, SLICES), scenario)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_kills_between_placing_a_new_stop_and_canceling_the_old_never_pile_stops_up(
    tmp_path: Path, layout: AlgoIdLayout
) -> None:
    """The entry fills in slices; each slice grows the position and the stop is replaced (the new one placed,
    then the old one canceled). The engine dies right after the venue took each new stop, five times in a
    row: while it is down the position has at most two working stops (the bound), and after each completed
    resume exactly one, covering the whole position."""

    def new_stop(req: OrderRequest) -> bool:
        return req.type is OrderType.STOP_MARKET

    async def scenario(rig: Rig) -> None:
        engine = rig.start()
        rig.step()
        await engine.on_bar(SYM, await rig.bar())
        assert len(rig.truth()["stops"]) == 1
        kills = 0
        for _ in range(5):
            rig.step()  # the next slice of the entry fills
            assert rig.switch is not None
            rig.switch.armed = new_stop
            with pytest.raises(Killed):
                await engine.tick()
            kills += 1
            down = rig.truth()
            assert len(down["stops"]) == 2, down  # the working stop and the replacement: the bound
            engine, report = await rig.resume()
            assert report.clean, report
            up = rig.truth()
            assert len(up["stops"]) == 1, up
            assert up["stop_qty"] == [up["position"]]
            assert len(up["takes"]) <= 1
        assert kills == 5
        assert await agreement(rig, engine) == []

    play(Rig(tmp_path, layout, path_frame(), SLICES), scenario)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_restarts_adopt_the_working_stop_and_never_pile_stops_up(
    tmp_path: Path, layout: AlgoIdLayout
) -> None:
    """The working stop is not the one a replay of the fills derives (``-sl-1`` was canceled outside Eclipse
    and ``-sl-2`` replaced it). Ten restarts in a row, each armed to die right after the venue takes a new
    stop: a resume adopts the working stop and places none, so the position keeps exactly one."""

    def new_stop(req: OrderRequest) -> bool:
        return req.type is OrderType.STOP_MARKET

    async def scenario(rig: Rig) -> None:
        engine = rig.start()
        await enter(rig, engine)
        first = leg(engine, IntentKind.STOP_LOSS)
        assert rig.switch is not None
        await rig.switch.venue.cancel_order(SYM, client_order_id=first, conditional=True)
        await engine.tick()  # the check re-places it under the next id
        (working,) = rig.truth()["stops"]
        assert working != first
        for _ in range(10):
            rig.arm_next = new_stop
            engine, report = await rig.resume()  # would die if the resume placed a stop
            assert rig.kills == 0
            assert report.clean
            assert rig.truth()["stops"] == [working]
        assert await agreement(rig, engine) == []

    play(Rig(tmp_path, layout, path_frame()), scenario)
