//! The public error type of bucketcache (re-exported by bucketcache-core and the facade).

use std::io;
use std::path::PathBuf;

use crate::backend::BackendError;
use crate::keymaker::KeyError;
use crate::store::{Guarantee, HelperFileError};

/// Result alias used across bucketcache.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything a user of a `Bucket` may have to act on.
///
/// Internal outcomes (a missing, expired or undecodable file) are not errors: `get` answers
/// `Ok(None)` for them and logs the reason with `tracing`.
///
/// ```
/// use bucketcache_traits::Error;
/// let e = Error::InvalidLifetime("\"soon\" is not a duration".into());
/// assert!(e.to_string().contains("soon"));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The cache directory could not be created or is not a directory.
    #[error("cannot use cache directory {path}: {source}")]
    Directory {
        /// The directory.
        path: PathBuf,
        /// What the file system said.
        #[source]
        source: io::Error,
    },
    /// A file of the cache could not be read, written or removed.
    #[error("I/O error on {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the file system said.
        #[source]
        source: io::Error,
    },
    /// No backend is registered under this name.
    #[error("unknown backend {name:?}; known backends: {known}")]
    UnknownBackend {
        /// The name asked for.
        name: String,
        /// The names that exist, comma separated.
        known: String,
    },
    /// No keymaker is registered under this name.
    #[error("unknown keymaker {name:?}; known keymakers: {known}")]
    UnknownKeyMaker {
        /// The name asked for.
        name: String,
        /// The names that exist, comma separated.
        known: String,
    },
    /// A backend broke a rule of the runtime validation and was refused.
    #[error("backend {name:?} from {origin} refused: {rule}")]
    BackendRefused {
        /// The backend's name (as it reported it).
        name: String,
        /// Where it came from: a crate name or a plugin file.
        origin: String,
        /// The rule it broke.
        rule: String,
    },
    /// Two backends (or keymakers) claim the same name.
    #[error("{kind} name {name:?} from {origin} is already registered by {existing}")]
    DuplicateName {
        /// "backend" or "keymaker".
        kind: &'static str,
        /// The contested name.
        name: String,
        /// Where the newcomer came from.
        origin: String,
        /// Where the registered one came from.
        existing: String,
    },
    /// The lifetime given is not valid.
    #[error("invalid lifetime: {0}")]
    InvalidLifetime(String),
    /// A configuration (builder, `BucketConfig`, backend options) is not valid.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// The value could not be encoded by the backend; nothing was written.
    #[error("cannot encode value with backend {backend:?}: {source}")]
    Encode {
        /// The backend name.
        backend: String,
        /// Why.
        #[source]
        source: BackendError,
    },
    /// The key could not be turned into a file name.
    #[error("cannot hash key: {0}")]
    Key(#[from] KeyError),
    /// The bucket needs a Python class name from its backend (Python-compatible naming) and the
    /// backend has none.
    #[error("backend {backend:?} has no Python class name, so it cannot be used with Python-compatible file naming")]
    NotPythonCompatible {
        /// The backend name.
        backend: String,
    },
    /// An encoded entry is larger than the bucket's `max_entry_bytes`, or than its store accepts
    /// (a Redis server's `proto-max-bulk-len`); nothing was written.
    #[error("the encoded entry is {size} bytes, over this bucket's limit of {limit} bytes per entry (its max_entry_bytes, or the most its store accepts)")]
    EntryTooLarge {
        /// The encoded size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// An entry that can never fit the bucket's disk budget: larger than `max_bytes`, or a
    /// budget of no entries. Nothing was written.
    ///
    /// ```
    /// use bucketcache_traits::Error;
    /// fn explain(e: &Error) -> &'static str {
    ///     match e {
    ///         Error::OverBudget { max_bytes: Some(_), .. } => "raise max_bytes",
    ///         _ => "something else",
    ///     }
    /// }
    /// # let _ = explain;
    /// ```
    #[error("the encoded entry is {size} bytes and can never fit this bucket's disk budget (max_bytes {}, max_entries {}); nothing was written",
        opt(.max_bytes), opt(.max_entries))]
    #[non_exhaustive]
    OverBudget {
        /// The encoded size.
        size: u64,
        /// The budget's `max_bytes`, if any.
        max_bytes: Option<u64>,
        /// The budget's `max_entries`, if any.
        max_entries: Option<u64>,
    },
    /// A guarantee the bucket was configured with cannot be kept in this location (a helper
    /// file it needs cannot be used), and the builder did not opt in to degrading
    /// (`BucketBuilder::allow_degraded`).
    ///
    /// ```
    /// use bucketcache_traits::{Error, Guarantee};
    /// fn is_the_budget(e: &Error) -> bool {
    ///     matches!(e, Error::Degraded { guarantee: Guarantee::DiskBudget, .. })
    /// }
    /// # let _ = is_the_budget;
    /// ```
    #[error("cannot keep the {guarantee} with {path}: {reason} (BucketBuilder::allow_degraded(true) opens the bucket without it)")]
    #[non_exhaustive]
    Degraded {
        /// The guarantee that cannot be kept.
        guarantee: Guarantee,
        /// The helper file it needs.
        path: PathBuf,
        /// Why it cannot be used.
        reason: String,
    },
    /// No store is registered under this name.
    #[error("unknown store {name:?}; known stores: {known}")]
    UnknownStore {
        /// The name asked for.
        name: String,
        /// The registered names, comma-separated.
        known: String,
    },
    /// A store could not be opened.
    #[error("cannot open store {store:?} at {location}: {reason}")]
    Store {
        /// The store's name.
        store: String,
        /// Where.
        location: String,
        /// Why.
        reason: String,
    },
    /// A helper file of the cache (a lock file, a record, a store's own file) is not a regular
    /// file — a symbolic link, a directory, a FIFO… — or cannot be opened: it is never followed
    /// nor used. The error names the path.
    #[error(transparent)]
    HelperFile(#[from] HelperFileError),
    /// A plugin library was refused or failed to load.
    #[error("plugin {path}: {reason}")]
    Plugin {
        /// The plugin file.
        path: PathBuf,
        /// Why it was refused.
        reason: String,
    },
}

fn opt(v: &Option<u64>) -> String {
    v.map_or_else(|| "none".into(), |v| v.to_string())
}

impl Error {
    /// An [`Error::OverBudget`] (the variant is `#[non_exhaustive]`).
    #[doc(hidden)]
    pub fn over_budget(size: u64, max_bytes: Option<u64>, max_entries: Option<u64>) -> Self {
        Error::OverBudget {
            size,
            max_bytes,
            max_entries,
        }
    }

    /// An [`Error::Degraded`] (the variant is `#[non_exhaustive]`).
    #[doc(hidden)]
    pub fn degraded(
        guarantee: Guarantee,
        path: impl Into<PathBuf>,
        reason: impl Into<String>,
    ) -> Self {
        Error::Degraded {
            guarantee,
            path: path.into(),
            reason: reason.into(),
        }
    }

    /// The kind of the store failure behind this error, for a caller to branch on (retry a
    /// store that is [`Unavailable`](crate::store::StoreErrorKind::Unavailable), read again
    /// after [`OutcomeUnknown`](crate::store::StoreErrorKind::OutcomeUnknown), …); `None` for
    /// errors that are not a store's (a configuration, a key, an encoding).
    ///
    /// ```
    /// use bucketcache_traits::{store::StoreErrorKind, Error};
    /// let e = Error::Io {
    ///     path: "/c/x.json".into(),
    ///     source: std::io::ErrorKind::PermissionDenied.into(),
    /// };
    /// assert_eq!(e.store_error_kind(), Some(StoreErrorKind::PermissionDenied));
    /// let e = Error::EntryTooLarge { size: 9, limit: 8 };
    /// assert_eq!(e.store_error_kind(), Some(StoreErrorKind::TooLarge));
    /// assert_eq!(Error::Config("x".into()).store_error_kind(), None);
    /// ```
    pub fn store_error_kind(&self) -> Option<crate::store::StoreErrorKind> {
        use crate::store::StoreErrorKind;
        match self {
            Error::Io { source, .. } | Error::Directory { source, .. } => {
                Some(StoreErrorKind::of(source))
            }
            Error::EntryTooLarge { .. } => Some(StoreErrorKind::TooLarge),
            Error::HelperFile(HelperFileError::Io { source, .. }) => {
                Some(StoreErrorKind::of(source))
            }
            Error::HelperFile(_) => Some(StoreErrorKind::Invalid),
            _ => None,
        }
    }

    /// An [`Error::Io`] on `path`.
    #[doc(hidden)]
    pub fn io(path: impl Into<PathBuf>, source: io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}
