//! The `Bucket`: a store of cache entries that behaves like a map with an optional lifetime.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::backend::{Backend, Sized_, StoredValue};
use crate::budget::{Budget, Change};
use crate::builder::BucketBuilder;
use crate::config::BucketConfig;
use crate::error::{Error, Result};
use crate::generation::{Generations, Mutation, Stamp};
use crate::inspect::{Inspector, Pruned};
use crate::keymaker::KeyMaker;
use crate::memory::Memory;
use crate::rules::Verdict;
use crate::stats::{bump, Counters, Stats};
use crate::store::{Fetched, Kind, ReadLimits, Store};
use crate::time::{add_lifetime, Clock, Expiration};
use crate::validate::shielded;

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
    /// When this process last wrote, read or touched the entry's file (seconds since the
    /// epoch; 0: unknown): a bucket with a disk budget touches the file again on a memory hit
    /// at most once a second.
    pub(crate) touched: AtomicU64,
    /// How old these bytes were when read (a near cache's copy is older than its read): the
    /// in-memory layer's maximum age counts from when the store last had them.
    pub(crate) age: Duration,
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
/// [`BucketBuilder::memory_limit`]); the store can be held to a disk budget
/// ([`BucketBuilder::max_bytes`], [`BucketBuilder::max_entries`]); [`stats`](Self::stats) says
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
        self.remove_by_digest(&digest)
    }

    /// [`remove`](Self::remove) of the entry named `digest`.
    pub(crate) fn remove_by_digest(&self, digest: &str) -> Result<bool> {
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
    /// The same plan is what [`Inspector::prune_plan`] shows without deleting.
    pub fn prune(&self) -> Result<Pruned> {
        let inspector = self.inspector();
        let plan = inspector.prune_plan()?;
        let mutations: Vec<_> = plan
            .removals
            .iter()
            .map(|r| self.forget_file(&r.name))
            .collect();
        let pruned = inspector.execute(&plan);
        drop(mutations);
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
        // The in-memory layer weighs the buffer: no slack kept from its growth.
        if bytes.capacity() - bytes.len() > 64 {
            bytes.shrink_to_fit();
        }
        Ok(Arc::new(Stored {
            bytes,
            expiration,
            value,
            touched: AtomicU64::new(0),
            age: Duration::ZERO,
        }))
    }

    pub(crate) fn write_entry(&self, digest: &str, entry: Entry) -> Result<()> {
        if let Some(budget) = &self.inner.budget {
            budget.admit(entry.bytes.len() as u64)?;
        }
        let name = self.file_name(digest);
        let old = self.budgeted_size(&name);
        // A store that drops data by itself (Redis) drops the entry when it expires, or when
        // the freshness grace after that ends (a memoized call may serve it until then).
        let grace = self.inner.freshness.grace();
        let expires = entry
            .expiration
            .map(|e| SystemTime::from(e.and_utc()) + grace);
        let mutation = self.inner.generations.begin(digest);
        if let Err(e) = self
            .inner
            .store
            .write_expiring(&name, &entry.bytes, expires)
        {
            return Err(self.write_failed(digest, &mutation, &name, e));
        }
        self.wrote(digest, &name, entry, old, mutation);
        Ok(())
    }

    /// A store write of `digest`'s entry `name` failed within `mutation`: when the write may
    /// have happened all the same, memory must not keep vouching for the old value, so the next
    /// read asks the store.
    pub(crate) fn write_failed(
        &self,
        digest: &str,
        mutation: &Mutation<'_>,
        name: &str,
        e: std::io::Error,
    ) -> Error {
        if outcome_unknown(&e) {
            let _locked = mutation.lock();
            self.inner.memory.remove(digest);
        }
        self.store_error(name, e)
    }

    /// What follows the store's write of `entry` as `name` within `mutation` (begun before the
    /// write; `old`: the size it replaced, for a disk budget): counters, memory, budget. The
    /// async API's native writes call it after their own write.
    pub(crate) fn wrote(
        &self,
        digest: &str,
        name: &str,
        entry: Entry,
        old: Option<u64>,
        mutation: Mutation<'_>,
    ) {
        bump(&self.inner.counters.sets);
        let size = entry.bytes.len() as u64;
        if self.inner.budget.is_some() {
            entry.touched.store(unix_seconds(), Ordering::Relaxed);
        }
        {
            let _locked = mutation.lock();
            if mutation.may_keep() {
                self.inner.memory.insert(digest, entry, self.memory_since());
            } else {
                // Another mutation of the key overlapped: the store may hold either.
                self.inner.memory.remove(digest);
            }
        }
        drop(mutation);
        if let Some(budget) = &self.inner.budget {
            budget.update(self, Change::Wrote { old, new: size }, Some(name));
        }
    }

    /// The size of the entry file `name` when the bucket has a disk budget (which accounts for
    /// what a write replaces or a removal frees); `None` without a budget or without a file.
    fn budgeted_size(&self, name: &str) -> Option<u64> {
        self.inner.budget.as_ref()?;
        match self.inner.store.stat(name) {
            Ok(Some(l)) if l.kind == Kind::File => Some(l.size),
            _ => None,
        }
    }

    /// When an entry entering memory now was loaded or written, if the layer has a maximum age.
    fn memory_since(&self) -> Option<Expiration> {
        self.memory_since_aged(Duration::ZERO)
    }

    /// Like [`memory_since`](Self::memory_since) for bytes that were already `age` old when
    /// read (a near cache's copy): their age counts from when the store last had them.
    pub(crate) fn memory_since_aged(&self, age: Duration) -> Option<Expiration> {
        self.inner.memory_ttl.map(|_| {
            let now = self.inner.clock.now();
            chrono::Duration::from_std(age)
                .ok()
                .and_then(|a| now.checked_sub_signed(a))
                .unwrap_or(now)
        })
    }

    /// The entry file `name` is about to go: its removal begins (it ends when the returned
    /// mutation is dropped, after the file went), and its copy leaves memory (if it is this
    /// backend's).
    pub(crate) fn forget_file(&self, name: &str) -> Mutation<'_> {
        // Digests have no dot: a name's key is what comes before its first one.
        let key = name.split_once('.').map_or(name, |(key, _)| key);
        let mutation = self.inner.generations.begin(key);
        let digest = name
            .strip_suffix(self.inner.backend.file_extension())
            .and_then(|rest| rest.strip_suffix('.'));
        if let Some(digest) = digest {
            let _locked = mutation.lock();
            self.inner.memory.remove(digest);
        }
        mutation
    }

    /// A disk budget evicted the entry file `name`: a copy read before it went is stale.
    pub(crate) fn evicted_from_store(&self, name: &str) {
        bump(&self.inner.counters.store_evictions);
        drop(self.forget_file(name));
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
            value.deserialize::<V>(&entry.bytes)
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
    /// itself, read at the moment of deleting, says it has expired. Counted in the statistics.
    pub(crate) fn load(&self, digest: &str) -> Result<Option<Entry>> {
        self.lookup(digest, true)
    }

    /// The stamp a caller reading `digest`'s entry from the store itself takes before the read
    /// (see [`lookup_from`](Self::lookup_from)).
    pub(crate) fn read_stamp(&self, digest: &str) -> Option<Stamp> {
        self.inner.generations.before_read(digest)
    }

    /// A mutation of `digest`'s entry begins (before a caller changes the store itself; see
    /// [`wrote`](Self::wrote)).
    pub(crate) fn begin_change(&self, digest: &str) -> Mutation<'_> {
        self.inner.generations.begin(digest)
    }

    /// [`load`](Self::load), counted in the statistics or not.
    fn lookup(&self, digest: &str, count: bool) -> Result<Option<Entry>> {
        Ok(self.lookup_from(digest, count, None, false)?.0)
    }

    /// Like [`load`](Self::load), but an entry expired within the freshness grace (see
    /// [`Freshness::grace`](crate::freshness::Freshness::grace)) is returned too (counted as
    /// `expired`, not as a miss), for a memoized call to judge. Past the grace, the old rules.
    pub(crate) fn load_kept(&self, digest: &str) -> Result<Option<Entry>> {
        Ok(self.lookup_from(digest, true, None, true)?.0)
    }

    /// [`lookup`](Self::lookup) (with `keep`: [`load_kept`](Self::load_kept)); with
    /// `prefetched`, the store's answer that the caller read itself (the async API's native
    /// reads) stands for the store read — with the [`read_stamp`](Self::read_stamp) the caller
    /// took before reading — and the deletion of an expired entry (a store operation) is left
    /// to the caller: `true` says it is due ([`remove_if_expired`](Self::remove_if_expired)).
    pub(crate) fn lookup_from(
        &self,
        digest: &str,
        count: bool,
        prefetched: Option<Prefetched>,
        keep: bool,
    ) -> Result<(Option<Entry>, bool)> {
        let defer_removal = prefetched.is_some();
        let counters = &self.inner.counters;
        let (entry, read_at) = match self.memory_hit(digest) {
            Some(entry) => (entry, None),
            None => {
                // Taken before the read (by the caller, for a prefetched answer): a mutation that
                // begins after it makes the copy stale.
                let (prefetched, stamp) = match prefetched {
                    Some((fetched, stamp)) => (Some(fetched), stamp),
                    None => (None, self.inner.generations.before_read(digest)),
                };
                match self.read_entry(digest, prefetched)? {
                    Some(entry) => (entry, Some(stamp)),
                    None => {
                        if count {
                            bump(&counters.misses);
                        }
                        return Ok((None, false));
                    }
                }
            }
        };
        // Entries that never expire in a bucket without lifetime need no clock (the warm path).
        if (entry.expiration.is_some() || self.inner.lifetime.is_some())
            && self.verdict(entry.expiration).is_expired()
        {
            let within_grace = self.within_grace(entry.expiration);
            // Within the freshness grace a memoized call may still serve it: it stays.
            if keep && within_grace {
                if let Some(Some(stamp)) = read_at {
                    self.keep_read(digest, stamp, &entry);
                }
                if count {
                    bump(&counters.expired);
                }
                return Ok((Some(entry), false));
            }
            if within_grace {
                // Kept in the store for memoized calls; a plain read misses it.
                self.inner.memory.remove(digest);
            } else if !defer_removal {
                // With a prefetched answer the caller deletes (and drops the copy) itself.
                self.remove_if_expired(digest);
            }
            if count {
                bump(&counters.misses);
                bump(&counters.expired);
            }
            return Ok((None, defer_removal && !within_grace));
        }
        if let Some(stamp) = read_at {
            if self.records_uses() {
                self.touch(digest, &entry);
            }
            if let Some(stamp) = stamp {
                self.keep_read(digest, stamp, &entry);
            }
            if count {
                bump(&counters.store_hits);
            }
        } else {
            if self.records_uses() {
                let now = unix_seconds();
                if entry.touched.load(Ordering::Relaxed) < now {
                    self.touch(digest, &entry);
                }
            }
            if count {
                bump(&counters.memory_hits);
            }
        }
        Ok((Some(entry), false))
    }

    /// Keeps in memory a copy of `digest`'s entry read from the store after `stamp` — only if
    /// no mutation of the key was in flight when the read began, nor has begun since.
    fn keep_read(&self, digest: &str, stamp: Stamp, entry: &Entry) {
        let _locked = self.inner.generations.lock(stamp.stripe());
        if self.inner.generations.is_current(stamp) {
            self.inner
                .memory
                .insert(digest, entry.clone(), self.memory_since_aged(entry.age));
        }
    }

    /// A hit of the in-memory layer that needs nothing of the store (the entry is live and no
    /// use is due to be recorded), counted; `None` when the store must be asked — a miss, an
    /// expired copy (whose file may have to go), a use to record. The async API answers such a
    /// hit inline and takes everything else to its blocking pool ([`load`](Self::load)).
    #[cfg(feature = "async")]
    pub(crate) fn memory_only(&self, digest: &str) -> Option<Entry> {
        let entry = self.memory_hit(digest)?;
        if (entry.expiration.is_some() || self.inner.lifetime.is_some())
            && self.verdict(entry.expiration).is_expired()
        {
            return None;
        }
        if self.records_uses() && entry.touched.load(Ordering::Relaxed) < unix_seconds() {
            return None;
        }
        bump(&self.inner.counters.memory_hits);
        Some(entry)
    }

    /// The in-memory entry of `digest`, unless it is older than the layer's maximum age.
    #[inline]
    fn memory_hit(&self, digest: &str) -> Option<Entry> {
        let held = self.inner.memory.get(digest)?;
        if let Some(ttl) = self.inner.memory_ttl {
            let now = self.inner.clock.now();
            let young = held
                .since
                .is_some_and(|since| (now - since).to_std().map_or(true, |age| age <= ttl));
            if !young {
                self.inner.memory.remove(digest);
                return None;
            }
        }
        Some(held.entry)
    }

    /// Whether reads record their use in the store: only with a disk budget (a bucket without
    /// one writes nothing on reads), and only in stores that keep recency.
    #[inline]
    fn records_uses(&self) -> bool {
        self.inner.budget.is_some() && self.inner.store.supports_recency()
    }

    /// Records a use of `digest`'s file for the disk budget's recency.
    fn touch(&self, digest: &str, entry: &Stored) {
        entry.touched.store(unix_seconds(), Ordering::Relaxed);
        let name = self.file_name(digest);
        if let Err(e) = self.inner.store.touch(&name) {
            tracing::debug!(file = %name, error = %e, "cannot record a use of an entry");
        }
    }

    /// Deletes `digest`'s file if what the store holds now has expired (not what memory held).
    pub(crate) fn remove_if_expired(&self, digest: &str) {
        let mutation = self.inner.generations.begin(digest);
        {
            let _locked = mutation.lock();
            self.inner.memory.remove(digest);
        }
        let name = self.file_name(digest);
        let backend = &self.inner.backend;
        let expired = |bytes: &[u8]| {
            shielded(|| backend.decode(bytes)).is_ok_and(|d| {
                self.verdict(d.expiration).is_expired() && !self.within_grace(d.expiration)
            })
        };
        let removed = self.inner.store.remove_if(&name, &expired);
        drop(mutation);
        match removed {
            Ok(Some(size)) => {
                tracing::debug!(file = %name, "deleted an expired entry");
                if let Some(budget) = &self.inner.budget {
                    budget.update(self, Change::Removed(size), None);
                }
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(file = %name, error = %e, "cannot delete an expired entry"),
        }
    }

    /// Reads and decodes the entry of `digest`: `None` when it is missing, not a regular file,
    /// too large, or cannot be decoded (all logged).
    /// With `prefetched`, what the caller read (without the head check, made here).
    fn read_entry(
        &self,
        digest: &str,
        prefetched: Option<std::io::Result<(Fetched, Duration)>>,
    ) -> Result<Option<Entry>> {
        self.read_entry_from(&*self.inner.store, digest, prefetched)
    }

    /// [`read_entry`](Self::read_entry) from `store` (the bucket's, or the far store behind a
    /// near cache).
    pub(crate) fn read_entry_from(
        &self,
        store: &dyn Store,
        digest: &str,
        prefetched: Option<std::io::Result<(Fetched, Duration)>>,
    ) -> Result<Option<Entry>> {
        let name = self.file_name(digest);
        let backend = &self.inner.backend;
        let head = |h: &[u8]| shielded(|| Ok(backend.may_begin_entry(h))).unwrap_or(false);
        let limits = ReadLimits {
            max_bytes: self.inner.max_entry_bytes,
            head: &head,
        };
        let fetched = match prefetched {
            Some(Ok((Fetched::Bytes(bytes), _)))
                if !head(&bytes[..bytes.len().min(crate::backend::HEAD_LEN)]) =>
            {
                Ok((Fetched::Rejected, Duration::ZERO))
            }
            Some(fetched) => fetched,
            None => store.read_with_age(&name, &limits),
        };
        let (bytes, age) = match fetched {
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
                Ok(Some(Arc::new(Stored {
                    bytes,
                    expiration: decoded.expiration,
                    value,
                    touched: AtomicU64::new(0),
                    age,
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

    pub(crate) fn file_name(&self, digest: &str) -> String {
        let ext = self.inner.backend.file_extension();
        let mut name = String::with_capacity(digest.len() + 1 + ext.len());
        name.push_str(digest);
        name.push('.');
        name.push_str(ext);
        name
    }

    pub(crate) fn store_error(&self, name: &str, source: std::io::Error) -> Error {
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

/// A store's answer read by the caller itself (with its age), and the stamp taken before the
/// read (see [`Bucket::lookup_from`]).
pub(crate) type Prefetched = (std::io::Result<(Fetched, Duration)>, Option<Stamp>);

/// Whether a failed store write may have happened all the same (a request sent but not
/// answered: Redis's `OutcomeUnknown` travels as `NotConnected`, a command timeout as
/// `TimedOut`). Other failures (a full disk, a refused connection) changed nothing.
fn outcome_unknown(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::NotConnected | std::io::ErrorKind::TimedOut
    )
}
