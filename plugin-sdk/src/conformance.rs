//! The conformance kits: run them from your plugin's own tests before you ship.
//!
//! Stores (where entries live) have their own suite, [`check_store`]; the rest of this page is
//! about backends.
//!
//! [`check`] drives a [`PluginBackend`] through the very path the host uses (the C table built
//! by [`build_table`], wrapped by the host's own wrapper), then:
//!
//! 1. runs the host's runtime validation ([`bucketcache_core::validate::validate_backend`]):
//!    name, extension and Python class name rules, determinism, the probe value with and
//!    without an expiration, garbage and truncated input refused;
//! 2. round-trips a broad corpus of values (unicode, integer extremes, floats, bytes, empty
//!    containers, nested and deep structures, enums, options) with several expirations (none,
//!    with and without microseconds, the epoch, the end of year 9999);
//! 3. feeds garbage and every truncation of each corpus file to `decode`, which must answer an
//!    error, never a panic and never a valid envelope.
//!
//! ```
//! # use bucketcache_plugin_sdk::{Envelope, PluginBackend};
//! # #[derive(Default)]
//! # struct Json;
//! # impl PluginBackend for Json {
//! #     const NAME: &'static str = "json-plugin";
//! #     const EXTENSION: &'static str = "json";
//! #     const BINARY: bool = false;
//! #     fn encode(&self, e: &Envelope) -> Result<Vec<u8>, String> {
//! #         serde_json::to_vec(e).map_err(|e| e.to_string())
//! #     }
//! #     fn decode(&self, b: &[u8]) -> Result<Envelope, String> {
//! #         serde_json::from_slice(b).map_err(|e| e.to_string())
//! #     }
//! # }
//! // In your plugin crate's tests:
//! bucketcache_plugin_sdk::conformance::check(Json::default()).unwrap();
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::sync::Arc;

use bucketcache_core::validate::validate_backend;
use bucketcache_core::{Backend, BackendError};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::{build_table, parse_expiration, Expiration, PluginBackend, Value};

mod store;

pub use store::{check_store, check_store_only, store_checks};

/// Every rule a backend broke, one message each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failures(pub Vec<String>);

impl fmt::Display for Failures {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{} conformance failure(s):", self.0.len())?;
        for m in &self.0 {
            writeln!(f, "- {m}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Failures {}

/// Checks a backend against everything the host enforces plus the value corpus; returns every
/// failure found (not just the first).
pub fn check<B: PluginBackend>(backend: B) -> Result<(), Failures> {
    let table = Box::leak(Box::new(build_table::<B>(Box::leak(Box::new(backend)))));
    let origin = format!("conformance check of {:?}", B::NAME);
    // SAFETY: the table was just built by `build_table`, whose functions and strings obey the
    // ABI and live forever (both the table and the backend are leaked above).
    let hosted =
        match unsafe { bucketcache_plugin_host::backend_from_table(table, Path::new(&origin)) } {
            Ok(b) => b,
            Err(e) => return Err(Failures(vec![e.to_string()])),
        };
    check_backend(hosted)
}

/// Checks any backend object (for instance one loaded by the host from a library, or an
/// in-process `Backend`) the same way as [`check`].
pub fn check_backend(backend: Arc<dyn Backend>) -> Result<(), Failures> {
    let mut failures = Vec::new();
    if let Err(e) = validate_backend(&*backend, "the conformance kit") {
        failures.push(e.to_string());
    }
    let mut files = Vec::new();
    for expiration in expirations() {
        for case in corpus() {
            match (case.round_trip)(&*backend, expiration) {
                Ok(bytes) => files.push((case.label, bytes)),
                Err(e) => failures.push(format!("{} with {}: {e}", case.label, shown(expiration))),
            }
        }
    }
    check_garbage(&*backend, &files, &mut failures);
    if failures.is_empty() {
        Ok(())
    } else {
        Err(Failures(failures))
    }
}

fn shown(e: Option<Expiration>) -> String {
    e.map_or("no expiration".into(), |e| format!("expiration {e}"))
}

fn expirations() -> Vec<Option<Expiration>> {
    [
        "2100-01-01T00:00:00.123456",
        "2100-01-01T00:00:00",
        "1970-01-01T00:00:00",
        "9999-12-31T23:59:59.999999",
        "2000-02-29T12:34:56.000001",
    ]
    .iter()
    .map(|t| parse_expiration(t))
    .chain([None])
    .collect()
}

type RoundTrip = fn(&dyn Backend, Option<Expiration>) -> Result<Vec<u8>, String>;

struct Case {
    label: &'static str,
    round_trip: RoundTrip,
}

/// Encodes `value`, checks the file's expiration and decodes it back as `T`.
fn round_trip<T>(
    value: &T,
    backend: &dyn Backend,
    expiration: Option<Expiration>,
) -> Result<Vec<u8>, String>
where
    T: Serialize + DeserializeOwned + PartialEq + fmt::Debug,
{
    let bytes = backend
        .encode(value, expiration)
        .map_err(|e| format!("does not encode: {e}"))?;
    let decoded = backend
        .decode(&bytes)
        .map_err(|e| format!("its file does not decode: {e}"))?;
    let got = decoded.expiration;
    if got != expiration {
        return Err(format!("expiration read back as {}", shown(got)));
    }
    let back: T = decoded
        .value(&bytes)
        .map_err(|e| format!("does not decode: {e}"))?;
    if back != *value {
        return Err(format!("wrote {value:?}, read {back:?}"));
    }
    Ok(bytes)
}

/// Bytes that text formats may store as a list of numbers: both read back.
#[derive(Debug, PartialEq)]
struct Bytes(Vec<u8>);

impl Serialize for Bytes {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(&self.0)
    }
}

impl<'de> Deserialize<'de> for Bytes {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Bytes;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("bytes")
            }
            fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Bytes, E> {
                Ok(Bytes(v.to_vec()))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut a: A) -> Result<Bytes, A::Error> {
                let mut v = Vec::new();
                while let Some(b) = a.next_element::<u8>()? {
                    v.push(b);
                }
                Ok(Bytes(v))
            }
        }
        d.deserialize_bytes(V)
    }
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
enum Shape {
    Unit,
    Newtype(i32),
    Tuple(u8, String),
    Struct { x: f64, label: Option<String> },
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Record {
    id: u64,
    name: String,
    tags: Vec<String>,
    score: Option<f64>,
    missing: Option<bool>,
    shapes: Vec<Shape>,
    pair: (i8, char),
    attributes: BTreeMap<String, Value>,
}

fn deep(levels: usize) -> Value {
    (0..levels).fold(Value::from(7), |inner, i| {
        if i % 2 == 0 {
            Value::Array(vec![inner])
        } else {
            Value::Map(vec![(Value::from("k"), inner)])
        }
    })
}

fn corpus() -> Vec<Case> {
    macro_rules! case {
        ($label:expr, $value:expr) => {
            Case {
                label: $label,
                round_trip: |b, e| round_trip(&$value, b, e),
            }
        };
    }
    vec![
        case!(
            "unicode text",
            "h\u{e9}llo w\u{f6}rld \u{2603} \u{1f600} \u{0} \u{202e}tab\t\"quote\"\n".to_owned()
        ),
        case!("empty text", String::new()),
        case!(
            "integer extremes",
            vec![
                0i64,
                1,
                -1,
                127,
                128,
                -32,
                -33,
                255,
                256,
                65_535,
                65_536,
                -129,
                i64::MIN,
                i64::MAX
            ]
        ),
        case!("largest unsigned", u64::MAX),
        case!(
            "floats",
            vec![
                0.0f64,
                -1.5,
                0.1,
                1e300,
                -1e-300,
                f64::MAX,
                f64::MIN_POSITIVE,
                2.5,
                1.0 / 3.0
            ]
        ),
        case!("booleans and unit", (true, false, ())),
        case!("bytes", Bytes(vec![0, 1, 2, 127, 128, 254, 255])),
        case!("empty bytes", Bytes(Vec::new())),
        case!("empty list", Vec::<u32>::new()),
        case!("empty map", BTreeMap::<String, u32>::new()),
        case!("none", Option::<String>::None),
        case!(
            "nested maps",
            BTreeMap::from([
                (
                    "a".to_owned(),
                    BTreeMap::from([("x".to_owned(), vec![Some("1".to_owned()), None])])
                ),
                ("empty".to_owned(), BTreeMap::new()),
                (
                    "\u{1f600}".to_owned(),
                    BTreeMap::from([(String::new(), vec![])])
                ),
            ])
        ),
        case!("deep nesting", deep(32)),
        case!(
            "record with enums",
            Record {
                id: 1 << 53,
                name: "Ada".into(),
                tags: vec!["x".into(), String::new()],
                score: Some(-0.25),
                missing: None,
                shapes: vec![
                    Shape::Unit,
                    Shape::Newtype(-7),
                    Shape::Tuple(3, "t".into()),
                    Shape::Struct {
                        x: 1.5,
                        label: None
                    },
                ],
                pair: (-128, '\u{e9}'),
                attributes: BTreeMap::from([
                    ("n".to_owned(), Value::from(-5)),
                    ("s".to_owned(), Value::from("v")),
                    (
                        "l".to_owned(),
                        Value::Array(vec![Value::Nil, Value::from(true)])
                    ),
                ]),
            }
        ),
    ]
}

fn check_garbage(backend: &dyn Backend, files: &[(&str, Vec<u8>)], failures: &mut Vec<String>) {
    let mut inputs: Vec<(String, Vec<u8>)> = vec![
        ("empty input".into(), Vec::new()),
        ("one zero byte".into(), vec![0]),
        (
            "random bytes".into(),
            b"\xff\xfe\x00garbage\x80{[\xc1\xd9\xff".to_vec(),
        ),
        ("text".into(), b"this is not a cache file".to_vec()),
        ("a JSON fragment".into(), b"{\"value\": [1, 2".to_vec()),
    ];
    for (label, file) in files {
        // Every strict prefix of small files, a sample of long ones.
        let step = (file.len() / 256).max(1);
        for cut in (0..file.len()).step_by(step) {
            inputs.push((
                format!("{label} truncated to {cut} of {} bytes", file.len()),
                file[..cut].to_vec(),
            ));
        }
    }
    for (what, input) in inputs {
        match backend.decode(&input) {
            Ok(_) => failures.push(format!(
                "{what}: loads as a valid file; it must be an error"
            )),
            Err(BackendError::Decode(_)) => {}
            Err(e) => failures.push(format!("{what}: must be a decode error, got: {e}")),
        }

        if failures.len() > 20 {
            failures.push("(stopped after 20 failures)".into());
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Envelope;

    /// A correct backend: the envelope as JSON.
    #[derive(Default)]
    struct Json;
    impl PluginBackend for Json {
        const NAME: &'static str = "kit-json";
        const EXTENSION: &'static str = "json";
        const BINARY: bool = false;
        fn encode(&self, e: &Envelope) -> Result<Vec<u8>, String> {
            serde_json::to_vec(e).map_err(|e| e.to_string())
        }
        fn decode(&self, b: &[u8]) -> Result<Envelope, String> {
            serde_json::from_slice(b).map_err(|e| e.to_string())
        }
    }

    #[test]
    fn a_correct_backend_passes() {
        check(Json).unwrap();
    }

    /// Drops the microseconds of the expiration.
    struct Coarse;
    impl PluginBackend for Coarse {
        const NAME: &'static str = "kit-coarse";
        const EXTENSION: &'static str = "json";
        const BINARY: bool = false;
        fn encode(&self, e: &Envelope) -> Result<Vec<u8>, String> {
            let mut e = e.clone();
            e.expiration = e.expiration.and_then(|x| {
                x.checked_sub(std::time::Duration::from_micros(x.microsecond().into()))
            });
            Json.encode(&e)
        }
        fn decode(&self, b: &[u8]) -> Result<Envelope, String> {
            Json.decode(b)
        }
    }

    #[test]
    fn losing_microseconds_is_reported() {
        let failures = check(Coarse).unwrap_err();
        assert!(
            failures.0.iter().any(|f| f.contains("expiration")),
            "{failures}"
        );
    }

    /// Accepts truncated files (ignores everything after the first 8 bytes it needs).
    struct Lenient;
    impl PluginBackend for Lenient {
        const NAME: &'static str = "kit-lenient";
        const EXTENSION: &'static str = "json";
        const BINARY: bool = false;
        fn encode(&self, e: &Envelope) -> Result<Vec<u8>, String> {
            Json.encode(e)
        }
        fn decode(&self, b: &[u8]) -> Result<Envelope, String> {
            Ok(Json.decode(b).unwrap_or(Envelope {
                value: Value::Nil,
                expiration: None,
            }))
        }
    }

    #[test]
    fn accepting_garbage_is_reported() {
        let failures = check(Lenient).unwrap_err();
        assert!(
            failures.0.iter().any(|f| f.contains("must be an error")),
            "{failures}"
        );
    }

    /// Panics on any input it does not like.
    struct Panicky;
    impl PluginBackend for Panicky {
        const NAME: &'static str = "kit-panicky";
        const EXTENSION: &'static str = "json";
        const BINARY: bool = false;
        fn encode(&self, e: &Envelope) -> Result<Vec<u8>, String> {
            Json.encode(e)
        }
        fn decode(&self, b: &[u8]) -> Result<Envelope, String> {
            Ok(Json.decode(b).expect("valid input"))
        }
    }

    #[test]
    fn panicking_on_garbage_is_reported() {
        let failures = check(Panicky).unwrap_err();
        assert!(failures.to_string().contains("panicked"), "{failures}");
    }

    /// Loses the difference between bytes and text.
    struct NoFloats;
    impl PluginBackend for NoFloats {
        const NAME: &'static str = "kit-nofloats";
        const EXTENSION: &'static str = "json";
        const BINARY: bool = false;
        fn encode(&self, e: &Envelope) -> Result<Vec<u8>, String> {
            Json.encode(e)
        }
        fn decode(&self, b: &[u8]) -> Result<Envelope, String> {
            let mut e = Json.decode(b)?;
            truncate_floats(&mut e.value);
            Ok(e)
        }
    }

    fn truncate_floats(v: &mut Value) {
        match v {
            Value::F64(f) => *f = f.trunc(),
            Value::Array(a) => a.iter_mut().for_each(truncate_floats),
            Value::Map(m) => m.iter_mut().for_each(|(_, v)| truncate_floats(v)),
            _ => {}
        }
    }

    #[test]
    fn a_lossy_value_round_trip_is_reported_with_the_case() {
        let failures = check(NoFloats).unwrap_err();
        assert!(
            failures.0.iter().any(|f| f.starts_with("floats with")),
            "{failures}"
        );
    }

    #[test]
    fn a_bad_name_is_reported() {
        struct Upper;
        impl PluginBackend for Upper {
            const NAME: &'static str = "Upper";
            const EXTENSION: &'static str = "json";
            const BINARY: bool = false;
            fn encode(&self, e: &Envelope) -> Result<Vec<u8>, String> {
                Json.encode(e)
            }
            fn decode(&self, b: &[u8]) -> Result<Envelope, String> {
                Json.decode(b)
            }
        }
        let failures = check(Upper).unwrap_err();
        assert!(
            failures.to_string().contains("name must match"),
            "{failures}"
        );
    }
}
