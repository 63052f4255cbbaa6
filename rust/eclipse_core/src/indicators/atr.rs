//! Average true range, Wilder smoothing (TA-Lib `ATR` convention: true range from index 1, first ATR at index
//! `period` = mean of the first `period` true ranges; `period == 1` gives the true range itself).

use serde::{Deserialize, Serialize};

use super::with_simd;

/// Incremental ATR.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Atr {
    period: usize,
    count: usize,
    prev_close: f64,
    tr_sum: f64,
    value: f64,
}

#[inline(always)]
fn max(a: f64, b: f64) -> f64 {
    // A plain compare-select (one `maxsd`): inputs are finite, so `f64::max`'s NaN handling is not needed.
    if a > b {
        a
    } else {
        b
    }
}

/// True range of a bar given the previous close: max(high - low, |prev - high|, |low - prev|), branch-free.
#[inline(always)]
pub fn true_range(high: f64, low: f64, prev_close: f64) -> f64 {
    max(
        max(high - low, (prev_close - high).abs()),
        (low - prev_close).abs(),
    )
}

#[inline(always)]
fn coefficients(period: usize) -> (f64, f64) {
    let p = period as f64;
    ((p - 1.0) / p, 1.0 / p)
}

impl Atr {
    /// A new ATR (`period >= 1`).
    pub fn new(period: usize) -> Self {
        Self {
            period,
            count: 0,
            prev_close: 0.0,
            tr_sum: 0.0,
            value: f64::NAN,
        }
    }

    /// Adds one bar; returns the ATR, NaN during warm-up.
    #[inline]
    pub fn update(&mut self, high: f64, low: f64, close: f64) -> f64 {
        if self.count == 0 {
            self.prev_close = close;
            self.count = 1;
            return self.value;
        }
        let tr = true_range(high, low, self.prev_close);
        self.prev_close = close;
        if self.count > self.period {
            let (a, b) = coefficients(self.period);
            self.value = self.value.mul_add(a, tr * b);
        } else {
            self.tr_sum += tr;
            self.count += 1;
            if self.count > self.period {
                self.value = self.tr_sum / self.period as f64;
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
        self.period == period && self.count <= period + 1 && self.tr_sum.is_finite()
    }
}

/// False when any of the three is NaN or infinite (and, rarely, when finite values overflow the sum: the
/// caller then re-checks exactly, finds nothing and keeps the result).
#[inline(always)]
fn finite3(a: f64, b: f64, c: f64) -> bool {
    (a + b + c).is_finite()
}

/// Batch ATR into `out` (divided by the close when `pct`); bit-identical to feeding [`Atr::update`].
/// Returns whether every input value was finite (checked on the way; `out` is meaningless otherwise).
#[must_use]
pub fn batch_into(
    high: &[f64],
    low: &[f64],
    close: &[f64],
    period: usize,
    pct: bool,
    out: &mut [f64],
) -> bool {
    let n = close.len();
    if period + 1 > n {
        out.fill(f64::NAN);
        return [high, low, close]
            .iter()
            .all(|x| super::first_non_finite(x).is_none());
    }
    out[..period].fill(f64::NAN);
    // Bar 0 only lends its close; its high and low are checked here, the last close below.
    let mut ok = finite3(high[0], low[0], close[n - 1]);
    let mut sum = 0.0;
    for i in 1..=period {
        ok &= finite3(high[i], low[i], close[i - 1]);
        sum += true_range(high[i], low[i], close[i - 1]);
    }
    let value = sum / period as f64;
    out[period] = if pct {
        super::pct_of(value, close[period])
    } else {
        value
    };
    let (a, b) = coefficients(period);
    ok & with_simd!(steady(
        high: &[f64] = high,
        low: &[f64] = low,
        close: &[f64] = close,
        from: usize = period + 1,
        value: f64 = value,
        a: f64 = a,
        b: f64 = b,
        pct: bool = pct,
        out: &mut [f64] = out,
    ) -> bool)
}

/// Steady-state loop over bars `from..` (`from >= 1`); returns whether the inputs it read were finite.
///
/// One fused pass: ATR streams three inputs and an output, so it sits near memory bandwidth and a single
/// pass overlaps the arithmetic with the loads best. NaN and inf propagate through a sum, so one running sum
/// of the inputs tested once at the end checks them all (an overflow of finite values only makes the caller
/// re-check exactly).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn steady(
    high: &[f64],
    low: &[f64],
    close: &[f64],
    from: usize,
    mut value: f64,
    a: f64,
    b: f64,
    pct: bool,
    out: &mut [f64],
) -> bool {
    let n = close.len();
    let mut acc = 0.0;
    let bars = high[from..n]
        .iter()
        .zip(&low[from..n])
        .zip(&close[from - 1..n - 1]);
    if pct {
        for ((o, ((&h, &l), &prev)), &c) in out[from..n].iter_mut().zip(bars).zip(&close[from..n]) {
            acc += (h + l) + prev;
            value = value.mul_add(a, true_range(h, l, prev) * b);
            *o = super::pct_of(value, c);
        }
    } else {
        for (o, ((&h, &l), &prev)) in out[from..n].iter_mut().zip(bars) {
            acc += (h + l) + prev;
            value = value.mul_add(a, true_range(h, l, prev) * b);
            *o = value;
        }
    }
    acc.is_finite()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case::inside_bar(10.0, 8.0, 9.0, 2.0)]
    #[case::gap_up(12.0, 11.0, 9.0, 3.0)]
    #[case::gap_down(8.0, 7.0, 10.0, 3.0)]
    fn true_range_cases(#[case] h: f64, #[case] l: f64, #[case] pc: f64, #[case] want: f64) {
        assert_eq!(true_range(h, l, pc), want);
    }

    #[test]
    fn first_value_at_index_period() {
        let mut a = Atr::new(2);
        assert!(a.update(2.0, 1.0, 1.5).is_nan());
        assert!(a.update(2.0, 1.0, 1.5).is_nan());
        assert_eq!(a.update(3.0, 1.0, 2.0), 1.5);
    }

    #[test]
    fn batch_equals_incremental() {
        let c: Vec<f64> = (0..50)
            .map(|i| (f64::from(i) * 0.9).sin() * 2.0 + 20.0)
            .collect();
        let h: Vec<f64> = c.iter().map(|v| v + 0.5).collect();
        let l: Vec<f64> = c.iter().map(|v| v - 0.7).collect();
        for p in [1, 2, 14, 49, 50] {
            let mut out = vec![0.0; c.len()];
            assert!(batch_into(&h, &l, &c, p, false, &mut out));
            let mut a = Atr::new(p);
            for i in 0..c.len() {
                assert_eq!(
                    a.update(h[i], l[i], c[i]).to_bits(),
                    out[i].to_bits(),
                    "p={p} i={i}"
                );
            }
        }
    }
}
