//! A third-party store written against the public API only: a `HashMap` behind a mutex that
//! implements just the *required* methods of [`Store`] (docs/store-authors.md walks through it).
//! It registers by name and by URL scheme, passes the store conformance kit, and takes a disk
//! budget and a near cache like any built-in store.

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock, Mutex, PoisonError};

use bucketcache::backend::HEAD_LEN;
use bucketcache::store::{
    open_store, register_store, Fetched, Kind, Listed, ReadLimits, StoreOptions,
};
use bucketcache::{Bucket, Result, Store};

/// The entries of one location: name → bytes.
type Entries = Arc<Mutex<HashMap<String, Vec<u8>>>>;

/// Every location opened in this process, so that two instances at one location share it
/// (what a real store gets from its server or its files).
static LOCATIONS: LazyLock<Mutex<HashMap<PathBuf, Entries>>> = LazyLock::new(Default::default);

/// The store: a location and its entries.
#[derive(Debug)]
pub struct MapStore {
    location: PathBuf,
    entries: Entries,
}

impl MapStore {
    pub fn open(location: &Path) -> MapStore {
        let mut all = LOCATIONS.lock().unwrap_or_else(PoisonError::into_inner);
        MapStore {
            location: location.to_owned(),
            entries: all.entry(location.to_owned()).or_default().clone(),
        }
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<String, Vec<u8>>> {
        // A panic elsewhere never makes the store unusable.
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Store for MapStore {
    fn name(&self) -> &str {
        "hashmap"
    }

    fn location(&self) -> &Path {
        &self.location
    }

    fn read(&self, name: &str, limits: &ReadLimits<'_>) -> io::Result<Fetched> {
        let entries = self.entries();
        let Some(bytes) = entries.get(name) else {
            return Ok(Fetched::Missing);
        };
        if bytes.len() as u64 > limits.max_bytes {
            return Ok(Fetched::TooLarge(bytes.len() as u64));
        }
        if !(limits.may_begin)(&bytes[..bytes.len().min(HEAD_LEN)]) {
            return Ok(Fetched::Rejected);
        }
        Ok(Fetched::Bytes(bytes.clone()))
    }

    fn write(&self, name: &str, bytes: &[u8]) -> io::Result<()> {
        // Atomic: one insert under the lock.
        self.entries().insert(name.to_owned(), bytes.to_vec());
        Ok(())
    }

    fn remove(&self, name: &str) -> io::Result<bool> {
        Ok(self.entries().remove(name).is_some())
    }

    fn remove_if(&self, name: &str, condition: &dyn Fn(&[u8]) -> bool) -> io::Result<Option<u64>> {
        // Judged and removed under one lock: the evidence is what the store holds now.
        let mut entries = self.entries();
        match entries.get(name) {
            Some(bytes) if condition(bytes) => {
                Ok(entries.remove(name).map(|bytes| bytes.len() as u64))
            }
            _ => Ok(None),
        }
    }

    fn list(&self) -> io::Result<Vec<Listed>> {
        Ok(self
            .entries()
            .iter()
            .map(|(name, bytes)| Listed::new(name.clone(), bytes.len() as u64, Kind::File, None))
            .collect())
    }
}

/// The factory the registry calls.
fn open(options: &StoreOptions) -> Result<Arc<dyn Store>> {
    Ok(Arc::new(MapStore::open(&options.location)))
}

fn register() {
    bucketcache::install_default_backends().unwrap();
    register_store("hashmap", &["hashmap"], "third-party-store-test", open).unwrap();
}

#[test]
fn a_store_of_only_the_required_methods_passes_the_conformance_kit() {
    register();
    bucketcache_plugin_sdk::conformance::check_store(|dir| {
        open_store("hashmap", StoreOptions::new(dir)).unwrap()
    })
    .unwrap();
}

#[test]
fn a_third_party_store_opens_by_name_and_by_url() {
    register();
    let dir = tempfile::tempdir().unwrap();
    let b = Bucket::builder(dir.path()).store("hashmap").open().unwrap();
    b.set(&"k", &1).unwrap();
    assert_eq!(b.store().name(), "hashmap");
    let by_url = Bucket::builder(dir.path())
        .store("hashmap://anything")
        .open()
        .unwrap();
    assert_eq!(
        by_url.get::<i32>(&"k").unwrap(),
        Some(1),
        "one location, one map"
    );
    assert!(
        std::fs::read_dir(dir.path()).unwrap().next().is_none(),
        "nothing was written as files"
    );
}

#[test]
fn a_disk_budget_holds_on_a_third_party_store() {
    register();
    let dir = tempfile::tempdir().unwrap();
    let b = Bucket::builder(dir.path().join("entries"))
        .store("hashmap")
        .max_entries(30)
        .open()
        .unwrap();
    for i in 0..200 {
        b.set(&i, &i).unwrap();
        assert!(b.store().list().unwrap().len() <= 30, "{i}");
    }
    assert!(b.stats().store_evictions >= 170, "{:?}", b.stats());
    assert_eq!(b.get::<i32>(&199).unwrap(), Some(199), "the newest stays");

    let bytes = Bucket::builder(dir.path().join("bytes"))
        .store("hashmap")
        .max_bytes(4096)
        .open()
        .unwrap();
    for i in 0..200 {
        bytes.set(&i, &"x".repeat(100)).unwrap();
        let total: u64 = bytes.store().list().unwrap().iter().map(|l| l.size).sum();
        assert!(total <= 4096, "{i}: {total} bytes");
    }
}

#[test]
fn a_near_cache_in_front_of_a_third_party_store_serves_copies_and_forwards_the_rest() {
    register();
    let dir = tempfile::tempdir().unwrap();
    let near = tempfile::tempdir().unwrap();
    let b = Bucket::builder(dir.path())
        .store("hashmap")
        .near_cache(near.path())
        .max_entries(10)
        .open()
        .unwrap();
    b.set(&"k", &7).unwrap();
    let far = MapStore::open(dir.path());
    let name = far.list().unwrap().remove(0).name;
    assert!(near.path().join(&name).is_file(), "written far, then near");
    far.remove(&name).unwrap(); // another machine removes it
    b.unload(&"k");
    assert_eq!(
        b.get::<i32>(&"k").unwrap(),
        Some(7),
        "the near copy answers"
    );
    // The far store's answers come through the layer: listing, stat, no recency of its own.
    assert_eq!(b.store().name(), "hashmap");
    assert!(!b.store().supports_recency());
    for i in 0..50 {
        b.set(&i, &i).unwrap();
    }
    assert!(
        far.list().unwrap().len() <= 10,
        "the budget holds on the far store"
    );
    assert_eq!(b.store().list().unwrap().len(), far.list().unwrap().len());
}
