"""A graceful stop asked for while the stop-loss of a fresh position is being placed: the loop finishes its
engine call (the placement), then stops; the position leaves with its stop on the venue."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from eclipse.runtime.daemon import Daemon, RunOptions
from eclipse.runtime.loops import run_wall
from eclipse.runtime.setup import RunMode
from eclipse.venues.types import OrderType


def test_a_stop_being_placed_is_placed_before_the_daemon_stops(tmp_path: Path) -> None:
    seen: dict[str, Any] = {}

    async def go() -> None:
        daemon = Daemon(
            {"FIXED_NOTIONAL_USDT": "200", "STATUS_HTTP": "0"},
            RunOptions(run_dir=tmp_path / "run", speed=300.0),
        )
        await daemon.start(RunMode.SIM)
        setup = daemon.setup
        assert setup is not None
        probe = setup.venue
        real_create = probe.create_order

        async def slow_create(req: Any) -> Any:
            if req.type is OrderType.STOP_MARKET and "asked" not in seen:
                seen["asked"] = True
                daemon.request_stop("test: graceful stop while the stop-loss is in flight")
                await asyncio.sleep(1.0)
            return await real_create(req)

        probe.create_order = slow_create  # type: ignore[method-assign]
        try:
            await asyncio.wait_for(run_wall(daemon), timeout=120)
            engine = daemon.engine
            assert engine is not None
            # before the venue closes: what the daemon leaves behind
            engine_symbols = list(engine.book.open_positions())
            seen["positions"] = engine_symbols
            stops = []
            for sym in engine_symbols:
                stops += [
                    o
                    for o in await setup.venue.fetch_open_orders(sym, conditional=True)
                    if o.type is OrderType.STOP_MARKET
                ]
            seen["stops"] = stops
            seen["states"] = [engine.protection.tracker(s).state for s in engine_symbols]
        finally:
            await daemon.shutdown()

    asyncio.run(go())
    assert seen.get("asked"), "no stop-loss was placed in the run"
    assert seen["positions"], "the position closed before the stop: nothing to prove"
    assert len(seen["stops"]) == len(seen["positions"])
    assert set(seen["states"]) == {"protected"}
