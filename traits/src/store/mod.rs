//! The third plugin axis: *where* entries live. Backend = format, keymaker = name, store = place.
//!
//! A [`Store`] keeps the backend's encoded bytes under names `<digest>.<extension>`. It knows
//! nothing of formats or lifetimes: every rule of the cache (expiry, the "lifetime changed" rule,
//! prune, what is an entry) is written once, in the bucket engine, over this trait. The default
//! store is bucketcache-core's `FsStore`, one file per key in a directory — the original's
//! layout, shareable with Python. Other stores register by name ([`StoreRegistration`]) and are
//! chosen with `Bucket::builder(..).store("name")`; what a store can do beyond the required
//! methods it says in its [`Capabilities`].

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

mod capabilities;
mod error;
mod layer;
mod native_async;
mod registration;
mod types;

pub use capabilities::Capabilities;
pub use error::{StoreError, StoreErrorKind};
pub use layer::StoreLayer;
pub use native_async::{AsyncStoreOps, BoxFuture};
pub use registration::{
    without_credentials, StoreFactory, StoreOptions, StoreRegistration, DEFAULT_LOCK_TIMEOUT,
    DEFAULT_MAX_ENTRY_BYTES,
};
pub use types::{Degradation, Guarantee, HelperFileError, Lease, Locked, Usage};

/// What a name holds, as a listing sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Kind {
    /// A regular file (or a record of a non-file store): the only kind that can be an entry.
    File,
    /// A symbolic link: never followed, never an entry.
    Symlink,
    /// A directory.
    Directory,
    /// A FIFO, socket or device: never opened.
    Special,
    /// A record of another type in a store that is not a directory, named by its type (a Redis
    /// list is `Record("Redis list")`): never an entry, never removed.
    Record(&'static str),
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::File => "file",
            Kind::Symlink => "symbolic link",
            Kind::Directory => "directory",
            Kind::Special => "special file",
            Kind::Record(kind) => kind,
        })
    }
}

/// One name of a store, as [`Store::list`] returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Listed {
    /// The name, e.g. `0a1b….json` (no directories).
    pub name: String,
    /// Size in bytes (of the link itself for a link).
    pub size: u64,
    /// What it is.
    pub kind: Kind,
    /// When it was last written or, in a bucket with a disk budget, read (the recency that
    /// eviction goes by); `None` when the store does not know.
    pub used: Option<SystemTime>,
}

impl Listed {
    /// A listed name.
    pub fn new(name: String, size: u64, kind: Kind, used: Option<SystemTime>) -> Self {
        Listed {
            name,
            size,
            kind,
            used,
        }
    }
}

/// The answer of [`Store::read`].
#[derive(Debug)]
#[non_exhaustive]
pub enum Fetched {
    /// Nothing by that name.
    Missing,
    /// The whole content.
    Bytes(Vec<u8>),
    /// Something that is not a regular file (never opened, never followed).
    NotAFile(Kind),
    /// A regular file larger than the limit (not read).
    TooLarge(u64),
    /// A file whose first bytes cannot begin an entry (the rest was not read).
    Rejected,
}

/// How much of what a [`Store::read`] may load.
pub struct ReadLimits<'a> {
    /// Files larger than this are [`Fetched::TooLarge`].
    pub max_bytes: u64,
    /// Whether these first bytes may begin an entry (the backend's
    /// [`may_begin_entry`](crate::Backend::may_begin_entry)), shown the first
    /// [`crate::backend::HEAD_LEN`] bytes (all, if fewer); `false` makes the read
    /// [`Fetched::Rejected`] without loading the rest. Formerly `head`.
    pub may_begin: &'a dyn Fn(&[u8]) -> bool,
}

impl fmt::Debug for ReadLimits<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReadLimits")
            .field("max_bytes", &self.max_bytes)
            .finish_non_exhaustive()
    }
}

/// Where a bucket's entries live. Names are plain (`<digest>.<extension>`, no directories);
/// helper names a store adds for itself start with `.` and are never entries.
///
/// A store must make [`write`](Self::write) atomic (a reader sees the old bytes or the new,
/// never a mix), must never follow a symbolic link or open anything but a regular file, and must
/// never panic. Every built-in store passes the conformance kit of `bucketcache-plugin-sdk`.
pub trait Store: Send + Sync + fmt::Debug {
    /// The store's registry name (`fs`, `lmdb`, `redis`, …).
    fn name(&self) -> &str;
    /// Where it is: the directory, or the namespace of a network store (messages, `Bucket::path`).
    fn location(&self) -> &Path;
    /// How an error names the entry `name`: by default its file in [`location`](Self::location);
    /// a store whose entries are not files names them its own way (the data file of an LMDB
    /// store, the key and server of a Redis entry), never by a file path that does not exist.
    fn entry_path(&self, name: &str) -> PathBuf {
        self.location().join(name)
    }
    /// Whether this is a directory of plain files named as Python BucketCache names them (only
    /// then can a cache be shared with the original).
    fn is_plain_directory(&self) -> bool {
        false
    }
    /// Reads `name` within `limits`.
    fn read(&self, name: &str, limits: &ReadLimits<'_>) -> io::Result<Fetched>;
    /// Replaces `name` with `bytes`, atomically.
    fn write(&self, name: &str, bytes: &[u8]) -> io::Result<()>;
    /// Like [`write`](Self::write), for an entry that expires at `expires` (`None`: never). A
    /// store that can drop data by itself (Redis) drops it at that instant, never before; the
    /// default ignores the expiration (the bucket's rules judge it on every read anyway).
    fn write_expiring(
        &self,
        name: &str,
        bytes: &[u8],
        expires: Option<SystemTime>,
    ) -> io::Result<()> {
        let _ = expires;
        self.write(name, bytes)
    }
    /// Like [`read`](Self::read), also saying how old the answer is: zero when it was read from
    /// where the entry lives, the age of the copy when a store answers from a copy (a near
    /// cache). A bucket's memory keeps such a copy no longer than the copy itself may live.
    fn read_with_age(
        &self,
        name: &str,
        limits: &ReadLimits<'_>,
    ) -> io::Result<(Fetched, Duration)> {
        Ok((self.read(name, limits)?, Duration::ZERO))
    }
    /// The largest value the store accepts, when it has a limit of its own (a Redis server's
    /// `proto-max-bulk-len`): a bucket refuses a larger entry at `set` with
    /// [`Error::EntryTooLarge`](crate::Error::EntryTooLarge) before sending it.
    fn max_value_bytes(&self) -> Option<u64> {
        None
    }
    /// Removes the entry `name` (only a regular file: anything else is left alone); `Ok(false)`
    /// when there was none.
    fn remove(&self, name: &str) -> io::Result<bool>;
    /// Removes `name` only if its content, read at this moment, satisfies `condition` — the
    /// rule that a file is deleted as expired only on the evidence of that file, never of a
    /// stale copy. Returns the size removed, `None` when nothing was.
    fn remove_if(&self, name: &str, condition: &dyn Fn(&[u8]) -> bool) -> io::Result<Option<u64>>;
    /// Every name in the store (entries, foreign files, links, …), except the store's own helper
    /// names and temporary files.
    fn list(&self) -> io::Result<Vec<Listed>>;
    /// Temporary files of writers that died (the crash residue [`write`](Self::write) may leave),
    /// which `prune` removes. Stores without temporary files have none.
    fn stale_temporaries(&self) -> io::Result<Vec<Listed>> {
        Ok(Vec::new())
    }
    /// Removes one of the [`stale_temporaries`](Self::stale_temporaries).
    fn remove_temporary(&self, name: &str) -> io::Result<bool> {
        let _ = name;
        Ok(false)
    }
    /// Tries, without waiting, to take the cross-process lock of the entry `digest`: what makes a
    /// memoized computation run once per cache rather than once per process. A lock must be
    /// released when its [`Lease`] is dropped and when its holder dies. The default has none.
    fn try_lock(&self, digest: &str) -> io::Result<Locked> {
        let _ = digest;
        Ok(Locked::Unsupported)
    }
    /// Records that `name` was just used (read), for stores that keep recency for eviction.
    /// Called only by buckets with a disk budget: a bucket without one writes nothing on reads.
    fn touch(&self, name: &str) -> io::Result<()> {
        let _ = name;
        Ok(())
    }
    /// Whether [`touch`](Self::touch) records uses that [`list`](Self::list) then reports in
    /// [`Listed::used`], so that a disk budget evicts the least recently *used* entries; without
    /// it, a budget evicts by whatever `used` says (e.g. the write time), oldest first.
    fn supports_recency(&self) -> bool {
        false
    }
    /// What [`list`](Self::list) says of `name` alone; `None` when there is nothing by that
    /// name (or it is a helper or temporary name). The default lists the whole store: stores
    /// that can look up one name should override it (a disk budget calls it on every `set`).
    fn stat(&self, name: &str) -> io::Result<Option<Listed>> {
        Ok(self.list()?.into_iter().find(|l| l.name == name))
    }
    /// Removes the entry `listed.name` only if it is still as `listed` says (a regular file of
    /// the same size and the same [`Listed::used`]): an entry used or rewritten since it was
    /// listed stays. Returns the size removed, `None` when nothing was. A disk budget evicts
    /// with it; the default looks with [`stat`](Self::stat), then [`remove`](Self::remove)s.
    fn remove_if_unchanged(&self, listed: &Listed) -> io::Result<Option<u64>> {
        match self.stat(&listed.name)? {
            Some(now)
                if now.kind == Kind::File && now.size == listed.size && now.used == listed.used =>
            {
                Ok(self.remove(&listed.name)?.then_some(listed.size))
            }
            _ => Ok(None),
        }
    }
    /// The store's own count of its entries (`entries`, and their `bytes`), kept current by
    /// the same write that changes it — never a listing — or `None` when the store keeps none
    /// (the default). Helper names and records of the store are never counted. A disk budget
    /// uses it instead of its shared record, so that a budgeted `set` costs the same at any
    /// number of entries.
    fn usage(&self) -> io::Result<Option<Usage>> {
        Ok(None)
    }
    /// The `n` least recently used entries (written, or [`touch`](Self::touch)ed), least
    /// recent first, from an index the store keeps — or `None` when it keeps none (the
    /// default: a budget then lists the store). Each is as [`stat`](Self::stat) reports it, so
    /// [`remove_if_unchanged`](Self::remove_if_unchanged) removes it only if unchanged since.
    fn eviction_candidates(&self, n: usize) -> io::Result<Option<Vec<Listed>>> {
        let _ = n;
        Ok(None)
    }
    /// Runs `update` on the disk budget's record of this location — a few bytes that core
    /// writes and reads, `None` before the first update — with exclusive access across every
    /// process using the location, and keeps the bytes it returns. `update` must be quick: it
    /// is called with the lock held (a budget lists and evicts outside it).
    ///
    /// The lock is waited for at most `wait` (zero: one try): when it is not free by then, this
    /// returns an error of kind [`io::ErrorKind::TimedOut`] without calling `update`. No
    /// in-process lock may be held while waiting for it.
    ///
    /// Returns `Ok(false)`, without calling `update`, when the store keeps no such record: a
    /// budget then keeps its record in each process, and processes sharing the location see
    /// each other's writes only when a budget counts the location again (by listing it).
    fn update_budget_record(
        &self,
        wait: std::time::Duration,
        update: &mut dyn FnMut(Option<&[u8]>) -> Vec<u8>,
    ) -> io::Result<bool> {
        let _ = (wait, update);
        Ok(false)
    }
    /// Checks, when a bucket opens, that the helper files these guarantees need can be used:
    /// the disk budget's shared record (when `budget`) and the cross-process locks of single
    /// flight (when `single_flight`). Returns each guarantee that cannot be kept, with the file
    /// and the reason. The default (a store without such files) has nothing to check.
    fn check_guarantees(&self, budget: bool, single_flight: bool) -> Vec<Degradation> {
        let _ = (budget, single_flight);
        Vec::new()
    }

    /// Native async reads and writes of entries, for stores whose client is async (see
    /// [`AsyncStoreOps`]); the default has none: the async API makes one hop to a blocking pool
    /// per operation instead.
    fn async_ops(&self) -> Option<&dyn AsyncStoreOps> {
        None
    }

    /// What this store supports beyond the required methods (see [`Capabilities`]): a layer
    /// or a bucket asks here instead of guessing from defaults. The default describes a store
    /// that overrides none of the optional methods, except what the methods that already say
    /// it ([`supports_recency`](Self::supports_recency),
    /// [`is_plain_directory`](Self::is_plain_directory), [`async_ops`](Self::async_ops),
    /// [`max_value_bytes`](Self::max_value_bytes)) report.
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            recency: self.supports_recency(),
            plain_directory: self.is_plain_directory(),
            async_ops: self.async_ops().is_some(),
            max_value_bytes: self.max_value_bytes(),
            ..Capabilities::default()
        }
    }

    /// [`remove_if_unchanged`](Self::remove_if_unchanged) for each of `victims`, in order: the
    /// size removed of each, `None` for one that stayed (or could not be removed: logged). A
    /// disk budget evicts a batch with it; a store that can remove them in one transaction
    /// (LMDB) should override it. The default removes them one by one.
    fn remove_all_if_unchanged(&self, victims: &[Listed]) -> Vec<Option<u64>> {
        victims
            .iter()
            .map(|victim| {
                self.remove_if_unchanged(victim).unwrap_or_else(|e| {
                    tracing::debug!(file = %victim.name, error = %e, "cannot evict");
                    None
                })
            })
            .collect()
    }
}
