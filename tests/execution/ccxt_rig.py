"""Test rig: the execution engine driving the real ccxt client (binanceusdm) against the exchange simulator
(stepped market time, a scripted price path), with a SQLite journal, restarts, in-process "kills" at a chosen
venue call, and the venue's truth read from the simulator itself. No tests here.

The truth a run is judged against (:func:`agreement`): every trade the venue made for the account is in the
journal once, booked to the order that made it (for the regular order a triggered stop or take-profit
became: that conditional), with the venue's fee; the book's position is the venue's; a fresh recovery over
the journal finds nothing to add and nothing wrong.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np

from eclipse.clock import LiveClock
from eclipse.contracts import IntentKind, TransitionRefused
from eclipse.execution.engine import EngineSettings, ExecutionEngine
from eclipse.execution.journal import Journal, JournalState, RecoveryReport, recover
from eclipse.machines.table import CompiledMachine
from eclipse.market.bars import Bar, OhlcvFrame
from eclipse.telemetry import MemorySink, Telemetry
from eclipse.venues.ccxt_venue import CcxtVenue
from eclipse.venues.credentials import Credentials
from eclipse.venues.sim.config import DEFAULT_KEY, DEFAULT_SECRET, SimConfig
from eclipse.venues.sim.engine import AlgoIdLayout
from eclipse.venues.sim.market import FeedConfig, FeedMode, MarketFeed
from eclipse.venues.sim.runner import SimServerThread
from eclipse.venues.types import OrderReport, OrderRequest, OrderType

SYM = "BTC/USDT:USDT"
RAW = "BTCUSDT"
LEVEL = 40_000.0
START = 10  # the feed starts this many bars into the path (klines have history)
ENV = {
    "FIXED_NOTIONAL_USDT": "500",  # 0.012 BTC at 40,000
    "SCALPER_DEBUG_FORCE_ENTRY": "long",
    "EXIT_STOP_LOSS_PCT": "0.004",  # ~39,840
    "EXIT_TAKE_PROFIT_PCT": "0.006",  # ~40,240
    "ENTRY_PARTIAL_MIN_FILL_RATIO": "0",  # slices keep coming: no partial-fill resolver
}


def path_frame(n: int = 80, moves: dict[int, tuple[float, float, float]] | None = None) -> OhlcvFrame:
    """``n`` 1m bars flat at :data:`LEVEL`; ``moves[i] = (high, low, close)`` changes bar ``i`` (later bars
    stay at its close). Data time is wall time: bar :data:`START` (where the market starts) opens at the
    current minute, so the engine's wall clock and the venue's market time agree (market time runs a minute
    ahead per step). Make it when the scenario starts: a path made minutes earlier puts the venue's fills
    before the engine's fill-fetch window."""
    first = (LiveClock().now_ms() // 60_000 - START) * 60_000
    ts = first + 60_000 * np.arange(n, dtype=np.int64)
    close = np.full(n, LEVEL)
    high, low = close.copy(), close.copy()
    opens = close.copy()
    for i, (h, lo, c) in sorted((moves or {}).items()):
        opens[i] = close[i - 1] if i > 0 else LEVEL
        high[i], low[i] = h, lo
        close[i:] = c
        high[i + 1 :], low[i + 1 :], opens[i + 1 :] = c, c, c
    return OhlcvFrame(ts, opens, high, low, close, np.full(n, 50.0))


class Killed(BaseException):
    """The engine process "dies" here (raised by :class:`KillSwitch`; no Exception: nothing catches it)."""


@dataclass
class KillSwitch:
    """A venue wrapper that raises :class:`Killed` right after the venue answered the chosen call (so the
    venue did it and the engine never learns of it), once per arming."""

    venue: CcxtVenue
    armed: Callable[[OrderRequest], bool] | None = None
    kills: int = 0
    on_kill: Callable[[], None] | None = None

    async def create_order(self, req: OrderRequest) -> OrderReport:
        rep = await self.venue.create_order(req)
        if self.armed is not None and self.armed(req):
            self.armed = None
            self.kills += 1
            if self.on_kill is not None:
                self.on_kill()
            raise Killed(req.client_order_id)
        return rep

    def __getattr__(self, name: str) -> Any:
        return getattr(self.venue, name)


@dataclass
class Rig:
    """One simulator (id layout ``layout``), one journal file, an engine that can be killed and resumed."""

    tmp: Path
    layout: AlgoIdLayout
    frame: OhlcvFrame = field(default_factory=path_frame)
    faults: dict[str, Any] | None = None
    sim: SimServerThread = field(init=False)
    index: int = START
    venues: list[CcxtVenue] = field(default_factory=list)
    sinks: list[MemorySink] = field(default_factory=list)
    journal: Journal | None = None
    switch: KillSwitch | None = None
    tables: dict[str, CompiledMachine] = field(default_factory=dict)
    """Machines to run instead of the code's (``order_table`` / ``protection_table``): mutated specs."""
    arm_next: Callable[[OrderRequest], bool] | None = None
    """Arms the next engine's venue (a resume): it dies right after the venue takes such a request."""
    kills: int = 0

    def __post_init__(self) -> None:
        config = FeedConfig(mode=FeedMode.STEPPED, rebase=False, start_offset_bars=START)
        feed = MarketFeed(LiveClock(), config)
        feed.add_ohlcv(RAW, self.frame)
        self.sim = SimServerThread(
            SimConfig(stepped=True, start_offset_bars=START, algo_ids=self.layout), LiveClock(), feed
        )
        self.sim.start()
        if self.faults:
            self.sim.control("POST", "/_sim/faults", self.faults)

    # --- the engine's life ---------------------------------------------------------------------------
    def settings(self) -> EngineSettings:
        return replace(EngineSettings.load(ENV, "micro", Decimal(10_000)), protection_check_sec=0.0)

    def _venue(self) -> KillSwitch:
        venue = CcxtVenue(
            "binanceusdm", Credentials(DEFAULT_KEY, DEFAULT_SECRET), LiveClock(), api_url=self.sim.url
        )
        self.venues.append(venue)
        self.switch = KillSwitch(venue, self.arm_next, on_kill=self._killed)
        self.arm_next = None
        return self.switch

    def _killed(self) -> None:
        self.kills += 1

    def _journal(self) -> Journal:
        if self.journal is not None:
            self.journal.close()
        self.journal = Journal.open(self.tmp / "journal.sqlite")
        return self.journal

    def _telemetry(self) -> Telemetry:
        sink = MemorySink()
        self.sinks.append(sink)
        return Telemetry(sink, LiveClock())

    def start(self) -> ExecutionEngine:
        """A fresh engine (first start)."""
        return ExecutionEngine(
            self._venue(),
            self._journal(),
            LiveClock(),
            self._telemetry(),
            self.settings(),
            sleep=asyncio.sleep,
            **self.tables,
        )

    async def resume(self) -> tuple[ExecutionEngine, RecoveryReport]:
        """A restart on the same journal and venue (the previous engine is gone)."""
        return await ExecutionEngine.resume(
            self._journal(),
            self._venue(),
            LiveClock(),
            self._telemetry(),
            self.settings(),
            sleep=asyncio.sleep,
            symbols=(SYM,),
            **self.tables,
        )

    async def close(self) -> None:
        for v in self.venues:
            await v.close()
        if self.journal is not None:
            self.journal.close()
        self.sim.stop()

    # --- market ----------------------------------------------------------------------------------------
    def step(self, bars: int = 1) -> None:
        """Move the market ``bars`` bars on (fills, triggers)."""
        self.sim.control("POST", "/_sim/step", {"bars": bars})
        self.index += bars

    async def bar(self) -> Bar:
        """The last closed 1m bar, from the venue (market time), as the daemon would hand it to the engine."""
        assert self.switch is not None
        candles = await self.switch.venue.fetch_ohlcv(SYM, "1m", limit=3)
        c = candles[-2]  # the last one is forming
        return Bar(c.ts_ms, c.open, c.high, c.low, c.close, c.volume)

    # --- the venue's truth -----------------------------------------------------------------------------
    def truth(self) -> dict[str, Any]:
        """From the simulator itself: each trade -> (owning client id, qty, fee), the position, live stops."""

        def read(ctx: Any) -> dict[str, Any]:
            eng = ctx.futures
            owner = {o.order_id: o.client_id for o in eng.regular.orders.values()}
            for a in eng.algo.orders.values():
                if a.triggered_order_id is not None:
                    owner[a.triggered_order_id] = a.client_id
            trades = {str(t.trade_id): (owner[t.order_id], t.qty, t.commission) for t in eng.trades_mem[RAW]}
            live = [a for a in eng.algo.open[RAW].values()]
            return {
                "trades": trades,
                "position": eng.pos_state[RAW].qty,
                "stops": sorted(a.client_id for a in live if a.type is OrderType.STOP_MARKET),
                "takes": sorted(a.client_id for a in live if a.type is OrderType.TAKE_PROFIT_MARKET),
                "stop_qty": [a.qty for a in live if a.type is OrderType.STOP_MARKET],
            }

        result: dict[str, Any] = self.sim.call(read, self.sim.ctx)
        return result


async def agreement(rig: Rig, engine: ExecutionEngine) -> list[str]:
    """What differs between the journal / the engine and the venue's truth (empty: they agree)."""
    assert rig.journal is not None
    truth = rig.truth()
    out: list[str] = []
    state = JournalState.replay(rig.journal)
    journaled = {k[1]: (v.client_order_id, v.fill.qty, v.fill.fee) for k, v in state.fills.items()}
    for tid, want in sorted(truth["trades"].items()):
        got = journaled.get(tid)
        if got != want:
            out.append(f"trade {tid}: venue {want}, journal {got}")
    for tid in sorted(set(journaled) - set(truth["trades"])):
        out.append(f"trade {tid}: journaled {journaled[tid]}, not a venue trade")
    book = engine.book.snapshot(SYM).qty
    if book != truth["position"]:
        out.append(f"position: book {book}, venue {truth['position']}")
    for cid, order in engine.orders.orders.items():
        venue_qty = sum((q for c, q, _ in truth["trades"].values() if c == cid), Decimal(0))
        if order.filled != venue_qty:
            out.append(f"{cid}: machine {order.state} filled {order.filled}, venue trades {venue_qty}")
    report = await recover(rig.journal, rig.switch.venue if rig.switch else engine.venue, LiveClock())
    if not report.clean or report.fills_added or report.adopted or report.repaired:
        out.append(
            f"recovery not clean: missing {report.fills_missing} errors {report.errors} "
            f"mismatches {[str(m) for m in report.position_mismatches]} unresolved {report.unresolved} "
            f"added {len(report.fills_added)} repaired {report.repaired}"
        )
    return out


def refusals(rig: Rig) -> list[str]:
    """Every machine refusal the journal recorded, as text (a sound run on a sound spec has none)."""
    assert rig.journal is not None
    return [
        f"{r.machine} {r.subject}: {r.trigger} refused in {r.state} ({r.reason})"
        for r in (rec.event for rec in rig.journal.records(0))
        if isinstance(r, TransitionRefused)
    ]


def leg_kinds(engine: ExecutionEngine) -> dict[str, IntentKind]:
    """Client id -> kind of every order the engine knows."""
    return {cid: o.kind for cid, o in engine.orders.orders.items()}


Scenario = Callable[[Rig], Awaitable[None]]
