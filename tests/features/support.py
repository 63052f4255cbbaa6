"""Helpers for the FeatureState / resample / scorer tests: synthetic bars with gaps, an independent pandas
reference of ``resample``, the batch-computed expectation of every feature, and replay/recording helpers."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from eclipse import _core as core

MINUTE = 60_000
TF_MINUTES = {"1m": 1, "5m": 5, "15m": 15, "1h": 60}
HOUR0 = 1_640_995_200_000  # 2022-01-01 00:00 UTC
BAR_FIELDS = ("ts_ms", "open", "high", "low", "close", "volume")
# The features this suite knows how to compute from the batch functions (FEATURE_NAMES may hold more).
KNOWN_FEATURES = (
    "close", "ema_fast", "ema_slow", "rsi", "atr", "atr_pct", "bb_mid", "bb_upper", "bb_lower", "bb_width",
    "vwap", "vwap_dist", "mom_fast", "mom_slow", "volume_ratio", "volume_zscore", "trend",
)  # fmt: skip
SMALL_CONFIG = {
    "ema_fast": 3, "ema_slow": 7, "rsi_period": 4, "atr_period": 3, "bb_period": 5, "bb_k": 1.5,
    "vwap_window": 6, "mom_fast": 2, "mom_slow": 4, "volume_window": 5,
}  # fmt: skip


def random_bars(
    n: int,
    scale: float = 100.0,
    seed: int = 0,
    gap_prob: float = 0.0,
    max_gap: int = 90,
    start_ts: int = HOUR0 + 7 * MINUTE,
) -> dict[str, np.ndarray]:
    """Valid 1m bars of a geometric random walk; with ``gap_prob`` a bar is followed by 1..max_gap missing
    minutes. About 2% of the volumes are 0 and some bars are flat."""
    rng = np.random.default_rng(seed)
    ret = rng.normal(0.0, 2e-3, n)
    ret[rng.random(n) < 0.05] = 0.0
    close = scale * np.exp(np.cumsum(ret))
    open_ = np.concatenate([[scale], close[:-1]])[:n]
    high = np.maximum(open_, close) * (1.0 + np.abs(rng.normal(0, 1e-3, n)))
    low = np.minimum(open_, close) * (1.0 - np.abs(rng.normal(0, 1e-3, n)))
    volume = rng.lognormal(2.0, 1.0, n)
    volume[rng.random(n) < 0.02] = 0.0
    step = np.ones(n, dtype=np.int64)
    gaps = rng.random(n) < gap_prob
    step[gaps] += rng.integers(1, max_gap + 1, int(gaps.sum()))
    if n:
        step[0] = 0
    ts = start_ts + MINUTE * np.cumsum(step)
    return {
        "ts_ms": ts.astype(np.int64),
        "open": open_,
        "high": high,
        "low": low,
        "close": close,
        "volume": volume,
    }


def take(d: Mapping[str, np.ndarray], idx: Any) -> dict[str, np.ndarray]:
    return {k: np.ascontiguousarray(v[idx]) for k, v in d.items()}


def resample_reference(d: Mapping[str, np.ndarray], minutes: int) -> dict[str, np.ndarray]:
    """pandas: floor ts to the UTC bucket, first open, max high, min low, last close, sum volume, count; the
    last bucket is kept only when its last minute is present (a bucket closes on its last minute or when a
    later bucket's bar arrives, so only the trailing bucket can be incomplete and unclosed)."""
    size = minutes * MINUTE
    if len(d["ts_ms"]) == 0:
        return resample_numpy(d, minutes)
    df = pd.DataFrame({k: d[k] for k in BAR_FIELDS})
    df["bucket"] = df["ts_ms"] // size * size
    g = df.groupby("bucket", sort=True)
    out = pd.DataFrame({
        "open": g["open"].first(), "high": g["high"].max(), "low": g["low"].min(),
        "close": g["close"].last(), "volume": g["volume"].sum(), "count": g["ts_ms"].size(),
    })  # fmt: skip
    res = {"ts_ms": out.index.to_numpy(dtype=np.int64)}
    for k in ("open", "high", "low", "close", "volume"):
        res[k] = out[k].to_numpy(dtype=np.float64)
    res["count"] = out["count"].to_numpy(dtype=np.int64)
    if len(d["ts_ms"]) and d["ts_ms"][-1] != res["ts_ms"][-1] + size - MINUTE:
        res = {k: v[:-1] for k, v in res.items()}
    return res


def resample_numpy(d: Mapping[str, np.ndarray], minutes: int) -> dict[str, np.ndarray]:
    """Second, pandas-free reference (np.unique + reduceat) used to cross-check ``resample_reference``."""
    size = minutes * MINUTE
    ts = np.asarray(d["ts_ms"], dtype=np.int64)
    if ts.size == 0:
        return {
            k: np.empty(0, dtype=np.int64 if k in ("ts_ms", "count") else np.float64)
            for k in (*BAR_FIELDS, "count")
        }
    bucket = ts - ts % size
    starts = np.flatnonzero(np.r_[True, bucket[1:] != bucket[:-1]])
    ends = np.r_[starts[1:], ts.size]
    res = {
        "ts_ms": bucket[starts], "open": d["open"][starts], "high": np.maximum.reduceat(d["high"], starts),
        "low": np.minimum.reduceat(d["low"], starts), "close": d["close"][ends - 1],
        "volume": np.add.reduceat(d["volume"], starts), "count": (ends - starts).astype(np.int64),
    }  # fmt: skip
    if ts[-1] != bucket[-1] + size - MINUTE:
        res = {k: v[:-1] for k, v in res.items()}
    return res


def core_resample(d: Mapping[str, np.ndarray], minutes: int) -> dict[str, np.ndarray]:
    out = core.resample(d["ts_ms"], d["open"], d["high"], d["low"], d["close"], d["volume"], minutes)
    assert isinstance(out, tuple)
    assert len(out) == 7
    return dict(zip((*BAR_FIELDS, "count"), out, strict=True))


def closed_counts(ts: np.ndarray, minutes: int) -> np.ndarray:
    """For each i, how many ``minutes`` buckets are closed once bars ts[0..=i] arrived: every bucket
    before the current bar's bucket, plus the current one when this bar is its last minute."""
    size = minutes * MINUTE
    bucket = ts - ts % size
    new_bucket = np.r_[True, bucket[1:] != bucket[:-1]] if ts.size else np.empty(0, bool)
    before = np.cumsum(new_bucket) - 1  # buckets started before the current one
    return before + (ts - bucket == size - MINUTE)


def expected_features(cfg: Any, d: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Every known feature over the bars ``d`` computed by the batch functions (the FeatureState contract)."""
    h, lo, c, v = d["high"], d["low"], d["close"], d["volume"]
    mid, up, low, width = core.bollinger(c, cfg.bb_period, cfg.bb_k)
    vw = core.vwap(h, lo, c, v, cfg.vwap_window)
    with np.errstate(invalid="ignore", divide="ignore"):
        dist = c / vw - 1.0
    return {
        "close": np.asarray(c, dtype=np.float64),
        "ema_fast": core.ema(c, cfg.ema_fast),
        "ema_slow": core.ema(c, cfg.ema_slow),
        "rsi": core.rsi(c, cfg.rsi_period),
        "atr": core.atr(h, lo, c, cfg.atr_period),
        "atr_pct": core.atr_pct(h, lo, c, cfg.atr_period),
        "bb_mid": mid, "bb_upper": up, "bb_lower": low, "bb_width": width,
        "vwap": vw, "vwap_dist": dist,
        "mom_fast": core.momentum(c, cfg.mom_fast),
        "mom_slow": core.momentum(c, cfg.mom_slow),
        "volume_ratio": core.volume_ratio(v, cfg.volume_window),
        "volume_zscore": core.volume_zscore(v, cfg.volume_window),
        "trend": core.ema_trend(c, cfg.ema_fast, cfg.ema_slow),
    }  # fmt: skip


def bar_args(d: Mapping[str, np.ndarray]) -> list[tuple[int, float, float, float, float, float]]:
    """The bars as Python (ts, o, h, l, c, v) tuples, the way a live loop would pass them."""
    return list(zip(*(d[k].tolist() for k in BAR_FIELDS), strict=True))


def same(a: float, b: float) -> bool:
    """Bit-for-bit equality of two floats, NaN equal to NaN."""
    return (math.isnan(a) and math.isnan(b)) or a == b


def assert_features_equal(got: Mapping[str, float], want: Mapping[str, float], what: str) -> None:
    bad = {k: (got.get(k), want[k]) for k in want if k not in got or not same(got[k], want[k])}
    assert not bad, f"{what}: differing features (got, want): {bad}"


def first_mismatch(got: np.ndarray, want: np.ndarray) -> int | None:
    eq = (got == want) | (np.isnan(got) & np.isnan(want))
    bad = np.flatnonzero(~eq)
    return int(bad[0]) if bad.size else None


def replay_and_check(
    cfg_kwargs: Mapping[str, Any] | None,
    d: Mapping[str, np.ndarray],
    timeframes: Iterable[str] = ("1m", "5m", "15m", "1h"),
) -> Any:
    """Feed ``d`` bar by bar into a fresh FeatureState and check, after every update, the returned timeframes,
    the closed-bar counts and the features of every timeframe against the batch functions on ``resample``
    output. Returns the final state."""
    cfg = core.FeatureConfig(**(cfg_kwargs or {}))
    state = core.FeatureState(cfg)
    timeframes = tuple(timeframes)
    n = len(d["ts_ms"])
    ts = np.asarray(d["ts_ms"], dtype=np.int64)
    counts: dict[str, np.ndarray] = {}
    expected: dict[str, dict[str, np.ndarray]] = {}
    for tf in timeframes:
        m = TF_MINUTES[tf]
        if m == 1:
            src = d
            counts[tf] = np.arange(1, n + 1)
        else:
            src = core_resample(d, m)
            counts[tf] = closed_counts(ts, m)
            assert n == 0 or counts[tf][-1] == len(src["ts_ms"])
        expected[tf] = expected_features(cfg, src)
    recorded: dict[str, dict[str, list[float]]] = {tf: {k: [] for k in KNOWN_FEATURES} for tf in timeframes}
    prev = {tf: 0 for tf in timeframes}
    for i, bar in enumerate(bar_args(d)):
        closed = state.update(*bar)
        assert isinstance(closed, tuple), f"bar {i}: update returned {closed!r}"
        assert closed[:1] == ("1m",), f"bar {i}: update returned {closed!r}"
        want_closed = tuple(
            tf for tf in core.TIMEFRAMES if tf == "1m" or (tf in counts and counts[tf][i] > prev.get(tf, 0))
        )
        if set(timeframes) >= set(core.TIMEFRAMES):
            assert closed == want_closed, (
                f"bar {i} ts={bar[0]}: update returned {closed!r}, want {want_closed!r}"
            )
        for tf in timeframes:
            k = int(counts[tf][i])
            assert state.bars(tf) == k, f"bar {i}: bars({tf!r}) = {state.bars(tf)}, want {k}"
            prev[tf] = k
            feats = state.features(tf)
            for name in KNOWN_FEATURES:
                recorded[tf][name].append(feats[name])
    for tf in timeframes:
        for name in KNOWN_FEATURES:
            got = np.array(recorded[tf][name], dtype=np.float64)
            # the state's features after bar i are those of closed bar counts[i] - 1 (all NaN before any)
            full = expected[tf][name]
            idx = counts[tf] - 1
            want = np.where(idx >= 0, full[np.maximum(idx, 0)] if full.size else np.nan, np.nan)
            i = first_mismatch(got, want)
            if i is not None:
                raise AssertionError(
                    f"{tf} {name}: after bar {i} (ts={int(ts[i])}, closed {tf} bars={int(counts[tf][i])}) "
                    f"got {got[i]!r}, batch says {want[i]!r}"
                )
    return state
