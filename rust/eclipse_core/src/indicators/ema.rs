//! Exponential moving average (TA-Lib `EMA` convention: seeded with the SMA of the first `period` values,
//! first value at index `period - 1`, smoothing k = 2 / (period + 1)). The recurrence is written
//! `fma(prev, 1 - k, k * x)`: one fused multiply-add on the dependency chain.

use serde::{Deserialize, Serialize};

use super::with_simd;

/// Incremental EMA.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ema {
    period: usize,
    k: f64,
    a: f64,
    count: usize,
    seed_sum: f64,
    value: f64,
}

#[inline(always)]
fn coefficients(period: usize) -> (f64, f64) {
    let k = 2.0 / (period as f64 + 1.0);
    (k, 1.0 - k)
}

impl Ema {
    /// A new EMA (`period >= 1`).
    pub fn new(period: usize) -> Self {
        let (k, a) = coefficients(period);
        Self {
            period,
            k,
            a,
            count: 0,
            seed_sum: 0.0,
            value: f64::NAN,
        }
    }

    /// Adds one value; returns the EMA, NaN during warm-up.
    #[inline]
    pub fn update(&mut self, x: f64) -> f64 {
        if self.count >= self.period {
            self.value = self.value.mul_add(self.a, self.k * x);
        } else {
            self.seed_sum += x;
            self.count += 1;
            if self.count == self.period {
                self.value = self.seed_sum / self.period as f64;
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
            && self.count <= period
            && (self.k, self.a) == coefficients(period)
            && (self.count < period || self.value.is_finite())
    }
}

/// Batch EMA into `out`; bit-identical to feeding [`Ema::update`].
pub fn batch_into(x: &[f64], period: usize, out: &mut [f64]) {
    let n = x.len();
    if period > n {
        out.fill(f64::NAN);
        return;
    }
    let (k, a) = coefficients(period);
    let mut seed = 0.0;
    for &v in &x[..period] {
        seed += v;
    }
    out[..period - 1].fill(f64::NAN);
    let value = seed / period as f64;
    out[period - 1] = value;
    with_simd!(steady(x: &[f64] = &x[period..], out: &mut [f64] = &mut out[period..], value: f64 = value, a: f64 = a, k: f64 = k));
}

#[inline(always)]
fn steady(x: &[f64], out: &mut [f64], mut value: f64, a: f64, k: f64) {
    for (o, &v) in out.iter_mut().zip(x) {
        value = value.mul_add(a, k * v);
        *o = value;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_with_sma_then_smooths() {
        let mut e = Ema::new(3);
        assert!(e.update(1.0).is_nan());
        assert!(e.update(2.0).is_nan());
        assert_eq!(e.update(3.0), 2.0);
        assert_eq!(e.update(4.0), 3.0);
    }

    #[test]
    fn batch_equals_incremental() {
        let xs: Vec<f64> = (0..80)
            .map(|i| (f64::from(i) * 0.7).cos() * 3.0 + 50.0)
            .collect();
        for p in [1, 2, 9, 80] {
            let mut out = vec![0.0; xs.len()];
            batch_into(&xs, p, &mut out);
            let mut e = Ema::new(p);
            for (x, o) in xs.iter().zip(&out) {
                assert_eq!(e.update(*x).to_bits(), o.to_bits());
            }
        }
    }
}
