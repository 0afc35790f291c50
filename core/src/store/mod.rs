//! The third plugin axis: *where* entries live. Backend = format, keymaker = name, store = place.
//!
//! A [`Store`] keeps the backend's encoded bytes under names `<digest>.<extension>`. It knows
//! nothing of formats or lifetimes: every rule of the cache (expiry, the "lifetime changed" rule,
//! prune, what is an entry) is written once, in core, over this trait. The engine names no store:
//! stores register by name ([`StoreRegistration`]), are chosen with
//! `Bucket::builder(..).store("name")`, and the one used when none is named is the
//! distribution's (`fs` in the `bucketcache` crate, `bucketcache::store::FsStore`).

#[cfg(test)]
mod layer_tests;

pub use bucketcache_near::NearStore;
pub(crate) use bucketcache_near::DEFAULT_NEAR_TTL;
pub use bucketcache_registry::stores::{
    open_store, register_store, stores, StoreFactory, StoreOptions, StoreRegistration,
};
pub use bucketcache_traits::store::{
    AsyncStoreOps, BoxFuture, Capabilities, Fetched, HelperFileError, Kind, Lease, Listed, Locked,
    ReadLimits, Store, StoreError, StoreErrorKind, StoreLayer,
};
