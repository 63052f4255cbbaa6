"""open_venue: paper by default (no keys loaded), live only when asked for twice, the simulator in between."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

import pytest

from eclipse.clock import LiveClock, SimClock
from eclipse.errors import ConfigError
from eclipse.venues.ccxt_venue import CcxtVenue
from eclipse.venues.factory import open_venue
from eclipse.venues.paper import PaperVenue
from eclipse.venues.sim.config import SimConfig
from eclipse.venues.sim.runner import SimServerThread
from eclipse.venues.types import MarketKind, OrderRequest, OrderStatus, OrderType, Side

SECRET = "s3cr3t-never-shown-0123456789"


def test_dry_run_is_the_default_and_loads_no_keys(tmp_path: Path) -> None:
    env = {"BINANCE_API_KEY": "k" * 12, "BINANCE_API_SECRET": SECRET}
    venue = open_venue(env, SimClock(0), dotenv_path=tmp_path / "none.env")
    assert isinstance(venue, PaperVenue)
    assert venue.dry_run
    assert venue.name == "paper:binanceusdm"
    source = venue._source  # the public market-data client
    assert isinstance(source, CcxtVenue)
    assert source.exchange.apiKey in ("", None)
    assert source.exchange.secret in ("", None)


@pytest.mark.parametrize(("adapter", "kind"), [("binance", MarketKind.SPOT), ("coinbase", MarketKind.SPOT)])
def test_spot_adapters_paper_trade_spot(adapter: str, kind: MarketKind) -> None:
    venue = open_venue({"EXCHANGE_ADAPTER": adapter}, SimClock(0), dotenv_path=None)
    assert isinstance(venue, PaperVenue)
    assert venue._kind is kind


def test_live_on_a_real_exchange_must_be_confirmed_twice(tmp_path: Path) -> None:
    env = {"SCALPER_DRY_RUN": "0", "BINANCE_API_KEY": "k" * 12, "BINANCE_API_SECRET": SECRET}
    with pytest.raises(ConfigError) as info:
        open_venue(env, SimClock(0), dotenv_path=None)
    assert "SCALPER_DRY_RUN" in str(info.value)
    assert "--live" in str(info.value)
    venue = open_venue(env, SimClock(0), live_confirmed=True, dotenv_path=None)
    assert isinstance(venue, CcxtVenue)
    assert not venue.dry_run
    assert SECRET not in repr(venue)
    assert SECRET not in str(venue.exchange)


def test_live_without_keys_names_the_missing_variable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        open_venue({"SCALPER_DRY_RUN": "0"}, SimClock(0), live_confirmed=True, dotenv_path=tmp_path / "x.env")
    assert "BINANCE_API_KEY" in str(info.value)


def test_keys_come_from_a_dotenv_file(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text(f"BINANCE_API_KEY=from-file-key\nBINANCE_API_SECRET={SECRET}\n")
    venue = open_venue({"SCALPER_DRY_RUN": "0"}, SimClock(0), live_confirmed=True, dotenv_path=dotenv)
    assert isinstance(venue, CcxtVenue)
    assert venue.exchange.apiKey == "from-file-key"


def test_live_against_the_simulator_trades_there_without_the_second_switch() -> None:
    with SimServerThread(SimConfig(stepped=True), LiveClock()) as sim:
        env = {"EXCHANGE_ADAPTER": "sim", "SCALPER_DRY_RUN": "0", "VENUE_API_URL": sim.url}

        async def go() -> None:
            venue = open_venue(env, LiveClock(), dotenv_path=None)
            assert isinstance(venue, CcxtVenue)
            rep = await venue.create_order(
                OrderRequest("BTC/USDT:USDT", Side.BUY, OrderType.MARKET, Decimal("0.01"), "fac-1")
            )
            assert rep.status is OrderStatus.FILLED
            await venue.close()

        asyncio.run(go())
        assert [e.path for e in sim.ctx.journal.query(state_changing=True)] == ["/fapi/v1/order"]
