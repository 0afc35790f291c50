//! The `Backend` trait: a serialization format for cache entries (defined in
//! bucketcache-traits, re-exported here at its old path).
pub use bucketcache_traits::backend::*;
