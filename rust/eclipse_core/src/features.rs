//! Per-symbol incremental features: the full indicator set on 1m bars and on the 5m, 15m and 1h bars built
//! from them in-process. One `update` per closed 1m bar, O(1) time and memory, no heap allocation.
//! The whole state serializes to a versioned, checksummed blob so a restarted daemon resumes without warm-up.

use serde::{Deserialize, Serialize};

use crate::bars::{Aggregator, Bar};
use crate::error::{CoreError, CoreResult};
use crate::indicators::{pct_of, Atr, Bollinger, EmaTrend, Momentum, Rsi, VolumeStats, Vwap};

/// Timeframes kept by a [`FeatureState`], with their length in minutes.
pub const TIMEFRAMES: [(&str, u32); 4] = [("1m", 1), ("5m", 5), ("15m", 15), ("1h", 60)];

/// Feature names, in the order of [`Features::to_array`].
pub const FEATURE_NAMES: [&str; 17] = [
    "close",
    "ema_fast",
    "ema_slow",
    "trend",
    "rsi",
    "atr",
    "atr_pct",
    "bb_mid",
    "bb_upper",
    "bb_lower",
    "bb_width",
    "vwap",
    "vwap_dist",
    "mom_fast",
    "mom_slow",
    "volume_ratio",
    "volume_zscore",
];

/// Longest period accepted by a [`FeatureConfig`] (keeps a bad value from allocating gigabytes).
pub const MAX_PERIOD: u32 = 100_000;

const MAGIC: &[u8; 4] = b"ECFS";
const FORMAT_VERSION: u16 = 1;

/// Index of a timeframe name in [`TIMEFRAMES`].
pub fn timeframe_index(name: &str) -> Option<usize> {
    TIMEFRAMES.iter().position(|(n, _)| *n == name)
}

/// Indicator periods shared by every timeframe.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FeatureConfig {
    /// Fast EMA period (trend).
    pub ema_fast: u32,
    /// Slow EMA period (trend).
    pub ema_slow: u32,
    /// RSI period.
    pub rsi_period: u32,
    /// ATR period.
    pub atr_period: u32,
    /// Bollinger period.
    pub bb_period: u32,
    /// Bollinger width in standard deviations.
    pub bb_k: f64,
    /// Rolling VWAP window in bars.
    pub vwap_window: u32,
    /// Fast momentum lookback in bars.
    pub mom_fast: u32,
    /// Slow momentum lookback in bars.
    pub mom_slow: u32,
    /// Volume ratio / z-score window in bars.
    pub volume_window: u32,
}

impl Default for FeatureConfig {
    fn default() -> Self {
        Self {
            ema_fast: 50,
            ema_slow: 200,
            rsi_period: 14,
            atr_period: 14,
            bb_period: 20,
            bb_k: 2.0,
            vwap_window: 240,
            mom_fast: 5,
            mom_slow: 15,
            volume_window: 20,
        }
    }
}

impl FeatureConfig {
    /// The integer fields with their names.
    pub fn periods(&self) -> [(&'static str, u32); 9] {
        [
            ("ema_fast", self.ema_fast),
            ("ema_slow", self.ema_slow),
            ("rsi_period", self.rsi_period),
            ("atr_period", self.atr_period),
            ("bb_period", self.bb_period),
            ("vwap_window", self.vwap_window),
            ("mom_fast", self.mom_fast),
            ("mom_slow", self.mom_slow),
            ("volume_window", self.volume_window),
        ]
    }

    /// Checks every field's range.
    ///
    /// # Errors
    /// [`CoreError::BadConfig`] naming the field.
    pub fn validate(&self) -> CoreResult<()> {
        for (name, v) in self.periods() {
            if !(1..=MAX_PERIOD).contains(&v) {
                return Err(CoreError::BadConfig {
                    field: name.into(),
                    value: v.to_string(),
                    expected: format!("a whole number of bars from 1 to {MAX_PERIOD}"),
                });
            }
        }
        if !self.bb_k.is_finite() || self.bb_k < 0.0 {
            return Err(CoreError::BadConfig {
                field: "bb_k".into(),
                value: self.bb_k.to_string(),
                expected: "a finite number of standard deviations >= 0".into(),
            });
        }
        Ok(())
    }
}

/// Current feature values of one timeframe (NaN while an indicator warms up).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Features {
    pub close: f64,
    pub ema_fast: f64,
    pub ema_slow: f64,
    pub trend: f64,
    pub rsi: f64,
    pub atr: f64,
    pub atr_pct: f64,
    pub bb_mid: f64,
    pub bb_upper: f64,
    pub bb_lower: f64,
    pub bb_width: f64,
    pub vwap: f64,
    pub vwap_dist: f64,
    pub mom_fast: f64,
    pub mom_slow: f64,
    pub volume_ratio: f64,
    pub volume_zscore: f64,
}

impl Features {
    const NAN: Features = Features {
        close: f64::NAN,
        ema_fast: f64::NAN,
        ema_slow: f64::NAN,
        trend: f64::NAN,
        rsi: f64::NAN,
        atr: f64::NAN,
        atr_pct: f64::NAN,
        bb_mid: f64::NAN,
        bb_upper: f64::NAN,
        bb_lower: f64::NAN,
        bb_width: f64::NAN,
        vwap: f64::NAN,
        vwap_dist: f64::NAN,
        mom_fast: f64::NAN,
        mom_slow: f64::NAN,
        volume_ratio: f64::NAN,
        volume_zscore: f64::NAN,
    };

    /// Values in [`FEATURE_NAMES`] order.
    pub fn to_array(&self) -> [f64; 17] {
        [
            self.close,
            self.ema_fast,
            self.ema_slow,
            self.trend,
            self.rsi,
            self.atr,
            self.atr_pct,
            self.bb_mid,
            self.bb_upper,
            self.bb_lower,
            self.bb_width,
            self.vwap,
            self.vwap_dist,
            self.mom_fast,
            self.mom_slow,
            self.volume_ratio,
            self.volume_zscore,
        ]
    }
}

/// The indicator set of one timeframe.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct IndicatorSet {
    trend: EmaTrend,
    rsi: Rsi,
    atr: Atr,
    bb: Bollinger,
    vwap: Vwap,
    mom_fast: Momentum,
    mom_slow: Momentum,
    volume: VolumeStats,
    bars: u64,
    last: Features,
}

impl IndicatorSet {
    fn new(c: &FeatureConfig) -> Self {
        Self {
            trend: EmaTrend::new(c.ema_fast as usize, c.ema_slow as usize),
            rsi: Rsi::new(c.rsi_period as usize),
            atr: Atr::new(c.atr_period as usize),
            bb: Bollinger::new(c.bb_period as usize, c.bb_k),
            vwap: Vwap::new(c.vwap_window as usize),
            mom_fast: Momentum::new(c.mom_fast as usize),
            mom_slow: Momentum::new(c.mom_slow as usize),
            volume: VolumeStats::new(c.volume_window as usize),
            bars: 0,
            last: Features::NAN,
        }
    }

    #[inline]
    fn update(&mut self, b: &Bar) {
        let (ema_fast, ema_slow, trend) = self.trend.update(b.close);
        let atr = self.atr.update(b.high, b.low, b.close);
        let bands = self.bb.update(b.close);
        let vwap = self.vwap.update(b.high, b.low, b.close, b.volume);
        let vol = self.volume.update(b.volume);
        self.last = Features {
            close: b.close,
            ema_fast,
            ema_slow,
            trend,
            rsi: self.rsi.update(b.close),
            atr,
            atr_pct: pct_of(atr, b.close),
            bb_mid: bands.mid,
            bb_upper: bands.upper,
            bb_lower: bands.lower,
            bb_width: bands.width,
            vwap,
            vwap_dist: if vwap.is_nan() || vwap == 0.0 {
                f64::NAN
            } else {
                b.close / vwap - 1.0
            },
            mom_fast: self.mom_fast.update(b.close),
            mom_slow: self.mom_slow.update(b.close),
            volume_ratio: vol.ratio,
            volume_zscore: vol.zscore,
        };
        self.bars += 1;
    }

    fn check(&self, c: &FeatureConfig) -> bool {
        self.trend.check(c.ema_fast as usize, c.ema_slow as usize)
            && self.rsi.check(c.rsi_period as usize)
            && self.atr.check(c.atr_period as usize)
            && self.bb.check(c.bb_period as usize, c.bb_k)
            && self.vwap.check(c.vwap_window as usize)
            && self.mom_fast.check(c.mom_fast as usize)
            && self.mom_slow.check(c.mom_slow as usize)
            && self.volume.check(c.volume_window as usize)
    }
}

/// Per-symbol features over every timeframe.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureState {
    config: FeatureConfig,
    sets: [IndicatorSet; 4],
    aggregators: [Aggregator; 3],
    last_ts_ms: Option<i64>,
    gaps: u64,
}

impl FeatureState {
    /// A fresh state.
    ///
    /// # Errors
    /// An invalid config.
    pub fn new(config: FeatureConfig) -> CoreResult<Self> {
        config.validate()?;
        Ok(Self {
            config,
            sets: std::array::from_fn(|_| IndicatorSet::new(&config)),
            aggregators: [Aggregator::new(5), Aggregator::new(15), Aggregator::new(60)],
            last_ts_ms: None,
            gaps: 0,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &FeatureConfig {
        &self.config
    }

    /// Open time of the last applied 1m bar.
    pub fn last_ts_ms(&self) -> Option<i64> {
        self.last_ts_ms
    }

    /// Missing 1m bars seen so far.
    pub fn gaps(&self) -> u64 {
        self.gaps
    }

    /// Closed bars applied on timeframe index `tf`.
    pub fn bars(&self, tf: usize) -> u64 {
        self.sets.get(tf).map_or(0, |s| s.bars)
    }

    /// Current features of timeframe index `tf` (see [`TIMEFRAMES`]).
    pub fn features(&self, tf: usize) -> &Features {
        &self.sets[tf.min(3)].last
    }

    /// Applies one closed 1m bar. Returns a bit mask of the timeframes that closed (bit i = TIMEFRAMES[i]).
    /// On error the state is unchanged.
    ///
    /// # Errors
    /// An invalid bar, or a bar not after the last one.
    #[inline]
    pub fn update(
        &mut self,
        ts_ms: i64,
        open: f64,
        high: f64,
        low: f64,
        close: f64,
        volume: f64,
    ) -> CoreResult<u8> {
        let bar = Bar::checked(ts_ms, open, high, low, close, volume)?;
        if let Some(last) = self.last_ts_ms {
            if ts_ms <= last {
                return Err(CoreError::BadBar {
                    field: "ts_ms",
                    why: format!(
                        "{ts_ms} is not after the last bar {last} (duplicate or out of order)"
                    ),
                });
            }
            // Saturating: extreme timestamps must not overflow (the difference is positive here).
            self.gaps = self
                .gaps
                .saturating_add((ts_ms.saturating_sub(last) / crate::bars::MINUTE_MS - 1) as u64);
        }
        self.last_ts_ms = Some(ts_ms);
        self.sets[0].update(&bar);
        let mut mask = 1u8;
        for (i, agg) in self.aggregators.iter_mut().enumerate() {
            let closed = agg.push(&bar);
            for b in closed.iter() {
                self.sets[i + 1].update(&b);
                mask |= 1 << (i + 1);
            }
        }
        Ok(mask)
    }

    /// Serializes the state: magic, format version, postcard payload, CRC-32 of the payload.
    pub fn to_bytes(&self) -> Vec<u8> {
        let payload = postcard::to_stdvec(self).unwrap_or_default();
        let mut out = Vec::with_capacity(payload.len() + 10);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        out.extend_from_slice(&payload);
        out.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
        out
    }

    /// Restores a state from [`FeatureState::to_bytes`].
    ///
    /// # Errors
    /// [`CoreError::BadState`] for anything corrupt, foreign or inconsistent.
    pub fn from_bytes(data: &[u8]) -> CoreResult<Self> {
        let bad = |why: &str| CoreError::BadState(why.to_string());
        if data.len() < 10 || &data[..4] != MAGIC {
            return Err(bad("not a FeatureState blob (bad magic or too short)"));
        }
        let version = u16::from_le_bytes([data[4], data[5]]);
        if version != FORMAT_VERSION {
            return Err(CoreError::BadState(format!(
                "format version {version} is not supported (this build reads version {FORMAT_VERSION})"
            )));
        }
        let (payload, crc) = data[6..].split_at(data.len() - 10);
        let want = u32::from_le_bytes([crc[0], crc[1], crc[2], crc[3]]);
        if crc32fast::hash(payload) != want {
            return Err(bad("checksum mismatch (the blob is corrupt or truncated)"));
        }
        let state: FeatureState = postcard::from_bytes(payload)
            .map_err(|e| CoreError::BadState(format!("undecodable payload: {e}")))?;
        state
            .config
            .validate()
            .map_err(|e| CoreError::BadState(e.to_string()))?;
        let consistent = state.sets.iter().all(|s| s.check(&state.config))
            && state
                .aggregators
                .iter()
                .zip([5, 15, 60])
                .all(|(a, m)| a.check(m));
        if !consistent {
            return Err(bad("inconsistent indicator state"));
        }
        Ok(state)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> FeatureConfig {
        FeatureConfig {
            ema_fast: 2,
            ema_slow: 3,
            rsi_period: 2,
            atr_period: 2,
            bb_period: 2,
            vwap_window: 2,
            mom_fast: 1,
            mom_slow: 2,
            volume_window: 2,
            ..FeatureConfig::default()
        }
    }

    fn feed(s: &mut FeatureState, minutes: std::ops::Range<i64>) {
        for m in minutes {
            let c = 100.0 + (m % 7) as f64;
            s.update(m * 60_000, c, c + 1.0, c - 1.0, c, 10.0 + (m % 3) as f64)
                .unwrap();
        }
    }

    #[test]
    fn higher_timeframes_close_on_boundaries() {
        let mut s = FeatureState::new(small()).unwrap();
        feed(&mut s, 0..60);
        assert_eq!((s.bars(0), s.bars(1), s.bars(2), s.bars(3)), (60, 12, 4, 1));
    }

    #[test]
    fn rejects_out_of_order_and_keeps_state() {
        let mut s = FeatureState::new(small()).unwrap();
        feed(&mut s, 0..10);
        let before = format!("{s:?}");
        assert!(s.update(5 * 60_000, 1.0, 1.0, 1.0, 1.0, 1.0).is_err());
        assert!(s.update(20 * 60_000, 1.0, 0.5, 1.0, 1.0, 1.0).is_err());
        assert_eq!(format!("{s:?}"), before);
    }

    #[test]
    fn counts_gaps() {
        let mut s = FeatureState::new(small()).unwrap();
        feed(&mut s, 0..3);
        feed(&mut s, 10..12);
        assert_eq!(s.gaps(), 7);
    }

    #[test]
    fn extreme_timestamps_are_refused_not_overflowed() {
        let mut s = FeatureState::new(small()).unwrap();
        for ts in [
            i64::MIN / 60_000 * 60_000,
            -60_000,
            i64::MAX / 60_000 * 60_000,
        ] {
            let err = s.update(ts, 1.0, 1.0, 1.0, 1.0, 1.0).unwrap_err();
            assert!(err.to_string().contains("ts_ms"), "{err}");
        }
        s.update(0, 1.0, 1.0, 1.0, 1.0, 1.0).unwrap();
        s.update(crate::bars::MAX_TS_MS, 1.0, 1.0, 1.0, 1.0, 1.0)
            .unwrap();
        assert!(s.gaps() > 0);
    }

    #[test]
    fn roundtrip_and_corruption() {
        let mut s = FeatureState::new(small()).unwrap();
        feed(&mut s, 0..100);
        let blob = s.to_bytes();
        let r = FeatureState::from_bytes(&blob).unwrap();
        assert_eq!(format!("{r:?}"), format!("{s:?}"));
        for cut in [0, 5, 9, blob.len() - 1] {
            assert!(FeatureState::from_bytes(&blob[..cut]).is_err());
        }
        let mut flipped = blob.clone();
        flipped[20] ^= 0x10;
        assert!(FeatureState::from_bytes(&flipped).is_err());
    }

    #[test]
    fn rejects_bad_config() {
        let c = FeatureConfig {
            rsi_period: 0,
            ..FeatureConfig::default()
        };
        assert!(FeatureState::new(c)
            .unwrap_err()
            .to_string()
            .contains("rsi_period"));
    }
}
