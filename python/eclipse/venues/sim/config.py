"""Settings of the exchange simulator's HTTP server (:class:`SimConfig`) and its accepted key pairs.

The default key pair is a documented, fixed test pair (``eclipse-sim-key`` / ``eclipse-sim-secret``): the
simulator holds no money, so its "secret" protects nothing; it exists so that the real ccxt client signs
requests exactly as it would for a real venue.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eclipse.venues.sim.engine import AlgoIdLayout
from eclipse.venues.sim.faults import FaultPlan

__all__ = ["DEFAULT_KEY", "DEFAULT_SECRET", "KeyPair", "SimConfig", "parse_data_sources"]

DEFAULT_KEY = "eclipse-sim-key"
DEFAULT_SECRET = "eclipse-sim-secret"


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
        if not 0 <= self.port <= 65535:
            raise ValueError(f"port must be in 0..65535, got {self.port}")
        if self.speed <= 0:
            raise ValueError(f"speed must be > 0, got {self.speed}")
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
    """``["BTCUSDT=path.csv", ...]`` -> ``(("BTCUSDT", "path.csv"), ...)``; ValueError on a malformed item."""
    out: list[tuple[str, str]] = []
    seen: set[str] = set()
    for item in items:
        symbol, sep, path = item.partition("=")
        symbol = symbol.strip().upper()
        if not sep or not symbol or not path.strip():
            raise ValueError(f"expected SYMBOL=path, got {item!r}")
        if not symbol.isalnum():
            raise ValueError(f"symbol must be letters and digits like BTCUSDT, got {symbol!r}")
        if symbol in seen:
            raise ValueError(f"symbol {symbol} given twice")
        seen.add(symbol)
        out.append((symbol, str(Path(path.strip()))))
    return tuple(out)
