use std::collections::BTreeMap;
use std::path::PathBuf;

use bucketcache_core::validate::validate_backend;
use serde_json::{json, Value};

use super::*;
use bucketcache_core::registry;

fn factory(options: &serde_json::Value) -> bucketcache_core::Result<Arc<dyn Backend>> {
    registry::factory::<JsonBackend>(options)
}
use bucketcache_core::time::parse_expiration;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures");

fn fixture_dir(generation: &str) -> PathBuf {
    PathBuf::from(FIXTURES).join(generation)
}

fn manifest(generation: &str) -> Value {
    let text = std::fs::read_to_string(fixture_dir(generation).join("manifest.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn json_entries(m: &Value) -> Vec<Value> {
    m["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["backend"] == "JSONBackend")
        .cloned()
        .collect()
}

fn backend() -> JsonBackend {
    JsonBackend::default()
}

fn dynb(b: &JsonBackend) -> &dyn Backend {
    b
}

fn exp(text: &str) -> Option<Expiration> {
    parse_expiration(text)
}

#[test]
fn passes_runtime_validation() {
    validate_backend(&backend(), "test").unwrap();
    for cfg in [
        JsonConfig::default().sort_keys(true).indent(Some(2)),
        JsonConfig::default().ensure_ascii(false).allow_nan(false),
    ] {
        validate_backend(&JsonBackend::new(cfg).unwrap(), "test").unwrap();
    }
}

#[test]
fn names_and_extension() {
    let b = backend();
    assert_eq!(b.name(), "json");
    assert_eq!(b.file_extension(), "json");
    assert!(!b.is_binary());
    assert_eq!(b.python_class_name(), Some("JSONBackend"));
}

/// Encodes the manifest's value (read with its key order, which the manifest keeps) with the
/// manifest's expiration and compares with the file the original wrote, for the plain, lifetime
/// and lifetime0 variants.
#[test]
fn writes_every_fixture_byte_for_byte() {
    let gen = "python-bucketcache-0.12.1";
    let m = manifest(gen);
    let text = std::fs::read(fixture_dir(gen).join("manifest.json")).unwrap();
    let ordered = field(&tree::parse(&text).unwrap(), "entries");
    let tree::Tree::List(ordered) = ordered else {
        panic!("entries is not a list")
    };
    let mut checked = 0;
    for (e, ordered) in m["entries"].as_array().unwrap().iter().zip(&ordered) {
        let dir = e["dir"].as_str().unwrap();
        if e["backend"] != "JSONBackend"
            || !["json/plain", "json/lifetime", "json/lifetime0"].contains(&dir)
        {
            continue;
        }
        let path = fixture_dir(gen)
            .join(dir)
            .join(e["filename"].as_str().unwrap());
        let want = std::fs::read(&path).unwrap();
        let value = field(ordered, "value");
        let expiration = e["expiration_date"].as_str().and_then(parse_expiration);
        assert_eq!(e["expiration_date"].is_null(), expiration.is_none());
        let got = dynb(&backend()).encode(&value, expiration).unwrap();
        assert_eq!(
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(&want),
            "{dir} {}",
            e["key_id"]
        );
        checked += 1;
    }
    assert_eq!(checked, 48);
}

fn field(t: &tree::Tree, name: &str) -> tree::Tree {
    let tree::Tree::Map(entries) = t else {
        panic!("not an object: {t:?}")
    };
    entries.iter().find(|(k, _)| k == name).unwrap().1.clone()
}

/// The same files from native Rust values, including the cases Python's JSON turns into
/// something else (tuples become lists, int keys become strings).
#[test]
fn writes_native_rust_values_as_python_does() {
    let b = backend();
    let b = dynb(&b);
    let check = |value: &dyn erased_serde::Serialize, want: &str| {
        assert_eq!(
            String::from_utf8(b.encode(value, None).unwrap()).unwrap(),
            want
        );
    };
    check(&"this", r#"{"value": "this", "expiration_date": null}"#);
    check(&(1, 2), r#"{"value": [1, 2], "expiration_date": null}"#);
    check(
        &BTreeMap::from([(1, "a")]),
        r#"{"value": {"1": "a"}, "expiration_date": null}"#,
    );
    check(
        &(1, 2.5, "three", None::<u8>),
        r#"{"value": [1, 2.5, "three", null], "expiration_date": null}"#,
    );
    check(&-1.5e-10, r#"{"value": -1.5e-10, "expiration_date": null}"#);
    check(&1.0, r#"{"value": 1.0, "expiration_date": null}"#);
    check(
        &(1u64 << 40),
        r#"{"value": 1099511627776, "expiration_date": null}"#,
    );
    check(&f64::NAN, r#"{"value": NaN, "expiration_date": null}"#);
    // The examples of original-behaviour.md §2.4.
    assert_eq!(
        b.encode("this", exp("2100-01-01T00:00:00.123456")).unwrap(),
        br#"{"value": "this", "expiration_date": "2100-01-01T00:00:00.123456"}"#
    );
    assert_eq!(
        b.encode("this", exp("2100-01-01T00:00:00")).unwrap(),
        br#"{"value": "this", "expiration_date": "2100-01-01T00:00:00"}"#
    );
}

/// Every JSON file of the original (Python 3 and Python 2 generations) reads as the original
/// read it; the corrupt variant is a decode error.
#[test]
fn reads_every_fixture_file() {
    for gen in [
        "python-bucketcache-0.12.1",
        "python-bucketcache-0.12.1-py27",
    ] {
        let m = manifest(gen);
        let entries = json_entries(&m);
        assert_eq!(entries.len(), 80, "{gen}");
        for e in entries {
            let dir = e["dir"].as_str().unwrap();
            let path = fixture_dir(gen)
                .join(dir)
                .join(e["filename"].as_str().unwrap());
            let bytes = std::fs::read(&path).unwrap();
            let what = format!("{gen}/{dir}/{}", e["key_id"]);
            let b = backend();
            if dir == "json/corrupt" {
                assert!(
                    matches!(
                        b.decode(&bytes).map(|d| d.expiration),
                        Err(BackendError::Decode(_))
                    ),
                    "{what}"
                );
                assert!(dynb(&b).decode_value::<Value>(&bytes).is_err(), "{what}");
                continue;
            }
            let want_exp = e["expiration_date"].as_str().and_then(parse_expiration);
            assert_eq!(e["expiration_date"].is_null(), want_exp.is_none(), "{what}");
            assert_eq!(
                b.decode(&bytes).map(|d| d.expiration).unwrap(),
                want_exp,
                "{what}"
            );
            let value: Value = dynb(&b).decode_value(&bytes).unwrap();
            let expected = &e["expected_on_read"];
            if expected["ok"] == true {
                assert_eq!(value, expected["value"], "{what}");
            } else {
                // Only the expired variant is a miss in the original, for its date.
                assert_eq!(dir, "json/expired", "{what}");
            }
        }
    }
}

#[test]
fn key_order_does_not_matter() {
    let b = backend();
    let bytes = br#"{"expiration_date": "2100-01-01T00:00:00", "value": [1, "x"]}"#;
    assert_eq!(
        b.decode(bytes).map(|d| d.expiration).unwrap(),
        exp("2100-01-01T00:00:00")
    );
    let v: (u8, String) = dynb(&b).decode_value(bytes).unwrap();
    assert_eq!(v, (1, "x".into()));
}

#[test]
fn non_finite_floats_written_by_python_are_read() {
    let b = backend();
    let bytes = br#"{"value": {"a": NaN, "b": [Infinity, -Infinity, 1.5]}, "expiration_date": "2100-01-01T00:00:00.5"}"#;
    assert_eq!(
        b.decode(bytes).map(|d| d.expiration).unwrap(),
        exp("2100-01-01T00:00:00.500000")
    );
    #[derive(serde::Deserialize)]
    struct V {
        a: f64,
        b: Vec<f64>,
    }
    let v: V = dynb(&b).decode_value(bytes).unwrap();
    assert!(v.a.is_nan());
    assert_eq!(v.b, [f64::INFINITY, f64::NEG_INFINITY, 1.5]);
    // Our own NaN round-trips too.
    let ours = dynb(&b).encode(&[f64::NAN], None).unwrap();
    let back: Vec<f64> = dynb(&b).decode_value(&ours).unwrap();
    assert!(back[0].is_nan());
    // A NaN where an integer is wanted is the wrong type, not a decode error.
    assert!(matches!(
        dynb(&b).decode_value::<Vec<u8>>(&ours),
        Err(BackendError::WrongType(_))
    ));
    // "NaN" inside a string is just text, on the fast path.
    let text = br#"{"value": "NaN Infinity", "expiration_date": null}"#;
    assert_eq!(
        dynb(&b).decode_value::<String>(text).unwrap(),
        "NaN Infinity"
    );
}

#[test]
fn wrong_shapes_are_decode_errors() {
    let b = backend();
    let bad_documents = [
        &br#"{"value": 1}"#[..],
        br#"{"expiration_date": null}"#,
        br#"{"value": 1, "expiration_date": null, "extra": 2}"#,
        br#"{"value": 1, "value": 2, "expiration_date": null}"#,
        br#"[1, null]"#,
        br#"{"value": NaN}"#,
        br#"{"value": NaN, "expiration_date": null, "x": 1}"#,
        br#"{"value": nan, "expiration_date": null}"#,
        br#"{"value": 1, "expiration_date": null} x"#,
        b"\xef\xbb\xbf{\"value\": 1, \"expiration_date\": null}",
        b"",
    ];
    for bad in bad_documents {
        let shown = String::from_utf8_lossy(bad);
        let r = b.decode(bad).map(|d| d.expiration);
        assert!(matches!(r, Err(BackendError::Decode(_))), "{shown}: {r:?}");
        let r = dynb(&b).decode_value::<Value>(bad);
        assert!(matches!(r, Err(BackendError::Decode(_))), "{shown}: {r:?}");
    }
    // Valid documents whose expiration is unusable: the entry is unusable (a miss).
    let bad_expirations = [
        &br#"{"value": 1, "expiration_date": 5}"#[..],
        br#"{"value": 1, "expiration_date": "2100-01-01T00:00:00+01:00"}"#,
        br#"{"value": 1, "expiration_date": "2100-01-01T00:00:00Z"}"#,
        br#"{"value": 1, "expiration_date": "tomorrow"}"#,
        br#"{"value": NaN, "expiration_date": "soon"}"#,
    ];
    for bad in bad_expirations {
        let r = b.decode(bad).map(|d| d.expiration);
        assert!(
            matches!(r, Err(BackendError::Decode(_))),
            "{}: {r:?}",
            String::from_utf8_lossy(bad)
        );
    }
}

#[test]
fn empty_expiration_never_expires_as_in_the_original() {
    let b = backend();
    assert_eq!(
        b.decode(br#"{"value": 1, "expiration_date": ""}"#)
            .map(|d| d.expiration)
            .unwrap(),
        None
    );
}

#[test]
fn lenient_expirations_are_read() {
    let b = backend();
    assert_eq!(
        b.decode(br#"{"value": 1, "expiration_date": "2100-01-01"}"#)
            .map(|d| d.expiration)
            .unwrap(),
        exp("2100-01-01T00:00:00")
    );
    assert_eq!(
        b.decode(br#"{"value": 1, "expiration_date": "2100-01-01 10:30"}"#)
            .map(|d| d.expiration)
            .unwrap(),
        exp("2100-01-01T10:30:00")
    );
}

#[test]
fn a_value_of_the_wrong_type_is_wrong_type() {
    let b = backend();
    let bytes = dynb(&b).encode("text", None).unwrap();
    assert!(matches!(
        dynb(&b).decode_value::<u32>(&bytes),
        Err(BackendError::WrongType(_))
    ));
}

#[test]
fn bytes_cannot_be_stored_as_in_python() {
    struct Bytes;
    impl serde::Serialize for Bytes {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.serialize_bytes(b"ab")
        }
    }
    let b = backend();
    let mut out = b"keep".to_vec();
    let err = b.dump(&Bytes, None, &mut out).unwrap_err();
    assert!(matches!(err, BackendError::Encode(_)));
    assert_eq!(out, b"keep", "a failed dump leaves the buffer as it was");
}

#[test]
fn allow_nan_false_refuses_non_finite_floats() {
    let b = JsonBackend::new(JsonConfig::default().allow_nan(false)).unwrap();
    assert!(matches!(
        dynb(&b).encode(&f64::INFINITY, None),
        Err(BackendError::Encode(_))
    ));
}

#[test]
fn options_change_the_text() {
    let b = JsonBackend::new(JsonConfig::default().ensure_ascii(false)).unwrap();
    assert_eq!(
        dynb(&b).encode("värde", None).unwrap(),
        "{\"value\": \"värde\", \"expiration_date\": null}".as_bytes()
    );
    let b = JsonBackend::new(JsonConfig::default().sort_keys(true)).unwrap();
    let v = json!({"z": 1, "a": 2});
    assert_eq!(
        dynb(&b).encode(&v, exp("2100-01-01T00:00:00")).unwrap(),
        br#"{"expiration_date": "2100-01-01T00:00:00", "value": {"a": 2, "z": 1}}"#
    );
    let b = JsonBackend::new(JsonConfig::default().indent(Some(4))).unwrap();
    // json.dumps({"value": [1], "expiration_date": None}, indent=4)
    assert_eq!(
        dynb(&b).encode(&[1], None).unwrap(),
        b"{\n    \"value\": [\n        1\n    ],\n    \"expiration_date\": null\n}"
    );
    let back: Vec<u8> = dynb(&b)
        .decode_value(&dynb(&b).encode(&[1], None).unwrap())
        .unwrap();
    assert_eq!(back, [1]);
}

#[test]
fn factory_reads_options_and_refuses_unknown_ones() {
    let b = factory(
        &json!({"indent": 1, "sort_keys": true, "ensure_ascii": false, "allow_nan": false}),
    )
    .unwrap();
    assert_eq!(b.name(), "json");
    let err = factory(&json!({"indent": 1, "separators": [",", ":"]})).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("separators"), "{msg}");
    assert!(msg.contains("json"), "{msg}");
    let err = factory(&json!({"indent": "wide"})).unwrap_err();
    assert!(err.to_string().contains("indent") || err.to_string().contains("wide"));
    assert!(factory(&Value::Null).is_ok());
    assert!(factory(&json!({})).is_ok());
}

#[test]
fn registered_by_name() {
    register().unwrap();
    register().unwrap();
    let b = registry::backend(NAME, &Value::Null).unwrap();
    assert_eq!(b.file_extension(), "json");
    assert!(registry::backend(NAME, &json!({"bogus": 1})).is_err());
}

mod props {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn any_text_round_trips(s in any::<String>(), f in any::<f64>(), i in any::<i64>()) {
            let b = backend();
            let bytes = dynb(&b).encode(&(&s, f, i), None).unwrap();
            let (s2, f2, i2): (String, f64, i64) = dynb(&b).decode_value(&bytes).unwrap();
            prop_assert_eq!(s2, s);
            prop_assert!(f2 == f || (f.is_nan() && f2.is_nan()));
            prop_assert_eq!(i2, i);
        }

        #[test]
        fn garbage_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
            let b = backend();
            let _ = b.decode(&bytes).map(|d| d.expiration);
            let _ = dynb(&b).decode_value::<Value>(&bytes);
        }
    }
}

#[test]
fn decode_points_at_the_value_text() {
    use bucketcache_core::ValueLocation;
    let b = backend();
    let bytes = dynb(&b)
        .encode(&json!({"a": [1, 2.5]}), exp("2100-01-01T00:00:00"))
        .unwrap();
    let ValueLocation::Json(r) = b.decode(&bytes).unwrap().value else {
        panic!("no span")
    };
    assert_eq!(&bytes[r], br#"{"a": [1, 2.5]}"#);
    // Swapped key order (Python 2) and whitespace.
    let bytes = br#" { "expiration_date" : null , "value" : "x" } "#;
    let ValueLocation::Json(r) = b.decode(bytes).unwrap().value else {
        panic!("no span")
    };
    assert_eq!(&bytes[r], br#""x""#);
    // Files only the slow reader knows are a tree; broken files are errors.
    let slow = b
        .decode(br#"{"value": NaN, "expiration_date": null}"#)
        .unwrap();
    assert!(matches!(slow.value, ValueLocation::Tree(_)));
    assert!(b.decode(br#"{"value": 1}"#).is_err());
    // Through the span or not, the value is the same.
    let v: f64 = dynb(&b)
        .decode_value(br#"{"value": NaN, "expiration_date": null}"#)
        .unwrap();
    assert!(v.is_nan());
}

#[test]
fn dump_says_where_it_put_the_value_in_both_compact_layouts() {
    use bucketcache_core::ValueLocation;
    for sort_keys in [false, true] {
        let b = JsonBackend::new(JsonConfig::default().sort_keys(sort_keys)).unwrap();
        for e in [None, exp("2100-01-01T00:00:00.5")] {
            let mut out = Vec::new();
            let located = dynb(&b).dump(&json!({"a": [1, "}"]}), e, &mut out).unwrap();
            let Some(ValueLocation::Json(r)) = located else {
                panic!("no location with sort_keys = {sort_keys}")
            };
            assert_eq!(&out[r], br#"{"a": [1, "}"]}"#);
        }
    }
    let indented = JsonBackend::new(JsonConfig::default().indent(Some(1))).unwrap();
    assert!(dynb(&indented)
        .dump(&1, None, &mut Vec::new())
        .unwrap()
        .is_none());
}
