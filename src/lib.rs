//! # bucketcache
//!
//! A persistent, file-backed cache: a [`Bucket`] is a directory of cache files, one per key. It
//! behaves like a map with an optional key lifetime, and it memoizes functions and methods.
//! Formats ("backends") and key hashing ("keymakers") are plugins, selected by name.
//!
//! A faithful, faster, safer port of the Python library BucketCache 0.12.1: with
//! [`BucketBuilder::python_compatible`] a Rust and a Python program share one cache directory.
//!
//! ```
//! # fn main() -> bucketcache::Result<()> {
//! use std::time::Duration;
//! use bucketcache::{Bucket, Pruned};
//!
//! let dir = tempfile::tempdir().unwrap();
//! let b = Bucket::builder(dir.path().join("cache"))
//!     .backend("json")
//!     .lifetime(Duration::from_secs(90))
//!     .open()?;
//! b.set(&("user", 7), &"Ada")?;
//! assert_eq!(b.get::<_, String>(&("user", 7))?.as_deref(), Some("Ada"));
//! let p: Pruned = b.prune()?;
//! assert_eq!(p.files, 0);
//! # Ok(()) }
//! ```
#![warn(missing_docs)]

pub use bucketcache_core::{
    backend, config, deferred_write, keymaker, lifetime, plugins, registry, store, time, validate,
    Backend, BackendError, Bucket, BucketBuilder, BucketConfig, CachedCallInfo, Clock,
    DeferredWriteBucket, Error, Expiration, KeyError, KeyMaker, ManualClock, MemoStore, Memoized,
    Pruned, Result, SystemClock, ValueVisitor, DEFAULT_BACKEND, DEFAULT_KEYMAKER, PYTHON_KEYMAKER,
};

/// The built-in backends, one crate each.
pub mod backends {
    pub use bucketcache_json as json;
    pub use bucketcache_msgpack as msgpack;
    pub use bucketcache_pickle as pickle;
}

/// The built-in keymakers.
pub use bucketcache_keymakers as keymakers;

/// Registers the built-in backends and keymakers explicitly.
///
/// They register themselves through `inventory` on the usual platforms; this is for the others
/// (where static constructors do not run) and is harmless to call more than once.
///
/// ```
/// bucketcache::install_default_backends().unwrap();
/// assert!(bucketcache::registry::backends().iter().any(|b| b.name == "msgpack"));
/// ```
pub fn install_default_backends() -> Result<()> {
    bucketcache_json::register()?;
    bucketcache_msgpack::register()?;
    bucketcache_pickle::register()?;
    bucketcache_keymakers::register()?;
    Ok(())
}
