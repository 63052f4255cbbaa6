//! Domain errors of the core. Every invalid input becomes one of these values (and then a Python
//! `ValueError`/`TypeError` at the boundary); nothing in the crate panics on user data.

use thiserror::Error;

/// Errors raised by indicators, bars, feature states and the scorer.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum CoreError {
    /// A period, window or lookback below 1.
    #[error("{name} must be >= 1 (got {value})")]
    BadPeriod { name: &'static str, value: i64 },
    /// A NaN or infinite value inside an input array.
    #[error("{name} contains a non-finite value ({value}) at index {index}; clean the data first (e.g. drop or fill NaN rows)")]
    NonFinite {
        name: &'static str,
        index: usize,
        value: f64,
    },
    /// Arrays that must go together have different lengths.
    #[error("{a} and {b} must have the same length (got {len_a} and {len_b})")]
    LengthMismatch {
        a: &'static str,
        b: &'static str,
        len_a: usize,
        len_b: usize,
    },
    /// A field of one bar is invalid (the message says which and why).
    #[error("bar {field} invalid: {why}")]
    BadBar { field: &'static str, why: String },
    /// A configuration value out of its range.
    #[error("{field} = {value}: {expected}")]
    BadConfig {
        field: String,
        value: String,
        expected: String,
    },
    /// A serialized state that cannot be restored.
    #[error("cannot restore state: {0}")]
    BadState(String),
}

/// Result alias of the crate.
pub type CoreResult<T> = Result<T, CoreError>;

/// Checks that a user-supplied period is at least 1 and converts it.
///
/// # Errors
/// [`CoreError::BadPeriod`] when `value < 1`.
pub fn period(name: &'static str, value: i64) -> CoreResult<usize> {
    if value < 1 {
        return Err(CoreError::BadPeriod { name, value });
    }
    usize::try_from(value).map_err(|_| CoreError::BadPeriod { name, value })
}
