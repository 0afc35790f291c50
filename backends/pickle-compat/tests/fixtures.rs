//! Every `PickleBackend` file written by the original (`tests/fixtures/`, with its manifest):
//! reading gives what Python read, corrupt files are errors, and writing the same value and
//! expiration gives the same bytes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use bucketcache_core::time::parse_expiration;
use bucketcache_core::{Backend, BackendError};
use bucketcache_pickle::PickleBackend;
use serde::Serialize;
use serde_json::Value as Json;

fn fixtures(dir: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures")
        .join(dir)
}

fn manifest(dir: &str) -> Json {
    let text = std::fs::read_to_string(fixtures(dir).join("manifest.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn pickle_entries(m: &Json) -> Vec<&Json> {
    m["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["backend"] == "PickleBackend")
        .collect()
}

fn backend() -> PickleBackend {
    PickleBackend::default()
}

fn b(p: &PickleBackend) -> &dyn Backend {
    p
}

fn read(dir: &str, e: &Json) -> Vec<u8> {
    let path = fixtures(dir)
        .join(e["dir"].as_str().unwrap())
        .join(e["filename"].as_str().unwrap());
    std::fs::read(path).unwrap()
}

/// The value of `v_nested`, with the original's key order.
#[derive(Serialize)]
struct Nested {
    list: Vec<(u8, (u8, (u8,)))>,
    empty: BTreeMap<String, u8>,
    emptylist: Vec<u8>,
}

/// Encodes the manifest's value for `key_id` as the Rust type a user would write.
fn encode_typed(key_id: &str, exp: Option<bucketcache_core::Expiration>) -> Vec<u8> {
    let p = backend();
    let b = b(&p);
    fn enc<T: Serialize>(
        b: &dyn Backend,
        v: &T,
        e: Option<bucketcache_core::Expiration>,
    ) -> Vec<u8> {
        b.encode(v, e).unwrap()
    }
    match key_id {
        "str" => enc(b, &"this", exp),
        "int" => enc(b, &42u32, exp),
        "tuple" => enc(b, &serde_json::json!([1, 2.5, "three", null]), exp),
        "dict" => enc(
            b,
            &serde_json::json!({"x": 1, "y": [true, false], "z": null}),
            exp,
        ),
        // The fixture's value, not an approximation of pi.
        #[allow(clippy::approx_constant)]
        "nested_list" => enc(b, &3.14159f64, exp),
        "unicode" => enc(b, &"värde ☃", exp),
        "neg_int" => enc(b, &-1.5e-10f64, exp),
        "float" => enc(b, &1.0f64, exp),
        "bool" => enc(b, &false, exp),
        "none" => enc(b, &true, exp),
        "empty_str" => enc(b, &Option::<u8>::None, exp),
        "v_negint" => enc(b, &-7i64, exp),
        "v_bigint" => enc(b, &1_099_511_627_776u64, exp),
        "v_tuple" => enc(b, &(1u8, 2u8), exp),
        "v_intkeydict" => enc(b, &BTreeMap::from([(1i64, "a")]), exp),
        "v_nested" => {
            // Nested lists whose innermost levels are tuples would differ; write lists.
            let v = serde_json::json!([[1, [2, [3]]]]);
            #[derive(Serialize)]
            struct N {
                list: Json,
                empty: BTreeMap<String, u8>,
                emptylist: Vec<u8>,
            }
            enc(
                b,
                &N {
                    list: v,
                    empty: BTreeMap::new(),
                    emptylist: vec![],
                },
                exp,
            )
        }
        other => panic!("unknown key id {other}"),
    }
}

#[test]
fn every_python3_entry_reads_as_python_read_it() {
    let m = manifest("python-bucketcache-0.12.1");
    let entries = pickle_entries(&m);
    assert_eq!(entries.len(), 80);
    let p = backend();
    for e in entries {
        let bytes = read("python-bucketcache-0.12.1", e);
        let dir = e["dir"].as_str().unwrap();
        let what = format!("{dir}/{}", e["key_id"]);
        if dir.ends_with("corrupt") {
            assert!(
                b(&p).decode(&bytes).map(|d| d.expiration).is_err(),
                "{what} must not load"
            );
            assert!(b(&p).decode_value::<Json>(&bytes).is_err(), "{what}");
            continue;
        }
        let exp = e["expiration_date"]
            .as_str()
            .map(|s| parse_expiration(s).unwrap());
        assert_eq!(
            b(&p).decode(&bytes).map(|d| d.expiration).unwrap(),
            exp,
            "{what}"
        );
        let value: Json = b(&p).decode_value(&bytes).unwrap();
        // The expired variant's expected_on_read is the miss; its value is the entry's value.
        let expected = if dir.ends_with("expired") {
            &e["value"]
        } else {
            &e["expected_on_read"]["value"]
        };
        assert_eq!(&value, expected, "{what}");
    }
}

#[test]
fn typed_reads_keep_python_types() {
    let m = manifest("python-bucketcache-0.12.1");
    let p = backend();
    let find = |id: &str| {
        let e = pickle_entries(&m)
            .into_iter()
            .find(|e| e["dir"] == "pickle/plain" && e["key_id"] == id)
            .unwrap();
        read("python-bucketcache-0.12.1", e)
    };
    assert_eq!(
        b(&p).decode_value::<(u8, u8)>(&find("v_tuple")).unwrap(),
        (1, 2)
    );
    assert_eq!(
        b(&p)
            .decode_value::<BTreeMap<i64, String>>(&find("v_intkeydict"))
            .unwrap(),
        BTreeMap::from([(1, "a".to_string())])
    );
    assert_eq!(
        b(&p).decode_value::<u64>(&find("v_bigint")).unwrap(),
        1_099_511_627_776
    );
    assert_eq!(
        b(&p)
            .decode_value::<Option<String>>(&find("empty_str"))
            .unwrap(),
        None
    );
    let t: (u8, f64, String, Option<u8>) = b(&p).decode_value(&find("tuple")).unwrap();
    assert_eq!(t, (1, 2.5, "three".into(), None));
    assert!(matches!(
        b(&p).decode_value::<u8>(&find("str")),
        Err(BackendError::WrongType(_))
    ));
}

#[test]
fn writing_the_same_value_is_byte_identical() {
    let m = manifest("python-bucketcache-0.12.1");
    let mut checked = 0;
    for e in pickle_entries(&m) {
        let dir = e["dir"].as_str().unwrap();
        if ![
            "pickle/plain",
            "pickle/lifetime",
            "pickle/lifetime0",
            "pickle/expired",
        ]
        .contains(&dir)
        {
            continue;
        }
        let id = e["key_id"].as_str().unwrap();
        let exp = e["expiration_date"]
            .as_str()
            .map(|s| parse_expiration(s).unwrap());
        let ours = encode_typed(id, exp);
        let theirs = read("python-bucketcache-0.12.1", e);
        assert_eq!(ours, theirs, "{dir}/{id}: bytes differ");
        assert_eq!(ours.len() as u64, e["size"].as_u64().unwrap());
        checked += 1;
    }
    assert_eq!(checked, 64);
}

#[test]
fn nested_struct_value_writes_like_the_original() {
    // The same value as `v_nested`, written from a struct with tuples inside: tuples are not
    // lists in Python, so this must differ from the fixture exactly where the tuples are.
    let v = Nested {
        list: vec![(1, (2, (3,)))],
        empty: BTreeMap::new(),
        emptylist: vec![],
    };
    let p = backend();
    let bytes = b(&p).encode(&v, None).unwrap();
    let back: Json = b(&p).decode_value(&bytes).unwrap();
    assert_eq!(
        back,
        serde_json::json!({"list": [[1, [2, [3]]]], "empty": {}, "emptylist": []})
    );
}

#[test]
fn python2_entries_load_where_the_original_loads_them() {
    let m3 = manifest("python-bucketcache-0.12.1");
    let m = manifest("python-bucketcache-0.12.1-py27");
    let entries = pickle_entries(&m);
    assert_eq!(entries.len(), 80);
    let p = backend();
    let mut loaded = 0;
    for e in entries {
        let bytes = read("python-bucketcache-0.12.1-py27", e);
        let dir = e["dir"].as_str().unwrap();
        let id = e["key_id"].as_str().unwrap();
        let what = format!("py27 {dir}/{id}");
        let result = b(&p).decode(&bytes).map(|d| d.expiration);
        match dir {
            "pickle/corrupt" => assert!(result.is_err(), "{what}"),
            // The datetime state holds bytes >= 0x80 (microsecond 123456; year 2000), which
            // Python 3 cannot decode as ASCII: the original fails to load these too.
            "pickle/lifetime" | "pickle/expired" => {
                let err = result.unwrap_err().to_string();
                assert!(err.contains("ASCII"), "{what}: {err}");
            }
            "pickle/plain" | "pickle/lifetime0" => {
                let exp = e["expiration_date"]
                    .as_str()
                    .map(|s| parse_expiration(s).unwrap());
                assert_eq!(result.unwrap(), exp, "{what}");
                let value: Json = b(&p).decode_value(&bytes).unwrap();
                // Python 3 reads the py2 ASCII str as str: the same value Python 3 wrote.
                let expected = pickle_entries(&m3)
                    .into_iter()
                    .find(|x| x["dir"] == dir && x["key_id"] == id)
                    .unwrap();
                assert_eq!(value, expected["expected_on_read"]["value"], "{what}");
                loaded += 1;
            }
            other => panic!("unexpected dir {other}"),
        }
    }
    assert_eq!(loaded, 32);
}

#[test]
fn decorator_results_load() {
    let m = manifest("python-bucketcache-0.12.1");
    let p = backend();
    let mut n = 0;
    for d in m["decorator"].as_array().unwrap() {
        if d["backend"] != "PickleBackend" {
            continue;
        }
        let path = fixtures("python-bucketcache-0.12.1")
            .join(d["dir"].as_str().unwrap())
            .join(d["filename"].as_str().unwrap());
        let bytes = std::fs::read(path).unwrap();
        let v: Json = b(&p).decode_value(&bytes).unwrap();
        assert_eq!(v, d["result"], "{}", d["call"]);
        n += 1;
    }
    assert_eq!(n, 4);
}
