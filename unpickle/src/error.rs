//! The crate's error type.

use std::fmt;

/// Why a pickle could not be written or read.
///
/// ```
/// use bucketcache_unpickle::PickleError;
/// let e = PickleError::Decode("unexpected end of input".into());
/// assert_eq!(e.to_string(), "invalid pickle: unexpected end of input");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PickleError {
    /// The bytes are not a pickle this reader accepts (corrupt, truncated, hostile, or holding an
    /// object other than the built-in types).
    #[error("invalid pickle: {0}")]
    Decode(String),
    /// The value cannot be written as a pickle.
    #[error("cannot pickle: {0}")]
    Encode(String),
    /// The pickle is valid but its value does not fit the requested Rust type.
    #[error("{0}")]
    Value(String),
}

impl PickleError {
    /// A decode error from anything printable.
    pub fn decode(msg: impl fmt::Display) -> Self {
        PickleError::Decode(msg.to_string())
    }
}

impl serde::ser::Error for PickleError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        PickleError::Encode(msg.to_string())
    }
}

impl serde::de::Error for PickleError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        PickleError::Value(msg.to_string())
    }
}
