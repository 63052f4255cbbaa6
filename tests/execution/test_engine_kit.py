"""Test kit for the execution engine: the in-process simulator (PaperVenue over a ReplaySource of the
embedded BTC month) under a SimClock, an engine on it, and a bar driver. No tests here."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Coroutine
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeVar

from eclipse.clock import SimClock
from eclipse.execution.engine import EngineSettings, ExecutionEngine
from eclipse.execution.router import JournalSink, MemoryJournal, sim_sleep
from eclipse.market.bars import Bar, OhlcvFrame, embedded_dataset
from eclipse.telemetry import MemorySink, Telemetry
from eclipse.venues.paper import PaperVenue
from eclipse.venues.protocol import Venue
from eclipse.venues.replay_source import ReplaySource
from eclipse.venues.types import Side

T = TypeVar("T")
SYM = "BTC/USDT:USDT"
MINUTE = 60_000
BASE_ENV = {
    "FIXED_NOTIONAL_USDT": "500",
    "SCALPER_DEBUG_FORCE_ENTRY": "alternate",
    "EXIT_MAX_HOLD_SEC": "1800",
    "EXIT_STOP_LOSS_PCT": "0.004",
    "EXIT_TAKE_PROFIT_PCT": "0.006",
}


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run one coroutine to completion."""
    return asyncio.run(coro)


@functools.cache
def frame() -> OhlcvFrame:
    """The first 6000 bars of the embedded BTC month."""
    return embedded_dataset().head(6000)


def bar(i: int) -> Bar:
    """Bar ``i`` of the frame."""
    f = frame()
    return Bar(
        int(f.ts_ms[i]),
        float(f.open[i]),
        float(f.high[i]),
        float(f.low[i]),
        float(f.close[i]),
        float(f.volume[i]),
    )


@dataclass
class World:
    """A simulated exchange and its clock (survives an engine restart)."""

    clock: SimClock
    source: ReplaySource
    paper: PaperVenue


def world() -> World:
    """A fresh simulated exchange positioned before bar 0."""
    f = frame()
    clock = SimClock(int(f.ts_ms[0]) + MINUTE)
    source = ReplaySource(clock, {SYM: f})
    return World(clock, source, PaperVenue(source, clock, refresh_ms=0))


def settings(env: dict[str, str] | None = None) -> EngineSettings:
    """Engine settings from ``BASE_ENV`` updated with ``env``."""
    return EngineSettings.load({**BASE_ENV, **(env or {})}, "micro", Decimal(10_000))


def engine(
    w: World,
    env: dict[str, str] | None = None,
    journal: JournalSink | None = None,
    venue: Venue | None = None,
    **kw: Any,
) -> tuple[ExecutionEngine, JournalSink, MemorySink]:
    """An engine on ``w`` (or on ``venue`` wrapping it)."""
    sink = MemorySink()
    j = journal if journal is not None else MemoryJournal()
    eng = ExecutionEngine(
        venue or w.paper, j, w.clock, Telemetry(sink, w.clock), settings(env), sleep=sim_sleep(w.clock), **kw
    )
    return eng, j, sink


async def drive(eng: ExecutionEngine, w: World, start: int, stop: int) -> None:
    """Feed bars ``start``..``stop-1`` at their close times."""
    for i in range(start, stop):
        b = bar(i)
        w.clock.set_ms(b.close_ms())
        await eng.on_bar(SYM, b)


def venue_qty(positions: list[Any]) -> Decimal:
    """Signed venue position of SYM."""
    total = Decimal(0)
    for p in positions:
        if p.symbol == SYM:
            total += p.qty if p.side is Side.BUY else -p.qty
    return total
