//! The `Bucket`: a store of cache entries that behaves like a map with an optional lifetime.

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::backend::{Backend, Sized_};
use crate::budget::{Budget, Change};
use crate::inspect::{Inspector, Pruned};
use crate::keymaker::KeyMaker;
use crate::rules::Verdict;
use crate::stats::{bump, Counters, Stats};
use crate::store::Store;
use crate::time::{Clock, Expiration};
use crate::{Error, Result};
use bucketcache_near::generation::Generations;
use bucketcache_near::memory::Memory;

mod read;
mod write;

pub(crate) use bucketcache_near::{Entry, Stored};

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
    /// A store that cannot be read gives a miss (logged) instead of an error.
    pub(crate) fail_open: bool,
    pub(crate) memory: Memory,
    /// The generations of the keys: what keeps a copy read before a mutation out of memory
    /// after it (see [`crate::generation`]).
    pub(crate) generations: Generations,
    /// The in-memory layer's maximum age of an entry (by `clock`), if any.
    pub(crate) memory_ttl: Option<Duration>,
    pub(crate) budget: Option<Budget>,
    /// The guarantees found off at open (with `allow_degraded`).
    pub(crate) degraded: Vec<crate::stats::Degradation>,
    pub(crate) counters: Counters,
    /// Stale-while-revalidate, stale-if-error, refresh ahead (see [`crate::freshness`]).
    pub(crate) freshness: crate::freshness::Freshness,
    pub(crate) refresher: crate::refresh::Refresher,
    /// The store behind a near cache, if any: a refresh checks it for another machine's value.
    pub(crate) far: Option<Arc<dyn Store>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // The last clone goes: its writes not yet in the disk budget's record are added now.
        if let Some(budget) = &self.budget {
            budget.flush(&*self.store);
        }
    }
}

/// A persistent cache: one entry per key, named by the key's digest, in a store (by default a
/// directory of files).
///
/// `Bucket` is cheap to clone (clones share the in-memory layer), `Send` and `Sync`.
///
/// Entries read or written are kept in a bounded in-memory layer (64 MiB by default, see
/// [`BucketBuilder::memory_limit`](crate::BucketBuilder::memory_limit)); the store can be held to a disk budget
/// ([`BucketBuilder::max_bytes`](crate::BucketBuilder::max_bytes), [`BucketBuilder::max_entries`](crate::BucketBuilder::max_entries)); [`stats`](Self::stats) says
/// how it is doing.
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
            .field("memory", &self.inner.memory)
            .field("budget", &self.inner.budget)
            .finish()
    }
}

impl Bucket {
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

    /// The most bytes the in-memory layer holds (0: it is off).
    ///
    /// ```
    /// # fn main() -> bucketcache_core::Result<()> {
    /// # bucketcache::install_default_backends()?;
    /// let dir = tempfile::tempdir().unwrap();
    /// let b = bucketcache_core::Bucket::builder(dir.path()).memory_limit(0).open()?;
    /// assert_eq!(b.memory_limit(), 0);
    /// # Ok(()) }
    /// ```
    pub fn memory_limit(&self) -> u64 {
        self.inner.memory.limit()
    }

    /// The disk budget: `(max_bytes, max_entries)`, each `None` when not limited.
    ///
    /// ```
    /// # fn main() -> bucketcache_core::Result<()> {
    /// # bucketcache::install_default_backends()?;
    /// let dir = tempfile::tempdir().unwrap();
    /// let b = bucketcache_core::Bucket::builder(dir.path()).max_bytes(1 << 30).open()?;
    /// assert_eq!(b.disk_budget(), (Some(1 << 30), None));
    /// # Ok(()) }
    /// ```
    pub fn disk_budget(&self) -> (Option<u64>, Option<u64>) {
        self.inner
            .budget
            .as_ref()
            .map_or((None, None), |b| (b.max_bytes(), b.max_entries()))
    }

    /// A snapshot of this bucket's counters since it was opened (see [`Stats`]): a few relaxed
    /// atomic loads, no I/O.
    ///
    /// ```
    /// # fn main() -> bucketcache_core::Result<()> {
    /// # bucketcache::install_default_backends()?;
    /// let dir = tempfile::tempdir().unwrap();
    /// let b = bucketcache_core::Bucket::builder(dir.path()).max_entries(100).open()?;
    /// b.set("k", &1)?;
    /// let s = b.stats();
    /// assert_eq!((s.sets, s.store_entries), (1, Some(1)));
    /// # Ok(()) }
    /// ```
    pub fn stats(&self) -> Stats {
        let mut stats = self.inner.counters.snapshot();
        stats.memory_evictions = self.inner.memory.evictions();
        stats.memory_bytes = self.inner.memory.bytes();
        stats.degraded.clone_from(&self.inner.degraded);
        if let Some(budget) = &self.inner.budget {
            (stats.store_bytes, stats.store_entries) = budget.seen();
            stats.budget_deferred = budget.deferrals();
            stats.budget_locks = budget.locks();
            stats.degraded.extend(budget.degradation());
        }
        stats
    }

    /// The digest naming `key`'s entry (the original's `_hash_for_key`), as text.
    pub fn hash_for_key<K: Serialize + ?Sized>(&self, key: &K) -> Result<String> {
        Ok(self.digest_for_key(key)?.into())
    }

    /// The digest naming `key`'s entry, inline ([`Digest`](crate::Digest) is `Copy`): what
    /// every operation on a key computes first, with no allocation for the built-in keymakers.
    ///
    /// ```
    /// # fn main() -> bucketcache_core::Result<()> {
    /// # bucketcache::install_default_backends()?;
    /// let dir = tempfile::tempdir().unwrap();
    /// let b = bucketcache_core::Bucket::open(dir.path())?;
    /// let digest = b.digest_for_key("my key")?;
    /// assert_eq!(digest, b.hash_for_key("my key")?);
    /// # Ok(()) }
    /// ```
    pub fn digest_for_key<K: Serialize + ?Sized>(&self, key: &K) -> Result<crate::Digest> {
        // A keymaker's digest becomes a file name: `make_digest` refuses anything that could
        // name a path (the default method checks the text; the built-ins write hex themselves).
        let digest = self
            .inner
            .keymaker
            .make_digest(&Sized_(key), &*self.inner.backend)?;
        if tracing::enabled!(tracing::Level::TRACE) {
            tracing::trace!(key = %self.describe_key(key), digest = %digest, "key hashed");
        }
        Ok(digest)
    }

    /// The path of `key`'s file (which may not exist) in a directory store.
    pub fn path_for_key<K: Serialize + ?Sized>(&self, key: &K) -> Result<PathBuf> {
        Ok(self
            .path()
            .join(self.file_name(&self.digest_for_key(key)?.text())))
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
        let digest = self.digest_for_key(key)?.text();
        self.set_by_digest(&digest, value)
    }

    /// Reads the value stored under `key`. A missing, expired, corrupt or foreign entry, and a
    /// value that does not decode into `V`, are all `Ok(None)` (logged at debug level).
    ///
    /// The value type comes first, so `b.get::<User>(&key)` names it.
    pub fn get<V: DeserializeOwned>(&self, key: &(impl Serialize + ?Sized)) -> Result<Option<V>> {
        let digest = self.digest_for_key(key)?.text();
        Ok(self.get_by_digest(&digest)?.map(|(v, _)| v))
    }

    /// Like [`get`](Self::get), also returning the entry's expiration.
    pub fn get_with_expiration<V: DeserializeOwned>(
        &self,
        key: &(impl Serialize + ?Sized),
    ) -> Result<Option<(V, Option<Expiration>)>> {
        let digest = self.digest_for_key(key)?.text();
        self.get_by_digest(&digest)
    }

    /// Whether a live entry exists for `key` (its value is not decoded). Like the original, this
    /// loads the entry into memory and deletes it if it has expired.
    pub fn contains<K: Serialize + ?Sized>(&self, key: &K) -> Result<bool> {
        let digest = self.digest_for_key(key)?.text();
        Ok(self.load(&digest)?.is_some())
    }

    /// Removes `key`'s entry, from memory and the store. Returns whether a live entry was there
    /// (the original's `del b[key]`, without its errors). An undecodable file for the key is
    /// removed too; something that is not a regular file is left alone.
    pub fn remove<K: Serialize + ?Sized>(&self, key: &K) -> Result<bool> {
        let digest = self.digest_for_key(key)?.text();
        self.remove_by_digest(&digest)
    }

    /// [`remove`](Self::remove) of the entry named `digest`.
    #[doc(hidden)]
    pub fn remove_by_digest(&self, digest: &str) -> Result<bool> {
        let live = self.lookup(digest, false)?.is_some();
        let name = self.file_name(digest);
        let size = self.budgeted_size(&name);
        let mutation = self.inner.generations.begin(digest);
        {
            let _locked = mutation.lock();
            self.inner.memory.remove(digest);
        }
        let removed = self
            .inner
            .store
            .remove(&name)
            .map_err(|e| self.store_error(&name, e))?;
        drop(mutation);
        if removed || live {
            bump(&self.inner.counters.removes);
        }
        if let (true, Some(budget), Some(size)) = (removed, &self.inner.budget, size) {
            budget.update(self, Change::Removed(size), None);
        }
        Ok(live)
    }

    /// Drops `key`'s in-memory copy and keeps its file.
    pub fn unload<K: Serialize + ?Sized>(&self, key: &K) {
        if let Ok(digest) = self.hash_for_key(key) {
            self.inner.memory.remove(&digest);
        }
    }

    /// Whether `key` is held in memory (introspection, e.g. for tests of `unload`).
    pub fn is_loaded<K: Serialize + ?Sized>(&self, key: &K) -> bool {
        self.hash_for_key(key)
            .is_ok_and(|digest| self.inner.memory.contains(&digest))
    }

    /// Deletes this backend's expired entries (with the "lifetime changed" rule of a bucket that
    /// has a lifetime) and temporary files left by writers that died. Entries of other backends,
    /// entries that cannot be decoded and foreign files are left alone; an entry that cannot be
    /// read is counted in [`Pruned::skipped`] and the work goes on.
    ///
    /// The same rule decides what [`Inspector::prune_plan`] shows without deleting; each entry
    /// is read once, by the store removing it only if the bytes it reads then have expired.
    pub fn prune(&self) -> Result<Pruned> {
        // One pass: each entry is read once, when the store is asked to remove it if expired
        // (`prune --dry-run` plans with a read of its own; nothing needs a plan here).
        let pruned = self
            .inspector()
            .prune_in_one_pass(&|name| self.forget_file(name))?;
        if let Some(budget) = &self.inner.budget {
            budget.invalidate();
        }
        Ok(pruned)
    }

    /// Shrinks the location (entries of every backend in it) to at most `max_bytes` and
    /// `max_entries` (`None`: no limit on that), removing the least recently used entries
    /// first — the rule of a disk budget (see [`crate::budget`]), down to the limits given
    /// rather than a low-water mark. An entry used or rewritten since the listing stays.
    /// Returns what was removed; the plan is [`Inspector::shrink_plan`].
    ///
    /// ```
    /// # fn main() -> bucketcache_core::Result<()> {
    /// # bucketcache::install_default_backends()?;
    /// let dir = tempfile::tempdir().unwrap();
    /// let b = bucketcache_core::Bucket::builder(dir.path()).backend("json").open()?;
    /// for i in 0..10 {
    ///     b.set(&i, &"some value")?;
    /// }
    /// let removed = b.shrink_to(None, Some(4))?;
    /// assert_eq!(removed.files, 6);
    /// assert_eq!(b.inspector().usage()?.entries, 4);
    /// # Ok(()) }
    /// ```
    pub fn shrink_to(&self, max_bytes: Option<u64>, max_entries: Option<u64>) -> Result<Pruned> {
        let inspector = self.inspector();
        let plan = inspector.shrink_plan(max_bytes, max_entries)?;
        let mutations: Vec<_> = plan
            .removals
            .iter()
            .map(|r| self.forget_file(&r.name))
            .collect();
        let pruned = inspector.execute(&plan);
        drop(mutations);
        self.inner
            .counters
            .store_evictions
            .fetch_add(pruned.files as u64, Ordering::Relaxed);
        if let Some(budget) = &self.inner.budget {
            budget.invalidate();
        }
        Ok(pruned)
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

    /// The live counters (for the crates built on the engine: `bucketcache-async`).
    #[doc(hidden)]
    pub fn counters(&self) -> &crate::stats::Counters {
        &self.inner.counters
    }

    /// The clock entries are judged by.
    #[doc(hidden)]
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.inner.clock
    }

    /// How long a caller waits for another's computation of the same entry.
    #[doc(hidden)]
    pub fn single_flight_timeout(&self) -> Duration {
        self.inner.single_flight_timeout
    }

    /// The background refresh pool (its record of how long refreshes took).
    #[doc(hidden)]
    pub fn refresher(&self) -> &crate::refresh::Refresher {
        &self.inner.refresher
    }

    /// Whether a disk budget is kept (its accounting needs the synchronous write path).
    #[doc(hidden)]
    pub fn has_budget(&self) -> bool {
        self.inner.budget.is_some()
    }

    /// The one expiry rule (see [`crate::rules::verdict`]) at this bucket's clock and lifetime.
    pub(crate) fn verdict(&self, expiration: Option<Expiration>) -> Verdict {
        crate::rules::verdict(expiration, self.inner.lifetime, self.inner.clock.now())
    }

    #[doc(hidden)]
    pub fn file_name(&self, digest: &str) -> String {
        let ext = self.inner.backend.file_extension();
        let mut name = String::with_capacity(digest.len() + 1 + ext.len());
        name.push_str(digest);
        name.push('.');
        name.push_str(ext);
        name
    }

    #[doc(hidden)]
    pub fn store_error(&self, name: &str, source: std::io::Error) -> Error {
        Error::io(self.inner.store.entry_path(name), source)
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

/// Seconds since the epoch, by the system clock (the clock of file times).
fn unix_seconds() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
