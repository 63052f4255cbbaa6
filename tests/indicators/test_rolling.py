"""``vwap``, ``momentum``, ``volume_ratio``, ``volume_zscore``, ``ema_trend`` and ``atr_pct`` against the
numpy
references in ``reference.py`` (their docstrings state the conventions), to 1e-9 relative."""

from __future__ import annotations

import numpy as np
import pytest

from eclipse import _core as core

from . import reference as ref
from .helpers import assert_same_nan_and_close

WINDOWS = [1, 2, 3, 14, 20, 240]
SCALES = {"1e-3": 1e-3, "1": 1.0, "5e4": 5e4}


def check_rolling(d: dict[str, np.ndarray], w: int) -> None:
    h, lo, c, v = d["high"], d["low"], d["close"], d["volume"]
    assert_same_nan_and_close(core.vwap(h, lo, c, v, w), ref.vwap(h, lo, c, v, w), what=f"vwap({w})")
    assert_same_nan_and_close(core.momentum(c, w), ref.momentum(c, w), what=f"momentum({w})")
    assert_same_nan_and_close(core.volume_ratio(v, w), ref.volume_ratio(v, w), what=f"volume_ratio({w})")
    assert_same_nan_and_close(core.volume_zscore(v, w), ref.volume_zscore(v, w), what=f"volume_zscore({w})")
    assert_same_nan_and_close(core.atr_pct(h, lo, c, w), ref.atr_pct(h, lo, c, w), what=f"atr_pct({w})")


def check_trend(c: np.ndarray, fast: int, slow: int) -> None:
    got = core.ema_trend(c, fast, slow)
    want = ref.ema_trend(c, fast, slow)
    assert got.dtype == np.float64
    assert got.shape == c.shape
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want), err_msg=f"ema_trend({fast}, {slow}) warm-up")
    ok = ~np.isnan(want)
    assert set(np.unique(got[ok])) <= {-1.0, 0.0, 1.0}
    # where the two EMAs are within rounding of each other the sign is not determined by the reference
    diff = ref.ema(c, fast) - ref.ema(c, slow)
    clear = ok & (np.abs(diff) > 1e-9 * np.abs(ref.ema(c, slow)))
    np.testing.assert_array_equal(got[clear], want[clear], err_msg=f"ema_trend({fast}, {slow})")
    # and it is exactly the sign of the package's own EMAs
    np.testing.assert_array_equal(got, np.sign(core.ema(c, fast) - core.ema(c, slow)))


@pytest.mark.parametrize("w", WINDOWS)
@pytest.mark.parametrize("scale", list(SCALES), ids=list(SCALES))
def test_random_walk(scale: str, w: int) -> None:
    check_rolling(ref.random_ohlcv(4000, scale=SCALES[scale], seed=w), w)


@pytest.mark.parametrize(("fast", "slow"), [(1, 1), (1, 2), (2, 3), (5, 3), (12, 26), (50, 200), (7, 7)])
@pytest.mark.parametrize("scale", list(SCALES), ids=list(SCALES))
def test_ema_trend_random_walk(scale: str, fast: int, slow: int) -> None:
    check_trend(ref.random_ohlcv(3000, scale=SCALES[scale], seed=fast * 31 + slow)["close"], fast, slow)


def test_ema_trend_equal_periods_is_zero() -> None:
    c = ref.random_ohlcv(300, seed=2)["close"]
    got = core.ema_trend(c, 9, 9)
    assert np.all(np.isnan(got[:8]))
    assert np.all(got[8:] == 0.0)


@pytest.mark.parametrize("w", [1, 5, 20, 240])
def test_real_btc(btc_1m: dict[str, np.ndarray], w: int) -> None:
    check_rolling(btc_1m, w)
    check_trend(btc_1m["close"], 50, 200)


@pytest.mark.parametrize("w", [1, 5, 20, 240])
def test_real_altbtc(altbtc_1m: dict[str, np.ndarray], w: int) -> None:
    check_rolling(altbtc_1m, w)
    check_trend(altbtc_1m["close"], 50, 200)


def test_real_xrp_5m(xrp_5m: dict[str, np.ndarray]) -> None:
    for w in (3, 20, 96):
        check_rolling(xrp_5m, w)


# --- edge conventions -------------------------------------------------------------------------------------


def test_first_value_positions() -> None:
    d = ref.random_ohlcv(30, seed=4)
    d["volume"][:] = np.abs(d["volume"]) + 1.0
    h, lo, c, v = d["high"], d["low"], d["close"], d["volume"]
    for w in (1, 4, 30):
        assert np.isnan(core.vwap(h, lo, c, v, w)[: w - 1]).all()
        assert not np.isnan(core.vwap(h, lo, c, v, w)[w - 1 :]).any()
        assert np.isnan(core.volume_ratio(v, w)[: w - 1]).all()
        assert not np.isnan(core.volume_ratio(v, w)[w - 1 :]).any()
        assert np.isnan(core.volume_zscore(v, w)[: w - 1]).all()
        assert not np.isnan(core.volume_zscore(v, w)[w - 1 :]).any()
    for n in (1, 4, 29):
        assert np.isnan(core.momentum(c, n)[:n]).all()
        assert not np.isnan(core.momentum(c, n)[n:]).any()
    assert np.isnan(core.momentum(c, 30)).all()


def test_zero_volume_windows_after_volume() -> None:
    """A window whose volumes are all 0 gives NaN VWAP and NaN volume ratio even when earlier non-zero volumes
    went through a running sum (residue must not turn 0 / 0 into a number)."""
    v = np.array([0.1, 0.7, 3.3, 1e6, 0.2, 0.0, 0.0, 0.0, 0.0, 5.0, 0.0, 0.0, 0.0])
    c = np.linspace(1.0, 2.0, v.size)
    h, lo = c * 1.01, c * 0.99
    for w in (1, 2, 3, 4):
        assert_same_nan_and_close(core.vwap(h, lo, c, v, w), ref.vwap(h, lo, c, v, w), what=f"vwap({w})")
        assert_same_nan_and_close(core.volume_ratio(v, w), ref.volume_ratio(v, w), what=f"volume_ratio({w})")
    assert np.isnan(core.vwap(h, lo, c, v, 4)[8])
    assert np.isnan(core.volume_ratio(v, 4)[8])
    assert core.volume_ratio(v, 4)[12] == 0.0  # window [5, 0, 0, 0]


def test_constant_volume_window_zscore_is_exactly_zero() -> None:
    """std == 0 gives z = 0, also after irregular volumes left the window."""
    v = np.array([0.1, 7.7, 2.3, 1e7, 1 / 3, 5.1, 5.1, 5.1, 5.1, 5.1, 0.3, 0.3, 0.3, 0.0, 0.0, 0.0, 0.0])
    got = core.volume_zscore(v, 4)
    assert_same_nan_and_close(got, ref.volume_zscore(v, 4), what="volume_zscore(4)")
    assert got[8] == 0.0
    assert got[9] == 0.0
    assert got[16] == 0.0
    assert np.all(core.volume_zscore(v, 1)[np.isfinite(v)] == 0.0)


@pytest.mark.parametrize("value", [0.1, 0.7, 1 / 3, 1000.0, 0.1 * 3, 123.456, 1e-9])
@pytest.mark.parametrize("window", [2, 3, 20])
def test_constant_window_of_an_inexact_value_has_zscore_zero(value: float, window: int) -> None:
    """A constant window's mean need not round to the value itself (3 * 0.1 / 3 != 0.1): z must still be 0,
    not +-1 from dividing rounding noise by rounding noise."""
    v = np.concatenate([[5.0, 0.0], np.full(window + 3, value)])
    got = core.volume_zscore(v, window)
    const = np.arange(v.size) >= window + 1  # windows made only of ``value``
    np.testing.assert_array_equal(
        got[const], 0.0, err_msg=f"volume_zscore({value!r} x {window + 3}, {window})"
    )


def test_volume_zscore_after_a_large_volume_left_the_window() -> None:
    """A huge volume leaving the window must not leave residue in the window's variance."""
    for v, want in [
        (np.array([1e6, 1.0, 1.001]), 1.0),
        (np.array([1e12, 1.0, 1.001]), 1.0),
        (np.array([3.0, 1e6, 1.0, 1.001]), 1.0),
        (np.array([1e6, 25.37896362, 25.39188769]), 1.0),
        (np.array([1e9, 2.0, 1.0]), -1.0),
    ]:
        got = core.volume_zscore(v, 2)
        assert_same_nan_and_close(got, ref.volume_zscore(v, 2), what=f"volume_zscore({v.tolist()}, 2)")
        assert abs(got[-1] - want) <= 1e-9


def test_volume_ratio_window_one_is_one_or_nan() -> None:
    v = np.array([0.0, 2.0, 3.5, 0.0, 1e-9])
    np.testing.assert_array_equal(core.volume_ratio(v, 1), [np.nan, 1.0, 1.0, np.nan, 1.0])


def test_vwap_window_one_is_typical_price() -> None:
    d = ref.random_ohlcv(100, seed=9)
    h, lo, c, v = d["high"], d["low"], d["close"], d["volume"]
    got = core.vwap(h, lo, c, v, 1)
    tp = (h + lo + c) / 3.0
    ok = v > 0
    np.testing.assert_allclose(got[ok], tp[ok], rtol=1e-12)
    assert np.isnan(got[~ok]).all()
