"""Hypothesis properties of the batch indicators: scale invariance, no NaN after warm-up on finite input, and
SMA/EMA staying inside the range of the values they average."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from eclipse import _core as core

from .helpers import assert_same_nan_and_close

SETTINGS = settings(
    deadline=None,
    max_examples=150,
    report_multiple_bugs=False,
    suppress_health_check=[HealthCheck.too_slow],
)

# Returns are 0 or at least 1e-4 and wicks 0 or at least 1e-4 (relative), so differences of prices are either
# exactly 0 or well conditioned: scaling then changes results only by rounding.
FACTORS = [1.0, 1.0, 1.0001, 0.9999, 1.001, 0.999, 1.003, 0.997, 1.01, 0.99, 1.05, 0.95]
WICKS = [0.0, 0.0, 1e-4, 1e-3, 5e-3, 2e-2]
VOLUMES = [0.0, 1.0, 2.5, 7.25, 10.0, 1e3, 1e5, 3e6]
BASES = [1e-3, 0.0016, 0.37, 1.0, 123.0, 5e4]


@st.composite
def bars(draw: st.DrawFn, min_size: int = 1, max_size: int = 80, positive_volume: bool = False) -> dict:
    """Valid bars from one list of (return factor, upper wick, lower wick, volume) tuples: one list keeps
    Hypothesis's shrinking cheap (it drops whole bars)."""
    base = draw(st.sampled_from(BASES))
    vols = VOLUMES[1:] if positive_volume else VOLUMES
    row = st.tuples(
        st.sampled_from(FACTORS), st.sampled_from(WICKS), st.sampled_from(WICKS), st.sampled_from(vols)
    )
    rows = draw(st.lists(row, min_size=min_size, max_size=max_size))
    f, wu, wd, v = (np.array(col, dtype=np.float64) for col in zip(*rows, strict=True))
    close = base * np.cumprod(f)
    open_ = np.concatenate([[base], close[:-1]])
    high = np.maximum(open_, close) * (1.0 + wu)
    low = np.minimum(open_, close) * (1.0 - wd)
    return {"open": open_, "high": high, "low": low, "close": close, "volume": v}


periods = st.integers(1, 12)
price_scales = st.sampled_from([2.0**-10, 2.0**7, 1e-3, 0.37, 3.0, 5e4])
volume_scales = st.sampled_from([2.0**-5, 2.0**9, 1e-4, 0.3, 7.0, 1e6])


@SETTINGS
@given(d=bars(), p=periods, s=price_scales)
def test_price_scale_invariance(d: dict, p: int, s: float) -> None:
    h, lo, c, v = d["high"], d["low"], d["close"], d["volume"]
    hs, ls, cs = h * s, lo * s, c * s
    assert_same_nan_and_close(core.rsi(cs, p), core.rsi(c, p), atol=1e-9, what="rsi")
    assert_same_nan_and_close(
        core.atr_pct(hs, ls, cs, p), core.atr_pct(h, lo, c, p), atol=1e-15, what="atr_pct"
    )
    assert_same_nan_and_close(
        core.bollinger(cs, p, 2.0)[3], core.bollinger(c, p, 2.0)[3], atol=1e-12, what="bb_width"
    )
    assert_same_nan_and_close(core.momentum(cs, p), core.momentum(c, p), atol=1e-12, what="momentum")
    dist_s = cs / core.vwap(hs, ls, cs, v, p) - 1.0
    dist = c / core.vwap(h, lo, c, v, p) - 1.0
    # close / vwap - 1 cancels: VWAP's own 1e-9 relative tolerance (rolling sums) becomes ~1e-9 absolute here
    assert_same_nan_and_close(dist_s, dist, atol=2e-9, what="vwap_dist")


FLAT = {k: np.full(3, 0.001) for k in ("open", "high", "low", "close")}


@SETTINGS
@given(d=bars(), p=periods, s=volume_scales)
@example(d={**FLAT, "volume": np.full(3, 1000.0)}, p=3, s=1e-4)  # 0.1 x 3: a constant window, z must be 0
def test_volume_scale_invariance(d: dict, p: int, s: float) -> None:
    h, lo, c, v = d["high"], d["low"], d["close"], d["volume"]
    vs = v * s
    assert_same_nan_and_close(core.volume_ratio(vs, p), core.volume_ratio(v, p), what="volume_ratio")
    assert_same_nan_and_close(
        core.volume_zscore(vs, p), core.volume_zscore(v, p), atol=1e-9, what="volume_zscore"
    )
    assert_same_nan_and_close(core.vwap(h, lo, c, vs, p), core.vwap(h, lo, c, v, p), what="vwap")


@SETTINGS
@given(d=bars(), p=periods, s=st.sampled_from([2.0**-12, 2.0**-3, 2.0**5, 2.0**16]))
def test_power_of_two_price_scaling_is_exact(d: dict, p: int, s: float) -> None:
    """Scaling by a power of two is exact in binary floating point, so every scale-free output must come out
    bit-for-bit the same; a hard-coded absolute epsilon (the tiny-price bug class) breaks this."""
    h, lo, c, v = d["high"], d["low"], d["close"], d["volume"]
    hs, ls, cs = h * s, lo * s, c * s
    eq = np.testing.assert_array_equal
    eq(core.rsi(cs, p), core.rsi(c, p))
    eq(core.atr_pct(hs, ls, cs, p), core.atr_pct(h, lo, c, p))
    eq(core.atr(hs, ls, cs, p), core.atr(h, lo, c, p) * s)
    eq(core.sma(cs, p), core.sma(c, p) * s)
    eq(core.ema(cs, p), core.ema(c, p) * s)
    eq(core.momentum(cs, p), core.momentum(c, p))
    eq(core.vwap(hs, ls, cs, v, p), core.vwap(h, lo, c, v, p) * s)
    eq(core.volume_zscore(v * s, p), core.volume_zscore(v, p))
    eq(core.volume_ratio(v * s, p), core.volume_ratio(v, p))
    for a, b in zip(core.bollinger(cs, p, 2.0)[:3], core.bollinger(c, p, 2.0)[:3], strict=True):
        eq(a, b * s)
    eq(core.bollinger(cs, p, 2.0)[3], core.bollinger(c, p, 2.0)[3])
    eq(core.ema_trend(cs, p, p + 3), core.ema_trend(c, p, p + 3))


@SETTINGS
@given(d=bars(positive_volume=True), p=periods, q=periods)
def test_no_nan_after_warm_up(d: dict, p: int, q: int) -> None:
    h, lo, c, v = d["high"], d["low"], d["close"], d["volume"]
    checks = {
        "sma": (core.sma(c, p), p - 1),
        "ema": (core.ema(c, p), p - 1),
        "rsi": (core.rsi(c, p), p),
        "atr": (core.atr(h, lo, c, p), p),
        "atr_pct": (core.atr_pct(h, lo, c, p), p),
        "vwap": (core.vwap(h, lo, c, v, p), p - 1),
        "momentum": (core.momentum(c, p), p),
        "volume_ratio": (core.volume_ratio(v, p), p - 1),
        "volume_zscore": (core.volume_zscore(v, p), p - 1),
        "ema_trend": (core.ema_trend(c, p, q), max(p, q) - 1),
    }
    for i, band in enumerate(core.bollinger(c, p, 2.0)):
        checks[f"bollinger[{i}]"] = (band, p - 1)
    for name, (out, first) in checks.items():
        assert out.shape == c.shape, name
        assert np.isnan(out[:first]).all(), f"{name}: value before index {first}"
        assert np.isfinite(out[first:]).all(), f"{name}: non-finite after warm-up: {out[first:]}"


values = st.lists(st.floats(1e-3, 1e6, allow_nan=False, allow_infinity=False), min_size=1, max_size=120)


@SETTINGS
@given(xs=values, p=st.integers(1, 25))
def test_sma_and_ema_stay_in_range(xs: list[float], p: int) -> None:
    x = np.array(xs)
    sma, ema = core.sma(x, p), core.ema(x, p)
    for i in range(p - 1, len(x)):
        tol = 1e-12 * np.max(np.abs(x[: i + 1]))
        w = x[i - p + 1 : i + 1]
        assert w.min() - tol <= sma[i] <= w.max() + tol, (i, sma[i], w)
        # an EMA is a convex combination of every value so far
        assert x[: i + 1].min() - tol <= ema[i] <= x[: i + 1].max() + tol, (i, ema[i])


@SETTINGS
@given(xs=values, p=st.integers(2, 25))
def test_rsi_in_0_100_and_bands_ordered(xs: list[float], p: int) -> None:
    x = np.array(xs)
    r = core.rsi(x, p)[p:]
    assert np.all((r >= 0.0) & (r <= 100.0))
    mid, up, low, width = core.bollinger(x, p, 2.0)
    ok = ~np.isnan(mid)
    assert np.all(low[ok] <= mid[ok])
    assert np.all(mid[ok] <= up[ok])
    assert np.all(width[ok] >= 0.0)
