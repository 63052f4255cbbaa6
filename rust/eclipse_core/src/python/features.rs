//! Bindings of `FeatureConfig` and `FeatureState`.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyTuple};

use super::to_py;
use crate::features::{self as feat, timeframe_index, FeatureConfig, FEATURE_NAMES, TIMEFRAMES};

/// Indicator periods shared by every timeframe of a FeatureState.
#[pyclass(name = "FeatureConfig", module = "eclipse._core", frozen, eq)]
#[derive(Clone, PartialEq)]
pub struct PyFeatureConfig {
    pub(crate) inner: FeatureConfig,
}

fn field(name: &str, v: i64) -> PyResult<u32> {
    u32::try_from(v)
        .ok()
        .filter(|v| (1..=feat::MAX_PERIOD).contains(v))
        .ok_or_else(|| {
            PyValueError::new_err(format!(
                "{name} = {v}: a whole number of bars from 1 to {}",
                feat::MAX_PERIOD
            ))
        })
}

#[pymethods]
impl PyFeatureConfig {
    #[new]
    #[pyo3(signature = (*, ema_fast = 50, ema_slow = 200, rsi_period = 14, atr_period = 14, bb_period = 20,
        bb_k = 2.0, vwap_window = 240, mom_fast = 5, mom_slow = 15, volume_window = 20))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        ema_fast: i64,
        ema_slow: i64,
        rsi_period: i64,
        atr_period: i64,
        bb_period: i64,
        bb_k: f64,
        vwap_window: i64,
        mom_fast: i64,
        mom_slow: i64,
        volume_window: i64,
    ) -> PyResult<Self> {
        let inner = FeatureConfig {
            ema_fast: field("ema_fast", ema_fast)?,
            ema_slow: field("ema_slow", ema_slow)?,
            rsi_period: field("rsi_period", rsi_period)?,
            atr_period: field("atr_period", atr_period)?,
            bb_period: field("bb_period", bb_period)?,
            bb_k,
            vwap_window: field("vwap_window", vwap_window)?,
            mom_fast: field("mom_fast", mom_fast)?,
            mom_slow: field("mom_slow", mom_slow)?,
            volume_window: field("volume_window", volume_window)?,
        };
        inner.validate().map_err(to_py)?;
        Ok(Self { inner })
    }

    #[getter]
    fn ema_fast(&self) -> u32 {
        self.inner.ema_fast
    }
    #[getter]
    fn ema_slow(&self) -> u32 {
        self.inner.ema_slow
    }
    #[getter]
    fn rsi_period(&self) -> u32 {
        self.inner.rsi_period
    }
    #[getter]
    fn atr_period(&self) -> u32 {
        self.inner.atr_period
    }
    #[getter]
    fn bb_period(&self) -> u32 {
        self.inner.bb_period
    }
    #[getter]
    fn bb_k(&self) -> f64 {
        self.inner.bb_k
    }
    #[getter]
    fn vwap_window(&self) -> u32 {
        self.inner.vwap_window
    }
    #[getter]
    fn mom_fast(&self) -> u32 {
        self.inner.mom_fast
    }
    #[getter]
    fn mom_slow(&self) -> u32 {
        self.inner.mom_slow
    }
    #[getter]
    fn volume_window(&self) -> u32 {
        self.inner.volume_window
    }

    /// Every field as a dict.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        for (name, v) in self.inner.periods() {
            d.set_item(name, v)?;
        }
        d.set_item("bb_k", self.inner.bb_k)?;
        Ok(d)
    }

    fn __repr__(&self) -> String {
        let fields: Vec<String> = self
            .inner
            .periods()
            .iter()
            .map(|(n, v)| format!("{n}={v}"))
            .collect();
        format!(
            "FeatureConfig({}, bb_k={})",
            fields.join(", "),
            self.inner.bb_k
        )
    }
}

/// Per-symbol incremental features over 1m bars and the 5m/15m/1h bars built from them.
#[pyclass(name = "FeatureState", module = "eclipse._core")]
pub struct PyFeatureState {
    pub(crate) inner: feat::FeatureState,
}

pub(crate) fn tf_index(name: &str) -> PyResult<usize> {
    timeframe_index(name).ok_or_else(|| {
        PyValueError::new_err(format!("timeframe {name:?} is not one of: 1m, 5m, 15m, 1h"))
    })
}

fn features_dict<'py>(py: Python<'py>, f: &feat::Features) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    for (name, v) in FEATURE_NAMES.iter().zip(f.to_array()) {
        d.set_item(name, v)?;
    }
    Ok(d)
}

#[pymethods]
impl PyFeatureState {
    #[new]
    #[pyo3(signature = (config = None))]
    fn new(config: Option<PyRef<'_, PyFeatureConfig>>) -> PyResult<Self> {
        let cfg = config.map(|c| c.inner).unwrap_or_default();
        Ok(Self {
            inner: feat::FeatureState::new(cfg).map_err(to_py)?,
        })
    }

    #[getter]
    fn config(&self) -> PyFeatureConfig {
        PyFeatureConfig {
            inner: *self.inner.config(),
        }
    }

    #[getter]
    fn last_ts_ms(&self) -> Option<i64> {
        self.inner.last_ts_ms()
    }

    #[getter]
    fn gaps(&self) -> u64 {
        self.inner.gaps()
    }

    /// Applies one closed 1m bar; returns the timeframes whose bar closed with it.
    #[pyo3(signature = (ts_ms, open, high, low, close, volume))]
    #[allow(clippy::too_many_arguments)]
    fn update<'py>(
        &mut self,
        py: Python<'py>,
        ts_ms: i64,
        open: f64,
        high: f64,
        low: f64,
        close: f64,
        volume: f64,
    ) -> PyResult<Bound<'py, PyTuple>> {
        let mask = self
            .inner
            .update(ts_ms, open, high, low, close, volume)
            .map_err(to_py)?;
        let names: Vec<&str> = TIMEFRAMES
            .iter()
            .enumerate()
            .filter(|(i, _)| mask & (1 << i) != 0)
            .map(|(_, t)| t.0)
            .collect();
        PyTuple::new(py, names)
    }

    /// Closed bars applied so far on `timeframe`.
    fn bars(&self, timeframe: &str) -> PyResult<u64> {
        Ok(self.inner.bars(tf_index(timeframe)?))
    }

    /// Current features of `timeframe`; NaN while an indicator warms up.
    #[pyo3(signature = (timeframe = "1m"))]
    fn features<'py>(&self, py: Python<'py>, timeframe: &str) -> PyResult<Bound<'py, PyDict>> {
        features_dict(py, self.inner.features(tf_index(timeframe)?))
    }

    /// One feature of `timeframe` by name (NaN while it warms up), without building the whole dict;
    /// ValueError naming the known features for an unknown `name`.
    fn feature(&self, timeframe: &str, name: &str) -> PyResult<f64> {
        let values = self.inner.features(tf_index(timeframe)?).to_array();
        FEATURE_NAMES
            .iter()
            .position(|n| *n == name)
            .map(|i| values[i])
            .ok_or_else(|| {
                PyValueError::new_err(format!(
                    "name: unknown feature {name:?}; expected one of {}",
                    FEATURE_NAMES.join(", ")
                ))
            })
    }

    /// Features of every timeframe.
    fn all_features<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        for (i, (name, _)) in TIMEFRAMES.iter().enumerate() {
            d.set_item(name, features_dict(py, self.inner.features(i))?)?;
        }
        Ok(d)
    }

    /// Serializes the whole state (versioned, checksummed).
    fn to_bytes<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.inner.to_bytes())
    }

    /// Restores a state from `to_bytes`; ValueError on a corrupt or incompatible blob.
    #[staticmethod]
    fn from_bytes(data: &[u8]) -> PyResult<Self> {
        Ok(Self {
            inner: feat::FeatureState::from_bytes(data).map_err(to_py)?,
        })
    }

    fn __reduce__<'py>(
        slf: &Bound<'py, Self>,
    ) -> PyResult<(Bound<'py, PyAny>, (Bound<'py, PyBytes>,))> {
        let py = slf.py();
        let ctor = slf.get_type().getattr("from_bytes")?;
        Ok((ctor, (slf.borrow().to_bytes(py),)))
    }

    fn __repr__(&self) -> String {
        format!(
            "FeatureState(bars_1m={}, last_ts_ms={:?}, gaps={})",
            self.inner.bars(0),
            self.inner.last_ts_ms(),
            self.inner.gaps()
        )
    }
}

pub(super) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add(
        "TIMEFRAMES",
        PyTuple::new(m.py(), TIMEFRAMES.iter().map(|t| t.0))?,
    )?;
    m.add("FEATURE_NAMES", PyTuple::new(m.py(), FEATURE_NAMES)?)?;
    m.add_class::<PyFeatureConfig>()?;
    m.add_class::<PyFeatureState>()?;
    Ok(())
}
