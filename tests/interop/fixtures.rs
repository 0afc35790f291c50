//! Fixture tests: files written by the original (no Python needed).

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bucketcache::time::format_expiration;
use serde_json::Value;

use super::py::{hex, Format, Py};
use super::repr::parse_repr;
use super::{copy_dir, dir_contents, fixtures, py_bucket};

pub(super) struct Manifest {
    pub(super) root: PathBuf,
    pub(super) json: Value,
    /// key id -> (keymaker bytes, the key itself)
    pub(super) keys: BTreeMap<String, (String, Py)>,
}

pub(super) fn manifest(name: &str) -> Manifest {
    let root = fixtures(name);
    let text = fs::read_to_string(root.join("manifest.json")).expect("manifest.json");
    let json: Value = serde_json::from_str(&text).expect("manifest is JSON");
    let keys = json["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .map(|k| {
            let id = k["id"].as_str().unwrap().to_owned();
            let bytes = k["keymaker_bytes"].as_str().unwrap().to_owned();
            (id, (bytes, parse_repr(k["key_repr"].as_str().unwrap())))
        })
        .collect();
    Manifest { root, json, keys }
}

pub(super) fn backend_of(python_class: &str) -> &'static str {
    match python_class {
        "PickleBackend" => "pickle",
        "JSONBackend" => "json",
        "MessagePackBackend" => "msgpack",
        other => panic!("unknown backend {other}"),
    }
}

pub(super) fn entries(m: &Manifest) -> impl Iterator<Item = &Value> {
    m.json["entries"].as_array().expect("entries").iter()
}

fn variant(entry: &Value) -> &str {
    entry["dir"].as_str().unwrap().split('/').nth(1).unwrap()
}

/// The time and lifetime the generator used for a variant (from the manifest's generator block).
fn writer_clock(m: &Manifest, variant: &str) -> (Option<Duration>, String) {
    match m.json["generator"]["fixed_clocks_utcnow"][variant].as_str() {
        Some(now) => (Some(Duration::from_secs(3600)), now.to_owned()),
        None => (None, "2026-01-01T00:00:00".to_owned()),
    }
}

/// A reader standing well inside the fixtures' lifetimes (2026) and without a lifetime, as the
/// manifest's `expected_on_read` was observed.
pub(super) const READ_NOW: &str = "2026-01-01T00:00:00";

#[test]
fn fixture_manifest_covers_every_backend_and_variant() {
    let m = manifest("python-bucketcache-0.12.1");
    assert_eq!(entries(&m).count(), 3 * 5 * 16);
    assert_eq!(m.keys.len(), 16);
    assert_eq!(m.json["decorator"].as_array().unwrap().len(), 12);
}

/// What Rust reads for a fixture entry: `Some(value)` or a miss, and whether the file remains.
fn read_fixture_copy(m: &Manifest, e: &Value, tmp: &Path) -> (Option<Py>, bool, PathBuf) {
    let dir = tmp.join(e["dir"].as_str().unwrap());
    copy_dir(&m.root.join(e["dir"].as_str().unwrap()), &dir);
    let backend = backend_of(e["backend"].as_str().unwrap());
    let b = py_bucket(&dir, backend, None, READ_NOW);
    let key = &m.keys[e["key_id"].as_str().unwrap()].1;
    let got = b.get::<Py>(key).expect("get never errs on a bad file");
    let path = dir.join(e["filename"].as_str().unwrap());
    (got, path.exists(), path)
}

#[test]
fn every_fixture_entry_reads_as_the_original_reads_it() {
    let m = manifest("python-bucketcache-0.12.1");
    let tmp = tempfile::tempdir().unwrap();
    let mut checked = 0;
    for e in entries(&m) {
        let backend = backend_of(e["backend"].as_str().unwrap());
        let (got, exists, _) = read_fixture_copy(&m, e, tmp.path());
        let want = &e["expected_on_read"];
        let what = format!("{}/{}", e["dir"], e["filename"]);
        if want["ok"] == true {
            let want = parse_repr(want["value_repr"].as_str().unwrap());
            let format = if backend == "json" {
                Format::Json
            } else {
                Format::Lists
            };
            let got = got.unwrap_or_else(|| panic!("{what}: a miss, Python read {want:?}"));
            assert_eq!(got.normalized(format), want.normalized(format), "{what}");
        } else {
            assert!(got.is_none(), "{what}: Python missed, Rust read {got:?}");
        }
        assert_eq!(
            exists,
            e["file_exists_after_read"] == true,
            "{what}: file kept"
        );
        checked += 1;
    }
    assert_eq!(checked, 240);
}

#[test]
fn expired_fixtures_are_misses_and_deleted() {
    let m = manifest("python-bucketcache-0.12.1");
    let tmp = tempfile::tempdir().unwrap();
    for e in entries(&m).filter(|e| variant(e) == "expired") {
        let (got, exists, path) = read_fixture_copy(&m, e, tmp.path());
        assert!(got.is_none(), "{path:?}");
        assert!(!exists, "{path:?} should be deleted");
    }
}

#[test]
fn corrupt_fixtures_are_misses_and_kept() {
    let m = manifest("python-bucketcache-0.12.1");
    let tmp = tempfile::tempdir().unwrap();
    for e in entries(&m).filter(|e| variant(e) == "corrupt") {
        let (got, exists, path) = read_fixture_copy(&m, e, tmp.path());
        assert!(got.is_none(), "{path:?}");
        assert!(exists, "{path:?} should be kept");
    }
}

#[test]
fn lifetime_fixture_expirations_parse_with_and_without_microseconds() {
    let m = manifest("python-bucketcache-0.12.1");
    let tmp = tempfile::tempdir().unwrap();
    for e in entries(&m).filter(|e| ["lifetime", "lifetime0"].contains(&variant(e))) {
        let dir = tmp.path().join(e["dir"].as_str().unwrap());
        copy_dir(&m.root.join(e["dir"].as_str().unwrap()), &dir);
        let b = py_bucket(
            &dir,
            backend_of(e["backend"].as_str().unwrap()),
            None,
            READ_NOW,
        );
        let key = &m.keys[e["key_id"].as_str().unwrap()].1;
        let (_, expiration) = b
            .get_with_expiration::<Py>(key)
            .unwrap()
            .unwrap_or_else(|| panic!("{} {} is a hit", e["dir"], e["filename"]));
        let want = if variant(e) == "lifetime" {
            "2100-01-01T00:00:00.123456"
        } else {
            "2100-01-01T00:00:00"
        };
        assert_eq!(
            expiration.map(|x| format_expiration(&x)).as_deref(),
            Some(want)
        );
        assert_eq!(e["expiration_date"], want);
    }
}

#[test]
fn lifetime_fixtures_follow_the_lifetime_changed_rule() {
    // A reader with a 1 h lifetime standing at the writer's clock accepts the entry (expiration ==
    // now + lifetime); one second earlier the entry looks written with a longer lifetime and is
    // deleted, as the original does.
    let m = manifest("python-bucketcache-0.12.1");
    let tmp = tempfile::tempdir().unwrap();
    for (i, e) in entries(&m)
        .filter(|e| variant(e) == "lifetime" && e["key_id"] == "str")
        .enumerate()
    {
        let backend = backend_of(e["backend"].as_str().unwrap());
        let key = Py::s("my key");
        let hour = Some(Duration::from_secs(3600));
        let dir = tmp.path().join(format!("accept{i}"));
        copy_dir(&m.root.join(e["dir"].as_str().unwrap()), &dir);
        let b = py_bucket(&dir, backend, hour, "2099-12-31T23:00:00.123456");
        assert_eq!(b.get::<Py>(&key).unwrap(), Some(Py::s("this")), "{backend}");

        let dir = tmp.path().join(format!("reject{i}"));
        copy_dir(&m.root.join(e["dir"].as_str().unwrap()), &dir);
        let b = py_bucket(&dir, backend, hour, "2099-12-31T22:59:59.123456");
        assert_eq!(b.get::<Py>(&key).unwrap(), None, "{backend}");
        assert!(
            !dir.join(e["filename"].as_str().unwrap()).exists(),
            "{backend}"
        );
    }
}

#[test]
fn int_keyed_dicts_keep_int_keys_in_pickle_and_msgpack_fixtures() {
    use std::collections::HashMap;
    let m = manifest("python-bucketcache-0.12.1");
    let tmp = tempfile::tempdir().unwrap();
    for e in entries(&m).filter(|e| e["key_id"] == "v_intkeydict" && variant(e) == "plain") {
        let dir = tmp.path().join(e["dir"].as_str().unwrap());
        copy_dir(&m.root.join(e["dir"].as_str().unwrap()), &dir);
        let backend = backend_of(e["backend"].as_str().unwrap());
        let b = py_bucket(&dir, backend, None, READ_NOW);
        let key = "value:int_key_dict";
        if backend == "json" {
            let v: HashMap<String, String> = b.get(key).unwrap().expect("json hit");
            assert_eq!(v, HashMap::from([("1".to_owned(), "a".to_owned())]));
        } else {
            let v: HashMap<i64, String> = b.get(key).unwrap().expect("hit");
            assert_eq!(v, HashMap::from([(1, "a".to_owned())]), "{backend}");
        }
    }
}

#[test]
fn rust_writes_every_fixture_byte_for_byte() {
    let m = manifest("python-bucketcache-0.12.1");
    let tmp = tempfile::tempdir().unwrap();
    let mut mismatches = Vec::new();
    let mut checked = 0;
    for e in entries(&m).filter(|e| variant(e) != "corrupt") {
        let backend = backend_of(e["backend"].as_str().unwrap());
        let (lifetime, now) = writer_clock(&m, variant(e));
        let dir = tmp.path().join(e["dir"].as_str().unwrap());
        let b = py_bucket(&dir, backend, lifetime, &now);
        let key = &m.keys[e["key_id"].as_str().unwrap()].1;
        let value = parse_repr(e["value_repr"].as_str().unwrap());
        if let Err(err) = b.set(key, &value) {
            mismatches.push(format!("{}/{}: set failed: {err}", e["dir"], e["filename"]));
            continue;
        }
        let written = fs::read(dir.join(e["filename"].as_str().unwrap()));
        let original = fs::read(
            m.root
                .join(e["dir"].as_str().unwrap())
                .join(e["filename"].as_str().unwrap()),
        )
        .unwrap();
        match written {
            Ok(w) if w == original => {}
            Ok(w) => mismatches.push(format!(
                "{}/{}: wrote {} bytes {}, want {} bytes {}",
                e["dir"],
                e["filename"],
                w.len(),
                hex(&w),
                original.len(),
                hex(&original)
            )),
            Err(_) => mismatches.push(format!(
                "{}/{}: not written (files: {:?})",
                e["dir"],
                e["filename"],
                dir_contents(&dir).keys().collect::<Vec<_>>()
            )),
        }
        checked += 1;
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
    assert_eq!(checked, 3 * 4 * 16);
}

// ---- The Python 2.7 fixtures -------------------------------------------------------------------

/// Python 2's `str` is bytes; read on Python 3 (and in Rust) it is text.
fn py2_text(v: Py) -> Py {
    match v {
        Py::Bytes(b) => Py::Str(String::from_utf8(b).expect("ascii")),
        Py::List(i) => Py::List(i.into_iter().map(py2_text).collect()),
        Py::Tuple(i) => Py::Tuple(i.into_iter().map(py2_text).collect()),
        Py::Dict(e) => Py::Dict(
            e.into_iter()
                .map(|(k, v)| (py2_text(k), py2_text(v)))
                .collect(),
        ),
        other => other,
    }
}

#[test]
fn python2_fixtures_read_where_python3_reads_them() {
    let m = manifest("python-bucketcache-0.12.1-py27");
    let tmp = tempfile::tempdir().unwrap();
    let mut checked = 0;
    for e in entries(&m) {
        let backend = backend_of(e["backend"].as_str().unwrap());
        let v = variant(e);
        let what = format!("py27 {}/{}", e["dir"], e["filename"]);
        let (got, exists, _) = read_fixture_copy(&m, e, tmp.path());
        let want = &e["expected_on_read"];
        let want = (want["ok"] == true)
            .then(|| py2_text(parse_repr(want["value_repr"].as_str().unwrap())));
        let format = if backend == "json" {
            Format::Json
        } else {
            Format::Lists
        };
        let same = |got: &Py| got.normalized(format) == want.clone().unwrap().normalized(format);
        match (backend, v) {
            // Corrupt and expired: a miss everywhere. (Python 3 itself crashes with
            // UnicodeDecodeError on the expired *pickles*: their datetime state has bytes >= 0x80.)
            (_, "corrupt") => {
                assert!(got.is_none() && exists, "{what}: a miss, kept");
            }
            (_, "expired") => assert!(got.is_none(), "{what}: a miss"),
            // Python 3 reads Python 2 JSON (envelope keys in another order) and ASCII pickles,
            // including the microsecond-0 datetime state (all bytes < 0x80).
            ("json", _) | ("pickle", "plain" | "lifetime0") => {
                let got = got.unwrap_or_else(|| panic!("{what}: a miss"));
                assert!(same(&got), "{what}: read {got:?}, want {want:?}");
            }
            // Python 3 raises UnicodeDecodeError on a Python 2 datetime state with bytes >= 0x80
            // (microsecond 123456): here that is a miss, and the file is left alone.
            ("pickle", "lifetime") => assert!(got.is_none() && exists, "{what}: a miss, kept"),
            // Python 3 misses these (KeyError('value'): the envelope keys are msgpack bin). The
            // reference allows a lenient reader, which must then read the right value.
            _ => {
                if let Some(got) = got.map(py2_text) {
                    assert!(same(&got), "{what}: read {got:?}, want {want:?}");
                }
                assert!(exists, "{what}: a live entry is not deleted");
            }
        }
        checked += 1;
    }
    assert_eq!(checked, 240);
}
