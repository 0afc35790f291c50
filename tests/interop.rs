//! Sharing a cache directory with Python BucketCache 0.12.1 (the original).
//!
//! Two halves:
//! * **Fixture tests** (no Python needed): every entry of the files the original wrote
//!   (`tests/fixtures/python-bucketcache-0.12.1/manifest.json`, and the Python 2.7 set) is read
//!   through the Rust API with `python_compatible()`: file name from key, value, expiry, corrupt
//!   files, and byte-identical output when Rust writes the same key, value and expiration.
//! * **Live tests**: a virtualenv under `target/interop-venv` gets `bucketcache==0.12.1 msgpack`;
//!   the driver `tests/python/driver.py` (which imports the project's shim `bc_compat.py` first)
//!   writes and reads with the original, and Rust reads and writes the same directories. Without
//!   Python or network they print a loud `SKIPPED` line, except under `CI=true`, where they fail.

use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bucketcache::time::{format_expiration, parse_expiration};
use bucketcache::{Bucket, Expiration, ManualClock};
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{SerializeMap, SerializeSeq, SerializeTuple, Serializer};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

// ------------------------------------------------------------------------------------------------
// A Python value, as far as the three formats can carry one.
// ------------------------------------------------------------------------------------------------

/// A Python value: what the original stores and what the tests compare.
///
/// Serializing maps it onto serde the way a Rust program would write the same data (a tuple is a
/// serde tuple, a dict keeps its insertion order, ints use the narrowest serde integer);
/// deserializing accepts whatever a backend hands out (serde cannot tell a tuple from a list).
#[derive(Debug, Clone)]
enum Py {
    None,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(String),
    Bytes(Vec<u8>),
    List(Vec<Py>),
    Tuple(Vec<Py>),
    Dict(Vec<(Py, Py)>),
}

impl Py {
    fn s(text: &str) -> Py {
        Py::Str(text.to_owned())
    }

    fn dict(entries: Vec<(&str, Py)>) -> Py {
        Py::Dict(entries.into_iter().map(|(k, v)| (Py::s(k), v)).collect())
    }

    /// What survives a trip through a format (or through serde): `json` turns tuples into lists
    /// and dict keys into strings; `msgpack` and serde readers turn tuples into lists. Dicts are
    /// compared without regard to order (Python 2 wrote JSON envelopes in another order).
    fn normalized(&self, format: Format) -> Py {
        match self {
            Py::List(items) => Py::List(items.iter().map(|i| i.normalized(format)).collect()),
            Py::Tuple(items) => {
                let items = items.iter().map(|i| i.normalized(format)).collect();
                if format == Format::Exact {
                    Py::Tuple(items)
                } else {
                    Py::List(items)
                }
            }
            Py::Dict(entries) => {
                let mut entries: Vec<(Py, Py)> = entries
                    .iter()
                    .map(|(k, v)| {
                        let k = match (format, k) {
                            (Format::Json, Py::Int(i)) => Py::Str(i.to_string()),
                            (_, k) => k.normalized(format),
                        };
                        (k, v.normalized(format))
                    })
                    .collect();
                entries.sort_by_key(|(k, _)| format!("{k:?}"));
                Py::Dict(entries)
            }
            other => other.clone(),
        }
    }

    /// The tagged JSON that `driver.py` understands.
    fn tagged(&self) -> Value {
        match self {
            Py::None => Value::Null,
            Py::Bool(b) => json!(b),
            Py::Int(i) => {
                if let Ok(i) = i64::try_from(*i) {
                    json!(i)
                } else if let Ok(u) = u64::try_from(*i) {
                    json!(u)
                } else {
                    // Beyond 64 bits: serde_json (without arbitrary_precision) would round it.
                    json!({"$int": i.to_string()})
                }
            }
            Py::Float(f) if f.is_finite() => json!(f),
            Py::Float(f) => {
                json!({"$float": if f.is_nan() { "nan".to_owned() } else { f.to_string() }})
            }
            Py::Str(s) => json!(s),
            Py::Bytes(b) => json!({"$bytes": hex(b)}),
            Py::List(items) => Value::Array(items.iter().map(Py::tagged).collect()),
            Py::Tuple(items) => json!({"$tuple": items.iter().map(Py::tagged).collect::<Vec<_>>()}),
            // Ordered pairs: a serde_json object would sort the keys, and dict order is part
            // of the bytes Python writes.
            Py::Dict(entries) => json!({
                "$dict": entries
                    .iter()
                    .map(|(k, v)| json!([k.tagged(), v.tagged()]))
                    .collect::<Vec<_>>()
            }),
        }
    }

    /// The inverse of [`tagged`](Self::tagged), for what the driver prints.
    fn from_tagged(v: &Value) -> Py {
        match v {
            Value::Null => Py::None,
            Value::Bool(b) => Py::Bool(*b),
            Value::Number(n) => {
                if let Some(i) = n.as_i64() {
                    Py::Int(i.into())
                } else if let Some(u) = n.as_u64() {
                    Py::Int(u.into())
                } else {
                    Py::Float(n.as_f64().expect("a JSON number"))
                }
            }
            Value::String(s) => Py::Str(s.clone()),
            Value::Array(items) => Py::List(items.iter().map(Py::from_tagged).collect()),
            Value::Object(map) => {
                if map.len() == 1 {
                    let (tag, inner) = map.iter().next().expect("one entry");
                    match (tag.as_str(), inner) {
                        ("$tuple", Value::Array(items)) => {
                            return Py::Tuple(items.iter().map(Py::from_tagged).collect())
                        }
                        ("$dict", Value::Array(pairs)) => {
                            return Py::Dict(
                                pairs
                                    .iter()
                                    .map(|p| (Py::from_tagged(&p[0]), Py::from_tagged(&p[1])))
                                    .collect(),
                            )
                        }
                        ("$bytes", Value::String(h)) => return Py::Bytes(unhex(h)),
                        ("$int", Value::String(i)) => return Py::Int(i.parse().expect("an int")),
                        ("$float", Value::String(f)) => {
                            return Py::Float(f.parse().expect("nan/inf"))
                        }
                        _ => {}
                    }
                }
                Py::Dict(
                    map.iter()
                        .map(|(k, v)| (Py::Str(k.clone()), Py::from_tagged(v)))
                        .collect(),
                )
            }
        }
    }
}

/// How strictly two values are compared (see [`Py::normalized`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    /// Python reading pickle: tuples stay tuples.
    Exact,
    /// What a serde reader or msgpack keeps.
    Lists,
    /// What JSON keeps.
    Json,
}

impl PartialEq for Py {
    fn eq(&self, other: &Py) -> bool {
        match (self, other) {
            (Py::None, Py::None) => true,
            (Py::Bool(a), Py::Bool(b)) => a == b,
            (Py::Int(a), Py::Int(b)) => a == b,
            // Bitwise: -0.0 is not 0.0 here, and NaN equals NaN.
            (Py::Float(a), Py::Float(b)) => a.to_bits() == b.to_bits(),
            (Py::Str(a), Py::Str(b)) => a == b,
            (Py::Bytes(a), Py::Bytes(b)) => a == b,
            (Py::List(a), Py::List(b)) | (Py::Tuple(a), Py::Tuple(b)) => a == b,
            (Py::Dict(a), Py::Dict(b)) => a == b,
            _ => false,
        }
    }
}

impl Serialize for Py {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Py::None => s.serialize_none(),
            Py::Bool(b) => s.serialize_bool(*b),
            Py::Int(i) => {
                if let Ok(i) = i64::try_from(*i) {
                    s.serialize_i64(i)
                } else if let Ok(u) = u64::try_from(*i) {
                    s.serialize_u64(u)
                } else {
                    s.serialize_i128(*i)
                }
            }
            Py::Float(f) => s.serialize_f64(*f),
            Py::Str(t) => s.serialize_str(t),
            Py::Bytes(b) => s.serialize_bytes(b),
            Py::List(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for i in items {
                    seq.serialize_element(i)?;
                }
                seq.end()
            }
            Py::Tuple(items) => {
                let mut t = s.serialize_tuple(items.len())?;
                for i in items {
                    t.serialize_element(i)?;
                }
                t.end()
            }
            Py::Dict(entries) => {
                let mut m = s.serialize_map(Some(entries.len()))?;
                for (k, v) in entries {
                    m.serialize_entry(k, v)?;
                }
                m.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for Py {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Py, D::Error> {
        struct PyVisitor;
        impl<'de> Visitor<'de> for PyVisitor {
            type Value = Py;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any Python value")
            }
            fn visit_unit<E>(self) -> Result<Py, E> {
                Ok(Py::None)
            }
            fn visit_none<E>(self) -> Result<Py, E> {
                Ok(Py::None)
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Py, D::Error> {
                Py::deserialize(d)
            }
            fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<Py, D::Error> {
                Py::deserialize(d)
            }
            fn visit_bool<E>(self, v: bool) -> Result<Py, E> {
                Ok(Py::Bool(v))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Py, E> {
                Ok(Py::Int(v.into()))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Py, E> {
                Ok(Py::Int(v.into()))
            }
            fn visit_i128<E>(self, v: i128) -> Result<Py, E> {
                Ok(Py::Int(v))
            }
            fn visit_u128<E: de::Error>(self, v: u128) -> Result<Py, E> {
                i128::try_from(v)
                    .map(Py::Int)
                    .map_err(|_| E::custom("int beyond i128"))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Py, E> {
                Ok(Py::Float(v))
            }
            fn visit_str<E>(self, v: &str) -> Result<Py, E> {
                Ok(Py::s(v))
            }
            fn visit_string<E>(self, v: String) -> Result<Py, E> {
                Ok(Py::Str(v))
            }
            fn visit_bytes<E>(self, v: &[u8]) -> Result<Py, E> {
                Ok(Py::Bytes(v.to_vec()))
            }
            fn visit_byte_buf<E>(self, v: Vec<u8>) -> Result<Py, E> {
                Ok(Py::Bytes(v))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<Py, A::Error> {
                let mut items = Vec::new();
                while let Some(i) = a.next_element()? {
                    items.push(i);
                }
                Ok(Py::List(items))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Py, A::Error> {
                let mut entries = Vec::new();
                while let Some(e) = a.next_entry()? {
                    entries.push(e);
                }
                Ok(Py::Dict(entries))
            }
        }
        d.deserialize_any(PyVisitor)
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex"))
        .collect()
}

// ------------------------------------------------------------------------------------------------
// Python literals (the manifest's `value_repr`/`key_repr`), parsed exactly.
// ------------------------------------------------------------------------------------------------

/// Parses a Python 2 or 3 `repr` of None, bools, ints, floats, (byte) strings, lists, tuples and
/// dicts, which is how the manifest records values without losing tuples or int keys.
fn parse_repr(text: &str) -> Py {
    let mut p = ReprParser {
        s: text.as_bytes(),
        i: 0,
    };
    let v = p.value();
    p.ws();
    assert_eq!(p.i, p.s.len(), "trailing text in repr {text:?}");
    v
}

struct ReprParser<'a> {
    s: &'a [u8],
    i: usize,
}

impl ReprParser<'_> {
    fn ws(&mut self) {
        while self.s.get(self.i) == Some(&b' ') {
            self.i += 1;
        }
    }

    fn eat(&mut self, c: u8) -> bool {
        self.ws();
        if self.s.get(self.i) == Some(&c) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn word(&mut self, w: &str) -> bool {
        if self.s[self.i..].starts_with(w.as_bytes()) {
            self.i += w.len();
            true
        } else {
            false
        }
    }

    /// Items up to `close`, and whether a comma followed the last one (`(1,)` is a tuple).
    fn items(&mut self, close: u8) -> (Vec<Py>, bool) {
        let mut items = Vec::new();
        let mut trailing = false;
        while !self.eat(close) {
            items.push(self.value());
            trailing = self.eat(b',');
        }
        (items, trailing)
    }

    fn value(&mut self) -> Py {
        self.ws();
        if self.word("None") {
            return Py::None;
        }
        if self.word("True") {
            return Py::Bool(true);
        }
        if self.word("False") {
            return Py::Bool(false);
        }
        match self.s[self.i] {
            b'[' => {
                self.i += 1;
                Py::List(self.items(b']').0)
            }
            b'(' => {
                self.i += 1;
                let (items, trailing) = self.items(b')');
                assert!(
                    items.len() != 1 || trailing,
                    "a parenthesized value is not a tuple"
                );
                Py::Tuple(items)
            }
            b'{' => {
                self.i += 1;
                let mut entries = Vec::new();
                while !self.eat(b'}') {
                    let k = self.value();
                    assert!(self.eat(b':'), "dict without ':'");
                    let v = self.value();
                    entries.push((k, v));
                    self.eat(b',');
                }
                Py::Dict(entries)
            }
            b'u' => {
                self.i += 1;
                self.string(false)
            }
            b'b' => {
                self.i += 1;
                self.string(true)
            }
            b'\'' | b'"' => self.string(false),
            _ => self.number(),
        }
    }

    fn string(&mut self, bytes: bool) -> Py {
        let quote = self.s[self.i];
        self.i += 1;
        let mut out: Vec<char> = Vec::new();
        let text = std::str::from_utf8(&self.s[self.i..]).expect("utf-8 repr");
        let mut chars = text.char_indices();
        let hexchar = |chars: &mut std::str::CharIndices<'_>, n: usize| {
            let h: String = (0..n).map(|_| chars.next().expect("escape").1).collect();
            char::from_u32(u32::from_str_radix(&h, 16).expect("hex escape")).expect("a char")
        };
        loop {
            let (at, c) = chars.next().expect("unterminated string");
            match c {
                c if c as u32 == u32::from(quote) => {
                    self.i += at + 1;
                    break;
                }
                '\\' => {
                    let (_, e) = chars.next().expect("escape");
                    out.push(match e {
                        'n' => '\n',
                        'r' => '\r',
                        't' => '\t',
                        '0' => '\0',
                        'x' => hexchar(&mut chars, 2),
                        'u' => hexchar(&mut chars, 4),
                        'U' => hexchar(&mut chars, 8),
                        other => other, // \\ \' \"
                    });
                }
                c => out.push(c),
            }
        }
        if bytes {
            Py::Bytes(out.iter().map(|&c| c as u32 as u8).collect())
        } else {
            Py::Str(out.into_iter().collect())
        }
    }

    fn number(&mut self) -> Py {
        let start = self.i;
        while self.i < self.s.len()
            && (self.s[self.i].is_ascii_alphanumeric() || b"+-.".contains(&self.s[self.i]))
        {
            self.i += 1;
        }
        let text = std::str::from_utf8(&self.s[start..self.i]).expect("ascii");
        let text = text.strip_suffix('L').unwrap_or(text); // Python 2 long
        if let Ok(i) = text.parse::<i128>() {
            Py::Int(i)
        } else {
            Py::Float(
                text.parse()
                    .unwrap_or_else(|_| panic!("not a number: {text:?}")),
            )
        }
    }
}

// ------------------------------------------------------------------------------------------------
// Shared helpers.
// ------------------------------------------------------------------------------------------------

const BACKENDS: [&str; 3] = ["pickle", "json", "msgpack"];

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn fixtures(name: &str) -> PathBuf {
    repo().join("tests/fixtures").join(name)
}

fn time(text: &str) -> Expiration {
    parse_expiration(text).unwrap_or_else(|| panic!("bad time {text:?}"))
}

/// A Python-compatible bucket on `dir` with a clock standing at `now`.
fn py_bucket(dir: &Path, backend: &str, lifetime: Option<Duration>, now: &str) -> Bucket {
    bucketcache::install_default_backends().expect("built-in backends");
    let mut b = Bucket::builder(dir)
        .backend(backend)
        .python_compatible()
        .clock(Arc::new(ManualClock::new(time(now))));
    if let Some(l) = lifetime {
        b = b.lifetime(l);
    }
    b.open()
        .unwrap_or_else(|e| panic!("open a python_compatible {backend} bucket: {e}"))
}

fn file_name<K: Serialize + ?Sized>(bucket: &Bucket, key: &K) -> String {
    let path = bucket.path_for_key(key).expect("a key Python can hash");
    path.file_name().unwrap().to_string_lossy().into_owned()
}

/// Files of a directory with their contents, sorted by name.
fn dir_contents(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fs::read_dir(dir)
        .expect("read dir")
        .map(|e| {
            let e = e.expect("dir entry");
            (
                e.file_name().to_string_lossy().into_owned(),
                fs::read(e.path()).expect("read file"),
            )
        })
        .collect()
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for e in fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

// ------------------------------------------------------------------------------------------------
// Fixture tests: files written by the original (no Python needed).
// ------------------------------------------------------------------------------------------------

struct Manifest {
    root: PathBuf,
    json: Value,
    /// key id -> (keymaker bytes, the key itself)
    keys: BTreeMap<String, (String, Py)>,
}

fn manifest(name: &str) -> Manifest {
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

fn backend_of(python_class: &str) -> &'static str {
    match python_class {
        "PickleBackend" => "pickle",
        "JSONBackend" => "json",
        "MessagePackBackend" => "msgpack",
        other => panic!("unknown backend {other}"),
    }
}

fn entries(m: &Manifest) -> impl Iterator<Item = &Value> {
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
const READ_NOW: &str = "2026-01-01T00:00:00";

#[test]
fn fixture_manifest_covers_every_backend_and_variant() {
    let m = manifest("python-bucketcache-0.12.1");
    assert_eq!(entries(&m).count(), 3 * 5 * 16);
    assert_eq!(m.keys.len(), 16);
    assert_eq!(m.json["decorator"].as_array().unwrap().len(), 12);
}

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

/// What Rust reads for a fixture entry: `Some(value)` or a miss, and whether the file remains.
fn read_fixture_copy(m: &Manifest, e: &Value, tmp: &Path) -> (Option<Py>, bool, PathBuf) {
    let dir = tmp.join(e["dir"].as_str().unwrap());
    copy_dir(&m.root.join(e["dir"].as_str().unwrap()), &dir);
    let backend = backend_of(e["backend"].as_str().unwrap());
    let b = py_bucket(&dir, backend, None, READ_NOW);
    let key = &m.keys[e["key_id"].as_str().unwrap()].1;
    let got = b.get::<_, Py>(key).expect("get never errs on a bad file");
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
            .get_with_expiration::<_, Py>(key)
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
        assert_eq!(
            b.get::<_, Py>(&key).unwrap(),
            Some(Py::s("this")),
            "{backend}"
        );

        let dir = tmp.path().join(format!("reject{i}"));
        copy_dir(&m.root.join(e["dir"].as_str().unwrap()), &dir);
        let b = py_bucket(&dir, backend, hour, "2099-12-31T22:59:59.123456");
        assert_eq!(b.get::<_, Py>(&key).unwrap(), None, "{backend}");
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
            .get::<_, Py>(&key)
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

// ------------------------------------------------------------------------------------------------
// Live tests against the original, installed in a virtualenv.
// ------------------------------------------------------------------------------------------------

/// The virtualenv's interpreter, created once per test run (and reused across runs).
struct PythonEnv {
    python: PathBuf,
}

static PYTHON: OnceLock<Result<PythonEnv, String>> = OnceLock::new();

fn venv_python(venv: &Path) -> PathBuf {
    if cfg!(windows) {
        venv.join("Scripts").join("python.exe")
    } else {
        venv.join("bin").join("python")
    }
}

fn run_checked(cmd: &mut Command) -> Result<String, String> {
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run {cmd:?}: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "{cmd:?} failed ({}):\n{}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// Whether this venv imports the original through the shim.
fn venv_works(python: &Path) -> bool {
    let check =
        "import sys; sys.path.insert(0, sys.argv[1]); import bc_compat, bucketcache, msgpack";
    python.exists()
        && run_checked(
            Command::new(python)
                .env("PYTHONDONTWRITEBYTECODE", "1")
                .args(["-c", check])
                .arg(repo().join("tests/python")),
        )
        .is_ok()
}

fn create_venv() -> Result<PythonEnv, String> {
    // `BUCKETCACHE_INTEROP_VENV` puts the venv elsewhere (e.g. to test the skip path).
    let venv = std::env::var_os("BUCKETCACHE_INTEROP_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("target").join("interop-venv"));
    let python = venv_python(&venv);
    if venv_works(&python) {
        return Ok(PythonEnv { python });
    }
    // Build in a private directory and rename it into place, so that concurrent test runs never
    // see a half-made venv (the rename is atomic; the loser uses the winner's).
    let base = std::env::var("BUCKETCACHE_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let parent = venv.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(parent).map_err(|e| format!("create {parent:?}: {e}"))?;
    let mut building = venv.clone().into_os_string();
    building.push(format!(".building-{}", std::process::id()));
    let building = PathBuf::from(building);
    let _ = fs::remove_dir_all(&building);
    run_checked(Command::new(&base).args(["-m", "venv"]).arg(&building))?;
    let result = run_checked(Command::new(venv_python(&building)).args([
        "-m",
        "pip",
        "install",
        "--quiet",
        // Fail in minutes, not half an hour, when the index is unreachable.
        "--timeout",
        "30",
        "--retries",
        "2",
        "bucketcache==0.12.1",
        "msgpack",
    ]));
    if let Err(e) = result {
        let _ = fs::remove_dir_all(&building);
        return Err(e);
    }
    if venv.exists() && !venv_works(&python) {
        let _ = fs::remove_dir_all(&venv); // a broken leftover
    }
    if fs::rename(&building, &venv).is_err() {
        let _ = fs::remove_dir_all(&building);
    }
    if venv_works(&python) {
        Ok(PythonEnv { python })
    } else {
        Err(format!(
            "{venv:?} was created but cannot import bucketcache"
        ))
    }
}

/// The Python environment, or `None` (with a loud SKIPPED line) when it cannot be had. Under
/// `CI=true` a missing environment fails the test instead.
fn python(test: &str) -> Option<&'static PythonEnv> {
    match PYTHON.get_or_init(create_venv) {
        Ok(env) => Some(env),
        Err(why) => {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("CI=true and the Python interop environment is unavailable: {why}");
            }
            // Straight to the process's stderr: libtest captures `eprintln!` of passing tests,
            // and a skip must be seen.
            let _ = writeln!(
                std::io::stderr(),
                "\n==== SKIPPED {test}: Python 3 + `pip install bucketcache==0.12.1 msgpack` \
                 unavailable (set CI=true to make this fatal) ====\n{why}\n"
            );
            None
        }
    }
}

impl PythonEnv {
    /// Runs one driver job and returns its `results`.
    fn run(&self, job: Value) -> Vec<Value> {
        self.run_with_p5(job, false)
    }

    /// Runs one driver job, with the shim's optional P5 patch on or off.
    fn run_with_p5(&self, job: Value, p5: bool) -> Vec<Value> {
        let mut child = Command::new(&self.python)
            .arg(repo().join("tests/python/driver.py"))
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .env("BC_COMPAT_P5", if p5 { "1" } else { "0" })
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn the driver");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(job.to_string().as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "driver failed on {job}:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let result: Value = serde_json::from_slice(&out.stdout).expect("driver prints JSON");
        result["results"].as_array().unwrap().clone()
    }

    fn set(
        &self,
        dir: &Path,
        backend: &str,
        lifetime: Option<Duration>,
        now: &str,
        items: &[(Py, Py)],
    ) -> Vec<Value> {
        self.run(json!({
            "op": "set", "dir": dir, "backend": backend, "now": now,
            "lifetime_seconds": lifetime.map(|l| l.as_secs()),
            "items": items.iter().map(|(k, v)| json!({"key": k.tagged(), "value": v.tagged()})).collect::<Vec<_>>(),
        }))
    }

    fn get(
        &self,
        dir: &Path,
        backend: &str,
        lifetime: Option<Duration>,
        now: &str,
        keys: &[&Py],
    ) -> Vec<Value> {
        self.run(json!({
            "op": "get", "dir": dir, "backend": backend, "now": now,
            "lifetime_seconds": lifetime.map(|l| l.as_secs()),
            "keys": keys.iter().map(|k| k.tagged()).collect::<Vec<_>>(),
        }))
    }
}

fn int(i: i128) -> Py {
    Py::Int(i)
}

/// Keys and values for every backend: non-ASCII, floats in exponent form, big ints, nested maps,
/// lists and tuples, None/bool, empty containers; keys of every JSON-expressible kind.
fn spread(backend: &str) -> Vec<(Py, Py)> {
    let mut items = vec![
        (Py::s("ascii"), Py::s("plain text")),
        (
            Py::s("unicode ключ ☃ 😀"),
            Py::s("värde ☃ 😀 \u{7f} \n\t\"\\/ ünï"),
        ),
        (int(0), Py::Float(1e16)),
        (int(-7), Py::Float(1e-5)),
        (Py::Float(1.5), Py::Float(-0.0)),
        (Py::Float(1e16), Py::Float(5e-324)),
        (Py::Float(1e-5), int(1 << 40)),
        (Py::Float(-0.0), int(i64::MAX.into())),
        (int(1 << 40), Py::Float(1.2345678901234568e17)),
        (Py::Bool(true), Py::None),
        (Py::Bool(false), Py::Bool(true)),
        (Py::None, Py::Bool(false)),
        (Py::s(""), Py::s("")),
        (
            Py::List(vec![int(1), Py::s("a")]),
            Py::List(vec![
                int(1),
                Py::Float(2.5),
                Py::s("three"),
                Py::None,
                Py::Bool(true),
            ]),
        ),
        (
            Py::dict(vec![("b", int(1)), ("a", Py::List(vec![int(1), int(2)]))]),
            Py::dict(vec![
                (
                    "list",
                    Py::List(vec![Py::List(vec![
                        int(1),
                        Py::List(vec![int(2), Py::List(vec![int(3)])]),
                    ])]),
                ),
                ("empty", Py::Dict(vec![])),
                ("emptylist", Py::List(vec![])),
                (
                    "ünï",
                    Py::dict(vec![("x", Py::Float(-1.5e-10)), ("y", Py::Float(2.5e300))]),
                ),
            ]),
        ),
        (
            Py::List(vec![
                Py::List(vec![int(1), int(2)]),
                Py::List(vec![Py::s("x"), Py::List(vec![Py::None, Py::Bool(true)])]),
                Py::Float(3.5),
            ]),
            Py::Tuple(vec![int(1), Py::s("two"), Py::Float(3.0)]),
        ),
        (
            Py::dict(vec![
                ("z", Py::dict(vec![("é", int(1)), ("a", Py::None)])),
                ("ключ", Py::Float(0.1)),
            ]),
            Py::List(vec![
                Py::List(vec![]),
                Py::Dict(vec![]),
                Py::s(""),
                Py::Tuple(vec![]),
            ]),
        ),
        (
            Py::s("ints"),
            Py::List(
                [
                    0,
                    127,
                    128,
                    255,
                    256,
                    65535,
                    65536,
                    (1 << 31) - 1,
                    1 << 31,
                    (1 << 32) - 1,
                    1 << 32,
                ]
                .into_iter()
                .map(int)
                .collect(),
            ),
        ),
        (
            Py::s("negative ints"),
            Py::List(
                [
                    -1,
                    -32,
                    -33,
                    -128,
                    -129,
                    -32768,
                    -32769,
                    -(1 << 31),
                    -(1 << 31) - 1,
                    i64::MIN.into(),
                ]
                .into_iter()
                .map(int)
                .collect(),
            ),
        ),
        (
            Py::s("floats"),
            Py::List(
                [
                    0.0, 0.1, 1.0, 1e15, 0.0001, 1.5e-10, 2.5e300, -1e-300, 123456.789,
                ]
                .into_iter()
                .map(Py::Float)
                .collect(),
            ),
        ),
        (Py::s("tuple"), Py::Tuple(vec![int(1), int(2)])),
        (Py::s("single tuple"), Py::Tuple(vec![Py::s("only")])),
        // A tuple key hashes as the list it prints as (a different one from the list key above).
        (Py::Tuple(vec![Py::s("user"), int(7)]), Py::s("tuple key")),
        (
            Py::s("non-finite"),
            Py::List(vec![
                Py::Float(f64::NAN),
                Py::Float(f64::INFINITY),
                Py::Float(f64::NEG_INFINITY),
            ]),
        ),
    ];
    if backend != "json" {
        // Python's json cannot hold bytes; pickle and msgpack can.
        items.push((
            Py::s("bytes"),
            Py::List(vec![
                Py::Bytes(vec![]),
                Py::Bytes(b"\x00\xff abc \x80".to_vec()),
            ]),
        ));
    }
    match backend {
        "pickle" => {
            items.push((Py::s("u64 max"), int(u64::MAX.into())));
            items.push((
                Py::s("big ints"),
                Py::List(vec![
                    int(1 << 64),
                    int(1 << 100),
                    int(-(1 << 100)),
                    int(i128::MAX),
                ]),
            ));
            items.push((
                Py::s("int keys"),
                Py::Dict(vec![(int(1), Py::s("a")), (int(-2), Py::s("b"))]),
            ));
        }
        "msgpack" => {
            items.push((Py::s("u64 max"), int(u64::MAX.into())));
            items.push((
                Py::s("int keys"),
                Py::Dict(vec![(int(1), Py::s("a")), (int(-2), Py::s("b"))]),
            ));
        }
        _ => {
            items.push((Py::s("u64 max"), int(u64::MAX.into())));
            items.push((
                Py::s("int keys become strings"),
                Py::Dict(vec![(int(1), Py::s("a"))]),
            ));
        }
    }
    items
}

/// The clock both sides stand at; with a lifetime the expiration is this plus one hour.
const LIVE_NOW: &str = "2030-06-15T12:34:56.789012";

fn read_format(backend: &str) -> Format {
    if backend == "json" {
        Format::Json
    } else {
        Format::Lists
    }
}

fn rust_reads_what_python_wrote(test: &str, backend: &str, lifetime: Option<Duration>) {
    let Some(py) = python(test) else { return };
    let tmp = tempfile::tempdir().unwrap();
    let items = spread(backend);
    let written = py.set(tmp.path(), backend, lifetime, LIVE_NOW, &items);
    let b = py_bucket(tmp.path(), backend, lifetime, LIVE_NOW);
    let format = read_format(backend);
    for ((key, value), w) in items.iter().zip(&written) {
        assert_eq!(file_name(&b, key), w["file"], "file name of {key:?}");
        if let Py::List(ints) = value {
            if ints.iter().any(|i| matches!(i, Py::Int(i) if i64::try_from(*i).is_err() && u64::try_from(*i).is_err())) {
                // Ints beyond 64 bits: a self-describing reader (`deserialize_any`) gets them as
                // decimal text from the pickle backend; asked for i128 it gets the numbers.
                let got: Vec<i128> = b.get(key).unwrap().expect("big ints");
                let want: Vec<Py> = got.into_iter().map(Py::Int).collect();
                assert_eq!(&want, ints, "{backend} {key:?}");
                continue;
            }
        }
        let (got, expiration) = b
            .get_with_expiration::<_, Py>(key)
            .unwrap()
            .unwrap_or_else(|| panic!("{backend}: miss on {key:?}"));
        assert_eq!(
            got.normalized(format),
            value.normalized(format),
            "{backend} {key:?}"
        );
        let want = lifetime.map(|_| "2030-06-15T13:34:56.789012".to_owned());
        assert_eq!(expiration.map(|e| format_expiration(&e)), want, "{key:?}");
    }
}

fn python_reads_what_rust_wrote(test: &str, backend: &str, lifetime: Option<Duration>) {
    let Some(py) = python(test) else { return };
    let tmp = tempfile::tempdir().unwrap();
    let items = spread(backend);
    let b = py_bucket(tmp.path(), backend, lifetime, LIVE_NOW);
    for (k, v) in &items {
        b.set(k, v)
            .unwrap_or_else(|e| panic!("{backend}: set {k:?} = {v:?}: {e}"));
    }
    let keys: Vec<&Py> = items.iter().map(|(k, _)| k).collect();
    let read = py.get(tmp.path(), backend, lifetime, LIVE_NOW, &keys);
    // Python sees pickle tuples as tuples; JSON and msgpack have only lists.
    let format = match backend {
        "pickle" => Format::Exact,
        "json" => Format::Json,
        _ => Format::Lists,
    };
    for ((key, value), r) in items.iter().zip(&read) {
        assert_eq!(r["file"], file_name(&b, key), "file name of {key:?}");
        assert_eq!(r["ok"], true, "{backend}: Python missed {key:?}: {r}");
        let got = Py::from_tagged(&r["value"]);
        assert_eq!(
            got.normalized(format),
            value.normalized(format),
            "{backend} {key:?}"
        );
    }
}

fn rust_and_python_write_identical_files(test: &str, backend: &str, lifetime: Option<Duration>) {
    let Some(py) = python(test) else { return };
    let tmp = tempfile::tempdir().unwrap();
    let (py_dir, rs_dir) = (tmp.path().join("python"), tmp.path().join("rust"));
    let items = spread(backend);
    py.set(&py_dir, backend, lifetime, LIVE_NOW, &items);
    let b = py_bucket(&rs_dir, backend, lifetime, LIVE_NOW);
    for (k, v) in &items {
        b.set(k, v).unwrap();
    }
    let (p, r) = (dir_contents(&py_dir), dir_contents(&rs_dir));
    assert_eq!(p.keys().collect::<Vec<_>>(), r.keys().collect::<Vec<_>>());
    let differing: Vec<String> = p
        .iter()
        .filter(|(name, bytes)| r[*name] != **bytes)
        .map(|(name, bytes)| format!("{name}:\n python {}\n rust   {}", hex(bytes), hex(&r[name])))
        .collect();
    assert!(differing.is_empty(), "{backend}: {}", differing.join("\n"));
    assert_eq!(p.len(), items.len());
}

macro_rules! live_matrix {
    ($($backend:literal => $plain:ident, $with_lifetime:ident;)*) => {
        $(
            mod $plain {
                #[test]
                fn rust_reads_what_python_wrote() {
                    super::rust_reads_what_python_wrote(concat!(module_path!(), "::rust_reads_what_python_wrote"), $backend, None);
                }
                #[test]
                fn python_reads_what_rust_wrote() {
                    super::python_reads_what_rust_wrote(concat!(module_path!(), "::python_reads_what_rust_wrote"), $backend, None);
                }
                #[test]
                fn rust_and_python_write_identical_files() {
                    super::rust_and_python_write_identical_files(concat!(module_path!(), "::rust_and_python_write_identical_files"), $backend, None);
                }
            }
            mod $with_lifetime {
                use std::time::Duration;
                const HOUR: Option<Duration> = Some(Duration::from_secs(3600));
                #[test]
                fn rust_reads_what_python_wrote() {
                    super::rust_reads_what_python_wrote(concat!(module_path!(), "::rust_reads_what_python_wrote"), $backend, HOUR);
                }
                #[test]
                fn python_reads_what_rust_wrote() {
                    super::python_reads_what_rust_wrote(concat!(module_path!(), "::python_reads_what_rust_wrote"), $backend, HOUR);
                }
                #[test]
                fn rust_and_python_write_identical_files() {
                    super::rust_and_python_write_identical_files(concat!(module_path!(), "::rust_and_python_write_identical_files"), $backend, HOUR);
                }
            }
        )*
    };
}

live_matrix! {
    "pickle" => live_pickle, live_pickle_lifetime;
    "json" => live_json, live_json_lifetime;
    "msgpack" => live_msgpack, live_msgpack_lifetime;
}

#[test]
fn live_entries_expire_for_the_other_side_and_are_deleted() {
    let Some(py) = python("interop::live_entries_expire_for_the_other_side_and_are_deleted") else {
        return;
    };
    let hour = Some(Duration::from_secs(3600));
    let later = "2030-06-15T13:34:56.789013"; // one microsecond after the expiration
    for backend in BACKENDS {
        let tmp = tempfile::tempdir().unwrap();
        let (key, value) = (Py::s("expiring ☃"), Py::List(vec![int(1), Py::s("x")]));
        // Rust writes, Python reads too late: a miss, and Python deletes the file.
        let b = py_bucket(tmp.path(), backend, hour, LIVE_NOW);
        b.set(&key, &value).unwrap();
        let r = &py.get(tmp.path(), backend, None, later, &[&key])[0];
        assert_eq!(r["ok"], false, "{backend}: {r}");
        assert_eq!(r["exists_after"], false, "{backend}: {r}");
        // Python writes, Rust reads too late: a miss, and Rust deletes the file.
        py.set(
            tmp.path(),
            backend,
            hour,
            LIVE_NOW,
            &[(key.clone(), value.clone())],
        );
        let path = b.path_for_key(&key).unwrap();
        assert!(path.exists());
        let late = py_bucket(tmp.path(), backend, None, later);
        assert_eq!(late.get::<_, Py>(&key).unwrap(), None, "{backend}");
        assert!(!path.exists(), "{backend}: Rust deletes the expired file");
    }
}

#[test]
fn readers_with_a_lifetime_drop_entries_written_without_one_on_both_sides() {
    // The original's "lifetime changed" rule: a reader with a lifetime deletes entries that have
    // no expiration (or a later one than now + lifetime), whoever wrote them.
    let Some(py) =
        python("interop::readers_with_a_lifetime_drop_entries_written_without_one_on_both_sides")
    else {
        return;
    };
    let hour = Some(Duration::from_secs(3600));
    for backend in BACKENDS {
        let tmp = tempfile::tempdir().unwrap();
        let (key, value) = (Py::s("forever"), Py::s("value"));
        let b = py_bucket(tmp.path(), backend, None, LIVE_NOW);
        b.set(&key, &value).unwrap();
        let r = &py.get(tmp.path(), backend, hour, LIVE_NOW, &[&key])[0];
        assert_eq!(
            (&r["ok"], &r["exists_after"]),
            (&json!(false), &json!(false)),
            "{backend}: {r}"
        );

        py.set(
            tmp.path(),
            backend,
            None,
            LIVE_NOW,
            &[(key.clone(), value.clone())],
        );
        let path = b.path_for_key(&key).unwrap();
        assert!(path.exists(), "{backend}");
        let with_lifetime = py_bucket(tmp.path(), backend, hour, LIVE_NOW);
        assert_eq!(with_lifetime.get::<_, Py>(&key).unwrap(), None, "{backend}");
        assert!(!path.exists(), "{backend}: Rust deletes it too");
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

#[test]
fn python_shim_lets_the_original_rewrite_its_own_fixtures() {
    let Some(py) = python("interop::python_shim_lets_the_original_rewrite_its_own_fixtures") else {
        return;
    };
    for p5 in ["0", "1"] {
        let out = run_checked(
            Command::new(&py.python)
                .arg(repo().join("tests/python/check_shim.py"))
                .arg(fixtures("python-bucketcache-0.12.1"))
                .env("PYTHONDONTWRITEBYTECODE", "1")
                .env("BC_COMPAT_P5", p5),
        )
        .unwrap_or_else(|e| panic!("check_shim.py with BC_COMPAT_P5={p5}: {e}"));
        let report: Value = serde_json::from_str(&out).expect("JSON report");
        assert_eq!(report["failures"], json!([]), "BC_COMPAT_P5={p5}");
        assert_eq!(report["checked"], 254);
    }
}

#[test]
fn repr_parser_reads_python_literals_exactly() {
    assert_eq!(
        parse_repr("{'list': [[1, [2, [3]]]], 'empty': {}, 't': (1,), 'u': ()}"),
        Py::dict(vec![
            (
                "list",
                Py::List(vec![Py::List(vec![
                    int(1),
                    Py::List(vec![int(2), Py::List(vec![int(3)])])
                ])])
            ),
            ("empty", Py::Dict(vec![])),
            ("t", Py::Tuple(vec![int(1)])),
            ("u", Py::Tuple(vec![])),
        ])
    );
    assert_eq!(parse_repr("u'v\\xe4rde \\u2603'"), Py::s("värde ☃"));
    assert_eq!(parse_repr("'värde ☃'"), Py::s("värde ☃"));
    assert_eq!(parse_repr("b'a\\x00'"), Py::Bytes(vec![b'a', 0]));
    assert_eq!(parse_repr("-1.5e-10"), Py::Float(-1.5e-10));
    assert_eq!(parse_repr("1099511627776L"), int(1 << 40));
    assert_eq!(parse_repr("{1: 'a'}"), Py::Dict(vec![(int(1), Py::s("a"))]));
    assert_ne!(parse_repr("1.0"), parse_repr("1"));
    assert_ne!(parse_repr("-0.0"), parse_repr("0.0"));
}
