//! The `KeyMaker` trait: turns a key into the file name stem of its entry (defined in
//! bucketcache-traits, re-exported here at its old path).
pub use bucketcache_traits::keymaker::*;
