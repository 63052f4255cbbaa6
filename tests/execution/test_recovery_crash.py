"""Crash at every step: kill the scripted order flow before step k (for every k), restart on the same journal
file, replay, recover against the same venue, and compare with the venue's truth."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

import pytest

from eclipse.execution.journal.recovery import RecoveryReport, recover
from eclipse.execution.journal.state import JournalState, OrderPhase
from eclipse.execution.journal.store import Journal
from eclipse.venues.types import OrderStatus, Side

from .journal_kit import SYM, Driver, FaultyPaper, SimulatedCrash, Steps, make_venue, no_sleep, venue_truth

CIDS = ["ecl-e1", "ecl-bad", "ecl-sl", "ecl-tp", "ecl-x1", "ecl-x2"]


def _count_steps(tmp: Path, unknown: set[str]) -> int:
    async def go() -> int:
        venue, clock = make_venue()
        venue.unknown_after = unknown
        steps = Steps()
        with Journal.open(tmp / "count.db") as j:
            await Driver(j, venue, clock, steps).script()
        return len(steps.done)

    return asyncio.run(go())


async def _check(venue: FaultyPaper, path: Path, report: RecoveryReport) -> JournalState:
    """The recovered journal equals the venue's truth."""
    assert report.clean, report
    with Journal.open_reader(path) as r:
        state = JournalState.replay(r)
        raw_trades = [rec.event.fill.trade_id for rec in r.records() if rec.name == "order.fill"]  # type: ignore[union-attr]
    assert len(raw_trades) == len(set(raw_trades)), "a fill was journaled twice"
    assert state.duplicate_fills == 0
    assert state.anomalies == []
    truth = await venue_truth(venue, list(state.orders), {"ecl-sl"})
    for cid, o in state.orders.items():
        rep = truth[cid]
        if rep is None:  # never landed: resolved as rejected so the intent may be retried
            assert (o.phase, o.status) == (OrderPhase.RESOLVED, OrderStatus.REJECTED), o
            assert o.filled == 0
            continue
        assert o.order_id == rep.order_id
        assert o.status is rep.status, (cid, o, rep)
        assert o.phase is (OrderPhase.RESOLVED if rep.status.terminal else OrderPhase.ACKED)
        assert o.filled == rep.filled == o.venue_filled, (cid, o, rep)
    venue_fills = await venue.fetch_fills(SYM)
    assert {f.trade_id for f in venue_fills} == state.trade_ids(SYM)  # no fill lost, none invented
    positions = await venue.fetch_positions()
    venue_qty = sum((p.qty if p.side is Side.BUY else -p.qty for p in positions), Decimal(0))
    assert state.position_qty(SYM) == venue_qty
    if state.positions:
        assert state.reported_positions[SYM].qty == venue_qty
    return state


def _crash_and_recover(tmp: Path, k: int, unknown: set[str]) -> tuple[RecoveryReport, list[str]]:
    path = tmp / f"crash-{k}.db"

    async def go() -> tuple[RecoveryReport, list[str]]:
        venue, clock = make_venue()
        venue.unknown_after = unknown
        steps = Steps(crash_at=k)
        j = Journal.open(path)
        with pytest.raises(SimulatedCrash):
            await Driver(j, venue, clock, steps).script()
        j.close()  # the process is gone; the venue (the exchange) lives on
        clock.advance(2.0)
        calls_before = len(venue.calls)
        with Journal.open(path) as j2:
            report = await recover(j2, venue, clock, sleep=no_sleep)
            assert not {"create_order", "cancel_order"} & set(venue.calls[calls_before:])  # reads only
            state = await _check(venue, path, report)
            seq = j2.last_seq()
            again = await recover(j2, venue, clock, sleep=no_sleep)  # idempotent: nothing more to journal
            assert j2.last_seq() == seq
            assert again.clean
            assert again.fills_added == ()
            assert again.resolved == ()
            assert JournalState.replay(j2) == state
        return report, steps.done

    return asyncio.run(go())


@pytest.mark.parametrize("unknown", [set(), {"ecl-e1", "ecl-x1"}], ids=["acked", "outcome-unknown"])
def test_crash_before_every_step_recovers_the_venue_truth(tmp_path: Path, unknown: set[str]) -> None:
    total = _count_steps(tmp_path, unknown)
    assert total > 30
    resolved_any = fills_any = 0
    for k in range(total):
        report, done = _crash_and_recover(tmp_path, k, unknown)
        assert len(done) == k
        resolved_any += bool(report.resolved)
        fills_any += bool(report.fills_added)
    assert resolved_any > 5  # the scenarios really left orders in flight
    assert fills_any > 2  # ... and fills only the venue knew


def test_clean_run_needs_no_recovery(tmp_path: Path) -> None:
    async def go() -> None:
        venue, clock = make_venue()
        path = tmp_path / "j.db"
        with Journal.open(path) as j:
            await Driver(j, venue, clock, Steps()).script()
            seq = j.last_seq()
            report = await recover(j, venue, clock, sleep=no_sleep)
            assert j.last_seq() == seq
            assert report.clean
            assert report.checked == 0
            assert report.positions_checked
        await _check(venue, path, report)

    asyncio.run(go())
