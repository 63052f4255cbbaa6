"""Type stubs for the Rust extension ``eclipse._core`` (built from ``rust/eclipse_core``).

Conventions shared by every batch function:

* inputs are 1-D numpy ``float64`` arrays; C-contiguous input is borrowed without a copy, a non-contiguous
  view is copied once; any other dtype, a list or a 2-D array raises ``TypeError`` naming the argument;
* a NaN or +/-inf anywhere in an input raises ``ValueError`` naming the argument and the first bad index;
* arrays that go together must have the same length, else ``ValueError`` naming both;
* ``period``/``window``/``n`` < 1 raises ``ValueError``; a period longer than the input gives an
  all-NaN result;
* outputs have the input's length with NaN in the warm-up positions (TA-Lib's positions where TA-Lib has the
  indicator); the GIL is released while computing.
"""

from typing import Final

import numpy as np
from numpy.typing import NDArray

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]

__version__: Final[str]
TIMEFRAMES: Final[tuple[str, ...]]
"""Timeframes a FeatureState keeps, in order: ("1m", "5m", "15m", "1h")."""
FEATURE_NAMES: Final[tuple[str, ...]]
"""Names of the features each timeframe exposes (see ``FeatureState.features``)."""

def sma(x: F64, period: int) -> F64: ...
def ema(x: F64, period: int) -> F64: ...
def rsi(close: F64, period: int = 14) -> F64: ...
def atr(high: F64, low: F64, close: F64, period: int = 14) -> F64: ...
def atr_pct(high: F64, low: F64, close: F64, period: int = 14) -> F64: ...
def bollinger(close: F64, period: int = 20, k: float = 2.0) -> tuple[F64, F64, F64, F64]: ...
def vwap(high: F64, low: F64, close: F64, volume: F64, window: int) -> F64: ...
def momentum(close: F64, n: int) -> F64: ...
def volume_ratio(volume: F64, window: int) -> F64: ...
def volume_zscore(volume: F64, window: int) -> F64: ...
def ema_trend(close: F64, fast: int = 50, slow: int = 200) -> F64: ...
def resample(
    ts_ms: I64, open: F64, high: F64, low: F64, close: F64, volume: F64, minutes: int
) -> tuple[I64, F64, F64, F64, F64, F64, I64]:
    """Aggregate 1m bars into ``minutes`` bars aligned to UTC boundaries.

    Returns (ts_ms, open, high, low, close, volume, count) for every *closed* bucket: a bucket closes when its
    last minute arrives or when a bar of a later bucket arrives (gaps); a trailing incomplete bucket is not
    returned. ``count`` is how many 1m bars went into each bucket (< minutes when the data had gaps).
    """

class FeatureConfig:
    """Indicator periods shared by every timeframe of a FeatureState."""

    ema_fast: int
    ema_slow: int
    rsi_period: int
    atr_period: int
    bb_period: int
    bb_k: float
    vwap_window: int
    mom_fast: int
    mom_slow: int
    volume_window: int
    def __init__(
        self,
        *,
        ema_fast: int = 50,
        ema_slow: int = 200,
        rsi_period: int = 14,
        atr_period: int = 14,
        bb_period: int = 20,
        bb_k: float = 2.0,
        vwap_window: int = 240,
        mom_fast: int = 5,
        mom_slow: int = 15,
        volume_window: int = 20,
    ) -> None: ...
    def to_dict(self) -> dict[str, float]: ...

class FeatureState:
    """Per-symbol incremental features over 1m bars and the 5m/15m/1h bars built from them.

    ``update`` takes one *closed* 1m bar (``ts_ms`` = bar open time, UTC ms in 1970..3000, a multiple of
    60,000, strictly increasing); it validates the bar (finite, high >= max(open, close, low),
    low <= min(open, close), volume >= 0) and raises ``ValueError`` naming the field without changing the
    state. Time and memory per update are O(1) with no heap allocation.
    """

    def __init__(self, config: FeatureConfig | None = None) -> None: ...
    @property
    def config(self) -> FeatureConfig: ...
    @property
    def last_ts_ms(self) -> int | None: ...
    @property
    def gaps(self) -> int:
        """Number of missing 1m bars seen so far (sum of gap lengths)."""
    def update(
        self, ts_ms: int, open: float, high: float, low: float, close: float, volume: float
    ) -> tuple[str, ...]:
        """Apply one closed 1m bar; returns the timeframes whose bar closed with it (always starts
        with "1m")."""
    def bars(self, timeframe: str) -> int:
        """Closed bars applied so far on ``timeframe``."""
    def features(self, timeframe: str = "1m") -> dict[str, float]:
        """Current features of ``timeframe`` keyed by FEATURE_NAMES; NaN while an indicator warms up."""
    def feature(self, timeframe: str, name: str) -> float:
        """One feature of ``timeframe`` by name (NaN while warming up); ValueError for an unknown name."""
        ...
    def all_features(self) -> dict[str, dict[str, float]]: ...
    def to_bytes(self) -> bytes:
        """Serialize the whole state (versioned) so a restarted process resumes without warm-up."""
    @staticmethod
    def from_bytes(data: bytes) -> FeatureState:
        """Restore a state from ``to_bytes``; ValueError on a corrupt or incompatible blob."""

class ScorerConfig:
    """Weights and thresholds of the signal scorer. ``ScorerConfig.profile("micro"|"production")`` gives the
    profile defaults; keyword arguments override single fields; invalid values raise ValueError naming
    the field."""

    dyn_mom_mult: float
    vwap_base_dist: float
    vol_z_th: float
    vol_z_soft_th: float
    weight_mom_fast: float
    weight_mom_slow: float
    weight_trend: float
    weight_vwap: float
    weight_volume: float
    trend_confirm: bool
    trend_mode: str
    trend_tf: str
    vol_regime_enabled: bool
    vol_regime_guard: bool
    vol_regime_tf: str
    vol_regime_low_atr_pct: float
    vol_regime_high_atr_pct: float
    vol_regime_low_bb_pct: float
    vol_regime_high_bb_pct: float
    vol_regime_low_mult: float
    vol_regime_high_mult: float
    vol_ratio_weight: float
    vol_ratio_max_boost: float
    vol_ratio_max_drop: float
    confidence_power: float
    confidence_min: float
    confidence_max: float
    min_confidence: float
    def __init__(self, **overrides: float | bool | str) -> None:
        """Micro-profile defaults with ``overrides`` applied."""
    @staticmethod
    def profile(name: str, **overrides: float | bool | str) -> ScorerConfig: ...
    def to_dict(self) -> dict[str, float | bool | str]: ...

class Component:
    """One scorer component's vote and the numbers behind it."""

    @property
    def name(self) -> str: ...
    @property
    def vote(self) -> int: ...
    @property
    def weight(self) -> float: ...
    @property
    def value(self) -> float: ...
    @property
    def threshold(self) -> float: ...
    @property
    def reason(self) -> str: ...

class Signal:
    """Result of scoring one closed bar."""

    @property
    def ts_ms(self) -> int: ...
    @property
    def direction(self) -> int:
        """+1 long, -1 short, 0 none."""
    @property
    def side(self) -> str:
        """ "long", "short" or "none"."""
    @property
    def candidate(self) -> int:
        """Direction the votes pointed to before blocks and the minimum confidence (0 if none)."""
    @property
    def confidence(self) -> float:
        """Calibrated confidence in [0, 1]."""
    @property
    def raw_confidence(self) -> float: ...
    @property
    def blocked(self) -> str | None:
        """Why no direction was given: "warmup", "trend_warmup", "vol_regime_low", "trend_gate",
        "no_consensus", "below_min_confidence"; None when direction != 0."""
    @property
    def regime(self) -> str:
        """ "LOW", "NORMAL", "HIGH", "OFF" (regime disabled) or "UNKNOWN" (warming up)."""
    @property
    def vol_ratio(self) -> float: ...
    @property
    def vol_multiplier(self) -> float: ...
    @property
    def mom_fast(self) -> float:
        """Return over the last ``mom_fast`` 1m bars (the original bot's 5m momentum)."""
    @property
    def mom_slow(self) -> float:
        """Return over the last ``mom_slow`` 1m bars (the original bot's 15m momentum)."""
    @property
    def close(self) -> float: ...
    def components(self) -> list[Component]: ...
    def explain(self) -> str:
        """One line: every component's vote and reason, the regime and the block."""
    def to_dict(self) -> dict[str, object]: ...

class Scorer:
    """The composite signal scorer; ``step`` = FeatureState update + score in one call."""

    def __init__(self, config: ScorerConfig | None = None) -> None: ...
    @property
    def config(self) -> ScorerConfig: ...
    def step(
        self,
        state: FeatureState,
        ts_ms: int,
        open: float,
        high: float,
        low: float,
        close: float,
        volume: float,
    ) -> Signal: ...
    def score(self, state: FeatureState) -> Signal:
        """Score the state's current features without updating it."""
