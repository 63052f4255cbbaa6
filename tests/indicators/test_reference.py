"""The numpy references themselves agree with TA-Lib wherever TA-Lib defines the indicator.

This guards the references used for ``period=1`` (TA-Lib refuses it for RSI and BBANDS) and for the width of
the Bollinger bands; it does not touch ``eclipse``.
"""

from __future__ import annotations

import numpy as np
import pytest

from . import reference as ref
from .helpers import assert_same_nan_and_close

talib = pytest.importorskip("talib")

PERIODS = [1, 2, 3, 14, 200]


@pytest.fixture(scope="module", params=[1e-3, 1.0, 5e4], ids=["1e-3", "1", "5e4"])
def walk(request: pytest.FixtureRequest) -> dict[str, np.ndarray]:
    return ref.random_ohlcv(3000, scale=request.param, seed=11)


@pytest.mark.parametrize("period", PERIODS)
def test_reference_matches_talib(walk: dict[str, np.ndarray], period: int) -> None:
    h, lo, c = walk["high"], walk["low"], walk["close"]
    assert_same_nan_and_close(ref.sma(c, period), talib.SMA(c, period), what="sma")
    assert_same_nan_and_close(ref.ema(c, period), talib.EMA(c, period), what="ema")
    assert_same_nan_and_close(ref.atr(h, lo, c, period), talib.ATR(h, lo, c, period), what="atr")
    if period >= 2:
        assert_same_nan_and_close(ref.rsi(c, period), talib.RSI(c, period), what="rsi")
        up, mid, low = talib.BBANDS(c, period, 2.0, 2.0)
        rmid, rup, rlow, rwidth = ref.bollinger(c, period, 2.0)
        assert_same_nan_and_close(rmid, mid, what="bb mid")
        assert_same_nan_and_close(rup, up, what="bb upper")
        assert_same_nan_and_close(rlow, low, what="bb lower")
        assert_same_nan_and_close(rwidth, (up - low) / mid, rtol=1e-8, what="bb width")


def test_reference_period_one_conventions() -> None:
    c = np.array([1.0, 2.0, 2.0, 1.5, 3.0])
    h, lo = c + 0.5, c - 0.25
    np.testing.assert_array_equal(ref.sma(c, 1), c)
    np.testing.assert_array_equal(ref.ema(c, 1), c)
    np.testing.assert_array_equal(ref.rsi(c, 1), [np.nan, 100.0, 0.0, 0.0, 100.0])
    np.testing.assert_array_equal(ref.atr(h, lo, c, 1), ref.true_range(h, lo, c))
    mid, up, low, width = ref.bollinger(c, 1, 2.0)
    np.testing.assert_array_equal(mid, c)
    np.testing.assert_array_equal(up, c)
    np.testing.assert_array_equal(low, c)
    np.testing.assert_array_equal(width, np.zeros(5))


def test_reference_conventions_by_hand() -> None:
    v = np.array([1.0, 3.0, 0.0, 0.0, 0.0, 4.0, 4.0, 4.0])
    np.testing.assert_allclose(ref.volume_ratio(v, 2), [np.nan, 1.5, 0.0, np.nan, np.nan, 2.0, 1.0, 1.0])
    np.testing.assert_allclose(ref.volume_zscore(v, 2), [np.nan, 1.0, -1.0, 0.0, 0.0, 1.0, 0.0, 0.0])
    c = np.array([1.0, 2.0, 4.0, 2.0])
    np.testing.assert_allclose(ref.momentum(c, 2), [np.nan, np.nan, 3.0, 0.0])
    h = c + 1.0
    lo = c - 1.0
    np.testing.assert_allclose(ref.vwap(h, lo, c, v[:4], 2), [np.nan, 1.75, 2.0, np.nan])
    np.testing.assert_array_equal(
        ref.ema_trend(np.array([1.0, 2.0, 3.0, 2.0, 1.0, 0.5]), 2, 3), [np.nan, np.nan, 1.0, 1.0, -1.0, -1.0]
    )
