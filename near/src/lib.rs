//! bucketcache-near: the layers that keep a copy of entries nearer than their store, and the
//! rule that keeps those copies from ever bringing back a replaced value.
//!
//! - [`memory`]: the bounded in-memory layer of a bucket (digest → live [`Entry`]);
//! - [`NearStore`]: a near cache, a local directory of copies in front of a shared store
//!   (Redis), built on the traits' forwarding [`StoreLayer`](bucketcache_traits::store::StoreLayer);
//! - [`generation`]: per-key generations, which both layers and the bucket's read and write
//!   paths use so that once a `set` or `remove` has returned, no later read answers an older
//!   value.
//!
//! The bucket engine (`bucketcache-core`) builds these; a program uses them through
//! `Bucket::builder(..).memory_limit(..)` and `.near_cache(..)`.
#![warn(missing_docs)]

mod digest_hasher;
mod entry;
pub mod generation;
pub mod memory;
mod near_store;

pub use digest_hasher::DigestHasher;
pub use entry::{Entry, Stored};
pub use near_store::{without_credentials, NearStore, DEFAULT_NEAR_TTL};
