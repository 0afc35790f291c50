//! Unit tests of the msgpack backend: byte-identity with the original's fixtures, reading them,
//! options, encoding rules and hostile input.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use bucketcache_core::time::parse_expiration;
use bucketcache_core::{Backend, BackendError};
use serde::de::{self, IgnoredAny};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::*;

fn backend() -> MsgpackBackend {
    MsgpackBackend::default()
}

fn enc<V: Serialize + ?Sized>(b: &MsgpackBackend, v: &V) -> Result<Vec<u8>, BackendError> {
    (b as &dyn Backend).encode(v, None)
}

/// The encoding of `v` alone (without the envelope around it).
fn value_bytes<V: Serialize + ?Sized>(b: &MsgpackBackend, v: &V) -> Vec<u8> {
    let whole = enc(b, v).unwrap();
    let env = decode::envelope(&whole).unwrap();
    env.value.to_vec()
}

fn dec<V: de::DeserializeOwned>(bytes: &[u8]) -> Result<V, BackendError> {
    (&backend() as &dyn Backend).decode_value(bytes)
}

fn fixtures(which: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures")
        .join(which)
}

fn manifest(which: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(fixtures(which).join("manifest.json")).unwrap();
    let m: Value = serde_json::from_str(&text).unwrap();
    m["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["backend"] == "MessagePackBackend")
        .cloned()
        .collect()
}

fn fixture_bytes(which: &str, entry: &Value) -> Vec<u8> {
    let path = fixtures(which)
        .join(entry["dir"].as_str().unwrap())
        .join(entry["filename"].as_str().unwrap());
    std::fs::read(path).unwrap()
}

fn expiration_of(entry: &Value) -> Option<Expiration> {
    entry["expiration_date"]
        .as_str()
        .map(|s| parse_expiration(s).unwrap())
}

#[derive(Serialize)]
struct FixtureDict {
    x: u8,
    y: (bool, bool),
    z: Option<u8>,
}

#[derive(Serialize)]
struct FixtureNested {
    list: Vec<(u8, (u8, Vec<u8>))>,
    empty: BTreeMap<String, u8>,
    emptylist: Vec<u8>,
}

/// The Rust value that stands for a fixture's Python value. Tuples, int-keyed dicts and dicts
/// whose order matters need typed values; the others are JSON scalars.
fn fixture_value(entry: &Value) -> Box<dyn erased_serde::Serialize> {
    match entry["key_id"].as_str().unwrap() {
        "tuple" => Box::new((1u8, 2.5f64, "three", None::<u8>)),
        "v_tuple" => Box::new((1i32, 2i64)),
        "v_intkeydict" => Box::new(BTreeMap::from([(1i64, "a")])),
        "dict" => Box::new(FixtureDict {
            x: 1,
            y: (true, false),
            z: None,
        }),
        "v_nested" => Box::new(FixtureNested {
            list: vec![(1, (2, vec![3]))],
            empty: BTreeMap::new(),
            emptylist: vec![],
        }),
        _ => {
            let v = entry["value"].clone();
            assert!(!v.is_object() && !v.is_array(), "untyped container fixture");
            Box::new(v)
        }
    }
}

#[test]
fn python_fixtures_are_reproduced_byte_for_byte() {
    let b = backend();
    let mut checked = 0;
    for entry in manifest("python-bucketcache-0.12.1") {
        let dir = entry["dir"].as_str().unwrap();
        if !["msgpack/plain", "msgpack/lifetime", "msgpack/lifetime0"].contains(&dir) {
            continue;
        }
        let value = fixture_value(&entry);
        let ours = (&b as &dyn Backend)
            .encode(&*value, expiration_of(&entry))
            .unwrap();
        let theirs = fixture_bytes("python-bucketcache-0.12.1", &entry);
        assert_eq!(
            ours, theirs,
            "{dir}/{} ({})",
            entry["filename"], entry["key_id"]
        );
        checked += 1;
    }
    assert_eq!(checked, 48);
}

/// A JSON picture of any msgpack value, as the fixture manifests write them: bytes become
/// `{"__bytes_hex__": hex}` and non-string map keys their JSON text.
struct Pictured(Value);

impl<'de> Deserialize<'de> for Pictured {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> de::Visitor<'de> for V {
            type Value = Pictured;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("any msgpack value")
            }
            fn visit_bool<E>(self, v: bool) -> Result<Pictured, E> {
                Ok(Pictured(json!(v)))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Pictured, E> {
                Ok(Pictured(json!(v)))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Pictured, E> {
                Ok(Pictured(json!(v)))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Pictured, E> {
                Ok(Pictured(json!(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Pictured, E> {
                Ok(Pictured(json!(v)))
            }
            fn visit_bytes<E>(self, v: &[u8]) -> Result<Pictured, E> {
                let hex: String = v.iter().map(|b| format!("{b:02x}")).collect();
                Ok(Pictured(json!({ "__bytes_hex__": hex })))
            }
            fn visit_unit<E>(self) -> Result<Pictured, E> {
                Ok(Pictured(Value::Null))
            }
            fn visit_none<E>(self) -> Result<Pictured, E> {
                Ok(Pictured(Value::Null))
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut a: A) -> Result<Pictured, A::Error> {
                let mut out = Vec::new();
                while let Some(Pictured(v)) = a.next_element()? {
                    out.push(v);
                }
                Ok(Pictured(Value::Array(out)))
            }
            fn visit_map<A: de::MapAccess<'de>>(self, mut a: A) -> Result<Pictured, A::Error> {
                let mut out = serde_json::Map::new();
                while let Some((Pictured(k), Pictured(v))) = a.next_entry()? {
                    // Python 2 bytes keys appear as text in the manifests.
                    let k = match k {
                        Value::String(s) => s,
                        Value::Object(o) if o.contains_key("__bytes_hex__") => {
                            let hex = o["__bytes_hex__"].as_str().unwrap_or_default();
                            let raw: Vec<u8> = (0..hex.len())
                                .step_by(2)
                                .filter_map(|i| u8::from_str_radix(&hex[i..i + 2], 16).ok())
                                .collect();
                            String::from_utf8_lossy(&raw).into_owned()
                        }
                        other => other.to_string(),
                    };
                    out.insert(k, v);
                }
                Ok(Pictured(Value::Object(out)))
            }
        }
        d.deserialize_any(V)
    }
}

fn check_reads_as_manifest(which: &str) -> usize {
    let b = backend();
    let mut checked = 0;
    for entry in manifest(which) {
        let dir = entry["dir"].as_str().unwrap();
        if dir.ends_with("corrupt") {
            continue;
        }
        let bytes = fixture_bytes(which, &entry);
        let what = format!("{which}/{dir}/{}", entry["filename"]);
        let exp = b
            .load_expiration(&bytes)
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(exp, expiration_of(&entry), "{what}");
        let Pictured(v) = dec(&bytes).unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(v, entry["value"], "{what}");
        checked += 1;
    }
    checked
}

#[test]
fn python3_fixtures_read_as_the_original_wrote_them() {
    assert_eq!(check_reads_as_manifest("python-bucketcache-0.12.1"), 64);
}

#[test]
fn python2_fixtures_with_bin_strings_are_read() {
    assert_eq!(
        check_reads_as_manifest("python-bucketcache-0.12.1-py27"),
        64
    );
}

#[test]
fn python2_bin_strings_decode_into_rust_strings() {
    let which = "python-bucketcache-0.12.1-py27";
    let entry = manifest(which)
        .into_iter()
        .find(|e| e["dir"] == "msgpack/lifetime" && e["key_id"] == "str")
        .unwrap();
    let bytes = fixture_bytes(which, &entry);
    assert_eq!(bytes[1], 0xc4, "the py27 envelope keys are bin");
    assert_eq!(dec::<String>(&bytes).unwrap(), "this");
}

#[test]
fn typed_values_decode_from_python_fixtures() {
    let which = "python-bucketcache-0.12.1";
    let find = |id: &str| {
        let e = manifest(which)
            .into_iter()
            .find(|e| e["dir"] == "msgpack/plain" && e["key_id"] == id)
            .unwrap();
        fixture_bytes(which, &e)
    };
    let m: HashMap<i64, String> = dec(&find("v_intkeydict")).unwrap();
    assert_eq!(m, HashMap::from([(1, "a".to_string())]));
    let t: (u8, f64, String, Option<u8>) = dec(&find("tuple")).unwrap();
    assert_eq!(t, (1, 2.5, "three".into(), None));
    assert_eq!(dec::<u64>(&find("v_bigint")).unwrap(), 1 << 40);
    assert_eq!(dec::<i8>(&find("v_negint")).unwrap(), -7);
    assert_eq!(dec::<f32>(&find("float")).unwrap(), 1.0);
    // A value that decodes but not into the requested type is an error (a miss).
    assert!(matches!(
        dec::<u8>(&find("v_bigint")),
        Err(BackendError::WrongType(_))
    ));
}

#[test]
fn corrupt_fixtures_are_decode_errors() {
    let b = backend();
    let mut checked = 0;
    for which in [
        "python-bucketcache-0.12.1",
        "python-bucketcache-0.12.1-py27",
    ] {
        for entry in manifest(which) {
            if !entry["dir"].as_str().unwrap().ends_with("corrupt") {
                continue;
            }
            let bytes = fixture_bytes(which, &entry);
            assert!(
                matches!(b.load_expiration(&bytes), Err(BackendError::Decode(_))),
                "{}",
                entry["filename"]
            );
            assert!(dec::<IgnoredAny>(&bytes).is_err());
            checked += 1;
        }
    }
    assert_eq!(checked, 32);
}

#[test]
fn the_backend_passes_runtime_validation() {
    bucketcache_core::validate::validate_backend(&backend(), "test").unwrap();
    let raw = MsgpackBackend::new(MsgpackConfig {
        use_single_float: true,
        use_bin_type: false,
    });
    bucketcache_core::validate::validate_backend(&raw, "test").unwrap();
}

#[test]
fn registry_builds_it_by_name_with_options() {
    register().unwrap();
    register().unwrap();
    let b = registry::backend(NAME, &json!({"use_single_float": true})).unwrap();
    assert_eq!(b.encode(&1.5f64, None).unwrap()[7], 0xca);
    let info = registry::backends()
        .into_iter()
        .find(|b| b.name == NAME)
        .unwrap();
    assert_eq!(
        info.python_class_name.as_deref(),
        Some("MessagePackBackend")
    );
    assert!(info.binary);
}

#[test]
fn unknown_options_are_refused_by_name() {
    let err = factory(&json!({"use_singel_float": true})).unwrap_err();
    assert!(err.to_string().contains("use_singel_float"), "{err}");
    assert!(factory(&json!({"use_bin_type": "yes"})).is_err());
    assert!(factory(&json!({})).is_ok());
}

#[test]
fn integers_take_the_smallest_encoding() {
    let b = backend();
    let cases: &[(i64, &[u8])] = &[
        (0, &[0x00]),
        (127, &[0x7f]),
        (128, &[0xcc, 0x80]),
        (255, &[0xcc, 0xff]),
        (256, &[0xcd, 0x01, 0x00]),
        (65535, &[0xcd, 0xff, 0xff]),
        (65536, &[0xce, 0, 1, 0, 0]),
        (1 << 32, &[0xcf, 0, 0, 0, 1, 0, 0, 0, 0]),
        (-1, &[0xff]),
        (-32, &[0xe0]),
        (-33, &[0xd0, 0xdf]),
        (-128, &[0xd0, 0x80]),
        (-129, &[0xd1, 0xff, 0x7f]),
        (-32768, &[0xd1, 0x80, 0x00]),
        (-32769, &[0xd2, 0xff, 0xff, 0x7f, 0xff]),
        (-(1 << 31), &[0xd2, 0x80, 0, 0, 0]),
        (
            -(1 << 31) - 1,
            &[0xd3, 0xff, 0xff, 0xff, 0xff, 0x7f, 0xff, 0xff, 0xff],
        ),
    ];
    for (n, want) in cases {
        assert_eq!(value_bytes(&b, n), *want, "{n}");
        assert_eq!(value_bytes(&b, &i128::from(*n)), *want, "{n} as i128");
        assert_eq!(dec::<i64>(&enc(&b, n).unwrap()).unwrap(), *n);
    }
    // Signed Rust types still use the uint family for non-negative values, as Python does.
    assert_eq!(value_bytes(&b, &200i16), [0xcc, 200]);
    assert_eq!(
        value_bytes(&b, &u64::MAX),
        [0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]
    );
    assert_eq!(value_bytes(&b, &u128::from(u64::MAX)).len(), 9);
}

#[test]
fn integers_beyond_64_bits_cannot_be_encoded() {
    let b = backend();
    for err in [
        enc(&b, &(u128::from(u64::MAX) + 1)).unwrap_err(),
        enc(&b, &(i128::from(i64::MIN) - 1)).unwrap_err(),
    ] {
        assert!(matches!(err, BackendError::Encode(_)), "{err}");
    }
}

#[test]
fn a_failed_dump_leaves_the_buffer_as_it_was() {
    let mut out = b"before".to_vec();
    let r = backend().dump(&vec![1u128, u128::MAX], None, &mut out);
    assert!(r.is_err());
    assert_eq!(out, b"before");
}

#[test]
fn floats_are_float64_unless_single_float_is_asked() {
    let b = backend();
    assert_eq!(
        value_bytes(&b, &1.5f32),
        [0xcb, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0]
    );
    assert_eq!(value_bytes(&b, &1.5f64)[0], 0xcb);
    let single = MsgpackBackend::new(MsgpackConfig {
        use_single_float: true,
        ..Default::default()
    });
    assert_eq!(value_bytes(&single, &1.5f64), [0xca, 0x3f, 0xc0, 0, 0]);
    assert_eq!(dec::<f64>(&enc(&single, &1.5f64).unwrap()).unwrap(), 1.5);
    // As Python: a finite float beyond float32's range is an error, infinity is not.
    assert!(matches!(enc(&single, &1e300), Err(BackendError::Encode(_))));
    assert_eq!(
        value_bytes(&single, &f64::INFINITY),
        [0xca, 0x7f, 0x80, 0, 0]
    );
}

#[test]
fn strings_and_bytes_use_the_str_and_bin_families() {
    let b = backend();
    let s31 = "x".repeat(31);
    let s40 = "x".repeat(40);
    let s300 = "x".repeat(300);
    let s70k = "x".repeat(70_000);
    assert_eq!(value_bytes(&b, &s31)[0], 0xbf);
    assert_eq!(value_bytes(&b, &s40)[..2], [0xd9, 40]);
    assert_eq!(value_bytes(&b, &s300)[..3], [0xda, 0x01, 0x2c]);
    assert_eq!(value_bytes(&b, &s70k)[..5], [0xdb, 0, 1, 0x11, 0x70]);
    assert_eq!(value_bytes(&b, &'é'), [0xa2, 0xc3, 0xa9]);
    let bytes = serde_bytes::Bytes::new(&[1, 2, 3]);
    assert_eq!(value_bytes(&b, bytes), [0xc4, 3, 1, 2, 3]);
    assert_eq!(
        value_bytes(&b, serde_bytes::Bytes::new(&[0; 300]))[..3],
        [0xc5, 1, 0x2c]
    );
    let back: serde_bytes::ByteBuf = dec(&enc(&b, bytes).unwrap()).unwrap();
    assert_eq!(back.as_ref(), [1, 2, 3]);
    let back: String = dec(&enc(&b, &s300).unwrap()).unwrap();
    assert_eq!(back, s300);
}

#[test]
fn without_bin_type_bytes_are_raw_strings_and_str8_is_not_used() {
    let raw = MsgpackBackend::new(MsgpackConfig {
        use_bin_type: false,
        ..Default::default()
    });
    let s40 = "x".repeat(40);
    assert_eq!(value_bytes(&raw, &s40)[..3], [0xda, 0, 40]);
    assert_eq!(
        value_bytes(&raw, serde_bytes::Bytes::new(&[1, 2])),
        [0xa2, 1, 2]
    );
    let back: serde_bytes::ByteBuf =
        dec(&enc(&raw, serde_bytes::Bytes::new(b"ab")).unwrap()).unwrap();
    assert_eq!(back.as_ref(), b"ab");
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Person {
    name: String,
    age: u8,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    email: Option<String>,
    tags: Vec<String>,
}

fn record() -> Person {
    Person {
        name: "Grace".into(),
        age: 85,
        email: Some("g@example.com".into()),
        tags: vec!["navy".into(); 3],
    }
}

#[test]
fn structs_are_maps_in_declaration_order() {
    let b = backend();
    let p = Person {
        name: "Ada".into(),
        age: 36,
        email: None,
        tags: vec!["x".into()],
    };
    let bytes = value_bytes(&b, &p);
    let mut want = vec![0x83, 0xa4];
    want.extend_from_slice(b"name\xa3Ada\xa3age\x24\xa4tags\x91\xa1x");
    assert_eq!(bytes, want);
    assert_eq!(dec::<Person>(&enc(&b, &p).unwrap()).unwrap(), p);
}

/// A map that does not say its length up front.
struct Unsized(usize);

impl Serialize for Unsized {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(None)?;
        for i in 0..self.0 {
            m.serialize_entry(&i, &(i % 3 == 0))?;
        }
        m.end()
    }
}

#[test]
fn maps_of_unknown_length_get_the_smallest_header() {
    let b = backend();
    assert_eq!(value_bytes(&b, &Unsized(0)), [0x80]);
    assert_eq!(
        value_bytes(&b, &Unsized(3)),
        [0x83, 0, 0xc3, 1, 0xc2, 2, 0xc2]
    );
    let big = value_bytes(&b, &[Unsized(20)]);
    assert_eq!(big[..4], [0x91, 0xde, 0, 20]);
    let back: Vec<BTreeMap<u32, bool>> = dec(&enc(&b, &[Unsized(20)]).unwrap()).unwrap();
    assert_eq!(back[0].len(), 20);
    assert!(back[0][&18]);
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
enum Shape {
    Empty,
    Circle(f64),
    Rect(u32, u32),
    Named { label: String },
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Marker;

#[test]
fn types_with_a_compact_form_round_trip() {
    // The writer and rmp_serde's reader agree that msgpack is not human readable.
    let b = backend();
    let addrs: Vec<std::net::IpAddr> = vec!["10.0.0.1".parse().unwrap(), "::1".parse().unwrap()];
    let back: Vec<std::net::IpAddr> = dec(&enc(&b, &addrs).unwrap()).unwrap();
    assert_eq!(back, addrs);
    let d = Duration::new(5, 7);
    assert_eq!(dec::<Duration>(&enc(&b, &d).unwrap()).unwrap(), d);
}

#[test]
fn enums_options_and_unit_round_trip() {
    let b = backend();
    assert_eq!(value_bytes(&b, &Shape::Empty), b"\xa5Empty");
    assert_eq!(
        value_bytes(&b, &Shape::Rect(1, 2)),
        b"\x81\xa4Rect\x92\x01\x02"
    );
    let shapes = vec![
        Shape::Empty,
        Shape::Circle(0.5),
        Shape::Rect(3, 4),
        Shape::Named { label: "n".into() },
    ];
    assert_eq!(
        dec::<Vec<Shape>>(&enc(&b, &shapes).unwrap()).unwrap(),
        shapes
    );
    assert_eq!(value_bytes(&b, &None::<u8>), [0xc0]);
    assert_eq!(value_bytes(&b, &()), [0xc0]);
    assert_eq!(value_bytes(&b, &Marker), [0xc0]);
    assert_eq!(dec::<Marker>(&enc(&b, &Marker).unwrap()).unwrap(), Marker);
    assert_eq!(
        dec::<Option<u8>>(&enc(&b, &Some(3u8)).unwrap()).unwrap(),
        Some(3)
    );
    let m = HashMap::from([(-5i64, "neg".to_string()), (7, "pos".into())]);
    assert_eq!(
        dec::<HashMap<i64, String>>(&enc(&b, &m).unwrap()).unwrap(),
        m
    );
}

#[test]
fn expirations_are_written_as_python_isoformat() {
    let b = backend();
    let e = parse_expiration("2100-01-01T00:00:00.123456").unwrap();
    let bytes = (&b as &dyn Backend).encode("this", Some(e)).unwrap();
    assert!(bytes.ends_with(b"\xba2100-01-01T00:00:00.123456"));
    assert_eq!(b.load_expiration(&bytes).unwrap(), Some(e));
    let e0 = parse_expiration("2100-01-01T00:00:00").unwrap();
    let bytes = (&b as &dyn Backend).encode("this", Some(e0)).unwrap();
    assert!(bytes.ends_with(b"\xb32100-01-01T00:00:00"));
}

/// An envelope with these raw parts.
fn envelope(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

const VALUE: &[u8] = b"\xa5value";
const EXP: &[u8] = b"\xafexpiration_date";

#[test]
fn envelope_keys_may_come_in_any_order_and_any_width() {
    let b = backend();
    let swapped = envelope(&[b"\x82", EXP, b"\xc0", VALUE, b"\x01"]);
    assert_eq!(b.load_expiration(&swapped).unwrap(), None);
    assert_eq!(dec::<u8>(&swapped).unwrap(), 1);
    let wide = envelope(&[b"\xde\x00\x02\xd9\x05value\x01", EXP, b"\xc0"]);
    assert_eq!(dec::<u8>(&wide).unwrap(), 1);
}

#[test]
fn malformed_envelopes_are_decode_errors() {
    let b = backend();
    let bad: Vec<(&str, Vec<u8>)> = vec![
        ("empty", vec![]),
        ("not a map", b"\x92\x01\xc0".to_vec()),
        ("one entry", envelope(&[b"\x81", VALUE, b"\x01"])),
        (
            "three entries",
            envelope(&[b"\x83", VALUE, b"\x01", EXP, b"\xc0", b"\xa1x\x01"]),
        ),
        (
            "duplicate key",
            envelope(&[b"\x82", VALUE, b"\x01", VALUE, b"\x01"]),
        ),
        (
            "foreign key",
            envelope(&[b"\x82", VALUE, b"\x01", b"\xa4date\xc0"]),
        ),
        ("int key", envelope(&[b"\x82", VALUE, b"\x01", b"\x01\xc0"])),
        (
            "trailing bytes",
            envelope(&[b"\x82", VALUE, b"\x01", EXP, b"\xc0\x00"]),
        ),
        (
            "int expiration",
            envelope(&[b"\x82", VALUE, b"\x01", EXP, b"\x01"]),
        ),
        (
            "empty expiration",
            envelope(&[b"\x82", VALUE, b"\x01", EXP, b"\xa0"]),
        ),
        (
            "tz-aware",
            envelope(&[
                b"\x82",
                VALUE,
                b"\x01",
                EXP,
                b"\xb92100-01-01T00:00:00+01:00",
            ]),
        ),
        (
            "garbage date",
            envelope(&[b"\x82", VALUE, b"\x01", EXP, b"\xa8tomorrow"]),
        ),
        (
            "invalid utf-8 date",
            envelope(&[b"\x82", VALUE, b"\x01", EXP, b"\xa2\xff\xfe"]),
        ),
        (
            "reserved marker",
            envelope(&[b"\x82", VALUE, b"\xc1", EXP, b"\xc0"]),
        ),
    ];
    for (what, bytes) in bad {
        assert!(
            matches!(b.load_expiration(&bytes), Err(BackendError::Decode(_))),
            "{what}"
        );
    }
}

#[test]
fn every_truncation_is_an_error() {
    let b = backend();
    let value = (
        Person {
            name: "Grace".into(),
            age: 85,
            email: Some("g@example.com".into()),
            tags: vec!["navy".into(); 3],
        },
        serde_bytes::ByteBuf::from(vec![7u8; 40]),
        vec![1.5f64, -2.0],
        Shape::Named {
            label: "x".repeat(300),
        },
        u64::MAX,
        i64::MIN,
    );
    let e = parse_expiration("2100-01-01T00:00:00.5").unwrap();
    let whole = (&b as &dyn Backend).encode(&value, Some(e)).unwrap();
    assert_eq!(b.load_expiration(&whole).unwrap(), Some(e));
    for cut in 0..whole.len() {
        assert!(b.load_expiration(&whole[..cut]).is_err(), "prefix of {cut}");
        assert!(dec::<IgnoredAny>(&whole[..cut]).is_err(), "prefix of {cut}");
    }
}

/// `value` (raw bytes) as the value of an otherwise valid envelope.
fn hostile(value: &[u8]) -> Vec<u8> {
    envelope(&[b"\x82", VALUE, value, EXP, b"\xc0"])
}

#[test]
fn huge_declared_lengths_fail_fast_without_allocating() {
    let b = backend();
    let started = Instant::now();
    for value in [
        &b"\xdd\xff\xff\xff\xff"[..],
        b"\xdf\xff\xff\xff\xff",
        b"\xdb\xff\xff\xff\xff",
        b"\xc6\xff\xff\xff\xff",
        b"\xc9\xff\xff\xff\xff\x01",
        b"\xdc\xff\xff\x01",
        b"\x9f\x01",
    ] {
        let bytes = hostile(value);
        assert!(b.load_expiration(&bytes).is_err(), "{value:?}");
        assert!(dec::<Value>(&bytes).is_err(), "{value:?}");
        assert!(dec::<Vec<u8>>(&bytes).is_err(), "{value:?}");
    }
    assert!(started.elapsed() < Duration::from_secs(1));
}

fn nested_arrays(depth: usize) -> Vec<u8> {
    let mut v = vec![0x91; depth];
    v.push(0x01);
    v
}

#[test]
fn deep_nesting_is_refused_without_overflowing_the_stack() {
    let b = backend();
    let started = Instant::now();
    let deep = hostile(&nested_arrays(100_000));
    assert!(matches!(
        b.load_expiration(&deep),
        Err(BackendError::Decode(_))
    ));
    assert!(dec::<Value>(&deep).is_err());
    assert!(hostile(&nested_arrays(MAX_DEPTH + 1)).len() > MAX_DEPTH);
    assert!(b
        .load_expiration(&hostile(&nested_arrays(MAX_DEPTH + 1)))
        .is_err());
    assert!(started.elapsed() < Duration::from_secs(1));
}

#[test]
fn nesting_up_to_the_limit_round_trips() {
    let b = backend();
    let ok = hostile(&nested_arrays(MAX_DEPTH));
    assert_eq!(b.load_expiration(&ok).unwrap(), None);
    // Decode on a thread with a known stack: serde recursion is the value's own.
    let v = std::thread::Builder::new()
        .stack_size(8 << 20)
        .spawn(move || dec::<IgnoredAny>(&ok).is_ok())
        .unwrap()
        .join()
        .unwrap();
    assert!(v);
}

/// `n` nested one-element arrays around a `1`, or around an enum variant when `variant` is set.
struct Deep(usize, bool);

impl Serialize for Deep {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let mut seq = s.serialize_seq(Some(1))?;
        if self.0 > 1 {
            seq.serialize_element(&Deep(self.0 - 1, self.1))?;
        } else if self.1 {
            seq.serialize_element(&Shape::Circle(1.0))?;
        } else {
            seq.serialize_element(&1u8)?;
        }
        seq.end()
    }
}

#[test]
fn values_deeper_than_the_limit_are_not_written() {
    let b = backend();
    let at_limit = enc(&b, &Deep(MAX_DEPTH, false)).unwrap();
    assert_eq!(b.load_expiration(&at_limit).unwrap(), None);
    assert!(matches!(
        enc(&b, &Deep(MAX_DEPTH + 1, false)),
        Err(BackendError::Encode(_))
    ));
    // An enum variant's `{name: data}` wrapper counts as a level, when written and when read.
    let at_limit = enc(&b, &Deep(MAX_DEPTH - 1, true)).unwrap();
    assert_eq!(b.load_expiration(&at_limit).unwrap(), None);
    assert!(enc(&b, &Deep(MAX_DEPTH, true)).is_err());
}

mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let b = backend();
            let _ = b.load_expiration(&bytes);
            let _ = dec::<IgnoredAny>(&bytes);
            let _ = dec::<Value>(&bytes);
        }

        #[test]
        fn arbitrary_values_inside_a_valid_envelope_never_panic(
            value in proptest::collection::vec(any::<u8>(), 0..256),
        ) {
            let bytes = hostile(&value);
            let b = backend();
            if b.load_expiration(&bytes).is_ok() {
                // A structurally valid value is exactly one object.
                prop_assert!(dec::<IgnoredAny>(&bytes).is_ok());
            }
            let _ = dec::<Pictured>(&bytes);
            let _ = dec::<Vec<Shape>>(&bytes);
        }

        /// Where rmp_serde agrees with Python (no f32, no i128, no enums), the bytes are equal.
        #[test]
        fn value_bytes_agree_with_rmp_serde(
            ints in proptest::collection::vec(any::<i64>(), 0..20),
            uints in proptest::collection::btree_map(".{0,40}", any::<u64>(), 0..20),
            f in any::<f64>(), s in ".{0,300}", flag in any::<Option<bool>>(),
            bytes in proptest::collection::vec(any::<u8>(), 0..300),
        ) {
            let value = (ints, uints, f, s, flag, serde_bytes::ByteBuf::from(bytes));
            let theirs = rmp_serde::to_vec_named(&value).unwrap();
            prop_assert_eq!(value_bytes(&backend(), &value), theirs);
        }

        #[test]
        fn mutated_files_never_panic(at in any::<prop::sample::Index>(), byte in any::<u8>(), insert in any::<bool>()) {
            let b = backend();
            let value = (record(), vec![Shape::Rect(1, 2), Shape::Named { label: "n".into() }]);
            let e = parse_expiration("2100-01-01T00:00:00.5").unwrap();
            let mut bytes = (&b as &dyn Backend).encode(&value, Some(e)).unwrap();
            let i = at.index(bytes.len());
            if insert { bytes.insert(i, byte) } else { bytes[i] = byte }
            if b.load_expiration(&bytes).is_ok() {
                prop_assert!(dec::<IgnoredAny>(&bytes).is_ok());
            }
            let _ = dec::<Pictured>(&bytes);
            let _ = dec::<(Person, Vec<Shape>)>(&bytes);
        }

        #[test]
        fn encoded_values_round_trip(
            n in any::<i64>(), u in any::<u64>(), f in any::<f64>().prop_filter("nan", |f| !f.is_nan()),
            s in ".{0,80}", bytes in proptest::collection::vec(any::<u8>(), 0..300),
        ) {
            let b = backend();
            let value = (n, u, f, s, serde_bytes::ByteBuf::from(bytes));
            let out = enc(&b, &value).unwrap();
            prop_assert_eq!(b.load_expiration(&out).unwrap(), None);
            let back: (i64, u64, f64, String, serde_bytes::ByteBuf) = dec(&out).unwrap();
            prop_assert_eq!(back, value);
        }
    }
}
