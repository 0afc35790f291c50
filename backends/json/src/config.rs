//! The JSON backend's options.

use bucketcache_pyjson::PyJsonOptions;
use serde::{Deserialize, Serialize};

/// Options of the JSON backend: the `json.dump` parameters of the original's `JSONConfig` that
/// mean something in Rust. The defaults write exactly what the original writes.
///
/// Unknown option names are refused:
///
/// ```
/// use bucketcache_json::JsonConfig;
/// let opts = serde_json::json!({"indent": 2, "sort_keys": true});
/// let cfg: JsonConfig = bucketcache_core::registry::options("json", &opts).unwrap();
/// assert_eq!(cfg.indent, Some(2));
/// assert!(cfg.ensure_ascii);
///
/// let bad = serde_json::json!({"indnet": 2});
/// let err = bucketcache_core::registry::options::<JsonConfig>("json", &bad).unwrap_err();
/// assert!(err.to_string().contains("indnet"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct JsonConfig {
    /// Pretty-print with this many spaces per level (Python `indent`); `None` writes one line.
    pub indent: Option<usize>,
    /// Sort object keys, the envelope's included (Python `sort_keys`; default false).
    pub sort_keys: bool,
    /// Escape non-ASCII characters as `\uXXXX` (Python `ensure_ascii`; default true).
    pub ensure_ascii: bool,
    /// Write `NaN` and `Infinity` (Python `allow_nan`; default true). When false, such a value
    /// cannot be stored.
    pub allow_nan: bool,
}

impl Default for JsonConfig {
    fn default() -> Self {
        JsonConfig {
            indent: None,
            sort_keys: false,
            ensure_ascii: true,
            allow_nan: true,
        }
    }
}

impl JsonConfig {
    /// Sets `indent`.
    pub fn indent(mut self, indent: Option<usize>) -> Self {
        self.indent = indent;
        self
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
    /// Sets `allow_nan`.
    pub fn allow_nan(mut self, yes: bool) -> Self {
        self.allow_nan = yes;
        self
    }

    /// The serializer options these settings mean (bytes are refused, as in Python).
    pub fn pyjson_options(&self) -> PyJsonOptions {
        PyJsonOptions::default()
            .indent(self.indent)
            .sort_keys(self.sort_keys)
            .ensure_ascii(self.ensure_ascii)
            .allow_nan(self.allow_nan)
    }
}
