//! Volume statistics over the last `window` bars including the current one: ratio = volume / mean and
//! z-score = (volume - mean) / population std. First values at index `window - 1`. Where the window's mean is
//! not positive (no volume) the ratio is NaN and the z-score 0; where its variance is 0 (a constant window)
//! the z-score is 0. Both are exact: [`RollingMoments`] re-syncs when the last non-zero value leaves and
//! tracks runs of one repeated value.

use serde::{Deserialize, Serialize};

use super::moments::{self, RollingMoments};
use super::with_simd;

/// Current volume statistics.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct VolumeValue {
    /// volume / mean(window).
    pub ratio: f64,
    /// (volume - mean) / std(window).
    pub zscore: f64,
}

#[inline(always)]
fn ratio(v: f64, mean: f64) -> f64 {
    if mean > 0.0 {
        v / mean
    } else {
        f64::NAN
    }
}

#[inline(always)]
fn zscore(v: f64, mean: f64, var: f64) -> f64 {
    if mean > 0.0 && var > 0.0 {
        (v - mean) / var.sqrt()
    } else {
        0.0
    }
}

/// Incremental volume ratio and z-score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VolumeStats {
    window: usize,
    moments: RollingMoments,
    value: VolumeValue,
}

impl VolumeStats {
    /// New statistics over `window >= 1` bars.
    pub fn new(window: usize) -> Self {
        Self {
            window,
            moments: RollingMoments::new(window),
            value: VolumeValue {
                ratio: f64::NAN,
                zscore: f64::NAN,
            },
        }
    }

    /// Adds one bar's volume; returns ratio and z-score, NaN during warm-up.
    #[inline]
    pub fn update(&mut self, v: f64) -> VolumeValue {
        self.moments.push(v);
        if self.moments.is_full() {
            let (mean, var) = (self.moments.mean(), self.moments.variance());
            self.value = VolumeValue {
                ratio: ratio(v, mean),
                zscore: zscore(v, mean, var),
            };
        }
        self.value
    }

    /// Current value.
    pub fn value(&self) -> VolumeValue {
        self.value
    }

    /// Consistency check after deserialization.
    pub fn check(&self, window: usize) -> bool {
        self.window == window && self.moments.check(window)
    }
}

/// Batch volume ratio (or z-score when `z`) into `out`; bit-identical to feeding [`VolumeStats::update`].
#[must_use]
pub fn batch_into(volume: &[f64], window: usize, z: bool, out: &mut [f64]) -> bool {
    let n = volume.len();
    if window > n {
        out.fill(f64::NAN);
        return super::first_non_finite(volume).is_none();
    }
    out[..window - 1].fill(f64::NAN);
    with_simd!(steady(volume: &[f64] = volume, window: usize = window, z: bool = z, out: &mut [f64] = out) -> bool)
}

/// Moments a block at a time, then the ratios or z-scores of the block in a vectorised pass.
#[inline(always)]
fn steady(volume: &[f64], window: usize, z: bool, out: &mut [f64]) -> bool {
    let n = volume.len();
    let mut cur = moments::Cursor::new(volume, window);
    let (mut means, mut vars) = ([0.0; moments::BLOCK], [0.0; moments::BLOCK]);
    let mut start = window - 1;
    while start < n {
        let len = moments::BLOCK.min(n - start);
        cur.fill(volume, start, &mut means[..len], &mut vars[..len]);
        let (o, v) = (&mut out[start..start + len], &volume[start..start + len]);
        if z {
            for (((o, &v), &m), &var) in o.iter_mut().zip(v).zip(&means[..len]).zip(&vars[..len]) {
                *o = zscore(v, m, var);
            }
        } else {
            for ((o, &v), &m) in o.iter_mut().zip(v).zip(&means[..len]) {
                *o = ratio(v, m);
            }
        }
        start += len;
    }
    cur.finite
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratio_and_zscore() {
        let mut s = VolumeStats::new(2);
        assert!(s.update(1.0).ratio.is_nan());
        let v = s.update(3.0);
        assert_eq!(v.ratio, 1.5);
        assert_eq!(v.zscore, 1.0);
        let v = s.update(3.0);
        assert_eq!((v.ratio, v.zscore), (1.0, 0.0));
    }

    #[test]
    fn no_volume_window() {
        let mut s = VolumeStats::new(2);
        s.update(0.0);
        let v = s.update(0.0);
        assert!(v.ratio.is_nan());
        assert_eq!(v.zscore, 0.0);
    }

    #[test]
    fn batch_equals_incremental() {
        let xs: Vec<f64> = (0..90)
            .map(|i| {
                if i % 11 < 3 {
                    0.0
                } else {
                    f64::from(i % 13) * 7.5
                }
            })
            .collect();
        for w in [1, 3, 20] {
            let mut s = VolumeStats::new(w);
            let inc: Vec<_> = xs.iter().map(|v| s.update(*v)).collect();
            let (mut r, mut zs) = (vec![0.0; xs.len()], vec![0.0; xs.len()]);
            assert!(batch_into(&xs, w, false, &mut r));
            assert!(batch_into(&xs, w, true, &mut zs));
            for (i, a) in inc.iter().enumerate().skip(w - 1) {
                assert_eq!(
                    (a.ratio.to_bits(), a.zscore.to_bits()),
                    (r[i].to_bits(), zs[i].to_bits()),
                    "w={w} i={i}"
                );
            }
        }
    }
}
