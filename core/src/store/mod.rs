//! The third plugin axis: *where* entries live. Backend = format, keymaker = name, store = place.
//!
//! A [`Store`] keeps the backend's encoded bytes under names `<digest>.<extension>`. It knows
//! nothing of formats or lifetimes: every rule of the cache (expiry, the "lifetime changed" rule,
//! prune, what is an entry) is written once, in core, over this trait. The default store is
//! [`FsStore`], one file per key in a directory — the original's layout, shareable with Python.
//! Other stores register by name ([`StoreRegistration`]) and are chosen with
//! `Bucket::builder(..).store("name")`.

#[cfg(test)]
mod layer_tests;

pub use bucketcache_fs::{
    check_file_locks, open_helper_file, FileLocks, FsStore, HelperFileError, Lease, Locked,
    BUDGET_RECORD, LOCK_FILE,
};
pub use bucketcache_near::NearStore;
pub(crate) use bucketcache_near::DEFAULT_NEAR_TTL;
pub use bucketcache_registry::stores::{
    open_store, register_store, stores, StoreFactory, StoreOptions, StoreRegistration,
};
pub use bucketcache_traits::store::{
    AsyncStoreOps, BoxFuture, Capabilities, Fetched, Kind, Listed, ReadLimits, Store, StoreError,
    StoreErrorKind, StoreLayer,
};
