//! Keys built from arbitrary bytes (and the bytes themselves when they are JSON), hashed by every
//! keymaker: the keymakers agree, digests are lowercase hex of the right length, and the
//! canonical text is JSON.
#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use bucketcache_fuzz::{check_key, Key};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) {
        check_key(&value);
    }
    if let Ok(text) = std::str::from_utf8(data) {
        check_key(text);
    }
    check_key(data);
    let mut u = Unstructured::new(data);
    if let Ok(key) = Key::arbitrary(&mut u) {
        check_key(&key);
        // The same key inside a tuple, as memoized calls hash their arguments.
        check_key(&("function", &key, key.has_non_finite()));
    }
});
