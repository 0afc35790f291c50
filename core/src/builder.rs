//! `BucketBuilder`: every way to configure a bucket before opening it.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use crate::backend::Backend;
use crate::bucket::{Bucket, Inner};
use crate::inspect::DEFAULT_MAX_ENTRY_BYTES;
use crate::keymaker::KeyMaker;
use crate::registry::{self, BackendOptions};
use crate::store::{open_store, NearStore, Store, StoreOptions, DEFAULT_NEAR_TTL};
use crate::time::{Clock, SystemClock};
use crate::{Error, Result};

/// The keymaker that names files exactly as Python BucketCache 0.12.1 does.
pub const PYTHON_KEYMAKER: &str = "python";

/// What [`Bucket::from_config`] opens: a description of a bucket that sets a builder up.
/// `BucketConfig` (crate `bucketcache-config`) is the one the project ships.
///
/// ```
/// # fn main() -> bucketcache_core::Result<()> {
/// # bucketcache::install_default_backends()?;
/// use bucketcache_core::{Bucket, BucketBuilder, ConfigSource, Result};
/// struct Here(std::path::PathBuf);
/// impl ConfigSource for Here {
///     fn builder(&self) -> Result<BucketBuilder> {
///         Ok(Bucket::builder(&self.0).backend("json"))
///     }
/// }
/// let dir = tempfile::tempdir().unwrap();
/// let b = Bucket::from_config(&Here(dir.path().into()))?;
/// assert_eq!(b.backend().name(), "json");
/// # Ok(()) }
/// ```
pub trait ConfigSource {
    /// A builder set up from this description (plugins it names loaded first).
    fn builder(&self) -> Result<BucketBuilder>;
}

enum Choice<T: ?Sized> {
    Name(String),
    Instance(Arc<T>),
}

/// How long a memoized call waits, by default, for another process's computation.
pub(crate) const DEFAULT_SINGLE_FLIGHT_TIMEOUT: Duration = Duration::from_secs(300);

/// Configures and opens a [`Bucket`]. Made by [`Bucket::builder`].
///
/// The lifetime is given either whole ([`lifetime`](Self::lifetime)) or in the original's units
/// ([`days`](Self::days), [`hours`](Self::hours), …, which add up); giving both is an error at
/// [`open`](Self::open), as in the original. A zero lifetime means none.
///
/// ```
/// # fn main() -> bucketcache_core::Result<()> {
/// # bucketcache::install_default_backends()?;
/// let dir = tempfile::tempdir().unwrap();
/// let b = bucketcache_core::Bucket::builder(dir.path())
///     .backend("json")
///     .keymaker("default")
///     .hours(1)
///     .minutes(30)
///     .open()?;
/// assert_eq!(b.lifetime(), Some(std::time::Duration::from_secs(5400)));
/// # Ok(()) }
/// ```
pub struct BucketBuilder {
    path: PathBuf,
    backend: Option<Choice<dyn Backend>>,
    backend_options: BackendOptions,
    keymaker: Option<Choice<dyn KeyMaker>>,
    python_compatible: bool,
    lifetime: Option<Duration>,
    units: Option<Duration>,
    clock: Arc<dyn Clock>,
    /// `None`: the distribution's default store.
    store: Option<Choice<dyn Store>>,
    store_options: serde_json::Value,
    durable: bool,
    max_entry_bytes: u64,
    log_full_keys: bool,
    fail_open: bool,
    near_cache: Option<PathBuf>,
    near_ttl: Duration,
    /// Options set one by one ([`connect_timeout`](Self::connect_timeout), …), merged over
    /// `store_options` at `open`.
    store_settings: serde_json::Map<String, serde_json::Value>,
    single_flight_across: bool,
    single_flight_timeout: Duration,
    memory_limit: u64,
    memory_ttl: Option<Duration>,
    max_bytes: Option<u64>,
    max_entries: Option<u64>,
    lock_timeout: Duration,
    allow_degraded: bool,
    freshness: crate::freshness::Freshness,
    refresh_threads: usize,
}

// Bucket's constructors live beside the builder they start (bucket.rs knows no builder).
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

    /// Opens the bucket a configuration describes: a `BucketConfig` (crate
    /// `bucketcache-config`, `bucketcache::BucketConfig`), which loads its plugins first.
    pub fn from_config(config: &(impl ConfigSource + ?Sized)) -> Result<Bucket> {
        config.builder()?.open()
    }
}

impl BucketBuilder {
    pub(crate) fn new(path: PathBuf) -> Self {
        BucketBuilder {
            path,
            backend: None,
            backend_options: BackendOptions::Null,
            keymaker: None,
            python_compatible: false,
            lifetime: None,
            units: None,
            clock: Arc::new(SystemClock),
            store: None,
            store_options: serde_json::Value::Null,
            durable: false,
            max_entry_bytes: DEFAULT_MAX_ENTRY_BYTES,
            single_flight_across: true,
            single_flight_timeout: DEFAULT_SINGLE_FLIGHT_TIMEOUT,
            log_full_keys: false,
            fail_open: false,
            near_cache: None,
            near_ttl: DEFAULT_NEAR_TTL,
            store_settings: serde_json::Map::new(),
            memory_limit: bucketcache_near::memory::DEFAULT_MEMORY_LIMIT,
            memory_ttl: None,
            max_bytes: None,
            max_entries: None,
            lock_timeout: crate::budget::DEFAULT_LOCK_TIMEOUT,
            allow_degraded: false,
            freshness: Default::default(),
            refresh_threads: crate::refresh::DEFAULT_REFRESH_THREADS,
        }
    }

    /// Selects a registered backend by name (default: the distribution's, see
    /// [`registry::default_backend`]; `msgpack` in `bucketcache`).
    pub fn backend(mut self, name: impl Into<String>) -> Self {
        self.backend = Some(Choice::Name(name.into()));
        self
    }

    /// Options for the named backend (a JSON object; unknown options are refused at `open`).
    pub fn backend_options(mut self, options: BackendOptions) -> Self {
        self.backend_options = options;
        self
    }

    /// Uses this backend instance (validated at `open`).
    pub fn backend_instance(mut self, backend: Arc<dyn Backend>) -> Self {
        self.backend = Some(Choice::Instance(backend));
        self
    }

    /// Selects a registered keymaker by name (default: the distribution's, see
    /// [`registry::default_keymaker`]; `default` in `bucketcache`).
    pub fn keymaker(mut self, name: impl Into<String>) -> Self {
        self.keymaker = Some(Choice::Name(name.into()));
        self
    }

    /// Uses this keymaker instance.
    pub fn keymaker_instance(mut self, keymaker: Arc<dyn KeyMaker>) -> Self {
        self.keymaker = Some(Choice::Instance(keymaker));
        self
    }

    /// Names files exactly as Python BucketCache 0.12.1 does (md5 over the backend's Python class
    /// name and the key's `json.dumps` bytes), so that a Python program can share the directory.
    /// The backend must declare a Python class name.
    pub fn python_compatible(mut self) -> Self {
        self.python_compatible = true;
        self
    }

    /// The lifetime of entries written through this bucket.
    pub fn lifetime(mut self, lifetime: Duration) -> Self {
        self.lifetime = Some(lifetime);
        self
    }

    fn add(mut self, amount: u64, unit_secs: f64) -> Self {
        let add = Duration::try_from_secs_f64(amount as f64 * unit_secs).unwrap_or(Duration::MAX);
        self.units = Some(self.units.unwrap_or_default().saturating_add(add));
        self
    }

    /// Adds weeks to the lifetime.
    pub fn weeks(self, n: u64) -> Self {
        self.add(n, 604_800.0)
    }
    /// Adds days to the lifetime.
    pub fn days(self, n: u64) -> Self {
        self.add(n, 86_400.0)
    }
    /// Adds hours to the lifetime.
    pub fn hours(self, n: u64) -> Self {
        self.add(n, 3_600.0)
    }
    /// Adds minutes to the lifetime.
    pub fn minutes(self, n: u64) -> Self {
        self.add(n, 60.0)
    }
    /// Adds seconds to the lifetime.
    pub fn seconds(self, n: u64) -> Self {
        self.add(n, 1.0)
    }
    /// Adds milliseconds to the lifetime.
    pub fn milliseconds(self, n: u64) -> Self {
        self.add(n, 1e-3)
    }
    /// Adds microseconds to the lifetime.
    pub fn microseconds(self, n: u64) -> Self {
        self.add(n, 1e-6)
    }

    /// Where "now" comes from (default: the system clock). Tests use
    /// [`ManualClock`](crate::time::ManualClock).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Selects the store: a registered name (`fs`, the default in `bucketcache`; `lmdb`) or a URL
    /// whose scheme a store registered (`redis://127.0.0.1:6379/0`, where the path is the
    /// namespace).
    pub fn store(mut self, name_or_url: impl Into<String>) -> Self {
        self.store = Some(Choice::Name(name_or_url.into()));
        self
    }

    /// The store's own options (a JSON object), e.g. for Redis
    /// `{"connect_timeout_ms": 500, "command_timeout_ms": 1000}`.
    pub fn store_options(mut self, options: serde_json::Value) -> Self {
        self.store_options = options;
        self
    }

    /// How long a network store (Redis) waits to connect before the call fails: the store
    /// option `connect_timeout_ms` (Redis's default: 2 s).
    pub fn connect_timeout(self, timeout: Duration) -> Self {
        self.store_setting("connect_timeout_ms", timeout)
    }

    /// How long a network store (Redis) waits for an answer, without progress, before the call
    /// fails: the store option `command_timeout_ms` (Redis's default: 2 s).
    pub fn command_timeout(self, timeout: Duration) -> Self {
        self.store_setting("command_timeout_ms", timeout)
    }

    fn store_setting(mut self, name: &str, d: Duration) -> Self {
        let ms = u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1);
        self.store_settings.insert(name.to_owned(), ms.into());
        self
    }

    /// With `true`, a store that cannot be read (a Redis server down or unreachable) makes
    /// `get` a miss, logged at warn level, instead of an error — for caches that must never take
    /// the program down. Writes still fail with an error (memoized functions then run uncached).
    /// Off by default.
    pub fn fail_open(mut self, yes: bool) -> Self {
        self.fail_open = yes;
        self
    }

    /// Puts a near cache in front of the store: a local directory (created if needed, one per
    /// bucket) holding copies of what this machine read or wrote. Reads go memory → near →
    /// store, and a store hit is copied near; writes go to the store first, then near. A near
    /// copy — and the bucket's in-memory copy — is used for at most [`near_ttl`](Self::near_ttl),
    /// so another machine's write is seen within that time. See [`NearStore`].
    pub fn near_cache(mut self, dir: impl Into<PathBuf>) -> Self {
        self.near_cache = Some(dir.into());
        self
    }

    /// How long a near copy is used (default 60 s); only with
    /// [`near_cache`](Self::near_cache).
    pub fn near_ttl(mut self, ttl: Duration) -> Self {
        self.near_ttl = ttl;
        self
    }

    /// Keeps entries in this store instance (e.g. a fault-injecting double); the path is then
    /// only a name.
    pub fn store_instance(mut self, store: Arc<dyn Store>) -> Self {
        self.store = Some(Choice::Instance(store));
        self
    }

    /// The largest entry this bucket writes or reads, in bytes (default 256 MiB): a larger value
    /// is refused at `set` ([`Error::EntryTooLarge`]) and a larger file is a miss without being
    /// read.
    pub fn max_entry_bytes(mut self, max: u64) -> Self {
        self.max_entry_bytes = max;
        self
    }

    /// fsync each written file and the directory before `set` returns (off by default; about ten
    /// times slower).
    pub fn durable(mut self, durable: bool) -> Self {
        self.durable = durable;
        self
    }

    /// Whether memoized calls (`get_or_insert_with`, `get_or_try_insert_with`, `#[cached]`)
    /// compute once per cache rather than once per process (default `true`): on a miss, the
    /// caller takes the store's lock for that entry — an OS lock in the directory for `fs` and
    /// `lmdb`, a lease for Redis — and a caller in another process that misses the same entry
    /// meanwhile waits for it and reads its result. Plain `set`/`get` never lock, nor does a hit.
    /// `false` keeps single flight within the process only.
    pub fn single_flight_across_processes(mut self, yes: bool) -> Self {
        self.single_flight_across = yes;
        self
    }

    /// How long a memoized call waits for another caller's computation of the same entry —
    /// a thread or task of this process, or another process — before computing it itself
    /// (default 5 minutes). Every wait of single flight is bounded by it: a computation that
    /// began longer ago than this (hung, or just slow) holds no one back; the waiter then
    /// computes the value too and stores it (the entry may be computed more than once). A holder
    /// that dies or fails releases its lock at once; the timeout is for a holder that is alive
    /// but slow. A computation that calls the same memoized key again, on its own thread, never
    /// waits for itself: the inner call computes at once.
    ///
    /// ```
    /// # fn main() -> bucketcache_core::Result<()> {
    /// # bucketcache::install_default_backends()?;
    /// use std::time::Duration;
    /// let dir = tempfile::tempdir().unwrap();
    /// let b = bucketcache_core::Bucket::builder(dir.path())
    ///     .single_flight_timeout(Duration::from_secs(30))
    ///     .open()?;
    /// // A re-entrant computation: the inner call computes, without waiting for the outer one.
    /// let v: u32 = b.get_or_insert_with("k", || b.get_or_insert_with("k", || 1).unwrap() + 1)?;
    /// assert_eq!(v, 2);
    /// # Ok(()) }
    /// ```
    pub fn single_flight_timeout(mut self, timeout: Duration) -> Self {
        self.single_flight_timeout = timeout;
        self
    }

    /// Logs whole keys instead of their first 80 characters.
    pub fn log_full_keys(mut self, yes: bool) -> Self {
        self.log_full_keys = yes;
        self
    }

    /// The most bytes the in-memory layer holds (default 64 MiB); `0` turns the layer off
    /// (every read goes to the store).
    ///
    /// The layer keeps the entries read and written, as the store holds them, each weighed as
    /// its bytes plus a fixed overhead (twice its bytes for backends whose values are decoded
    /// into a structure of their own, such as `pickle`). Over the limit it evicts by a
    /// CLOCK-Pro / S3-FIFO-like policy (see [`crate::memory`]) — close to least recently used,
    /// not strictly so. An entry weighing more than a tenth of the limit is never kept in
    /// memory (it is still written and read).
    ///
    /// ```
    /// # fn main() -> bucketcache_core::Result<()> {
    /// # bucketcache::install_default_backends()?;
    /// let dir = tempfile::tempdir().unwrap();
    /// let b = bucketcache_core::Bucket::builder(dir.path())
    ///     .backend("json")
    ///     .memory_limit(1 << 20)
    ///     .open()?;
    /// let value = "a value of a few dozen bytes, times ten thousand";
    /// for i in 0..10_000 {
    ///     b.set(&i, &value)?;
    /// }
    /// let stats = b.stats();
    /// assert!(stats.memory_bytes <= 1 << 20);
    /// assert!(stats.memory_evictions > 0);
    /// assert_eq!(b.get::<String>(&0)?.as_deref(), Some(value));
    /// # Ok(()) }
    /// ```
    pub fn memory_limit(mut self, bytes: u64) -> Self {
        self.memory_limit = bytes;
        self
    }

    /// The most time an entry stays in the in-memory layer, measured by the bucket's clock
    /// from when it was loaded or written (default `None`: no limit). An older in-memory copy
    /// is dropped and the entry read again from the store: for stores that other processes
    /// write (a near cache over a network store), this bounds how stale a memory hit can be.
    ///
    /// ```
    /// # fn main() -> bucketcache_core::Result<()> {
    /// # bucketcache::install_default_backends()?;
    /// use std::{sync::Arc, time::Duration};
    /// use bucketcache_core::{Bucket, ManualClock};
    /// let dir = tempfile::tempdir().unwrap();
    /// let clock = Arc::new(ManualClock::new("2030-01-01T00:00:00".parse().unwrap()));
    /// let b = Bucket::builder(dir.path()).backend("json").clock(clock.clone())
    ///     .memory_ttl(Some(Duration::from_secs(10)))
    ///     .open()?;
    /// b.set("k", &1)?;
    /// clock.advance(Duration::from_secs(11));
    /// assert_eq!(b.get::<i32>("k")?, Some(1)); // read again from the store
    /// assert_eq!((b.stats().memory_hits, b.stats().store_hits), (0, 1));
    /// # Ok(()) }
    /// ```
    pub fn memory_ttl(mut self, ttl: Option<Duration>) -> Self {
        self.memory_ttl = ttl;
        self
    }

    /// A disk budget in bytes for the whole location (every backend's entries in it, counted
    /// by their lengths): a `set` that takes it over evicts the least recently used entries,
    /// across processes, down to 90% (see [`crate::budget`] for the rule and its slack).
    /// Reads in a bucket with a budget record their use (for the file store, the file's
    /// modification time); a bucket without one writes nothing on reads.
    ///
    /// ```
    /// # fn main() -> bucketcache_core::Result<()> {
    /// # bucketcache::install_default_backends()?;
    /// let dir = tempfile::tempdir().unwrap();
    /// let b = bucketcache_core::Bucket::builder(dir.path())
    ///     .backend("json")
    ///     .max_bytes(10_000)
    ///     .open()?;
    /// for i in 0..1000 {
    ///     b.set(&i, &"a value of about fifty bytes once encoded")?;
    /// }
    /// assert!(b.inspector().usage()?.bytes <= 10_000);
    /// assert!(b.stats().store_evictions > 0);
    /// # Ok(()) }
    /// ```
    pub fn max_bytes(mut self, bytes: u64) -> Self {
        self.max_bytes = Some(bytes);
        self
    }

    /// A disk budget in entries for the whole location (see [`max_bytes`](Self::max_bytes)).
    ///
    /// ```
    /// # fn main() -> bucketcache_core::Result<()> {
    /// # bucketcache::install_default_backends()?;
    /// let dir = tempfile::tempdir().unwrap();
    /// let b = bucketcache_core::Bucket::builder(dir.path())
    ///     .backend("json")
    ///     .max_entries(100)
    ///     .open()?;
    /// for i in 0..1000 {
    ///     b.set(&i, &i)?;
    /// }
    /// assert!(b.inspector().usage()?.entries <= 100);
    /// assert_eq!(b.get::<i32>(&999)?, Some(999)); // the last written stays
    /// # Ok(()) }
    /// ```
    pub fn max_entries(mut self, entries: u64) -> Self {
        self.max_entries = Some(entries);
        self
    }

    /// The longest a bucket waits for a lock of the cache shared by processes — the disk
    /// budget's record — before it goes on without it (default
    /// [`DEFAULT_LOCK_TIMEOUT`](crate::budget::DEFAULT_LOCK_TIMEOUT), 2 s; zero: one try). The
    /// `set` that waited is not lost: its entry is written and its accounting put off until the
    /// lock is free (see [`crate::budget`]); `stats().budget_deferred` counts those times.
    /// (Memoized calls' waits for another process's computation are bounded by
    /// [`single_flight_timeout`](Self::single_flight_timeout).)
    ///
    /// ```
    /// # fn main() -> bucketcache_core::Result<()> {
    /// # bucketcache::install_default_backends()?;
    /// use std::time::Duration;
    /// let dir = tempfile::tempdir().unwrap();
    /// let b = bucketcache_core::Bucket::builder(dir.path())
    ///     .max_entries(100)
    ///     .lock_timeout(Duration::from_millis(500))
    ///     .open()?;
    /// b.set("k", &1)?;
    /// assert_eq!(b.stats().budget_deferred, 0); // nobody else held the lock
    /// # Ok(()) }
    /// ```
    pub fn lock_timeout(mut self, timeout: Duration) -> Self {
        self.lock_timeout = timeout;
        self
    }

    /// Whether the bucket may open without a guarantee it was configured with when its
    /// location cannot keep it (default `false`): the disk budget shared by processes (its
    /// record, `.bucketcache-budget`, must be a regular file this process can open and lock)
    /// and single flight across processes (its lock file, `.bucketcache-locks`, likewise).
    ///
    /// Without it, [`open`](Self::open) fails with [`Error::Degraded`] naming the guarantee, the
    /// file and the reason. With it, the bucket opens without that guarantee — a budget kept by
    /// each process from its own listings, memoized calls computed once per process — and
    /// [`Stats::degraded`](crate::Stats::degraded) lists each guarantee that is off and why.
    ///
    /// ```
    /// # fn main() -> bucketcache_core::Result<()> {
    /// # bucketcache::install_default_backends()?;
    /// use bucketcache_core::{Bucket, Error, Guarantee};
    /// let dir = tempfile::tempdir().unwrap();
    /// std::fs::create_dir(dir.path().join(".bucketcache-locks")).unwrap(); // not a lock file
    /// assert!(matches!(Bucket::builder(dir.path()).open(), Err(Error::Degraded { .. })));
    /// let b = Bucket::builder(dir.path()).allow_degraded(true).open()?;
    /// let off = &b.stats().degraded;
    /// assert_eq!(off[0].guarantee, Guarantee::SingleFlightAcrossProcesses);
    /// assert!(off[0].path.ends_with(".bucketcache-locks"));
    /// # Ok(()) }
    /// ```
    pub fn allow_degraded(mut self, allow: bool) -> Self {
        self.allow_degraded = allow;
        self
    }

    /// A memoized call (`get_or_insert_with`, `get_or_try_insert_with`, their `_background`
    /// forms, `#[cached]`) that finds an entry expired by at most `window` returns the expired
    /// value at once, and one refresh of the entry starts — one per key across every process
    /// sharing the store (it takes the entry's cross-process lock without waiting; a caller that
    /// cannot take it does not refresh). The refresh runs in the background for the `_background`
    /// forms and `#[cached(background)]`, otherwise in the call that took it. Plain `get` and
    /// `contains` still call such an entry a miss, but do not delete it within the window.
    /// Off by default. See `docs/freshness.md`.
    ///
    /// ```
    /// # fn main() -> bucketcache_core::Result<()> {
    /// # bucketcache::install_default_backends()?;
    /// use std::{sync::Arc, time::Duration};
    /// use bucketcache_core::{Bucket, ManualClock};
    /// let dir = tempfile::tempdir().unwrap();
    /// let clock = Arc::new(ManualClock::starting_now());
    /// let b = Bucket::builder(dir.path()).backend("json").clock(clock.clone())
    ///     .lifetime(Duration::from_secs(60))
    ///     .stale_while_revalidate(Duration::from_secs(600))
    ///     .open()?;
    /// assert_eq!(b.get_or_insert_with("k", || 1)?, 1);
    /// clock.advance(Duration::from_secs(61));
    /// assert_eq!(b.get::<i32>("k")?, None); // expired for a plain get
    /// // This caller takes the refresh (no other does), computes and gets the new value.
    /// assert_eq!(b.get_or_insert_with("k", || 2)?, 2);
    /// # Ok(()) }
    /// ```
    pub fn stale_while_revalidate(mut self, window: Duration) -> Self {
        self.freshness.stale_while_revalidate = Some(window).filter(|w| !w.is_zero());
        self
    }

    /// When a memoized computation fails (the `Err` of `get_or_try_insert_with` or of a
    /// `#[cached]` function returning `Result`, a panic in a background refresh) and an entry
    /// expired by at most `window` exists, callers get the expired value instead of the error;
    /// the error is logged at warn level and counted ([`Stats::stale_if_error_answers`]). Past
    /// the window, the error is returned as without it. Off by default.
    ///
    /// [`Stats::stale_if_error_answers`]: crate::Stats::stale_if_error_answers
    pub fn stale_if_error(mut self, window: Duration) -> Self {
        self.freshness.stale_if_error = Some(window).filter(|w| !w.is_zero());
        self
    }

    /// Refreshes live entries of memoized calls before they expire, with a probability rising
    /// as expiry nears, weighted by how long the entry's last computation took in this process
    /// (XFetch; see [`crate::freshness::refresh_ahead_due`]): a key read steadily never expires
    /// for its readers. One refresh per key across processes; a caller that does not take it
    /// returns the current value at once. Off by default.
    pub fn refresh_ahead(mut self, yes: bool) -> Self {
        self.freshness.refresh_ahead = yes;
        self
    }

    /// How many threads run background refreshes (default 2; at least 1). The
    /// threads start on the first background refresh; a process exits without waiting for them.
    pub fn refresh_threads(mut self, threads: usize) -> Self {
        self.refresh_threads = threads.max(1);
        self
    }

    /// Validates everything, creates the directory (recursively) and opens the bucket.
    ///
    /// A lifetime that would put expirations past the end of year 9999 (by the bucket's clock)
    /// is refused with [`Error::InvalidLifetime`]: no built-in format can read such a date back.
    pub fn open(self) -> Result<Bucket> {
        let lifetime = match (self.lifetime, self.units) {
            (Some(_), Some(_)) => {
                return Err(Error::InvalidLifetime(
                    "give either a lifetime or units (weeks, days, ...), not both".into(),
                ))
            }
            (l, u) => l.or(u).filter(|d| !d.is_zero()),
        };
        if let Some(l) = lifetime {
            crate::time::check_lifetime(self.clock.now(), l)?;
        }
        let backend = match self.backend {
            Some(Choice::Name(name)) => registry::backend(&name, &self.backend_options)?,
            None => registry::backend(registry::default_backend()?, &self.backend_options)?,
            Some(Choice::Instance(b)) => {
                crate::validate::validate_backend(&*b, "Bucket::builder().backend_instance")?;
                check_extension_owner(&*b)?;
                b
            }
        };
        let (keymaker, keymaker_origin) = match self.keymaker {
            Some(Choice::Instance(k)) => (k, None),
            choice => {
                let name = match &choice {
                    Some(Choice::Name(name)) => name.as_str(),
                    _ if self.python_compatible => PYTHON_KEYMAKER,
                    _ => registry::default_keymaker()?,
                };
                (registry::keymaker(name)?, registry::keymaker_origin(name))
            }
        };
        if self.python_compatible && keymaker.name() != PYTHON_KEYMAKER {
            return Err(Error::Config(format!(
                "python_compatible() names files with the {PYTHON_KEYMAKER:?} keymaker, not {:?}",
                keymaker.name()
            )));
        }
        if keymaker.name() == PYTHON_KEYMAKER && backend.python_class_name().is_none() {
            return Err(Error::NotPythonCompatible {
                backend: backend.name().to_owned(),
            });
        }
        if keymaker_origin.is_some() {
            validate_keymaker_once(&*keymaker, &*backend)?;
        } else {
            crate::validate::validate_keymaker(&*keymaker, &*backend)?;
        }
        let mut store_options = self.store_options;
        if !self.store_settings.is_empty() {
            match &mut store_options {
                serde_json::Value::Object(map) => map.extend(self.store_settings),
                serde_json::Value::Null => {
                    store_options = serde_json::Value::Object(self.store_settings)
                }
                other => {
                    return Err(Error::Config(format!(
                        "store_options must be an object, not {other}"
                    )))
                }
            }
        }
        let store = match self.store {
            Some(choice) => choice,
            None => Choice::Name(registry::default_store()?.to_owned()),
        };
        let (store, source) = match store {
            Choice::Instance(s) => {
                let source = s.name().to_owned();
                (s, source)
            }
            Choice::Name(spec) => (
                open_store(
                    &spec,
                    StoreOptions::new(self.path.clone())
                        .durable(self.durable)
                        .max_entry_bytes(self.max_entry_bytes)
                        .lock_timeout(self.lock_timeout)
                        .options(store_options),
                )?,
                bucketcache_near::without_credentials(&spec),
            ),
        };
        let (store, near_memory_ttl, far): (Arc<dyn Store>, _, _) = match self.near_cache {
            Some(dir) => {
                let identity = format!("{source} {}", store.location().display());
                let far = store.clone();
                let near = NearStore::open(dir, store, self.near_ttl, &identity)?;
                (Arc::new(near), Some(self.near_ttl), Some(far))
            }
            None => (store, None, None),
        };
        let budgeted = self.max_bytes.is_some() || self.max_entries.is_some();
        let degraded = store.check_guarantees(budgeted, self.single_flight_across);
        if let (false, Some(first)) = (self.allow_degraded, degraded.first()) {
            return Err(Error::degraded(
                first.guarantee,
                first.path.clone(),
                first.reason.clone(),
            ));
        }
        for d in &degraded {
            tracing::warn!(guarantee = %d.guarantee, path = %d.path.display(), reason = %d.reason,
                "opening without a configured guarantee (allow_degraded)");
        }
        let shared_record = !degraded
            .iter()
            .any(|d| d.guarantee == crate::stats::Guarantee::DiskBudget);
        Ok(Bucket::from_inner(Inner {
            backend,
            keymaker,
            lifetime,
            clock: self.clock,
            store,
            log_full_keys: self.log_full_keys,
            max_entry_bytes: self.max_entry_bytes,
            single_flight_across: self.single_flight_across,
            single_flight_timeout: self.single_flight_timeout,
            fail_open: self.fail_open,
            memory: bucketcache_near::memory::Memory::new(self.memory_limit),
            generations: Default::default(),
            // A near cache's ttl bounds the in-memory copy too (the shorter of the two).
            memory_ttl: match (self.memory_ttl, near_memory_ttl) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            },
            budget: crate::budget::Budget::new(
                self.max_bytes,
                self.max_entries,
                self.lock_timeout,
                shared_record,
            ),
            degraded,
            counters: Default::default(),
            freshness: self.freshness,
            refresher: crate::refresh::Refresher::new(self.refresh_threads),
            far,
        }))
    }
}

/// An extension belongs to one backend: an instance may not write files with the extension of
/// a registered backend of another name (the two would read and delete each other's entries).
fn check_extension_owner(backend: &dyn Backend) -> Result<()> {
    let ext = backend.file_extension();
    match registry::backends()
        .into_iter()
        .find(|i| i.extension == ext && i.name != backend.name())
    {
        Some(owner) => Err(Error::BackendRefused {
            name: backend.name().to_owned(),
            origin: "Bucket::builder().backend_instance".into(),
            rule: format!(
                "its extension .{ext} already belongs to backend {:?} from {}",
                owner.name, owner.origin
            ),
        }),
        None => Ok(()),
    }
}

/// Validates a registered keymaker with a backend once per process (per pair of names):
/// validation hashes thousands of probe keys, and buckets are opened often.
fn validate_keymaker_once(keymaker: &dyn KeyMaker, backend: &dyn Backend) -> Result<()> {
    static VALIDATED: OnceLock<Mutex<HashSet<(String, String)>>> = OnceLock::new();
    let pair = (keymaker.name().to_owned(), backend.name().to_owned());
    let validated = VALIDATED.get_or_init(Default::default);
    if validated
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .contains(&pair)
    {
        return Ok(());
    }
    crate::validate::validate_keymaker(keymaker, backend)?;
    validated
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(pair);
    Ok(())
}
