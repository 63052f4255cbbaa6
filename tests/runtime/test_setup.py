"""Which mode the knobs and flags select, symbol names, and the paper mode's venue: the exchange's public
data only (not a single signed request), fills by the local matching engine."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

import pytest

from eclipse.errors import ConfigError
from eclipse.runtime.rundir import RunDir
from eclipse.runtime.setup import RunMode, open_run_venue, resolve_mode, unified_symbol
from eclipse.venues.paper import PaperVenue
from eclipse.venues.sim.config import SimConfig
from eclipse.venues.sim.runner import SimServerThread
from eclipse.venues.types import OrderRequest, OrderStatus, OrderType, Side


@pytest.mark.parametrize(
    ("env", "live", "sim_clock", "mode"),
    [
        ({}, False, False, RunMode.SIM),
        ({"EXCHANGE_ADAPTER": "sim"}, False, False, RunMode.SIM),
        ({"EXCHANGE_ADAPTER": "binanceusdm"}, False, False, RunMode.PAPER),
        ({"EXCHANGE_ADAPTER": "coinbase", "SCALPER_DRY_RUN": "1"}, False, False, RunMode.PAPER),
        ({"EXCHANGE_ADAPTER": "binance", "SCALPER_DRY_RUN": "0"}, True, False, RunMode.LIVE),
        ({"EXCHANGE_ADAPTER": "binanceusdm"}, False, True, RunMode.SIMULATED),
    ],
)
def test_mode_resolution(env: dict[str, str], live: bool, sim_clock: bool, mode: RunMode) -> None:
    assert resolve_mode(env, live_flag=live, sim_clock=sim_clock) is mode


@pytest.mark.parametrize(
    ("env", "live", "sim_clock", "knob"),
    [
        ({"EXCHANGE_ADAPTER": "binanceusdm", "SCALPER_DRY_RUN": "0"}, False, False, "SCALPER_DRY_RUN"),
        ({"EXCHANGE_ADAPTER": "binanceusdm"}, True, False, "SCALPER_DRY_RUN"),
        ({}, True, False, "EXCHANGE_ADAPTER"),
        ({"EXCHANGE_ADAPTER": "binanceusdm", "SCALPER_DRY_RUN": "0"}, True, True, "--clock"),
    ],
)
def test_live_is_asked_for_twice(env: dict[str, str], live: bool, sim_clock: bool, knob: str) -> None:
    with pytest.raises(ConfigError) as info:
        resolve_mode(env, live_flag=live, sim_clock=sim_clock)
    assert info.value.knob == knob


def test_unified_symbols() -> None:
    assert unified_symbol("BTCUSDT") == "BTC/USDT:USDT"
    assert unified_symbol("ETHUSDC", linear=False) == "ETH/USDC"
    assert unified_symbol("SOL/USDT:USDT") == "SOL/USDT:USDT"
    with pytest.raises(ConfigError, match="ACTIVE_SYMBOLS"):
        unified_symbol("FOOBAR")


def test_paper_mode_reads_public_data_and_fills_locally(tmp_path: Path) -> None:
    sim = SimServerThread(SimConfig(speed=1.0))
    sim.start()
    try:
        env = {"EXCHANGE_ADAPTER": "binanceusdm", "VENUE_API_URL": sim.url}

        async def go() -> None:
            setup = await open_run_venue(
                RunMode.PAPER, env, RunDir(tmp_path), symbols=("BTC/USDT:USDT",), speed=None
            )
            try:
                assert isinstance(setup.venue, PaperVenue)
                assert setup.resync is not None
                await setup.resync()
                assert abs(setup.market.now_ms() - await setup.venue.fetch_time_ms()) < 5_000
                rep = await setup.venue.create_order(
                    OrderRequest("BTC/USDT:USDT", Side.BUY, OrderType.MARKET, Decimal("0.01"), "paper-1")
                )
                assert rep.status is OrderStatus.FILLED
            finally:
                await setup.close()

        asyncio.run(go())
        requests = sim.ctx.journal.query()
        assert requests
        assert all(not r.signed and not r.state_changing for r in requests)
        assert sim.call(lambda: sim.ctx.futures.open_orders()) == []
        assert (tmp_path / "paper.sqlite").exists()
    finally:
        sim.stop()
