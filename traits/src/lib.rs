//! bucketcache-traits: what a backend, keymaker or store author depends on, and nothing heavier.
//!
//! A cache entry is *a value in a format, under a name, in a place*: the [`Backend`] trait
//! (format), the [`KeyMaker`] trait (name) and the [`Store`] trait (place, with the
//! [`Capabilities`] it describes), their types and the typed errors;
//! the entry format rules ([`time`]: expirations and their ISO text, [`rules`]: the expiry
//! verdict, [`validate`]: what every backend and keymaker must obey); and the registration
//! types ([`registration`], [`backend_crate!`]) through which a crate registers by name without
//! depending on the bucket engine.
//!
//! The bucket engine, bucketcache-core, re-exports everything here at its old paths
//! (`bucketcache_core::Backend`, `bucketcache_core::store::Store`, …), and so does the facade
//! crate `bucketcache`.
//!
//! ```
//! use bucketcache_traits::{time::parse_expiration, Expiration};
//! let e: Expiration = parse_expiration("2100-01-01T00:00:00.5").unwrap();
//! assert_eq!(bucketcache_traits::time::format_expiration(&e), "2100-01-01T00:00:00.500000");
//! ```
#![warn(missing_docs)]

pub mod backend;
pub mod backend_crate;
mod digest;
mod error;
mod expiration;
pub mod keymaker;
pub mod registration;
pub mod rules;
pub mod store;
pub mod time;
pub mod validate;

#[allow(deprecated)]
pub use backend::StoredValue;
pub use backend::{Backend, BackendError, Decoded, ValueLocation, ValueTree, ValueVisitor};
pub use digest::{Digest, DigestText, MAX_DIGEST_LEN};
pub use error::{Error, Result};
pub use keymaker::{KeyError, KeyMaker};
pub use store::{Capabilities, Degradation, Guarantee, Store, Usage};
pub use time::{Clock, Expiration, ManualClock, SystemClock};

/// Re-exported: the `Backend` and `KeyMaker` traits take `erased_serde` values.
pub use erased_serde;
#[doc(hidden)]
pub use inventory;
