//! The `Bucket`: a store of cache entries that behaves like a map with an optional lifetime.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::backend::{Backend, Decoded, Sized_, StoredValue};
use crate::builder::BucketBuilder;
use crate::config::BucketConfig;
use crate::error::{Error, Result};
use crate::inspect::{Inspector, Pruned};
use crate::keymaker::KeyMaker;
use crate::rules::Verdict;
use crate::store::{Fetched, ReadLimits, Store};
use crate::time::{add_lifetime, Clock, Expiration};
use crate::validate::shielded;

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

/// A live entry: its encoded bytes (exactly what the store holds), its expiration and where
/// its value is.
///
/// The in-memory layer holds the encoded envelope rather than a decoded value: it mirrors the
/// store, it is decoded into whatever type the reader asks for, and a write that fails to encode
/// never touches it. Shared (`Arc`): a memory hit clones one pointer.
#[derive(Debug)]
pub(crate) struct Stored {
    pub(crate) bytes: Vec<u8>,
    pub(crate) expiration: Option<Expiration>,
    /// Where the value is: known from the decode of a read, from the backend's `dump` of a
    /// write, or — for backends that do not say — decoded once on the first read from memory.
    pub(crate) value: OnceLock<StoredValue>,
    /// When these bytes were what the store held (a near cache's copy is older than its read).
    pub(crate) loaded: Instant,
}

pub(crate) type Entry = Arc<Stored>;

pub(crate) struct Inner {
    pub(crate) backend: Arc<dyn Backend>,
    pub(crate) keymaker: Arc<dyn KeyMaker>,
    pub(crate) lifetime: Option<Duration>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) store: Arc<dyn Store>,
    pub(crate) log_full_keys: bool,
    pub(crate) max_entry_bytes: u64,
    pub(crate) single_flight_across: bool,
    pub(crate) single_flight_timeout: Duration,
    pub(crate) memory: Mutex<Memory>,
    /// A store that cannot be read gives a miss (logged) instead of an error.
    pub(crate) fail_open: bool,
    /// An in-memory copy older than this is dropped and read again (a near cache's ttl).
    pub(crate) memory_ttl: Option<Duration>,
}

/// A persistent cache: one entry per key, named by the key's digest, in a store (by default a
/// directory of files).
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
/// assert_eq!(b.get::<i32>("answer")?, Some(42));
/// assert!(b.contains("answer")?);
/// assert!(b.remove("answer")?);
/// assert_eq!(b.get::<i32>("answer")?, None);
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
            .field("store", &self.inner.store.name())
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

    /// The bucket's location: its directory (or a network store's namespace).
    pub fn path(&self) -> &Path {
        self.inner.store.location()
    }

    /// The backend that encodes this bucket's entries.
    pub fn backend(&self) -> &Arc<dyn Backend> {
        &self.inner.backend
    }

    /// The keymaker that names this bucket's entries.
    pub fn keymaker(&self) -> &Arc<dyn KeyMaker> {
        &self.inner.keymaker
    }

    /// The store that holds this bucket's entries.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.inner.store
    }

    /// The lifetime of entries written through this bucket (`None`: they never expire).
    pub fn lifetime(&self) -> Option<Duration> {
        self.inner.lifetime
    }

    /// The largest entry this bucket writes or reads, in bytes.
    pub fn max_entry_bytes(&self) -> u64 {
        self.inner.max_entry_bytes
    }

    /// The digest naming `key`'s entry (the original's `_hash_for_key`).
    pub fn hash_for_key<K: Serialize + ?Sized>(&self, key: &K) -> Result<String> {
        let digest = self
            .inner
            .keymaker
            .make_key(&Sized_(key), &*self.inner.backend)?;
        // The digest becomes a file name: never let a keymaker name a path (nanoseconds).
        crate::validate::check_digest(&digest).map_err(crate::KeyError::Unsupported)?;
        if tracing::enabled!(tracing::Level::TRACE) {
            tracing::trace!(key = %self.describe_key(key), digest = %digest, "key hashed");
        }
        Ok(digest)
    }

    /// The path of `key`'s file (which may not exist) in a directory store.
    pub fn path_for_key<K: Serialize + ?Sized>(&self, key: &K) -> Result<PathBuf> {
        Ok(self.path().join(self.file_name(&self.hash_for_key(key)?)))
    }

    /// Stores `value` under `key`, replacing any previous entry, with expiration now + lifetime.
    ///
    /// The entry is replaced atomically. If encoding or writing fails, the previous entry stays,
    /// in the store and in memory, and the error says why.
    pub fn set<K, V>(&self, key: &K, value: &V) -> Result<()>
    where
        K: Serialize + ?Sized,
        V: Serialize + ?Sized,
    {
        let digest = self.hash_for_key(key)?;
        self.set_by_digest(&digest, value)
    }

    /// Reads the value stored under `key`. A missing, expired, corrupt or foreign entry, and a
    /// value that does not decode into `V`, are all `Ok(None)` (logged at debug level).
    ///
    /// The value type comes first, so `b.get::<User>(&key)` names it.
    pub fn get<V: DeserializeOwned>(&self, key: &(impl Serialize + ?Sized)) -> Result<Option<V>> {
        let digest = self.hash_for_key(key)?;
        Ok(self.get_by_digest(&digest)?.map(|(v, _)| v))
    }

    /// Like [`get`](Self::get), also returning the entry's expiration.
    pub fn get_with_expiration<V: DeserializeOwned>(
        &self,
        key: &(impl Serialize + ?Sized),
    ) -> Result<Option<(V, Option<Expiration>)>> {
        let digest = self.hash_for_key(key)?;
        self.get_by_digest(&digest)
    }

    /// Whether a live entry exists for `key` (its value is not decoded). Like the original, this
    /// loads the entry into memory and deletes it if it has expired.
    pub fn contains<K: Serialize + ?Sized>(&self, key: &K) -> Result<bool> {
        let digest = self.hash_for_key(key)?;
        Ok(self.load(&digest)?.is_some())
    }

    /// Removes `key`'s entry, from memory and the store. Returns whether a live entry was there
    /// (the original's `del b[key]`, without its errors). An undecodable file for the key is
    /// removed too; something that is not a regular file is left alone.
    pub fn remove<K: Serialize + ?Sized>(&self, key: &K) -> Result<bool> {
        let digest = self.hash_for_key(key)?;
        let live = self.load(&digest)?.is_some();
        self.memory().remove(&digest);
        let name = self.file_name(&digest);
        self.inner
            .store
            .remove(&name)
            .map_err(|e| self.store_error(&name, e))?;
        Ok(live)
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

    /// Deletes this backend's expired entries (with the "lifetime changed" rule of a bucket that
    /// has a lifetime) and temporary files left by writers that died. Entries of other backends,
    /// entries that cannot be decoded and foreign files are left alone; an entry that cannot be
    /// read is counted in [`Pruned::skipped`] and the work goes on.
    ///
    /// The same plan is what [`Inspector::prune_plan`] shows without deleting.
    pub fn prune(&self) -> Result<Pruned> {
        let inspector = self.inspector();
        let plan = inspector.prune_plan()?;
        {
            let mut memory = self.memory();
            for removal in &plan.removals {
                if let Some(digest) = removal.name.strip_suffix(self.extension_suffix().as_str()) {
                    memory.remove(digest);
                }
            }
        }
        Ok(inspector.execute(&plan))
    }

    /// An [`Inspector`] over this bucket's entries: its store, its backend, its lifetime.
    pub fn inspector(&self) -> Inspector {
        Inspector::new(self.inner.store.clone(), vec![self.inner.backend.clone()])
            .lifetime(self.inner.lifetime)
            .clock(self.inner.clock.clone())
            .max_entry_bytes(self.inner.max_entry_bytes)
    }

    // ---- digest-level operations, shared by memoization and deferred writes ----

    /// Reads and decodes the entry named `digest`, with its expiration.
    pub(crate) fn get_by_digest<V: DeserializeOwned>(
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
    pub(crate) fn set_by_digest<V: Serialize + ?Sized>(
        &self,
        digest: &str,
        value: &V,
    ) -> Result<()> {
        let entry = self.encode(value)?;
        self.write_entry(digest, entry)
    }

    pub(crate) fn encode<V: Serialize + ?Sized>(&self, value: &V) -> Result<Entry> {
        let expiration = self
            .inner
            .lifetime
            .map(|l| add_lifetime(self.inner.clock.now(), l));
        let backend = &self.inner.backend;
        let mut bytes = Vec::with_capacity(128);
        let located = shielded(|| backend.dump(&Sized_(value), expiration, &mut bytes)).map_err(
            |source| Error::Encode {
                backend: backend.name().to_owned(),
                source,
            },
        )?;
        let limit = match self.inner.store.max_value_bytes() {
            Some(store_limit) => store_limit.min(self.inner.max_entry_bytes),
            None => self.inner.max_entry_bytes,
        };
        if bytes.len() as u64 > limit {
            return Err(Error::EntryTooLarge {
                size: bytes.len() as u64,
                limit,
            });
        }
        let value = OnceLock::new();
        if let Some(v) = located {
            let _ = value.set(v);
        }
        Ok(Arc::new(Stored {
            bytes,
            expiration,
            value,
            loaded: Instant::now(),
        }))
    }

    pub(crate) fn write_entry(&self, digest: &str, entry: Entry) -> Result<()> {
        let name = self.file_name(digest);
        // A store that drops data by itself (Redis) drops the entry when it expires.
        let expires = entry.expiration.map(|e| SystemTime::from(e.and_utc()));
        self.inner
            .store
            .write_expiring(&name, &entry.bytes, expires)
            .map_err(|e| self.store_error(&name, e))?;
        self.memory().insert(digest.to_owned(), entry);
        Ok(())
    }

    pub(crate) fn decode<V: DeserializeOwned>(&self, digest: &str, entry: &Stored) -> Option<V> {
        let decoded = shielded(|| {
            let value = match entry.value.get() {
                Some(v) => v,
                None => {
                    let d = self.inner.backend.decode(&entry.bytes)?;
                    entry.value.get_or_init(|| d.value)
                }
            };
            Decoded::new(entry.expiration, value.clone()).value::<V>(&entry.bytes)
        });
        match decoded {
            Ok(v) => Some(v),
            Err(e) => {
                tracing::debug!(digest, error = %e, "the stored value does not decode into the requested type: a miss");
                None
            }
        }
    }

    /// The read algorithm of the original (`_get_obj_from_hash`), with its bugs fixed: memory,
    /// else the store; an expired entry is a miss, and its file is deleted only if the file
    /// itself, read at the moment of deleting, says it has expired.
    pub(crate) fn load(&self, digest: &str) -> Result<Option<Entry>> {
        let mut in_memory = self.memory().get(digest).cloned();
        if let (Some(ttl), Some(entry)) = (self.inner.memory_ttl, &in_memory) {
            if entry.loaded.elapsed() > ttl {
                in_memory = None; // read again (the store's copy replaces it below)
                self.memory().remove(digest);
            }
        }
        let (entry, from_store) = match in_memory {
            Some(entry) => (entry, false),
            None => match self.read_entry(digest)? {
                Some(entry) => (entry, true),
                None => return Ok(None),
            },
        };
        // Entries that never expire in a bucket without lifetime need no clock (the warm path).
        if (entry.expiration.is_some() || self.inner.lifetime.is_some())
            && self.verdict(entry.expiration).is_expired()
        {
            self.memory().remove(digest);
            self.remove_if_expired(digest);
            return Ok(None);
        }
        if from_store {
            self.memory()
                .entry(digest.to_owned())
                .or_insert_with(|| entry.clone());
        }
        Ok(Some(entry))
    }

    /// Deletes `digest`'s file if what the store holds now has expired (not what memory held).
    fn remove_if_expired(&self, digest: &str) {
        let name = self.file_name(digest);
        let backend = &self.inner.backend;
        let expired = |bytes: &[u8]| {
            shielded(|| backend.decode(bytes))
                .is_ok_and(|d| self.verdict(d.expiration).is_expired())
        };
        match self.inner.store.remove_if(&name, &expired) {
            Ok(Some(_)) => tracing::debug!(file = %name, "deleted an expired entry"),
            Ok(None) => {}
            Err(e) => tracing::warn!(file = %name, error = %e, "cannot delete an expired entry"),
        }
    }

    /// Reads and decodes the entry of `digest`: `None` when it is missing, not a regular file,
    /// too large, or cannot be decoded (all logged).
    fn read_entry(&self, digest: &str) -> Result<Option<Entry>> {
        let name = self.file_name(digest);
        let backend = &self.inner.backend;
        let head = |h: &[u8]| shielded(|| Ok(backend.may_begin_entry(h))).unwrap_or(false);
        let limits = ReadLimits {
            max_bytes: self.inner.max_entry_bytes,
            head: &head,
        };
        let (bytes, age) = match self.inner.store.read_with_age(&name, &limits) {
            Ok((Fetched::Bytes(bytes), age)) => (bytes, age),
            Ok((Fetched::Missing, _)) => return Ok(None),
            Ok((other, _)) => {
                tracing::debug!(file = %name, found = ?other, "not an entry of this backend: a miss, left in place");
                return Ok(None);
            }
            Err(e) if self.inner.fail_open => {
                tracing::warn!(file = %name, error = %e, "cannot read an entry: a miss (fail_open)");
                return Ok(None);
            }
            Err(e) => {
                tracing::debug!(file = %name, error = %e, "cannot read an entry");
                return Err(self.store_error(&name, e));
            }
        };
        match shielded(|| backend.decode(&bytes)) {
            Ok(decoded) => {
                let value = OnceLock::new();
                let _ = value.set(decoded.value);
                let now = Instant::now();
                Ok(Some(Arc::new(Stored {
                    bytes,
                    expiration: decoded.expiration,
                    value,
                    loaded: now.checked_sub(age).unwrap_or(now),
                })))
            }
            Err(e) => {
                tracing::debug!(file = %name, backend = backend.name(), error = %e,
                    "cannot decode an entry: a miss, the file is kept");
                Ok(None)
            }
        }
    }

    /// The one expiry rule (see [`crate::rules::verdict`]) at this bucket's clock and lifetime.
    pub(crate) fn verdict(&self, expiration: Option<Expiration>) -> Verdict {
        crate::rules::verdict(expiration, self.inner.lifetime, self.inner.clock.now())
    }

    fn extension_suffix(&self) -> String {
        format!(".{}", self.inner.backend.file_extension())
    }

    pub(crate) fn file_name(&self, digest: &str) -> String {
        let ext = self.inner.backend.file_extension();
        let mut name = String::with_capacity(digest.len() + 1 + ext.len());
        name.push_str(digest);
        name.push('.');
        name.push_str(ext);
        name
    }

    pub(crate) fn store_error(&self, name: &str, source: std::io::Error) -> Error {
        Error::io(self.path().join(name), source)
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
