"""Shared fixtures: the real market data in ``../shared/data`` (skipped with a reason when absent)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("ECLIPSE_SHARED_DATA", REPO.parent / "shared" / "data"))


def shared_file(name: str) -> Path:
    """Path of a file in ``../shared/data``; skips the calling test with a clear reason when it is absent."""
    path = SHARED_DATA / name
    if not path.is_file():
        pytest.skip(f"real market data {name} not found in {SHARED_DATA} (a user's clone has no ../shared)")
    return path


def load_ohlcv(name: str) -> dict[str, np.ndarray]:
    """Columns of an OHLCV CSV from ``../shared/data`` as numpy arrays (ts_ms int64, the rest float64)."""
    raw = np.genfromtxt(shared_file(name), delimiter=",", names=True, dtype=None, encoding="ascii")
    cols = {"ts_ms": np.ascontiguousarray(raw["ts_ms"], dtype=np.int64)}
    for c in ("open", "high", "low", "close", "volume"):
        cols[c] = np.ascontiguousarray(raw[c], dtype=np.float64)
    return cols


@pytest.fixture(scope="session")
def btc_1m() -> dict[str, np.ndarray]:
    """BTC perpetual 1m bars, January 2022 (45,031 bars, no gaps)."""
    return load_ohlcv("btc-perp_1m_2022-01.csv")


@pytest.fixture(scope="session")
def altbtc_1m() -> dict[str, np.ndarray]:
    """Altcoin/BTC spot 1m bars, November 2017 (13,681 bars; 717 missing minutes in 538 gaps; tiny prices)."""
    return load_ohlcv("altbtc-spot_1m_2017-11.csv")


@pytest.fixture(scope="session")
def xrp_5m() -> dict[str, np.ndarray]:
    """XRP/USDT perpetual 5m bars, November 2021 (1,999 bars)."""
    return load_ohlcv("xrpusdt-perp_5m_2021-11.csv")
