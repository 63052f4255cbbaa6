"""Knobs of the venue layer (concatenated into :data:`eclipse.config.registry.REGISTRY`).

``EXCHANGE_ADAPTER`` defaults to ``binanceusdm`` (USD-M perpetuals), not the original bot's ``binance``:
the engine manages futures positions and protection orders, and in ccxt ``binance`` is the spot
exchange, so keeping that default would silently switch the product. ``sim`` is the local exchange
simulator. ``SCALPER_DRY_RUN`` defaults to on: nothing reaches a real account unless it is turned off.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from eclipse.config.parsers import Parser, bool_parser, choice_parser, float_parser, int_parser

if TYPE_CHECKING:
    from eclipse.config.registry import Param

__all__ = ["EXCHANGE_ADAPTERS", "url_parser", "venue_params"]

EXCHANGE_ADAPTERS: tuple[str, ...] = ("binanceusdm", "binance", "coinbase", "sim")
_OWNER = "venues.ccxt"


def _to_url(text: str) -> str:
    if not text:
        return ""
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise ValueError(text)
    _ = parts.port  # ValueError on a bad port
    return text.rstrip("/")


def url_parser() -> Parser[str]:
    """An http(s) base URL like ``http://127.0.0.1:8800`` (empty = the venue's own URL)."""
    return Parser("url", "an http(s) URL like http://127.0.0.1:8800 (empty = the venue's own)", _to_url)


def venue_params(param: type[Param]) -> tuple[Param, ...]:
    """The venue knobs, built with the registry's ``Param`` class (passed in to avoid an import cycle)."""
    return (
        param(
            "EXCHANGE_ADAPTER",
            choice_parser(EXCHANGE_ADAPTERS),
            "binanceusdm",
            _OWNER,
            "risk",
            "venue: binanceusdm (USD-M perpetuals), binance (spot), coinbase, sim (local simulator)",
        ),
        param(
            "SCALPER_DRY_RUN",
            bool_parser(),
            True,
            _OWNER,
            "risk",
            "paper trading: real market data, simulated fills; 0 sends real orders with real money",
        ),
        param(
            "VENUE_API_URL",
            url_parser(),
            "",
            _OWNER,
            "risk",
            "override the venue's base URL (e.g. the simulator); every API path is kept",
        ),
        param(
            "VENUE_TIMEOUT_MS",
            int_parser(100, 120_000),
            10_000,
            _OWNER,
            "none",
            "HTTP timeout per venue request in ms (a timed-out order is an unknown outcome, looked up)",
        ),
        param(
            "VENUE_RECV_WINDOW_MS",
            int_parser(1, 60_000),
            5_000,
            _OWNER,
            "none",
            "Binance recvWindow in ms: how late a signed request may arrive before it is refused",
        ),
        param(
            "VENUE_WEIGHT_BUDGET_PCT",
            float_parser(1.0, 100.0),
            80.0,
            _OWNER,
            "none",
            "share of the venue's request-weight limit we allow ourselves before pausing, in percent",
        ),
        param(
            "VENUE_WEIGHT_RESERVE_PCT",
            float_parser(0.0, 99.0),
            20.0,
            _OWNER,
            "exit",
            "percent of the weight limit kept for protection reads (market data and entries stop short)",
        ),
    )
