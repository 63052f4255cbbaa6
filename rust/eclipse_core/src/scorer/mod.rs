//! The composite signal scorer (see docs/signals.md): momentum (fast and slow), VWAP distance, volume
//! confirmation and the higher-timeframe trend vote or gate, with the volatility regime scaling thresholds,
//! volume-weighted confidence and calibration. Scoring allocates nothing: reasons are rendered on demand.

pub mod config;
pub mod signal;

pub use config::{FieldValue, ScorerConfig, TrendMode};
pub use signal::{Block, Component, ComponentKind, Note, Regime, Signal};

use crate::features::{FeatureState, Features};

#[inline]
fn sign(x: f64) -> i8 {
    if x > 0.0 {
        1
    } else if x < 0.0 {
        -1
    } else {
        0
    }
}

/// Vote of a thresholded value: its sign when |value| >= threshold.
#[inline]
fn threshold_vote(value: f64, threshold: f64) -> (i8, Note) {
    if value.is_nan() || threshold.is_nan() {
        (0, Note::Warmup)
    } else if value.abs() >= threshold && value != 0.0 {
        (sign(value), Note::Beyond)
    } else {
        (0, Note::Within)
    }
}

fn regime_of(cfg: &ScorerConfig, f: &Features) -> (Regime, f64) {
    if !cfg.vol_regime_enabled {
        return (Regime::Off, 1.0);
    }
    if f.atr_pct.is_nan() || f.bb_width.is_nan() {
        return (Regime::Unknown, 1.0);
    }
    if f.atr_pct < cfg.vol_regime_low_atr_pct && f.bb_width < cfg.vol_regime_low_bb_pct {
        (Regime::Low, cfg.vol_regime_low_mult)
    } else if f.atr_pct > cfg.vol_regime_high_atr_pct || f.bb_width > cfg.vol_regime_high_bb_pct {
        (Regime::High, cfg.vol_regime_high_mult)
    } else {
        (Regime::Normal, 1.0)
    }
}

/// Scores the current features of `state`.
pub fn score(cfg: &ScorerConfig, state: &FeatureState) -> Signal {
    let f = state.features(0);
    let fc = state.config();
    let (regime, m) = regime_of(cfg, state.features(cfg.vol_regime_tf));
    let warm = [
        f.close,
        f.atr_pct,
        f.mom_fast,
        f.mom_slow,
        f.vwap_dist,
        f.volume_zscore,
        f.volume_ratio,
    ]
    .iter()
    .any(|v| v.is_nan());

    // Momentum: an n-bar return's spread grows with sqrt(n).
    let base = cfg.dyn_mom_mult * m * f.atr_pct;
    let thr_fast = base * f64::from(fc.mom_fast).sqrt();
    let thr_slow = base * f64::from(fc.mom_slow).sqrt();
    let (v_fast, n_fast) = threshold_vote(f.mom_fast, thr_fast);
    let (v_slow, n_slow) = threshold_vote(f.mom_slow, thr_slow);
    let thr_vwap = cfg.vwap_base_dist * m;
    let (v_vwap, n_vwap) = threshold_vote(f.vwap_dist, thr_vwap);

    // Volume confirms the momentum direction.
    let mom_dir =
        sign(cfg.weight_mom_fast * f64::from(v_fast) + cfg.weight_mom_slow * f64::from(v_slow));
    let z_th = cfg.vol_z_th * m;
    let z_soft = cfg.vol_z_soft_th * m;
    let z = f.volume_zscore;
    let (v_vol, w_vol_eff, n_vol) = if z.is_nan() {
        (0, cfg.weight_volume, Note::Warmup)
    } else if mom_dir == 0 {
        (0, cfg.weight_volume, Note::NoMomentum)
    } else if z >= z_th {
        (mom_dir, cfg.weight_volume, Note::Strong)
    } else if z >= z_soft {
        (mom_dir, cfg.weight_volume * 0.5, Note::Soft)
    } else {
        (0, cfg.weight_volume, Note::Within)
    };

    // Trend on the configured timeframe.
    let t = state.features(cfg.trend_tf).trend;
    let t_vote = if t.is_nan() { 0 } else { sign(t) };
    let (v_trend, n_trend, trend_in_score) = if !cfg.trend_confirm {
        (0, Note::Off, false)
    } else if t.is_nan() {
        (0, Note::Warmup, false)
    } else {
        match cfg.trend_mode {
            TrendMode::Vote => (
                t_vote,
                if t_vote == 0 {
                    Note::Within
                } else {
                    Note::Beyond
                },
                true,
            ),
            TrendMode::Gate => (t_vote, Note::Gate, false),
        }
    };

    let mut s = f64::from(v_fast) * cfg.weight_mom_fast
        + f64::from(v_slow) * cfg.weight_mom_slow
        + f64::from(v_vwap) * cfg.weight_vwap
        + f64::from(v_vol) * w_vol_eff;
    let mut w = cfg.weight_mom_fast + cfg.weight_mom_slow + cfg.weight_vwap + cfg.weight_volume;
    if trend_in_score {
        s += f64::from(v_trend) * cfg.weight_trend;
        w += cfg.weight_trend;
    }
    let candidate = if warm { 0 } else { sign(s) };
    let raw = if warm || w <= 0.0 {
        0.0
    } else {
        (s.abs() / w).min(1.0)
    };

    let vr = f.volume_ratio;
    let vol_multiplier = if vr.is_nan() {
        1.0
    } else {
        1.0 + (cfg.vol_ratio_weight * (vr - 1.0))
            .clamp(-cfg.vol_ratio_max_drop, cfg.vol_ratio_max_boost)
    };
    let mut conf = raw * vol_multiplier;
    if cfg.confidence_power != 1.0 {
        conf = conf.powf(cfg.confidence_power);
    }
    conf = conf
        .clamp(cfg.confidence_min, cfg.confidence_max)
        .clamp(0.0, 1.0);
    if warm {
        conf = 0.0;
    }

    let trend_gate = cfg.trend_confirm && cfg.trend_mode == TrendMode::Gate;
    let blocked = if warm {
        Some(Block::Warmup)
    } else if regime == Regime::Low && cfg.vol_regime_guard {
        Some(Block::VolRegimeLow)
    } else if candidate == 0 {
        Some(Block::NoConsensus)
    } else if trend_gate && t.is_nan() {
        Some(Block::TrendWarmup)
    } else if trend_gate && t_vote != candidate {
        Some(Block::TrendGate)
    } else if conf < cfg.min_confidence {
        Some(Block::BelowMinConfidence)
    } else {
        None
    };

    let trend_weight = if trend_in_score {
        cfg.weight_trend
    } else {
        0.0
    };
    Signal {
        ts_ms: state.last_ts_ms().unwrap_or(0),
        direction: if blocked.is_none() { candidate } else { 0 },
        candidate,
        confidence: conf,
        raw_confidence: raw,
        blocked,
        regime,
        vol_ratio: vr,
        vol_multiplier,
        mom_fast: f.mom_fast,
        mom_slow: f.mom_slow,
        close: f.close,
        trend_tf: cfg.trend_tf,
        components: [
            Component {
                kind: ComponentKind::MomFast,
                vote: v_fast,
                weight: cfg.weight_mom_fast,
                value: f.mom_fast,
                threshold: thr_fast,
                note: n_fast,
            },
            Component {
                kind: ComponentKind::MomSlow,
                vote: v_slow,
                weight: cfg.weight_mom_slow,
                value: f.mom_slow,
                threshold: thr_slow,
                note: n_slow,
            },
            Component {
                kind: ComponentKind::Vwap,
                vote: v_vwap,
                weight: cfg.weight_vwap,
                value: f.vwap_dist,
                threshold: thr_vwap,
                note: n_vwap,
            },
            Component {
                kind: ComponentKind::Volume,
                vote: v_vol,
                weight: w_vol_eff,
                value: z,
                threshold: if n_vol == Note::Soft { z_soft } else { z_th },
                note: n_vol,
            },
            Component {
                kind: ComponentKind::Trend,
                vote: v_trend,
                weight: trend_weight,
                value: t,
                threshold: f64::NAN,
                note: n_trend,
            },
        ],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::FeatureConfig;

    fn config() -> FeatureConfig {
        FeatureConfig {
            ema_fast: 3,
            ema_slow: 6,
            rsi_period: 5,
            atr_period: 5,
            bb_period: 5,
            bb_k: 2.0,
            vwap_window: 30,
            mom_fast: 2,
            mom_slow: 4,
            volume_window: 10,
        }
    }

    /// Feeds `minutes` bars whose close follows `price(minute)`, each with a +/-`range` fraction high/low
    /// and volume `volume(minute)`; returns the last signal.
    fn run(
        cfg: &ScorerConfig,
        minutes: i64,
        price: impl Fn(i64) -> f64,
        range: f64,
        volume: impl Fn(i64) -> f64,
    ) -> Signal {
        let mut st = FeatureState::new(config()).unwrap();
        let mut sig = None;
        let mut prev = price(0);
        for m in 0..minutes {
            let c = price(m);
            let (hi, lo) = (prev.max(c) * (1.0 + range), prev.min(c) * (1.0 - range));
            st.update(m * 60_000, prev, hi, lo, c, volume(m)).unwrap();
            sig = Some(score(cfg, &st));
            prev = c;
        }
        sig.unwrap()
    }

    const N: i64 = 600;

    /// A steady trend of `slope` per minute with a 5-minute upward burst at the end, ~0.05% bar ranges and a
    /// volume spike during the burst: returns the last signal.
    fn trend_then_burst(cfg: &ScorerConfig, slope: f64) -> Signal {
        let price = |m: i64| {
            let burst = if m > N - 5 {
                0.004 * (m - N + 5) as f64
            } else {
                0.0
            };
            100.0 * (1.0 + slope * m as f64 + burst)
        };
        let volume = |m: i64| {
            if m > N - 5 {
                500.0
            } else {
                100.0 + (m % 7) as f64
            }
        };
        run(cfg, N, price, 0.0005, volume)
    }

    #[test]
    fn uptrend_with_a_volume_burst_goes_long() {
        let cfg = ScorerConfig::micro();
        let sig = trend_then_burst(&cfg, 0.0004);
        assert_ne!(sig.regime, Regime::Low, "{}", sig.explain());
        assert_eq!(sig.direction, 1, "{}", sig.explain());
        assert!(sig.blocked.is_none());
        assert!((cfg.min_confidence..=1.0).contains(&sig.confidence));
        assert!(sig
            .components
            .iter()
            .all(|c| c.kind == ComponentKind::Trend || c.vote >= 0));
    }

    #[test]
    fn counter_trend_burst_is_blocked_by_the_trend_gate() {
        let sig = trend_then_burst(&ScorerConfig::micro(), -0.0004);
        assert_eq!(sig.candidate, 1, "{}", sig.explain());
        assert_eq!(sig.blocked, Some(Block::TrendGate), "{}", sig.explain());
        assert_eq!(sig.direction, 0);
        let vote = ScorerConfig {
            trend_mode: TrendMode::Vote,
            ..ScorerConfig::micro()
        };
        let sig = trend_then_burst(&vote, -0.0004);
        assert_ne!(
            sig.blocked,
            Some(Block::TrendGate),
            "vote mode never gates: {}",
            sig.explain()
        );
        assert_eq!(
            sig.components[4].vote,
            -1,
            "the trend votes short: {}",
            sig.explain()
        );
    }

    #[test]
    fn dead_market_is_a_low_regime_and_blocks_with_the_guard() {
        let cfg = ScorerConfig::micro();
        let sig = run(
            &cfg,
            600,
            |m| 100.0 + 0.001 * (m % 3) as f64,
            0.00001,
            |_| 50.0,
        );
        assert_eq!(sig.regime, Regime::Low, "{}", sig.explain());
        assert_eq!(sig.blocked, Some(Block::VolRegimeLow));
        let off = ScorerConfig {
            vol_regime_guard: false,
            ..ScorerConfig::micro()
        };
        let sig = run(
            &off,
            600,
            |m| 100.0 + 0.001 * (m % 3) as f64,
            0.00001,
            |_| 50.0,
        );
        assert_ne!(sig.blocked, Some(Block::VolRegimeLow));
    }

    #[test]
    fn warming_up_gives_no_direction_and_zero_confidence() {
        let sig = run(
            &ScorerConfig::micro(),
            3,
            |m| 100.0 + m as f64,
            0.001,
            |_| 10.0,
        );
        assert_eq!(
            (sig.direction, sig.blocked, sig.confidence),
            (0, Some(Block::Warmup), 0.0)
        );
        assert_eq!(sig.regime, Regime::Unknown);
    }
}
