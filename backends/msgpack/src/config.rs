//! Options of the msgpack backend.

use serde::{Deserialize, Serialize};

/// Options of the msgpack backend: the subset of the original's `MessagePackConfig` that has a
/// meaning in Rust (`default`, `object_hook` and friends are Python callables; `pack_encoding`
/// and `unicode_errors` are fixed to UTF-8 and strict).
///
/// Unknown option names are refused, naming the option.
///
/// ```
/// use bucketcache_msgpack::MsgpackConfig;
/// let c: MsgpackConfig = serde_json::from_str(r#"{"use_single_float": true}"#).unwrap();
/// assert!(c.use_single_float && c.use_bin_type);
/// assert!(serde_json::from_str::<MsgpackConfig>(r#"{"use_list": 1}"#).is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct MsgpackConfig {
    /// Write every float as float32 (`ca`), as Python's `use_single_float=True` does; `f64`
    /// values lose precision. Default false: `f32` and `f64` are both written as float64 (`cb`),
    /// as the original does.
    pub use_single_float: bool,
    /// Write byte strings with the bin family (`c4`-`c6`) and text with the str family including
    /// str8 (`d9`), as Python's `use_bin_type=True` (the original's default). False is the old
    /// "raw" mode: byte strings are written as str and str8 is never used.
    pub use_bin_type: bool,
}

impl Default for MsgpackConfig {
    fn default() -> Self {
        MsgpackConfig {
            use_single_float: false,
            use_bin_type: true,
        }
    }
}

impl MsgpackConfig {
    /// Sets `use_single_float`.
    pub fn use_single_float(mut self, yes: bool) -> Self {
        self.use_single_float = yes;
        self
    }
    /// Sets `use_bin_type`.
    pub fn use_bin_type(mut self, yes: bool) -> Self {
        self.use_bin_type = yes;
        self
    }
}
