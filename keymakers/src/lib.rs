//! Keymakers for bucketcache: they turn a key into the digest that names its file.
//!
//! Three keymakers, registered by name:
//!
//! | name | digest | use |
//! |---|---|---|
//! | `default` ([`DefaultKeyMaker`]) | SHA-256 hex of the key's canonical JSON | the default |
//! | `streaming` ([`StreamingKeyMaker`]) | the same digest, without buffering the key's text | huge keys |
//! | `python` ([`PythonKeyMaker`]) | md5 hex of the backend's Python class name and the canonical JSON | caches shared with Python BucketCache 0.12.1 |
//!
//! The canonical JSON is exactly Python's `json.dumps(key, sort_keys=True)` (see
//! [`bucketcache_pyjson`]): map keys sorted, so equal maps give equal digests whatever
//! their in-memory order; a tuple and a list with the same items give the same text; `{1: 2}`
//! and `{"1": 2}` too; a struct hashes as its serde map.
//!
//! ```
//! use bucketcache_keymakers::{key_bytes, DefaultKeyMaker, StreamingKeyMaker};
//! use std::collections::HashMap;
//!
//! assert_eq!(key_bytes(&(1, "a")).unwrap(), br#"[1, "a"]"#);
//! let a = DefaultKeyMaker.digest(&HashMap::from([("x", 1), ("y", 2)])).unwrap();
//! let b = StreamingKeyMaker.digest(&HashMap::from([("y", 2), ("x", 1)])).unwrap();
//! assert_eq!(a, b);
//! assert_eq!(a.len(), 64);
//! ```
#![warn(missing_docs)]

use std::io::Write;
use std::sync::Arc;

use bucketcache_pyjson::{self as pyjson, PyJsonOptions};
use bucketcache_traits::registration::{self, KeyMakerRegistration};
use bucketcache_traits::{Backend, Digest as EntryDigest, KeyError, KeyMaker};
use md5::Md5;
use sha2::{Digest, Sha256};

/// Registry name of [`DefaultKeyMaker`].
pub const DEFAULT: &str = "default";
/// Registry name of [`StreamingKeyMaker`].
pub const STREAMING: &str = "streaming";
/// Registry name of [`PythonKeyMaker`].
pub const PYTHON: &str = "python";

/// The `KeyMaker` impl of a SHA-256 keymaker whose inherent `digest` hashes a key (the two
/// differ only in how the key's text reaches the hasher).
macro_rules! sha256_keymaker {
    ($keymaker:ty, $name:expr) => {
        impl KeyMaker for $keymaker {
            fn name(&self) -> &str {
                $name
            }
            fn digest_len(&self) -> usize {
                64
            }
            fn make_key(
                &self,
                key: &dyn erased_serde::Serialize,
                _backend: &dyn Backend,
            ) -> Result<String, KeyError> {
                Ok(self.digest(key)?.into())
            }
            fn make_digest(
                &self,
                key: &dyn erased_serde::Serialize,
                _backend: &dyn Backend,
            ) -> Result<EntryDigest, KeyError> {
                self.digest(key)
            }
        }
    };
}

fn options() -> PyJsonOptions {
    PyJsonOptions::sorted()
}

fn key_error(e: pyjson::Error) -> KeyError {
    match e {
        pyjson::Error::Custom(m) => KeyError::Serialize(m),
        pyjson::Error::Io(e) => KeyError::Serialize(e.to_string()),
        other => KeyError::Unsupported(other.to_string()),
    }
}

/// The canonical bytes of a key: Python's `json.dumps(key, sort_keys=True).encode()`.
///
/// Bytes (`serialize_bytes`) are written as a list of integers, like a `Vec<u8>`; map keys must
/// be strings, numbers, bools or unit, and must not mix strings with numbers (Python cannot sort
/// those either).
///
/// ```
/// use std::collections::BTreeMap;
/// let key = BTreeMap::from([(10, "a"), (9, "b")]);
/// assert_eq!(bucketcache_keymakers::key_bytes(&key).unwrap(), br#"{"9": "b", "10": "a"}"#);
/// ```
pub fn key_bytes<K: serde::Serialize + ?Sized>(key: &K) -> Result<Vec<u8>, KeyError> {
    pyjson::to_vec(key, &options()).map_err(key_error)
}

/// The file stem the original gives `key` under the backend class `python_class_name`:
/// `md5(class_name + json.dumps(key, sort_keys=True))` in hex.
///
/// ```
/// let stem = bucketcache_keymakers::python_digest("PickleBackend", "my key").unwrap();
/// assert_eq!(stem, "e8ca20595b872cbe121dea86174c7925");
/// ```
pub fn python_digest<K: serde::Serialize + ?Sized>(
    python_class_name: &str,
    key: &K,
) -> Result<EntryDigest, KeyError> {
    let mut hasher = Md5::new();
    hasher.update(python_class_name.as_bytes());
    pyjson::to_writer(&mut hasher, key, &options()).map_err(key_error)?;
    Ok(EntryDigest::from_bytes(&hasher.finalize()))
}

/// SHA-256 (hex) of the key's canonical JSON ([`key_bytes`]), computed over the whole text.
///
/// ```
/// use bucketcache_keymakers::DefaultKeyMaker;
/// // sha256(b'"my key"')
/// assert_eq!(
///     DefaultKeyMaker.digest("my key").unwrap(),
///     "a37a6ddfc2b93ab101c509e812cc32b1572b6955cb5143d1c718a47b0c582d0c"
/// );
/// ```
#[derive(Debug, Default, Clone, Copy)]
pub struct DefaultKeyMaker;

impl DefaultKeyMaker {
    /// The digest of `key`.
    pub fn digest<K: serde::Serialize + ?Sized>(&self, key: &K) -> Result<EntryDigest, KeyError> {
        thread_local! {
            // The key's text is written into one buffer per thread (kept up to 4 KiB):
            // a key is hashed on every get, and this keeps the allocator off that path.
            static TEXT: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
        }
        TEXT.with(|text| {
            let Ok(mut text) = text.try_borrow_mut() else {
                // Re-entered from a key's own `Serialize` (which hashes another key): its own buffer.
                return Ok(EntryDigest::from_bytes(&Sha256::digest(key_bytes(key)?)));
            };
            text.clear();
            let written = pyjson::to_writer(&mut *text, key, &options()).map_err(key_error);
            let digest = written.map(|()| EntryDigest::from_bytes(&Sha256::digest(&*text)));
            if text.capacity() > 4096 {
                *text = Vec::new();
            }
            digest
        })
    }
}

sha256_keymaker!(DefaultKeyMaker, DEFAULT);

/// The same digest as [`DefaultKeyMaker`], with the key's text streamed straight into the
/// hasher: memory stays constant whatever the size of the key, except that a map (or struct)
/// is buffered until it ends, because its entries must be sorted before they are hashed. Keys
/// that are long lists or long strings are never held in memory as text.
///
/// ```
/// use bucketcache_keymakers::{DefaultKeyMaker, StreamingKeyMaker};
/// let key = (0..10_000).collect::<Vec<u32>>();
/// assert_eq!(StreamingKeyMaker.digest(&key).unwrap(), DefaultKeyMaker.digest(&key).unwrap());
/// ```
#[derive(Debug, Default, Clone, Copy)]
pub struct StreamingKeyMaker;

impl StreamingKeyMaker {
    /// The digest of `key`.
    pub fn digest<K: serde::Serialize + ?Sized>(&self, key: &K) -> Result<EntryDigest, KeyError> {
        let mut hasher = Sha256::new();
        // The hasher buffers whole blocks itself; small writes are cheap.
        pyjson::to_writer(&mut hasher, key, &options()).map_err(key_error)?;
        hasher
            .flush()
            .map_err(|e| KeyError::Serialize(e.to_string()))?;
        Ok(EntryDigest::from_bytes(&hasher.finalize()))
    }
}

sha256_keymaker!(StreamingKeyMaker, STREAMING);

/// Names files exactly as Python BucketCache 0.12.1 does: md5 (hex) over the backend's Python
/// class name (`JSONBackend`, `MessagePackBackend`, `PickleBackend`) followed by the key's
/// `json.dumps(key, sort_keys=True)` bytes, streamed into the hasher. A backend without a
/// Python class name cannot be used ([`KeyError::Unsupported`]).
///
/// Only keys that JSON can express name the same file as in Python (str, numbers, bool, None,
/// lists/tuples, maps with string or number keys); the original hashed other objects through
/// their `__dict__` or `repr`, which has no Rust counterpart.
#[derive(Debug, Default, Clone, Copy)]
pub struct PythonKeyMaker;

impl KeyMaker for PythonKeyMaker {
    fn name(&self) -> &str {
        PYTHON
    }
    fn digest_len(&self) -> usize {
        32
    }
    fn make_key(
        &self,
        key: &dyn erased_serde::Serialize,
        backend: &dyn Backend,
    ) -> Result<String, KeyError> {
        Ok(self.make_digest(key, backend)?.into())
    }
    fn make_digest(
        &self,
        key: &dyn erased_serde::Serialize,
        backend: &dyn Backend,
    ) -> Result<EntryDigest, KeyError> {
        let class = backend.python_class_name().ok_or_else(|| {
            KeyError::Unsupported(format!(
                "backend {:?} has no Python class name, so it cannot name files as Python BucketCache does",
                backend.name()
            ))
        })?;
        python_digest(class, key)
    }
}

fn default_factory() -> Arc<dyn KeyMaker> {
    Arc::new(DefaultKeyMaker)
}

fn streaming_factory() -> Arc<dyn KeyMaker> {
    Arc::new(StreamingKeyMaker)
}

fn python_factory() -> Arc<dyn KeyMaker> {
    Arc::new(PythonKeyMaker)
}

const ORIGIN: &str = env!("CARGO_PKG_NAME");

inventory::submit! {
    KeyMakerRegistration { name: DEFAULT, origin: ORIGIN, factory: default_factory }
}
inventory::submit! {
    KeyMakerRegistration { name: STREAMING, origin: ORIGIN, factory: streaming_factory }
}
inventory::submit! {
    KeyMakerRegistration { name: PYTHON, origin: ORIGIN, factory: python_factory }
}

/// Registers the three keymakers explicitly (they also register themselves through
/// `inventory`). Calling it again is harmless.
///
/// ```
/// bucketcache_keymakers::register().unwrap();
/// bucketcache_keymakers::register().unwrap();
/// let names = bucketcache_core::registry::keymakers();
/// assert!(["default", "streaming", "python"].iter().all(|n| names.iter().any(|m| m == n)));
/// ```
pub fn register() -> bucketcache_traits::Result<()> {
    registration::register_keymaker(DEFAULT, ORIGIN, default_factory)?;
    registration::register_keymaker(STREAMING, ORIGIN, streaming_factory)?;
    registration::register_keymaker(PYTHON, ORIGIN, python_factory)?;
    Ok(())
}

#[cfg(test)]
mod tests;
