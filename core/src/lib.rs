//! bucketcache-core: the [`Bucket`], the [`Backend`] and [`KeyMaker`] plugin traits, the
//! registry that selects them by name, the plugin host and the file store.
//!
//! Most users depend on the facade crate `bucketcache`, which re-exports this crate together
//! with the built-in backends and keymakers.
#![warn(missing_docs)]

mod bucket;
mod builder;
mod deferred;
mod memoize;
mod stats;
pub mod store;

#[allow(deprecated)]
pub use backend::StoredValue;
pub use backend::{Backend, BackendError, Decoded, ValueLocation, ValueTree, ValueVisitor};
pub use bucket::Bucket;
pub use bucketcache_traits::{Degradation, Digest, Guarantee};
pub use builder::{BucketBuilder, ConfigSource, PYTHON_KEYMAKER};
pub use deferred::{deferred_write, DeferredWriteBucket};
pub use inspect::{Inspector, Pruned};
pub use keymaker::{KeyError, KeyMaker};
pub use memoize::revalidate::{lookup_fresh_async, Computation, Fresh};
/// The former name of [`MemoCache`].
#[doc(hidden)]
pub use memoize::MemoCache as MemoStore;
pub use memoize::{lookup_async, CachedCallInfo, Lookup, MemoCache, Memoized, Ticket};
pub use refresh::RefreshSlot;
pub use stats::Stats;
pub use store::Store;
pub use time::{Clock, Expiration, ManualClock, SystemClock};

/// What the crates built on the engine (`bucketcache-async`) use of its internals: the single
/// flight's parts, the freshness decision, the counters. Not a public API: no stability promise.
#[doc(hidden)]
pub mod internal {
    pub use crate::memoize::revalidate::{
        decide_in, fallback_answer, judge_entry, take_refresh, Decided, Parts, RefreshParts,
    };
    pub use crate::memoize::{deadline_of, join, try_lease, Attempt, Flight, FlightWait};
    pub use crate::stats::{bump, Counters};
}

/// Disk budgets (the crate `bucketcache-budget`).
pub use bucketcache_budget as budget;
/// Looking at a store entry by entry (the crate `bucketcache-inspect`).
pub use bucketcache_inspect as inspect;
/// The bounded in-memory layer (the crate `bucketcache-near`).
pub use bucketcache_near::memory;
/// Refreshes of memoized entries and when they are due (the crate `bucketcache-refresh`).
pub use bucketcache_refresh::{self as refresh, freshness};
/// Backends, keymakers and stores selectable by name (the crate `bucketcache-registry`).
pub use bucketcache_registry as registry;
/// The seams (traits, types, errors, registration), also usable without the bucket engine.
pub use bucketcache_traits as traits;
/// The seams' modules at their old paths (defined in bucketcache-traits): the `Backend` trait,
/// the one shape of a backend crate (with its `backend_crate!` macro), the `KeyMaker` trait, the expiry rule, expirations and
/// clocks, the validation of backends and keymakers.
pub use bucketcache_traits::{backend, backend_crate, keymaker, rules, time, validate};
pub use bucketcache_traits::{Capabilities, Usage};
pub use bucketcache_traits::{Error, Result};
/// Re-exported: an [`Expiration`] converts to and from `chrono::NaiveDateTime` (naive UTC).
pub use chrono;
/// Re-exported: the `Backend` and `KeyMaker` traits take `erased_serde` values.
pub use erased_serde;
#[doc(hidden)]
pub use inventory;
#[doc(hidden)]
pub use memoize::log_uncached;
/// Re-exported: [`CachedCallInfo::callargs`] holds `serde_json` values.
pub use serde_json;
