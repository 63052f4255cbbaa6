//! Scorer configuration: weights and thresholds with the micro and production profile defaults. This is
//! the one definition of those defaults; the Python parameter registry reads them from here.

use serde::{Deserialize, Serialize};

use crate::error::{CoreError, CoreResult};
use crate::features::{timeframe_index, TIMEFRAMES};

/// How the higher-timeframe trend takes part.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TrendMode {
    /// A candidate against the trend is blocked.
    Gate,
    /// The trend adds a weighted vote.
    Vote,
}

/// A field value of any of the config's kinds.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldValue {
    /// A number.
    Num(f64),
    /// A switch.
    Bool(bool),
    /// A name (mode, timeframe).
    Text(String),
}

/// Scorer weights and thresholds (see docs/signals.md for what each one does).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScorerConfig {
    pub dyn_mom_mult: f64,
    pub vwap_base_dist: f64,
    pub vol_z_th: f64,
    pub vol_z_soft_th: f64,
    pub weight_mom_fast: f64,
    pub weight_mom_slow: f64,
    pub weight_trend: f64,
    pub weight_vwap: f64,
    pub weight_volume: f64,
    pub trend_confirm: bool,
    pub trend_mode: TrendMode,
    pub trend_tf: usize,
    pub vol_regime_enabled: bool,
    pub vol_regime_guard: bool,
    pub vol_regime_tf: usize,
    pub vol_regime_low_atr_pct: f64,
    pub vol_regime_high_atr_pct: f64,
    pub vol_regime_low_bb_pct: f64,
    pub vol_regime_high_bb_pct: f64,
    pub vol_regime_low_mult: f64,
    pub vol_regime_high_mult: f64,
    pub vol_ratio_weight: f64,
    pub vol_ratio_max_boost: f64,
    pub vol_ratio_max_drop: f64,
    pub confidence_power: f64,
    pub confidence_min: f64,
    pub confidence_max: f64,
    pub min_confidence: f64,
}

/// Names of the numeric fields, in declaration order.
pub const NUMERIC_FIELDS: [&str; 22] = [
    "dyn_mom_mult",
    "vwap_base_dist",
    "vol_z_th",
    "vol_z_soft_th",
    "weight_mom_fast",
    "weight_mom_slow",
    "weight_trend",
    "weight_vwap",
    "weight_volume",
    "vol_regime_low_atr_pct",
    "vol_regime_high_atr_pct",
    "vol_regime_low_bb_pct",
    "vol_regime_high_bb_pct",
    "vol_regime_low_mult",
    "vol_regime_high_mult",
    "vol_ratio_weight",
    "vol_ratio_max_boost",
    "vol_ratio_max_drop",
    "confidence_power",
    "confidence_min",
    "confidence_max",
    "min_confidence",
];

/// Names of the switches.
pub const BOOL_FIELDS: [&str; 3] = ["trend_confirm", "vol_regime_enabled", "vol_regime_guard"];

/// Names of the text fields.
pub const TEXT_FIELDS: [&str; 3] = ["trend_mode", "trend_tf", "vol_regime_tf"];

/// Profile names.
pub const PROFILES: [&str; 2] = ["micro", "production"];

fn bad(field: &str, value: impl ToString, expected: &str) -> CoreError {
    CoreError::BadConfig {
        field: field.into(),
        value: value.to_string(),
        expected: expected.into(),
    }
}

impl ScorerConfig {
    /// Defaults of the micro profile (small equity: stricter confidence, gentler volume boost).
    pub fn micro() -> Self {
        Self {
            dyn_mom_mult: 1.0,
            vwap_base_dist: 0.001,
            vol_z_th: 1.5,
            vol_z_soft_th: 0.75,
            weight_mom_fast: 1.0,
            weight_mom_slow: 1.0,
            weight_trend: 1.0,
            weight_vwap: 0.5,
            weight_volume: 0.5,
            trend_confirm: true,
            trend_mode: TrendMode::Gate,
            trend_tf: 3,
            vol_regime_enabled: true,
            vol_regime_guard: true,
            vol_regime_tf: 1,
            vol_regime_low_atr_pct: 0.0010,
            vol_regime_high_atr_pct: 0.0030,
            vol_regime_low_bb_pct: 0.012,
            vol_regime_high_bb_pct: 0.035,
            vol_regime_low_mult: 1.15,
            vol_regime_high_mult: 0.90,
            vol_ratio_weight: 0.4,
            vol_ratio_max_boost: 0.4,
            vol_ratio_max_drop: 0.2,
            confidence_power: 1.0,
            confidence_min: 0.0,
            confidence_max: 1.0,
            min_confidence: 0.6,
        }
    }

    /// Defaults of the production profile (larger equity: the original bot's production volume weighting).
    pub fn production() -> Self {
        Self {
            vol_ratio_weight: 0.35,
            vol_ratio_max_boost: 0.5,
            vol_ratio_max_drop: 0.25,
            min_confidence: 0.55,
            ..Self::micro()
        }
    }

    /// Defaults of a named profile.
    ///
    /// # Errors
    /// An unknown profile name.
    pub fn profile(name: &str) -> CoreResult<Self> {
        match name {
            "micro" => Ok(Self::micro()),
            "production" => Ok(Self::production()),
            other => Err(bad("profile", other, "one of: micro, production")),
        }
    }

    fn num_mut(&mut self, name: &str) -> Option<&mut f64> {
        Some(match name {
            "dyn_mom_mult" => &mut self.dyn_mom_mult,
            "vwap_base_dist" => &mut self.vwap_base_dist,
            "vol_z_th" => &mut self.vol_z_th,
            "vol_z_soft_th" => &mut self.vol_z_soft_th,
            "weight_mom_fast" => &mut self.weight_mom_fast,
            "weight_mom_slow" => &mut self.weight_mom_slow,
            "weight_trend" => &mut self.weight_trend,
            "weight_vwap" => &mut self.weight_vwap,
            "weight_volume" => &mut self.weight_volume,
            "vol_regime_low_atr_pct" => &mut self.vol_regime_low_atr_pct,
            "vol_regime_high_atr_pct" => &mut self.vol_regime_high_atr_pct,
            "vol_regime_low_bb_pct" => &mut self.vol_regime_low_bb_pct,
            "vol_regime_high_bb_pct" => &mut self.vol_regime_high_bb_pct,
            "vol_regime_low_mult" => &mut self.vol_regime_low_mult,
            "vol_regime_high_mult" => &mut self.vol_regime_high_mult,
            "vol_ratio_weight" => &mut self.vol_ratio_weight,
            "vol_ratio_max_boost" => &mut self.vol_ratio_max_boost,
            "vol_ratio_max_drop" => &mut self.vol_ratio_max_drop,
            "confidence_power" => &mut self.confidence_power,
            "confidence_min" => &mut self.confidence_min,
            "confidence_max" => &mut self.confidence_max,
            "min_confidence" => &mut self.min_confidence,
            _ => return None,
        })
    }

    fn num(&self, name: &str) -> Option<f64> {
        self.clone().num_mut(name).map(|v| *v)
    }

    fn flag(&self, name: &str) -> Option<bool> {
        self.clone().bool_mut(name).map(|v| *v)
    }

    fn bool_mut(&mut self, name: &str) -> Option<&mut bool> {
        Some(match name {
            "trend_confirm" => &mut self.trend_confirm,
            "vol_regime_enabled" => &mut self.vol_regime_enabled,
            "vol_regime_guard" => &mut self.vol_regime_guard,
            _ => return None,
        })
    }

    /// Sets one field by name.
    ///
    /// # Errors
    /// Unknown field, wrong kind of value or a bad name for a text field.
    pub fn set(&mut self, name: &str, value: FieldValue) -> CoreResult<()> {
        match value {
            FieldValue::Num(v) => match self.num_mut(name) {
                Some(slot) => *slot = v,
                None => return Err(self.wrong_kind(name, v)),
            },
            FieldValue::Bool(b) => match self.bool_mut(name) {
                Some(slot) => *slot = b,
                None => return Err(self.wrong_kind(name, b)),
            },
            FieldValue::Text(t) => match name {
                "trend_mode" => {
                    self.trend_mode = match t.as_str() {
                        "gate" => TrendMode::Gate,
                        "vote" => TrendMode::Vote,
                        _ => return Err(bad(name, t, "gate or vote")),
                    }
                }
                "trend_tf" | "vol_regime_tf" => {
                    let idx = timeframe_index(&t)
                        .ok_or_else(|| bad(name, &t, "one of: 1m, 5m, 15m, 1h"))?;
                    if name == "trend_tf" {
                        self.trend_tf = idx;
                    } else {
                        self.vol_regime_tf = idx;
                    }
                }
                _ => return Err(self.wrong_kind(name, t)),
            },
        }
        Ok(())
    }

    fn wrong_kind(&self, name: &str, value: impl ToString) -> CoreError {
        let expected = if NUMERIC_FIELDS.contains(&name) {
            "a number"
        } else if BOOL_FIELDS.contains(&name) {
            "true or false"
        } else if TEXT_FIELDS.contains(&name) {
            "a name (string)"
        } else {
            return bad(name, value, "a ScorerConfig field (unknown name)");
        };
        bad(name, value, expected)
    }

    /// Every field with its value, in a stable order.
    pub fn fields(&self) -> Vec<(&'static str, FieldValue)> {
        let mut out: Vec<(&'static str, FieldValue)> = NUMERIC_FIELDS
            .iter()
            .map(|n| (*n, FieldValue::Num(self.num(n).unwrap_or(f64::NAN))))
            .collect();
        out.extend(
            BOOL_FIELDS
                .iter()
                .map(|n| (*n, FieldValue::Bool(self.flag(n).unwrap_or(false)))),
        );
        let mode = match self.trend_mode {
            TrendMode::Gate => "gate",
            TrendMode::Vote => "vote",
        };
        out.push(("trend_mode", FieldValue::Text(mode.into())));
        out.push((
            "trend_tf",
            FieldValue::Text(TIMEFRAMES[self.trend_tf].0.into()),
        ));
        out.push((
            "vol_regime_tf",
            FieldValue::Text(TIMEFRAMES[self.vol_regime_tf].0.into()),
        ));
        out
    }

    /// Checks every field's range.
    ///
    /// # Errors
    /// [`CoreError::BadConfig`] naming the first bad field.
    pub fn validate(&self) -> CoreResult<()> {
        for name in NUMERIC_FIELDS {
            let v = self.num(name).unwrap_or(f64::NAN);
            if !v.is_finite() || v < 0.0 {
                return Err(bad(name, v, "a finite number >= 0"));
            }
        }
        for (name, v) in [
            ("confidence_min", self.confidence_min),
            ("confidence_max", self.confidence_max),
            ("min_confidence", self.min_confidence),
        ] {
            if v > 1.0 {
                return Err(bad(name, v, "a confidence in [0, 1]"));
            }
        }
        if self.confidence_min > self.confidence_max {
            return Err(bad(
                "confidence_min",
                self.confidence_min,
                "<= confidence_max",
            ));
        }
        if self.confidence_power <= 0.0 {
            return Err(bad(
                "confidence_power",
                self.confidence_power,
                "a power > 0",
            ));
        }
        for (name, v) in [
            ("vol_regime_low_mult", self.vol_regime_low_mult),
            ("vol_regime_high_mult", self.vol_regime_high_mult),
        ] {
            if v <= 0.0 {
                return Err(bad(name, v, "a multiplier > 0"));
            }
        }
        for (low, high, lo_name, hi_name) in [
            (
                self.vol_regime_low_atr_pct,
                self.vol_regime_high_atr_pct,
                "vol_regime_low_atr_pct",
                "vol_regime_high_atr_pct",
            ),
            (
                self.vol_regime_low_bb_pct,
                self.vol_regime_high_bb_pct,
                "vol_regime_low_bb_pct",
                "vol_regime_high_bb_pct",
            ),
        ] {
            if low > high {
                return Err(bad(
                    lo_name,
                    low,
                    &format!("<= {hi_name} ({high}): the LOW bound must not exceed the HIGH bound"),
                ));
            }
        }
        if self.vol_z_soft_th > self.vol_z_th {
            return Err(bad(
                "vol_z_soft_th",
                self.vol_z_soft_th,
                "<= vol_z_th (the soft threshold is the lower one)",
            ));
        }
        if self.vol_ratio_max_drop > 1.0 {
            return Err(bad(
                "vol_ratio_max_drop",
                self.vol_ratio_max_drop,
                "<= 1 (the multiplier must stay >= 0)",
            ));
        }
        let weights =
            self.weight_mom_fast + self.weight_mom_slow + self.weight_vwap + self.weight_volume;
        if weights <= 0.0 {
            return Err(bad(
                "weight_mom_fast",
                self.weight_mom_fast,
                "weights whose sum is > 0",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_are_valid_and_differ() {
        let m = ScorerConfig::micro();
        let p = ScorerConfig::production();
        m.validate().unwrap();
        p.validate().unwrap();
        assert_ne!(m.vol_ratio_weight, p.vol_ratio_weight);
    }

    #[test]
    fn set_by_name_and_reject_bad_values() {
        let mut c = ScorerConfig::micro();
        c.set("trend_tf", FieldValue::Text("15m".into())).unwrap();
        assert_eq!(c.trend_tf, 2);
        assert!(c.set("trend_tf", FieldValue::Text("2h".into())).is_err());
        assert!(c.set("trend_confirm", FieldValue::Num(1.0)).is_err());
        assert!(c
            .set("nope", FieldValue::Num(1.0))
            .unwrap_err()
            .to_string()
            .contains("unknown"));
        c.set("confidence_min", FieldValue::Num(0.9)).unwrap();
        c.set("confidence_max", FieldValue::Num(0.5)).unwrap();
        assert!(c
            .validate()
            .unwrap_err()
            .to_string()
            .contains("confidence_min"));
    }
}
