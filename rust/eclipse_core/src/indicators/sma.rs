//! Simple moving average (TA-Lib `SMA` convention: first value at index `period - 1`).
//!
//! A running sum with one dependent add per value, re-computed exactly from the window when the magnitude
//! removed since the last re-sync outweighs the sum by `moments::RESYNC_RATIO` (prices that fell a long way,
//! a spike leaving): the error stays ~1e-13 relative; on ordinary data that is once per thousand windows.

use serde::{Deserialize, Serialize};

use crate::ring::Ring;

#[inline(always)]
fn window_sum(a: &[f64], b: &[f64]) -> f64 {
    let mut s = 0.0;
    for v in a.iter().chain(b) {
        s += v;
    }
    s
}

/// One step of the running sum; true when an exact re-sync is due.
#[inline(always)]
fn step(sum: &mut f64, removed: &mut f64, x: f64, old: f64) -> bool {
    *sum += x - old;
    *removed += old.abs();
    *removed > super::moments::RESYNC_RATIO * sum.abs()
}

/// Incremental SMA over the last `period` values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sma {
    period: usize,
    inv: f64,
    ring: Ring,
    sum: f64,
    removed: f64,
    value: f64,
}

impl Sma {
    /// A new SMA (`period >= 1`).
    pub fn new(period: usize) -> Self {
        Self {
            period,
            inv: 1.0 / period as f64,
            ring: Ring::new(period),
            sum: 0.0,
            removed: 0.0,
            value: f64::NAN,
        }
    }

    /// Adds one value; returns the average, NaN during the `period - 1` warm-up values.
    #[inline]
    pub fn update(&mut self, x: f64) -> f64 {
        let resync = match self.ring.push(x) {
            Some(old) => step(&mut self.sum, &mut self.removed, x, old),
            None => self.ring.is_full(),
        };
        if resync {
            let (a, b) = self.ring.as_slices();
            self.sum = window_sum(a, b);
            self.removed = 0.0;
        }
        if self.ring.is_full() {
            self.value = self.sum * self.inv;
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
            && self.ring.check(period)
            && self.sum.is_finite()
            && self.removed.is_finite()
    }
}

/// Batch SMA into `out` (same length as `x`); bit-identical to feeding [`Sma::update`]. Returns false when
/// an input value may be NaN or infinite (the caller then checks exactly).
#[must_use]
pub fn batch_into(x: &[f64], period: usize, out: &mut [f64]) -> bool {
    let n = x.len();
    if period > n {
        out.fill(f64::NAN);
        return super::first_non_finite(x).is_none();
    }
    let inv = 1.0 / period as f64;
    out[..period - 1].fill(f64::NAN);
    let mut sum = window_sum(&x[..period], &[]);
    let mut removed = 0.0;
    // NaN/inf propagate into the running sum and the magnitude removed; checked once at the end.
    let mut ok = sum.is_finite();
    out[period - 1] = sum * inv;
    for i in period..n {
        ok &= x[i].is_finite();
        if step(&mut sum, &mut removed, x[i], x[i - period]) {
            sum = window_sum(&x[i + 1 - period..=i], &[]);
            removed = 0.0;
        }
        out[i] = sum * inv;
    }
    ok
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case::period_one(1, &[1.0, 2.0, 3.0], &[1.0, 2.0, 3.0])]
    #[case::period_two(2, &[1.0, 3.0, 5.0], &[f64::NAN, 2.0, 4.0])]
    fn sma_values(#[case] period: usize, #[case] xs: &[f64], #[case] want: &[f64]) {
        let mut s = Sma::new(period);
        for (x, w) in xs.iter().zip(want) {
            let got = s.update(*x);
            assert!(got == *w || (got.is_nan() && w.is_nan()), "{got} != {w}");
        }
    }

    #[test]
    fn batch_equals_incremental() {
        let xs: Vec<f64> = (0..97)
            .map(|i| (f64::from(i) * 0.37).sin() * 100.0 + 1e4)
            .collect();
        for p in [1, 2, 3, 7, 50] {
            let mut out = vec![0.0; xs.len()];
            assert!(batch_into(&xs, p, &mut out));
            let mut s = Sma::new(p);
            for (x, o) in xs.iter().zip(&out) {
                assert_eq!(s.update(*x).to_bits(), o.to_bits());
            }
        }
    }
}
