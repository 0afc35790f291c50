//! Every built-in store passes the store conformance kit, opened by name as a program would.

use std::sync::Arc;

use bucketcache::store::{open_store, Store, StoreOptions};
use bucketcache::{Bucket, BucketConfig};

fn by_name(name: &'static str) -> impl Fn(&std::path::Path) -> Arc<dyn Store> + Sync {
    move |dir| open_store(name, StoreOptions::new(dir)).expect("the store opens")
}

#[test]
fn the_fs_store_passes_the_store_conformance_kit() {
    bucketcache::install_default_backends().unwrap();
    bucketcache_plugin_sdk::conformance::check_store(by_name("fs"))
        .unwrap_or_else(|f| panic!("{f}"));
}

#[cfg(feature = "lmdb")]
#[test]
fn the_lmdb_store_passes_the_store_conformance_kit() {
    bucketcache::install_default_backends().unwrap();
    bucketcache_plugin_sdk::conformance::check_store(by_name("lmdb"))
        .unwrap_or_else(|f| panic!("{f}"));
}

#[test]
fn the_default_store_is_fs_and_an_unknown_store_lists_the_known_ones() {
    bucketcache::install_default_backends().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let b = Bucket::open(dir.path()).unwrap();
    assert_eq!(b.store().name(), "fs");
    let err = Bucket::builder(dir.path())
        .store("nosuch")
        .open()
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("unknown store \"nosuch\"") && text.contains("fs"),
        "{text}"
    );
    if cfg!(feature = "lmdb") {
        assert!(text.contains("lmdb"), "{text}");
    }
}

#[cfg(feature = "lmdb")]
#[test]
fn a_config_naming_the_lmdb_store_opens_an_lmdb_cache() {
    bucketcache::install_default_backends().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("cache.toml");
    std::fs::write(
        &file,
        "path = \"cache\"\nbackend = \"json\"\nstore = \"lmdb\"\n[store_options]\nmap_size = 65536\n",
    )
    .unwrap();
    let config = BucketConfig::from_file(&file).unwrap();
    let b = Bucket::from_config(&config).unwrap();
    assert_eq!(b.store().name(), "lmdb");
    b.set("k", &"v".repeat(100_000)).unwrap();
    assert!(bucketcache::lmdb::is_lmdb_dir(&dir.path().join("cache")));
    let again = Bucket::from_config(&config).unwrap();
    assert_eq!(
        again.get::<String>("k").unwrap().map(|v| v.len()),
        Some(100_000)
    );
}

#[test]
fn a_config_with_bad_store_options_is_an_error() {
    bucketcache::install_default_backends().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = BucketConfig::from_toml_str(&format!(
        "path = {:?}\nstore = \"nosuch\"\n",
        dir.path().join("c")
    ))
    .unwrap();
    assert!(Bucket::from_config(&config).is_err());
}

#[test]
fn each_store_describes_what_it_supports_in_its_capabilities() {
    // Registered explicitly: whether the linker keeps a crate's `inventory` registration
    // depends on what else the test binary uses of it, and this test uses nothing else.
    bucketcache_lmdb::register().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let fs = open_store("fs", StoreOptions::new(dir.path().join("fs"))).unwrap();
    let c = fs.capabilities();
    assert!(
        c.plain_directory && c.stat && c.recency && c.budget_record,
        "{c}"
    );
    assert!(!c.usage && !c.expiry && c.max_value_bytes.is_none(), "{c}");
    let lmdb = open_store("lmdb", StoreOptions::new(dir.path().join("lmdb"))).unwrap();
    let c = lmdb.capabilities();
    assert!(
        c.usage && c.eviction_candidates && c.stat && !c.plain_directory,
        "{c}"
    );
}

#[test]
fn a_backend_crate_built_on_the_traits_crate_alone_registers_explicitly() {
    // The json crate depends on bucketcache-traits only: its `register()` reaches core's
    // registry (the same origin registering again is harmless) and the backend is usable.
    bucketcache_json::register().unwrap();
    bucketcache_keymakers::register().unwrap();
    let b = bucketcache::registry::backend("json", &serde_json::Value::Null).unwrap();
    assert_eq!(b.file_extension(), "json");
    // Another origin claiming the name is refused synchronously, with the registry's error.
    fn nothing(
        _: &bucketcache::registry::BackendOptions,
    ) -> bucketcache::Result<Arc<dyn bucketcache::Backend>> {
        Err(bucketcache::Error::Config("never built".into()))
    }
    let err =
        bucketcache::traits::registration::register_backend_factory("json", "an-impostor", nothing)
            .unwrap_err();
    assert!(
        matches!(err, bucketcache::Error::DuplicateName { .. }),
        "{err}"
    );
}
