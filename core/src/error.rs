//! The public error type (defined in bucketcache-traits, re-exported here at its old path).
pub use bucketcache_traits::{Error, Result};
