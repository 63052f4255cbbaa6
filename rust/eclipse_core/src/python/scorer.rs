//! Bindings of `ScorerConfig`, `Scorer`, `Signal` and `Component`. `Scorer.step` is the one FFI call per
//! closed bar: FeatureState update + score, returning a `Signal` whose details are built only when read.

use pyo3::exceptions::{PyAttributeError, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyString};

use super::features::PyFeatureState;
use super::to_py;
use crate::scorer::{self as sc, FieldValue, ScorerConfig};

/// Weights and thresholds of the signal scorer.
#[pyclass(name = "ScorerConfig", module = "eclipse._core", frozen)]
#[derive(Clone)]
pub struct PyScorerConfig {
    pub(crate) inner: ScorerConfig,
}

fn field_value(name: &str, v: &Bound<'_, PyAny>) -> PyResult<FieldValue> {
    if v.is_instance_of::<PyBool>() {
        Ok(FieldValue::Bool(v.extract()?))
    } else if v.is_instance_of::<PyString>() {
        Ok(FieldValue::Text(v.extract()?))
    } else if v.is_instance_of::<PyFloat>() || v.is_instance_of::<PyInt>() {
        Ok(FieldValue::Num(v.extract()?))
    } else {
        Err(PyTypeError::new_err(format!(
            "{name}: expected a number, bool or str (got {})",
            v.get_type().name()?
        )))
    }
}

fn to_object<'py>(py: Python<'py>, v: &FieldValue) -> PyResult<Bound<'py, PyAny>> {
    Ok(match v {
        FieldValue::Num(x) => PyFloat::new(py, *x).into_any(),
        FieldValue::Bool(b) => PyBool::new(py, *b).to_owned().into_any(),
        FieldValue::Text(t) => PyString::new(py, t).into_any(),
    })
}

fn build(mut cfg: ScorerConfig, overrides: Option<&Bound<'_, PyDict>>) -> PyResult<PyScorerConfig> {
    if let Some(kw) = overrides {
        for (k, v) in kw.iter() {
            let name: String = k.extract()?;
            cfg.set(&name, field_value(&name, &v)?).map_err(to_py)?;
        }
    }
    cfg.validate().map_err(to_py)?;
    Ok(PyScorerConfig { inner: cfg })
}

#[pymethods]
impl PyScorerConfig {
    /// Micro-profile defaults with keyword overrides applied.
    #[new]
    #[pyo3(signature = (**overrides))]
    fn new(overrides: Option<&Bound<'_, PyDict>>) -> PyResult<Self> {
        build(ScorerConfig::micro(), overrides)
    }

    /// Defaults of profile `name` ("micro" or "production") with keyword overrides applied.
    #[staticmethod]
    #[pyo3(signature = (name, **overrides))]
    fn profile(name: &str, overrides: Option<&Bound<'_, PyDict>>) -> PyResult<Self> {
        build(ScorerConfig::profile(name).map_err(to_py)?, overrides)
    }

    /// Every field as a dict.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        for (name, v) in self.inner.fields() {
            d.set_item(name, to_object(py, &v)?)?;
        }
        Ok(d)
    }

    fn __getattr__<'py>(&self, py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyAny>> {
        match self.inner.fields().into_iter().find(|(n, _)| *n == name) {
            Some((_, v)) => to_object(py, &v),
            None => Err(PyAttributeError::new_err(format!(
                "ScorerConfig has no field {name:?}"
            ))),
        }
    }

    fn __eq__(&self, other: &Self) -> bool {
        self.inner == other.inner
    }

    fn __hash__(&self) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        self.__repr__().hash(&mut h);
        h.finish()
    }

    fn __repr__(&self) -> String {
        let parts: Vec<String> = self
            .inner
            .fields()
            .iter()
            .map(|(n, v)| match v {
                FieldValue::Num(x) => format!("{n}={x}"),
                FieldValue::Bool(b) => format!("{n}={}", if *b { "True" } else { "False" }),
                FieldValue::Text(t) => format!("{n}={t:?}"),
            })
            .collect();
        format!("ScorerConfig({})", parts.join(", "))
    }
}

/// One scorer component's vote and the numbers behind it.
#[pyclass(name = "Component", module = "eclipse._core", frozen)]
pub struct PyComponent {
    inner: sc::Component,
    trend_tf: usize,
}

#[pymethods]
impl PyComponent {
    #[getter]
    fn name(&self) -> &'static str {
        self.inner.kind.as_str()
    }
    #[getter]
    fn vote(&self) -> i8 {
        self.inner.vote
    }
    #[getter]
    fn weight(&self) -> f64 {
        self.inner.weight
    }
    #[getter]
    fn value(&self) -> f64 {
        self.inner.value
    }
    #[getter]
    fn threshold(&self) -> f64 {
        self.inner.threshold
    }
    #[getter]
    fn reason(&self) -> String {
        self.inner.reason(self.trend_tf)
    }
    fn __repr__(&self) -> String {
        format!(
            "Component({}, vote={}, {})",
            self.name(),
            self.inner.vote,
            self.reason()
        )
    }
}

/// Result of scoring one closed bar.
#[pyclass(name = "Signal", module = "eclipse._core", frozen)]
pub struct PySignal {
    inner: sc::Signal,
}

#[pymethods]
impl PySignal {
    #[getter]
    fn ts_ms(&self) -> i64 {
        self.inner.ts_ms
    }
    #[getter]
    fn direction(&self) -> i8 {
        self.inner.direction
    }
    #[getter]
    fn side(&self) -> &'static str {
        self.inner.side()
    }
    #[getter]
    fn candidate(&self) -> i8 {
        self.inner.candidate
    }
    #[getter]
    fn confidence(&self) -> f64 {
        self.inner.confidence
    }
    #[getter]
    fn raw_confidence(&self) -> f64 {
        self.inner.raw_confidence
    }
    #[getter]
    fn blocked(&self) -> Option<&'static str> {
        self.inner.blocked.map(sc::Block::as_str)
    }
    #[getter]
    fn regime(&self) -> &'static str {
        self.inner.regime.as_str()
    }
    #[getter]
    fn vol_ratio(&self) -> f64 {
        self.inner.vol_ratio
    }
    #[getter]
    fn vol_multiplier(&self) -> f64 {
        self.inner.vol_multiplier
    }
    #[getter]
    fn mom_fast(&self) -> f64 {
        self.inner.mom_fast
    }
    #[getter]
    fn mom_slow(&self) -> f64 {
        self.inner.mom_slow
    }
    #[getter]
    fn close(&self) -> f64 {
        self.inner.close
    }

    /// Every component's vote.
    fn components(&self) -> Vec<PyComponent> {
        self.inner
            .components
            .iter()
            .map(|c| PyComponent {
                inner: *c,
                trend_tf: self.inner.trend_tf,
            })
            .collect()
    }

    /// One line: decision, confidence, regime, block and every component's reason.
    fn explain(&self) -> String {
        self.inner.explain()
    }

    /// Everything as plain Python values.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let s = &self.inner;
        let d = PyDict::new(py);
        d.set_item("ts_ms", s.ts_ms)?;
        d.set_item("direction", s.direction)?;
        d.set_item("side", s.side())?;
        d.set_item("candidate", s.candidate)?;
        d.set_item("confidence", s.confidence)?;
        d.set_item("raw_confidence", s.raw_confidence)?;
        d.set_item("blocked", self.blocked())?;
        d.set_item("regime", s.regime.as_str())?;
        d.set_item("vol_ratio", s.vol_ratio)?;
        d.set_item("vol_multiplier", s.vol_multiplier)?;
        d.set_item("mom_fast", s.mom_fast)?;
        d.set_item("mom_slow", s.mom_slow)?;
        d.set_item("close", s.close)?;
        let comps = PyDict::new(py);
        for c in &s.components {
            let cd = PyDict::new(py);
            cd.set_item("vote", c.vote)?;
            cd.set_item("weight", c.weight)?;
            cd.set_item("value", c.value)?;
            cd.set_item("threshold", c.threshold)?;
            cd.set_item("reason", c.reason(s.trend_tf))?;
            comps.set_item(c.kind.as_str(), cd)?;
        }
        d.set_item("components", comps)?;
        Ok(d)
    }

    fn __repr__(&self) -> String {
        format!("Signal({})", self.inner.explain())
    }
}

/// The composite signal scorer; `step` = FeatureState update + score in one call.
#[pyclass(name = "Scorer", module = "eclipse._core", frozen)]
pub struct PyScorer {
    cfg: ScorerConfig,
}

#[pymethods]
impl PyScorer {
    #[new]
    #[pyo3(signature = (config = None))]
    fn new(config: Option<PyRef<'_, PyScorerConfig>>) -> Self {
        Self {
            cfg: config.map_or_else(ScorerConfig::micro, |c| c.inner.clone()),
        }
    }

    #[getter]
    fn config(&self) -> PyScorerConfig {
        PyScorerConfig {
            inner: self.cfg.clone(),
        }
    }

    /// Applies one closed 1m bar to `state` and scores it (one call per bar).
    #[pyo3(signature = (state, ts_ms, open, high, low, close, volume))]
    #[allow(clippy::too_many_arguments)]
    fn step(
        &self,
        mut state: PyRefMut<'_, PyFeatureState>,
        ts_ms: i64,
        open: f64,
        high: f64,
        low: f64,
        close: f64,
        volume: f64,
    ) -> PyResult<PySignal> {
        state
            .inner
            .update(ts_ms, open, high, low, close, volume)
            .map_err(to_py)?;
        Ok(PySignal {
            inner: sc::score(&self.cfg, &state.inner),
        })
    }

    /// Scores the state's current features without updating it.
    fn score(&self, state: PyRef<'_, PyFeatureState>) -> PySignal {
        PySignal {
            inner: sc::score(&self.cfg, &state.inner),
        }
    }
}

pub(super) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyScorerConfig>()?;
    m.add_class::<PyComponent>()?;
    m.add_class::<PySignal>()?;
    m.add_class::<PyScorer>()?;
    Ok(())
}
