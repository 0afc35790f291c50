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
//! assert_eq!(b.get::<String>(&("user", 7))?.as_deref(), Some("Ada"));
//! let p: Pruned = b.prune()?;
//! assert_eq!(p.files, 0);
//! # Ok(()) }
//! ```
#![warn(missing_docs)]

/// The async API (feature `async`): [`AsyncBucket`] and the async memoization it is built on.
#[cfg(feature = "async")]
pub use bucketcache_async::{self as async_bucket, AsyncBucket};
pub use bucketcache_config::{self as config, lifetime, size, BucketConfig};
pub use bucketcache_core::{
    backend, deferred_write, inspect, keymaker, registry, rules, time, validate, Backend,
    BackendError, Bucket, BucketBuilder, CachedCallInfo, Clock, ConfigSource, Decoded,
    DeferredWriteBucket, Error, Expiration, Inspector, KeyError, KeyMaker, ManualClock, MemoCache,
    Memoized, Pruned, Result, Store, SystemClock, ValueLocation, ValueTree, ValueVisitor,
    PYTHON_KEYMAKER,
};
pub use bucketcache_core::{budget, memory, Degradation, Digest, Guarantee, Stats};
pub use bucketcache_core::{
    freshness, lookup_fresh_async, refresh, Computation, Fresh, RefreshSlot,
};
pub use bucketcache_core::{lookup_async, serde_json, Lookup, Ticket};
pub use bucketcache_core::{traits, Capabilities, Usage};
/// Former names, still accepted.
#[allow(deprecated)]
#[doc(hidden)]
pub use bucketcache_core::{MemoStore, StoredValue};
/// The plugin host: backends loaded at run time from shared libraries (crate
/// `bucketcache-plugin-host`, where every `unsafe` of plugin loading lives).
pub use bucketcache_plugin_host as plugins;

/// Memoizes a function or method in a [`Bucket`] (the original's `@bucket` decorator).
///
/// ```
/// use std::sync::LazyLock;
/// use bucketcache::{Bucket, CachedCallInfo};
///
/// static DIR: LazyLock<tempfile::TempDir> = LazyLock::new(|| tempfile::tempdir().unwrap());
/// static BUCKET: LazyLock<Bucket> =
///     LazyLock::new(|| Bucket::builder(DIR.path()).backend("json").open().unwrap());
///
/// fn on_hit(info: &CachedCallInfo<i64>) {
///     println!("{:?} answered from the cache: {}", info.callargs, info.return_value);
/// }
///
/// #[bucketcache::cached(bucket = BUCKET, ignore(verbose), nocache = refresh, callback = on_hit)]
/// fn mul(a: i64, b: i64, verbose: bool, refresh: bool) -> i64 {
///     if verbose {
///         println!("computing {a} * {b}");
///     }
///     a * b
/// }
///
/// assert_eq!(mul(6, 7, true, false), 42); // computed
/// assert_eq!(mul(6, 7, false, false), 42); // a hit: `verbose` is not part of the key
/// assert_eq!(mul(6, 7, false, true), 42); // recomputed and stored again
/// ```
pub use bucketcache_macros::cached;

/// Runtime support for the code `#[cached]` generates. Not a public API.
#[doc(hidden)]
pub mod __private {
    pub use bucketcache_core::erased_serde::Serialize as ErasedSerialize;
    pub use bucketcache_core::log_uncached as uncached;
    pub use bucketcache_core::serde_json;

    use bucketcache_core::{MemoCache, Result};

    // The async path of `#[cached]` on an `async fn`: without blocking I/O on the executor with
    // the feature `async`; without it, the lookup of `lookup_fresh_async` (ordinary file
    // operations inside the future), as before the feature existed. Both apply the bucket's
    // freshness options.
    #[cfg(feature = "async")]
    pub use bucketcache_async::{
        finish as finish_async, finish_fresh, lookup as lookup_async,
        lookup_fresh as lookup_fresh_async, refresh_in_background, AsyncFresh, AsyncLookup,
    };
    #[cfg(not(feature = "async"))]
    pub use bucketcache_core::{
        lookup_async, lookup_fresh_async, Fresh as AsyncFresh, Lookup as AsyncLookup,
    };

    /// Stores a computed value (without the feature `async`: at once, inside the future).
    #[cfg(not(feature = "async"))]
    pub fn finish_async<S: MemoCache + ?Sized, V: Serialize + ?Sized>(
        ticket: bucketcache_core::Ticket,
        store: &S,
        value: &V,
    ) -> std::future::Ready<bool> {
        std::future::ready(ticket.finish(store, value))
    }

    /// Stores a computed value (without the feature `async`: at once, inside the future).
    #[cfg(not(feature = "async"))]
    pub fn finish_fresh<S: MemoCache + ?Sized, V: Serialize>(
        computation: bucketcache_core::Computation<V>,
        store: &S,
        value: &V,
    ) -> std::future::Ready<Option<bucketcache_core::Expiration>> {
        std::future::ready(computation.finish(store, value))
    }

    /// Without the feature `async` there is no runtime to refresh on: the caller runs it.
    #[cfg(not(feature = "async"))]
    #[allow(clippy::type_complexity)]
    pub fn refresh_in_background<S: MemoCache + ?Sized, V, Fut>(
        computation: bucketcache_core::Computation<V>,
        _store: &S,
        compute: Fut,
    ) -> std::result::Result<
        bucketcache_core::Memoized<V>,
        Box<(bucketcache_core::Computation<V>, Fut)>,
    > {
        Err(Box::new((computation, compute)))
    }
    use serde::ser::{SerializeMap, SerializeTuple, Serializer};
    use serde::Serialize;

    /// The key of a memoized call.
    pub struct CallKey<'a> {
        /// `module_path!()::name`.
        pub function: &'static str,
        /// `type_name::<Self>()` and `&self`, for methods.
        pub receiver: Option<(&'static str, &'a dyn ErasedSerialize)>,
        /// The arguments that are part of the key, by name.
        pub args: &'a [(&'static str, &'a dyn ErasedSerialize)],
    }

    struct Args<'a>(&'a [(&'static str, &'a dyn ErasedSerialize)]);

    impl Serialize for Args<'_> {
        fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
            let mut map = s.serialize_map(Some(self.0.len()))?;
            for (name, value) in self.0 {
                map.serialize_entry(name, value)?;
            }
            map.end()
        }
    }

    impl Serialize for CallKey<'_> {
        fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
            // A sequence, not a map: its order is fixed, so the keymaker need not buffer and sort
            // it (the arguments stay a map, by name).
            let mut seq = s.serialize_tuple(if self.receiver.is_some() { 4 } else { 2 })?;
            seq.serialize_element(self.function)?;
            if let Some((ty, receiver)) = self.receiver {
                seq.serialize_element(ty)?;
                seq.serialize_element(receiver)?;
            }
            seq.serialize_element(&Args(self.args))?;
            seq.end()
        }
    }

    /// Hashes a call's key with the store's keymaker.
    pub fn digest<S: MemoCache + ?Sized>(store: &S, key: &CallKey<'_>) -> Result<String> {
        store.bucket().hash_for_key(key)
    }

    /// Found by method-call auto-deref on whatever the `bucket = ` expression gives.
    pub trait AsMemoCache {
        /// The store itself.
        fn __bc_memo_store(&self) -> &Self;
    }

    impl<S: MemoCache> AsMemoCache for S {
        fn __bc_memo_store(&self) -> &Self {
            self
        }
    }

    /// The type a `Result`-returning memoized function caches.
    pub trait IsResult {
        /// The `Ok` type.
        type Ok;
    }

    impl<T, E> IsResult for std::result::Result<T, E> {
        type Ok = T;
    }

    /// An argument on its way into `CachedCallInfo::callargs`: its JSON if it is `Serialize`,
    /// `null` otherwise (auto-ref specialization: the `Serialize` impl is on the shorter
    /// receiver, so method resolution prefers it).
    pub struct JsonArg<'a, T: ?Sized>(pub &'a T);

    /// Serializable arguments.
    pub trait JsonSerialize {
        /// The JSON of the argument.
        fn __bc_json(&self) -> serde_json::Value;
    }

    impl<T: Serialize + ?Sized> JsonSerialize for JsonArg<'_, T> {
        fn __bc_json(&self) -> serde_json::Value {
            serde_json::to_value(self.0).unwrap_or(serde_json::Value::Null)
        }
    }

    /// Other arguments.
    pub trait JsonOpaque {
        /// `null`.
        fn __bc_json(&self) -> serde_json::Value;
    }

    impl<T: ?Sized> JsonOpaque for &JsonArg<'_, T> {
        fn __bc_json(&self) -> serde_json::Value {
            serde_json::Value::Null
        }
    }
}

/// The built-in backends, one crate each.
pub mod backends {
    pub use bucketcache_json as json;
    pub use bucketcache_msgpack as msgpack;
    pub use bucketcache_pickle as pickle;
}

/// The built-in keymakers.
pub use bucketcache_keymakers as keymakers;

/// The LMDB store (feature `lmdb`): `Bucket::builder(dir).store("lmdb")`.
#[cfg(feature = "lmdb")]
pub use bucketcache_lmdb as lmdb;
/// The Redis store (cargo feature `redis`): `Bucket::builder("namespace")
/// .store("redis://127.0.0.1:6379/0")` keeps a bucket in Redis, shared by many machines.
#[cfg(feature = "redis")]
pub use bucketcache_redis as redis;

/// The third plugin axis, *where* entries live: the [`Store`] trait, the registry of stores and
/// the layers from the engine, with the default store, [`FsStore`](store::FsStore) (one file per
/// key in a directory, the original's layout, shareable with Python), and the files it shares
/// with other processes (lock file, budget record).
///
/// ```
/// use bucketcache::store::{FsStore, Store};
/// let dir = tempfile::tempdir().unwrap();
/// let fs = FsStore::new(dir.path(), false);
/// assert_eq!(fs.name(), "fs");
/// assert_eq!(bucketcache::registry::default_store().unwrap(), FsStore::NAME);
/// ```
pub mod store {
    pub use bucketcache_core::store::*;
    pub use bucketcache_fs::{
        check_file_locks, open_helper_file, FileLocks, FsStore, BUDGET_RECORD, LOCK_FILE,
    };
}

/// The backend used when none is named.
pub const DEFAULT_BACKEND: &str = bucketcache_msgpack::NAME;
/// The keymaker used when none is named.
pub const DEFAULT_KEYMAKER: &str = bucketcache_keymakers::DEFAULT;
/// The store used when none is named: `fs`, a directory with one file per key.
pub const DEFAULT_STORE: &str = bucketcache_fs::FsStore::NAME;

/// The crates this one builds in (the LMDB store with the feature `lmdb`).
const BUILT_IN_CRATES: &[&str] = &[
    "bucketcache-json",
    "bucketcache-msgpack",
    "bucketcache-pickle",
    "bucketcache-keymakers",
    #[cfg(feature = "lmdb")]
    "bucketcache-lmdb",
];

/// This crate's declaration to the registry: core names no crate, no format and no store, so the
/// facade says which crates are built in (shown as such by `bucketcache backends`) and which
/// backend, keymaker and store a bucket uses by default.
const DISTRIBUTION: registry::Distribution = registry::Distribution {
    built_in_crates: BUILT_IN_CRATES,
    default_backend: DEFAULT_BACKEND,
    default_keymaker: DEFAULT_KEYMAKER,
    default_store: DEFAULT_STORE,
    stores: &[bucketcache_fs::REGISTRATION],
};

bucketcache_core::inventory::submit! { DISTRIBUTION }

/// Registers the built-in backends, keymakers and stores (and this crate's defaults; with the
/// features `lmdb` and `redis`, those stores) explicitly.
///
/// They register themselves through `inventory` on the usual platforms; this is for the others
/// (where static constructors do not run) and is harmless to call more than once.
///
/// ```
/// bucketcache::install_default_backends().unwrap();
/// assert!(bucketcache::registry::backends().iter().any(|b| b.name == "msgpack"));
/// assert_eq!(bucketcache::registry::default_backend().unwrap(), bucketcache::DEFAULT_BACKEND);
/// ```
pub fn install_default_backends() -> Result<()> {
    // Also registers the distribution's stores (the file store).
    registry::declare_distribution(&DISTRIBUTION)?;
    bucketcache_json::register()?;
    bucketcache_msgpack::register()?;
    bucketcache_pickle::register()?;
    bucketcache_keymakers::register()?;
    #[cfg(feature = "lmdb")]
    bucketcache_lmdb::register()?;
    #[cfg(feature = "redis")]
    bucketcache_redis::register()?;
    Ok(())
}
