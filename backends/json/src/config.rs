//! The JSON backend's options.

use bucketcache_pyjson::PyJsonOptions;
use serde::{Deserialize, Serialize};

/// The largest `indent` accepted: deeper indentation only makes files larger (an indent of
/// 10⁸ turned `[[1,2],[3]]` into a file of gigabytes).
pub const MAX_INDENT: usize = 64;

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
    /// Pretty-print with this many spaces per level (Python `indent`), 0 to [`MAX_INDENT`];
    /// `None` writes one line.
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

    /// Checks that every option is within its range: `indent` is at most [`MAX_INDENT`]. The
    /// message names the option and the range.
    ///
    /// ```
    /// use bucketcache_json::JsonConfig;
    /// assert!(JsonConfig::default().indent(Some(64)).validate().is_ok());
    /// let err = JsonConfig::default().indent(Some(100_000_000)).validate().unwrap_err();
    /// assert_eq!(err, "indent = 100000000 is out of range: it must be 0 to 64 (or absent)");
    /// ```
    pub fn validate(&self) -> Result<(), String> {
        match self.indent {
            Some(i) if i > MAX_INDENT => Err(format!(
                "indent = {i} is out of range: it must be 0 to {MAX_INDENT} (or absent)"
            )),
            _ => Ok(()),
        }
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
