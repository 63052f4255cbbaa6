//! Rolling mean and population variance over a fixed window: Welford-style add/remove updates (no
//! cancellation of large squares), re-computed exactly (two-pass) from the window when the squared
//! deviations removed since the last re-sync outweigh what remains by [`RESYNC_RATIO`]. Every removal leaves
//! rounding error of ~1e-16 of what it removed, so this bounds the error at ~1e-13 relative whatever the data
//! does (a spike leaving, a move followed by a flat window, slow drift). On ordinary data it fires about once
//! per thousand windows: O(1) amortised.
//!
//! A window made of one repeated value has a variance of exactly 0: the run of identical trailing values is
//! tracked, because the rounded mean of such a window need not equal the value (3 * 0.1 / 3 != 0.1) and
//! dividing rounding noise by rounding noise would give a z-score of +-1.
//! No allocation after construction.

use serde::{Deserialize, Serialize};

use crate::ring::Ring;

/// An exact re-sync is forced when the mass removed since the last one exceeds this multiple of what
/// remains (the rounding error it leaves is ~1e-16 of the removed mass, so ~1e-13 of what remains).
pub const RESYNC_RATIO: f64 = 1e3;

/// Exact two-pass mean and sum of squared deviations of the window `a` followed by `b`.
#[inline(always)]
pub fn exact(a: &[f64], b: &[f64]) -> (f64, f64) {
    let mut s = 0.0;
    for v in a.iter().chain(b) {
        s += v;
    }
    let mean = s / (a.len() + b.len()) as f64;
    let mut m2 = 0.0;
    for v in a.iter().chain(b) {
        let d = v - mean;
        m2 += d * d;
    }
    (mean, m2)
}

/// State of a rolling window's moments between exact re-syncs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Moments {
    /// Mean of the window.
    pub mean: f64,
    /// Sum of squared deviations from the mean.
    pub m2: f64,
    /// Squared deviations removed since the last exact re-sync.
    pub removed: f64,
    /// Magnitude removed from the mean since the last exact re-sync (sum of |old| / window).
    pub removed_abs: f64,
}

impl Moments {
    /// Exact moments of the window `a` followed by `b` (two-pass).
    #[inline(always)]
    pub fn exact(a: &[f64], b: &[f64]) -> Self {
        let (mean, m2) = exact(a, b);
        Self {
            mean,
            m2,
            removed: 0.0,
            removed_abs: 0.0,
        }
    }

    /// One add/remove step: `x` enters, `old` leaves a window of `1 / inv` values. Returns true when the
    /// removals since the last re-sync cancelled too much and an exact re-sync is due.
    #[inline(always)]
    pub fn step(&mut self, x: f64, old: f64, inv: f64) -> bool {
        let d = x - old;
        let next = self.mean + d * inv;
        let dev = old - self.mean;
        self.m2 += d * ((x - next) + dev);
        self.mean = next;
        self.removed += dev * dev;
        self.removed_abs += old.abs() * inv;
        self.removed > RESYNC_RATIO * self.m2 || self.removed_abs > RESYNC_RATIO * self.mean.abs()
    }
}

/// Population variance of a window whose trailing `run` values are identical (0 when they fill it).
#[inline(always)]
pub fn variance_of(m2: f64, inv: f64, run: usize, window: usize) -> f64 {
    if run >= window {
        0.0
    } else {
        variance(m2, inv)
    }
}

/// Length of the run of identical trailing values after `x` follows `last` (capped at `window`).
#[inline(always)]
pub fn next_run(run: usize, last: f64, x: f64, window: usize) -> usize {
    if run > 0 && x == last {
        (run + 1).min(window)
    } else {
        1
    }
}

/// Population variance from the sum of squared deviations (never negative).
#[inline(always)]
pub fn variance(m2: f64, inv: f64) -> f64 {
    (m2 * inv).max(0.0)
}

/// Rolling first and second moments.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RollingMoments {
    ring: Ring,
    inv: f64,
    m: Moments,
    last: f64,
    run: usize,
}

impl RollingMoments {
    /// Moments over the last `window >= 1` values.
    pub fn new(window: usize) -> Self {
        Self {
            ring: Ring::new(window),
            inv: 1.0 / window as f64,
            m: Moments {
                mean: 0.0,
                m2: 0.0,
                removed: 0.0,
                removed_abs: 0.0,
            },
            last: 0.0,
            run: 0,
        }
    }

    /// Adds `x`, evicting the oldest value once full; returns the evicted value.
    #[inline]
    pub fn push(&mut self, x: f64) -> Option<f64> {
        self.run = next_run(self.run, self.last, x, self.ring.capacity());
        self.last = x;
        let old = self.ring.push(x);
        let resync = match old {
            Some(o) => self.m.step(x, o, self.inv),
            None => self.ring.is_full(),
        };
        if resync {
            let (a, b) = self.ring.as_slices();
            self.m = Moments::exact(a, b);
        }
        old
    }

    /// True once the window holds `window` values.
    #[inline]
    pub fn is_full(&self) -> bool {
        self.ring.is_full()
    }

    /// Mean of the window (valid once full).
    #[inline]
    pub fn mean(&self) -> f64 {
        self.m.mean
    }

    /// Population variance of the window (valid once full).
    #[inline]
    pub fn variance(&self) -> f64 {
        variance_of(self.m.m2, self.inv, self.run, self.ring.capacity())
    }

    /// The window, oldest first.
    pub fn values(&self) -> impl Iterator<Item = f64> + '_ {
        self.ring.iter()
    }

    /// Consistency check after deserialization.
    pub fn check(&self, window: usize) -> bool {
        self.ring.check(window)
            && self.inv == 1.0 / window as f64
            && self.m.mean.is_finite()
            && self.m.m2.is_finite()
            && self.m.removed.is_finite()
            && self.m.removed_abs.is_finite()
            && self.run <= window
            && self.last.is_finite()
    }
}

/// The sequential half of a batch run of rolling moments: the state after some index, advanced a block at a
/// time. Same operations as [`RollingMoments::push`], so the same bits.
pub struct Cursor {
    /// False once a non-finite value was read (the caller then reports it exactly).
    pub finite: bool,
    m: Moments,
    run: usize,
    last: f64,
    inv: f64,
    w: usize,
}

impl Cursor {
    /// The state after `x[..w]` (requires `1 <= w <= x.len()`).
    #[inline(always)]
    pub fn new(x: &[f64], w: usize) -> Self {
        let (mut run, mut last) = (0, 0.0);
        for &v in &x[..w] {
            run = next_run(run, last, v, w);
            last = v;
        }
        Self {
            finite: super::first_non_finite(&x[..w]).is_none(),
            m: Moments::exact(&x[..w], &[]),
            run,
            last,
            inv: 1.0 / w as f64,
            w,
        }
    }

    /// Writes the mean and variance of the windows ending at `start..start + means.len()` (`start >= w - 1`;
    /// indices must follow on from the previous call).
    #[inline(always)]
    pub fn fill(&mut self, x: &[f64], start: usize, means: &mut [f64], vars: &mut [f64]) {
        let w = self.w;
        for (j, (mean, var)) in means.iter_mut().zip(vars.iter_mut()).enumerate() {
            let i = start + j;
            if i >= w {
                self.finite &= x[i].is_finite();
                self.run = next_run(self.run, self.last, x[i], w);
                self.last = x[i];
                if self.m.step(x[i], x[i - w], self.inv) {
                    self.m = Moments::exact(&x[i + 1 - w..=i], &[]);
                }
            }
            *mean = self.m.mean;
            *var = variance_of(self.m.m2, self.inv, self.run, w);
        }
    }
}

/// Size of the L1-resident blocks the batch kernels work through.
pub const BLOCK: usize = 256;

/// Runs rolling moments over `x` with a window of `w <= x.len()`, calling `emit(i, mean, variance)` for every
/// index from `w - 1` on; bit-identical to [`RollingMoments::push`].
pub fn batch(x: &[f64], w: usize, mut emit: impl FnMut(usize, f64, f64)) {
    let mut cur = Cursor::new(x, w);
    let (mut means, mut vars) = ([0.0; BLOCK], [0.0; BLOCK]);
    let mut start = w - 1;
    while start < x.len() {
        let len = BLOCK.min(x.len() - start);
        cur.fill(x, start, &mut means[..len], &mut vars[..len]);
        for j in 0..len {
            emit(start + j, means[j], vars[j]);
        }
        start += len;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_two_pass_on_large_offsets() {
        let mut m = RollingMoments::new(4);
        let xs: Vec<f64> = (0..50).map(|i| 1e9 + f64::from(i % 7) * 0.25).collect();
        for x in &xs {
            m.push(*x);
        }
        let (mean, m2) = exact(&xs[46..], &[]);
        assert!((m.mean() - mean).abs() < 1e-6);
        assert!(
            (m.variance() - m2 / 4.0).abs() < 1e-9,
            "{} vs {}",
            m.variance(),
            m2 / 4.0
        );
    }

    #[test]
    fn flat_window_after_a_move_is_exactly_flat() {
        let mut m = RollingMoments::new(3);
        for x in [0.001, 0.00105, 0.00105, 0.00105] {
            m.push(x);
        }
        assert_eq!(m.variance(), 0.0);
    }

    #[test]
    fn spike_leaving_the_window_leaves_no_residue() {
        let mut m = RollingMoments::new(3);
        for x in [1e-6, 1e9, 1e-6, 2e-6, 3e-6, 4e-6] {
            m.push(x);
        }
        let (mean, m2) = exact(&[2e-6, 3e-6, 4e-6], &[]);
        assert!(
            (m.variance() - m2 / 3.0).abs() <= 1e-12 * m2 / 3.0,
            "{} vs {}",
            m.variance(),
            m2 / 3.0
        );
        assert!((m.mean() - mean).abs() <= 1e-15 * mean);
    }

    #[test]
    fn mean_after_a_large_value_left_is_exact() {
        let mut m = RollingMoments::new(1);
        for x in [3.7e6, 0.37, 1.1e-3] {
            m.push(x);
            assert_eq!(m.mean(), x);
        }
    }

    #[test]
    fn constant_window_of_an_inexact_value_has_zero_variance() {
        for w in [1, 3, 20] {
            let mut m = RollingMoments::new(w);
            for x in [5.0, 0.0]
                .into_iter()
                .chain(std::iter::repeat_n(0.1, w + 3))
            {
                m.push(x);
            }
            assert_eq!(m.variance(), 0.0, "window {w}");
        }
    }

    #[test]
    fn cascading_removals_leave_no_residue() {
        let xs = [0.0, 1e5, 1e3, 0.0, 0.0, 10.0, 0.0];
        let mut m = RollingMoments::new(3);
        for x in xs {
            m.push(x);
        }
        let (mean, m2) = exact(&xs[4..], &[]);
        assert!(
            (m.variance() - m2 / 3.0).abs() <= 1e-12 * m2 / 3.0,
            "{} vs {}",
            m.variance(),
            m2 / 3.0
        );
        assert!((m.mean() - mean).abs() <= 1e-12 * mean);
    }

    #[test]
    fn batch_equals_incremental() {
        let xs: Vec<f64> = (0..77)
            .map(|i| (f64::from(i) * 0.31).sin() * 1e3 + 5e4)
            .collect();
        for w in [1, 2, 5, 20] {
            let mut m = RollingMoments::new(w);
            let mut inc = vec![];
            for x in &xs {
                m.push(*x);
                if m.is_full() {
                    inc.push((m.mean().to_bits(), m.variance().to_bits()));
                }
            }
            let mut bat = vec![];
            batch(&xs, w, |_, mean, var| {
                bat.push((mean.to_bits(), var.to_bits()))
            });
            assert_eq!(inc, bat, "w={w}");
        }
    }
}
