//! Arbitrary bytes as a MessagePack cache file: decoding never panics, and what decodes
//! round-trips.
#![no_main]

use bucketcache::backends::msgpack::MsgpackBackend;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    bucketcache_fuzz::check_decoder(&MsgpackBackend::default(), data);
});
