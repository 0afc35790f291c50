//! Runtime validation of backends and keymakers (defined in bucketcache-traits, re-exported
//! here at its old path).
pub use bucketcache_traits::validate::*;
