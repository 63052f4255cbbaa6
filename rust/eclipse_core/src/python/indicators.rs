//! Bindings of the batch indicators and of `resample`. The GIL is released while computing.

use numpy::{PyArray1, PyArrayMethods};
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::PySlice;

use super::arrays::{f64s, i64s};
use super::to_py;
use crate::bars;
use crate::error::{period, CoreResult};
use crate::indicators as ind;

type Out<'py> = Bound<'py, PyArray1<f64>>;

/// A new float64 array from numpy's allocator (which asks for huge pages on large arrays, saving the page
/// faults a fresh Rust allocation of the same size would take). Every kernel writes every element.
fn new_out(py: Python<'_>, n: usize) -> Out<'_> {
    // SAFETY: f64 has no invalid bit patterns and the kernels overwrite the whole array before it is
    // returned to Python; on error the array is dropped unseen.
    unsafe { PyArray1::new(py, n, false) }
}

/// Runs `f` without the GIL on the writable data of `out` (just created here, contiguous, not shared).
fn fill<'py>(
    py: Python<'py>,
    out: &Out<'py>,
    f: impl FnOnce(&mut [f64]) -> CoreResult<()> + Send,
) -> PyResult<()> {
    // SAFETY: `out` was created by `new_out` in this call; no other reference to its data exists yet.
    let slice =
        unsafe { out.as_slice_mut() }.map_err(|e| PyRuntimeError::new_err(e.to_string()))?;
    py.detach(|| f(slice)).map_err(to_py)
}

fn unary<'py>(
    py: Python<'py>,
    name: &str,
    x: &Bound<'py, PyAny>,
    f: impl FnOnce(&[f64], &mut [f64]) -> CoreResult<()> + Send,
) -> PyResult<Out<'py>> {
    let x = f64s(name, x)?;
    let s = x.as_slice();
    let out = new_out(py, s.len());
    fill(py, &out, |o| f(s, o))?;
    Ok(out)
}

/// Simple moving average (TA-Lib SMA convention; NaN for the first period-1 values).
#[pyfunction]
#[pyo3(signature = (x, period))]
fn sma<'py>(py: Python<'py>, x: &Bound<'py, PyAny>, period: i64) -> PyResult<Out<'py>> {
    let p = self::period("period", period).map_err(to_py)?;
    unary(py, "x", x, |s, o| ind::sma_into(s, p, o))
}

/// Exponential moving average (TA-Lib EMA convention: SMA seed, k = 2/(period+1)).
#[pyfunction]
#[pyo3(signature = (x, period))]
fn ema<'py>(py: Python<'py>, x: &Bound<'py, PyAny>, period: i64) -> PyResult<Out<'py>> {
    let p = self::period("period", period).map_err(to_py)?;
    unary(py, "x", x, |s, o| ind::ema_into(s, p, o))
}

/// Wilder RSI (TA-Lib RSI convention; first value at index `period`).
#[pyfunction]
#[pyo3(signature = (close, period = 14))]
fn rsi<'py>(py: Python<'py>, close: &Bound<'py, PyAny>, period: i64) -> PyResult<Out<'py>> {
    let p = self::period("period", period).map_err(to_py)?;
    unary(py, "close", close, |s, o| ind::rsi_into(s, p, o))
}

/// Momentum: close / close n bars ago - 1 (first value at index n).
#[pyfunction]
#[pyo3(signature = (close, n))]
fn momentum<'py>(py: Python<'py>, close: &Bound<'py, PyAny>, n: i64) -> PyResult<Out<'py>> {
    let p = self::period("n", n).map_err(to_py)?;
    unary(py, "close", close, |s, o| ind::momentum_into(s, p, o))
}

/// Volume / mean volume of the last `window` bars (current included).
#[pyfunction]
#[pyo3(signature = (volume, window))]
fn volume_ratio<'py>(
    py: Python<'py>,
    volume: &Bound<'py, PyAny>,
    window: i64,
) -> PyResult<Out<'py>> {
    let p = self::period("window", window).map_err(to_py)?;
    unary(py, "volume", volume, |s, o| {
        ind::volume_into(s, p, false, o)
    })
}

/// (volume - mean) / population std over the last `window` bars (0 when the std is 0).
#[pyfunction]
#[pyo3(signature = (volume, window))]
fn volume_zscore<'py>(
    py: Python<'py>,
    volume: &Bound<'py, PyAny>,
    window: i64,
) -> PyResult<Out<'py>> {
    let p = self::period("window", window).map_err(to_py)?;
    unary(py, "volume", volume, |s, o| ind::volume_into(s, p, true, o))
}

/// Sign of EMA(fast) - EMA(slow) as +1/-1/0; NaN until both EMAs exist.
#[pyfunction]
#[pyo3(signature = (close, fast = 50, slow = 200))]
fn ema_trend<'py>(
    py: Python<'py>,
    close: &Bound<'py, PyAny>,
    fast: i64,
    slow: i64,
) -> PyResult<Out<'py>> {
    let f = self::period("fast", fast).map_err(to_py)?;
    let s = self::period("slow", slow).map_err(to_py)?;
    unary(py, "close", close, |x, o| ind::ema_trend_into(x, f, s, o))
}

/// Bollinger bands (TA-Lib BBANDS with SMA middle): (mid, upper, lower, width), width = (upper-lower)/mid.
#[pyfunction]
#[pyo3(signature = (close, period = 20, k = 2.0))]
fn bollinger<'py>(
    py: Python<'py>,
    close: &Bound<'py, PyAny>,
    period: i64,
    k: f64,
) -> PyResult<Bands<'py>> {
    let p = self::period("period", period).map_err(to_py)?;
    let x = f64s("close", close)?;
    let s = x.as_slice();
    let n = s.len();
    // One allocation for the four bands, as padded rows of a 2-D array: a single large block is mapped
    // fresh (huge pages) instead of four heap chunks that are trimmed and faulted in again on every call,
    // and the padding keeps the rows off equal page offsets. Each band is returned as a contiguous row view.
    let stride = n + ROW_PAD;
    let buf = new_out(py, 4 * stride);
    fill(py, &buf, |all| {
        let (r0, rest) = all.split_at_mut(stride);
        let (r1, rest) = rest.split_at_mut(stride);
        let (r2, r3) = rest.split_at_mut(stride);
        ind::bollinger_into(
            s,
            p,
            k,
            [&mut r0[..n], &mut r1[..n], &mut r2[..n], &mut r3[..n]],
        )
    })?;
    let rows = buf.reshape([4, stride])?;
    let band = |i: usize| rows.get_item((i, PySlice::new(py, 0, n as isize, 1)));
    Ok((band(0)?, band(1)?, band(2)?, band(3)?))
}

/// The four Bollinger outputs (row views of one array).
type Bands<'py> = (
    Bound<'py, PyAny>,
    Bound<'py, PyAny>,
    Bound<'py, PyAny>,
    Bound<'py, PyAny>,
);

/// Padding between the rows of a multi-output result (in values): 64 bytes keeps rows off equal page offsets.
const ROW_PAD: usize = 8;

fn atr_common<'py>(
    py: Python<'py>,
    hlc: [&Bound<'py, PyAny>; 3],
    period: i64,
    pct: bool,
) -> PyResult<Out<'py>> {
    let p = self::period("period", period).map_err(to_py)?;
    let (h, l, c) = (
        f64s("high", hlc[0])?,
        f64s("low", hlc[1])?,
        f64s("close", hlc[2])?,
    );
    let (h, l, c) = (h.as_slice(), l.as_slice(), c.as_slice());
    let out = new_out(py, c.len());
    fill(py, &out, |o| ind::atr_into(h, l, c, p, pct, o))?;
    Ok(out)
}

/// Wilder ATR (TA-Lib ATR convention; first value at index `period`).
#[pyfunction]
#[pyo3(signature = (high, low, close, period = 14))]
fn atr<'py>(
    py: Python<'py>,
    high: &Bound<'py, PyAny>,
    low: &Bound<'py, PyAny>,
    close: &Bound<'py, PyAny>,
    period: i64,
) -> PyResult<Out<'py>> {
    atr_common(py, [high, low, close], period, false)
}

/// ATR / close (NaN where close is 0).
#[pyfunction]
#[pyo3(signature = (high, low, close, period = 14))]
fn atr_pct<'py>(
    py: Python<'py>,
    high: &Bound<'py, PyAny>,
    low: &Bound<'py, PyAny>,
    close: &Bound<'py, PyAny>,
    period: i64,
) -> PyResult<Out<'py>> {
    atr_common(py, [high, low, close], period, true)
}

/// Rolling VWAP over `window` bars of typical price (h+l+c)/3; NaN where the window has no volume.
#[pyfunction]
#[pyo3(signature = (high, low, close, volume, window))]
fn vwap<'py>(
    py: Python<'py>,
    high: &Bound<'py, PyAny>,
    low: &Bound<'py, PyAny>,
    close: &Bound<'py, PyAny>,
    volume: &Bound<'py, PyAny>,
    window: i64,
) -> PyResult<Out<'py>> {
    let w = self::period("window", window).map_err(to_py)?;
    let (h, l, c, v) = (
        f64s("high", high)?,
        f64s("low", low)?,
        f64s("close", close)?,
        f64s("volume", volume)?,
    );
    let (h, l, c, v) = (h.as_slice(), l.as_slice(), c.as_slice(), v.as_slice());
    let out = new_out(py, c.len());
    fill(py, &out, |o| ind::vwap_into(h, l, c, v, w, o))?;
    Ok(out)
}

type Resampled<'py> = (
    Bound<'py, PyArray1<i64>>,
    Out<'py>,
    Out<'py>,
    Out<'py>,
    Out<'py>,
    Out<'py>,
    Bound<'py, PyArray1<i64>>,
);

/// Aggregates 1m bars into `minutes` bars aligned to UTC; returns closed buckets only (see the stub).
#[pyfunction]
#[pyo3(signature = (ts_ms, open, high, low, close, volume, minutes))]
#[allow(clippy::too_many_arguments)]
fn resample<'py>(
    py: Python<'py>,
    ts_ms: &Bound<'py, PyAny>,
    open: &Bound<'py, PyAny>,
    high: &Bound<'py, PyAny>,
    low: &Bound<'py, PyAny>,
    close: &Bound<'py, PyAny>,
    volume: &Bound<'py, PyAny>,
    minutes: i64,
) -> PyResult<Resampled<'py>> {
    let m = self::period("minutes", minutes).map_err(to_py)?;
    let m = u32::try_from(m).map_err(|_| {
        to_py(crate::error::CoreError::BadPeriod {
            name: "minutes",
            value: minutes,
        })
    })?;
    let ts = i64s("ts_ms", ts_ms)?;
    let cols = [
        f64s("open", open)?,
        f64s("high", high)?,
        f64s("low", low)?,
        f64s("close", close)?,
        f64s("volume", volume)?,
    ];
    let t = ts.as_slice();
    let c = [
        cols[0].as_slice(),
        cols[1].as_slice(),
        cols[2].as_slice(),
        cols[3].as_slice(),
        cols[4].as_slice(),
    ];
    let bars = py.detach(|| bars::resample(t, c, m)).map_err(to_py)?;
    let pick = |f: fn(&bars::Bar) -> f64| PyArray1::from_vec(py, bars.iter().map(f).collect());
    Ok((
        PyArray1::from_vec(py, bars.iter().map(|b| b.ts_ms).collect()),
        pick(|b| b.open),
        pick(|b| b.high),
        pick(|b| b.low),
        pick(|b| b.close),
        pick(|b| b.volume),
        PyArray1::from_vec(py, bars.iter().map(|b| i64::from(b.count)).collect()),
    ))
}

pub(super) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(sma, m)?)?;
    m.add_function(wrap_pyfunction!(ema, m)?)?;
    m.add_function(wrap_pyfunction!(rsi, m)?)?;
    m.add_function(wrap_pyfunction!(atr, m)?)?;
    m.add_function(wrap_pyfunction!(atr_pct, m)?)?;
    m.add_function(wrap_pyfunction!(bollinger, m)?)?;
    m.add_function(wrap_pyfunction!(vwap, m)?)?;
    m.add_function(wrap_pyfunction!(momentum, m)?)?;
    m.add_function(wrap_pyfunction!(volume_ratio, m)?)?;
    m.add_function(wrap_pyfunction!(volume_zscore, m)?)?;
    m.add_function(wrap_pyfunction!(ema_trend, m)?)?;
    m.add_function(wrap_pyfunction!(resample, m)?)?;
    Ok(())
}
