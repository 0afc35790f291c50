//! The container and lifetime behaviour of `Bucket`: a port of the original's
//! `test_bucketcache.py` (rows marked Y/A) plus the original's bugs, fixed on purpose.

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::sync::Arc;
use std::time::Duration;

use bucketcache::{Bucket, BucketConfig, Error, Pruned};
use serde::{Deserialize, Serialize};

use crate::common::{builder, clock, files_in, BACKENDS};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct User {
    id: u64,
    name: String,
    email: String,
    tags: Vec<String>,
    score: f64,
    active: bool,
    manager: Option<u64>,
}

fn user(id: u64) -> User {
    User {
        id,
        name: format!("user number {id}"),
        email: format!("user{id}@example.com"),
        tags: vec!["admin".into(), "ops".into()],
        score: 0.75,
        active: true,
        manager: None,
    }
}

#[test]
fn bucket_is_send_sync_and_clone() {
    fn assert_traits<T: Send + Sync + Clone + 'static>() {}
    assert_traits::<Bucket>();
}

#[test]
fn set_then_get_returns_the_value_for_every_backend() {
    for backend in BACKENDS {
        let dir = tempfile::tempdir().unwrap();
        let b = builder(dir.path(), backend, &clock()).open().unwrap();
        b.set("my key", &user(1)).unwrap();
        assert_eq!(b.get::<User>("my key").unwrap(), Some(user(1)), "{backend}");
        b.unload("my key");
        assert_eq!(b.get::<User>("my key").unwrap(), Some(user(1)), "{backend}");
        b.set("my key", &user(2)).unwrap();
        assert_eq!(b.get::<User>("my key").unwrap(), Some(user(2)), "{backend}");
        let fresh = builder(dir.path(), backend, &clock()).open().unwrap();
        assert_eq!(
            fresh.get::<User>("my key").unwrap(),
            Some(user(2)),
            "{backend}"
        );
    }
}

#[test]
fn unload_drops_the_in_memory_copy_and_keeps_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let b = builder(dir.path(), "json", &clock()).open().unwrap();
    b.set("k", &1).unwrap();
    assert!(b.is_loaded("k"));
    b.unload("k");
    assert!(!b.is_loaded("k"));
    assert_eq!(files_in(dir.path()).len(), 1);
    b.unload("never set"); // a silent no-op, as the original
}

#[test]
fn missing_key_is_a_miss_and_remove_makes_one() {
    for backend in BACKENDS {
        let dir = tempfile::tempdir().unwrap();
        let b = builder(dir.path(), backend, &clock()).open().unwrap();
        assert_eq!(b.get::<i32>("nothing").unwrap(), None);
        assert!(!b.contains("nothing").unwrap());
        assert!(!b.remove("nothing").unwrap());
        b.set("k", &5).unwrap();
        assert!(b.remove("k").unwrap());
        assert_eq!(b.get::<i32>("k").unwrap(), None);
        assert!(files_in(dir.path()).is_empty(), "{backend}");
    }
}

#[derive(Serialize)]
struct ComplexKey {
    zone: &'static str,
    at: (u16, u8, u8),
    ids: Vec<u32>,
}

#[test]
fn complex_keys_work_also_after_unload() {
    let dir = tempfile::tempdir().unwrap();
    let b = builder(dir.path(), "msgpack", &clock()).open().unwrap();
    let key = ComplexKey {
        zone: "eu",
        at: (2020, 1, 2),
        ids: vec![3, 1, 2],
    };
    b.set(&key, &"complex").unwrap();
    b.unload(&key);
    assert_eq!(b.get::<String>(&key).unwrap().as_deref(), Some("complex"));
    let long_missing: Vec<u32> = (0..10_000).collect();
    assert_eq!(b.get::<String>(&long_missing).unwrap(), None);
}

#[test]
fn a_struct_key_and_a_map_with_its_fields_name_the_same_file() {
    #[derive(Serialize)]
    struct Point {
        b: i32,
        a: i32,
    }
    let dir = tempfile::tempdir().unwrap();
    let b = builder(dir.path(), "json", &clock()).open().unwrap();
    let as_map: HashMap<&str, i32> = HashMap::from([("a", 1), ("b", 2)]);
    assert_eq!(
        b.hash_for_key(&Point { b: 2, a: 1 }).unwrap(),
        b.hash_for_key(&as_map).unwrap()
    );
    assert_eq!(
        b.hash_for_key(&(1, "a")).unwrap(),
        b.hash_for_key(&serde_json::json!([1, "a"])).unwrap()
    );
}

#[test]
fn complex_values_round_trip() {
    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    enum Shape {
        Circle { r: f64 },
        Square(u32),
        Empty,
    }
    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Value {
        shapes: Vec<Shape>,
        index: BTreeMap<String, Vec<Option<i64>>>,
        nested: Vec<Vec<(u8, String)>>,
        unicode: String,
        big: u64,
        negative: i64,
    }
    let value = Value {
        shapes: vec![Shape::Circle { r: 1.5 }, Shape::Square(3), Shape::Empty],
        index: BTreeMap::from([("a".into(), vec![Some(1), None, Some(-3)])]),
        nested: vec![vec![(1, "x".into())], vec![]],
        unicode: "värde ☃ 😀".into(),
        big: u64::MAX,
        negative: i64::MIN,
    };
    for backend in BACKENDS {
        let dir = tempfile::tempdir().unwrap();
        let b = builder(dir.path(), backend, &clock()).open().unwrap();
        b.set("v", &value).unwrap();
        let fresh = builder(dir.path(), backend, &clock()).open().unwrap();
        assert_eq!(
            fresh.get::<Value>("v").unwrap().as_ref(),
            Some(&value),
            "{backend}"
        );
    }
}

#[test]
fn a_directory_at_an_entrys_path_is_a_miss_and_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let b = builder(dir.path(), "json", &clock()).open().unwrap();
    // Only regular files are entries: a directory named like one is neither read nor deleted.
    let path = b.path_for_key("k").unwrap();
    fs::create_dir(&path).unwrap();
    assert_eq!(b.get::<i32>("k").unwrap(), None);
    assert!(!b.contains("k").unwrap());
    assert!(!b.remove("k").unwrap());
    b.prune().unwrap();
    assert!(path.is_dir());
    // Writing the key fails (a rename cannot replace a directory) and says where.
    match b.set("k", &1) {
        Err(Error::Io { path: p, .. }) => assert_eq!(p, path),
        other => panic!("expected an I/O error, got {other:?}"),
    }
}

#[test]
fn a_file_missing_its_first_byte_is_a_miss_and_is_kept() {
    for backend in BACKENDS {
        let dir = tempfile::tempdir().unwrap();
        let b = builder(dir.path(), backend, &clock()).open().unwrap();
        b.set("k", &"some value").unwrap();
        let path = b.path_for_key("k").unwrap();
        let bytes = fs::read(&path).unwrap();
        fs::write(&path, &bytes[1..]).unwrap();
        let fresh = builder(dir.path(), backend, &clock()).open().unwrap();
        assert_eq!(fresh.get::<String>("k").unwrap(), None, "{backend}");
        assert!(!fresh.contains("k").unwrap());
        assert!(path.exists(), "{backend}: a corrupt file is left in place");
    }
}

#[test]
fn truncated_and_foreign_files_are_misses() {
    for backend in BACKENDS {
        let dir = tempfile::tempdir().unwrap();
        let b = builder(dir.path(), backend, &clock()).open().unwrap();
        b.set("k", &vec![1, 2, 3]).unwrap();
        let path = b.path_for_key("k").unwrap();
        let bytes = fs::read(&path).unwrap();
        for cut in 0..bytes.len() {
            fs::write(&path, &bytes[..cut]).unwrap();
            let fresh = builder(dir.path(), backend, &clock()).open().unwrap();
            assert_eq!(
                fresh.get::<Vec<i32>>("k").unwrap(),
                None,
                "{backend} cut at {cut}"
            );
        }
        fs::write(&path, b"\x89PNG\r\n\x1a\n not a cache file").unwrap();
        let fresh = builder(dir.path(), backend, &clock()).open().unwrap();
        assert_eq!(fresh.get::<Vec<i32>>("k").unwrap(), None);
    }
}

#[test]
fn a_value_of_another_type_is_a_miss_and_stays_readable_as_its_type() {
    let dir = tempfile::tempdir().unwrap();
    let b = builder(dir.path(), "msgpack", &clock()).open().unwrap();
    b.set("k", &"text").unwrap();
    assert_eq!(b.get::<u32>("k").unwrap(), None);
    assert_eq!(b.get::<String>("k").unwrap().as_deref(), Some("text"));
}

#[test]
fn expired_key_is_a_miss_and_its_file_is_deleted() {
    for backend in BACKENDS {
        let dir = tempfile::tempdir().unwrap();
        let clock = clock();
        let b = builder(dir.path(), backend, &clock)
            .seconds(2)
            .open()
            .unwrap();
        b.set("k", &1).unwrap();
        clock.advance(Duration::from_millis(1999));
        assert_eq!(b.get::<i32>("k").unwrap(), Some(1));
        clock.advance(Duration::from_millis(2));
        assert_eq!(b.get::<i32>("k").unwrap(), None, "{backend}");
        assert!(!b.contains("k").unwrap());
        assert!(!b.remove("k").unwrap());
        assert!(files_in(dir.path()).is_empty());
    }
}

#[test]
fn expiry_is_strictly_after_the_expiration_date() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let b = builder(dir.path(), "json", &clock)
        .seconds(1)
        .open()
        .unwrap();
    b.set("k", &1).unwrap();
    clock.advance(Duration::from_secs(1)); // now == expiration: still live (`now > exp` expires)
    assert_eq!(b.get::<i32>("k").unwrap(), Some(1));
}

#[test]
fn a_reader_with_a_lifetime_expires_entries_written_without_one() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let forever = builder(dir.path(), "json", &clock).open().unwrap();
    forever.set("k", &1).unwrap();
    let short = builder(dir.path(), "json", &clock)
        .seconds(2)
        .open()
        .unwrap();
    assert_eq!(short.get::<i32>("k").unwrap(), None);
    assert!(files_in(dir.path()).is_empty());
}

#[test]
fn a_reader_with_a_shorter_lifetime_expires_longer_lived_entries() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let long = builder(dir.path(), "msgpack", &clock)
        .seconds(10)
        .open()
        .unwrap();
    long.set("k", &1).unwrap();
    let short = builder(dir.path(), "msgpack", &clock)
        .seconds(2)
        .open()
        .unwrap();
    assert_eq!(short.get::<i32>("k").unwrap(), None);
    // Written short, read long (or without lifetime): used, and the stored expiration holds.
    short.set("k", &2).unwrap();
    let long = builder(dir.path(), "msgpack", &clock)
        .seconds(10)
        .open()
        .unwrap();
    let none = builder(dir.path(), "msgpack", &clock).open().unwrap();
    assert_eq!(long.get::<i32>("k").unwrap(), Some(2));
    assert_eq!(none.get::<i32>("k").unwrap(), Some(2));
    clock.advance(Duration::from_secs(3));
    let none = builder(dir.path(), "msgpack", &clock).open().unwrap();
    assert_eq!(none.get::<i32>("k").unwrap(), None);
}

#[test]
fn an_entry_reloaded_from_file_before_expiry_is_readable() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let b = builder(dir.path(), "json", &clock)
        .seconds(2)
        .open()
        .unwrap();
    b.set("k", &"v").unwrap();
    clock.advance(Duration::from_secs(1));
    let fresh = builder(dir.path(), "json", &clock)
        .seconds(2)
        .open()
        .unwrap();
    assert_eq!(fresh.get::<String>("k").unwrap().as_deref(), Some("v"));
}

#[test]
fn a_set_refreshes_the_expiration() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let b = builder(dir.path(), "json", &clock)
        .seconds(2)
        .open()
        .unwrap();
    b.set("k", &1).unwrap();
    let (_, first) = b.get_with_expiration::<i32>("k").unwrap().unwrap();
    clock.advance(Duration::from_millis(1500));
    b.set("k", &1).unwrap();
    let (_, second) = b.get_with_expiration::<i32>("k").unwrap().unwrap();
    assert_eq!(
        second.unwrap() - first.unwrap(),
        chrono::TimeDelta::milliseconds(1500)
    );
    assert_eq!(
        second.unwrap(),
        clock_now(&clock) + chrono::TimeDelta::seconds(2)
    );
    clock.advance(Duration::from_millis(1500));
    assert_eq!(b.get::<i32>("k").unwrap(), Some(1));
    clock.advance(Duration::from_millis(600));
    assert_eq!(b.get::<i32>("k").unwrap(), None);
}

fn clock_now(clock: &bucketcache::ManualClock) -> bucketcache::Expiration {
    use bucketcache::Clock;
    clock.now()
}

#[test]
fn lifetime_units_add_up_and_zero_means_none() {
    let dir = tempfile::tempdir().unwrap();
    let c = clock();
    let b = builder(dir.path(), "json", &c)
        .weeks(1)
        .days(1)
        .hours(2)
        .minutes(3)
        .seconds(4)
        .milliseconds(5)
        .microseconds(6)
        .open()
        .unwrap();
    let expected = 8 * 86_400 + 2 * 3_600 + 3 * 60 + 4;
    assert_eq!(
        b.lifetime(),
        Some(Duration::from_secs(expected) + Duration::from_micros(5_006))
    );
    let zero = builder(dir.path(), "json", &c).seconds(0).open().unwrap();
    assert_eq!(zero.lifetime(), None);
    let zero = builder(dir.path(), "json", &c)
        .lifetime(Duration::ZERO)
        .open()
        .unwrap();
    assert_eq!(zero.lifetime(), None);
}

#[test]
fn a_lifetime_and_units_together_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let err = builder(dir.path(), "json", &clock())
        .lifetime(Duration::from_secs(5))
        .hours(1)
        .open()
        .unwrap_err();
    assert!(matches!(err, Error::InvalidLifetime(_)), "{err}");
}

#[test]
fn an_unknown_backend_name_lists_the_known_ones() {
    let dir = tempfile::tempdir().unwrap();
    let err = Bucket::builder(dir.path())
        .backend("yaml")
        .open()
        .unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, Error::UnknownBackend { .. }), "{msg}");
    assert!(
        msg.contains("\"yaml\"") && msg.contains("json") && msg.contains("msgpack"),
        "{msg}"
    );
    let err = Bucket::builder(dir.path())
        .keymaker("sha3")
        .open()
        .unwrap_err();
    assert!(err.to_string().contains("default"), "{err}");
}

#[test]
fn unknown_backend_options_are_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    for backend in BACKENDS {
        let err = Bucket::builder(dir.path())
            .backend(backend)
            .backend_options(serde_json::json!({"no_such_option": 1}))
            .open()
            .unwrap_err();
        assert!(err.to_string().contains("no_such_option"), "{err}");
    }
}

#[test]
fn the_default_backend_is_msgpack() {
    let dir = tempfile::tempdir().unwrap();
    let b = Bucket::open(dir.path().join("a/b/c")).unwrap();
    assert_eq!(b.backend().name(), "msgpack");
    b.set("k", &1).unwrap();
    assert!(files_in(b.path())[0].ends_with(".msgpack"));
}

#[test]
fn open_creates_the_directory_recursively_and_refuses_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let deep = dir.path().join("x/y/z");
    let b = Bucket::open(&deep).unwrap();
    assert!(deep.is_dir());
    assert_eq!(b.path(), fs::canonicalize(&deep).unwrap());
    let file = dir.path().join("plain-file");
    fs::write(&file, b"").unwrap();
    assert!(matches!(Bucket::open(&file), Err(Error::Directory { .. })));
}

#[test]
fn several_backends_share_one_directory() {
    let dir = tempfile::tempdir().unwrap();
    let c = clock();
    let j = builder(dir.path(), "json", &c).open().unwrap();
    let m = builder(dir.path(), "msgpack", &c).open().unwrap();
    j.set("k", &"json").unwrap();
    m.set("k", &"msgpack").unwrap();
    assert_eq!(j.get::<String>("k").unwrap().as_deref(), Some("json"));
    assert_eq!(m.get::<String>("k").unwrap().as_deref(), Some("msgpack"));
    assert_eq!(files_in(dir.path()).len(), 2);
}

#[test]
fn prune_deletes_only_this_backends_expired_files_and_reports_them() {
    let dir = tempfile::tempdir().unwrap();
    let c = clock();
    let j = builder(dir.path(), "json", &c).seconds(10).open().unwrap();
    let m = builder(dir.path(), "msgpack", &c)
        .seconds(10)
        .open()
        .unwrap();
    for i in 0..5 {
        j.set(&i, &i).unwrap();
        m.set(&i, &i).unwrap();
    }
    fs::write(dir.path().join("README.txt"), b"not a cache file").unwrap();
    fs::write(dir.path().join("garbage.json"), b"{not json").unwrap();
    let sizes: u64 = (0..5)
        .map(|i| fs::metadata(j.path_for_key(&i).unwrap()).unwrap().len())
        .sum();
    let none = j.prune().unwrap();
    assert_eq!((none.files, none.bytes, none.skipped), (0, 0, 0));
    c.advance(Duration::from_secs(11));
    let fresh = builder(dir.path(), "json", &c).seconds(10).open().unwrap();
    let pruned: Pruned = fresh.prune().unwrap();
    assert_eq!((pruned.files, pruned.bytes, pruned.skipped), (5, sizes, 0));
    let left = files_in(dir.path());
    assert_eq!(left.iter().filter(|f| f.ends_with(".msgpack")).count(), 5);
    assert!(left.contains(&"README.txt".to_string()));
    assert!(left.contains(&"garbage.json".to_string()));
}

#[test]
fn prune_with_a_lifetime_deletes_entries_that_outlive_it() {
    let dir = tempfile::tempdir().unwrap();
    let c = clock();
    builder(dir.path(), "json", &c)
        .open()
        .unwrap()
        .set("forever", &1)
        .unwrap();
    builder(dir.path(), "json", &c)
        .hours(5)
        .open()
        .unwrap()
        .set("long", &1)
        .unwrap();
    let b = builder(dir.path(), "json", &c).hours(1).open().unwrap();
    b.set("short", &1).unwrap();
    assert_eq!(b.prune().unwrap().files, 2);
    assert_eq!(b.get::<i32>("short").unwrap(), Some(1));
}

#[test]
fn prune_drops_the_memory_copies_of_what_it_removes_and_keeps_the_live_ones() {
    let dir = tempfile::tempdir().unwrap();
    let c = clock();
    let b = builder(dir.path(), "msgpack", &c).hours(1).open().unwrap();
    b.set("soon", &1).unwrap();
    c.advance(Duration::from_secs(2 * 3600));
    b.set("forever", &2).unwrap();
    assert!(b.is_loaded("soon") && b.is_loaded("forever"));
    let pruned = b.prune().unwrap();
    assert_eq!((pruned.files, pruned.skipped), (1, 0));
    assert!(
        !b.is_loaded("soon"),
        "a pruned entry's copy must go with its file"
    );
    assert!(
        b.is_loaded("forever"),
        "prune must not evict live entries from memory"
    );
    assert_eq!(b.get::<i32>("soon").unwrap(), None);
    assert_eq!(b.get::<i32>("forever").unwrap(), Some(2));
}

#[test]
fn writes_are_atomic_and_leave_no_temporary_files() {
    let dir = tempfile::tempdir().unwrap();
    let b = builder(dir.path(), "msgpack", &clock()).open().unwrap();
    for i in 0..50 {
        b.set("k", &vec![i; 1000]).unwrap();
    }
    assert_eq!(files_in(dir.path()).len(), 1);
}

/// A value whose serialization fails halfway, as an unserializable Python object did.
struct Unserializable;
impl Serialize for Unserializable {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{Error as _, SerializeSeq};
        let mut seq = s.serialize_seq(Some(2))?;
        seq.serialize_element(&1)?;
        Err(S::Error::custom("this value cannot be serialized"))
    }
}

#[test]
fn a_failed_write_leaves_file_and_memory_as_they_were() {
    for backend in BACKENDS {
        let dir = tempfile::tempdir().unwrap();
        let b = builder(dir.path(), backend, &clock()).open().unwrap();
        b.set("k", &"old").unwrap();
        let before = fs::read(b.path_for_key("k").unwrap()).unwrap();
        let err = b.set("k", &Unserializable).unwrap_err();
        assert!(matches!(err, Error::Encode { .. }), "{err}");
        assert_eq!(b.get::<String>("k").unwrap().as_deref(), Some("old"));
        assert_eq!(fs::read(b.path_for_key("k").unwrap()).unwrap(), before);
        assert_eq!(
            files_in(dir.path()).len(),
            1,
            "{backend}: no temp file left"
        );
    }
}

#[test]
fn removing_a_key_only_memory_knows_is_not_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let b = builder(dir.path(), "json", &clock()).open().unwrap();
    b.set("k", &1).unwrap();
    fs::remove_file(b.path_for_key("k").unwrap()).unwrap(); // deleted behind our back
    assert!(b.remove("k").unwrap());
    assert_eq!(b.get::<i32>("k").unwrap(), None);
}

#[test]
fn an_expired_entry_whose_file_is_gone_is_a_quiet_miss() {
    let dir = tempfile::tempdir().unwrap();
    let c = clock();
    let b = builder(dir.path(), "json", &c).seconds(1).open().unwrap();
    b.set("k", &1).unwrap();
    fs::remove_file(b.path_for_key("k").unwrap()).unwrap();
    c.advance(Duration::from_secs(2));
    assert_eq!(b.get::<i32>("k").unwrap(), None);
}

#[test]
fn tz_aware_or_malformed_expirations_are_misses_not_crashes() {
    let dir = tempfile::tempdir().unwrap();
    let b = builder(dir.path(), "json", &clock()).open().unwrap();
    for expiration in [
        "\"2100-01-01T00:00:00Z\"",
        "\"2100-01-01T00:00:00+02:00\"",
        "\"next tuesday\"",
        "12",
        "[]",
    ] {
        let path = b.path_for_key("k").unwrap();
        fs::write(
            &path,
            format!("{{\"value\": 1, \"expiration_date\": {expiration}}}"),
        )
        .unwrap();
        b.unload("k");
        assert_eq!(b.get::<i32>("k").unwrap(), None, "{expiration}");
        assert!(path.exists());
    }
}

#[test]
fn a_bad_backend_instance_is_refused_naming_the_rule() {
    #[derive(Debug)]
    struct DottedExtension;
    impl bucketcache::Backend for DottedExtension {
        fn name(&self) -> &str {
            "dotted"
        }
        fn file_extension(&self) -> &str {
            ".json"
        }
        fn is_binary(&self) -> bool {
            false
        }
        fn dump(
            &self,
            _: &dyn erased_serde::Serialize,
            _: Option<bucketcache::Expiration>,
            _: &mut Vec<u8>,
        ) -> Result<Option<bucketcache::ValueLocation>, bucketcache::BackendError> {
            Ok(None)
        }
        fn decode(&self, _: &[u8]) -> Result<bucketcache::Decoded, bucketcache::BackendError> {
            Err(bucketcache::BackendError::decode("never"))
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let err = Bucket::builder(dir.path())
        .backend_instance(Arc::new(DottedExtension))
        .open()
        .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("\"dotted\"") && msg.contains("file extension"),
        "{msg}"
    );
}

#[test]
fn a_bucket_config_in_toml_opens_the_described_bucket() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("cache.toml");
    fs::write(
        &file,
        "path = \"data\"\nbackend = \"json\"\nlifetime = \"1h30m\"\n[backend_options.json]\nindent = 2\n",
    )
    .unwrap();
    let cfg = BucketConfig::from_file(&file).unwrap();
    let b = Bucket::from_config(&cfg).unwrap();
    assert_eq!(b.lifetime(), Some(Duration::from_secs(5400)));
    assert_eq!(b.path(), fs::canonicalize(dir.path().join("data")).unwrap());
    b.set("k", &[1, 2]).unwrap();
    let text = fs::read_to_string(b.path_for_key("k").unwrap()).unwrap();
    assert!(text.contains('\n'), "indent = 2 was applied: {text}");
}

#[test]
fn a_bucket_config_in_json_accepts_seconds_and_refuses_unknown_fields() {
    let dir = tempfile::tempdir().unwrap();
    let text = serde_json::json!({"path": dir.path(), "backend": "msgpack", "lifetime": 90});
    let cfg = BucketConfig::from_json_str(&text.to_string()).unwrap();
    assert_eq!(
        Bucket::from_config(&cfg).unwrap().lifetime(),
        Some(Duration::from_secs(90))
    );
    let err = BucketConfig::from_json_str(r#"{"path": "x", "backnd": "json"}"#).unwrap_err();
    assert!(err.to_string().contains("backnd"), "{err}");
    let err = BucketConfig::from_toml_str("path = \"x\"\nlifetime = \"soon\"").unwrap_err();
    assert!(err.to_string().contains("soon"), "{err}");
}

#[test]
fn eight_threads_share_one_bucket() {
    let dir = tempfile::tempdir().unwrap();
    let b = builder(dir.path(), "msgpack", &clock()).open().unwrap();
    std::thread::scope(|s| {
        for t in 0..8u64 {
            let b = &b;
            s.spawn(move || {
                for i in 0..200u64 {
                    let key = ("k", i % 16);
                    b.set(&key, &(i % 16, t)).unwrap();
                    if let Some((k, _writer)) = b.get::<(u64, u64)>(&key).unwrap() {
                        assert_eq!(k, i % 16, "a value written for another key");
                    }
                }
            });
        }
    });
    assert_eq!(files_in(dir.path()).len(), 16);
}

/// Tracing caches per call site whether anyone listens, process-wide: with tests running in
/// parallel threads, a scoped subscriber can miss events. So this test runs itself again as a
/// child process where it is alone.
#[test]
fn keys_are_logged_abbreviated_unless_full_keys_are_asked_for() {
    const CHILD: &str = "BUCKETCACHE_LOGGING_CHILD";
    if std::env::var_os(CHILD).is_none() {
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "bucket::keys_are_logged_abbreviated_unless_full_keys_are_asked_for",
                "--test-threads=1",
            ])
            .env(CHILD, "1")
            .output()
            .unwrap();
        assert!(
            out.status.success() && String::from_utf8_lossy(&out.stdout).contains("1 passed"),
            "{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        return;
    }
    use std::io::Write;
    use std::sync::Mutex;
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);
    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let long_key = "x".repeat(200);
    for full in [false, true] {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            let dir = tempfile::tempdir().unwrap();
            let b = builder(dir.path(), "json", &clock())
                .log_full_keys(full)
                .open()
                .unwrap();
            b.set(&long_key, &1).unwrap();
        });
        let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        assert!(log.contains("key hashed"), "{log}");
        assert_eq!(log.contains(&long_key), full, "{log}");
        if !full {
            assert!(log.contains(&format!("\"{}...", "x".repeat(76))), "{log}");
        }
    }
}
