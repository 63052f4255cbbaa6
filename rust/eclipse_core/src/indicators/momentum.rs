//! Momentum as a rate of change: close / close n bars ago - 1. First value at index `n`; NaN where the
//! older close is 0.

use serde::{Deserialize, Serialize};

use super::with_simd;

use crate::ring::Ring;

#[inline(always)]
fn roc(x: f64, old: f64) -> f64 {
    if old == 0.0 {
        f64::NAN
    } else {
        x / old - 1.0
    }
}

/// Incremental n-bar momentum.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Momentum {
    n: usize,
    ring: Ring,
    value: f64,
}

impl Momentum {
    /// A new momentum over `n >= 1` bars.
    pub fn new(n: usize) -> Self {
        Self {
            n,
            ring: Ring::new(n),
            value: f64::NAN,
        }
    }

    /// Adds one close; returns the momentum, NaN during warm-up.
    #[inline]
    pub fn update(&mut self, x: f64) -> f64 {
        if let Some(old) = self.ring.push(x) {
            self.value = roc(x, old);
        }
        self.value
    }

    /// Current value.
    pub fn value(&self) -> f64 {
        self.value
    }

    /// Consistency check after deserialization.
    pub fn check(&self, n: usize) -> bool {
        self.n == n && self.ring.check(n)
    }
}

/// Batch momentum into `out`; bit-identical to feeding [`Momentum::update`]. Returns whether every input
/// value was finite (checked on the way; `out` is meaningless otherwise).
#[must_use]
pub fn batch_into(x: &[f64], n: usize, out: &mut [f64]) -> bool {
    let len = x.len();
    if n >= len {
        out.fill(f64::NAN);
        return super::first_non_finite(x).is_none();
    }
    out[..n].fill(f64::NAN);
    let head = super::first_non_finite(&x[..n]).is_none();
    head && with_simd!(steady(x: &[f64] = x, n: usize = n, out: &mut [f64] = &mut out[n..]) -> bool)
}

/// `out[j] = roc(x[n + j], x[j])`, branch-free so it vectorises; returns whether `x[n..]` was finite.
#[inline(always)]
fn steady(x: &[f64], n: usize, out: &mut [f64]) -> bool {
    let mut ok = true;
    for ((o, &new), &old) in out.iter_mut().zip(&x[n..]).zip(&x[..x.len() - n]) {
        ok &= new.is_finite();
        *o = roc(new, old);
    }
    ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_of_change_over_n_bars() {
        let mut m = Momentum::new(2);
        assert!(m.update(100.0).is_nan());
        assert!(m.update(101.0).is_nan());
        assert!((m.update(110.0) - 0.1).abs() < 1e-15);
    }
}
