//! Arbitrary bytes as a pickle cache file (deep nesting, huge declared lengths, memo abuse):
//! decoding never panics, stays within the memory limit, and what decodes round-trips.
#![no_main]

use bucketcache::backends::pickle::PickleBackend;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    bucketcache_fuzz::check_decoder(&PickleBackend::default(), data);
    // The crate's own entry point, outside the envelope.
    let _ = bucketcache::backends::pickle::from_slice::<serde_json::Value>(data);
});
