"""Small, independent numpy references for the batch indicators of ``eclipse._core``.

They are written for clarity, not speed (plain loops or ``sliding_window_view``), and they never call the code
under test. Each function documents the convention it implements; together they are the executable form of the
contract in ``python/eclipse/_core.pyi``. Conventions shared by all of them:

* the output has the input's length, NaN in the warm-up positions;
* a period longer than the data gives an all-NaN output;
* "window ending at i" means ``x[i - window + 1 : i + 1]`` (the current bar included).

TA-Lib conventions (``sma``/``ema``/``rsi``/``atr``/``bollinger``) are reproduced here so that ``period=1``
(which
TA-Lib refuses for RSI and BBANDS) can be checked too; ``test_reference.py`` checks these references
against TA-Lib
for every period TA-Lib accepts.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

NAN = float("nan")


def _empty(n: int) -> np.ndarray:
    return np.full(n, np.nan, dtype=np.float64)


def window_view(x: np.ndarray, window: int) -> np.ndarray:
    """Rows = the windows ending at ``window-1 .. len-1`` (shape ``(len - window + 1, window)``)."""
    return sliding_window_view(np.asarray(x, dtype=np.float64), window)


def sma(x: np.ndarray, period: int) -> np.ndarray:
    """Mean of the window ending at i; first value at ``period - 1`` (TA-Lib SMA)."""
    out = _empty(len(x))
    if len(x) >= period:
        out[period - 1 :] = window_view(x, period).mean(axis=1)
    return out


def ema(x: np.ndarray, period: int) -> np.ndarray:
    """TA-Lib EMA: alpha = 2 / (period + 1), seeded at index ``period - 1`` with the SMA of the first
    ``period``
    values, then ``e = e + alpha * (x - e)``."""
    n = len(x)
    out = _empty(n)
    if n < period:
        return out
    alpha = 2.0 / (period + 1.0)
    e = math.fsum(x[:period]) / period
    out[period - 1] = e
    for i in range(period, n):
        e = e + alpha * (x[i] - e)
        out[i] = e
    return out


def rsi(close: np.ndarray, period: int) -> np.ndarray:
    """Wilder RSI as TA-Lib computes it: first value at index ``period`` from the mean gain and mean loss
    of the
    first ``period`` differences, then Wilder smoothing ``avg = (avg * (period - 1) + x) / period``;
    ``100 * gain / (gain + loss)``, and 0 when gain + loss == 0 (a flat window)."""
    n = len(close)
    out = _empty(n)
    if n <= period:
        return out
    d = np.diff(close)
    gains = np.where(d > 0, d, 0.0)
    losses = np.where(d < 0, -d, 0.0)
    g = math.fsum(gains[:period]) / period
    lo = math.fsum(losses[:period]) / period

    def value(g: float, lo: float) -> float:
        s = g + lo
        return 0.0 if s == 0.0 else 100.0 * g / s

    out[period] = value(g, lo)
    for i in range(period + 1, n):
        g = (g * (period - 1) + gains[i - 1]) / period
        lo = (lo * (period - 1) + losses[i - 1]) / period
        out[i] = value(g, lo)
    return out


def true_range(high: np.ndarray, low: np.ndarray, close: np.ndarray) -> np.ndarray:
    """TR[i] = max(high - low, |high - close[i-1]|, |low - close[i-1]|) for i >= 1; TR[0] is NaN (TA-Lib
    TRANGE)."""
    n = len(close)
    tr = _empty(n)
    if n > 1:
        pc = close[:-1]
        h, lo = high[1:], low[1:]
        tr[1:] = np.maximum(h - lo, np.maximum(np.abs(h - pc), np.abs(lo - pc)))
    return tr


def atr(high: np.ndarray, low: np.ndarray, close: np.ndarray, period: int) -> np.ndarray:
    """TA-Lib ATR: first value at index ``period`` = mean of TR[1..=period], then Wilder smoothing
    ``a = (a * (period - 1) + TR[i]) / period``; ``period = 1`` gives TR from index 1."""
    n = len(close)
    out = _empty(n)
    if n <= period:
        return out
    tr = true_range(high, low, close)
    a = math.fsum(tr[1 : period + 1]) / period
    out[period] = a
    for i in range(period + 1, n):
        a = (a * (period - 1) + tr[i]) / period
        out[i] = a
    return out


def atr_pct(high: np.ndarray, low: np.ndarray, close: np.ndarray, period: int) -> np.ndarray:
    """ATR / close."""
    return atr(high, low, close, period) / close


def bollinger(close: np.ndarray, period: int, k: float) -> tuple[np.ndarray, ...]:
    """(mid, upper, lower, width): mid = SMA, sd = population standard deviation of the window (two-pass,
    exactly 0 for a constant window), upper/lower = mid +/- k * sd, width = (upper - lower) / mid."""
    n = len(close)
    mid, sd = _empty(n), _empty(n)
    if n >= period:
        w = window_view(close, period)
        mid[period - 1 :] = w.mean(axis=1)
        sd[period - 1 :] = np.where(np.ptp(w, axis=1) == 0.0, 0.0, w.std(axis=1))
    upper = mid + k * sd
    lower = mid - k * sd
    return mid, upper, lower, (upper - lower) / mid


def vwap(high: np.ndarray, low: np.ndarray, close: np.ndarray, volume: np.ndarray, window: int) -> np.ndarray:
    """Rolling VWAP: sum(tp * v) / sum(v) over the window ending at i (current bar included),
    tp = (high + low + close) / 3; first value at ``window - 1``; NaN where the window's volume sum is 0."""
    n = len(close)
    out = _empty(n)
    if n < window:
        return out
    tp = (high + low + close) / 3.0
    pv = window_view(tp * volume, window).sum(axis=1)
    vv = window_view(volume, window).sum(axis=1)
    all_zero = window_view(volume, window).max(axis=1) == 0.0
    with np.errstate(divide="ignore", invalid="ignore"):
        out[window - 1 :] = np.where(all_zero, np.nan, pv / np.where(all_zero, 1.0, vv))
    return out


def momentum(close: np.ndarray, n: int) -> np.ndarray:
    """close[i] / close[i - n] - 1, first value at index n."""
    out = _empty(len(close))
    if len(close) > n:
        out[n:] = close[n:] / close[:-n] - 1.0
    return out


def volume_ratio(volume: np.ndarray, window: int) -> np.ndarray:
    """volume[i] / mean(volume over the window ending at i); first value at ``window - 1``; NaN when that
    mean is
    0 (volumes are >= 0, so only when the whole window is 0)."""
    n = len(volume)
    out = _empty(n)
    if n < window:
        return out
    w = window_view(volume, window)
    mean = w.mean(axis=1)
    all_zero = w.max(axis=1) == 0.0
    with np.errstate(divide="ignore", invalid="ignore"):
        out[window - 1 :] = np.where(all_zero, np.nan, volume[window - 1 :] / np.where(all_zero, 1.0, mean))
    return out


def volume_zscore(volume: np.ndarray, window: int) -> np.ndarray:
    """(volume[i] - mean) / population std over the window ending at i; first value at ``window - 1``;
    exactly 0
    when the std is 0 (a constant window)."""
    n = len(volume)
    out = _empty(n)
    if n < window:
        return out
    w = window_view(volume, window)
    const = np.ptp(w, axis=1) == 0.0
    mean = w.mean(axis=1)
    sd = np.where(const, 1.0, w.std(axis=1))
    out[window - 1 :] = np.where(const, 0.0, (volume[window - 1 :] - mean) / sd)
    return out


def ema_trend(close: np.ndarray, fast: int, slow: int) -> np.ndarray:
    """sign(ema(fast) - ema(slow)) as +1.0 / -1.0 / 0.0; NaN until both EMAs exist (index max(fast, slow) -
    1)."""
    return np.sign(ema(close, fast) - ema(close, slow))


# ------------------------------------------------------------------------------------------------------------
# Test data
# ------------------------------------------------------------------------------------------------------------


def random_ohlcv(n: int, scale: float = 1.0, seed: int = 0, vol: float = 2e-3) -> dict[str, np.ndarray]:
    """A geometric random walk around ``scale`` with valid bars (low <= open, close <= high), lognormal
    volumes
    with about 2% zero-volume bars, and a few flat bars (close == open)."""
    rng = np.random.default_rng(seed)
    ret = rng.normal(0.0, vol, n)
    ret[rng.random(n) < 0.03] = 0.0
    close = scale * np.exp(np.cumsum(ret))
    open_ = np.empty(n)
    if n:
        open_[0] = scale
        open_[1:] = close[:-1]
    top = np.maximum(open_, close)
    bot = np.minimum(open_, close)
    high = top * (1.0 + np.abs(rng.normal(0.0, vol / 2, n)))
    low = bot * (1.0 - np.abs(rng.normal(0.0, vol / 2, n)))
    volume = rng.lognormal(3.0, 1.0, n)
    volume[rng.random(n) < 0.02] = 0.0
    ts = (1_640_995_200_000 + 60_000 * np.arange(n)).astype(np.int64)
    return {"ts_ms": ts, "open": open_, "high": high, "low": low, "close": close, "volume": volume}
