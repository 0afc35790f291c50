//! Stores selectable by name (`fs`, `lmdb`, …) or by URL scheme (`redis://…`).

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock, RwLock};

use bucketcache_traits::store::Store;
use bucketcache_traits::{Error, Result};

pub use bucketcache_traits::store::{StoreFactory, StoreOptions, StoreRegistration};

#[derive(Clone)]
struct Entry {
    schemes: Vec<String>,
    origin: String,
    factory: StoreFactory,
}

fn global() -> &'static RwLock<BTreeMap<String, Entry>> {
    super::ensure_registrar();
    static GLOBAL: OnceLock<RwLock<BTreeMap<String, Entry>>> = OnceLock::new();
    GLOBAL.get_or_init(|| {
        let mut map = BTreeMap::new();
        // The distribution's stores too, whether or not the linker kept their own `inventory`
        // submissions (read from `inventory`, not the registry, whose lock may be held here).
        let declared = inventory::iter::<super::Distribution>
            .into_iter()
            .flat_map(|d| d.stores);
        for r in inventory::iter::<StoreRegistration>
            .into_iter()
            .chain(declared)
        {
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
/// use bucketcache_registry::stores::{open_store, StoreOptions};
/// # bucketcache::install_default_backends().unwrap();
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
