//! The scorer's output: direction, confidence, the block that stopped a candidate, and every component's
//! vote with the numbers behind it. Plain `Copy` data; human-readable reasons are rendered on demand.

use std::fmt::Write;

use crate::features::TIMEFRAMES;

/// Why a signal carries no direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Block {
    /// A 1m feature the scorer needs is still warming up.
    Warmup,
    /// The trend timeframe is still warming up (gate mode).
    TrendWarmup,
    /// LOW volatility regime with the guard on.
    VolRegimeLow,
    /// The candidate goes against the trend (gate mode).
    TrendGate,
    /// The votes cancel out or nobody voted.
    NoConsensus,
    /// A candidate whose confidence is below the minimum: a near-miss.
    BelowMinConfidence,
}

impl Block {
    /// Stable name (used by audit and telemetry).
    pub fn as_str(self) -> &'static str {
        match self {
            Block::Warmup => "warmup",
            Block::TrendWarmup => "trend_warmup",
            Block::VolRegimeLow => "vol_regime_low",
            Block::TrendGate => "trend_gate",
            Block::NoConsensus => "no_consensus",
            Block::BelowMinConfidence => "below_min_confidence",
        }
    }
}

/// Volatility regime.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Regime {
    Low,
    Normal,
    High,
    /// Regime detection disabled.
    Off,
    /// Inputs still warming up (treated as NORMAL).
    Unknown,
}

impl Regime {
    /// Stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            Regime::Low => "LOW",
            Regime::Normal => "NORMAL",
            Regime::High => "HIGH",
            Regime::Off => "OFF",
            Regime::Unknown => "UNKNOWN",
        }
    }
}

/// Which component.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ComponentKind {
    MomFast,
    MomSlow,
    Vwap,
    Volume,
    Trend,
}

impl ComponentKind {
    /// Stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            ComponentKind::MomFast => "mom_fast",
            ComponentKind::MomSlow => "mom_slow",
            ComponentKind::Vwap => "vwap",
            ComponentKind::Volume => "volume",
            ComponentKind::Trend => "trend",
        }
    }
}

/// What a component saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Note {
    /// Input still warming up.
    Warmup,
    /// |value| reached the threshold.
    Beyond,
    /// |value| below the threshold.
    Within,
    /// Volume z-score at or above the full threshold.
    Strong,
    /// Volume z-score between the soft and full thresholds.
    Soft,
    /// No momentum direction for volume to confirm.
    NoMomentum,
    /// Component switched off.
    Off,
    /// Trend used as a gate, not a vote.
    Gate,
}

/// One component's vote.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Component {
    pub kind: ComponentKind,
    /// +1 long, -1 short, 0 none.
    pub vote: i8,
    /// Weight the vote counted with (0 when not part of the score).
    pub weight: f64,
    /// The value the component looked at.
    pub value: f64,
    /// The threshold it compared against (NaN when none).
    pub threshold: f64,
    pub note: Note,
}

fn side(v: i8) -> &'static str {
    match v {
        1 => "long",
        -1 => "short",
        _ => "none",
    }
}

impl Component {
    /// Human-readable reason, e.g. `mom_fast +0.00231 >= 0.00180: long`.
    pub fn reason(&self, trend_tf: usize) -> String {
        let name = self.kind.as_str();
        let (v, t) = (self.value, self.threshold);
        match (self.kind, self.note) {
            (_, Note::Warmup) => format!("{name} warming up"),
            (_, Note::Off) => format!("{name} off"),
            (ComponentKind::Trend, Note::Gate)
            | (ComponentKind::Trend, Note::Beyond)
            | (ComponentKind::Trend, Note::Within) => {
                let tf = TIMEFRAMES.get(trend_tf).map_or("?", |t| t.0);
                let dir = match self.vote {
                    1 => "up (EMA fast > slow)",
                    -1 => "down (EMA fast < slow)",
                    _ => "flat (EMA fast = slow)",
                };
                let role = if self.note == Note::Gate {
                    "gate"
                } else {
                    "vote"
                };
                format!("trend {dir} on {tf} ({role})")
            }
            (ComponentKind::Volume, Note::NoMomentum) => {
                format!("volume z {v:+.2}: no momentum to confirm")
            }
            (ComponentKind::Volume, Note::Strong) => {
                format!("volume z {v:+.2} >= {t:.2}: confirms {}", side(self.vote))
            }
            (ComponentKind::Volume, Note::Soft) => format!(
                "volume z {v:+.2} >= soft {t:.2}: half-confirms {}",
                side(self.vote)
            ),
            (ComponentKind::Volume, _) => format!("volume z {v:+.2} < soft threshold"),
            (_, Note::Beyond) => format!("{name} {v:+.5} beyond +/-{t:.5}: {}", side(self.vote)),
            (_, _) => format!("{name} {v:+.5} within +/-{t:.5}"),
        }
    }
}

/// Result of scoring one closed bar.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Signal {
    pub ts_ms: i64,
    /// +1 long, -1 short, 0 none.
    pub direction: i8,
    /// Direction of the votes before blocks and the minimum confidence.
    pub candidate: i8,
    /// Calibrated confidence in [0, 1].
    pub confidence: f64,
    /// |weighted votes| / total weight, before volume weighting and calibration.
    pub raw_confidence: f64,
    pub blocked: Option<Block>,
    pub regime: Regime,
    pub vol_ratio: f64,
    pub vol_multiplier: f64,
    pub mom_fast: f64,
    pub mom_slow: f64,
    pub close: f64,
    /// Timeframe index of the trend component (for the reason text).
    pub trend_tf: usize,
    pub components: [Component; 5],
}

impl Signal {
    /// "long", "short" or "none".
    pub fn side(&self) -> &'static str {
        side(self.direction)
    }

    /// One line: decision, confidence, regime, block and every component's reason.
    pub fn explain(&self) -> String {
        let mut out = String::with_capacity(256);
        let _ = write!(
            out,
            "{} conf={:.3} (raw {:.3} x vol {:.2}) regime={}",
            self.side(),
            self.confidence,
            self.raw_confidence,
            self.vol_multiplier,
            self.regime.as_str()
        );
        if let Some(b) = self.blocked {
            let _ = write!(out, " blocked={}", b.as_str());
            if self.candidate != 0 {
                let _ = write!(out, " (candidate {})", side(self.candidate));
            }
        }
        for c in &self.components {
            let _ = write!(out, "; {}", c.reason(self.trend_tf));
        }
        out
    }
}
