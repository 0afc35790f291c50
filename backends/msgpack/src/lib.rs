//! MessagePack backend for bucketcache, byte-compatible with Python BucketCache's
//! `MessagePackBackend` (`.msgpack` files; a Python program reads what this writes and the
//! other way round).
//!
//! A file is a two-entry map: `{"value": V, "expiration_date": E}`, the value first, where `E`
//! is nil or the expiration as Python's `datetime.isoformat()` text (naive UTC). Values are
//! written as Python's `msgpack.Packer` writes them: smallest integers, float64, str for text
//! and bin for bytes, arrays for sequences and tuples, maps for maps and structs.
//!
//! How Rust values are written (and read back):
//!
//! | Rust (serde) | msgpack | Python reads |
//! |---|---|---|
//! | integers of any width | smallest of fixint, `cc`-`cf` (non-negative), `d0`-`d3` (negative); beyond 64 bits an encode error | `int` |
//! | `f32`, `f64` | float64 `cb` (float32 `ca` with `use_single_float`) | `float` |
//! | `str`, `String`, `char` | str family | `str` |
//! | `serde_bytes` byte strings | bin family (str without `use_bin_type`) | `bytes` |
//! | `Vec`, slices, tuples, tuple structs | array | `list` |
//! | maps, structs (fields by name, in declaration order) | map | `dict` |
//! | `None`, `()`, unit structs | nil | `None` |
//! | enums | a unit variant is its name; others `{name: data}` (as `serde_json`) | `str` / `dict` |
//!
//! Reading is strict where Python is and bounded everywhere: the envelope must be a map of
//! exactly those two keys (in any order), with nothing after it (Python: `ExtraData`); the
//! expiration must be nil or a naive ISO date (an offset is refused, where the original crashed);
//! values nest at most [`MAX_DEPTH`] levels; declared lengths beyond the input fail at once.
//! Files written by Python 2's BucketCache, where every string is bin, are read (Python 3's
//! BucketCache treats them as a miss); their text values decode into `String`.
//!
//! ```
//! use bucketcache_core::Backend;
//! use bucketcache_msgpack::MsgpackBackend;
//!
//! let backend = MsgpackBackend::default();
//! let bytes = (&backend as &dyn Backend).encode("this", None).unwrap();
//! assert_eq!(bytes, b"\x82\xa5value\xa4this\xafexpiration_date\xc0");
//! let v: String = (&backend as &dyn Backend).decode_value(&bytes).unwrap();
//! assert_eq!(v, "this");
//! ```
#![warn(missing_docs)]

use bucketcache_traits::registration::BackendCrate;
use bucketcache_traits::time::{parse_expiration, IsoText};
use bucketcache_traits::{Backend, BackendError, Decoded, Expiration, ValueLocation};

mod config;
mod decode;
mod encode;

pub use config::MsgpackConfig;

/// The registry name of this backend.
pub const NAME: &str = "msgpack";

/// The file extension (without the dot).
pub const EXTENSION: &str = "msgpack";

/// The original's class name, which enters Python-compatible file names.
pub const PYTHON_CLASS_NAME: &str = "MessagePackBackend";

/// The deepest nesting of arrays and maps a value may have. Deeper values are refused when
/// written and when read, so that no input can exhaust the stack.
pub const MAX_DEPTH: usize = 512;

/// The MessagePack backend.
///
/// ```
/// use bucketcache_msgpack::{MsgpackBackend, MsgpackConfig};
/// let b = MsgpackBackend::new(MsgpackConfig::default().use_single_float(true)).unwrap();
/// assert!(b.config().use_bin_type);
/// ```
#[derive(Debug, Clone, Default)]
pub struct MsgpackBackend {
    config: MsgpackConfig,
}

impl MsgpackBackend {
    /// A backend with these options (every combination is valid).
    pub fn new(config: MsgpackConfig) -> bucketcache_traits::Result<Self> {
        Ok(MsgpackBackend { config })
    }

    /// Its options.
    pub fn config(&self) -> &MsgpackConfig {
        &self.config
    }
}

impl Backend for MsgpackBackend {
    fn name(&self) -> &str {
        NAME
    }

    fn file_extension(&self) -> &str {
        EXTENSION
    }

    fn is_binary(&self) -> bool {
        true
    }

    fn python_class_name(&self) -> Option<&str> {
        Some(PYTHON_CLASS_NAME)
    }

    fn dump(
        &self,
        value: &dyn erased_serde::Serialize,
        expiration: Option<Expiration>,
        out: &mut Vec<u8>,
    ) -> Result<Option<ValueLocation>, BackendError> {
        let start = out.len();
        match write_envelope(self.config, value, expiration, out) {
            Ok(span) => Ok(Some(ValueLocation::MessagePack(span))),
            Err(e) => {
                // Leave the caller's buffer as it was.
                out.truncate(start);
                Err(BackendError::Encode(e.0))
            }
        }
    }

    fn decode(&self, bytes: &[u8]) -> Result<Decoded, BackendError> {
        // One bounded structural pass checks the whole envelope and finds the value's span; the
        // bucket then deserializes exactly that span into the caller's type.
        let env = decode::envelope(bytes).map_err(BackendError::Decode)?;
        let expiration = match env.expiration {
            None => None,
            Some(raw) => {
                let text = std::str::from_utf8(raw)
                    .map_err(|e| BackendError::Decode(format!("expiration_date: {e}")))?;
                Some(parse_expiration(text).ok_or_else(|| {
                    BackendError::Decode(format!(
                        "expiration_date {text:?} is not a naive ISO date and time"
                    ))
                })?)
            }
        };
        let start = env.value.as_ptr() as usize - bytes.as_ptr() as usize;
        Ok(Decoded::new(
            expiration,
            ValueLocation::MessagePack(start..start + env.value.len()),
        ))
    }

    fn may_begin_entry(&self, head: &[u8]) -> bool {
        // The envelope is a map of two entries: fixmap `82` (or, from lenient writers, map16/32).
        matches!(head.first(), None | Some(0x82 | 0xde | 0xdf))
    }
}

/// Writes the envelope; returns the span of the value in `out`.
fn write_envelope(
    config: MsgpackConfig,
    value: &dyn erased_serde::Serialize,
    expiration: Option<Expiration>,
    out: &mut Vec<u8>,
) -> Result<std::ops::Range<usize>, encode::EncodeError> {
    out.extend_from_slice(b"\x82\xa5value");
    let value_start = out.len();
    let mut enc = encode::Encoder::new(out, config);
    serde::Serialize::serialize(value, &mut enc)?;
    let value_end = enc.out.len();
    enc.str("expiration_date")?;
    match expiration {
        None => enc.out.push(0xc0),
        Some(e) => enc.str(IsoText::new(&e).as_str())?,
    }
    Ok(value_start..value_end)
}

impl BackendCrate for MsgpackBackend {
    const NAME: &'static str = NAME;
    const EXTENSION: &'static str = EXTENSION;
    const PYTHON_CLASS_NAME: Option<&'static str> = Some(PYTHON_CLASS_NAME);
    type Config = MsgpackConfig;
    fn new(config: MsgpackConfig) -> bucketcache_traits::Result<Self> {
        MsgpackBackend::new(config)
    }
}

bucketcache_traits::backend_crate!(MsgpackBackend);

#[cfg(test)]
mod tests;
