//! Arbitrary bytes as a JSON cache file: decoding never panics, and what decodes round-trips.
#![no_main]

use bucketcache::backends::json::JsonBackend;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    bucketcache_fuzz::check_decoder(&JsonBackend::default(), data);
});
