//! Byte-identity with the original's fixtures, and reading them.

use super::*;

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
pub(super) struct Pictured(Value);

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
            .decode(&bytes)
            .map(|d| d.expiration)
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
                matches!(
                    b.decode(&bytes).map(|d| d.expiration),
                    Err(BackendError::Decode(_))
                ),
                "{}",
                entry["filename"]
            );
            assert!(dec::<IgnoredAny>(&bytes).is_err());
            checked += 1;
        }
    }
    assert_eq!(checked, 32);
}
