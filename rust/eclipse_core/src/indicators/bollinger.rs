//! Bollinger bands (TA-Lib `BBANDS` convention with an SMA middle band and population standard deviation;
//! first value at index `period - 1`). Width = (upper - lower) / middle (NaN when the middle band is 0).
//!
//! Mean and variance come from [`RollingMoments`] (Welford updates with an exact re-sync per window), which
//! stays accurate to ~1e-11 relative where a running sum of squares loses ~1e-7 to cancellation at BTC prices.

use serde::{Deserialize, Serialize};

use super::moments::{self, RollingMoments};
use super::with_simd;

/// One set of band values.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Bands {
    /// Middle band (SMA).
    pub mid: f64,
    /// Upper band.
    pub upper: f64,
    /// Lower band.
    pub lower: f64,
    /// (upper - lower) / mid.
    pub width: f64,
}

impl Bands {
    const NAN: Bands = Bands {
        mid: f64::NAN,
        upper: f64::NAN,
        lower: f64::NAN,
        width: f64::NAN,
    };
}

#[inline(always)]
fn width_of(mean: f64, upper: f64, lower: f64) -> f64 {
    if mean == 0.0 {
        f64::NAN
    } else {
        (upper - lower) / mean
    }
}

#[inline(always)]
fn bands(mean: f64, var: f64, k: f64) -> Bands {
    let dev = var.sqrt() * k;
    let upper = mean + dev;
    let lower = mean - dev;
    Bands {
        mid: mean,
        upper,
        lower,
        width: width_of(mean, upper, lower),
    }
}

/// Incremental Bollinger bands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bollinger {
    period: usize,
    k: f64,
    moments: RollingMoments,
    value: Bands,
}

impl Bollinger {
    /// New bands over `period >= 1` values, `k` standard deviations wide.
    pub fn new(period: usize, k: f64) -> Self {
        Self {
            period,
            k,
            moments: RollingMoments::new(period),
            value: Bands::NAN,
        }
    }

    /// Adds one value; returns the bands, NaN during warm-up.
    #[inline]
    pub fn update(&mut self, x: f64) -> Bands {
        self.moments.push(x);
        if self.moments.is_full() {
            self.value = bands(self.moments.mean(), self.moments.variance(), self.k);
        }
        self.value
    }

    /// Current bands (NaN while warming up).
    pub fn value(&self) -> Bands {
        self.value
    }

    /// Consistency check after deserialization.
    pub fn check(&self, period: usize, k: f64) -> bool {
        self.period == period && self.k == k && self.moments.check(period)
    }
}

/// Batch bands into the four outputs; bit-identical to feeding [`Bollinger::update`].
///
/// Moments are produced into a small L1-resident block first and the four outputs written from it one at a
/// time (vectorised square roots and divisions, and no five interleaved streams fighting over the cache).
#[must_use]
pub fn batch_into(x: &[f64], period: usize, k: f64, out: [&mut [f64]; 4]) -> bool {
    let [mid, upper, lower, width] = out;
    let n = x.len();
    if period > n {
        for o in [mid, upper, lower, width] {
            o.fill(f64::NAN);
        }
        return super::first_non_finite(x).is_none();
    }
    for o in [&mut *mid, &mut *upper, &mut *lower, &mut *width] {
        o[..period - 1].fill(f64::NAN);
    }
    with_simd!(steady(
        x: &[f64] = x,
        period: usize = period,
        k: f64 = k,
        mid: &mut [f64] = mid,
        upper: &mut [f64] = upper,
        lower: &mut [f64] = lower,
        width: &mut [f64] = width,
    ) -> bool)
}

/// Every index from `period - 1` on, one block at a time (see [`batch_into`]).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn steady(
    x: &[f64],
    period: usize,
    k: f64,
    mid: &mut [f64],
    upper: &mut [f64],
    lower: &mut [f64],
    width: &mut [f64],
) -> bool {
    let n = x.len();
    let mut cur = moments::Cursor::new(x, period);
    let mut means = [0.0; moments::BLOCK];
    let mut devs = [0.0; moments::BLOCK];
    let mut start = period - 1;
    while start < n {
        let len = moments::BLOCK.min(n - start);
        cur.fill(x, start, &mut means[..len], &mut devs[..len]);
        let r = start..start + len;
        flush(
            &means[..len],
            &mut devs[..len],
            k,
            &mut mid[r.clone()],
            &mut upper[r.clone()],
            &mut lower[r.clone()],
            &mut width[r],
        );
        start += len;
    }
    cur.finite
}

/// Writes one block of bands from its means and variances (`devs` holds variances on entry). Each loop is
/// independent element-wise work, so the compiler vectorises the square roots and divisions.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn flush(
    means: &[f64],
    devs: &mut [f64],
    k: f64,
    mid: &mut [f64],
    upper: &mut [f64],
    lower: &mut [f64],
    width: &mut [f64],
) {
    for d in devs.iter_mut() {
        *d = d.sqrt() * k;
    }
    mid.copy_from_slice(means);
    for ((u, m), d) in upper.iter_mut().zip(means).zip(devs.iter()) {
        *u = m + d;
    }
    for ((l, m), d) in lower.iter_mut().zip(means).zip(devs.iter()) {
        *l = m - d;
    }
    for ((w, m), d) in width.iter_mut().zip(means).zip(devs.iter()) {
        // Recomputed from the block (same operations as the stored bands, so the same bits) instead of
        // reading the just-written outputs back, which collides with their stores at equal page offsets.
        *w = width_of(*m, m + d, m - d);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_series_has_zero_width() {
        let mut b = Bollinger::new(3, 2.0);
        let out: Vec<Bands> = (0..5).map(|_| b.update(7.0)).collect();
        assert!(out[1].mid.is_nan());
        assert_eq!(out[4].mid, 7.0);
        assert_eq!(out[4].width, 0.0);
    }

    #[test]
    fn population_std() {
        let mut b = Bollinger::new(2, 1.0);
        b.update(1.0);
        let v = b.update(3.0);
        assert_eq!((v.mid, v.upper, v.lower), (2.0, 3.0, 1.0));
        let v = b.update(5.0);
        assert_eq!((v.mid, v.upper, v.lower), (4.0, 5.0, 3.0));
    }
}
