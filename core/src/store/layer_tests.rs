//! Tests of the layer base (`bucketcache_traits::store::StoreLayer`) over the file store.

use std::io;
use std::time::SystemTime;

use crate::store::{Fetched, ReadLimits, Store, StoreLayer};
use bucketcache_fs::FsStore;

/// The names of the `fn`s declared between `start` and the first line that is exactly `}`.
fn methods(source: &str, start: &str) -> Vec<String> {
    let body = &source[source.find(start).expect(start)..];
    let body = &body[..body.find("\n}\n").unwrap()];
    let mut names: Vec<String> = body
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix("fn "))
        .map(|l| l[..l.find(['(', '<']).unwrap()].to_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn every_store_method_is_forwarded_by_the_layer_base() {
    let store = methods(
        include_str!("../../../traits/src/store/mod.rs"),
        "pub trait Store:",
    );
    let layer = methods(
        include_str!("../../../traits/src/store/layer.rs"),
        "pub trait StoreLayer:",
    );
    let blanket = methods(
        include_str!("../../../traits/src/store/layer.rs"),
        "impl<T: StoreLayer> Store for T {",
    );
    assert!(store.len() > 20, "{store:?}");
    let layer_without_inner: Vec<_> = layer.into_iter().filter(|n| n != "inner").collect();
    assert_eq!(store, layer_without_inner, "StoreLayer must mirror Store");
    assert_eq!(store, blanket, "the blanket impl must route every method");
}

#[derive(Debug)]
struct Uppercase(FsStore);

impl StoreLayer for Uppercase {
    fn inner(&self) -> &dyn Store {
        &self.0
    }
    fn write_expiring(
        &self,
        name: &str,
        bytes: &[u8],
        expires: Option<SystemTime>,
    ) -> io::Result<()> {
        self.0
            .write_expiring(name, &bytes.to_ascii_uppercase(), expires)
    }
}

#[test]
fn a_layer_changes_what_it_overrides_and_forwards_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let layer: Box<dyn Store> = Box::new(Uppercase(FsStore::new(dir.path(), false)));
    layer.write("a.json", b"abc").unwrap(); // through write_expiring
    let limits = ReadLimits {
        max_bytes: 1 << 20,
        may_begin: &|_| true,
    };
    assert!(matches!(layer.read("a.json", &limits).unwrap(), Fetched::Bytes(b) if b == b"ABC"));
    assert_eq!(layer.name(), "fs");
    assert_eq!(layer.stat("a.json").unwrap().unwrap().size, 3);
    assert!(layer.supports_recency(), "the fs store's recency is kept");
    assert_eq!(layer.list().unwrap().len(), 1);
    assert!(layer.remove("a.json").unwrap());
}
