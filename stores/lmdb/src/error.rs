//! What can go wrong in the LMDB store, and how it crosses the store seam.

use std::io;
use std::path::PathBuf;

use bucketcache_traits::store::{StoreError, StoreErrorKind};

/// What can go wrong in the LMDB store. Store operations report it inside an [`io::Error`]
/// (`std::error::Error::source` downcasts to it; its [`StoreErrorKind`] is inside, in a
/// [`StoreError`]); opening reports it as
/// [`bucketcache_traits::Error::Store`].
///
/// ```
/// use bucketcache_lmdb::LmdbError;
/// let e = LmdbError::NameTooLong { len: 600, max: 511 };
/// assert!(e.to_string().contains("511"));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LmdbError {
    /// The map is full and may not grow past `max_map_size`: the write was not made.
    #[error("the LMDB map of {path} is full ({map_size} bytes, max_map_size {max_map_size}): the write was not made")]
    MapFull {
        /// The cache directory.
        path: PathBuf,
        /// The map's size.
        map_size: u64,
        /// The limit it may not grow past.
        max_map_size: u64,
    },
    /// An entry name longer than LMDB's key limit.
    #[error("an entry name of {len} bytes is longer than LMDB's key limit of {max} bytes")]
    NameTooLong {
        /// The name's length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// Other code of this process opened the directory's environment directly (LMDB allows one
    /// environment per file per process).
    #[error("the LMDB environment in {path} is already open in this process outside bucketcache")]
    AlreadyOpened {
        /// The cache directory.
        path: PathBuf,
    },
    /// Resizing the map failed in LMDB after it unmapped the old map: this process may not use
    /// the environment again (other processes are not affected; reopen in a new process).
    #[error("the LMDB environment in {path} could not be resized and is closed for this process")]
    Broken {
        /// The cache directory.
        path: PathBuf,
    },
    /// The data file is not an LMDB environment (another program's file, or damaged beyond
    /// its header): reported as such, never written.
    #[error("{file} is not an LMDB environment: {reason}")]
    NotLmdb {
        /// The data file.
        file: PathBuf,
        /// What was found.
        reason: String,
    },
    /// The directory's environment is open read-only in this process
    /// ([`LmdbStore::open_read_only`](crate::LmdbStore::open_read_only)): it cannot also be opened for writing here.
    #[error("the LMDB environment in {path} is open read-only in this process")]
    OpenReadOnly {
        /// The cache directory.
        path: PathBuf,
    },
    /// The resize lock ([`RESIZE_LOCK_FILE`](crate::RESIZE_LOCK_FILE)) stayed held by another process past the bucket's
    /// `lock_timeout`: nothing was changed.
    #[error("the LMDB resize lock {path} is still held by another process after {timeout:?}")]
    LockTimedOut {
        /// The lock file.
        path: PathBuf,
        /// How long it was waited for.
        timeout: std::time::Duration,
    },
    /// An invalid `store_options` value.
    #[error("invalid lmdb store options: {0}")]
    Options(String),
    /// A file of the environment (`data.mdb`, `lock.mdb`, [`RESIZE_LOCK_FILE`](crate::RESIZE_LOCK_FILE)) is not a
    /// regular file — a symbolic link is never followed — or cannot be opened.
    #[error(transparent)]
    HelperFile(#[from] bucketcache_traits::store::HelperFileError),
    /// An error of LMDB itself.
    #[error("LMDB error in {path}: {source}")]
    Lmdb {
        /// The cache directory.
        path: PathBuf,
        /// What LMDB said.
        #[source]
        source: heed::Error,
    },
}

impl LmdbError {
    /// The kind of store failure this is, which callers of a bucket branch on with
    /// `Error::store_error_kind`: a full map that may not grow is
    /// [`TooLarge`](StoreErrorKind::TooLarge).
    pub fn store_error_kind(&self) -> StoreErrorKind {
        match self {
            LmdbError::MapFull { .. } => StoreErrorKind::TooLarge,
            LmdbError::NameTooLong { .. }
            | LmdbError::Options(_)
            | LmdbError::AlreadyOpened { .. }
            | LmdbError::HelperFile(_) => StoreErrorKind::Invalid,
            LmdbError::Broken { .. } | LmdbError::NotLmdb { .. } => StoreErrorKind::Corrupt,
            LmdbError::OpenReadOnly { .. } => StoreErrorKind::PermissionDenied,
            LmdbError::LockTimedOut { .. } => StoreErrorKind::Locked,
            LmdbError::Lmdb { .. } => StoreErrorKind::Io,
        }
    }
}

impl From<LmdbError> for io::Error {
    /// The file system's own errors keep their `io::Error`; the others are an `io::Error`
    /// around a [`StoreError`] of [`LmdbError::store_error_kind`] around the `LmdbError`
    /// (`source()` downcasts to it).
    fn from(e: LmdbError) -> io::Error {
        let io_kind = match e {
            // The file system's own errors (ENOSPC, EACCES, …) keep their kind.
            LmdbError::Lmdb {
                source: heed::Error::Io(io),
                ..
            } => return io,
            LmdbError::NameTooLong { .. } => io::ErrorKind::InvalidInput,
            LmdbError::LockTimedOut { .. } => io::ErrorKind::TimedOut,
            _ => io::ErrorKind::Other,
        };
        io::Error::new(io_kind, StoreError::new(e.store_error_kind(), e))
    }
}
