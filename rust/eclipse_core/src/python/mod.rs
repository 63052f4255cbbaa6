//! PyO3 bindings, kept apart from the logic and thin: argument extraction with errors that name the
//! argument, conversion of [`crate::error::CoreError`] into `ValueError`, and one file per exposed family.

mod arrays;
mod features;
mod indicators;
mod scorer;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use crate::error::CoreError;

/// Converts a domain error into a Python `ValueError` with the same message.
pub(crate) fn to_py(e: CoreError) -> PyErr {
    PyValueError::new_err(e.to_string())
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    indicators::register(m)?;
    features::register(m)?;
    scorer::register(m)?;
    Ok(())
}
