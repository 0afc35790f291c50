//! The `Bucket`: a directory of cache files that behaves like a map with an optional lifetime.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::backend::{Backend, Sized_, ValueSpan};
use crate::builder::BucketBuilder;
use crate::config::BucketConfig;
use crate::error::{Error, Result};
use crate::keymaker::KeyMaker;
use crate::store::Storage;
use crate::time::{add_lifetime, Clock, Expiration};
use crate::validate::shielded;

/// What [`Bucket::prune`] removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pruned {
    /// Number of files removed (expired entries and temporary files of dead writers).
    pub files: usize,
    /// Their total size in bytes.
    pub bytes: u64,
}

/// The in-memory layer: digest → entry.
pub(crate) type Memory = HashMap<String, Entry, BuildHasherDefault<DigestHasher>>;

/// Digests are already well mixed: a multiply-rotate over 8-byte words (FxHash's scheme) is
/// enough for the map and several times cheaper than SipHash on a 64-character key.
#[derive(Default)]
pub(crate) struct DigestHasher(u64);

impl Hasher for DigestHasher {
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x517c_c1b7_2722_0a95;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let word = u64::from_le_bytes(c.try_into().unwrap_or_default());
            self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(K);
        }
        for &b in chunks.remainder() {
            self.0 = (self.0.rotate_left(5) ^ u64::from(b)).wrapping_mul(K);
        }
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

/// A live entry: its encoded bytes (exactly the file's content) and its expiration.
///
/// The in-memory layer holds the encoded envelope rather than a decoded value: it mirrors the
/// file, it is decoded into whatever type the reader asks for, and a write that fails to encode
/// never touches it.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub(crate) bytes: Arc<Vec<u8>>,
    pub(crate) expiration: Option<Expiration>,
    /// Where the value sits, when the backend says (decoded without type erasure).
    pub(crate) span: Option<ValueSpan>,
}

pub(crate) struct Inner {
    pub(crate) backend: Arc<dyn Backend>,
    pub(crate) keymaker: Arc<dyn KeyMaker>,
    pub(crate) lifetime: Option<Duration>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) storage: Arc<dyn Storage>,
    pub(crate) log_full_keys: bool,
    pub(crate) memory: Mutex<Memory>,
}

/// A persistent cache in a directory: one file per key, named by the key's digest.
///
/// `Bucket` is cheap to clone (clones share the in-memory layer), `Send` and `Sync`.
///
/// ```
/// # fn main() -> bucketcache_core::Result<()> {
/// # bucketcache::install_default_backends()?;
/// use std::time::Duration;
/// use bucketcache_core::Bucket;
/// let dir = tempfile::tempdir().unwrap();
/// let b = Bucket::builder(dir.path().join("cache"))
///     .backend("json")
///     .lifetime(Duration::from_secs(3600))
///     .open()?;
/// b.set("answer", &42)?;
/// assert_eq!(b.get::<_, i32>("answer")?, Some(42));
/// assert!(b.contains("answer")?);
/// assert!(b.remove("answer")?);
/// assert_eq!(b.get::<_, i32>("answer")?, None);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Bucket {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for Bucket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bucket")
            .field("path", &self.path())
            .field("backend", &self.inner.backend.name())
            .field("keymaker", &self.inner.keymaker.name())
            .field("lifetime", &self.inner.lifetime)
            .finish()
    }
}

impl Bucket {
    /// Opens (creating it, recursively, if needed) a bucket with the default backend and
    /// keymaker (`msgpack` and `default` in `bucketcache`) and no lifetime.
    pub fn open(path: impl Into<PathBuf>) -> Result<Bucket> {
        Self::builder(path).open()
    }

    /// Starts configuring a bucket in `path`.
    pub fn builder(path: impl Into<PathBuf>) -> BucketBuilder {
        BucketBuilder::new(path.into())
    }

    /// Opens the bucket a [`BucketConfig`] describes (loading its plugins first).
    pub fn from_config(config: &BucketConfig) -> Result<Bucket> {
        config.builder()?.open()
    }

    pub(crate) fn from_inner(inner: Inner) -> Bucket {
        Bucket {
            inner: Arc::new(inner),
        }
    }

    /// The bucket's directory.
    pub fn path(&self) -> &Path {
        self.inner.storage.root()
    }

    /// The backend that encodes this bucket's files.
    pub fn backend(&self) -> &Arc<dyn Backend> {
        &self.inner.backend
    }

    /// The keymaker that names this bucket's files.
    pub fn keymaker(&self) -> &Arc<dyn KeyMaker> {
        &self.inner.keymaker
    }

    /// The lifetime of entries written through this bucket (`None`: they never expire).
    pub fn lifetime(&self) -> Option<Duration> {
        self.inner.lifetime
    }

    /// The digest naming `key`'s file (the original's `_hash_for_key`).
    pub fn hash_for_key<K: Serialize + ?Sized>(&self, key: &K) -> Result<String> {
        let digest = self
            .inner
            .keymaker
            .make_key(&Sized_(key), &*self.inner.backend)?;
        // The digest becomes a file name: never let a keymaker name a path. Checked for every
        // keymaker: the crate a registration names is only a claim, and the check is cheap.
        crate::validate::check_digest(&digest).map_err(crate::KeyError::Unsupported)?;
        if tracing::enabled!(tracing::Level::DEBUG) {
            tracing::debug!(
                key = %self.describe_key(key),
                digest = %digest,
                "_hash_for_key finished with digest"
            );
        }
        Ok(digest)
    }

    /// The path of `key`'s file (which may not exist).
    pub fn path_for_key<K: Serialize + ?Sized>(&self, key: &K) -> Result<PathBuf> {
        Ok(self.path().join(self.file_name(&self.hash_for_key(key)?)))
    }

    /// Stores `value` under `key`, replacing any previous entry, with expiration now + lifetime.
    ///
    /// The file is replaced atomically. If encoding or writing fails, the previous entry stays, on
    /// disk and in memory, and the error says why.
    pub fn set<K, V>(&self, key: &K, value: &V) -> Result<()>
    where
        K: Serialize + ?Sized,
        V: Serialize + ?Sized,
    {
        let digest = self.hash_for_key(key)?;
        self.set_by_digest(&digest, value)
    }

    /// Reads the value stored under `key`. A missing, expired, corrupt or foreign file, and a
    /// value that does not decode into `V`, are all `Ok(None)` (logged at debug level).
    pub fn get<K, V>(&self, key: &K) -> Result<Option<V>>
    where
        K: Serialize + ?Sized,
        V: DeserializeOwned,
    {
        let digest = self.hash_for_key(key)?;
        Ok(self.get_by_digest(&digest)?.map(|(v, _)| v))
    }

    /// Like [`get`](Self::get), also returning the entry's expiration.
    pub fn get_with_expiration<K, V>(&self, key: &K) -> Result<Option<(V, Option<Expiration>)>>
    where
        K: Serialize + ?Sized,
        V: DeserializeOwned,
    {
        let digest = self.hash_for_key(key)?;
        self.get_by_digest(&digest)
    }

    /// Whether a live entry exists for `key` (its value is not decoded). Like the original, this
    /// loads the entry into memory and deletes it if it has expired.
    pub fn contains<K: Serialize + ?Sized>(&self, key: &K) -> Result<bool> {
        let digest = self.hash_for_key(key)?;
        Ok(self.load(&digest)?.is_some())
    }

    /// Removes `key`'s entry, from memory and disk. Returns whether a live entry was there (the
    /// original's `del b[key]`, without its errors). An unreadable file for the key is removed too.
    pub fn remove<K: Serialize + ?Sized>(&self, key: &K) -> Result<bool> {
        let digest = self.hash_for_key(key)?;
        self.remove_by_digest(&digest)
    }

    /// Drops `key`'s in-memory copy and keeps its file.
    pub fn unload<K: Serialize + ?Sized>(&self, key: &K) {
        if let Ok(digest) = self.hash_for_key(key) {
            self.memory().remove(&digest);
        }
    }

    /// Whether `key` is held in memory (introspection, e.g. for tests of `unload`).
    pub fn is_loaded<K: Serialize + ?Sized>(&self, key: &K) -> bool {
        self.hash_for_key(key)
            .is_ok_and(|digest| self.memory().contains_key(&digest))
    }

    /// Deletes this backend's expired files (with the "lifetime changed" rule of a bucket that has
    /// a lifetime) and temporary files left by writers that died. Files of other backends, files
    /// that cannot be decoded and unrelated files are left alone.
    pub fn prune(&self) -> Result<Pruned> {
        let ext = self.inner.backend.file_extension().to_owned();
        let storage = &self.inner.storage;
        let io = |e| Error::io(storage.root(), e);
        let now = self.inner.clock.now();
        let mut pruned = Pruned::default();
        for name in storage.list_names(&ext).map_err(io)? {
            let digest = &name[..name.len() - ext.len() - 1];
            let in_memory = self
                .memory()
                .get(digest)
                .map(|e| (e.expiration, e.bytes.len()));
            let (expiration, size) = match in_memory {
                Some(known) => known,
                None => match storage.read(&name) {
                    Ok(Some(bytes)) => {
                        match shielded(|| self.inner.backend.load_expiration(&bytes)) {
                            Ok(e) => (e, bytes.len()),
                            Err(e) => {
                                tracing::debug!(file = %name, error = %e, "prune skips a file it cannot decode");
                                continue;
                            }
                        }
                    }
                    Ok(None) => continue,
                    Err(e) => return Err(Error::io(storage.root().join(&name), e)),
                },
            };
            if self.is_expired(expiration, now) {
                self.memory().remove(digest);
                match storage.remove(&name) {
                    Ok(true) => {
                        pruned.files += 1;
                        pruned.bytes += size as u64;
                    }
                    Ok(false) => {}
                    Err(e) => return Err(Error::io(storage.root().join(&name), e)),
                }
            }
        }
        for temp in storage.remove_stale_temp_files(&ext).map_err(io)? {
            tracing::info!(file = %temp.name, "removed a temporary file left by a writer that died");
            pruned.files += 1;
            pruned.bytes += temp.size;
        }
        Ok(pruned)
    }

    // ---- digest-level operations, shared by memoization and deferred writes ----

    /// Reads and decodes the entry named `digest`, with its expiration.
    #[doc(hidden)]
    pub fn get_by_digest<V: DeserializeOwned>(
        &self,
        digest: &str,
    ) -> Result<Option<(V, Option<Expiration>)>> {
        let Some(entry) = self.load(digest)? else {
            return Ok(None);
        };
        Ok(self
            .decode(digest, &entry)
            .map(|value| (value, entry.expiration)))
    }

    /// Encodes and stores `value` as the entry named `digest`.
    #[doc(hidden)]
    pub fn set_by_digest<V: Serialize + ?Sized>(&self, digest: &str, value: &V) -> Result<()> {
        let entry = self.encode(value)?;
        self.write_entry(digest, entry)
    }

    pub(crate) fn remove_by_digest(&self, digest: &str) -> Result<bool> {
        let live = self.load(digest)?.is_some();
        self.memory().remove(digest);
        let name = self.file_name(digest);
        self.inner
            .storage
            .remove(&name)
            .map_err(|e| Error::io(self.path().join(&name), e))?;
        Ok(live)
    }

    pub(crate) fn encode<V: Serialize + ?Sized>(&self, value: &V) -> Result<Entry> {
        let expiration = self
            .inner
            .lifetime
            .map(|l| add_lifetime(self.inner.clock.now(), l));
        let backend = &self.inner.backend;
        let bytes =
            shielded(|| backend.encode(value, expiration)).map_err(|source| Error::Encode {
                backend: backend.name().to_owned(),
                source,
            })?;
        let span = shielded(|| Ok(backend.value_span(&bytes))).unwrap_or(None);
        Ok(Entry {
            bytes: Arc::new(bytes),
            expiration,
            span,
        })
    }

    pub(crate) fn write_entry(&self, digest: &str, entry: Entry) -> Result<()> {
        let name = self.file_name(digest);
        self.inner
            .storage
            .write_atomic(&name, &entry.bytes)
            .map_err(|e| Error::io(self.path().join(&name), e))?;
        self.memory().insert(digest.to_owned(), entry);
        Ok(())
    }

    pub(crate) fn decode<V: DeserializeOwned>(&self, digest: &str, entry: &Entry) -> Option<V> {
        match shielded(|| {
            self.inner
                .backend
                .decode_value_at(&entry.bytes, entry.span.as_ref())
        }) {
            Ok(v) => Some(v),
            Err(e) => {
                tracing::debug!(digest, error = %e, "the stored value does not decode into the requested type: a miss");
                None
            }
        }
    }

    /// The read algorithm of the original (`_get_obj_from_hash`), with its bugs fixed.
    pub(crate) fn load(&self, digest: &str) -> Result<Option<Entry>> {
        let in_memory = self.memory().get(digest).cloned();
        let (entry, from_file) = match in_memory {
            Some(entry) => (entry, false),
            None => match self.read_file(digest)? {
                Some(entry) => (entry, true),
                None => return Ok(None),
            },
        };
        // Entries that never expire in a bucket without lifetime need no clock (the warm path).
        let expired = (entry.expiration.is_some() || self.inner.lifetime.is_some())
            && self.is_expired(entry.expiration, self.inner.clock.now());
        if expired {
            self.memory().remove(digest);
            let name = self.file_name(digest);
            if let Err(e) = self.inner.storage.remove(&name) {
                tracing::warn!(file = %name, error = %e, "cannot delete an expired file");
            }
            return Ok(None);
        }
        if from_file {
            self.memory()
                .entry(digest.to_owned())
                .or_insert_with(|| entry.clone());
        }
        Ok(Some(entry))
    }

    /// Reads and checks the file of `digest`: `None` when it is missing or cannot be decoded.
    fn read_file(&self, digest: &str) -> Result<Option<Entry>> {
        let name = self.file_name(digest);
        tracing::info!(file = %name, "Attempt load from file");
        let bytes = match self.inner.storage.read(&name) {
            Ok(Some(bytes)) => bytes,
            Ok(None) => {
                tracing::debug!(file = %name, "Handled exception: File not found");
                return Ok(None);
            }
            Err(e) => {
                tracing::error!(file = %name, error = %e, "Unexpected exception trying to load file");
                return Err(Error::io(self.path().join(&name), e));
            }
        };
        match shielded(|| self.inner.backend.load_expiration(&bytes)) {
            Ok(expiration) => {
                let span = shielded(|| Ok(self.inner.backend.value_span(&bytes))).unwrap_or(None);
                Ok(Some(Entry {
                    bytes: Arc::new(bytes),
                    expiration,
                    span,
                }))
            }
            Err(e) => {
                tracing::debug!(file = %name, backend = self.inner.backend.name(), error = %e,
                    "Backend failed to load file: a miss, the file is kept");
                Ok(None)
            }
        }
    }

    fn is_expired(&self, expiration: Option<Expiration>, now: Expiration) -> bool {
        if expiration.is_some_and(|e| now > e) {
            return true;
        }
        // The "lifetime changed" rule: with a lifetime, an entry that never expires or that
        // outlives now + lifetime was written under another lifetime, and is expired.
        if let Some(lifetime) = self.inner.lifetime {
            let changed = match expiration {
                None => true,
                Some(e) => e > add_lifetime(now, lifetime),
            };
            if changed {
                tracing::warn!("Object expires after now + current lifetime. Expiring key.");
                return true;
            }
        }
        false
    }

    pub(crate) fn file_name(&self, digest: &str) -> String {
        let ext = self.inner.backend.file_extension();
        let mut name = String::with_capacity(digest.len() + 1 + ext.len());
        name.push_str(digest);
        name.push('.');
        name.push_str(ext);
        name
    }

    pub(crate) fn memory(&self) -> MutexGuard<'_, Memory> {
        // A panic while the lock is held cannot leave the map half-updated (every update is one
        // insert or remove), so a poisoned lock is still usable.
        self.inner.memory.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn describe_key<K: Serialize + ?Sized>(&self, key: &K) -> String {
        let text = serde_json::to_string(key).unwrap_or_else(|e| format!("<unprintable: {e}>"));
        if self.inner.log_full_keys || text.chars().count() <= 80 {
            text
        } else {
            let mut short: String = text.chars().take(77).collect();
            short.push_str("...");
            short
        }
    }
}
