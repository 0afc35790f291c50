//! The #[cached] attribute macro of bucketcache.
