"""The ccxt client factory (URL override, options, error tables) and the venue knobs of the registry."""

from __future__ import annotations

from pathlib import Path

import ccxt
import pytest

from eclipse.clock import SimClock
from eclipse.config.registry import get_param
from eclipse.errors import ConfigError
from eclipse.venues.ccxt_factory import build_exchange, load_venue_settings
from eclipse.venues.credentials import Credentials
from eclipse.venues.sim.config import DEFAULT_KEY

URL = "http://127.0.0.1:8800"


def test_every_api_url_is_pointed_at_the_server_keeping_its_path() -> None:
    ex = build_exchange("binanceusdm", Credentials("k" * 8, "s" * 8), SimClock(5), api_url=URL + "/")
    api = ex.urls["api"]
    assert api["fapiPublic"] == URL + "/fapi/v1"
    assert api["fapiPrivateV3"] == URL + "/fapi/v3"
    assert api["fapiData"] == URL + "/futures/data"
    assert api["public"] == URL + "/api/v3"
    assert api["sapi"] == URL + "/sapi/v1"
    assert all(v.startswith(URL + "/") for v in api.values() if isinstance(v, str))
    cb = build_exchange("coinbase", None, SimClock(5), api_url=URL)
    assert cb.urls["api"]["rest"] == URL
    assert cb.has["fetchCurrencies"] is False
    assert cb.options["fetchBalance"] == "v3PrivateGetBrokerageAccounts"


def test_client_options() -> None:
    clock = SimClock(1_700_000_000_123)
    ex = build_exchange(
        "binance", Credentials("key-1234", "sec-5678"), clock, timeout_ms=1234, recv_window_ms=777
    )
    assert (ex.enableRateLimit, ex.timeout, ex.apiKey, ex.secret) == (False, 1234, "key-1234", "sec-5678")
    assert ex.options["maxRetriesOnFailure"] == 0
    assert ex.options["recvWindow"] == 777
    assert ex.options["fetchMarkets"]["types"] == ["spot"]
    assert ex.options["fetchMargins"] is False
    assert ex.options["fetchOpenOrders"]["warnWithoutSymbol"] is False
    assert ex.milliseconds() == 1_700_000_000_123  # ccxt signs with the injected clock
    clock.advance(1)
    assert ex.seconds() == 1_700_000_001
    assert ex.logger.disabled
    assert not ex.logger.isEnabledFor(50)
    coinbase = build_exchange("coinbase", Credentials("k" * 8, "s" * 8, "pass"), clock)
    assert coinbase.password == "pass"


def test_error_tables_are_merged_only_for_a_local_url() -> None:
    local = build_exchange("binanceusdm", None, SimClock(), api_url=URL)
    assert local.exceptions["exact"]["-2019"] is ccxt.InsufficientFunds
    assert local.exceptions["exact"]["-4116"] is ccxt.InvalidOrder
    spot = build_exchange("binance", None, SimClock(), api_url=URL)
    assert spot.exceptions["exact"]["-2010"] is ccxt.InvalidOrder
    real = build_exchange("binanceusdm", None, SimClock())
    assert "-2019" not in real.exceptions["exact"]  # the real host gets them from ccxt itself
    assert real.urls["api"]["fapiPublic"].startswith("https://fapi.binance.com")


def test_unsupported_exchange_is_refused() -> None:
    with pytest.raises(ValueError, match="unsupported exchange 'kraken'"):
        build_exchange("kraken", None, SimClock())


def test_venue_knobs_defaults() -> None:
    s = load_venue_settings({})
    assert (s.adapter, s.dry_run, s.api_url, s.timeout_ms, s.recv_window_ms, s.weight_budget_pct) == (
        "binanceusdm",
        True,
        "",
        10_000,
        5_000,
        80.0,
    )
    assert s.exchange_id == "binanceusdm"
    assert s.credentials({}, dotenv_path=None) is None  # dry run: public data only
    assert get_param("SCALPER_DRY_RUN").safety == "risk"


def test_venue_knobs_parse_and_refuse() -> None:
    env = {"EXCHANGE_ADAPTER": "SIM", "VENUE_API_URL": "http://127.0.0.1:9000/", "VENUE_TIMEOUT_MS": "2500"}
    s = load_venue_settings(env)
    assert (s.adapter, s.exchange_id, s.api_url, s.timeout_ms) == (
        "sim",
        "binanceusdm",
        "http://127.0.0.1:9000",
        2500,
    )
    creds = s.credentials({}, dotenv_path=None)
    assert creds is not None
    assert creds.api_key == DEFAULT_KEY
    for knob, value in (
        ("EXCHANGE_ADAPTER", "kraken"),
        ("VENUE_API_URL", "ftp://host"),
        ("VENUE_API_URL", "http://host:99999"),
        ("VENUE_TIMEOUT_MS", "5"),
        ("VENUE_WEIGHT_BUDGET_PCT", "150"),
        ("SCALPER_DRY_RUN", "maybe"),
    ):
        with pytest.raises(ConfigError, match=knob):
            load_venue_settings({knob: value})
    with pytest.raises(ConfigError, match="VENUE_API_URL"):
        load_venue_settings({"EXCHANGE_ADAPTER": "sim"})


def test_live_settings_need_keys(tmp_path: Path) -> None:
    live = load_venue_settings({"SCALPER_DRY_RUN": "0", "EXCHANGE_ADAPTER": "binance"})
    with pytest.raises(ConfigError, match="BINANCE_API_KEY"):
        live.credentials({}, dotenv_path=tmp_path / ".env")
    creds = live.credentials({"BINANCE_API_KEY": "k" * 8, "BINANCE_API_SECRET": "s" * 8}, dotenv_path=None)
    assert creds == Credentials("k" * 8, "s" * 8)
