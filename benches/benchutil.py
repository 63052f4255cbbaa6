"""Shared helpers of the benchmarks (run explicitly: ``pytest benches`` or ``python benches/report.py``).

Sizes come from the environment so ``report.py --quick`` can shrink them:
ECLIPSE_BENCH_N (batch length, default 1,000,000), ECLIPSE_BENCH_STEP_CALLS (manual latency sample, default
200,000), ECLIPSE_BENCH_REPLAY_ROUNDS (default 5). ECLIPSE_SHARED_DATA overrides ../shared/data.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("ECLIPSE_SHARED_DATA", REPO.parent / "shared" / "data"))
MINUTE = 60_000
T0 = 1_640_995_200_000  # 2022-01-01 00:00 UTC


def env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


BATCH_N = env_int("ECLIPSE_BENCH_N", 1_000_000)
STEP_CALLS = env_int("ECLIPSE_BENCH_STEP_CALLS", 200_000)
REPLAY_ROUNDS = env_int("ECLIPSE_BENCH_REPLAY_ROUNDS", 5)


def core_or_skip():
    try:
        from eclipse import _core
    except ImportError as e:  # pragma: no cover - depends on the build
        pytest.skip(f"eclipse._core is not built ({e}); run `pip install -e .` first")
    return _core


def random_ohlcv(n: int, scale: float = 4e4, seed: int = 0) -> dict[str, np.ndarray]:
    """A geometric random walk with valid bars and lognormal volumes (all float64, C-contiguous)."""
    rng = np.random.default_rng(seed)
    close = scale * np.exp(np.cumsum(rng.normal(0.0, 1e-3, n)))
    open_ = np.concatenate([[scale], close[:-1]])
    high = np.maximum(open_, close) * (1.0 + np.abs(rng.normal(0.0, 5e-4, n)))
    low = np.minimum(open_, close) * (1.0 - np.abs(rng.normal(0.0, 5e-4, n)))
    volume = rng.lognormal(3.0, 1.0, n)
    ts = (T0 + MINUTE * np.arange(n)).astype(np.int64)
    return {"ts_ms": ts, "open": open_, "high": high, "low": low, "close": close, "volume": volume}


def load_ohlcv(name: str) -> dict[str, np.ndarray]:
    path = SHARED_DATA / name
    if not path.is_file():
        pytest.skip(f"real market data {name} not found in {SHARED_DATA}")
    raw = np.genfromtxt(path, delimiter=",", names=True, dtype=None, encoding="ascii")
    cols = {"ts_ms": np.ascontiguousarray(raw["ts_ms"], dtype=np.int64)}
    for c in ("open", "high", "low", "close", "volume"):
        cols[c] = np.ascontiguousarray(raw[c], dtype=np.float64)
    return cols
