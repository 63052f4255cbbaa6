"""Test kit for the reliability loop: an engine on the in-process simulator (tests/execution/test_engine_kit)
with a :class:`ReliabilityLoop` over it, and helpers that change the venue under the bot. No tests here."""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from tests.execution.test_engine_kit import SYM, World, bar, engine, world

from eclipse.execution.engine import ExecutionEngine
from eclipse.machines.table import CompiledMachine
from eclipse.reliability.loop import ReliabilityLoop
from eclipse.reliability.provider import ReliabilityGuard
from eclipse.reliability.settings import ReliabilitySettings
from eclipse.runtime.guard import DaemonGuard
from eclipse.telemetry import MemorySink
from eclipse.venues.errors import VenueError, VenueErrorKind
from eclipse.venues.protocol import Venue
from eclipse.venues.types import Fill, OrderReport, OrderRequest, OrderType, Side

__all__ = ["SYM", "BinanceFills", "Rig", "manual_order", "rig"]


class BinanceFills:
    """``inner`` as Binance USD-M answers: fills carry no client order id (``userTrades`` has none), so a fill
    is ours only through its order's venue id; plus switches that fail lookups or fill reads, and one exit
    whose answer is lost after the venue acted."""

    def __init__(self, inner: Any, *, strip_cid: bool = True) -> None:
        self._inner = inner
        self.strip_cid = strip_cid
        self.lose_next_exit_answer = False
        self.fail_lookups = False
        self.fail_fills = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def create_order(self, req: OrderRequest) -> OrderReport:
        rep: OrderReport = await self._inner.create_order(req)
        if self.lose_next_exit_answer and req.client_order_id.startswith("X-"):
            self.lose_next_exit_answer = False
            raise VenueError(VenueErrorKind.OUTCOME_UNKNOWN, "timeout after the venue acted")
        return rep

    async def fetch_order(self, *args: Any, **kw: Any) -> OrderReport:
        if self.fail_lookups:
            raise VenueError(VenueErrorKind.NETWORK, "injected")
        rep: OrderReport = await self._inner.fetch_order(*args, **kw)
        return rep

    async def fetch_fills(self, symbol: str, since_ms: int | None = None, limit: int = 500) -> list[Fill]:
        if self.fail_fills:
            raise VenueError(VenueErrorKind.NETWORK, "injected")
        fills: list[Fill] = await self._inner.fetch_fills(symbol, since_ms=since_ms, limit=limit)
        return [replace(f, client_order_id=None) for f in fills] if self.strip_cid else fills


@dataclass
class Rig:
    """A world, an engine on it, the loop and the provider the gate reads."""

    w: World
    eng: ExecutionEngine
    sink: MemorySink
    loop: ReliabilityLoop
    guard: ReliabilityGuard

    def events(self, name: str) -> list[dict[str, Any]]:
        """The telemetry records named ``name``."""
        return [dict(e) for e in self.sink.named(name)]

    async def bars(self, start: int, stop: int, *, cycle: bool = True) -> None:
        """Feed bars ``start``..``stop-1`` at their close times, a loop cycle after each."""
        for i in range(start, stop):
            b = bar(i)
            self.w.clock.set_ms(b.close_ms())
            await self.eng.on_bar(SYM, b)
            if cycle:
                await self.loop.run_cycle()

    async def quiet(self, seconds: float, *, engine_tick: bool = True) -> None:
        """Let market time pass (no bar) with the loop's cycles every second (and the engine's protection
        check when due, unless ``engine_tick`` is False: the loop alone)."""
        for _ in range(round(seconds)):
            self.w.clock.advance(ms=1000)
            if engine_tick:
                await self.eng.tick()
            await self.loop.run_cycle()


def rig(
    env: dict[str, str] | None = None,
    settings: ReliabilitySettings | None = None,
    *,
    venue: Venue | None = None,
    w: World | None = None,
    posture_table: CompiledMachine | None = None,
    reconcile_table: CompiledMachine | None = None,
) -> Rig:
    """A fresh rig (force entries every bar, 500 USDT notional; see the engine kit's BASE_ENV)."""
    w = w if w is not None else world()
    guard = ReliabilityGuard(DaemonGuard())
    eng, _, sink = engine(w, env, venue=venue, guard=guard)
    s = (
        settings
        if settings is not None
        else ReliabilitySettings(positions_check_sec=5.0, orders_check_sec=5.0)
    )
    loop = ReliabilityLoop(
        eng, (SYM,), s, eng.telemetry.emit, posture_table=posture_table, reconcile_table=reconcile_table
    )
    guard.loop = loop
    return Rig(w, eng, sink, loop, guard)


async def manual_order(
    w: World, side: Side, qty: str, *, reduce_only: bool = False, cid: str = "manual-1"
) -> None:
    """A trade the user makes by hand on the venue (a foreign client id)."""
    await w.paper.create_order(
        OrderRequest(SYM, side, OrderType.MARKET, Decimal(qty), cid, reduce_only=reduce_only)
    )
