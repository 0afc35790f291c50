//! The file store: the store conformance kit (plain and durable), opening by name with the
//! common options, and the errors of a location that cannot be a directory.

use std::sync::Arc;

use bucketcache::store::{open_store, Store, StoreOptions};
use bucketcache::{Bucket, Error};
use bucketcache_fs::FsStore;

#[test]
fn the_file_store_passes_the_store_conformance_kit() {
    bucketcache_plugin_sdk::conformance::check_store(|dir| {
        Arc::new(FsStore::new(dir, false)) as Arc<dyn Store>
    })
    .unwrap_or_else(|f| panic!("{f}"));
}

#[test]
fn the_durable_file_store_passes_the_store_conformance_kit() {
    bucketcache_plugin_sdk::conformance::check_store(|dir| {
        Arc::new(FsStore::new(dir, true)) as Arc<dyn Store>
    })
    .unwrap_or_else(|f| panic!("{f}"));
}

#[test]
fn fs_is_registered_by_name_and_creates_its_directory() {
    let dir = tempfile::tempdir().unwrap();
    let location = dir.path().join("a").join("b");
    let store = open_store("fs", StoreOptions::new(&location)).unwrap();
    assert_eq!(store.name(), "fs");
    assert!(location.is_dir());
    assert!(bucketcache::store::stores().contains(&"fs".to_owned()));
}

#[test]
fn a_file_where_the_directory_should_be_is_a_directory_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, b"x").unwrap();
    match open_store("fs", StoreOptions::new(&file)) {
        Err(Error::Directory { path, .. }) => assert_eq!(path, file),
        other => panic!("expected a directory error, got {other:?}"),
    }
}

#[test]
fn an_empty_path_is_refused() {
    let err = open_store("fs", StoreOptions::new("")).unwrap_err();
    assert!(matches!(err, Error::Config(_)), "{err}");
}

#[test]
fn a_bucket_over_the_file_store_reads_what_it_wrote_after_a_reopen() {
    bucketcache::install_default_backends().unwrap();
    let dir = tempfile::tempdir().unwrap();
    Bucket::builder(dir.path())
        .store("fs")
        .open()
        .unwrap()
        .set("k", &1u32)
        .unwrap();
    let b = Bucket::builder(dir.path()).open().unwrap();
    assert_eq!(b.get::<u32>("k").unwrap(), Some(1));
    assert_eq!(b.store().name(), "fs");
}

#[test]
fn registering_explicitly_again_is_harmless() {
    bucketcache_fs::register().unwrap();
    bucketcache_fs::register().unwrap();
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(
        open_store("fs", StoreOptions::new(dir.path()))
            .unwrap()
            .name(),
        "fs"
    );
}
