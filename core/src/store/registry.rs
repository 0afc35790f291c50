//! Stores selectable by name (`fs`, `lmdb`, …) or by URL scheme (`redis://…`).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock, RwLock};

use super::Store;
use crate::error::{Error, Result};

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
    /// operation fails with an error naming it (`None`: the default,
    /// [`DEFAULT_LOCK_TIMEOUT`](crate::budget::DEFAULT_LOCK_TIMEOUT)).
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
/// # use bucketcache_core::store::{StoreOptions, StoreRegistration, FsStore};
/// # use bucketcache_core::{Result, Store};
/// fn open(o: &StoreOptions) -> Result<Arc<dyn Store>> {
///     Ok(Arc::new(FsStore::new(&o.location, o.durable)))
/// }
/// inventory::submit! {
///     StoreRegistration { name: "my-files", schemes: &[], origin: env!("CARGO_PKG_NAME"), factory: open }
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

inventory::submit! {
    StoreRegistration { name: super::fs::NAME, schemes: &[], origin: env!("CARGO_PKG_NAME"), factory: super::fs::open }
}

#[derive(Clone)]
struct Entry {
    schemes: Vec<String>,
    origin: String,
    factory: StoreFactory,
}

fn global() -> &'static RwLock<BTreeMap<String, Entry>> {
    static GLOBAL: OnceLock<RwLock<BTreeMap<String, Entry>>> = OnceLock::new();
    GLOBAL.get_or_init(|| {
        let mut map = BTreeMap::new();
        for r in inventory::iter::<StoreRegistration> {
            map.entry(r.name.to_owned()).or_insert(Entry {
                schemes: r.schemes.iter().map(|s| s.to_string()).collect(),
                origin: r.origin.to_owned(),
                factory: r.factory,
            });
        }
        RwLock::new(map)
    })
}

/// Registers a store explicitly (for platforms where `inventory` does not run, or a program's
/// own store). The same origin registering a name twice is harmless; another origin is refused.
pub fn register_store(
    name: &str,
    schemes: &[&str],
    origin: &str,
    factory: StoreFactory,
) -> Result<()> {
    let mut map = global().write().unwrap_or_else(|p| p.into_inner());
    if let Some(e) = map.get(name) {
        if e.origin == origin {
            return Ok(());
        }
        return Err(Error::DuplicateName {
            kind: "store",
            name: name.to_owned(),
            origin: origin.to_owned(),
            existing: e.origin.clone(),
        });
    }
    map.insert(
        name.to_owned(),
        Entry {
            schemes: schemes.iter().map(|s| s.to_string()).collect(),
            origin: origin.to_owned(),
            factory,
        },
    );
    Ok(())
}

/// Names of every registered store.
pub fn stores() -> Vec<String> {
    global()
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .keys()
        .cloned()
        .collect()
}

/// Opens the store `spec` names — a registered name (`fs`, `lmdb`) or a URL whose scheme a
/// store registered (`redis://127.0.0.1:6379/0`) — at `options.location`.
///
/// ```
/// use bucketcache_core::store::{open_store, StoreOptions};
/// let dir = tempfile::tempdir().unwrap();
/// let fs = open_store("fs", StoreOptions::new(dir.path())).unwrap();
/// assert_eq!(fs.name(), "fs");
/// let err = open_store("nosuch", StoreOptions::new(dir.path())).unwrap_err();
/// assert!(err.to_string().contains("unknown store \"nosuch\""));
/// ```
pub fn open_store(spec: &str, options: StoreOptions) -> Result<Arc<dyn Store>> {
    let map = global().read().unwrap_or_else(|p| p.into_inner());
    let (entry, url) = match spec.split_once("://") {
        Some((scheme, _)) => (
            map.values().find(|e| e.schemes.iter().any(|s| s == scheme)),
            Some(spec.to_owned()),
        ),
        None => (map.get(spec), None),
    };
    let Some(entry) = entry.cloned() else {
        let known = map.keys().cloned().collect::<Vec<_>>().join(", ");
        return Err(Error::UnknownStore {
            name: spec.to_owned(),
            known,
        });
    };
    drop(map);
    (entry.factory)(&options.url(url))
}
