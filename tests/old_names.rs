//! Renamed public items keep their former names, so code written against them still builds:
//! `StoredValue` (now `ValueLocation`, deprecated), `MemoStore` (now `MemoCache`).

#![allow(deprecated)]

use bucketcache::{Bucket, MemoCache, MemoStore, StoredValue, ValueLocation};

fn digest_through_the_old_trait_name<S: MemoStore + ?Sized>(cache: &S, key: &str) -> String {
    cache.bucket().hash_for_key(key).unwrap()
}

#[test]
fn the_former_names_still_name_the_same_items() {
    bucketcache::install_default_backends().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let b = Bucket::builder(dir.path()).open().unwrap();
    // A bound written with the old trait name accepts what the new one does.
    fn new_name<S: MemoCache + ?Sized>(cache: &S) -> &Bucket {
        cache.bucket()
    }
    assert_eq!(
        digest_through_the_old_trait_name(&b, "k"),
        new_name(&b).hash_for_key("k").unwrap()
    );
    // The old type name is the new type.
    let location: StoredValue = ValueLocation::Json(0..2);
    assert!(matches!(location, ValueLocation::Json(r) if r == (0..2)));
}
