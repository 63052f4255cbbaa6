"""Technical indicators from the Rust core: batch functions over 1-D numpy float64 arrays and the incremental
per-symbol ``FeatureState``.

Batch functions borrow C-contiguous input without copying, release the GIL while computing and return
arrays of the input's length with NaN in warm-up positions; SMA, EMA, RSI, ATR and Bollinger follow
TA-Lib's conventions. NaN/inf input raises ``ValueError`` naming the argument and index; a wrong dtype or
shape raises ``TypeError``. Every convention is in ``docs/indicators.md``.
"""

from __future__ import annotations

from eclipse._core import (
    FEATURE_NAMES,
    TIMEFRAMES,
    FeatureConfig,
    FeatureState,
    atr,
    atr_pct,
    bollinger,
    ema,
    ema_trend,
    momentum,
    resample,
    rsi,
    sma,
    volume_ratio,
    volume_zscore,
    vwap,
)

__all__ = [
    "FEATURE_NAMES",
    "TIMEFRAMES",
    "FeatureConfig",
    "FeatureState",
    "atr",
    "atr_pct",
    "bollinger",
    "ema",
    "ema_trend",
    "momentum",
    "resample",
    "rsi",
    "sma",
    "volume_ratio",
    "volume_zscore",
    "vwap",
]
