//! The built-in formats through the facade: the json and msgpack backends side by side in one
//! directory, round trips, pruning per backend, msgpack options, and msgpack files identical to
//! the ones Python BucketCache writes.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bucketcache::{Bucket, ManualClock};
use serde::{Deserialize, Serialize};

/// About 100 bytes once encoded: the size the benches and the original's numbers talk about.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Record {
    id: u64,
    name: String,
    email: String,
    score: f64,
    active: bool,
    tags: Vec<String>,
    parent: Option<u32>,
}

fn record(id: u64) -> Record {
    Record {
        id,
        name: format!("Ada Lovelace #{id}"),
        email: "ada@analytical-engine.example".into(),
        score: 97.25,
        active: id % 2 == 0,
        tags: vec!["math".into(), "poetry".into()],
        parent: None,
    }
}

const BACKENDS: [&str; 2] = ["msgpack", "json"];

fn files_with_extension(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .collect();
    files.sort();
    files
}

fn clock_at(text: &str) -> Arc<ManualClock> {
    Arc::new(ManualClock::new(text.parse().unwrap()))
}

#[test]
fn a_100_byte_struct_round_trips_through_each_backend() {
    let dir = tempfile::tempdir().unwrap();
    for name in BACKENDS {
        let b = Bucket::builder(dir.path()).backend(name).open().unwrap();
        b.set("record", &record(7)).unwrap();
        // A fresh bucket reads the file, not the in-memory copy.
        let cold = Bucket::builder(dir.path()).backend(name).open().unwrap();
        let back: Option<Record> = cold.get("record").unwrap();
        assert_eq!(back, Some(record(7)), "{name}");
        let file = b.path_for_key("record").unwrap();
        let size = fs::metadata(&file).unwrap().len();
        assert!((80..300).contains(&size), "{name}: {size} bytes");
        assert_eq!(file.extension().unwrap(), name);
    }
}

#[test]
fn msgpack_is_the_default_backend() {
    let dir = tempfile::tempdir().unwrap();
    let b = Bucket::open(dir.path()).unwrap();
    b.set(&("user", 1), &record(1)).unwrap();
    assert_eq!(b.backend().name(), "msgpack");
    assert_eq!(files_with_extension(dir.path(), "msgpack").len(), 1);
}

#[test]
fn both_backends_share_a_directory_without_touching_each_others_files() {
    let dir = tempfile::tempdir().unwrap();
    let mp = Bucket::builder(dir.path())
        .backend("msgpack")
        .open()
        .unwrap();
    let js = Bucket::builder(dir.path()).backend("json").open().unwrap();
    for i in 0..5u64 {
        mp.set(&i, &record(i)).unwrap();
        js.set(&i, &format!("json {i}")).unwrap();
    }
    assert_eq!(files_with_extension(dir.path(), "msgpack").len(), 5);
    assert_eq!(files_with_extension(dir.path(), "json").len(), 5);
    for i in 0..5u64 {
        assert_eq!(mp.get::<Record>(&i).unwrap(), Some(record(i)));
        assert_eq!(js.get::<String>(&i).unwrap(), Some(format!("json {i}")));
    }
    assert!(mp.remove(&3u64).unwrap());
    assert_eq!(files_with_extension(dir.path(), "msgpack").len(), 4);
    assert_eq!(files_with_extension(dir.path(), "json").len(), 5);
    let js_cold = Bucket::builder(dir.path()).backend("json").open().unwrap();
    assert_eq!(
        js_cold.get::<String>(&3u64).unwrap().as_deref(),
        Some("json 3")
    );
    assert_eq!(mp.get::<Record>(&3u64).unwrap(), None);
}

#[test]
fn prune_deletes_only_its_own_backends_expired_files() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock_at("2030-01-01T00:00:00");
    let open = |name: &str| {
        Bucket::builder(dir.path())
            .backend(name)
            .lifetime(Duration::from_secs(60))
            .clock(clock.clone())
            .open()
            .unwrap()
    };
    let (mp, js) = (open("msgpack"), open("json"));
    for i in 0..3u64 {
        mp.set(&i, &record(i)).unwrap();
        js.set(&i, &record(i)).unwrap();
    }
    clock.advance(Duration::from_secs(120));
    mp.set("fresh", &record(9)).unwrap();
    let expired_bytes: u64 = (0..3u64)
        .map(|i| fs::metadata(mp.path_for_key(&i).unwrap()).unwrap().len())
        .sum();

    let pruned = mp.prune().unwrap();
    assert_eq!(pruned.files, 3);
    assert_eq!(pruned.bytes, expired_bytes);
    assert_eq!(files_with_extension(dir.path(), "msgpack").len(), 1);
    assert_eq!(files_with_extension(dir.path(), "json").len(), 3);
    assert_eq!(mp.get::<Record>("fresh").unwrap(), Some(record(9)));

    assert_eq!(js.prune().unwrap().files, 3);
    assert!(files_with_extension(dir.path(), "json").is_empty());
    assert_eq!(files_with_extension(dir.path(), "msgpack").len(), 1);
}

#[test]
fn prune_leaves_corrupt_msgpack_files_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock_at("2030-01-01T00:00:00");
    let b = Bucket::builder(dir.path())
        .lifetime(Duration::from_secs(1))
        .clock(clock.clone())
        .open()
        .unwrap();
    b.set("k", &record(1)).unwrap();
    let file = b.path_for_key("k").unwrap();
    let bytes = fs::read(&file).unwrap();
    fs::write(&file, &bytes[1..]).unwrap();
    b.unload("k");
    clock.advance(Duration::from_secs(10));
    assert_eq!(b.prune().unwrap().files, 0);
    assert!(file.exists());
    assert_eq!(b.get::<Record>("k").unwrap(), None);
    assert!(file.exists(), "a corrupt file is a miss and is kept");
}

#[test]
fn msgpack_options_are_taken_from_the_builder() {
    let dir = tempfile::tempdir().unwrap();
    let b = Bucket::builder(dir.path())
        .backend("msgpack")
        .backend_options(serde_json::json!({"use_single_float": true}))
        .open()
        .unwrap();
    b.set("f", &1.5f64).unwrap();
    let bytes = fs::read(b.path_for_key("f").unwrap()).unwrap();
    assert_eq!(bytes[7], 0xca, "float32 marker");
    assert_eq!(b.get::<f64>("f").unwrap(), Some(1.5));

    let err = Bucket::builder(dir.path())
        .backend("msgpack")
        .backend_options(serde_json::json!({"use_bin_typ": false}))
        .open()
        .expect_err("an unknown option is refused");
    assert!(err.to_string().contains("use_bin_typ"), "{err}");
}

#[test]
fn a_msgpack_value_of_the_wrong_type_is_a_miss() {
    let dir = tempfile::tempdir().unwrap();
    let b = Bucket::open(dir.path()).unwrap();
    b.set("n", &300u32).unwrap();
    let cold = Bucket::open(dir.path()).unwrap();
    assert_eq!(cold.get::<u8>("n").unwrap(), None);
    assert_eq!(cold.get::<u32>("n").unwrap(), Some(300));
}

fn python_fixture(dir: &str, name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/python-bucketcache-0.12.1/msgpack")
        .join(dir)
        .join(name);
    fs::read(path).unwrap()
}

#[test]
fn python_compatible_msgpack_files_are_identical_to_the_originals() {
    let dir = tempfile::tempdir().unwrap();
    // The fixtures were written at 2099-12-31T23:00:00.123456 with a lifetime of one hour.
    let b = Bucket::builder(dir.path())
        .backend("msgpack")
        .python_compatible()
        .lifetime(Duration::from_secs(3600))
        .clock(clock_at("2099-12-31T23:00:00.123456"))
        .open()
        .unwrap();
    b.set("my key", "this").unwrap();
    b.set("value:int_key_dict", &HashMap::from([(1i64, "a")]))
        .unwrap();
    b.set(&(1, "a"), &(1u8, 2.5f64, "three", None::<u8>))
        .unwrap();
    for name in [
        "99240b0ddbf75db541c8329b0f53a1f3.msgpack",
        "b7d0442cf2b27008452f0ac932e88fe0.msgpack",
        "81d5e30dbcc1a7df2f89cb7fdd54362e.msgpack",
    ] {
        let ours = fs::read(dir.path().join(name)).unwrap();
        assert_eq!(ours, python_fixture("lifetime", name), "{name}");
    }
}

#[test]
fn python_written_msgpack_files_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/python-bucketcache-0.12.1/msgpack/plain");
    for f in fs::read_dir(src).unwrap() {
        let f = f.unwrap();
        fs::copy(f.path(), dir.path().join(f.file_name())).unwrap();
    }
    let b = Bucket::builder(dir.path())
        .backend("msgpack")
        .python_compatible()
        .open()
        .unwrap();
    assert_eq!(b.get::<String>("my key").unwrap().as_deref(), Some("this"));
    assert_eq!(b.get::<i64>(&42).unwrap(), Some(42));
    let m: Option<HashMap<i64, String>> = b.get("value:int_key_dict").unwrap();
    assert_eq!(m, Some(HashMap::from([(1, "a".to_string())])));
    assert_eq!(b.get::<(u8, u8)>("value:tuple").unwrap(), Some((1, 2)));
    assert_eq!(b.get::<u64>("value:big_int").unwrap(), Some(1 << 40));
}

#[test]
fn msgpack_options_are_taken_from_a_toml_config() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "path = {:?}\nbackend = \"msgpack\"\n[backend_options.msgpack]\nuse_bin_type = false\n",
        dir.path().display().to_string()
    );
    let cfg = bucketcache::BucketConfig::from_toml_str(&text).unwrap();
    let b = Bucket::from_config(&cfg).unwrap();
    let long = "x".repeat(40);
    b.set("s", &long).unwrap();
    let bytes = fs::read(b.path_for_key("s").unwrap()).unwrap();
    // Without use_bin_type, a 40-byte string is raw16 (da), never str8 (d9).
    assert_eq!(bytes[7..10], [0xda, 0, 40]);
    assert_eq!(b.get::<String>("s").unwrap(), Some(long));

    let bad = text.replace("use_bin_type", "use_list");
    let cfg = bucketcache::BucketConfig::from_toml_str(&bad).unwrap();
    let err = Bucket::from_config(&cfg).expect_err("an unknown option is refused");
    assert!(err.to_string().contains("use_list"), "{err}");
}

#[test]
fn python2_written_msgpack_files_are_read() {
    // Python 2 wrote every string as bin; Python 3's BucketCache misses on these files, this
    // port reads them.
    let dir = tempfile::tempdir().unwrap();
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/python-bucketcache-0.12.1-py27/msgpack/lifetime");
    for f in fs::read_dir(src).unwrap() {
        let f = f.unwrap();
        fs::copy(f.path(), dir.path().join(f.file_name())).unwrap();
    }
    let b = Bucket::builder(dir.path())
        .backend("msgpack")
        .python_compatible()
        .open()
        .unwrap();
    let (v, exp) = b.get_with_expiration::<String>("my key").unwrap().unwrap();
    assert_eq!(v, "this");
    assert_eq!(
        exp.map(|e| e.to_string()).as_deref(),
        Some("2100-01-01 00:00:00.123456")
    );
    let m: Option<HashMap<i64, String>> = b.get("value:int_key_dict").unwrap();
    assert_eq!(m, Some(HashMap::from([(1, "a".to_string())])));
}
