//! The types a [`Store`](super::Store) hands out: locks, usage, the guarantees it keeps or
//! cannot keep, and the refusal of a helper file.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

/// A held cross-process lock; dropping it releases it.
pub trait Lease: Send + fmt::Debug {}

/// The answer of [`super::Store::try_lock`].
#[derive(Debug)]
#[non_exhaustive]
pub enum Locked {
    /// The lock is ours until the lease is dropped.
    Acquired(Box<dyn Lease>),
    /// Another process (or another lease of this one) holds it.
    Busy,
    /// This store has no cross-process locks: memoization computes once per process only.
    Unsupported,
}

/// What a budget counts: entries and their bytes.
///
/// ```
/// use bucketcache_traits::Usage;
/// let u = Usage::new(10, 4096);
/// assert!(u.is_over(Some(4000), None));
/// assert!(!u.is_over(Some(4096), Some(10)));
/// assert!(u.is_over(None, Some(9)));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Usage {
    /// Number of entries.
    pub entries: u64,
    /// Their total size in bytes.
    pub bytes: u64,
}

impl Usage {
    /// Usage of `entries` entries totalling `bytes` bytes.
    pub fn new(entries: u64, bytes: u64) -> Self {
        Usage { entries, bytes }
    }

    /// Whether this is over `max_bytes` or `max_entries` (`None`: no limit).
    pub fn is_over(&self, max_bytes: Option<u64>, max_entries: Option<u64>) -> bool {
        max_bytes.is_some_and(|m| self.bytes > m) || max_entries.is_some_and(|m| self.entries > m)
    }

    /// One entry of `size` bytes less (saturating at zero).
    #[doc(hidden)]
    pub fn remove(&mut self, size: u64) {
        self.entries = self.entries.saturating_sub(1);
        self.bytes = self.bytes.saturating_sub(size);
    }
}

/// A guarantee a bucket may be configured with and that needs something of its location
/// (see [`Degradation`]).
///
/// ```
/// use bucketcache_traits::Guarantee;
/// assert_eq!(Guarantee::DiskBudget.to_string(), "disk budget shared by processes");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Guarantee {
    /// The disk budget (`max_bytes`, `max_entries`) kept across every process using the
    /// location: it needs the budget's record (for the file store, `.bucketcache-budget`), a
    /// regular file this process can open, read, write and lock.
    DiskBudget,
    /// A memoized computation runs once per cache rather than once per process: it needs the
    /// store's cross-process locks (for directory stores, `.bucketcache-locks`).
    SingleFlightAcrossProcesses,
}

impl fmt::Display for Guarantee {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Guarantee::DiskBudget => "disk budget shared by processes",
            Guarantee::SingleFlightAcrossProcesses => "single flight across processes",
        })
    }
}

/// A guarantee that is off, the helper file it needs, and why (from `Stats::degraded`, or in
/// [`Error::Degraded`](crate::Error::Degraded)).
///
/// ```
/// use bucketcache_traits::{Degradation, Guarantee};
/// let d = Degradation::new(Guarantee::DiskBudget, "/c/.bucketcache-budget", "it is a directory");
/// assert_eq!(d.guarantee, Guarantee::DiskBudget);
/// assert!(d.to_string().contains("/c/.bucketcache-budget"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Degradation {
    /// What is off.
    pub guarantee: Guarantee,
    /// The file it needs.
    pub path: PathBuf,
    /// Why it cannot be used, and what the bucket does instead.
    pub reason: String,
}

impl Degradation {
    /// `guarantee` is off because of `path`, for `reason`.
    pub fn new(guarantee: Guarantee, path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        Degradation {
            guarantee,
            path: path.into(),
            reason: reason.into(),
        }
    }
}

impl fmt::Display for Degradation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} is off: {}: {}",
            self.guarantee,
            self.path.display(),
            self.reason
        )
    }
}

/// Why a helper file was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HelperFileError {
    /// Something other than a regular file is at the helper file's path (a symbolic link is
    /// never followed).
    #[error("refusing the helper file {path}: it is {found}, not a regular file (a cache never opens its helper files through a link)")]
    NotRegular {
        /// The helper file's path.
        path: PathBuf,
        /// What is there: "a symbolic link", "a directory", "a FIFO", …
        found: &'static str,
    },
    /// The file could not be opened (or created).
    #[error("cannot open the helper file {path}: {source}")]
    Io {
        /// The helper file's path.
        path: PathBuf,
        /// What the file system said.
        #[source]
        source: io::Error,
    },
}

impl HelperFileError {
    /// The path of the refused helper file.
    pub fn path(&self) -> &Path {
        match self {
            HelperFileError::NotRegular { path, .. } | HelperFileError::Io { path, .. } => path,
        }
    }
}

impl From<HelperFileError> for io::Error {
    /// An I/O error carrying the refusal (find it with `get_ref()` and `downcast_ref`).
    fn from(e: HelperFileError) -> io::Error {
        let kind = match &e {
            HelperFileError::NotRegular { .. } => io::ErrorKind::InvalidInput,
            HelperFileError::Io { source, .. } => source.kind(),
        };
        io::Error::new(kind, e)
    }
}
