//! Relative strength index, Wilder smoothing (TA-Lib `RSI` convention: first value at index `period`,
//! seeded with the mean gain/loss of the first `period` changes; a window without any change gives 0 like
//! TA-Lib). The smoothing is written `fma(avg, (p-1)/p, change / p)`: one fused multiply-add per chain.

use serde::{Deserialize, Serialize};

use super::with_simd;

/// Incremental RSI.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rsi {
    period: usize,
    count: usize,
    prev: f64,
    gain: f64,
    loss: f64,
    value: f64,
}

#[inline(always)]
fn output(gain: f64, loss: f64) -> f64 {
    let total = gain + loss;
    if total == 0.0 {
        0.0
    } else {
        100.0 * (gain / total)
    }
}

#[inline(always)]
fn coefficients(period: usize) -> (f64, f64) {
    let p = period as f64;
    ((p - 1.0) / p, 1.0 / p)
}

/// Wilder step of both averages.
#[inline(always)]
fn smooth(gain: f64, loss: f64, diff: f64, a: f64, b: f64) -> (f64, f64) {
    // Branch-free: price changes are as likely up as down, a branch would mispredict half the time.
    let up = diff.max(0.0);
    let down = (-diff).max(0.0);
    (gain.mul_add(a, up * b), loss.mul_add(a, down * b))
}

impl Rsi {
    /// A new RSI (`period >= 1`).
    pub fn new(period: usize) -> Self {
        Self {
            period,
            count: 0,
            prev: 0.0,
            gain: 0.0,
            loss: 0.0,
            value: f64::NAN,
        }
    }

    /// Adds one close; returns the RSI, NaN during warm-up.
    #[inline]
    pub fn update(&mut self, x: f64) -> f64 {
        if self.count == 0 {
            self.prev = x;
            self.count = 1;
            return self.value;
        }
        let diff = x - self.prev;
        self.prev = x;
        if self.count > self.period {
            let (a, b) = coefficients(self.period);
            (self.gain, self.loss) = smooth(self.gain, self.loss, diff, a, b);
            self.value = output(self.gain, self.loss);
        } else {
            if diff < 0.0 {
                self.loss -= diff;
            } else {
                self.gain += diff;
            }
            self.count += 1;
            if self.count > self.period {
                let p = self.period as f64;
                self.loss /= p;
                self.gain /= p;
                self.value = output(self.gain, self.loss);
            }
        }
        self.value
    }

    /// Current value (NaN while warming up).
    pub fn value(&self) -> f64 {
        self.value
    }

    /// Consistency check after deserialization.
    pub fn check(&self, period: usize) -> bool {
        self.period == period
            && self.count <= period + 1
            && self.gain.is_finite()
            && self.loss.is_finite()
            && self.gain >= 0.0
            && self.loss >= 0.0
    }
}

/// Batch RSI into `out`; bit-identical to feeding [`Rsi::update`].
pub fn batch_into(x: &[f64], period: usize, out: &mut [f64]) {
    let n = x.len();
    if period + 1 > n {
        out.fill(f64::NAN);
        return;
    }
    out[..period].fill(f64::NAN);
    let (mut gain, mut loss) = (0.0, 0.0);
    for i in 1..=period {
        let diff = x[i] - x[i - 1];
        if diff < 0.0 {
            loss -= diff;
        } else {
            gain += diff;
        }
    }
    let p = period as f64;
    loss /= p;
    gain /= p;
    out[period] = output(gain, loss);
    let (a, b) = coefficients(period);
    with_simd!(steady(x: &[f64] = &x[period..], out: &mut [f64] = &mut out[period + 1..], gain: f64 = gain, loss: f64 = loss, a: f64 = a, b: f64 = b));
}

/// Steady-state loop: `x[0]` is the previous close of `out[0]`'s bar.
#[inline(always)]
fn steady(x: &[f64], out: &mut [f64], mut gain: f64, mut loss: f64, a: f64, b: f64) {
    for (o, w) in out.iter_mut().zip(x.windows(2)) {
        (gain, loss) = smooth(gain, loss, w[1] - w[0], a, b);
        *o = output(gain, loss);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flat_series_gives_zero_like_talib() {
        let mut r = Rsi::new(3);
        let out: Vec<f64> = (0..6).map(|_| r.update(5.0)).collect();
        assert!(out[..3].iter().all(|v| v.is_nan()));
        assert_eq!(out[3], 0.0);
    }

    #[test]
    fn rising_series_gives_hundred() {
        let mut r = Rsi::new(2);
        let out: Vec<f64> = (0..5).map(|i| r.update(f64::from(i))).collect();
        assert_eq!(out[2], 100.0);
        assert_eq!(out[4], 100.0);
    }

    #[test]
    fn batch_equals_incremental() {
        let xs: Vec<f64> = (0..60).map(|i| (f64::from(i) * 1.3).sin() + 10.0).collect();
        for p in [1, 2, 14, 59, 60] {
            let mut out = vec![0.0; xs.len()];
            batch_into(&xs, p, &mut out);
            let mut r = Rsi::new(p);
            for (x, o) in xs.iter().zip(&out) {
                assert_eq!(r.update(*x).to_bits(), o.to_bits());
            }
        }
    }
}
