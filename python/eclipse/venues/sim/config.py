"""Settings of the exchange simulator's HTTP server (:class:`SimConfig`) and its accepted key pairs.

The default key pair is a documented, fixed test pair (``eclipse-sim-key`` / ``eclipse-sim-secret``): the
simulator holds no money, so its "secret" protects nothing; it exists so that the real ccxt client signs
requests exactly as it would for a real venue.
"""

from __future__ import annotations

import ipaddress
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eclipse.venues.sim.engine import AlgoIdLayout
from eclipse.venues.sim.faults import FaultPlan

__all__ = [
    "DEFAULT_KEY",
    "DEFAULT_SECRET",
    "KNOWN_QUOTES",
    "KeyPair",
    "SimConfig",
    "check_host",
    "parse_data_sources",
    "split_symbol",
]

DEFAULT_KEY = "eclipse-sim-key"
DEFAULT_SECRET = "eclipse-sim-secret"

KNOWN_QUOTES = ("FDUSD", "USDT", "USDC", "BUSD", "USD", "BTC", "ETH", "BNB")
"""Quote assets a data symbol may end with (longest match first: ``ETHFDUSD`` is ETH / FDUSD)."""

_HOSTNAME_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)")


def split_symbol(symbol: str) -> tuple[str, str]:
    """``ETHUSDT`` -> (``ETH``, ``USDT``) by the known quote assets; ValueError otherwise."""
    for quote in KNOWN_QUOTES:
        if symbol.endswith(quote) and len(symbol) > len(quote):
            return symbol[: -len(quote)], quote
    raise ValueError(
        f"{symbol}: cannot tell base from quote (known quotes: {', '.join(KNOWN_QUOTES)}); "
        "name the symbol BASE+QUOTE, e.g. ETHUSDT"
    )


def check_host(host: str) -> None:
    """ValueError unless ``host`` is an IPv4 / IPv6 address or a well-formed host name (resolving a name is
    left to the bind)."""
    if not host:
        raise ValueError("host must not be empty (e.g. 127.0.0.1)")
    if ":" in host:
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise ValueError(
                f"host {host!r} is not a valid IPv6 address (write it without brackets, e.g. ::1)"
            ) from None
        return
    if all(c.isdigit() or c == "." for c in host):
        try:
            ipaddress.IPv4Address(host)
        except ValueError:
            raise ValueError(
                f"host {host!r} is not a valid IPv4 address (four numbers 0-255, e.g. 127.0.0.1)"
            ) from None
        return
    name = host[:-1] if host.endswith(".") else host
    if len(name) > 253 or not all(_HOSTNAME_LABEL.fullmatch(label) for label in name.split(".")):
        raise ValueError(f"host {host!r} is neither an IP address nor a valid host name (e.g. 127.0.0.1)")


@dataclass(frozen=True, slots=True)
class KeyPair:
    """An API key and its HMAC secret (the secret never appears in ``repr``)."""

    key: str
    secret: str = field(repr=False)

    def __post_init__(self) -> None:
        if not self.key or not self.secret:
            raise ValueError("a key pair needs a non-empty key and secret")


@dataclass(frozen=True, slots=True)
class SimConfig:
    """Everything the simulator server needs to start.

    ``data``: (SYMBOL, path) OHLCV sources; empty = the embedded BTC 1m month for ``BTCUSDT``.
    ``speed``: replay speed (bars of market time per bar of wall time, 1 = real time) unless ``stepped``,
    in which case market time moves only through ``POST /_sim/step``. ``start_offset_bars``: how many bars
    into the data the replay starts (history for klines; at most half the data). ``db_path``: SQLite
    state (None = in memory only).
    ``weight_limit_1m``: request-weight budget per minute and client IP; ``order_limit_10s`` /
    ``order_limit_1m``: new orders per window and API key; ``ban_after``: 429s answered while over the
    weight limit before the IP is banned (418) for ``ban_ms``. ``lost_response_hold_ms``: how long a
    "lost response" keeps the connection silent before closing it. ``engine_options``: overrides of the
    engines' :class:`~eclipse.venues.sim.engine.EngineConfig` by account, e.g.
    ``{"futures": {"taker_fee": Decimal("0.0005")}, "spot": {...}}``. ``algo_ids``: where both engines'
    algo-id sequence starts (``apart``: at 1,000,000,001, far from the order ids that start at 1;
    ``coincide``: at 1 too); an account restored from ``db_path`` keeps its saved counters.
    """

    host: str = "127.0.0.1"
    port: int = 0
    data: tuple[tuple[str, str], ...] = ()
    speed: float = 1.0
    stepped: bool = False
    start_offset_bars: int = 1440
    db_path: str | None = None
    keys: tuple[KeyPair, ...] = (KeyPair(DEFAULT_KEY, DEFAULT_SECRET),)
    seed: int = 0
    faults: FaultPlan | None = None
    weight_limit_1m: int = 2400
    order_limit_10s: int = 300
    order_limit_1m: int = 1200
    ban_after: int = 3
    ban_ms: int = 120_000
    journal_size: int = 10_000
    lost_response_hold_ms: int = 3_000
    engine_options: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    algo_ids: AlgoIdLayout = AlgoIdLayout.APART

    def __post_init__(self) -> None:
        object.__setattr__(self, "algo_ids", AlgoIdLayout.parse(self.algo_ids))
        check_host(self.host)
        if not 0 <= self.port <= 65535:
            raise ValueError(f"port must be in 0..65535, got {self.port}")
        if not (math.isfinite(self.speed) and self.speed > 0):
            raise ValueError(f"speed must be a finite number > 0, got {self.speed}")
        if self.start_offset_bars < 0:
            raise ValueError(f"start_offset_bars must be >= 0, got {self.start_offset_bars}")
        if not self.keys:
            raise ValueError("at least one API key pair is required")
        for name in ("weight_limit_1m", "order_limit_10s", "order_limit_1m", "ban_after", "journal_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.ban_ms < 0 or self.lost_response_hold_ms < 0:
            raise ValueError("ban_ms and lost_response_hold_ms must be >= 0")


def parse_data_sources(items: Sequence[str]) -> tuple[tuple[str, str], ...]:
    """``["BTCUSDT=path.csv", ...]`` -> ``(("BTCUSDT", "path.csv"), ...)``; ValueError on a malformed item
    or a symbol whose quote asset is not one of :data:`KNOWN_QUOTES`."""
    out: list[tuple[str, str]] = []
    seen: set[str] = set()
    for item in items:
        symbol, sep, path = item.partition("=")
        symbol = symbol.strip().upper()
        if not sep or not symbol or not path.strip():
            raise ValueError(f"expected SYMBOL=path, got {item!r}")
        if not symbol.isalnum():
            raise ValueError(f"symbol must be letters and digits like BTCUSDT, got {symbol!r}")
        split_symbol(symbol)
        if symbol in seen:
            raise ValueError(f"symbol {symbol} given twice")
        seen.add(symbol)
        out.append((symbol, str(Path(path.strip()))))
    return tuple(out)
