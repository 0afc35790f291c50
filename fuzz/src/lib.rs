//! Checks shared by the fuzz targets in `fuzz_targets/` (see README.md).
//!
//! Every check panics when an invariant breaks: libFuzzer reports a panic (and an abort, a
//! timeout or an out-of-memory) as a crash and saves the input.

use std::fmt;

use arbitrary::{Arbitrary, Unstructured};
use bucketcache::Backend;
use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};

/// What a decoder must do with any bytes: answer (a value or an error) without panicking, and
/// agree with itself.
///
/// * `decode` and `decode_value::<serde_json::Value>` return, whatever the bytes;
/// * a value that decodes and an expiration that loads survive a round trip through the same
///   backend: encoding them again gives bytes that decode to an equal value and expiration.
pub fn check_decoder(backend: &dyn Backend, data: &[u8]) {
    let expiration = backend.decode(data).map(|d| d.expiration);
    let value = backend.decode_value::<serde_json::Value>(data);
    // Typed decodes take other paths through the deserializer (type mismatches, strings).
    let _ = backend.decode_value::<String>(data);
    let _ = backend.decode_value::<Vec<i64>>(data);
    let _ = backend.decode_value::<std::collections::BTreeMap<String, f64>>(data);

    let (Ok(expiration), Ok(value)) = (expiration, value) else {
        return;
    };
    let again = match backend.encode(&value, expiration) {
        Ok(bytes) => bytes,
        // A decoded value the format cannot write back (e.g. a non-finite float where it is
        // not allowed) is not a decoder bug.
        Err(_) => return,
    };
    let expiration_again = backend
        .decode(&again).map(|d| d.expiration)
        .unwrap_or_else(|e| panic!("{}: re-encoded envelope does not load: {e}", backend.name()));
    assert_eq!(
        expiration_again,
        expiration,
        "{}: expiration changed in a round trip",
        backend.name()
    );
    let value_again = backend
        .decode_value::<serde_json::Value>(&again)
        .unwrap_or_else(|e| panic!("{}: re-encoded value does not decode: {e}", backend.name()));
    assert_eq!(
        value_again,
        value,
        "{}: value changed in a round trip",
        backend.name()
    );
}

/// How deep a fuzzed key may nest: keys come from the program, not from files, so unbounded
/// recursion in the key serializer is not a hostile-input problem; `serde_json` stops at 128.
pub const MAX_KEY_DEPTH: usize = 100;

/// A key built from fuzz bytes: every shape a JSON-expressible key can have, including the
/// awkward ones (non-finite floats, huge integers, mixed map key kinds, duplicate map keys).
#[derive(Debug, Clone)]
pub enum Key {
    /// `None` / unit.
    Null,
    /// A bool.
    Bool(bool),
    /// A signed integer.
    I64(i64),
    /// An unsigned integer (above `i64::MAX` too).
    U64(u64),
    /// A float, `NaN` and infinities included.
    F64(f64),
    /// A string.
    Str(String),
    /// A list (a tuple serializes the same way).
    List(Vec<Key>),
    /// A map, entries in generation order (duplicates possible).
    Map(Vec<(MapKey, Key)>),
}

/// A map key: what Python's `json.dumps` accepts as a dict key.
#[derive(Debug, Clone, Arbitrary)]
pub enum MapKey {
    /// `None`.
    Null,
    /// A bool.
    Bool(bool),
    /// A signed integer.
    I64(i64),
    /// An unsigned integer.
    U64(u64),
    /// A float.
    F64(f64),
    /// A string.
    Str(String),
}

impl Key {
    /// Builds a key, nesting at most `depth` levels.
    fn arbitrary_depth(u: &mut Unstructured<'_>, depth: usize) -> arbitrary::Result<Key> {
        let leaf_kinds = 6;
        let kinds = if depth == 0 {
            leaf_kinds
        } else {
            leaf_kinds + 2
        };
        Ok(match u.choose_index(kinds)? {
            0 => Key::Null,
            1 => Key::Bool(u.arbitrary()?),
            2 => Key::I64(u.arbitrary()?),
            3 => Key::U64(u.arbitrary()?),
            4 => Key::F64(u.arbitrary()?),
            5 => Key::Str(u.arbitrary()?),
            6 => {
                let mut items = Vec::new();
                while !u.is_empty() && u.arbitrary::<bool>()? {
                    items.push(Key::arbitrary_depth(u, depth - 1)?);
                }
                Key::List(items)
            }
            _ => {
                let mut entries = Vec::new();
                while !u.is_empty() && u.arbitrary::<bool>()? {
                    entries.push((u.arbitrary()?, Key::arbitrary_depth(u, depth - 1)?));
                }
                Key::Map(entries)
            }
        })
    }

    /// Whether the key holds a `NaN` or an infinity (which JSON text cannot express).
    pub fn has_non_finite(&self) -> bool {
        match self {
            Key::F64(f) => !f.is_finite(),
            Key::List(items) => items.iter().any(Key::has_non_finite),
            Key::Map(entries) => entries
                .iter()
                .any(|(k, v)| matches!(k, MapKey::F64(f) if !f.is_finite()) || v.has_non_finite()),
            _ => false,
        }
    }
}

impl<'a> Arbitrary<'a> for Key {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        Key::arbitrary_depth(u, MAX_KEY_DEPTH)
    }
}

impl Serialize for Key {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Key::Null => s.serialize_unit(),
            Key::Bool(b) => s.serialize_bool(*b),
            Key::I64(i) => s.serialize_i64(*i),
            Key::U64(u) => s.serialize_u64(*u),
            Key::F64(f) => s.serialize_f64(*f),
            Key::Str(t) => s.serialize_str(t),
            Key::List(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Key::Map(entries) => {
                let mut map = s.serialize_map(Some(entries.len()))?;
                for (k, v) in entries {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
        }
    }
}

impl Serialize for MapKey {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            MapKey::Null => s.serialize_unit(),
            MapKey::Bool(b) => s.serialize_bool(*b),
            MapKey::I64(i) => s.serialize_i64(*i),
            MapKey::U64(u) => s.serialize_u64(*u),
            MapKey::F64(f) => s.serialize_f64(*f),
            MapKey::Str(t) => s.serialize_str(t),
        }
    }
}

/// Panics unless `digest` is lowercase hex of `len` characters.
pub fn assert_hex(what: &str, digest: &str, len: usize) {
    assert_eq!(
        digest.len(),
        len,
        "{what}: digest {digest:?} has the wrong length"
    );
    assert!(
        digest
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
        "{what}: digest {digest:?} is not lowercase hex"
    );
}

/// The Python class names the `python` keymaker hashes with (those of the built-in backends).
pub const PYTHON_CLASSES: [&str; 3] = ["JSONBackend", "MessagePackBackend", "PickleBackend"];

/// Hashes `key` with every keymaker and checks they agree with each other and with an
/// independent computation:
///
/// * `default` and `streaming` fail together or give the same 64-hex-digit digest;
/// * `python` fails exactly when they do, gives 32 hex digits, and equals
///   `md5(class name + key_bytes(key))` computed here from the buffered canonical text;
/// * with `allow_nan` off, the canonical text is valid JSON whenever it is written, and it is
///   a fixed point after one normalization: parsing it and writing it again twice gives the
///   same bytes the second time (the first pass may reorder keys that were numbers).
pub fn check_key<K: Serialize + fmt::Debug + ?Sized>(key: &K) {
    use bucketcache::keymakers::{key_bytes, python_digest, DefaultKeyMaker, StreamingKeyMaker};
    use bucketcache_pyjson::{self as pyjson, PyJsonOptions};
    use md5::{Digest, Md5};

    let default = DefaultKeyMaker.digest(key);
    let streaming = StreamingKeyMaker.digest(key);
    match (&default, &streaming) {
        (Ok(d), Ok(s)) => {
            assert_hex("default", d, 64);
            assert_eq!(d, s, "default and streaming disagree on {key:?}");
        }
        (Err(_), Err(_)) => {}
        _ => panic!("default {default:?} and streaming {streaming:?} disagree on {key:?}"),
    }
    let text = key_bytes(key);
    assert_eq!(
        text.is_ok(),
        default.is_ok(),
        "key_bytes and default disagree on {key:?}"
    );
    for class in PYTHON_CLASSES {
        let python = python_digest(class, key);
        assert_eq!(
            python.is_ok(),
            default.is_ok(),
            "python ({python:?}) and default ({default:?}) disagree on {key:?}"
        );
        if let (Ok(p), Ok(text)) = (&python, &text) {
            assert_hex("python", p, 32);
            let mut md5 = Md5::new();
            md5.update(class.as_bytes());
            md5.update(text);
            assert_eq!(
                *p,
                hex::encode(md5.finalize()),
                "python digest is not md5(class + key_bytes) for {key:?}"
            );
        }
    }

    let strict = PyJsonOptions::sorted().allow_nan(false);
    let Ok(first) = pyjson::to_vec(key, &strict) else {
        return;
    };
    if let Ok(loose) = &text {
        assert_eq!(
            loose, &first,
            "allow_nan changed a text without non-finite floats"
        );
    }
    let parsed: serde_json::Value = serde_json::from_slice(&first).unwrap_or_else(|e| {
        panic!(
            "canonical text is not JSON ({e}): {:?}",
            String::from_utf8_lossy(&first)
        )
    });
    let second = pyjson::to_vec(&parsed, &strict).expect("a parsed JSON value writes again");
    let reparsed: serde_json::Value =
        serde_json::from_slice(&second).expect("the second text is JSON");
    let third = pyjson::to_vec(&reparsed, &strict).expect("a parsed JSON value writes again");
    assert_eq!(
        String::from_utf8_lossy(&second),
        String::from_utf8_lossy(&third),
        "canonical text is not a fixed point"
    );
}
