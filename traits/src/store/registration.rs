//! How a store crate registers: [`StoreRegistration`] (through `inventory`, or explicitly with
//! [`crate::registration::register_store`]) and what its factory is given, [`StoreOptions`].

use std::path::PathBuf;
use std::sync::Arc;

use super::Store;
use crate::error::Result;

/// How long a bucket waits, by default, for a lock of the cache (the disk budget's record, a
/// store's own lock such as LMDB's resize lock) before it goes on without it or fails naming
/// it: 2 s (`BucketBuilder::lock_timeout` changes it).
pub const DEFAULT_LOCK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

/// The largest entry a bucket reads or writes unless told otherwise: 256 MiB (a store that
/// judges entries itself, as the file store's `remove_if` does, reads no more than this).
pub const DEFAULT_MAX_ENTRY_BYTES: u64 = 256 << 20;

/// What a store factory is given.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct StoreOptions {
    /// The bucket's path: a directory, or a network store's namespace.
    pub location: PathBuf,
    /// The URL when the store was chosen by one (`redis://host:6379/0`), else `None`.
    pub url: Option<String>,
    /// Whether writes must be durable (synced) before they are reported done.
    pub durable: bool,
    /// The store's own options (`[store_options]` in a config), `null` for its defaults.
    pub options: serde_json::Value,
    /// The largest entry the bucket reads: a store never loads more than this to judge an
    /// entry (`None`: the default limit).
    pub max_entry_bytes: Option<u64>,
    /// How long a lock of the store (such as LMDB's resize lock) is waited for before the
    /// operation fails with an error naming it (`None`: [`DEFAULT_LOCK_TIMEOUT`]).
    pub lock_timeout: Option<std::time::Duration>,
}

impl StoreOptions {
    /// Options for a store at `location`.
    pub fn new(location: impl Into<PathBuf>) -> Self {
        StoreOptions {
            location: location.into(),
            ..Default::default()
        }
    }

    /// With a URL.
    pub fn url(mut self, url: Option<String>) -> Self {
        self.url = url;
        self
    }

    /// Durable or not.
    pub fn durable(mut self, durable: bool) -> Self {
        self.durable = durable;
        self
    }

    /// With the bucket's entry size limit.
    pub fn max_entry_bytes(mut self, max: u64) -> Self {
        self.max_entry_bytes = Some(max);
        self
    }

    /// With the bucket's lock timeout.
    pub fn lock_timeout(mut self, timeout: std::time::Duration) -> Self {
        self.lock_timeout = Some(timeout);
        self
    }

    /// With the store's own options.
    pub fn options(mut self, options: serde_json::Value) -> Self {
        self.options = options;
        self
    }
}

/// Opens a store.
pub type StoreFactory = fn(&StoreOptions) -> Result<Arc<dyn Store>>;

/// A store crate's entry in the registry, submitted with `inventory::submit!`.
///
/// ```
/// # use std::sync::Arc;
/// # use bucketcache_traits::store::{StoreOptions, StoreRegistration};
/// # use bucketcache_traits::{Error, Result, Store};
/// fn open(o: &StoreOptions) -> Result<Arc<dyn Store>> {
///     Err(Error::Config(format!("this example opens nothing at {}", o.location.display())))
/// }
/// inventory::submit! {
///     StoreRegistration { name: "my-place", schemes: &[], origin: env!("CARGO_PKG_NAME"), factory: open }
/// }
/// ```
#[derive(Debug)]
pub struct StoreRegistration {
    /// The registry name (`lmdb`).
    pub name: &'static str,
    /// URL schemes that select it (`["redis", "rediss"]`), if any.
    pub schemes: &'static [&'static str],
    /// The crate that submits it.
    pub origin: &'static str,
    /// Opens it.
    pub factory: StoreFactory,
}

inventory::collect!(StoreRegistration);

/// `url` without its user and password (`redis://u:p@host/0` → `redis://host/0`): what a store
/// shows of its location in messages, logs and markers. Anything that is not a URL is returned
/// as it is.
///
/// ```
/// use bucketcache_traits::store::without_credentials;
/// assert_eq!(without_credentials("redis://u:secret@h:6379/0"), "redis://h:6379/0");
/// assert_eq!(without_credentials("rediss://:p@h/0?x=@"), "rediss://h/0?x=@");
/// assert_eq!(without_credentials("redis://h/0"), "redis://h/0");
/// assert_eq!(without_credentials("fs"), "fs");
/// ```
pub fn without_credentials(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{scheme}://{}", &rest[at + 1..]),
        None => url.to_owned(),
    }
}
