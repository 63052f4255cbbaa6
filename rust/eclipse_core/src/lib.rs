//! `eclipse._core`: the Rust hot path of Eclipse.
//!
//! - [`indicators`]: batch and incremental technical indicators (TA-Lib conventions where TA-Lib has them);
//! - [`bars`]: validation of closed 1m bars and UTC-aligned multi-timeframe aggregation;
//! - [`features`]: the per-symbol incremental feature state over 1m/5m/15m/1h;
//! - [`scorer`]: the composite signal scorer;
//! - `python`: thin PyO3 bindings (one file per exposed family), where every error becomes a Python exception.

pub mod bars;
pub mod error;
pub mod features;
pub mod indicators;
pub mod ring;
pub mod scorer;

mod python;

use pyo3::prelude::*;

/// The extension module.
#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    python::register(m)
}
