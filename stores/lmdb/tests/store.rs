//! The LMDB store: the store conformance kit, map growth, the shared environment, options.

use std::sync::Arc;

use bucketcache_core::store::{open_store, Store, StoreOptions};
use bucketcache_core::{Bucket, Error};
use bucketcache_lmdb::{LmdbError, LmdbStore};
use serde_json::json;

fn setup() {
    bucketcache::install_default_backends().unwrap();
    bucketcache_lmdb::register().unwrap();
}

fn tiny(dir: &std::path::Path) -> StoreOptions {
    StoreOptions::new(dir).options(json!({"map_size": 65536}))
}

#[test]
fn the_lmdb_store_passes_the_store_conformance_kit() {
    setup();
    bucketcache_plugin_sdk::conformance::check_store(|dir| {
        Arc::new(LmdbStore::open(&StoreOptions::new(dir)).unwrap()) as Arc<dyn Store>
    })
    .unwrap_or_else(|f| panic!("{f}"));
}

#[test]
fn the_kit_passes_on_a_map_that_starts_at_64_kib_and_must_grow() {
    setup();
    bucketcache_plugin_sdk::conformance::check_store(|dir| {
        Arc::new(LmdbStore::open(&tiny(dir)).unwrap()) as Arc<dyn Store>
    })
    .unwrap_or_else(|f| panic!("{f}"));
}

#[test]
fn the_kit_passes_with_durable_writes() {
    setup();
    bucketcache_plugin_sdk::conformance::check_store(|dir| {
        Arc::new(LmdbStore::open(&StoreOptions::new(dir).durable(true)).unwrap()) as Arc<dyn Store>
    })
    .unwrap_or_else(|f| panic!("{f}"));
}

#[test]
fn a_full_map_grows_by_itself() {
    setup();
    let dir = tempfile::tempdir().unwrap();
    let store = LmdbStore::open(&tiny(dir.path())).unwrap();
    let b = Bucket::builder(dir.path())
        .store_instance(Arc::new(store.clone()))
        .backend("msgpack")
        .open()
        .unwrap();
    b.set("small", &"kept").unwrap();
    let big = "x".repeat(1 << 20);
    b.set("big", &big).unwrap();
    assert!(store.map_size() > 65536, "the map grew");
    let fresh = Bucket::builder(dir.path())
        .store("lmdb")
        .backend("msgpack")
        .open()
        .unwrap();
    assert_eq!(fresh.get::<String>("big").unwrap(), Some(big));
    assert_eq!(
        fresh.get::<String>("small").unwrap().as_deref(),
        Some("kept")
    );
}

#[test]
fn a_full_map_that_may_not_grow_fails_the_set_and_keeps_the_old_value() {
    setup();
    let dir = tempfile::tempdir().unwrap();
    let open = || {
        Bucket::builder(dir.path())
            .store("lmdb")
            .store_options(json!({"map_size": 65536, "max_map_size": 65536}))
            .backend("msgpack")
            .open()
            .unwrap()
    };
    let b = open();
    b.set("k", &"old").unwrap();
    let err = b.set("k", &"y".repeat(1 << 20)).unwrap_err();
    let Error::Io { source, .. } = &err else {
        panic!("not an I/O error: {err}");
    };
    let lmdb = std::error::Error::source(source).and_then(|e| e.downcast_ref::<LmdbError>());
    assert!(
        matches!(lmdb, Some(LmdbError::MapFull { .. })),
        "not a MapFull error: {err}"
    );
    assert!(err.to_string().contains("full"), "{err}");
    // Callers branch on the kind, whatever the store.
    assert_eq!(
        err.store_error_kind(),
        Some(bucketcache_core::store::StoreErrorKind::TooLarge),
        "{err}"
    );
    assert_eq!(b.get::<String>("k").unwrap().as_deref(), Some("old"));
    drop(b);
    assert_eq!(
        open().get::<String>("k").unwrap().as_deref(),
        Some("old"),
        "a new bucket reads the old value"
    );
}

#[test]
fn buckets_on_one_directory_share_one_environment() {
    setup();
    let dir = tempfile::tempdir().unwrap();
    let open = |backend: &str| {
        Bucket::builder(dir.path())
            .store("lmdb")
            .backend(backend)
            .open()
            .unwrap()
    };
    let (json, msgpack) = (open("json"), open("msgpack"));
    json.set("k", &"as json").unwrap();
    msgpack.set("k", &"as msgpack").unwrap();
    assert_eq!(json.get::<String>("k").unwrap().as_deref(), Some("as json"));
    assert_eq!(
        open("msgpack").get::<String>("k").unwrap().as_deref(),
        Some("as msgpack")
    );
    let names: Vec<String> = json
        .store()
        .list()
        .unwrap()
        .into_iter()
        .map(|l| l.name)
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(names.iter().any(|n| n.ends_with(".json")));
    assert!(names.iter().any(|n| n.ends_with(".msgpack")));
    // Another spelling of the same directory reaches the same environment.
    let dotted = dir.path().join(".");
    let other = open_store("lmdb", StoreOptions::new(&dotted)).unwrap();
    assert_eq!(other.list().unwrap().len(), 2);
}

#[test]
fn the_lmdb_files_are_in_the_directory_and_are_not_entries() {
    setup();
    let dir = tempfile::tempdir().unwrap();
    let b = Bucket::builder(dir.path()).store("lmdb").open().unwrap();
    b.set("k", &1).unwrap();
    assert!(bucketcache_lmdb::is_lmdb_dir(dir.path()));
    assert!(dir.path().join(bucketcache_lmdb::LOCK_FILE).exists());
    let items = b.inspector().items().unwrap();
    assert_eq!(items.len(), 1, "{items:?}");
    assert!(items[0].name.ends_with(".msgpack"));
    assert_eq!(b.store().name(), "lmdb");
    assert_eq!(b.path(), dir.path().canonicalize().unwrap());
}

#[test]
fn unknown_options_are_refused_with_the_known_ones() {
    setup();
    let dir = tempfile::tempdir().unwrap();
    let err = Bucket::builder(dir.path())
        .store("lmdb")
        .store_options(json!({"mapsize": 1}))
        .open()
        .unwrap_err();
    assert!(matches!(err, Error::Config(_)), "{err}");
    assert!(err.to_string().contains("map_size, max_map_size"), "{err}");
}

#[test]
fn a_name_longer_than_an_lmdb_key_is_invalid_input_and_reads_as_missing() {
    setup();
    let dir = tempfile::tempdir().unwrap();
    let store = LmdbStore::open(&StoreOptions::new(dir.path())).unwrap();
    let long = format!("{}.json", "a".repeat(600));
    let err = store.write(&long, b"{}").unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput, "{err}");
    let limits = bucketcache_core::store::ReadLimits {
        max_bytes: 10,
        may_begin: &|_| true,
    };
    assert!(matches!(
        store.read(&long, &limits).unwrap(),
        bucketcache_core::store::Fetched::Missing
    ));
    assert!(!store.remove(&long).unwrap());
}

#[test]
fn the_store_is_listed_in_the_registry_and_an_unknown_one_lists_it() {
    setup();
    assert!(bucketcache_core::store::stores().contains(&"lmdb".to_owned()));
    let dir = tempfile::tempdir().unwrap();
    let err = Bucket::builder(dir.path())
        .store("lmbd")
        .open()
        .unwrap_err();
    assert!(err.to_string().contains("lmdb"), "{err}");
}

#[test]
fn reopening_with_a_smaller_map_keeps_the_file_and_every_entry() {
    setup();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join(bucketcache_lmdb::DATA_FILE);
    let grown = {
        let store = LmdbStore::open(&tiny(dir.path())).unwrap();
        for i in 0..40 {
            store
                .write(&format!("{i:064x}.bin"), &vec![i as u8; 50_000])
                .unwrap();
        }
        assert!(store.map_size() >= 2 << 20, "{}", store.map_size());
        store.map_size()
    };
    let size_before = std::fs::metadata(&data).unwrap().len();
    if cfg!(target_os = "linux") {
        assert_eq!(
            size_before, grown,
            "a writable map's file is as large as the map"
        );
    }
    let store = LmdbStore::open(&tiny(dir.path())).unwrap();
    assert!(
        store.map_size() >= size_before,
        "opened at least as large as the file"
    );
    assert!(
        std::fs::metadata(&data).unwrap().len() >= size_before,
        "never truncated"
    );
    let limits = bucketcache_core::store::ReadLimits {
        max_bytes: 1 << 20,
        may_begin: &|_| true,
    };
    for i in 0..40 {
        let got = store.read(&format!("{i:064x}.bin"), &limits).unwrap();
        assert!(
            matches!(&got, bucketcache_core::store::Fetched::Bytes(b) if *b == vec![i as u8; 50_000]),
            "entry {i}"
        );
    }
}

// ---- read-only (tools): nothing created, nothing changed ----

fn names(dir: &std::path::Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    v.sort();
    v
}

#[test]
fn a_read_only_store_creates_no_file_and_changes_no_byte_or_time_of_the_data_file() {
    setup();
    let dir = tempfile::tempdir().unwrap();
    {
        let store = LmdbStore::open(&StoreOptions::new(dir.path())).unwrap();
        store.write("0a.json", b"{\"value\": 1}").unwrap();
        store.write("0b.json", b"{\"value\": 2}").unwrap();
    }
    // A copied cache: only the data file.
    std::fs::remove_file(dir.path().join("lock.mdb")).unwrap();
    let _ = std::fs::remove_file(dir.path().join(bucketcache_lmdb::RESIZE_LOCK_FILE));
    let data = dir.path().join("data.mdb");
    let before = (
        std::fs::read(&data).unwrap(),
        std::fs::metadata(&data).unwrap().modified().unwrap(),
    );
    let store = LmdbStore::open_read_only(&StoreOptions::new(dir.path())).unwrap();
    assert!(store.is_read_only());
    let listed: Vec<_> = store.list().unwrap().into_iter().map(|l| l.name).collect();
    assert_eq!(listed, ["0a.json", "0b.json"]);
    let limits = bucketcache_core::store::ReadLimits {
        max_bytes: 1 << 20,
        may_begin: &|_| true,
    };
    assert!(matches!(
        store.read("0b.json", &limits).unwrap(),
        bucketcache_core::store::Fetched::Bytes(b) if b == b"{\"value\": 2}"
    ));
    assert!(store.write("0c.json", b"{}").is_err(), "a write fails");
    assert!(store.remove("0a.json").is_err(), "a removal fails");
    drop(store);
    assert_eq!(names(dir.path()), ["data.mdb"], "no lock file created");
    let after = (
        std::fs::read(&data).unwrap(),
        std::fs::metadata(&data).unwrap().modified().unwrap(),
    );
    assert!(after == before, "data.mdb: same bytes, same time");
}

#[test]
fn a_read_only_store_shares_a_writer_of_this_process_but_a_writer_cannot_share_it() {
    setup();
    let dir = tempfile::tempdir().unwrap();
    let writer = LmdbStore::open(&StoreOptions::new(dir.path())).unwrap();
    writer.write("0a.json", b"{}").unwrap();
    let reader = LmdbStore::open_read_only(&StoreOptions::new(dir.path())).unwrap();
    assert!(!reader.is_read_only(), "the writer's environment, shared");
    writer.write("0b.json", b"{}").unwrap();
    assert_eq!(reader.list().unwrap().len(), 2);
    drop((writer, reader));

    let reader = LmdbStore::open_read_only(&StoreOptions::new(dir.path())).unwrap();
    assert!(reader.is_read_only());
    let err = LmdbStore::open(&StoreOptions::new(dir.path())).unwrap_err();
    assert!(err.to_string().contains("open read-only"), "{err}");
    drop(reader);
    LmdbStore::open(&StoreOptions::new(dir.path()))
        .unwrap()
        .write("0c.json", b"{}")
        .unwrap();
}

#[test]
fn a_data_file_that_is_not_lmdb_is_not_lmdb_to_a_reader_and_stays_as_it_was() {
    setup();
    for content in [&b"my own notes, not a database"[..], b"", &[0xab; 20000]] {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data.mdb");
        std::fs::write(&data, content).unwrap();
        let err = LmdbStore::open_read_only(&StoreOptions::new(dir.path())).unwrap_err();
        assert!(matches!(err, LmdbError::NotLmdb { .. }), "{err}");
        assert!(err.to_string().contains("data.mdb"), "{err}");
        assert_eq!(std::fs::read(&data).unwrap(), content);
        assert_eq!(names(dir.path()), ["data.mdb"]);
    }
}
