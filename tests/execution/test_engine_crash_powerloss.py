"""Power loss under the engine: with ``durable_submits=False`` every record commits with NORMAL, so a power
loss can drop the journal's tail, entry and stop included. ``ExecutionEngine.resume`` must adopt them back
from the venue by client id and leave the open position protected by exactly one stop."""

from __future__ import annotations

from pathlib import Path

from eclipse.execution.engine import ExecutionEngine
from eclipse.execution.journal import Journal, JournalState
from eclipse.execution.router import sim_sleep
from eclipse.telemetry import MemorySink, Telemetry

from .test_engine_kit import SYM, World, drive, engine, run, settings, venue_qty, world
from .test_recovery_powerloss import truncated_copy


async def _open_with_stop(w: World, path: Path) -> tuple[int, int]:
    """Drive bars until the venue holds a position and its stop; (next bar, journal seq at that point)."""
    with Journal.open(path, durable_submits=False) as j:
        eng, _, _ = engine(w, journal=j)
        for i in range(300):
            await drive(eng, w, i, i + 1)
            stops = [
                o
                for o in await w.paper.fetch_open_orders(SYM, conditional=True)
                if o.type.value == "stop_market"
            ]
            if venue_qty(await w.paper.fetch_positions()) != 0 and stops:
                assert j.durable_commits == 0
                return i + 1, j.last_seq()
    raise AssertionError("no protected position")


async def _stops(w: World) -> list[str]:
    cond = await w.paper.fetch_open_orders(SYM, conditional=True)
    return [o.client_order_id or "" for o in cond if o.type.value == "stop_market"]


def test_resume_after_losing_the_tail_protects_the_adopted_position(tmp_path: Path) -> None:
    async def probe() -> tuple[int, int]:
        return await _open_with_stop(world(), tmp_path / "probe.db")

    _, total = run(probe())
    adopted_entries = 0
    for n in range(total + 1):

        async def go(n: int = n) -> int:
            w = world()
            full, cut = tmp_path / f"full-{n}.db", tmp_path / f"cut-{n}.db"
            bar, seq = await _open_with_stop(w, full)
            assert seq == total  # deterministic
            truncated_copy(full, cut, n)
            (before,) = await _stops(w)
            with Journal.open(cut, durable_submits=False) as j:
                sink = MemorySink()
                eng, report = await ExecutionEngine.resume(
                    j, w.paper, w.clock, Telemetry(sink, w.clock), settings(), sleep=sim_sleep(w.clock)
                )
                assert report.clean, (n, report)
                qty = venue_qty(await w.paper.fetch_positions())
                assert qty != 0
                assert eng.book.snapshot(SYM).qty == qty
                assert await _stops(w) == [before], n  # the adopted stop is kept: exactly one, no second
                state = JournalState.replay(j)
                assert state.duplicate_fills == 0
                assert state.position_qty(SYM) == qty
                assert before in state.orders
                venue_fills = await w.paper.fetch_fills(SYM, since_ms=0, limit=1000)
                assert state.trade_ids(SYM) == {f.trade_id for f in venue_fills}
                await drive(eng, w, bar, bar + 30)
                await eng.check_protection()
                qty = venue_qty(await w.paper.fetch_positions())
                assert eng.book.snapshot(SYM).qty == qty
                assert len(await _stops(w)) == (1 if qty != 0 else 0)
                return sum(1 for a in report.adopted if a.kind.value == "entry")

        adopted_entries += run(go())
    assert adopted_entries > 0  # some cuts lost the entry itself
