//! Expiration dates and clocks (defined in bucketcache-traits, re-exported here at its old
//! path). [`Expiration`] converts to and from `chrono::NaiveDateTime` (`From` both ways).
pub use bucketcache_traits::time::*;
