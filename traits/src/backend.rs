//! The `Backend` trait: a serialization format for cache entries.
//!
//! Every entry holds an *envelope*: the value and its expiration (the original's
//! `{"value": v, "expiration_date": e}`). A backend writes the envelope straight from the value's
//! `Serialize` impl (no intermediate tree) and reads it in **one** call, [`Backend::decode`],
//! which checks the whole envelope, returns its expiration and says where the value is
//! ([`ValueLocation`]). The bucket then deserializes the value into the caller's type — straight
//! from the bytes when the value is plain MessagePack or JSON text, through `erased_serde`
//! otherwise. Expiry can so be decided (and `prune` can run) without building the value.

use std::fmt;
use std::ops::Range;
use std::sync::Arc;

use serde::de::DeserializeOwned;

use crate::time::Expiration;

/// Why a backend could not encode or decode an envelope.
///
/// ```
/// use bucketcache_traits::BackendError;
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

/// Receives a value as a deserializer. Returning an error means the value does not fit the
/// caller's type.
pub type ValueVisitor<'v> =
    dyn FnMut(&mut dyn erased_serde::Deserializer<'_>) -> Result<(), erased_serde::Error> + 'v;

/// A value a backend decoded into a structure of its own (a pickle's objects, say), which hands
/// itself out as a deserializer as often as asked.
pub trait ValueTree: Send + Sync + fmt::Debug {
    /// Hands the value to `visit`.
    fn visit(&self, visit: &mut ValueVisitor<'_>) -> Result<(), erased_serde::Error>;
}

/// The former name of [`ValueLocation`] (it names where a value is, not a value).
#[deprecated(since = "0.3.0", note = "renamed `ValueLocation`")]
pub type StoredValue = ValueLocation;

/// Where an envelope's value is, as [`Backend::decode`] found it (or [`Backend::dump`] wrote it).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum ValueLocation {
    /// MessagePack, as `rmp_serde` reads it, at this span of the envelope's bytes.
    MessagePack(Range<usize>),
    /// JSON text, as `serde_json` reads it, at this span of the envelope's bytes.
    Json(Range<usize>),
    /// MessagePack bytes of its own (a plugin's value, transcoded at its boundary).
    OwnedMessagePack(Arc<[u8]>),
    /// A structure the backend built while decoding.
    Tree(Arc<dyn ValueTree>),
    /// A decoded pickle's value (the `pickle` backend), deserialized straight into the
    /// caller's type; its strs and bytes are spans of the envelope's bytes.
    Pickle(Arc<bucketcache_unpickle::Unpickled>),
}

/// A checked envelope: its expiration and where its value is.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Decoded {
    /// When the entry expires (`None`: never).
    pub expiration: Option<Expiration>,
    /// The value.
    pub value: ValueLocation,
}

impl Decoded {
    /// An envelope with this expiration and value.
    pub fn new(expiration: Option<Expiration>, value: ValueLocation) -> Self {
        Decoded { expiration, value }
    }

    /// Deserializes the value into `V`; `bytes` are the envelope this was decoded from.
    pub fn value<V: DeserializeOwned>(&self, bytes: &[u8]) -> Result<V, BackendError> {
        self.value.deserialize(bytes)
    }
}

impl ValueLocation {
    /// Deserializes the value into `V`; `bytes` are the envelope it was located in.
    pub fn deserialize<V: DeserializeOwned>(&self, bytes: &[u8]) -> Result<V, BackendError> {
        let wrong = |e: &dyn fmt::Display| BackendError::WrongType(e.to_string());
        let span = |r: &Range<usize>| {
            bytes.get(r.clone()).ok_or_else(|| {
                BackendError::Failure("the value's span is outside the entry".into())
            })
        };
        match self {
            ValueLocation::MessagePack(r) => rmp_serde::from_slice(span(r)?).map_err(|e| wrong(&e)),
            ValueLocation::Json(r) => serde_json::from_slice(span(r)?).map_err(|e| wrong(&e)),
            ValueLocation::OwnedMessagePack(b) => rmp_serde::from_slice(b).map_err(|e| wrong(&e)),
            ValueLocation::Pickle(p) => p.deserialize(bytes).map_err(|e| wrong(&e)),
            ValueLocation::Tree(tree) => {
                let mut slot: Option<V> = None;
                tree.visit(&mut |de| {
                    slot = Some(erased_serde::deserialize::<V>(de)?);
                    Ok(())
                })
                .map_err(|e| wrong(&e))?;
                slot.ok_or_else(|| {
                    BackendError::Failure("the value tree handed out nothing".into())
                })
            }
        }
    }
}

/// How many leading bytes of a file [`Backend::may_begin_entry`] is shown.
pub const HEAD_LEN: usize = 16;

/// A serialization format for cache entries. Object safe; shared as `Arc<dyn Backend>`.
///
/// Implementations must be deterministic, must never panic on any input to
/// [`decode`](Self::decode), and must reject (with [`BackendError::Decode`]) every strict prefix
/// of what they write. The registry checks these rules (the original's `check_concrete`, done
/// properly) when a backend enters it.
///
/// ```
/// use bucketcache_traits::{Backend, BackendError, Decoded, Expiration, ValueLocation};
///
/// /// A toy format: the expiration as a JSON line, then the value as a JSON line.
/// #[derive(Debug)]
/// struct Lines;
///
/// impl Backend for Lines {
///     fn name(&self) -> &str { "lines" }
///     fn file_extension(&self) -> &str { "lines" }
///     fn is_binary(&self) -> bool { false }
///     fn dump(&self, value: &dyn erased_serde::Serialize, expiration: Option<Expiration>,
///             out: &mut Vec<u8>) -> Result<Option<ValueLocation>, BackendError> {
///         let e = expiration.map(|e| bucketcache_traits::time::format_expiration(&e));
///         serde_json::to_writer(&mut *out, &e).map_err(BackendError::encode)?;
///         out.push(b'\n');
///         let start = out.len();
///         serde_json::to_writer(&mut *out, value).map_err(BackendError::encode)?;
///         let end = out.len();
///         out.push(b'\n');
///         Ok(Some(ValueLocation::Json(start..end)))
///     }
///     fn decode(&self, bytes: &[u8]) -> Result<Decoded, BackendError> {
///         let text = bytes.strip_suffix(b"\n").ok_or_else(|| BackendError::decode("truncated"))?;
///         let newline = text.iter().position(|b| *b == b'\n')
///             .ok_or_else(|| BackendError::decode("one line only"))?;
///         let e: Option<String> = serde_json::from_slice(&text[..newline])
///             .map_err(BackendError::decode)?;
///         let expiration = match e {
///             None => None,
///             Some(t) => Some(bucketcache_traits::time::parse_expiration(&t)
///                 .ok_or_else(|| BackendError::decode("bad expiration"))?),
///         };
///         serde_json::from_slice::<serde::de::IgnoredAny>(&text[newline + 1..])
///             .map_err(BackendError::decode)?;
///         Ok(Decoded::new(expiration, ValueLocation::Json(newline + 1..text.len())))
///     }
/// }
///
/// let lines: &dyn Backend = &Lines;
/// let bytes = lines.encode(&vec![1, 2], None).unwrap();
/// let v: Vec<u32> = lines.decode_value(&bytes).unwrap();
/// assert_eq!(v, [1, 2]);
/// assert!(lines.decode(&bytes[..bytes.len() - 1]).is_err());
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
    /// Encodes the envelope `{value, expiration}` into `out` (appending; on error `out` is left
    /// as it was). Returns where the value is in what was written when the backend knows it
    /// cheaply, so that a bucket can answer reads of what it just wrote without decoding it
    /// back; `None` makes the bucket decode it once, on its first read.
    fn dump(
        &self,
        value: &dyn erased_serde::Serialize,
        expiration: Option<Expiration>,
        out: &mut Vec<u8>,
    ) -> Result<Option<ValueLocation>, BackendError>;
    /// Checks that `bytes` hold a whole, valid envelope, in one pass, and returns its expiration
    /// and where its value is.
    fn decode(&self, bytes: &[u8]) -> Result<Decoded, BackendError>;
    /// Whether a file starting with `head` (its first [`HEAD_LEN`] bytes, fewer for a shorter
    /// file) may be an entry of this format. Answering `false` makes the file a miss without the
    /// rest being read, which is what keeps a huge foreign file from being loaded; the default
    /// answers `true` (the whole file is read and decoded).
    fn may_begin_entry(&self, head: &[u8]) -> bool {
        let _ = head;
        true
    }
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

    /// Decodes the envelope in `bytes` and its value into `V`.
    pub fn decode_value<V: DeserializeOwned>(&self, bytes: &[u8]) -> Result<V, BackendError> {
        self.decode(bytes)?.value(bytes)
    }
}

/// Lets a `?Sized` serializable (like `str`) be used as `&dyn erased_serde::Serialize`.
#[doc(hidden)]
pub struct Sized_<'a, T: ?Sized>(pub &'a T);

impl<T: serde::Serialize + ?Sized> serde::Serialize for Sized_<'_, T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}
