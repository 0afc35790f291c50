//! bucketcache-pyjson: JSON text identical, byte for byte, to Python's `json.dumps`.
//!
//! The original BucketCache names cache files with `json.dumps(key, sort_keys=True)` and writes
//! JSON cache files with `json.dump(...)`, so sharing a cache with Python needs Python's exact
//! text: `", "` and `": "` separators, `\uXXXX` escapes in lowercase hex with surrogate pairs
//! (`ensure_ascii`), Python's `float.__repr__` (`1e+16`, `1e-05`, `-0.0`), `NaN` and `Infinity`,
//! integers of any size, and object keys sorted (`sort_keys`) and coerced to strings the way
//! Python does (`1` → `"1"`, `True` → `"true"`, `None` → `"null"`). `serde_json` differs on
//! floats, escapes and key sorting, hence this serializer.
//!
//! The serializer streams into any [`std::io::Write`] (a file, a `Vec`, a hasher). Only a map whose
//! keys must be sorted is buffered, and only until that map ends: its entries are written into
//! one buffer per map, sorted, then copied out. Everything else is written as it is produced.
//!
//! ```
//! use bucketcache_pyjson::{to_string, PyJsonOptions};
//! use std::collections::HashMap;
//!
//! let key = HashMap::from([("z", vec![1.0, 1e16]), ("a", vec![1e-5, -0.0])]);
//! let text = to_string(&key, &PyJsonOptions::sorted()).unwrap();
//! assert_eq!(text, r#"{"a": [1e-05, -0.0], "z": [1.0, 1e+16]}"#);
//!
//! let text = to_string(&("värde ☃", 'x'), &PyJsonOptions::default()).unwrap();
//! assert_eq!(text, r#"["v\u00e4rde \u2603", "x"]"#);
//! ```
//!
//! Choices where Python has no answer (documented, deterministic):
//! * `f32` is widened to `f64` first (Python floats are doubles), so `0.1f32` writes
//!   `0.10000000149011612`.
//! * Bytes (`serialize_bytes`) cannot be written by Python's `json`. By default they are an
//!   error ([`Error::Bytes`]); with [`BytesPolicy::IntList`] they are written as a list of
//!   integers, i.e. exactly as a `Vec<u8>` would be. Bytes as a map key are always an error.
//! * Enums are externally tagged, as `serde_json` writes them: `"Unit"`, `{"Newtype": v}`,
//!   `{"Tuple": [a, b]}`, `{"Struct": {"f": v}}`. A unit variant used as a map key is its name.
//! * Sorting follows Python: string keys by code point, numeric keys (ints, floats, bools)
//!   numerically, and keys of different kinds in one map are an error ([`Error::MixedKeys`]), as
//!   `sorted()` raises `TypeError` in Python. A `NaN` key sorts after every other number.
//!
//! The crate is split as `serde_json` splits its own: `ser` holds [`PySerializer`] (serde's
//! side and the indentation), `keys` writes map keys and sorts them as Python does, `escape`
//! quotes strings, `float` and `int` write numbers, `error` holds [`Error`].
#![warn(missing_docs)]

use std::io::Write;

use serde::Serialize;

mod error;
mod escape;
mod float;
mod int;
mod keys;
mod ser;

pub use error::Error;
pub use ser::{Compound, PySerializer};

/// What to do with `serialize_bytes` (Python's `json` cannot encode bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum BytesPolicy {
    /// Refuse them with [`Error::Bytes`] (what Python does).
    #[default]
    Error,
    /// Write them as a list of integers, the same text as a `Vec<u8>`.
    IntList,
}

/// Options of [`to_writer`]: the `json.dumps` parameters that matter in Rust.
///
/// The [`Default`] is Python's `json.dumps` defaults: no sorting, `ensure_ascii=True`,
/// `indent=None`, `allow_nan=True`.
///
/// ```
/// use bucketcache_pyjson::{to_string, PyJsonOptions};
/// let opts = PyJsonOptions::default().indent(Some(2)).ensure_ascii(false);
/// assert_eq!(to_string(&["ä"], &opts).unwrap(), "[\n  \"ä\"\n]");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PyJsonOptions {
    /// Sort object keys (`sort_keys`).
    pub sort_keys: bool,
    /// Escape every non-ASCII character and DEL as `\uXXXX` (`ensure_ascii`).
    pub ensure_ascii: bool,
    /// Pretty-print with this many spaces per level (`indent`); the item separator then
    /// becomes `","` as in Python.
    pub indent: Option<usize>,
    /// Write `NaN`, `Infinity` and `-Infinity` (`allow_nan`); an error when false.
    pub allow_nan: bool,
    /// What to do with bytes.
    pub bytes: BytesPolicy,
    /// The deepest nesting of arrays and objects written (the outermost counts as 1); deeper is
    /// [`Error::TooDeep`]. `None` (the default, as Python's `json`) sets no limit. A writer
    /// whose text is read back by a reader with a recursion limit (`serde_json`: 128) sets it
    /// to that limit, so that nothing is written that cannot be read.
    pub max_depth: Option<usize>,
}

impl Default for PyJsonOptions {
    fn default() -> Self {
        PyJsonOptions {
            sort_keys: false,
            ensure_ascii: true,
            indent: None,
            allow_nan: true,
            bytes: BytesPolicy::Error,
            max_depth: None,
        }
    }
}

impl PyJsonOptions {
    /// `json.dumps(..., sort_keys=True)`: the original keymaker's text. Bytes are written as
    /// lists of integers so that any serde key has a canonical text.
    pub fn sorted() -> Self {
        PyJsonOptions {
            sort_keys: true,
            bytes: BytesPolicy::IntList,
            ..Self::default()
        }
    }
    /// Sets `sort_keys`.
    pub fn sort_keys(mut self, yes: bool) -> Self {
        self.sort_keys = yes;
        self
    }
    /// Sets `ensure_ascii`.
    pub fn ensure_ascii(mut self, yes: bool) -> Self {
        self.ensure_ascii = yes;
        self
    }
    /// Sets `indent`.
    pub fn indent(mut self, indent: Option<usize>) -> Self {
        self.indent = indent;
        self
    }
    /// Sets `allow_nan`.
    pub fn allow_nan(mut self, yes: bool) -> Self {
        self.allow_nan = yes;
        self
    }
    /// Sets `max_depth`.
    ///
    /// ```
    /// use bucketcache_pyjson::{to_string, Error, PyJsonOptions};
    /// let opts = PyJsonOptions::default().max_depth(Some(2));
    /// assert_eq!(to_string(&[[1]], &opts).unwrap(), "[[1]]");
    /// assert!(matches!(to_string(&[[[1]]], &opts), Err(Error::TooDeep(2))));
    /// ```
    pub fn max_depth(mut self, max_depth: Option<usize>) -> Self {
        self.max_depth = max_depth;
        self
    }
    /// Sets the bytes policy.
    pub fn bytes(mut self, policy: BytesPolicy) -> Self {
        self.bytes = policy;
        self
    }
}

/// Writes `value` as Python JSON into `writer`.
///
/// ```
/// use bucketcache_pyjson::{to_writer, PyJsonOptions};
/// let mut out = Vec::new();
/// to_writer(&mut out, &(1u128 << 100), &PyJsonOptions::default()).unwrap();
/// assert_eq!(out, b"1267650600228229401496703205376");
/// ```
pub fn to_writer<W: Write, T: Serialize + ?Sized>(
    writer: W,
    value: &T,
    opts: &PyJsonOptions,
) -> Result<(), Error> {
    value.serialize(&mut PySerializer::new(writer, opts))
}

/// Python JSON of `value` as bytes.
pub fn to_vec<T: Serialize + ?Sized>(value: &T, opts: &PyJsonOptions) -> Result<Vec<u8>, Error> {
    let mut out = Vec::with_capacity(64);
    to_writer(&mut out, value, opts)?;
    Ok(out)
}

/// Python JSON of `value` as a string.
pub fn to_string<T: Serialize + ?Sized>(value: &T, opts: &PyJsonOptions) -> Result<String, Error> {
    let bytes = to_vec(value, opts)?;
    // Only `&str` input and ASCII text are ever written, so this cannot fail.
    String::from_utf8(bytes).map_err(|e| Error::Custom(e.to_string()))
}

#[cfg(test)]
mod tests;
