//! Arbitrary bytes as the file of a key, read through a `Bucket` of each backend: the read is a
//! value or a miss (`Ok`), never an error or a panic, and a value read through the bucket is the
//! one the backend decodes directly.
#![no_main]

use std::sync::{Arc, OnceLock};

use bucketcache::backends::{json::JsonBackend, msgpack::MsgpackBackend, pickle::PickleBackend};
use bucketcache::{Backend, Bucket};
use libfuzzer_sys::fuzz_target;

const KEY: (&str, u32) = ("fuzz", 1);

struct Buckets {
    // Kept alive for the whole run; the directory goes when the process ends normally.
    _dir: tempfile::TempDir,
    buckets: Vec<Bucket>,
}

fn buckets() -> &'static Buckets {
    static BUCKETS: OnceLock<Buckets> = OnceLock::new();
    BUCKETS.get_or_init(|| {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let backends: Vec<Arc<dyn Backend>> = vec![
            Arc::new(JsonBackend::default()),
            Arc::new(MsgpackBackend::default()),
            Arc::new(PickleBackend::default()),
        ];
        let buckets = backends
            .into_iter()
            .map(|backend| {
                Bucket::builder(dir.path().join(backend.name()))
                    .backend_instance(backend)
                    .keymaker_instance(Arc::new(bucketcache::keymakers::DefaultKeyMaker))
                    .open()
                    .expect("a bucket opens")
            })
            .collect();
        Buckets { _dir: dir, buckets }
    })
}

fuzz_target!(|data: &[u8]| {
    for bucket in &buckets().buckets {
        let path = bucket.path_for_key(&KEY).expect("the key hashes");
        std::fs::write(&path, data).expect("the cache file is written");
        // Read the file, not the copy a previous input left in memory.
        bucket.unload(&KEY);
        let got = bucket.get::<_, serde_json::Value>(&KEY);
        let name = bucket.backend().name().to_owned();
        let got =
            got.unwrap_or_else(|e| panic!("{name}: a hostile file is an error, not a miss: {e}"));
        if let Some(value) = &got {
            let direct =
                (&**bucket.backend() as &dyn Backend).decode_value::<serde_json::Value>(data);
            assert_eq!(
                direct.ok().as_ref(),
                Some(value),
                "{name}: bucket and backend disagree"
            );
        }
        // The other read paths: a typed read and an existence check, on the same bytes.
        std::fs::write(&path, data).expect("the cache file is written");
        bucket.unload(&KEY);
        bucket
            .get::<_, Vec<String>>(&KEY)
            .unwrap_or_else(|e| panic!("{name}: typed get failed: {e}"));
        std::fs::write(&path, data).expect("the cache file is written");
        bucket.unload(&KEY);
        bucket
            .contains(&KEY)
            .unwrap_or_else(|e| panic!("{name}: contains failed: {e}"));
        bucket
            .prune()
            .unwrap_or_else(|e| panic!("{name}: prune failed: {e}"));
    }
});
