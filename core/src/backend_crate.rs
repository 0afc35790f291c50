//! The one shape of a backend crate (defined in bucketcache-traits, re-exported here at its old
//! path): constants, a config struct, `new(config)`, and the `backend_crate!` macro.
pub use bucketcache_traits::backend_crate::*;
