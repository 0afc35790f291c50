//! The one error type: why a value has no Python JSON text.

use std::fmt;
use std::io;

use serde::ser;

/// Why a value could not be written as Python JSON.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The writer failed.
    #[error("I/O error: {0}")]
    Io(#[from] io::Error),
    /// `NaN` or an infinity with `allow_nan` off.
    #[error("out of range float values are not JSON compliant: {0}")]
    NonFinite(f64),
    /// A map key that is not a string, number, bool or null.
    #[error("keys must be str, int, float, bool or None, not {0}")]
    KeyType(&'static str),
    /// A map mixing key kinds (e.g. strings and numbers) cannot be sorted, as in Python.
    #[error("cannot sort keys: '<' not supported between {0} and {1} keys")]
    MixedKeys(&'static str, &'static str),
    /// Bytes with [`BytesPolicy::Error`](crate::BytesPolicy::Error).
    #[error("bytes are not JSON serializable")]
    Bytes,
    /// The value nests arrays and objects deeper than the options' `max_depth` (the limit).
    #[error("the value nests arrays and objects deeper than {0} levels")]
    TooDeep(usize),
    /// The value's `Serialize` impl failed.
    #[error("{0}")]
    Custom(String),
}

impl ser::Error for Error {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Error::Custom(msg.to_string())
    }
}
