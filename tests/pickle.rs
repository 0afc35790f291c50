//! The `pickle` backend through the facade: Python BucketCache's pickle files read and written
//! with `Bucket::builder(dir).backend("pickle").python_compatible()`.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bucketcache::{Bucket, ManualClock};
use serde_json::{json, Value};

use crate::common::{clock, fixture_copy};

const FIXTURES: &str = "python-bucketcache-0.12.1";

fn manifest() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(FIXTURES)
        .join("manifest.json");
    serde_json::from_str(&std::fs::read_to_string(path).expect("manifest")).expect("json")
}

/// `(key, entry)` for every pickle entry of `variant`; the key is the manifest's keymaker bytes
/// parsed back (a tuple key is a list, as the original hashes it).
fn entries(m: &Value, variant: &str) -> Vec<(Value, Value)> {
    let keys = m["keys"].as_array().expect("keys");
    m["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter(|e| e["backend"] == "PickleBackend" && e["dir"] == format!("pickle/{variant}"))
        .map(|e| {
            let k = keys
                .iter()
                .find(|k| k["id"] == e["key_id"])
                .expect("key of entry");
            let key: Value =
                serde_json::from_str(k["keymaker_bytes"].as_str().expect("bytes")).expect("key");
            (key, e.clone())
        })
        .collect()
}

fn pickle_bucket(dir: &Path, clock: &Arc<ManualClock>) -> Bucket {
    Bucket::builder(dir)
        .backend("pickle")
        .python_compatible()
        .clock(clock.clone())
        .open()
        .expect("pickle bucket")
}

#[test]
fn pickle_backend_is_registered_with_its_python_class_name() {
    bucketcache::install_default_backends().unwrap();
    let info = bucketcache::registry::backends()
        .into_iter()
        .find(|b| b.name == "pickle")
        .expect("pickle registered");
    assert_eq!(info.extension, "pickle");
    assert!(info.binary);
    assert_eq!(info.python_class_name.as_deref(), Some("PickleBackend"));
}

#[test]
fn python_pickle_files_read_as_python_read_them() {
    let m = manifest();
    for variant in ["plain", "lifetime", "lifetime0"] {
        let (_tmp, dir) = fixture_copy(&format!("{FIXTURES}/pickle/{variant}"));
        let b = pickle_bucket(&dir, &clock());
        let all = entries(&m, variant);
        assert_eq!(all.len(), 16);
        for (key, e) in all {
            let got: Option<Value> = b.get(&key).unwrap();
            assert_eq!(
                got.as_ref(),
                Some(&e["expected_on_read"]["value"]),
                "{variant}/{}",
                e["key_id"]
            );
            assert!(dir.join(e["filename"].as_str().unwrap()).exists());
        }
    }
}

#[test]
fn expired_python_pickles_are_misses_and_deleted() {
    let m = manifest();
    let (_tmp, dir) = fixture_copy(&format!("{FIXTURES}/pickle/expired"));
    let b = pickle_bucket(&dir, &clock());
    for (key, e) in entries(&m, "expired") {
        assert_eq!(b.get::<Value>(&key).unwrap(), None, "{}", e["key_id"]);
        assert!(!dir.join(e["filename"].as_str().unwrap()).exists());
    }
}

#[test]
fn corrupt_python_pickles_are_misses_and_kept() {
    let m = manifest();
    let (_tmp, dir) = fixture_copy(&format!("{FIXTURES}/pickle/corrupt"));
    let b = pickle_bucket(&dir, &clock());
    for (key, e) in entries(&m, "corrupt") {
        assert_eq!(b.get::<Value>(&key).unwrap(), None, "{}", e["key_id"]);
        assert!(dir.join(e["filename"].as_str().unwrap()).exists());
    }
}

#[test]
fn python_types_read_into_rust_types() {
    let (_tmp, dir) = fixture_copy(&format!("{FIXTURES}/pickle/plain"));
    let b = pickle_bucket(&dir, &clock());
    let t: Option<(u8, u8)> = b.get("value:tuple").unwrap();
    assert_eq!(t, Some((1, 2)));
    let d: Option<std::collections::BTreeMap<i64, String>> = b.get("value:int_key_dict").unwrap();
    assert_eq!(d.unwrap()[&1], "a");
    let big: Option<u64> = b.get("value:big_int").unwrap();
    assert_eq!(big, Some(1 << 40));
}

#[test]
fn rust_writes_the_same_bytes_as_the_original() {
    let m = manifest();
    // The original's writer ran with utcnow = 2099-12-31T23:00:00.123456 and a 1 h lifetime.
    let writing = Arc::new(ManualClock::new(
        "2099-12-31T23:00:00.123456".parse().expect("date"),
    ));
    for (variant, lifetime) in [
        ("plain", None),
        ("lifetime", Some(Duration::from_secs(3600))),
    ] {
        let tmp = tempfile::tempdir().unwrap();
        let mut builder = Bucket::builder(tmp.path())
            .backend("pickle")
            .python_compatible()
            .clock(writing.clone());
        if let Some(l) = lifetime {
            builder = builder.lifetime(l);
        }
        let b = builder.open().unwrap();
        b.set("my key", "this").unwrap();
        b.set("value:tuple", &(1u8, 2u8)).unwrap();
        b.set(
            "value:int_key_dict",
            &std::collections::BTreeMap::from([(1i64, "a")]),
        )
        .unwrap();
        b.set("value:big_int", &1_099_511_627_776u64).unwrap();
        b.set(
            &json!({"b": 1, "a": [1, 2]}),
            &json!({"x": 1, "y": [true, false], "z": null}),
        )
        .unwrap();
        let mut compared = 0;
        for (key, e) in entries(&m, variant) {
            let ours = b.path_for_key(&key).unwrap();
            if !ours.exists() {
                continue;
            }
            assert_eq!(
                ours.file_name().unwrap().to_str().unwrap(),
                e["filename"].as_str().unwrap()
            );
            let theirs = Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures")
                .join(FIXTURES)
                .join(e["dir"].as_str().unwrap())
                .join(e["filename"].as_str().unwrap());
            assert_eq!(
                std::fs::read(&ours).unwrap(),
                std::fs::read(&theirs).unwrap(),
                "{variant}/{}",
                e["key_id"]
            );
            compared += 1;
        }
        assert_eq!(compared, 5, "{variant}");
    }
}

#[test]
fn a_pickle_calling_os_system_is_a_miss_and_runs_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let b = pickle_bucket(tmp.path(), &clock());
    let path = b.path_for_key("evil").unwrap();
    let marker = tmp.path().join("pwned");
    let cmd = format!("touch {}", marker.display());
    let mut evil = b"\x80\x02}q\x00(X\x05\x00\x00\x00valueq\x01cos\nsystem\nX".to_vec();
    evil.extend_from_slice(&(cmd.len() as u32).to_le_bytes());
    evil.extend_from_slice(cmd.as_bytes());
    evil.extend_from_slice(b"\x85RX\x0f\x00\x00\x00expiration_dateNu.");
    std::fs::write(&path, evil).unwrap();
    assert_eq!(b.get::<Value>("evil").unwrap(), None);
    assert!(
        path.exists(),
        "an undecodable file is kept, as the original keeps it"
    );
    assert!(!marker.exists());
}

#[test]
fn protocol_option_is_honoured_and_checked() {
    let tmp = tempfile::tempdir().unwrap();
    let b = Bucket::builder(tmp.path())
        .backend("pickle")
        .backend_options(json!({"protocol": 3}))
        .open()
        .unwrap();
    b.set("k", &(1, "two", vec![3.5])).unwrap();
    let bytes = std::fs::read(b.path_for_key("k").unwrap()).unwrap();
    assert_eq!(&bytes[..2], b"\x80\x03");
    let back: Option<(i32, String, Vec<f64>)> = b.get("k").unwrap();
    assert_eq!(back, Some((1, "two".into(), vec![3.5])));

    let err = Bucket::builder(tmp.path())
        .backend("pickle")
        .backend_options(json!({"protocol": 5}))
        .open()
        .unwrap_err();
    assert!(err.to_string().contains("protocol 5"), "{err}");
}

#[test]
fn a_rust_bucket_round_trips_values_with_lifetime() {
    let tmp = tempfile::tempdir().unwrap();
    let c = clock();
    let b = Bucket::builder(tmp.path())
        .backend("pickle")
        .lifetime(Duration::from_secs(60))
        .clock(c.clone())
        .open()
        .unwrap();
    let value = json!({"name": "Ada", "tags": ["a", "ö"], "n": -12345678901i64, "f": 1e-5});
    b.set(&("user", 7), &value).unwrap();
    let (got, exp) = b
        .get_with_expiration::<Value>(&("user", 7))
        .unwrap()
        .unwrap();
    assert_eq!(got, value);
    assert!(exp.is_some());
    c.advance(Duration::from_secs(61));
    let fresh = Bucket::builder(tmp.path())
        .backend("pickle")
        .lifetime(Duration::from_secs(60))
        .clock(c.clone())
        .open()
        .unwrap();
    assert_eq!(fresh.get::<Value>(&("user", 7)).unwrap(), None);
}
