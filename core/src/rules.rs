//! The one expiry rule of the cache, used by reads, `prune`, the inspector and the CLI alike
//! (defined in bucketcache-traits, re-exported here at its old path).
pub use bucketcache_traits::rules::*;
