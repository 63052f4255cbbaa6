"""``sma``, ``ema``, ``rsi``, ``atr`` and ``bollinger`` follow TA-Lib: the same NaN warm-up positions and
values
within 1e-9 relative after warm-up, on random walks around 1e-3, 1 and 5e4 and on the real files.

TA-Lib refuses ``period=1`` for RSI and BBANDS: there the numpy reference (checked against TA-Lib in
``test_reference.py``) stands in for it.
"""

from __future__ import annotations

import numpy as np
import pytest

from eclipse import _core as core

from . import reference as ref
from .helpers import RTOL, assert_nan_mask, assert_same_nan_and_close

talib = pytest.importorskip("talib")

PERIODS = [1, 2, 3, 14, 200]
SCALES = {"1e-3": 1e-3, "1": 1.0, "5e4": 5e4}


def talib_rsi(c: np.ndarray, period: int) -> np.ndarray:
    return ref.rsi(c, period) if period == 1 else talib.RSI(c, period)


def talib_bbands(c: np.ndarray, period: int, k: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if period == 1:
        mid, up, low, _ = ref.bollinger(c, period, k)
        return up, mid, low
    return talib.BBANDS(c, period, k, k)


def check_all(d: dict[str, np.ndarray], period: int, k: float = 2.0) -> None:
    h, lo, c = d["high"], d["low"], d["close"]
    assert_same_nan_and_close(core.sma(c, period), talib.SMA(c, period), what=f"sma({period})")
    assert_same_nan_and_close(core.ema(c, period), talib.EMA(c, period), what=f"ema({period})")
    assert_same_nan_and_close(core.rsi(c, period), talib_rsi(c, period), what=f"rsi({period})")
    want_atr = talib.ATR(h, lo, c, period)
    assert_same_nan_and_close(core.atr(h, lo, c, period), want_atr, what=f"atr({period})")
    assert_same_nan_and_close(core.atr_pct(h, lo, c, period), want_atr / c, what=f"atr_pct({period})")
    check_bollinger(c, period, k)


def check_bollinger(c: np.ndarray, period: int, k: float) -> None:
    out = core.bollinger(c, period, k)
    assert isinstance(out, tuple), "bollinger returns (mid, upper, lower, width)"
    assert len(out) == 4, "bollinger returns (mid, upper, lower, width)"
    mid, up, low, width = out
    t_up, t_mid, t_low = talib_bbands(c, period, k)
    assert_same_nan_and_close(mid, t_mid, what=f"bb mid({period}, {k})")
    assert_same_nan_and_close(up, t_up, what=f"bb upper({period}, {k})")
    assert_same_nan_and_close(low, t_low, what=f"bb lower({period}, {k})")
    # width = (upper - lower) / mid. It is a difference of two nearly equal numbers, so its tolerance is what
    # 1e-9 relative on upper and on lower allows (TA-Lib's own standard deviation carries ~1e-8 relative noise
    # on nearly flat windows of real data, so a more exact implementation must not fail here).
    t_width = (t_up - t_low) / t_mid
    assert_nan_mask(width, t_width, what=f"bb width({period}, {k})")
    ok = ~np.isnan(t_width)
    tol = RTOL * np.abs(t_width[ok]) + RTOL * (np.abs(t_up[ok]) + np.abs(t_low[ok])) / np.abs(t_mid[ok])
    err = np.abs(width[ok] - t_width[ok])
    if np.any(err > tol):
        i = int(np.flatnonzero(ok)[np.argmax(err - tol)])
        raise AssertionError(
            f"bb width({period}, {k}) at {i}: got {width[i]!r}, TA-Lib-derived {t_width[i]!r}"
        )
    # and against the exact two-pass reference, with the same tolerance
    r_width = ref.bollinger(c, period, k)[3]
    err = np.abs(width[ok] - r_width[ok])
    assert np.all(err <= tol), f"bb width({period}, {k}) vs exact reference: max error {err.max()!r}"


@pytest.mark.parametrize("period", PERIODS)
@pytest.mark.parametrize("scale", list(SCALES), ids=list(SCALES))
def test_random_walk(scale: str, period: int) -> None:
    check_all(ref.random_ohlcv(5000, scale=SCALES[scale], seed=period), period)


@pytest.mark.parametrize("k", [0.5, 1.0, 2.5])
@pytest.mark.parametrize("period", [1, 2, 20])
def test_bollinger_k(period: int, k: float) -> None:
    d = ref.random_ohlcv(2000, scale=1.0, seed=7)
    check_bollinger(d["close"], period, k)


def test_bollinger_zero_k_collapses_bands() -> None:
    c = ref.random_ohlcv(500, seed=3)["close"]
    mid, up, low, width = core.bollinger(c, 20, 0.0)
    np.testing.assert_array_equal(up, mid)
    np.testing.assert_array_equal(low, mid)
    assert np.all(width[19:] == 0.0)


@pytest.mark.parametrize("period", PERIODS)
def test_real_btc(btc_1m: dict[str, np.ndarray], period: int) -> None:
    check_all(btc_1m, period)


@pytest.mark.parametrize("period", PERIODS)
def test_real_altbtc_tiny_prices(altbtc_1m: dict[str, np.ndarray], period: int) -> None:
    check_all(altbtc_1m, period)


def test_real_xrp_5m(xrp_5m: dict[str, np.ndarray]) -> None:
    for period in (2, 14, 20):
        check_all(xrp_5m, period)


@pytest.mark.parametrize("n", range(0, 8))
@pytest.mark.parametrize("period", [1, 2, 3, 5, 6, 7])
def test_short_inputs_warm_up_edges(n: int, period: int) -> None:
    """Lengths around the period: the first value lands exactly where TA-Lib puts it (or nowhere)."""
    d = ref.random_ohlcv(n, scale=1.0, seed=100 + n)
    if n == 0:
        for f in (core.sma, core.ema, core.rsi):
            assert f(d["close"], period).shape == (0,)
        return
    check_all(d, period)


def test_flat_series_rsi_is_zero_and_bands_collapse() -> None:
    c = np.full(50, 0.0016)
    h, lo = c.copy(), c.copy()
    assert_same_nan_and_close(core.rsi(c, 14), talib.RSI(c, 14), what="flat rsi")
    assert np.all(core.rsi(c, 14)[14:] == 0.0)
    check_bollinger(c, 20, 2.0)
    # the mean of a constant window may round by an ulp, so allow rounding-level width, nothing more
    width = core.bollinger(c, 20, 2.0)[3]
    assert np.all(np.abs(width[19:]) <= 1e-12), width[19:]
    assert np.all(core.atr(h, lo, c, 14)[14:] == 0.0)


def test_flat_windows_after_moves() -> None:
    """Flat stretches after moving prices: TA-Lib gives exactly zero band width there; a running variance that
    kept residue from the earlier values would not (rounding-level width is tolerated)."""
    rng = np.random.default_rng(5)
    for scale in (1e-3, 1.0, 5e4):
        c = scale * np.concatenate(
            [1 + rng.normal(0.0, 1e-3, 300), np.full(40, 1.0001), 1 + rng.normal(0, 1e-3, 30)]
        )
        for period in (2, 3, 20):
            check_bollinger(c, period, 2.0)
            width = core.bollinger(c, period, 2.0)[3]
            assert np.all(np.abs(width[300 + period - 1 : 340]) <= 1e-12), (scale, period, width[300:340])


def test_flat_window_after_a_move_minimal() -> None:
    """Two equal closes after a move: the band width of that window is 0 (TA-Lib: upper == mid)."""
    for c in (
        np.array([47720.45516822, 47845.67681758, 47845.67681758]),
        np.array([0.001, 0.00105, 0.00105]),
    ):
        mid, up, _, width = core.bollinger(c, 2, 2.0)
        t_up, t_mid, _ = talib.BBANDS(c, 2, 2.0, 2.0)
        assert t_up[2] == t_mid[2]
        assert abs(width[2]) <= 1e-12, (c.tolist(), width[2])
        assert abs(up[2] - mid[2]) <= 1e-12 * mid[2], (c.tolist(), up[2] - mid[2])


def test_keyword_arguments_follow_the_stub() -> None:
    d = ref.random_ohlcv(300, seed=1)
    h, lo, c, v = d["high"], d["low"], d["close"], d["volume"]
    np.testing.assert_array_equal(core.sma(x=c, period=5), core.sma(c, 5))
    np.testing.assert_array_equal(core.ema(x=c, period=5), core.ema(c, 5))
    np.testing.assert_array_equal(core.rsi(close=c), core.rsi(c, 14))
    np.testing.assert_array_equal(core.atr(high=h, low=lo, close=c), core.atr(h, lo, c, 14))
    np.testing.assert_array_equal(core.atr_pct(high=h, low=lo, close=c), core.atr_pct(h, lo, c, 14))
    for a, b in zip(core.bollinger(close=c), core.bollinger(c, 20, 2.0), strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(
        core.vwap(high=h, low=lo, close=c, volume=v, window=9), core.vwap(h, lo, c, v, 9)
    )
    np.testing.assert_array_equal(core.momentum(close=c, n=3), core.momentum(c, 3))
    np.testing.assert_array_equal(core.volume_ratio(volume=v, window=4), core.volume_ratio(v, 4))
    np.testing.assert_array_equal(core.volume_zscore(volume=v, window=4), core.volume_zscore(v, 4))
    np.testing.assert_array_equal(core.ema_trend(close=c), core.ema_trend(c, 50, 200))


def test_narrow_window_after_a_huge_value() -> None:
    """Standard deviation of a narrow window right after a huge value left it (rolling-variance residue)."""
    for c in (
        np.array([1e6, 1.0, 1.001]),
        np.array([1e9, 3.0, 3.003, 3.0015]),
        np.array([5e4, 1e-3, 1.001e-3]),
    ):
        mid, up, _, width = core.bollinger(c, 2, 2.0)
        rmid, rup, _, rwidth = ref.bollinger(c, 2, 2.0)
        sd, rsd = (up - mid) / 2.0, (rup - rmid) / 2.0
        np.testing.assert_allclose(sd[2:], rsd[2:], rtol=1e-6, err_msg=f"std of {c.tolist()}")
        np.testing.assert_allclose(width[2:], rwidth[2:], rtol=1e-6, err_msg=f"width of {c.tolist()}")
