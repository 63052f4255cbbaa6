"""Recovery against the venue's truth, through the real ccxt client and the exchange simulator: a position
that differs from the venue's is repaired from the venue's fills of our orders (never by inventing a fill);
one that cannot be (a trade not ours) keeps entries on that symbol blocked and reported, exits allowed."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

from eclipse.clock import LiveClock
from eclipse.contracts import IntentKind, OrderResolved, RouterOutcome
from eclipse.venues.sim.engine import AlgoIdLayout
from eclipse.venues.types import OrderRequest, OrderStatus, OrderType, Side

from .ccxt_rig import LEVEL, SYM, Rig, agreement, path_frame
from .test_engine_ccxt_triggers import DIP, enter, leg, play


def test_a_mismatch_from_a_trigger_the_journal_got_wrong_is_repaired_from_the_venues_fills(
    tmp_path: Path,
) -> None:
    """The stop fires while the engine is down, and the journal (as an older version wrote it) says the stop
    was canceled: recovery does not look it up, its execution is no order the journal knows, and the
    position differs. The repair finds the fills, looks their order up (the regular order the stop became),
    links it to the stop and books them there."""

    async def scenario(rig: Rig) -> None:
        engine = rig.start()
        await enter(rig, engine)
        stop = leg(engine, IntentKind.STOP_LOSS)
        assert rig.journal is not None
        now = LiveClock().now_ms()
        rig.journal.append(OrderResolved(now, stop, OrderStatus.CANCELED, detail="wrong", filled=Decimal(0)))
        del engine
        rig.step(DIP + 2 - rig.index)
        engine, report = await rig.resume()
        assert report.repaired == (SYM,)
        assert report.position_mismatches == ()
        assert report.clean
        assert engine.book.snapshot(SYM).qty == 0
        assert not engine.blocked
        assert engine.orders.orders[stop].actual_id is not None
        problems = await agreement(rig, engine)
        assert [p for p in problems if not p.startswith(stop)] == []  # its machine refused the late trigger

    play(Rig(tmp_path, AlgoIdLayout.APART, path_frame(moves={DIP: (LEVEL, 39_000.0, 39_200.0)})), scenario)


def test_a_trade_not_ours_keeps_entries_blocked_and_exits_allowed(tmp_path: Path) -> None:
    async def scenario(rig: Rig) -> None:
        engine = rig.start()
        await enter(rig, engine)
        held = engine.book.snapshot(SYM).qty
        del engine  # down; the user sells part of the position by hand
        assert rig.switch is not None
        manual = OrderRequest(
            SYM, Side.SELL, OrderType.MARKET, Decimal("0.005"), "manual-1", reduce_only=True
        )
        await rig.switch.venue.create_order(manual)
        engine, report = await rig.resume()
        assert [(m.symbol, m.journal_qty, m.venue_qty) for m in report.position_mismatches] == [
            (SYM, held, held - Decimal("0.005"))
        ]
        assert report.repaired == ()  # nothing of ours to book: never an invented fill
        assert engine.blocked == {SYM: "position_mismatch"}
        result = await engine.force_exit(SYM, "operator")  # exits are never blocked
        assert result is not None
        assert result.outcome in (RouterOutcome.PLACED, RouterOutcome.REJECTED)

    play(Rig(tmp_path, AlgoIdLayout.APART, path_frame()), scenario)


def test_an_entry_on_a_symbol_whose_position_disagrees_is_blocked_and_reported(tmp_path: Path) -> None:
    async def scenario(rig: Rig) -> None:
        engine = rig.start()
        rig.step()
        del engine  # down before any trade; the user opens a position by hand
        assert rig.switch is not None
        await rig.switch.venue.create_order(
            OrderRequest(SYM, Side.BUY, OrderType.MARKET, Decimal("0.005"), "manual-1")
        )
        engine, report = await rig.resume()
        mismatches = [(m.symbol, m.journal_qty, m.venue_qty) for m in report.position_mismatches]
        assert mismatches == [(SYM, 0, Decimal("0.005"))]
        rig.step()
        await engine.on_bar(SYM, await rig.bar())  # the forced long entry is vetoed
        blocked = [e for e in rig.sinks[-1].events if e["event"] == "entry.blocked"]
        assert [e["reason"] for e in blocked] == ["position_mismatch", "position_mismatch"]  # resume, bar
        assert engine.orders.live(SYM) == []

    play(Rig(tmp_path, AlgoIdLayout.APART, path_frame()), scenario)


def test_entries_are_unblocked_once_the_position_agrees_again(tmp_path: Path) -> None:
    async def scenario(rig: Rig) -> None:
        engine = rig.start()
        await enter(rig, engine)
        del engine
        assert rig.switch is not None
        buy = OrderRequest(SYM, Side.BUY, OrderType.MARKET, Decimal("0.005"), "manual-1")
        sell = OrderRequest(SYM, Side.SELL, OrderType.MARKET, Decimal("0.005"), "manual-2", reduce_only=True)
        await rig.switch.venue.create_order(buy)
        engine, _ = await rig.resume()
        assert engine.blocked == {SYM: "position_mismatch"}
        await rig.switch.venue.create_order(sell)  # the user undoes it: the venue agrees with the book again
        await engine.tick()
        assert engine.blocked == {}
        assert any(e["event"] == "entry.unblocked" for e in rig.sinks[-1].events)

    asyncio.run(_close_after(Rig(tmp_path, AlgoIdLayout.APART, path_frame()), scenario))


async def _close_after(rig: Rig, scenario: object) -> None:
    try:
        await scenario(rig)  # type: ignore[operator]
    finally:
        await rig.close()
