//! The `Backend` trait: a serialization format for cache files.
//!
//! Every cache file holds an *envelope*: the value and its expiration (the original's
//! `{"value": v, "expiration_date": e}`). A backend writes the envelope straight from the value's
//! `Serialize` impl (no intermediate tree) and reads it in two steps, so that expiry can be
//! decided — and `prune` can run — without decoding the value into a Rust type:
//!
//! 1. [`Backend::load_expiration`] checks the envelope and returns the expiration;
//! 2. [`Backend::load_value`] hands the value out through an `erased_serde` deserializer.

use std::fmt;
use std::sync::Arc;

use serde::de::DeserializeOwned;

use crate::time::Expiration;

/// Why a backend could not encode or decode an envelope.
///
/// ```
/// use bucketcache_core::BackendError;
/// let e = BackendError::decode("unexpected end of input");
/// assert_eq!(e.to_string(), "cannot decode: unexpected end of input");
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BackendError {
    /// The bytes are not a valid envelope of this format (corrupt, truncated, foreign).
    #[error("cannot decode: {0}")]
    Decode(String),
    /// The envelope is valid but the value does not fit the requested type.
    #[error("value does not fit the requested type: {0}")]
    WrongType(String),
    /// The value cannot be expressed in this format.
    #[error("cannot encode: {0}")]
    Encode(String),
    /// The backend misbehaved (panicked, returned garbage); reported by wrappers such as the
    /// plugin host.
    #[error("backend failure: {0}")]
    Failure(String),
}

impl BackendError {
    /// A decode error from anything printable.
    pub fn decode(e: impl fmt::Display) -> Self {
        BackendError::Decode(e.to_string())
    }
    /// An encode error from anything printable.
    pub fn encode(e: impl fmt::Display) -> Self {
        BackendError::Encode(e.to_string())
    }
}

/// Receives the value of an envelope as a deserializer. Returning an error means the value does
/// not fit the caller's type.
pub type ValueVisitor<'v> =
    dyn FnMut(&mut dyn erased_serde::Deserializer<'_>) -> Result<(), erased_serde::Error> + 'v;

/// A serialization format for cache files. Object safe; shared as `Arc<dyn Backend>`.
///
/// Implementations must be deterministic, must never panic on any input to the `load_*`
/// methods, and must reject (with [`BackendError::Decode`]) every strict prefix of what they
/// write. The registry checks these rules (the original's `check_concrete`, done properly) when a
/// backend enters it.
///
/// ```
/// use bucketcache_core::{Backend, BackendError, Expiration, ValueVisitor};
///
/// /// A toy format: JSON lines, the expiration first.
/// #[derive(Debug)]
/// struct Lines;
///
/// impl Backend for Lines {
///     fn name(&self) -> &str { "lines" }
///     fn file_extension(&self) -> &str { "lines" }
///     fn is_binary(&self) -> bool { false }
///     fn dump(&self, value: &dyn erased_serde::Serialize, expiration: Option<Expiration>,
///             out: &mut Vec<u8>) -> Result<(), BackendError> {
///         let e = expiration.map(|e| bucketcache_core::time::format_expiration(&e));
///         serde_json::to_writer(&mut *out, &e).map_err(BackendError::encode)?;
///         out.push(b'\n');
///         serde_json::to_writer(&mut *out, value).map_err(BackendError::encode)?;
///         out.push(b'\n');
///         Ok(())
///     }
///     fn load_expiration(&self, bytes: &[u8]) -> Result<Option<Expiration>, BackendError> {
///         let mut lines = bytes.split(|b| *b == b'\n');
///         let e: Option<String> = serde_json::from_slice(lines.next().unwrap_or_default())
///             .map_err(BackendError::decode)?;
///         let e = match e {
///             None => None,
///             Some(text) => Some(bucketcache_core::time::parse_expiration(&text)
///                 .ok_or_else(|| BackendError::decode("bad expiration"))?),
///         };
///         serde_json::from_slice::<serde::de::IgnoredAny>(lines.next().unwrap_or_default())
///             .map_err(BackendError::decode)?;
///         if !bytes.ends_with(b"\n") { return Err(BackendError::decode("truncated")); }
///         Ok(e)
///     }
///     fn load_value(&self, bytes: &[u8], visit: &mut ValueVisitor<'_>) -> Result<(), BackendError> {
///         let line = bytes.split(|b| *b == b'\n').nth(1).unwrap_or_default();
///         let mut de = serde_json::Deserializer::from_slice(line);
///         visit(&mut <dyn erased_serde::Deserializer>::erase(&mut de))
///             .map_err(|e| BackendError::WrongType(e.to_string()))
///     }
/// }
///
/// let mut out = Vec::new();
/// Lines.dump(&vec![1, 2], None, &mut out).unwrap();
/// let v: Vec<u32> = (&Lines as &dyn Backend).decode_value(&out).unwrap();
/// assert_eq!(v, [1, 2]);
/// ```
pub trait Backend: Send + Sync + fmt::Debug {
    /// The registry name: lowercase `[a-z0-9_-]+`, e.g. `json`.
    fn name(&self) -> &str;
    /// The file extension without the dot, `[A-Za-z0-9]+`, e.g. `json`.
    fn file_extension(&self) -> &str;
    /// Whether files are binary (true) or text.
    fn is_binary(&self) -> bool;
    /// The Python class name the original uses in file names (`JSONBackend`, ...), if this format
    /// is shared with Python BucketCache.
    fn python_class_name(&self) -> Option<&str> {
        None
    }
    /// Encodes the envelope `{value, expiration}` into `out` (appending).
    fn dump(
        &self,
        value: &dyn erased_serde::Serialize,
        expiration: Option<Expiration>,
        out: &mut Vec<u8>,
    ) -> Result<(), BackendError>;
    /// Checks that `bytes` hold a whole, valid envelope and returns its expiration.
    fn load_expiration(&self, bytes: &[u8]) -> Result<Option<Expiration>, BackendError>;
    /// Hands the envelope's value to `visit` as a deserializer.
    fn load_value(&self, bytes: &[u8], visit: &mut ValueVisitor<'_>) -> Result<(), BackendError>;

    /// Where the envelope's value sits in `bytes` when it is plain MessagePack or JSON text.
    ///
    /// Optional, for speed: the bucket then deserializes the value straight into the caller's
    /// type, without the cost of type erasure (about three times faster for small structs), and
    /// falls back to [`load_value`](Self::load_value) if that fails. Return `None` (the default)
    /// whenever `load_value` would do anything else than deserialize exactly that span.
    fn value_span(&self, bytes: &[u8]) -> Option<ValueSpan> {
        let _ = bytes;
        None
    }
}

/// The position and format of an envelope's value, see [`Backend::value_span`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ValueSpan {
    /// MessagePack, as `rmp_serde` reads it (structs as maps).
    MessagePack(std::ops::Range<usize>),
    /// JSON text, as `serde_json` reads it.
    Json(std::ops::Range<usize>),
}

impl<'b> dyn Backend + 'b {
    /// Encodes `value` with `expiration` into a fresh buffer.
    pub fn encode<V: serde::Serialize + ?Sized>(
        &self,
        value: &V,
        expiration: Option<Expiration>,
    ) -> Result<Vec<u8>, BackendError> {
        let mut out = Vec::with_capacity(128);
        self.dump(&Sized_(value), expiration, &mut out)?;
        Ok(out)
    }

    /// Decodes the value of an envelope into `V`.
    pub fn decode_value<V: DeserializeOwned>(&self, bytes: &[u8]) -> Result<V, BackendError> {
        let span = self.value_span(bytes);
        self.decode_value_at(bytes, span.as_ref())
    }

    /// Decodes the value of an envelope into `V`, with its span already known (see
    /// [`Backend::value_span`]).
    pub fn decode_value_at<V: DeserializeOwned>(
        &self,
        bytes: &[u8],
        span: Option<&ValueSpan>,
    ) -> Result<V, BackendError> {
        let direct = match span {
            Some(ValueSpan::MessagePack(r)) => bytes
                .get(r.clone())
                .and_then(|b| rmp_serde::from_slice::<V>(b).ok()),
            Some(ValueSpan::Json(r)) => bytes
                .get(r.clone())
                .and_then(|b| serde_json::from_slice::<V>(b).ok()),
            None => None,
        };
        if let Some(value) = direct {
            return Ok(value);
        }
        let mut slot: Option<V> = None;
        self.load_value(bytes, &mut |de| {
            slot = Some(erased_serde::deserialize::<V>(de)?);
            Ok(())
        })?;
        slot.ok_or_else(|| BackendError::Failure("backend did not hand out the value".into()))
    }
}

/// Lets a `?Sized` serializable (like `str`) be used as `&dyn erased_serde::Serialize`.
pub(crate) struct Sized_<'a, T: ?Sized>(pub &'a T);

impl<T: serde::Serialize + ?Sized> serde::Serialize for Sized_<'_, T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

/// A shared backend.
pub type SharedBackend = Arc<dyn Backend>;
