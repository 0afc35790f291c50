//! File names: the keys Rust and Python hash to the same files, in the fixtures and live.

use std::fs;

use bucketcache::Bucket;
use serde::Serialize;
use serde_json::{json, Value};

use super::fixtures::{backend_of, entries, manifest, READ_NOW};
use super::live::{spread, LIVE_NOW};
use super::py::{int, Format, Py};
use super::{copy_dir, file_name, py_bucket, python, BACKENDS};

#[test]
fn python_compatible_keymaker_names_every_fixture_file() {
    let m = manifest("python-bucketcache-0.12.1");
    let tmp = tempfile::tempdir().unwrap();
    for backend in BACKENDS {
        let b = py_bucket(tmp.path(), backend, None, READ_NOW);
        for e in entries(&m).filter(|e| backend_of(e["backend"].as_str().unwrap()) == backend) {
            let (bytes, key) = &m.keys[e["key_id"].as_str().unwrap()];
            // The key as the repr says (tuple, dict in insertion order, ...) ...
            assert_eq!(file_name(&b, key), e["filename"], "{backend} key {bytes}");
            // ... and as the keymaker bytes parsed by serde_json.
            let parsed: Value = serde_json::from_str(bytes).unwrap();
            assert_eq!(
                file_name(&b, &parsed),
                e["filename"],
                "{backend} key {bytes}"
            );
        }
    }
}

#[test]
fn typed_rust_keys_name_the_same_files_as_python_keys() {
    #[derive(Serialize)]
    struct DictKey {
        b: i32,
        a: Vec<i32>,
    }
    let tmp = tempfile::tempdir().unwrap();
    let b = py_bucket(tmp.path(), "pickle", None, READ_NOW);
    let stem = |name: String| name.trim_end_matches(".pickle").to_owned();
    let digest = |k: &dyn erased_key::Key| stem(k.file(&b));
    assert_eq!(digest(&"my key"), "e8ca20595b872cbe121dea86174c7925");
    assert_eq!(digest(&42u8), "49c6f54218af01edc95c7bef573d3c03");
    assert_eq!(digest(&-7i64), "4b29ed93ddb9c4381b467f67b6946032");
    assert_eq!(digest(&(1, "a")), "53ef6150cb0d762accdbf3d21b714f39");
    assert_eq!(
        digest(&vec![Py::Int(1), Py::s("a")]),
        "53ef6150cb0d762accdbf3d21b714f39"
    );
    let dict = DictKey {
        b: 1,
        a: vec![1, 2],
    };
    assert_eq!(digest(&dict), "cdbb4e372742dbd2b032ddf18184ae74");
    assert_eq!(digest(&1.5f64), "671e72827e5a358deb5186a7bb2660fa");
    assert_eq!(digest(&true), "2171ca768506895c35c389c2726a673a");
    assert_eq!(digest(&None::<u8>), "2df76dbcfdb6bf26e7fbd14995282549");
    assert_eq!(digest(&""), "e6655996c42ee06356f71594edd4f932");
    assert_eq!(
        digest(&"unicode ключ ☃"),
        "98a8d3f909748629a9a749226df5ccd6"
    );
}

/// Object-safe key for the table above.
mod erased_key {
    use super::*;
    pub trait Key {
        fn file(&self, b: &Bucket) -> String;
    }
    impl<T: Serialize> Key for T {
        fn file(&self, b: &Bucket) -> String {
            b.path_for_key(self)
                .unwrap()
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned()
        }
    }
}

#[test]
fn decorator_fixture_files_are_named_by_their_keymaker_bytes() {
    let m = manifest("python-bucketcache-0.12.1");
    let tmp = tempfile::tempdir().unwrap();
    for d in m.json["decorator"].as_array().unwrap() {
        let backend = backend_of(d["backend"].as_str().unwrap());
        let dir = tmp.path().join(d["dir"].as_str().unwrap());
        copy_dir(&m.root.join(d["dir"].as_str().unwrap()), &dir);
        let b = py_bucket(&dir, backend, None, READ_NOW);
        let key: Value = serde_json::from_str(d["keymaker_bytes"].as_str().unwrap()).unwrap();
        let digest = b.hash_for_key(&key).unwrap();
        let name = d["filename"].as_str().unwrap();
        assert_eq!(format!("{digest}.{backend}"), name, "{}", d["call"]);
        let value = b
            .get::<Py>(&key)
            .unwrap()
            .unwrap_or_else(|| panic!("{} {}: a hit", backend, d["call"]));
        let want = Py::from_tagged(&d["result"]);
        assert_eq!(value.normalized(Format::Lists), want, "{}", d["call"]);
        // The same key and result written by Rust: the file the decorator wrote, byte for byte.
        let out = tmp.path().join("rust").join(d["dir"].as_str().unwrap());
        py_bucket(&out, backend, None, READ_NOW)
            .set(&key, &want)
            .unwrap();
        assert_eq!(
            fs::read(out.join(name)).unwrap(),
            fs::read(dir.join(name)).unwrap(),
            "{}",
            d["call"]
        );
    }
}

#[test]
fn python2_decorator_fixtures_have_the_python3_file_names() {
    let m = manifest("python-bucketcache-0.12.1-py27");
    let tmp = tempfile::tempdir().unwrap();
    for d in m.json["decorator"].as_array().unwrap() {
        let backend = backend_of(d["backend"].as_str().unwrap());
        let b = py_bucket(tmp.path(), backend, None, READ_NOW);
        let key: Value = serde_json::from_str(d["keymaker_bytes"].as_str().unwrap()).unwrap();
        let name = format!("{}.{backend}", b.hash_for_key(&key).unwrap());
        assert_eq!(name, d["filename"].as_str().unwrap(), "{}", d["call"]);
        assert!(m.root.join(d["dir"].as_str().unwrap()).join(&name).exists());
    }
}

#[test]
fn a_config_with_the_python_keymaker_shares_files_with_python() {
    let Some(py) = python("interop::a_config_with_the_python_keymaker_shares_files_with_python")
    else {
        return;
    };
    bucketcache::install_default_backends().unwrap();
    for backend in BACKENDS {
        let tmp = tempfile::tempdir().unwrap();
        let config = bucketcache::BucketConfig::from_json_str(
            &json!({"path": tmp.path(), "backend": backend, "keymaker": "python"}).to_string(),
        )
        .unwrap();
        let b = Bucket::from_config(&config).unwrap();
        let key = Py::dict(vec![("user", int(7)), ("ключ", Py::Float(1e16))]);
        b.set(&key, &Py::s("from a config")).unwrap();
        let r = &py.get(tmp.path(), backend, None, LIVE_NOW, &[&key])[0];
        assert_eq!(r["value"], "from a config", "{backend}: {r}");
    }
}

#[test]
fn json_native_keys_name_the_same_files_with_and_without_p5() {
    // P5 restores the pre-3.11 key bytes of non-JSON-native keys only; every key Rust can share
    // is JSON-native, so Python with or without P5 finds what Rust wrote.
    let Some(py) = python("interop::json_native_keys_name_the_same_files_with_and_without_p5")
    else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let items = spread("msgpack");
    let b = py_bucket(tmp.path(), "msgpack", None, LIVE_NOW);
    for (k, v) in &items {
        b.set(k, v).unwrap();
    }
    let keys: Vec<Value> = items.iter().map(|(k, _)| k.tagged()).collect();
    let job = json!({"op": "get", "dir": tmp.path(), "backend": "msgpack", "keys": keys});
    for p5 in [false, true] {
        for ((key, _), r) in items.iter().zip(py.run_with_p5(job.clone(), p5)) {
            assert_eq!(r["file"], file_name(&b, key), "P5={p5} {key:?}");
            assert_eq!(r["ok"], true, "P5={p5} {key:?}: {r}");
        }
    }
}
