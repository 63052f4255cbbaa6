//! Extraction of 1-D numpy arrays: C-contiguous float64 input is borrowed without a copy, a strided view is
//! copied once, anything else is a `TypeError` that names the argument and says how to fix it.

use numpy::{
    Element, PyArray1, PyArrayMethods, PyReadonlyArray1, PyUntypedArray, PyUntypedArrayMethods,
};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;

/// A borrowed or (for strided views) copied 1-D array.
pub(crate) enum Input<'py, T: Element> {
    Borrowed(PyReadonlyArray1<'py, T>),
    Owned(Vec<T>),
}

impl<T: Element + Copy> Input<'_, T> {
    pub(crate) fn as_slice(&self) -> &[T] {
        match self {
            Input::Borrowed(a) => a.as_slice().unwrap_or(&[]),
            Input::Owned(v) => v,
        }
    }
}

/// Extracts argument `name` as a 1-D array of `T` (`dtype` names it in messages).
pub(crate) fn array<'py, T: Element + Copy>(
    name: &str,
    dtype: &str,
    obj: &Bound<'py, PyAny>,
) -> PyResult<Input<'py, T>> {
    if let Ok(arr) = obj.cast::<PyArray1<T>>() {
        let ro = arr
            .try_readonly()
            .map_err(|e| PyTypeError::new_err(format!("{name}: {e}")))?;
        if ro.as_slice().is_ok() {
            return Ok(Input::Borrowed(ro));
        }
        return Ok(Input::Owned(ro.as_array().iter().copied().collect()));
    }
    if let Ok(arr) = obj.cast::<PyUntypedArray>() {
        if arr.ndim() != 1 {
            return Err(PyTypeError::new_err(format!(
                "{name} must be a 1-D array (got {}-D with shape {:?})",
                arr.ndim(),
                arr.shape()
            )));
        }
        return Err(PyTypeError::new_err(format!(
            "{name} must be a {dtype} array (got dtype {}); convert it with np.asarray({name}, dtype=np.{dtype})",
            arr.dtype()
        )));
    }
    let ty = obj
        .get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "?".into());
    Err(PyTypeError::new_err(format!(
        "{name} must be a 1-D numpy {dtype} array (got {ty}); convert it with np.asarray({name}, dtype=np.{dtype})"
    )))
}

/// Extracts a float64 array argument.
pub(crate) fn f64s<'py>(name: &str, obj: &Bound<'py, PyAny>) -> PyResult<Input<'py, f64>> {
    array::<f64>(name, "float64", obj)
}

/// Extracts an int64 array argument.
pub(crate) fn i64s<'py>(name: &str, obj: &Bound<'py, PyAny>) -> PyResult<Input<'py, i64>> {
    array::<i64>(name, "int64", obj)
}
