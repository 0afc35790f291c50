use std::collections::{BTreeMap, HashMap};

use bucketcache_core::{BackendError, Expiration};
use proptest::prelude::*;
use serde::Serialize;
use serde_json::{json, Value};

use super::*;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures");

/// The manifest of the files written by the original on Python 3.
fn manifest() -> Value {
    manifest_of("python-bucketcache-0.12.1")
}

fn manifest_of(generation: &str) -> Value {
    let path = format!("{FIXTURES}/{generation}/manifest.json");
    let text = std::fs::read_to_string(path).expect("fixture manifest");
    serde_json::from_str(&text).expect("manifest is JSON")
}

/// Python 2 named files with the same bytes, so the same digests.
#[test]
fn python_keymaker_reproduces_the_python2_manifest_too() {
    let m = manifest_of("python-bucketcache-0.12.1-py27");
    let keys = m["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 16);
    for k in keys {
        let key: Value = serde_json::from_str(k["keymaker_bytes"].as_str().unwrap()).unwrap();
        for (class, md5) in k["md5_by_backend"].as_object().unwrap() {
            assert_eq!(python_digest(class, &key).unwrap(), md5.as_str().unwrap());
        }
    }
}

/// A backend that only has names: enough to ask a keymaker for a digest.
#[derive(Debug)]
struct Named(Option<&'static str>);

impl Backend for Named {
    fn name(&self) -> &str {
        "named"
    }
    fn file_extension(&self) -> &str {
        "named"
    }
    fn is_binary(&self) -> bool {
        true
    }
    fn python_class_name(&self) -> Option<&str> {
        self.0
    }
    fn dump(
        &self,
        _: &dyn erased_serde::Serialize,
        _: Option<Expiration>,
        _: &mut Vec<u8>,
    ) -> Result<Option<bucketcache_core::ValueLocation>, BackendError> {
        Err(BackendError::encode("test backend"))
    }
    fn decode(&self, _: &[u8]) -> Result<bucketcache_core::Decoded, BackendError> {
        Err(BackendError::decode("test backend"))
    }
}

fn make(k: &dyn KeyMaker, key: &impl Serialize, backend: &dyn Backend) -> String {
    k.make_key(key, backend).unwrap()
}

#[test]
fn python_keymaker_reproduces_every_manifest_key() {
    let m = manifest();
    let keys = m["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 16);
    for k in keys {
        let text = k["keymaker_bytes"].as_str().unwrap();
        let key: Value = serde_json::from_str(text).unwrap();
        assert_eq!(key_bytes(&key).unwrap(), text.as_bytes(), "{}", k["id"]);
        for (class, md5) in k["md5_by_backend"].as_object().unwrap() {
            let class: &'static str = Box::leak(class.clone().into_boxed_str());
            let got = make(&PythonKeyMaker, &key, &Named(Some(class)));
            assert_eq!(got, md5.as_str().unwrap(), "{} {class}", k["id"]);
        }
    }
}

#[test]
fn python_keymaker_reproduces_the_decorator_fixtures() {
    let m = manifest();
    let calls = m["decorator"].as_array().unwrap();
    assert_eq!(calls.len(), 12);
    for d in calls {
        let text = d["keymaker_bytes"].as_str().unwrap();
        let key: Value = serde_json::from_str(text).unwrap();
        assert_eq!(key_bytes(&key).unwrap(), text.as_bytes());
        let class = d["backend"].as_str().unwrap();
        let (stem, _ext) = d["filename"].as_str().unwrap().split_once('.').unwrap();
        assert_eq!(python_digest(class, &key).unwrap(), stem, "{}", d["call"]);
    }
}

/// The manifest's keys built from Rust values, in the shapes a Rust program would use.
#[test]
fn native_rust_keys_name_files_as_python_does() {
    let m = manifest();
    let by_id = |id: &str| -> Value {
        m["keys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["id"] == id)
            .unwrap()
            .clone()
    };
    let check = |id: &str, key: &dyn erased_serde::Serialize| {
        let k = by_id(id);
        for (class, md5) in k["md5_by_backend"].as_object().unwrap() {
            assert_eq!(
                pyjson_digest(class, key),
                md5.as_str().unwrap(),
                "{id} {class}"
            );
        }
    };
    fn pyjson_digest(class: &str, key: &dyn erased_serde::Serialize) -> String {
        python_digest(class, key).unwrap().into()
    }
    check("str", &"my key");
    check("int", &42u8);
    check("tuple", &(1, "a"));
    check("tuple", &vec![json!(1), json!("a")]);
    check(
        "dict",
        &HashMap::from([("b", json!(1)), ("a", json!([1, 2]))]),
    );
    check("nested_list", &(vec![1, 2], ("x", (None::<u8>, true)), 3.5));
    check("unicode", &"unicode ключ ☃");
    check("neg_int", &-7i64);
    check("float", &1.5f64);
    check("bool", &true);
    check("none", &None::<String>);
    check("none", &());
    check("empty_str", &"");
    check("v_negint", &String::from("value:neg_int"));
}

#[test]
fn python_keymaker_needs_a_python_class_name() {
    let err = PythonKeyMaker.make_key(&"k", &Named(None)).unwrap_err();
    assert!(matches!(err, KeyError::Unsupported(_)));
    assert!(err.to_string().contains("\"named\""), "{err}");
}

#[test]
fn the_example_of_the_original_docs() {
    assert_eq!(
        python_digest("PickleBackend", "my key").unwrap(),
        "e8ca20595b872cbe121dea86174c7925"
    );
}

#[test]
fn tuple_and_list_give_the_same_digest() {
    let b = Named(Some("JSONBackend"));
    for k in [
        &DefaultKeyMaker as &dyn KeyMaker,
        &StreamingKeyMaker,
        &PythonKeyMaker,
    ] {
        assert_eq!(make(k, &(1, "a"), &b), make(k, &json!([1, "a"]), &b));
    }
}

#[test]
fn int_and_string_map_keys_give_the_same_digest() {
    let b = Named(Some("JSONBackend"));
    for k in [
        &DefaultKeyMaker as &dyn KeyMaker,
        &StreamingKeyMaker,
        &PythonKeyMaker,
    ] {
        assert_eq!(
            make(k, &BTreeMap::from([(1, 2)]), &b),
            make(k, &BTreeMap::from([("1", 2)]), &b)
        );
    }
}

#[test]
fn equal_hashmaps_give_the_same_digest_whatever_their_order() {
    let mut a = HashMap::new();
    let mut b = HashMap::new();
    for i in 0..200 {
        a.insert(format!("k{i}"), i);
    }
    for i in (0..200).rev() {
        b.insert(format!("k{i}"), i);
    }
    assert_eq!(
        DefaultKeyMaker.digest(&a).unwrap(),
        DefaultKeyMaker.digest(&b).unwrap()
    );
    assert_eq!(
        StreamingKeyMaker.digest(&a).unwrap(),
        DefaultKeyMaker.digest(&b).unwrap()
    );
}

#[test]
fn struct_keys_hash_as_their_serde_map() {
    #[derive(Serialize)]
    struct User {
        name: &'static str,
        id: u32,
    }
    let user = User { name: "Ada", id: 7 };
    assert_eq!(key_bytes(&user).unwrap(), br#"{"id": 7, "name": "Ada"}"#);
    assert_eq!(
        DefaultKeyMaker.digest(&user).unwrap(),
        DefaultKeyMaker
            .digest(&json!({"name": "Ada", "id": 7}))
            .unwrap()
    );
}

#[test]
fn default_digest_is_sha256_of_the_canonical_bytes() {
    // python3 -c 'import hashlib,json; print(hashlib.sha256(json.dumps({"b": [1.5, 1e16], "a": None}, sort_keys=True).encode()).hexdigest())'
    assert_eq!(
        key_bytes(&json!({"b": [1.5, 1e16], "a": null})).unwrap(),
        br#"{"a": null, "b": [1.5, 1e+16]}"#
    );
    assert_eq!(
        DefaultKeyMaker
            .digest(&json!({"b": [1.5, 1e16], "a": null}))
            .unwrap(),
        "775224d4e1cc54727a58ad3b3a4254ee72cfc8730ab7f8e9fca20d8f5d70eba7"
    );
}

#[test]
fn keys_python_cannot_sort_are_unsupported() {
    #[derive(Serialize)]
    #[serde(untagged)]
    enum K {
        S(&'static str),
        I(i32),
    }
    struct Mixed;
    impl Serialize for Mixed {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.collect_map([(K::S("a"), 1), (K::I(1), 2)])
        }
    }
    assert!(matches!(
        DefaultKeyMaker.digest(&Mixed),
        Err(KeyError::Unsupported(_))
    ));
    assert!(matches!(
        StreamingKeyMaker.digest(&Mixed),
        Err(KeyError::Unsupported(_))
    ));
    let composite = BTreeMap::from([((1, 2), 3)]);
    assert!(matches!(
        DefaultKeyMaker.digest(&composite),
        Err(KeyError::Unsupported(_))
    ));
}

#[test]
fn failing_serialize_impls_are_serialize_errors() {
    struct Fails;
    impl Serialize for Fails {
        fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
            Err(serde::ser::Error::custom("no"))
        }
    }
    assert!(matches!(
        StreamingKeyMaker.digest(&Fails),
        Err(KeyError::Serialize(_))
    ));
}

#[test]
fn registered_by_name() {
    register().unwrap();
    for name in [DEFAULT, STREAMING, PYTHON] {
        assert_eq!(
            bucketcache_core::registry::keymaker(name).unwrap().name(),
            name
        );
    }
}

/// An arbitrary key: a JSON-like tree whose maps are written in the order given.
#[derive(Debug, Clone)]
enum Tree {
    Null,
    Bool(bool),
    Int(i64),
    Big(u128),
    Float(f64),
    Str(String),
    List(Vec<Tree>),
    Map(Vec<(String, Tree)>),
}

impl Serialize for Tree {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Tree::Null => s.serialize_unit(),
            Tree::Bool(b) => s.serialize_bool(*b),
            Tree::Int(i) => s.serialize_i64(*i),
            Tree::Big(u) => s.serialize_u128(*u),
            Tree::Float(f) => s.serialize_f64(*f),
            Tree::Str(t) => s.serialize_str(t),
            Tree::List(l) => s.collect_seq(l),
            Tree::Map(m) => s.collect_map(m.iter().map(|(k, v)| (k, v))),
        }
    }
}

impl Tree {
    /// The same tree with every map's entries in reverse order.
    fn reversed(&self) -> Tree {
        match self {
            Tree::List(l) => Tree::List(l.iter().map(Tree::reversed).collect()),
            Tree::Map(m) => Tree::Map(
                m.iter()
                    .rev()
                    .map(|(k, v)| (k.clone(), v.reversed()))
                    .collect(),
            ),
            other => other.clone(),
        }
    }
}

fn tree() -> impl Strategy<Value = Tree> {
    let leaf = prop_oneof![
        Just(Tree::Null),
        any::<bool>().prop_map(Tree::Bool),
        any::<i64>().prop_map(Tree::Int),
        any::<u128>().prop_map(Tree::Big),
        any::<f64>().prop_map(Tree::Float),
        any::<String>().prop_map(Tree::Str),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Tree::List),
            prop::collection::btree_map(any::<String>(), inner, 0..8)
                .prop_map(|m| Tree::Map(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #[test]
    fn streaming_equals_default_for_any_key(key in tree()) {
        prop_assert_eq!(StreamingKeyMaker.digest(&key).unwrap(), DefaultKeyMaker.digest(&key).unwrap());
    }

    #[test]
    fn map_order_never_changes_the_digest(key in tree()) {
        prop_assert_eq!(DefaultKeyMaker.digest(&key).unwrap(), DefaultKeyMaker.digest(&key.reversed()).unwrap());
        prop_assert_eq!(StreamingKeyMaker.digest(&key.reversed()).unwrap(), DefaultKeyMaker.digest(&key).unwrap());
    }
}

/// A key whose `Serialize` hashes another key (the keymaker is re-entered on the same thread).
struct HashesAnotherKey;

impl serde::Serialize for HashesAnotherKey {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let inner = DefaultKeyMaker
            .digest("inner")
            .map_err(serde::ser::Error::custom)?;
        s.serialize_str(&inner.text())
    }
}

#[test]
fn a_key_that_hashes_another_key_while_serializing_gets_the_digest_of_its_text() {
    let inner = DefaultKeyMaker.digest("inner").unwrap();
    let text: String = inner.into();
    assert_eq!(
        DefaultKeyMaker.digest(&HashesAnotherKey).unwrap(),
        DefaultKeyMaker.digest(&text).unwrap()
    );
    assert_eq!(
        StreamingKeyMaker.digest(&HashesAnotherKey).unwrap(),
        DefaultKeyMaker.digest(&text).unwrap()
    );
}
