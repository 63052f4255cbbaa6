"""Batch indicators on BATCH_N (default 1,000,000) float64 values: eclipse vs TA-Lib vs the fastest plain
numpy / pandas forms. One benchmark group per indicator; ``report.py`` turns the medians into ns/element and
ratios. These are measurements, not tests: nothing here asserts a speed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest

from benchutil import BATCH_N, core_or_skip

P_SMA, P_EMA, P_RSI, P_ATR, P_BB, K_BB = 20, 20, 14, 14, 20, 2.0
W_VWAP, W_Z, N_MOM = 240, 20, 5

try:
    import talib
except ImportError:  # pragma: no cover
    talib = None


# --- the best numpy / pandas forms (vectorised; the numpy ones use running sums like a hand-written loop) ---


def np_rolling_sum(x: np.ndarray, w: int) -> np.ndarray:
    cs = np.cumsum(x)
    out = np.empty_like(x)
    out[: w - 1] = np.nan
    out[w - 1] = cs[w - 1]
    np.subtract(cs[w:], cs[:-w], out=out[w:])
    return out


def np_sma(x: np.ndarray, p: int) -> np.ndarray:
    out = np_rolling_sum(x, p)
    out /= p
    return out


def np_bollinger(x: np.ndarray, p: int, k: float) -> tuple[np.ndarray, ...]:
    mid = np_sma(x, p)
    var = np_rolling_sum(x * x, p) / p - mid * mid
    np.maximum(var, 0.0, out=var)
    sd = np.sqrt(var)
    up, lo = mid + k * sd, mid - k * sd
    return mid, up, lo, (up - lo) / mid


def np_vwap(h: np.ndarray, lo: np.ndarray, c: np.ndarray, v: np.ndarray, w: int) -> np.ndarray:
    tp = (h + lo + c) / 3.0
    return np_rolling_sum(tp * v, w) / np_rolling_sum(v, w)


def np_zscore(v: np.ndarray, w: int) -> np.ndarray:
    mean = np_rolling_sum(v, w) / w
    var = np_rolling_sum(v * v, w) / w - mean * mean
    sd = np.sqrt(np.maximum(var, 0.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(sd > 0, (v - mean) / sd, 0.0)


def np_momentum(c: np.ndarray, n: int) -> np.ndarray:
    out = np.empty_like(c)
    out[:n] = np.nan
    np.divide(c[n:], c[:-n], out=out[n:])
    out[n:] -= 1.0
    return out


def pd_rsi(c: np.ndarray, p: int) -> np.ndarray:
    d = pd.Series(c).diff()
    up = d.clip(lower=0.0).ewm(alpha=1.0 / p, adjust=False).mean()
    dn = (-d).clip(lower=0.0).ewm(alpha=1.0 / p, adjust=False).mean()
    return (100.0 * up / (up + dn)).to_numpy()


def true_range(h: np.ndarray, lo: np.ndarray, c: np.ndarray) -> np.ndarray:
    pc = np.concatenate([[np.nan], c[:-1]])
    return np.fmax(h - lo, np.fmax(np.abs(h - pc), np.abs(lo - pc)))


def pd_atr(h: np.ndarray, lo: np.ndarray, c: np.ndarray, p: int) -> np.ndarray:
    return pd.Series(true_range(h, lo, c)).ewm(alpha=1.0 / p, adjust=False).mean().to_numpy()


def pd_bollinger(c: np.ndarray, p: int, k: float) -> tuple[np.ndarray, ...]:
    r = pd.Series(c).rolling(p)
    mid, sd = r.mean().to_numpy(), r.std(ddof=0).to_numpy()
    up, lo = mid + k * sd, mid - k * sd
    return mid, up, lo, (up - lo) / mid


def pd_vwap(h: np.ndarray, lo: np.ndarray, c: np.ndarray, v: np.ndarray, w: int) -> np.ndarray:
    tp = (h + lo + c) / 3.0
    return (pd.Series(tp * v).rolling(w).sum() / pd.Series(v).rolling(w).sum()).to_numpy()


def pd_zscore(v: np.ndarray, w: int) -> np.ndarray:
    r = pd.Series(v).rolling(w)
    return ((pd.Series(v) - r.mean()) / r.std(ddof=0)).to_numpy()


# indicator -> impl -> function(series) -> result
def cases() -> dict[str, dict[str, Callable[[Any, dict[str, np.ndarray]], Any]]]:
    return {
        "sma": {
            "eclipse": lambda core, s: core.sma(s["close"], P_SMA),
            "talib": lambda core, s: talib.SMA(s["close"], P_SMA),
            "numpy": lambda core, s: np_sma(s["close"], P_SMA),
            "pandas": lambda core, s: pd.Series(s["close"]).rolling(P_SMA).mean().to_numpy(),
        },
        "ema": {
            "eclipse": lambda core, s: core.ema(s["close"], P_EMA),
            "talib": lambda core, s: talib.EMA(s["close"], P_EMA),
            "pandas": lambda core, s: pd.Series(s["close"]).ewm(span=P_EMA, adjust=False).mean().to_numpy(),
        },
        "rsi": {
            "eclipse": lambda core, s: core.rsi(s["close"], P_RSI),
            "talib": lambda core, s: talib.RSI(s["close"], P_RSI),
            "pandas": lambda core, s: pd_rsi(s["close"], P_RSI),
        },
        "atr": {
            "eclipse": lambda core, s: core.atr(s["high"], s["low"], s["close"], P_ATR),
            "talib": lambda core, s: talib.ATR(s["high"], s["low"], s["close"], P_ATR),
            "pandas": lambda core, s: pd_atr(s["high"], s["low"], s["close"], P_ATR),
        },
        "bollinger": {
            "eclipse": lambda core, s: core.bollinger(s["close"], P_BB, K_BB),
            "talib": lambda core, s: talib.BBANDS(s["close"], P_BB, K_BB, K_BB),
            "numpy": lambda core, s: np_bollinger(s["close"], P_BB, K_BB),
            "pandas": lambda core, s: pd_bollinger(s["close"], P_BB, K_BB),
        },
        "vwap": {
            "eclipse": lambda core, s: core.vwap(s["high"], s["low"], s["close"], s["volume"], W_VWAP),
            "numpy": lambda core, s: np_vwap(s["high"], s["low"], s["close"], s["volume"], W_VWAP),
            "pandas": lambda core, s: pd_vwap(s["high"], s["low"], s["close"], s["volume"], W_VWAP),
        },
        "volume_zscore": {
            "eclipse": lambda core, s: core.volume_zscore(s["volume"], W_Z),
            "numpy": lambda core, s: np_zscore(s["volume"], W_Z),
            "pandas": lambda core, s: pd_zscore(s["volume"], W_Z),
        },
        "momentum": {
            "eclipse": lambda core, s: core.momentum(s["close"], N_MOM),
            "numpy": lambda core, s: np_momentum(s["close"], N_MOM),
            "pandas": lambda core, s: pd.Series(s["close"]).pct_change(N_MOM).to_numpy(),
        },
    }


PARAMS = [(ind, impl) for ind, impls in cases().items() for impl in impls]


@pytest.mark.parametrize(("indicator", "impl"), PARAMS, ids=[f"{i}-{m}" for i, m in PARAMS])
def test_batch(benchmark: Any, series: dict[str, np.ndarray], indicator: str, impl: str) -> None:
    if impl == "talib" and talib is None:
        pytest.skip("TA-Lib is not installed")
    core = core_or_skip() if impl == "eclipse" else None
    fn = cases()[indicator][impl]
    benchmark.group = f"batch {indicator} (n={BATCH_N:,})"
    benchmark.extra_info.update({"kind": "batch", "indicator": indicator, "impl": impl, "n": BATCH_N})
    out = benchmark(fn, core, series)
    first = out[0] if isinstance(out, tuple) else out
    assert len(first) == BATCH_N  # a sanity check of the call, not of speed
