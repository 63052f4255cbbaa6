"""Build a configured ccxt async client, and a :class:`CcxtVenue` from the registry's venue knobs.

Client settings (every one saves a request or keeps decisions ours): ``enableRateLimit`` off (our
:mod:`~eclipse.venues.ratelimit` decides), ``maxRetriesOnFailure`` 0 (a retry would re-send an order POST
blindly), ``fetchCurrencies`` off, spot markets only for ``binance`` with ``fetchMargins`` off, no warning
on ``fetch_open_orders`` without a symbol, and ccxt's own logger silenced (its DEBUG lines carry request
headers, i.e. the API key). ccxt's clock is the injected :class:`~eclipse.clock.Clock`.

With an ``api_url`` every ``urls['api']`` entry keeps its path on the new scheme+host, and the per-market
Binance error tables are merged into the generic ones (ccxt applies them only to the real Binance hosts, so
without this ``-2019`` would come back as a plain ExchangeError).
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from eclipse.clock import Clock
from eclipse.config.settings import load_param
from eclipse.errors import ConfigError
from eclipse.venues.credentials import Credentials, load_credentials
from eclipse.venues.sim.config import DEFAULT_KEY, DEFAULT_SECRET

__all__ = [
    "SUPPORTED",
    "VenueSettings",
    "build_exchange",
    "fix_error_tables",
    "load_venue_settings",
    "point_urls",
]

SUPPORTED: tuple[str, ...] = ("binanceusdm", "binance", "coinbase")
_ERROR_TABLE = {"binanceusdm": "linear", "binance": "spot"}


def _silent_logger(exchange_id: str) -> logging.Logger:
    """A logger outside the logging tree that drops everything (ccxt's DEBUG lines show the API key)."""
    logger = logging.Logger(f"eclipse.venues.ccxt.wire.{exchange_id}", level=logging.CRITICAL + 10)
    logger.propagate = False
    logger.disabled = True
    return logger


def point_urls(ex: Any, api_url: str) -> None:
    """Point every ``ex.urls['api']`` entry at ``api_url``, keeping each entry's path."""
    base = api_url.rstrip("/")
    api = ex.urls.get("api")
    if not isinstance(api, dict):
        raise ValueError(f"{ex.id}: urls['api'] is not a mapping")
    for key, value in list(api.items()):
        if isinstance(value, str):
            api[key] = base + urlsplit(value).path.rstrip("/")


def fix_error_tables(ex: Any) -> None:
    """Merge the venue's per-market ``exact``/``broad`` error tables into the generic ones."""
    table = _ERROR_TABLE.get(ex.id)
    section = ex.exceptions.get(table) if table else None
    if not isinstance(section, dict):
        return
    for kind in ("exact", "broad"):
        extra = section.get(kind)
        if isinstance(extra, dict):
            ex.exceptions.setdefault(kind, {}).update(extra)


def build_exchange(
    exchange_id: str,
    credentials: Credentials | None,
    clock: Clock,
    *,
    api_url: str | None = None,
    timeout_ms: int = 10_000,
    recv_window_ms: int = 5_000,
    options: Mapping[str, Any] | None = None,
) -> Any:
    """A ccxt async client for ``exchange_id`` configured as the module docstring says."""
    if exchange_id not in SUPPORTED:
        raise ValueError(f"unsupported exchange {exchange_id!r}; expected one of {', '.join(SUPPORTED)}")
    opts: dict[str, Any] = {
        "maxRetriesOnFailure": 0,
        "fetchCurrencies": False,
        "adjustForTimeDifference": False,
    }
    if exchange_id in _ERROR_TABLE:  # the Binance family
        opts.update(
            recvWindow=recv_window_ms,
            fetchOpenOrders={"warnWithoutSymbol": False},
            warnOnFetchOpenOrdersWithoutSymbol=False,
        )
    if exchange_id == "binance":
        opts.update(fetchMarkets={"types": ["spot"]}, fetchMargins=False, defaultType="spot")
    if exchange_id == "coinbase":  # the Advanced Trade (v3) account and time calls, not the v2 app API
        opts.update(fetchBalance="v3PrivateGetBrokerageAccounts", fetchTime="v3PublicGetBrokerageTime")
    opts.update(options or {})
    config: dict[str, Any] = {"enableRateLimit": False, "timeout": timeout_ms, "options": opts}
    if credentials is not None:
        config.update(apiKey=credentials.api_key, secret=credentials.secret)
        if credentials.passphrase:
            config["password"] = credentials.passphrase
    module: Any = importlib.import_module("ccxt.async_support")
    ex: Any = getattr(module, exchange_id)(config)
    ex.logger = _silent_logger(exchange_id)
    ex.milliseconds = clock.now_ms
    ex.seconds = lambda: clock.now_ms() // 1000
    if exchange_id == "coinbase":
        ex.has["fetchCurrencies"] = False
    if api_url:
        point_urls(ex, api_url)
        fix_error_tables(ex)
    return ex


@dataclass(frozen=True, slots=True)
class VenueSettings:
    """The venue knobs, typed (see :mod:`eclipse.config.venue_knobs`)."""

    adapter: str
    dry_run: bool
    api_url: str
    timeout_ms: int
    recv_window_ms: int
    weight_budget_pct: float
    weight_reserve_pct: float = 20.0

    @property
    def exchange_id(self) -> str:
        """The ccxt exchange id: the simulator speaks Binance USD-M."""
        return "binanceusdm" if self.adapter == "sim" else self.adapter

    def credentials(
        self, env: Mapping[str, str], dotenv_path: Path | str | None = ".env"
    ) -> Credentials | None:
        """Keys for the adapter: None in dry run (public data only); the simulator's documented test pair."""
        if self.adapter == "sim":
            return Credentials(DEFAULT_KEY, DEFAULT_SECRET)
        if self.dry_run:
            return None
        return load_credentials(self.exchange_id, env, dotenv_path)


def load_venue_settings(env: Mapping[str, str]) -> VenueSettings:
    """The venue knobs from ``env`` (registry defaults otherwise); ConfigError names a bad knob."""
    settings = VenueSettings(
        adapter=str(load_param(env, "EXCHANGE_ADAPTER")),
        dry_run=bool(load_param(env, "SCALPER_DRY_RUN")),
        api_url=str(load_param(env, "VENUE_API_URL")),
        timeout_ms=int(str(load_param(env, "VENUE_TIMEOUT_MS"))),
        recv_window_ms=int(str(load_param(env, "VENUE_RECV_WINDOW_MS"))),
        weight_budget_pct=float(str(load_param(env, "VENUE_WEIGHT_BUDGET_PCT"))),
        weight_reserve_pct=float(str(load_param(env, "VENUE_WEIGHT_RESERVE_PCT"))),
    )
    if settings.weight_reserve_pct >= settings.weight_budget_pct:
        raise ConfigError(
            "VENUE_WEIGHT_RESERVE_PCT",
            settings.weight_reserve_pct,
            f"less than VENUE_WEIGHT_BUDGET_PCT ({settings.weight_budget_pct:g})",
        )
    if settings.adapter == "sim" and not settings.api_url:
        raise ConfigError(
            "VENUE_API_URL", "", "the simulator's URL (e.g. http://127.0.0.1:8800) with EXCHANGE_ADAPTER=sim"
        )
    return settings
