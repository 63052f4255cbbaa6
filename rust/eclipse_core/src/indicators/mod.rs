//! Technical indicators: each is a small incremental struct (O(1) time and memory per update, no heap
//! allocation after construction) plus a batch function over slices that runs the very same struct, so
//! batch and incremental results are identical to the last bit.
//!
//! Batch conventions: a NaN or infinite input is an error naming the argument and index; a period longer
//! than the input gives an all-NaN result of the input's length; outputs hold NaN in warm-up positions.

pub mod atr;
pub mod bollinger;
pub mod ema;
pub mod moments;
pub mod momentum;
pub mod rsi;
pub mod sma;
pub mod trend;
pub mod volume;
pub mod vwap;

use crate::error::{CoreError, CoreResult};

pub use atr::Atr;
pub use bollinger::{Bands, Bollinger};
pub use ema::Ema;
pub use momentum::Momentum;
pub use rsi::Rsi;
pub use sma::Sma;
pub use trend::EmaTrend;
pub use volume::{VolumeStats, VolumeValue};
pub use vwap::Vwap;

/// Calls `$plain(name: Type = value, ...)` through a copy compiled for AVX2 and fused multiply-add when the CPU
/// has them (the x86-64 baseline has neither): element-wise loops run four lanes wide. `$plain` must be
/// `#[inline(always)]` so its body is generated inside the copy.
///
/// The recursive smoothers (EMA, RSI, ATR) use `f64::mul_add`, which is exactly specified (one rounding):
/// inside the copy it is one `vfmadd` instruction, elsewhere (and in the per-bar path) a call to the C
/// library's `fma`. Both give the same bits, so batch and incremental stay identical while the loop's
/// dependency chain gets shorter.
macro_rules! with_simd {
    ($plain:ident($($arg:ident: $ty:ty = $val:expr),* $(,)?)) => {
        with_simd!($plain($($arg: $ty = $val),*) -> ())
    };
    ($plain:ident($($arg:ident: $ty:ty = $val:expr),* $(,)?) -> $ret:ty) => {{
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = "avx2,fma")]
        #[allow(clippy::too_many_arguments)]
        unsafe fn fast($($arg: $ty),*) -> $ret {
            $plain($($arg),*)
        }
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("fma") && std::arch::is_x86_feature_detected!("avx2") {
                // SAFETY: the CPU supports AVX2 and FMA (checked just above).
                unsafe { fast($($val),*) }
            } else {
                $plain($($val),*)
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            $plain($($val),*)
        }
    }};
}
pub(crate) use with_simd;

/// Index and value of the first non-finite element, if any. The scan has no early exit so it vectorises;
/// the position is looked up only when something was found.
#[inline]
pub fn first_non_finite(x: &[f64]) -> Option<(usize, f64)> {
    let mut ok = true;
    for v in x {
        ok &= v.is_finite();
    }
    if ok {
        None
    } else {
        x.iter().position(|v| !v.is_finite()).map(|i| (i, x[i]))
    }
}

/// Checks that a named input holds only finite values.
///
/// # Errors
/// [`CoreError::NonFinite`] naming the argument and the first bad index.
pub fn check_finite(name: &'static str, x: &[f64]) -> CoreResult<()> {
    match first_non_finite(x) {
        None => Ok(()),
        Some((index, value)) => Err(CoreError::NonFinite { name, index, value }),
    }
}

/// Checks that two named slices have the same length.
///
/// # Errors
/// [`CoreError::LengthMismatch`] naming both.
pub fn same_len(a: (&'static str, &[f64]), b: (&'static str, &[f64])) -> CoreResult<()> {
    if a.1.len() != b.1.len() {
        return Err(CoreError::LengthMismatch {
            a: a.0,
            b: b.0,
            len_a: a.1.len(),
            len_b: b.1.len(),
        });
    }
    Ok(())
}

/// `value / close`, NaN when close is 0.
#[inline(always)]
pub fn pct_of(value: f64, close: f64) -> f64 {
    if close == 0.0 {
        f64::NAN
    } else {
        value / close
    }
}

/// Output length mismatch is a programming error of the caller; report it instead of panicking.
fn out_len(out: &[f64], n: usize) -> CoreResult<()> {
    if out.len() != n {
        return Err(CoreError::LengthMismatch {
            a: "input",
            b: "output",
            len_a: n,
            len_b: out.len(),
        });
    }
    Ok(())
}

fn check_hlc(high: &[f64], low: &[f64], close: &[f64]) -> CoreResult<()> {
    same_len(("high", high), ("low", low))?;
    same_len(("high", high), ("close", close))?;
    check_finite("high", high)?;
    check_finite("low", low)?;
    check_finite("close", close)
}

/// Batch SMA of `x` into `out`.
///
/// # Errors
/// Non-finite input or wrong output length.
pub fn sma_into(x: &[f64], period: usize, out: &mut [f64]) -> CoreResult<()> {
    out_len(out, x.len())?;
    if !sma::batch_into(x, period, out) {
        check_finite("x", x)?;
    }
    Ok(())
}

/// Batch EMA of `x` into `out`.
///
/// # Errors
/// Non-finite input or wrong output length.
pub fn ema_into(x: &[f64], period: usize, out: &mut [f64]) -> CoreResult<()> {
    out_len(out, x.len())?;
    check_finite("x", x)?;
    ema::batch_into(x, period, out);
    Ok(())
}

/// Batch RSI of `close` into `out`.
///
/// # Errors
/// Non-finite input or wrong output length.
pub fn rsi_into(close: &[f64], period: usize, out: &mut [f64]) -> CoreResult<()> {
    out_len(out, close.len())?;
    check_finite("close", close)?;
    rsi::batch_into(close, period, out);
    Ok(())
}

/// Batch momentum of `close` into `out`.
///
/// # Errors
/// Non-finite input or wrong output length.
pub fn momentum_into(close: &[f64], n: usize, out: &mut [f64]) -> CoreResult<()> {
    out_len(out, close.len())?;
    // The kernel checks finiteness as it goes (a separate scan would cost a third of its time).
    if !momentum::batch_into(close, n, out) {
        check_finite("close", close)?;
    }
    Ok(())
}

/// Batch EMA trend of `close` into `out`.
///
/// # Errors
/// Non-finite input or wrong output length.
pub fn ema_trend_into(close: &[f64], fast: usize, slow: usize, out: &mut [f64]) -> CoreResult<()> {
    out_len(out, close.len())?;
    check_finite("close", close)?;
    trend::batch_into(close, fast, slow, out);
    Ok(())
}

/// Batch volume ratio (`zscore == false`) or z-score of `volume` into `out`.
///
/// # Errors
/// Non-finite input or wrong output length.
pub fn volume_into(volume: &[f64], window: usize, zscore: bool, out: &mut [f64]) -> CoreResult<()> {
    out_len(out, volume.len())?;
    if !volume::batch_into(volume, window, zscore, out) {
        check_finite("volume", volume)?;
    }
    Ok(())
}

/// Batch Bollinger bands of `close` into (mid, upper, lower, width).
///
/// # Errors
/// Non-finite input, `k` not a finite number >= 0, or wrong output length.
pub fn bollinger_into(
    close: &[f64],
    period: usize,
    k: f64,
    out: [&mut [f64]; 4],
) -> CoreResult<()> {
    if !k.is_finite() || k < 0.0 {
        return Err(CoreError::BadConfig {
            field: "k".into(),
            value: k.to_string(),
            expected: "a finite number of standard deviations >= 0".into(),
        });
    }
    for o in &out {
        out_len(o, close.len())?;
    }
    if !bollinger::batch_into(close, period, k, out) {
        check_finite("close", close)?;
    }
    Ok(())
}

/// Batch ATR (or ATR / close when `pct`) into `out`.
///
/// # Errors
/// Length mismatch, non-finite input or wrong output length.
pub fn atr_into(
    high: &[f64],
    low: &[f64],
    close: &[f64],
    period: usize,
    pct: bool,
    out: &mut [f64],
) -> CoreResult<()> {
    same_len(("high", high), ("low", low))?;
    same_len(("high", high), ("close", close))?;
    out_len(out, close.len())?;
    // The kernel checks finiteness as it goes (three extra scans would cost a third of its time); when that
    // trips, the exact scan names the argument and index.
    if !atr::batch_into(high, low, close, period, pct, out) {
        check_hlc(high, low, close)?;
    }
    Ok(())
}

/// Batch rolling VWAP into `out`.
///
/// # Errors
/// Length mismatch, non-finite input or wrong output length.
pub fn vwap_into(
    high: &[f64],
    low: &[f64],
    close: &[f64],
    volume: &[f64],
    window: usize,
    out: &mut [f64],
) -> CoreResult<()> {
    same_len(("high", high), ("low", low))?;
    same_len(("high", high), ("close", close))?;
    same_len(("high", high), ("volume", volume))?;
    out_len(out, close.len())?;
    // The kernel checks finiteness as it goes (four extra scans would cost a sixth of its time); when that
    // trips, the exact scans name the argument and index.
    if !vwap::batch_into(high, low, close, volume, window, out) {
        check_hlc(high, low, close)?;
        check_finite("volume", volume)?;
    }
    Ok(())
}

fn alloc(n: usize, f: impl FnOnce(&mut [f64]) -> CoreResult<()>) -> CoreResult<Vec<f64>> {
    let mut out = vec![0.0; n];
    f(&mut out)?;
    Ok(out)
}

/// Batch SMA as a new vector.
///
/// # Errors
/// Non-finite input.
pub fn sma(x: &[f64], period: usize) -> CoreResult<Vec<f64>> {
    alloc(x.len(), |o| sma_into(x, period, o))
}

/// Batch EMA as a new vector.
///
/// # Errors
/// Non-finite input.
pub fn ema(x: &[f64], period: usize) -> CoreResult<Vec<f64>> {
    alloc(x.len(), |o| ema_into(x, period, o))
}

/// Batch ATR as a new vector.
///
/// # Errors
/// Length mismatch or non-finite input.
pub fn atr(high: &[f64], low: &[f64], close: &[f64], period: usize) -> CoreResult<Vec<f64>> {
    alloc(close.len(), |o| {
        atr_into(high, low, close, period, false, o)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_finite_is_named() {
        let err = sma(&[1.0, f64::NAN], 1).unwrap_err();
        assert!(matches!(
            err,
            CoreError::NonFinite {
                name: "x",
                index: 1,
                ..
            }
        ));
    }

    #[test]
    fn long_period_is_all_nan() {
        let out = ema(&[1.0, 2.0], 5).unwrap();
        assert!(out.iter().all(|v| v.is_nan()));
        assert_eq!(out.len(), 2);
    }

    #[test]
    fn atr_reports_non_finite_anywhere() {
        let n = 30;
        for (arg, idx) in [
            ("high", 0),
            ("low", 0),
            ("close", n - 1),
            ("close", 0),
            ("high", 7),
            ("low", n - 1),
        ] {
            for period in [3, 40] {
                let (mut h, mut l, mut c) = (vec![2.0; n], vec![1.0; n], vec![1.5; n]);
                let target = match arg {
                    "high" => &mut h,
                    "low" => &mut l,
                    _ => &mut c,
                };
                target[idx] = f64::INFINITY;
                let err = atr(&h, &l, &c, period).unwrap_err();
                assert!(
                    matches!(err, CoreError::NonFinite { name, index, .. } if name == arg && index == idx),
                    "{arg}[{idx}] period {period}: {err}"
                );
            }
        }
    }

    #[test]
    fn vwap_reports_non_finite_anywhere() {
        let n = 30;
        for arg in ["high", "low", "close", "volume"] {
            for idx in [0, 1, 13, n - 1] {
                for (window, bad) in [(5, f64::NAN), (5, f64::INFINITY), (40, f64::NEG_INFINITY)] {
                    let mut cols = [vec![2.0; n], vec![1.0; n], vec![1.5; n], vec![0.0; n]];
                    let which = ["high", "low", "close", "volume"]
                        .iter()
                        .position(|a| *a == arg)
                        .unwrap();
                    cols[which][idx] = bad;
                    let mut out = vec![0.0; n];
                    let err = vwap_into(&cols[0], &cols[1], &cols[2], &cols[3], window, &mut out)
                        .unwrap_err();
                    assert!(
                        matches!(err, CoreError::NonFinite { name, index, .. } if name == arg && index == idx),
                        "{arg}[{idx}] window {window}: {err}"
                    );
                }
            }
        }
    }

    #[test]
    fn length_mismatch_names_both() {
        let err = atr(&[1.0], &[1.0, 2.0], &[1.0], 1).unwrap_err();
        assert!(err.to_string().contains("high and low"));
    }
}
