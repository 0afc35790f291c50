//! The `KeyMaker` trait: turns a key into the file name stem of its entry.

use std::fmt;

use crate::backend::Backend;
use crate::digest::Digest;

/// Why a key could not be hashed.
///
/// ```
/// use bucketcache_traits::KeyError;
/// let e = KeyError::Unsupported("map keys must be strings or numbers".into());
/// assert!(e.to_string().contains("map keys"));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The key holds something the keymaker cannot express (e.g. a map with composite keys).
    #[error("unsupported key: {0}")]
    Unsupported(String),
    /// The key's `Serialize` impl failed.
    #[error("key serialization failed: {0}")]
    Serialize(String),
}

impl serde::ser::Error for KeyError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        KeyError::Serialize(msg.to_string())
    }
}

/// Turns a key into a digest (lowercase hex), which names the entry's file: `<digest>.<ext>`.
///
/// Implementations must be deterministic across processes, platforms and releases: the digest is
/// a file name on disk. Equal keys must give equal digests whatever the in-memory order of their
/// maps.
///
/// ```
/// use bucketcache_traits::{Backend, KeyError, KeyMaker};
///
/// /// Names files by the key's `Debug`-free JSON text length. (A bad idea; a short example.)
/// #[derive(Debug)]
/// struct Length;
/// impl KeyMaker for Length {
///     fn name(&self) -> &str { "length" }
///     fn digest_len(&self) -> usize { 8 }
///     fn make_key(&self, key: &dyn erased_serde::Serialize, _: &dyn Backend) -> Result<String, KeyError> {
///         let text = serde_json::to_string(key).map_err(|e| KeyError::Serialize(e.to_string()))?;
///         Ok(format!("{:08x}", text.len()))
///     }
/// }
/// ```
pub trait KeyMaker: Send + Sync + fmt::Debug {
    /// The registry name, e.g. `default`.
    fn name(&self) -> &str;
    /// How many hex digits its digests have (64 for SHA-256, 32 for MD5): names of other
    /// lengths are not this keymaker's entries.
    fn digest_len(&self) -> usize;
    /// The digest of `key` for files of `backend`.
    fn make_key(
        &self,
        key: &dyn erased_serde::Serialize,
        backend: &dyn Backend,
    ) -> Result<String, KeyError>;

    /// The digest of `key` as a [`Digest`] (inline, `Copy`): what the bucket calls on every
    /// key. The default checks [`make_key`](Self::make_key)'s text; a keymaker that hashes
    /// itself overrides it with [`Digest::from_bytes`] and never allocates the text.
    fn make_digest(
        &self,
        key: &dyn erased_serde::Serialize,
        backend: &dyn Backend,
    ) -> Result<Digest, KeyError> {
        Digest::from_hex(&self.make_key(key, backend)?)
    }
}
