//! `bucketcache-fs`: the file store of bucketcache, and its default.
//!
//! One file per entry in a directory, named `<digest>.<extension>` — the layout of Python
//! BucketCache 0.12.1, so a Rust and a Python program share one cache directory. Writes are
//! atomic (a temporary file renamed over the entry), reads never follow a link or block on a
//! FIFO, and the directory's helper files (all named with a leading `.`) carry what processes
//! share: the byte-range locks of single flight ([`LOCK_FILE`]) and the disk budget's record
//! ([`BUDGET_RECORD`]).
//!
//! This crate depends on the traits only (`bucketcache-traits`), as a third-party store would.
//! It registers itself under the name `fs` ([`REGISTRATION`]); the bucket engine opens it when
//! no other store is chosen. Its options are the common [`StoreOptions`]: the directory,
//! `durable` (fsync every write) and `max_entry_bytes`.
//!
//! ```
//! use bucketcache_fs::FsStore;
//! use bucketcache_traits::store::{Fetched, ReadLimits, Store};
//! let dir = tempfile::tempdir().unwrap();
//! let store = FsStore::new(dir.path(), false);
//! store.write("0123.json", b"{}").unwrap();
//! let limits = ReadLimits { max_bytes: 1 << 20, may_begin: &|_| true };
//! assert!(matches!(store.read("0123.json", &limits).unwrap(), Fetched::Bytes(b) if b == b"{}"));
//! assert_eq!(store.name(), "fs");
//! ```

#![warn(missing_docs)]

mod helper_file;
mod locks;
mod record;
mod store;

pub use bucketcache_traits::store::StoreOptions;
use bucketcache_traits::store::StoreRegistration;
pub use helper_file::{open_helper_file, HelperFileError};
pub use locks::{FileLocks, Lease, Locked, LOCK_FILE};
pub use record::{check_file_locks, BUDGET_RECORD};
pub use store::FsStore;

/// The store's registration: name `fs`, no URL scheme. Submitted through `inventory`; the engine
/// also adds it itself when the linker dropped the submission, so `fs` is always there.
pub const REGISTRATION: StoreRegistration = StoreRegistration {
    name: FsStore::NAME,
    schemes: &[],
    origin: env!("CARGO_PKG_NAME"),
    factory: store::open,
};

inventory::submit! { REGISTRATION }

/// Registers the store explicitly, as `bucketcache-lmdb` and `bucketcache-redis` do (it also
/// registers itself through `inventory`, and the engine adds it in any case). Calling it again
/// is harmless.
///
/// ```
/// bucketcache_fs::register().unwrap();
/// assert!(bucketcache::store::stores().contains(&"fs".to_owned()));
/// ```
pub fn register() -> bucketcache_traits::Result<()> {
    bucketcache_traits::registration::register_store(
        REGISTRATION.name,
        REGISTRATION.schemes,
        REGISTRATION.origin,
        REGISTRATION.factory,
    )
}
