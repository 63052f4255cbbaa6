//! EMA trend: sign(EMA(fast) - EMA(slow)) as +1, -1 or 0; NaN until both EMAs exist.

use serde::{Deserialize, Serialize};

use super::ema::Ema;

/// Incremental EMA trend with both EMAs exposed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EmaTrend {
    fast: Ema,
    slow: Ema,
}

/// Sign of `fast - slow`, NaN when either is NaN.
#[inline]
pub fn trend_sign(fast: f64, slow: f64) -> f64 {
    if fast.is_nan() || slow.is_nan() {
        f64::NAN
    } else if fast > slow {
        1.0
    } else if fast < slow {
        -1.0
    } else {
        0.0
    }
}

impl EmaTrend {
    /// New trend over EMA(`fast`) and EMA(`slow`).
    pub fn new(fast: usize, slow: usize) -> Self {
        Self {
            fast: Ema::new(fast),
            slow: Ema::new(slow),
        }
    }

    /// Adds one close; returns (fast EMA, slow EMA, trend).
    #[inline]
    pub fn update(&mut self, x: f64) -> (f64, f64, f64) {
        let f = self.fast.update(x);
        let s = self.slow.update(x);
        (f, s, trend_sign(f, s))
    }

    /// Consistency check after deserialization.
    pub fn check(&self, fast: usize, slow: usize) -> bool {
        self.fast.check(fast) && self.slow.check(slow)
    }
}

/// Batch trend into `out` from two EMA series; bit-identical to feeding [`EmaTrend::update`].
pub fn batch_into(x: &[f64], fast: usize, slow: usize, out: &mut [f64]) {
    let mut f = vec![0.0; x.len()];
    super::ema::batch_into(x, fast, &mut f);
    super::ema::batch_into(x, slow, out);
    for (o, fv) in out.iter_mut().zip(&f) {
        *o = trend_sign(*fv, *o);
    }
}
