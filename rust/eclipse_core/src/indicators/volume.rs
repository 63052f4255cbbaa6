//! Volume statistics over the last `window` bars including the current one: ratio = volume / mean and
//! z-score = (volume - mean) / population std. First values at index `window - 1`. The ratio is NaN when the
//! window has no volume; the z-score is 0 when the window's variance is 0 (a constant window: exactly 0, since
//! [`RollingMoments`] re-syncs when the last differing value leaves).

use serde::{Deserialize, Serialize};

use super::moments::{self, RollingMoments};

/// Current volume statistics.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct VolumeValue {
    /// volume / mean(window).
    pub ratio: f64,
    /// (volume - mean) / std(window).
    pub zscore: f64,
}

#[inline(always)]
fn value(v: f64, mean: f64, var: f64, nonzero: usize) -> VolumeValue {
    if nonzero == 0 || mean <= 0.0 {
        VolumeValue {
            ratio: f64::NAN,
            zscore: 0.0,
        }
    } else {
        let zscore = if var > 0.0 {
            (v - mean) / var.sqrt()
        } else {
            0.0
        };
        VolumeValue {
            ratio: v / mean,
            zscore,
        }
    }
}

/// Incremental volume ratio and z-score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VolumeStats {
    window: usize,
    moments: RollingMoments,
    nonzero: usize,
    value: VolumeValue,
}

impl VolumeStats {
    /// New statistics over `window >= 1` bars.
    pub fn new(window: usize) -> Self {
        Self {
            window,
            moments: RollingMoments::new(window),
            nonzero: 0,
            value: VolumeValue {
                ratio: f64::NAN,
                zscore: f64::NAN,
            },
        }
    }

    /// Adds one bar's volume; returns ratio and z-score, NaN during warm-up.
    #[inline]
    pub fn update(&mut self, v: f64) -> VolumeValue {
        if self.moments.push(v).is_some_and(|old| old > 0.0) {
            self.nonzero -= 1;
        }
        if v > 0.0 {
            self.nonzero += 1;
        }
        if self.moments.is_full() {
            self.value = value(
                v,
                self.moments.mean(),
                self.moments.variance(),
                self.nonzero,
            );
        }
        self.value
    }

    /// Current value.
    pub fn value(&self) -> VolumeValue {
        self.value
    }

    /// Consistency check after deserialization.
    pub fn check(&self, window: usize) -> bool {
        self.window == window
            && self.moments.check(window)
            && self.nonzero == self.moments.values().filter(|v| *v > 0.0).count()
    }
}

/// Batch volume statistics, calling `emit(i, value)` from index `window - 1` on (earlier indices are
/// warm-up); bit-identical to feeding [`VolumeStats::update`]. Requires `window <= volume.len()`.
#[inline(always)]
pub fn batch(volume: &[f64], window: usize, mut emit: impl FnMut(usize, VolumeValue)) {
    let mut nonzero = volume[..window].iter().filter(|v| **v > 0.0).count();
    moments::batch(volume, window, |i, mean, var| {
        if i >= window {
            nonzero += usize::from(volume[i] > 0.0);
            nonzero -= usize::from(volume[i - window] > 0.0);
        }
        emit(i, value(volume[i], mean, var, nonzero));
    });
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
            let mut bat = vec![];
            batch(&xs, w, |_, v| bat.push(v));
            for (a, b) in inc[w - 1..].iter().zip(&bat) {
                assert_eq!(
                    (a.ratio.to_bits(), a.zscore.to_bits()),
                    (b.ratio.to_bits(), b.zscore.to_bits())
                );
            }
        }
    }
}
