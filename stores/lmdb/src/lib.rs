//! `bucketcache-lmdb`: an LMDB store for bucketcache.
//!
//! Every entry of a cache directory lives in one memory-mapped B+tree (LMDB, through `heed`):
//! a `set` is one write transaction instead of a file creation and a rename, a cold `get` one
//! lookup in a map that the operating system already caches. Many processes use one cache safely
//! (LMDB's lock file), with no server.
//!
//! - **Layout**: the directory holds LMDB's `data.mdb` and `lock.mdb` (and, on Linux,
//!   [`RESIZE_LOCK_FILE`]), never listed as entries.
//!   Entries are keyed by their name, `<digest>.<extension>`, so several backends share one
//!   environment as they share a directory; the stored bytes are the backend's encoded entry, so
//!   every backend and plugin works unchanged. An LMDB cache cannot be shared with Python
//!   BucketCache (which reads files).
//! - **One environment per directory and per process** (LMDB's rule), shared by every
//!   `Bucket` and store on that path and closed with the last one.
//! - **Durability**: commits are not flushed (`MDB_NOSYNC`): a process that dies loses nothing,
//!   a system crash may lose the last writes. `durable` (`Bucket::builder(..).durable(true)`)
//!   flushes after every commit.
//! - **The map grows by itself** when full (to twice its size, or more for a large value), up to
//!   `max_map_size`; past that a write fails with [`LmdbError::MapFull`] and the previous value
//!   is kept. Processes follow each other's growth.
//! - **Options** (`store_options` / `[store_options]`): `map_size` (initial, bytes; default
//!   8 MiB) and `max_map_size` (default 1 TiB).
//! - **Writable map** on Linux (`MDB_WRITEMAP`: a commit writes into shared memory, no `pwrite`
//!   per page), with every block of `data.mdb` reserved before LMDB maps it, so that a full disk
//!   is an error from `set`, never `SIGBUS`; the file is then as large as the map. Elsewhere,
//!   and on file systems that cannot reserve blocks, commits write with `pwrite`.
//! - **Read-only** for tools ([`LmdbStore::open_read_only`], what the CLI's read commands use):
//!   nothing is created or written, and a `data.mdb` that is not LMDB is
//!   [`LmdbError::NotLmdb`]. LMDB trusts its file: a damaged one may crash the reading process,
//!   so a tool should walk an untrusted store in a process it can lose.
//!
//! ```
//! # fn main() -> bucketcache::Result<()> {
//! # bucketcache::install_default_backends()?;
//! bucketcache_lmdb::register()?;
//! let dir = tempfile::tempdir().unwrap();
//! let b = bucketcache::Bucket::builder(dir.path()).store("lmdb").open()?;
//! b.set("answer", &42)?;
//! assert_eq!(b.get::<i32>("answer")?, Some(42));
//! assert!(dir.path().join("data.mdb").exists());
//! # Ok(()) }
//! ```
#![warn(missing_docs)]

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bucketcache_fs::FileLocks;
use bucketcache_traits::backend::HEAD_LEN;
use bucketcache_traits::registration::register_store;
use bucketcache_traits::store::{
    Fetched, Kind, Listed, Locked, ReadLimits, Store, StoreOptions, StoreRegistration, Usage,
};
use heed::{MdbError, RoTxn, RwTxn, WithoutTls};
use serde::Deserialize;

mod env;
mod error;
mod meta;

pub use error::LmdbError;

use env::{Access, Db, Shared, Sizes};
use meta::Meta;

/// The store's registry name.
pub const NAME: &str = "lmdb";

/// LMDB's data file, inside the cache directory: its presence marks an LMDB cache.
pub const DATA_FILE: &str = "data.mdb";

/// LMDB's lock file, inside the cache directory.
pub const LOCK_FILE: &str = "lock.mdb";

/// The file whose lock serialises the map resizes of all processes (Linux), inside the cache
/// directory. Its name starts with `.`: a helper file, never an entry.
pub const RESIZE_LOCK_FILE: &str = ".bucketcache-lmdb.lock";

/// The initial map size when none is given: 8 MiB (it doubles when full). On Linux `data.mdb`
/// is as large as the map, its blocks reserved.
pub const DEFAULT_MAP_SIZE: u64 = 8 << 20;

/// The largest the map grows to when no `max_map_size` is given: 1 TiB.
pub const DEFAULT_MAX_MAP_SIZE: u64 = if usize::BITS >= 64 { 1 << 40 } else { 1 << 30 };

/// How many times an operation is retried after the map was resized or reader slots freed.
const ATTEMPTS: usize = 16;

/// The store's own options (`store_options`): sizes in bytes.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Options {
    map_size: Option<u64>,
    max_map_size: Option<u64>,
}

impl Options {
    fn parse(value: &serde_json::Value) -> Result<Sizes, LmdbError> {
        let options: Options = match value {
            serde_json::Value::Null => Options::default(),
            v => serde_json::from_value(v.clone())
                .map_err(|e| LmdbError::Options(format!("{e} (known: map_size, max_map_size)")))?,
        };
        let map_size = env::round_up(options.map_size.unwrap_or(DEFAULT_MAP_SIZE));
        let max_map_size = env::round_up(options.max_map_size.unwrap_or(DEFAULT_MAX_MAP_SIZE));
        if options.max_map_size.is_some() && max_map_size < map_size {
            return Err(LmdbError::Options(format!(
                "max_map_size ({max_map_size}) is smaller than map_size ({map_size})"
            )));
        }
        Ok(Sizes {
            map_size,
            max_map_size: max_map_size.max(map_size),
            lock_timeout: bucketcache_traits::store::DEFAULT_LOCK_TIMEOUT,
        })
    }
}

/// A cache directory's entries in LMDB. Made by `Bucket::builder(dir).store("lmdb")` (once the
/// crate is linked) or [`LmdbStore::open`].
///
/// ```
/// use bucketcache_traits::store::{Fetched, ReadLimits, Store, StoreOptions};
/// use bucketcache_lmdb::LmdbStore;
/// let dir = tempfile::tempdir().unwrap();
/// let store = LmdbStore::open(&StoreOptions::new(dir.path())).unwrap();
/// store.write("0a1b.json", b"{}").unwrap();
/// let limits = ReadLimits { max_bytes: 1 << 20, may_begin: &|_| true };
/// assert!(matches!(store.read("0a1b.json", &limits).unwrap(), Fetched::Bytes(b) if b == b"{}"));
/// let names: Vec<_> = store.list().unwrap().into_iter().map(|l| l.name).collect();
/// assert_eq!(names, ["0a1b.json"]); // data.mdb and lock.mdb are not entries
/// assert!(store.remove("0a1b.json").unwrap());
/// ```
#[derive(Debug, Clone)]
pub struct LmdbStore {
    shared: Arc<Shared>,
    durable: bool,
}

impl LmdbStore {
    /// Opens (creating the directory and the environment if needed) the store at
    /// `options.location`, with `options.durable` and the `map_size` / `max_map_size` of
    /// `options.options`. A directory already open in this process shares its environment.
    pub fn open(options: &StoreOptions) -> bucketcache_traits::Result<LmdbStore> {
        let dir = &options.location;
        let fail = |reason: String| bucketcache_traits::Error::Store {
            store: NAME.into(),
            location: dir.display().to_string(),
            reason,
        };
        if dir.as_os_str().is_empty() {
            return Err(bucketcache_traits::Error::Config(
                "the cache path is empty".into(),
            ));
        }
        let mut sizes = Options::parse(&options.options)
            .map_err(|e| bucketcache_traits::Error::Config(e.to_string()))?;
        if let Some(timeout) = options.lock_timeout {
            sizes.lock_timeout = timeout;
        }
        let dir_error = |source| bucketcache_traits::Error::Directory {
            path: dir.clone(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(dir_error)?;
        let canonical = std::fs::canonicalize(dir).map_err(dir_error)?;
        let shared = env::shared(&canonical, Access::ReadWrite(sizes)).map_err(|e| match e {
            LmdbError::HelperFile(e) => bucketcache_traits::Error::HelperFile(e),
            e => fail(e.to_string()),
        })?;
        Ok(LmdbStore {
            shared,
            durable: options.durable,
        })
    }

    /// Opens the existing store at `options.location` only to read it, for tools: nothing is
    /// created or written — no directory, no `data.mdb`, no resize lock, and no `lock.mdb` when
    /// there is none (`MDB_RDONLY`, plus `MDB_NOLOCK` then). `data.mdb`'s bytes and times are
    /// left as they were; an existing `lock.mdb` gets this reader's slot in its table (the way
    /// LMDB readers keep writers from reusing the pages they read). Writes fail.
    ///
    /// A `data.mdb` that is not an LMDB environment is [`LmdbError::NotLmdb`].
    ///
    /// The trade-off without `lock.mdb`: no process had the environment open, so none writes;
    /// one that starts writing during the read does not know of this reader and may reuse pages
    /// it reads, which then reads garbage. Read-only callers must treat what they read as
    /// evidence to check (bucketcache decodes every entry whole), and should walk a store that
    /// may be damaged in a process they can lose (the CLI does).
    ///
    /// ```
    /// use bucketcache_traits::store::{Store, StoreOptions};
    /// use bucketcache_lmdb::{LmdbError, LmdbStore};
    /// let dir = tempfile::tempdir().unwrap();
    /// LmdbStore::open(&StoreOptions::new(dir.path())).unwrap().write("0a.json", b"{}").unwrap();
    /// std::fs::remove_file(dir.path().join("lock.mdb")).unwrap();
    /// let store = LmdbStore::open_read_only(&StoreOptions::new(dir.path())).unwrap();
    /// assert_eq!(store.list().unwrap().len(), 1);
    /// assert!(store.write("0b.json", b"{}").is_err());
    /// assert!(!dir.path().join("lock.mdb").exists(), "nothing created");
    ///
    /// let other = tempfile::tempdir().unwrap();
    /// std::fs::write(other.path().join("data.mdb"), b"not LMDB").unwrap();
    /// let err = LmdbStore::open_read_only(&StoreOptions::new(other.path())).unwrap_err();
    /// assert!(matches!(err, LmdbError::NotLmdb { .. }), "{err}");
    /// ```
    pub fn open_read_only(options: &StoreOptions) -> Result<LmdbStore, LmdbError> {
        let dir = &options.location;
        let canonical = std::fs::canonicalize(dir).map_err(|e| LmdbError::Lmdb {
            path: dir.clone(),
            source: heed::Error::Io(e),
        })?;
        let shared = env::shared(&canonical, Access::ReadOnly)?;
        Ok(LmdbStore {
            shared,
            durable: false,
        })
    }

    /// Whether this store was opened with [`open_read_only`](Self::open_read_only).
    pub fn is_read_only(&self) -> bool {
        self.shared.read_only
    }

    /// The size of the memory map now (it grows when full).
    ///
    /// ```
    /// # use bucketcache_traits::store::StoreOptions;
    /// let dir = tempfile::tempdir().unwrap();
    /// let options = StoreOptions::new(dir.path()).options(serde_json::json!({"map_size": 65536}));
    /// let store = bucketcache_lmdb::LmdbStore::open(&options).unwrap();
    /// assert_eq!(store.map_size(), 65536);
    /// ```
    pub fn map_size(&self) -> u64 {
        self.shared.map_size()
    }

    /// Flushes every commit to disk (what `durable` does after each write).
    ///
    /// ```
    /// # use bucketcache_traits::store::{Store, StoreOptions};
    /// let dir = tempfile::tempdir().unwrap();
    /// let store = bucketcache_lmdb::LmdbStore::open(&StoreOptions::new(dir.path())).unwrap();
    /// store.write("a.json", b"{}").unwrap();
    /// store.sync().unwrap();
    /// ```
    pub fn sync(&self) -> io::Result<()> {
        Ok(self.shared.sync()?)
    }

    fn error(&self, source: heed::Error) -> LmdbError {
        LmdbError::Lmdb {
            path: self.shared.path.clone(),
            source,
        }
    }

    fn check_name(&self, name: &str) -> Result<(), LmdbError> {
        let max = self.shared.env.max_key_size();
        if name.is_empty() || name.len() > max {
            return Err(LmdbError::NameTooLong {
                len: name.len(),
                max,
            });
        }
        Ok(())
    }

    /// Runs `f` in a read transaction, following resizes of other processes and freeing the
    /// reader slots of dead ones.
    fn reading<R>(
        &self,
        mut f: impl FnMut(&RoTxn<'_, WithoutTls>, &Db) -> heed::Result<R>,
    ) -> Result<R, LmdbError> {
        let shared = &*self.shared;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let outcome = {
                let _entered = shared.enter()?;
                shared.env.read_txn().and_then(|rtxn| f(&rtxn, &shared.db))
            };
            match outcome {
                Err(heed::Error::Mdb(MdbError::MapResized)) if attempt < ATTEMPTS => {
                    shared.follow_resize()?
                }
                Err(heed::Error::Mdb(MdbError::ReadersFull)) if attempt < ATTEMPTS => {
                    self.clear_stale_readers()?
                }
                other => return other.map_err(|e| self.error(e)),
            }
        }
    }

    /// Runs `f` in a write transaction and commits it, growing the map when it is full (then
    /// `f` runs again from the start: nothing of the failed transaction was written).
    fn writing<R>(
        &self,
        len: usize,
        mut f: impl FnMut(&mut RwTxn<'_>, &Db) -> heed::Result<R>,
    ) -> Result<R, LmdbError> {
        let shared = &*self.shared;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let (observed, outcome) = {
                let _entered = shared.enter()?;
                let observed = shared.map_size_entered();
                let outcome = shared.env.write_txn().and_then(|mut wtxn| {
                    let result = f(&mut wtxn, &shared.db)?;
                    wtxn.commit()?;
                    Ok(result)
                });
                (observed, outcome)
            };
            match outcome {
                Ok(result) => {
                    if self.durable {
                        shared.sync()?;
                    }
                    return Ok(result);
                }
                Err(heed::Error::Mdb(MdbError::MapFull)) if attempt < ATTEMPTS => {
                    shared.grow(observed, len)?
                }
                Err(heed::Error::Mdb(MdbError::MapResized)) if attempt < ATTEMPTS => {
                    shared.follow_resize()?
                }
                Err(heed::Error::Mdb(MdbError::ReadersFull)) if attempt < ATTEMPTS => {
                    self.clear_stale_readers()?
                }
                Err(heed::Error::Mdb(MdbError::MapFull)) => {
                    return Err(LmdbError::MapFull {
                        path: shared.path.clone(),
                        map_size: shared.map_size(),
                        max_map_size: shared.max_map_size,
                    })
                }
                Err(e) => return Err(self.error(e)),
            }
        }
    }

    /// Removes `name` if its bytes satisfy `condition`, in one write transaction (the
    /// condition judges exactly the bytes that are deleted), with its accounting. Returns the
    /// size removed.
    fn remove_when(
        &self,
        name: &str,
        condition: impl Fn(&[u8]) -> bool,
    ) -> Result<Option<u64>, LmdbError> {
        let meta = self.shared.meta;
        let key = name.as_bytes();
        self.writing(0, |wtxn, db| {
            let size = match db.get(wtxn, key)? {
                Some(bytes) if condition(bytes) => bytes.len() as u64,
                _ => return Ok(None),
            };
            db.delete(wtxn, key)?;
            if let Some(meta) = meta {
                meta.removed(wtxn, key, size)?;
            }
            Ok(Some(size))
        })
    }

    /// Removes the entry `listed` in `wtxn` if it is still as listed, with its index entries;
    /// its size is returned for the caller to take off the usage ([`Meta::subtract`]), once
    /// per transaction.
    fn remove_unchanged_in(
        &self,
        wtxn: &mut RwTxn<'_>,
        db: &Db,
        listed: &Listed,
    ) -> heed::Result<Option<u64>> {
        let meta = self.shared.meta;
        let key = listed.name.as_bytes();
        let size = match db.get(wtxn, key)? {
            Some(bytes) => bytes.len() as u64,
            None => return Ok(None),
        };
        let used = match meta {
            Some(meta) => meta.used(wtxn, key)?,
            None => None,
        };
        if size != listed.size || Meta::time(used) != listed.used {
            return Ok(None);
        }
        db.delete(wtxn, key)?;
        if let Some(meta) = meta {
            meta.forget(wtxn, key, used)?;
        }
        Ok(Some(size))
    }

    /// [`remove_unchanged_in`](Self::remove_unchanged_in) for each of `victims`, in one write
    /// transaction, with one change of the usage for all.
    fn remove_all_unchanged(&self, victims: &[Listed]) -> Result<Vec<Option<u64>>, LmdbError> {
        let meta = self.shared.meta;
        self.writing(0, |wtxn, db| {
            let mut gone = Usage::default();
            let mut removed = Vec::with_capacity(victims.len());
            for listed in victims {
                let size = match listed.kind == Kind::File && self.check_name(&listed.name).is_ok()
                {
                    true => self.remove_unchanged_in(wtxn, db, listed)?,
                    false => None,
                };
                if let Some(size) = size {
                    gone.entries += 1;
                    gone.bytes += size;
                }
                removed.push(size);
            }
            if let Some(meta) = meta.filter(|_| gone.entries > 0) {
                meta.subtract(wtxn, gone)?;
            }
            Ok(removed)
        })
    }

    fn clear_stale_readers(&self) -> Result<(), LmdbError> {
        let cleared = self
            .shared
            .env
            .clear_stale_readers()
            .map_err(|e| self.error(e))?;
        tracing::debug!(path = %self.shared.path.display(), cleared, "reader table full: cleared the slots of dead processes");
        Ok(())
    }
}

impl Store for LmdbStore {
    fn name(&self) -> &str {
        NAME
    }

    fn location(&self) -> &Path {
        &self.shared.path
    }

    /// `<dir>/data.mdb (entry <name>)`: an entry is a record of the data file, not a file.
    fn entry_path(&self, name: &str) -> PathBuf {
        PathBuf::from(format!(
            "{} (entry {name})",
            self.shared.path.join(DATA_FILE).display()
        ))
    }

    fn read(&self, name: &str, limits: &ReadLimits<'_>) -> io::Result<Fetched> {
        if self.check_name(name).is_err() {
            return Ok(Fetched::Missing);
        }
        let fetched = self.reading(|rtxn, db| {
            let Some(bytes) = db.get(rtxn, name.as_bytes())? else {
                return Ok(Fetched::Missing);
            };
            if bytes.len() as u64 > limits.max_bytes {
                return Ok(Fetched::TooLarge(bytes.len() as u64));
            }
            if !(limits.may_begin)(&bytes[..bytes.len().min(HEAD_LEN)]) {
                return Ok(Fetched::Rejected);
            }
            Ok(Fetched::Bytes(bytes.to_vec()))
        })?;
        Ok(fetched)
    }

    fn write(&self, name: &str, bytes: &[u8]) -> io::Result<()> {
        self.check_name(name)?;
        let meta = self.shared.meta;
        let key = name.as_bytes();
        self.writing(bytes.len(), |wtxn, db| {
            let Some(meta) = meta else {
                return db.put(wtxn, key, bytes);
            };
            // The accounting changes in the same transaction as the entry. A new name is
            // written in one operation (the put only happens when the name is absent, and
            // answers what it holds otherwise); a replaced entry is written again over it.
            let old = db.get_or_put(wtxn, key, bytes)?.map(|old| old.len() as u64);
            if old.is_some() {
                db.put(wtxn, key, bytes)?;
            }
            meta.wrote(wtxn, key, old, bytes.len() as u64)
        })?;
        Ok(())
    }

    fn remove(&self, name: &str) -> io::Result<bool> {
        if self.check_name(name).is_err() {
            return Ok(false);
        }
        Ok(self.remove_when(name, |_| true)?.is_some())
    }

    fn remove_if(&self, name: &str, condition: &dyn Fn(&[u8]) -> bool) -> io::Result<Option<u64>> {
        if self.check_name(name).is_err() {
            return Ok(None);
        }
        Ok(self.remove_when(name, |bytes| condition(bytes))?)
    }

    fn list(&self) -> io::Result<Vec<Listed>> {
        // Tools reading a store (read-only) need no recency: only the entries are walked.
        let meta = self.shared.meta.filter(|_| !self.shared.read_only);
        let listed = self.reading(|rtxn, db| {
            let mut out = Vec::new();
            for pair in db.iter(rtxn)? {
                let (key, value) = pair?;
                match std::str::from_utf8(key) {
                    // Names starting with `.` are the store's own (named databases, if any).
                    Ok(name) if name.starts_with('.') => {}
                    Ok(name) => out.push(Listed::new(
                        name.to_owned(),
                        value.len() as u64,
                        Kind::File,
                        // A hint: a damaged index page leaves it unknown, never stops the walk.
                        meta.and_then(|m| Meta::time(m.used(rtxn, key).ok().flatten())),
                    )),
                    Err(_) => tracing::debug!(key = ?key, "skipping a key that is not UTF-8"),
                }
            }
            Ok(out)
        })?;
        Ok(listed)
    }

    /// One lookup of the name and of its last use: no listing.
    fn stat(&self, name: &str) -> io::Result<Option<Listed>> {
        if self.check_name(name).is_err() || !meta::is_entry(name.as_bytes()) {
            return Ok(None);
        }
        let meta = self.shared.meta;
        Ok(self.reading(|rtxn, db| {
            let Some(bytes) = db.get(rtxn, name.as_bytes())? else {
                return Ok(None);
            };
            let used = match meta {
                Some(meta) => Meta::time(meta.used(rtxn, name.as_bytes())?),
                None => None,
            };
            Ok(Some(Listed::new(
                name.to_owned(),
                bytes.len() as u64,
                Kind::File,
                used,
            )))
        })?)
    }

    /// One write transaction: removed only if its size and last use are as listed.
    fn remove_if_unchanged(&self, listed: &Listed) -> io::Result<Option<u64>> {
        if listed.kind != Kind::File || self.check_name(&listed.name).is_err() {
            return Ok(None);
        }
        Ok(self.remove_all_unchanged(std::slice::from_ref(listed))?[0])
    }

    /// Every victim in one write transaction (one commit, the upper pages of the trees copied
    /// once): a budget's batch costs about one `set`, not one per victim.
    fn remove_all_if_unchanged(&self, victims: &[Listed]) -> Vec<Option<u64>> {
        self.remove_all_unchanged(victims).unwrap_or_else(|e| {
            tracing::debug!(path = %self.shared.path.display(), error = %e, "cannot evict");
            vec![None; victims.len()]
        })
    }

    /// Read from the usage record kept in every write transaction (never a listing).
    fn usage(&self) -> io::Result<Option<bucketcache_traits::store::Usage>> {
        let Some(meta) = self.shared.meta else {
            return Ok(None);
        };
        Ok(Some(self.reading(|rtxn, _| meta.usage(rtxn))?))
    }

    /// The first keys of the recency index.
    fn eviction_candidates(&self, n: usize) -> io::Result<Option<Vec<Listed>>> {
        let Some(meta) = self.shared.meta else {
            return Ok(None);
        };
        Ok(Some(self.reading(|rtxn, _| meta.least_recent(rtxn, n))?))
    }

    /// Moves the entry to the end of the recency index (one write transaction).
    fn touch(&self, name: &str) -> io::Result<()> {
        let Some(meta) = self.shared.meta else {
            return Ok(());
        };
        if self.check_name(name).is_err() || self.shared.read_only {
            return Ok(());
        }
        let key = name.as_bytes();
        self.writing(0, |wtxn, db| match db.get(wtxn, key)? {
            Some(bytes) => {
                let size = bytes.len() as u64;
                meta.touched(wtxn, key, size)
            }
            None => Ok(()),
        })?;
        Ok(())
    }

    fn supports_recency(&self) -> bool {
        self.shared.meta.is_some()
    }

    fn try_lock(&self, digest: &str) -> io::Result<Locked> {
        // The environment lives in a directory: the same OS byte-range locks as the fs store,
        // in the same lock file, so an fs and an lmdb bucket on one directory agree too.
        FileLocks::new(&self.shared.path).try_lock(digest)
    }

    fn capabilities(&self) -> bucketcache_traits::Capabilities {
        let mut c = bucketcache_traits::Capabilities::default();
        // The usage and recency index is kept when the environment has its meta database.
        let indexed = self.shared.meta.is_some();
        c.recency = indexed;
        c.stat = true;
        c.conditional_remove = true;
        c.usage = indexed;
        c.eviction_candidates = indexed;
        c.locks = cfg!(target_os = "linux");
        c
    }
    fn check_guarantees(
        &self,
        _budget: bool,
        single_flight: bool,
    ) -> Vec<bucketcache_traits::Degradation> {
        // The budget's record is kept in each process (no shared record to check).
        match single_flight {
            true => bucketcache_fs::check_file_locks(&self.shared.path)
                .into_iter()
                .collect(),
            false => Vec::new(),
        }
    }
}

/// The registry's factory: [`LmdbStore::open`].
fn factory(options: &StoreOptions) -> bucketcache_traits::Result<Arc<dyn Store>> {
    Ok(Arc::new(LmdbStore::open(options)?))
}

inventory::submit! {
    StoreRegistration { name: NAME, schemes: &[], origin: env!("CARGO_PKG_NAME"), factory }
}

/// Registers the store explicitly (it also registers itself through `inventory`). Calling it
/// again is harmless.
///
/// ```
/// bucketcache_lmdb::register().unwrap();
/// assert!(bucketcache::store::stores().contains(&"lmdb".to_string()));
/// ```
pub fn register() -> bucketcache_traits::Result<()> {
    register_store(NAME, &[], env!("CARGO_PKG_NAME"), factory)
}

/// Whether `dir` holds an LMDB cache (its [`DATA_FILE`]), e.g. to pick the store of a directory
/// given on a command line.
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// assert!(!bucketcache_lmdb::is_lmdb_dir(dir.path()));
/// ```
pub fn is_lmdb_dir(dir: &Path) -> bool {
    dir.join(DATA_FILE).is_file()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_are_rounded_checked_and_unknown_ones_refused() {
        let sizes = Options::parse(&serde_json::json!({"map_size": 1000})).unwrap();
        assert_eq!(sizes.map_size, env::MAP_GRANULE);
        assert_eq!(sizes.max_map_size, DEFAULT_MAX_MAP_SIZE);
        let err = Options::parse(&serde_json::json!({"mapsize": 1})).unwrap_err();
        assert!(err.to_string().contains("known: map_size"), "{err}");
        let err =
            Options::parse(&serde_json::json!({"map_size": 1 << 30, "max_map_size": 1 << 20}))
                .unwrap_err();
        assert!(err.to_string().contains("smaller"), "{err}");
        let sizes = Options::parse(&serde_json::Value::Null).unwrap();
        assert_eq!(sizes.map_size, DEFAULT_MAP_SIZE);
    }

    #[test]
    fn errors_become_io_errors_that_keep_their_cause() {
        let e: io::Error = LmdbError::MapFull {
            path: "/c".into(),
            map_size: 1,
            max_map_size: 1,
        }
        .into();
        assert!(matches!(
            std::error::Error::source(&e).and_then(|e| e.downcast_ref::<LmdbError>()),
            Some(LmdbError::MapFull { .. })
        ));
        let e: io::Error = LmdbError::Lmdb {
            path: "/c".into(),
            source: heed::Error::Io(io::Error::from_raw_os_error(28)),
        }
        .into();
        assert_eq!(e.raw_os_error(), Some(28), "ENOSPC stays ENOSPC");
    }
}
