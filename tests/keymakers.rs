//! Keymakers through the facade: which file a key names, across keymakers, backends and key
//! shapes.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;

use bucketcache::keymakers::{python_digest, DefaultKeyMaker};
use bucketcache::{Backend, BackendError, Bucket, Decoded, Error, Expiration, ValueLocation};
use serde::Serialize;
use serde_json::{json, Value};

use crate::common::files_in;

fn manifest() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/python-bucketcache-0.12.1/manifest.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn open(dir: &Path, backend: &str, keymaker: &str) -> Bucket {
    Bucket::builder(dir)
        .backend(backend)
        .keymaker(keymaker)
        .open()
        .unwrap()
}

#[test]
fn python_compatible_buckets_name_files_as_the_manifest_says() {
    let m = manifest();
    for (backend, class, ext) in [
        ("json", "JSONBackend", "json"),
        ("msgpack", "MessagePackBackend", "msgpack"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let b = Bucket::builder(dir.path())
            .backend(backend)
            .python_compatible()
            .open()
            .unwrap();
        let mut want = Vec::new();
        for k in m["keys"].as_array().unwrap() {
            let key: Value = serde_json::from_str(k["keymaker_bytes"].as_str().unwrap()).unwrap();
            b.set(&key, &1).unwrap();
            want.push(format!(
                "{}.{ext}",
                k["md5_by_backend"][class].as_str().unwrap()
            ));
        }
        want.sort();
        assert_eq!(files_in(dir.path()), want, "{backend}");
    }
}

#[test]
fn python_compatible_decorator_keys_name_the_original_files() {
    let m = manifest();
    for d in m["decorator"].as_array().unwrap() {
        let key: Value = serde_json::from_str(d["keymaker_bytes"].as_str().unwrap()).unwrap();
        let class = d["backend"].as_str().unwrap();
        let (stem, _) = d["filename"].as_str().unwrap().split_once('.').unwrap();
        assert_eq!(python_digest(class, &key).unwrap(), stem);
        if class == "JSONBackend" {
            let dir = tempfile::tempdir().unwrap();
            let b = Bucket::builder(dir.path())
                .backend("json")
                .python_compatible()
                .open()
                .unwrap();
            assert_eq!(
                b.path_for_key(&key).unwrap().file_name().unwrap(),
                d["filename"].as_str().unwrap()
            );
        }
    }
}

#[test]
fn python_compatible_reads_a_file_the_original_wrote() {
    let (_tmp, dir) = crate::common::fixture_copy("python-bucketcache-0.12.1/json/plain");
    let b = Bucket::builder(&dir)
        .backend("json")
        .python_compatible()
        .open()
        .unwrap();
    assert_eq!(b.get::<String>("my key").unwrap().as_deref(), Some("this"));
    // The tuple key (1, 'a') of the original, asked for as a Rust tuple.
    let v: Option<Value> = b.get(&(1, "a")).unwrap();
    assert_eq!(v, Some(json!([1, 2.5, "three", null])));
}

#[test]
fn default_and_streaming_keymakers_name_the_same_file() {
    let dir = tempfile::tempdir().unwrap();
    let key = json!({"user": 7, "tags": ["a", "b"], "nested": {"z": 1.5, "a": null}});
    for backend in ["json", "msgpack"] {
        let default = open(dir.path(), backend, "default");
        let streaming = open(dir.path(), backend, "streaming");
        assert_eq!(
            default.path_for_key(&key).unwrap(),
            streaming.path_for_key(&key).unwrap()
        );
        default.set(&key, "v").unwrap();
        assert_eq!(streaming.get::<String>(&key).unwrap().as_deref(), Some("v"));
    }
    assert_eq!(files_in(dir.path()).len(), 2);
}

#[test]
fn default_file_name_is_the_sha256_of_the_canonical_key() {
    let dir = tempfile::tempdir().unwrap();
    let b = open(dir.path(), "json", "default");
    let key = ("user", 7);
    let want = format!("{}.json", DefaultKeyMaker.digest(&key).unwrap());
    assert_eq!(b.path_for_key(&key).unwrap().file_name().unwrap(), &*want);
    assert_eq!(want.len(), 64 + 5);
}

#[test]
fn tuple_and_list_keys_address_the_same_entry() {
    for keymaker in ["default", "streaming", "python"] {
        let dir = tempfile::tempdir().unwrap();
        let b = open(dir.path(), "json", keymaker);
        b.set(&(1, "a"), "x").unwrap();
        let list = vec![json!(1), json!("a")];
        assert_eq!(
            b.get::<String>(&list).unwrap().as_deref(),
            Some("x"),
            "{keymaker}"
        );
    }
}

#[test]
fn int_and_string_map_keys_address_the_same_entry() {
    let dir = tempfile::tempdir().unwrap();
    let b = open(dir.path(), "msgpack", "default");
    b.set(&BTreeMap::from([(1, 2)]), &true).unwrap();
    assert!(b.contains(&BTreeMap::from([("1", 2)])).unwrap());
}

#[test]
fn equal_hashmaps_address_the_same_entry_whatever_their_order() {
    let dir = tempfile::tempdir().unwrap();
    let b = open(dir.path(), "json", "streaming");
    let a: HashMap<String, u32> = (0..100).map(|i| (format!("k{i}"), i)).collect();
    let c: HashMap<String, u32> = (0..100).rev().map(|i| (format!("k{i}"), i)).collect();
    b.set(&a, &1).unwrap();
    b.unload(&a);
    assert_eq!(b.get::<u8>(&c).unwrap(), Some(1));
}

#[test]
fn struct_keys_address_the_entry_of_their_serde_map() {
    #[derive(Serialize)]
    struct Query {
        user: u32,
        page: u8,
    }
    let dir = tempfile::tempdir().unwrap();
    let b = open(dir.path(), "json", "default");
    b.set(&Query { user: 7, page: 2 }, "result").unwrap();
    let as_map = json!({"page": 2, "user": 7});
    assert_eq!(b.get::<String>(&as_map).unwrap().as_deref(), Some("result"));
}

/// A backend without a Python class name.
#[derive(Debug)]
struct NoPython;

impl Backend for NoPython {
    fn name(&self) -> &str {
        "nopython"
    }
    fn file_extension(&self) -> &str {
        "np"
    }
    fn is_binary(&self) -> bool {
        false
    }
    fn dump(
        &self,
        value: &dyn erased_serde::Serialize,
        expiration: Option<Expiration>,
        out: &mut Vec<u8>,
    ) -> Result<Option<ValueLocation>, BackendError> {
        let b: &dyn Backend = &bucketcache::backends::json::JsonBackend::default();
        b.dump(value, expiration, out)
    }
    fn decode(&self, bytes: &[u8]) -> Result<Decoded, BackendError> {
        bucketcache::backends::json::JsonBackend::default().decode(bytes)
    }
}

#[test]
fn python_naming_needs_a_backend_with_a_python_class_name() {
    let dir = tempfile::tempdir().unwrap();
    let err = Bucket::builder(dir.path())
        .backend_instance(Arc::new(NoPython))
        .python_compatible()
        .open()
        .expect_err("refused");
    assert!(matches!(err, Error::NotPythonCompatible { .. }), "{err}");
    assert!(err.to_string().contains("nopython"), "{err}");
    // The other keymakers do not care.
    let b = Bucket::builder(dir.path())
        .backend_instance(Arc::new(NoPython))
        .keymaker("streaming")
        .open()
        .unwrap();
    b.set("k", &1).unwrap();
    assert_eq!(b.get::<u8>("k").unwrap(), Some(1));
}

#[test]
fn keys_that_cannot_be_canonicalised_are_errors_not_files() {
    let dir = tempfile::tempdir().unwrap();
    let b = open(dir.path(), "json", "default");
    let composite = BTreeMap::from([((1, 2), 3)]);
    let err = b.set(&composite, &1).unwrap_err();
    assert!(matches!(err, Error::Key(_)), "{err}");
    assert!(files_in(dir.path()).is_empty());
}

#[test]
fn unknown_keymaker_names_the_known_ones() {
    let dir = tempfile::tempdir().unwrap();
    let err = Bucket::builder(dir.path())
        .keymaker("sha3")
        .open()
        .expect_err("refused");
    let msg = err.to_string();
    for name in ["sha3", "default", "streaming", "python"] {
        assert!(msg.contains(name), "{msg}");
    }
}

/// Passes the registry's probe keys as the default keymaker does, then names a path for one key.
#[derive(Debug)]
struct Impostor;

impl bucketcache::KeyMaker for Impostor {
    fn name(&self) -> &str {
        "impostor"
    }
    fn digest_len(&self) -> usize {
        64
    }
    fn make_key(
        &self,
        key: &dyn erased_serde::Serialize,
        backend: &dyn Backend,
    ) -> Result<String, bucketcache::KeyError> {
        if serde_json::to_string(key).ok().as_deref() == Some("\"evil\"") {
            return Ok(format!("../../{}", "a".repeat(32)));
        }
        bucketcache::KeyMaker::make_key(&DefaultKeyMaker, key, backend)
    }
}

#[test]
fn a_keymaker_claiming_to_be_built_in_still_has_its_digests_checked() {
    // Any crate can register under the built-in keymakers' crate name.
    bucketcache::registry::register_keymaker("impostor", "bucketcache-keymakers", || {
        Arc::new(Impostor)
    })
    .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("a").join("b");
    let b = open(&dir, "json", "impostor");
    b.set("fine", &1).unwrap();
    let err = b.set("evil", &2).unwrap_err();
    assert!(
        matches!(err, Error::Key(bucketcache::KeyError::Unsupported(_))),
        "{err}"
    );
    assert!(err.to_string().contains("lowercase hex"), "{err}");
    assert!(!tmp.path().join(format!("{}.json", "a".repeat(32))).exists());
    assert_eq!(files_in(&dir).len(), 1);
}

/// Hashes bytes itself: `make_digest` gives the hash's bytes, never text.
#[derive(Debug)]
struct BytesOnly;

impl bucketcache::KeyMaker for BytesOnly {
    fn name(&self) -> &str {
        "bytes-only"
    }
    fn digest_len(&self) -> usize {
        32
    }
    fn make_key(
        &self,
        key: &dyn erased_serde::Serialize,
        backend: &dyn Backend,
    ) -> Result<String, bucketcache::KeyError> {
        Ok(self.make_digest(key, backend)?.into())
    }
    fn make_digest(
        &self,
        key: &dyn erased_serde::Serialize,
        _backend: &dyn Backend,
    ) -> Result<bucketcache::Digest, bucketcache::KeyError> {
        let text =
            serde_json::to_vec(key).map_err(|e| bucketcache::KeyError::Serialize(e.to_string()))?;
        let mut bytes = [0u8; 16];
        for (i, b) in text.iter().enumerate() {
            bytes[i % 16] ^= b.rotate_left(i as u32 % 8);
        }
        Ok(bucketcache::Digest::from_bytes(&bytes))
    }
}

#[test]
fn a_keymaker_giving_digest_bytes_names_files_by_their_hex_text() {
    bucketcache::registry::register_keymaker("bytes-only", "keymaker-tests", || {
        Arc::new(BytesOnly)
    })
    .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let b = open(tmp.path(), "json", "bytes-only");
    b.set("k", &7).unwrap();
    let digest = b.digest_for_key("k").unwrap();
    assert_eq!(digest.len(), 32);
    assert_eq!(digest, b.hash_for_key("k").unwrap());
    let name = format!("{}.json", &*digest.text());
    assert_eq!(files_in(tmp.path()), vec![name]);
    assert_eq!(b.get::<u32>("k").unwrap(), Some(7));
}

/// Names entries (`make_digest`) other than its text says (`make_key`).
#[derive(Debug)]
struct TwoFaced;

impl bucketcache::KeyMaker for TwoFaced {
    fn name(&self) -> &str {
        "two-faced"
    }
    fn digest_len(&self) -> usize {
        64
    }
    fn make_key(
        &self,
        key: &dyn erased_serde::Serialize,
        backend: &dyn Backend,
    ) -> Result<String, bucketcache::KeyError> {
        bucketcache::KeyMaker::make_key(&DefaultKeyMaker, key, backend)
    }
    fn make_digest(
        &self,
        key: &dyn erased_serde::Serialize,
        backend: &dyn Backend,
    ) -> Result<bucketcache::Digest, bucketcache::KeyError> {
        let text = self.make_key(key, backend)?;
        let reversed: String = text.chars().rev().collect();
        bucketcache::Digest::from_hex(&reversed)
    }
}

#[test]
fn a_keymaker_whose_digest_and_text_disagree_is_refused_when_a_bucket_opens() {
    bucketcache::registry::register_keymaker("two-faced", "keymaker-tests", || Arc::new(TwoFaced))
        .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let err = Bucket::builder(tmp.path())
        .backend("json")
        .keymaker("two-faced")
        .open()
        .unwrap_err();
    assert!(err.to_string().contains("make_key gives"), "{err}");
    assert!(files_in(tmp.path()).is_empty());
}
