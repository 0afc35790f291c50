//! The public error type of the core crate.

use std::io;
use std::path::PathBuf;

use crate::backend::BackendError;
use crate::keymaker::KeyError;
use crate::store::HelperFileError;

/// Result alias used across bucketcache.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything a user of a [`Bucket`](crate::Bucket) may have to act on.
///
/// Internal outcomes (a missing, expired or undecodable file) are not errors: `get` answers
/// `Ok(None)` for them and logs the reason with `tracing`.
///
/// ```
/// use bucketcache_core::Error;
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
    /// An encoded entry is larger than the bucket's `max_entry_bytes`; nothing was written.
    #[error("the encoded entry is {size} bytes, over this bucket's limit of {limit} bytes per entry (max_entry_bytes)")]
    EntryTooLarge {
        /// The encoded size.
        size: u64,
        /// The limit.
        limit: u64,
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

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}
