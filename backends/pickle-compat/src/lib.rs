//! Python pickle backend for bucketcache: reads and writes the files of Python BucketCache's
//! `PickleBackend`, never running code.
//!
//! * **Writing** produces exactly the protocol-2 stream CPython's pickler writes for the
//!   original's envelope `{'value': v, 'expiration_date': e}` (the expiration as a
//!   `datetime.datetime`), so a file written here is byte-identical to the original's for the
//!   same key, value and expiration. Rust tuples become Python tuples, sequences lists, maps and
//!   structs dicts, `None`/`()` None, byte strings `bytes`, and any integer up to 128 bits an int.
//!   `{"protocol": 3}` writes raw `bytes` opcodes instead (still readable by any Python 3).
//! * **Reading** accepts protocols 0 to 5 (so files from Python 2 and from a Python program using
//!   a newer protocol load too) for the built-in types: None, bool, int of any size, float, str,
//!   bytes, list, tuple, dict, set, frozenset and naive `datetime.datetime`. Any other global or
//!   object-building opcode is an error (a miss), never executed. Hostile input is bounded in
//!   time and memory and never panics.
//!
//! Limits and differences, all of them errors (a miss for the bucket), never panics:
//! * containers nested more than 200 deep (the envelope included; writing refuses a value
//!   nested deeper than [`MAX_DEPTH`], 199, so what is written is always read back); a value that would expand (through memo references to
//!   shared containers) to more than `64 Ki + 4 × file size` items; more work than
//!   `1 Mi + 4 × file size` values pushed or copied; more than 4 Mi memo entries; ints over 1 MiB;
//! * recursive containers (a list containing itself), unhashable dict keys or set items;
//! * strs that are not valid UTF-8 (a Python str with a lone surrogate), Python 2 `str` with
//!   bytes ≥ 0x80 (the original reads with `encoding='ASCII'` and fails too), tz-aware datetimes;
//! * ints beyond 64 bits are handed out as decimal text to `deserialize_any` (and as
//!   `i128`/`u128` to those types); a datetime inside a value is handed out as its `isoformat()`.
//!
//! Byte identity with Python holds for the same value built the same way: Python memoizes by
//! object identity, so a Python program that shares one str object between several places writes
//! a `BINGET` where Rust writes the str again (except CPython's singletons `''`, one-character
//! latin-1 strs, `b''` and one-byte bytes, which the writer shares as CPython does). Both load
//! to equal values everywhere.
//!
//! ```
//! use bucketcache_core::{Backend, time::parse_expiration};
//! let backend = bucketcache_pickle::PickleBackend::default();
//! let b: &dyn Backend = &backend;
//! let bytes = b.encode("this", None).unwrap();
//! assert_eq!(&bytes[..4], b"\x80\x02}q");
//! assert_eq!(b.decode_value::<String>(&bytes).unwrap(), "this");
//!
//! let exp = parse_expiration("2100-01-01T00:00:00.123456");
//! let bytes = b.encode(&(1, "two"), exp).unwrap();
//! assert_eq!(b.decode(&bytes).map(|d| d.expiration).unwrap(), exp);
//! assert_eq!(b.decode_value::<(u8, String)>(&bytes).unwrap(), (1, "two".to_string()));
//! ```
#![warn(missing_docs)]

mod config;
mod datetime;
mod writer;

use std::sync::Arc;

use bucketcache_traits::registration::BackendCrate;
use bucketcache_traits::Expiration as NaiveDateTime;
use bucketcache_traits::{Backend, BackendError, Decoded, Expiration, ValueLocation};
use bucketcache_unpickle::{Node, Unpickled, Value};

pub use bucketcache_unpickle::PickleError;
pub use config::PickleConfig;

/// The deepest nesting of containers (lists, tuples, dicts, enum variants) a stored value may
/// have: the reader accepts 200 levels and the envelope's dict is one of them. `set` refuses a
/// deeper value (an encode error) rather than write what no `get` can read.
pub const MAX_DEPTH: usize = bucketcache_unpickle::MAX_DEPTH - 1;

/// The registry name of this backend.
pub const NAME: &str = "pickle";

/// The file extension (without the dot).
pub const EXTENSION: &str = "pickle";

/// The original's class name, which enters Python-compatible file names.
pub const PYTHON_CLASS_NAME: &str = "PickleBackend";

/// The `pickle` backend.
///
/// ```
/// use bucketcache_pickle::{PickleBackend, PickleConfig};
/// let p3 = PickleBackend::new(PickleConfig::protocol(3)).unwrap();
/// assert_eq!(p3.config().protocol, 3);
/// assert!(PickleBackend::new(PickleConfig::protocol(5)).is_err());
/// ```
#[derive(Debug, Clone, Default)]
pub struct PickleBackend {
    config: PickleConfig,
}

impl PickleBackend {
    /// A backend with `config`, refused if the config is invalid.
    pub fn new(config: PickleConfig) -> bucketcache_traits::Result<Self> {
        config.validate().map_err(|e| {
            bucketcache_traits::Error::Config(format!("options of backend {NAME:?}: {e}"))
        })?;
        Ok(PickleBackend { config })
    }

    /// The configuration.
    pub fn config(&self) -> &PickleConfig {
        &self.config
    }
}

/// A decoded, checked envelope.
#[derive(Debug)]
struct Envelope {
    value: Unpickled,
    expiration: Option<NaiveDateTime>,
}

/// Decodes `bytes` and checks the original's envelope: a dict with exactly the keys `value` and
/// `expiration_date` (the original raises `TypeError` otherwise), the expiration `None` or a naive
/// datetime.
fn decode_envelope(bytes: &[u8]) -> Result<Envelope, PickleError> {
    let decoded = bucketcache_unpickle::read(bytes)?;
    let not_a_dict = || PickleError::decode("the pickle does not hold a dict");
    let Value::Node(id) = decoded.root else {
        return Err(not_a_dict());
    };
    let Some(Node::Dict(entries)) = decoded.arena.get(id) else {
        return Err(not_a_dict());
    };
    let mut value = None;
    let mut expiration = None;
    for (k, v) in entries {
        // A key that is not a str is no envelope key either.
        let key = match k {
            Value::Str(k) => k.get(bytes)?,
            _ => "",
        };
        match key {
            "value" => value = Some(v.clone()),
            "expiration_date" => expiration = Some(v.clone()),
            _ => {
                return Err(PickleError::decode(
                    "the envelope has a key other than 'value' and 'expiration_date'",
                ))
            }
        }
    }
    let (Some(value), Some(expiration)) = (value, expiration) else {
        return Err(PickleError::decode(
            "the envelope lacks 'value' or 'expiration_date'",
        ));
    };
    let expiration = match expiration {
        Value::None => None,
        Value::DateTime(dt) => Some(datetime::expiration_of(&dt).ok_or_else(|| {
            PickleError::decode(format!("expiration_date {dt} is not an expiration"))
        })?),
        _ => {
            return Err(PickleError::decode(
                "expiration_date is neither None nor a datetime",
            ))
        }
    };
    Ok(Envelope {
        value: decoded.select(value)?,
        expiration,
    })
}

impl Backend for PickleBackend {
    fn name(&self) -> &str {
        NAME
    }

    fn file_extension(&self) -> &str {
        EXTENSION
    }

    fn is_binary(&self) -> bool {
        true
    }

    fn python_class_name(&self) -> Option<&str> {
        Some(PYTHON_CLASS_NAME)
    }

    fn dump(
        &self,
        value: &dyn erased_serde::Serialize,
        expiration: Option<Expiration>,
        out: &mut Vec<u8>,
    ) -> Result<Option<ValueLocation>, BackendError> {
        writer::to_pickle(value, expiration, self.config.protocol, out)
            .map_err(BackendError::encode)?;
        Ok(None)
    }

    fn decode(&self, bytes: &[u8]) -> Result<Decoded, BackendError> {
        let env = decode_envelope(bytes).map_err(BackendError::decode)?;
        Ok(Decoded::new(
            env.expiration,
            ValueLocation::Pickle(Arc::new(env.value)),
        ))
    }

    fn may_begin_entry(&self, head: &[u8]) -> bool {
        // The envelope is a dict: PROTO (protocol 2+), EMPTY_DICT (1) or MARK (0) comes first.
        matches!(head.first(), None | Some(0x80 | b'}' | b'('))
    }
}

/// Pickles any serializable value on its own (not in the cache envelope), as CPython's
/// `pickle.dumps(value, protocol)` would for the equivalent Python value.
///
/// ```
/// let bytes = bucketcache_pickle::to_vec(&(1, "a"), 2).unwrap();
/// assert_eq!(bytes, b"\x80\x02K\x01X\x01\x00\x00\x00aq\x00\x86q\x01.");
/// assert!(bucketcache_pickle::to_vec(&1, 4).is_err());
/// ```
pub fn to_vec<T: serde::Serialize + ?Sized>(
    value: &T,
    protocol: u8,
) -> Result<Vec<u8>, PickleError> {
    PickleConfig::protocol(protocol)
        .validate()
        .map_err(PickleError::Encode)?;
    let mut out = Vec::new();
    writer::Writer::new(&mut out, protocol).write_value(value)?;
    Ok(out)
}

/// Unpickles any pickle of protocol 0 to 5 holding built-in types into `T`, with the same safety
/// rules as the backend (no code, no arbitrary classes, bounded work).
///
/// ```
/// let v: (u8, String) = bucketcache_pickle::from_slice(b"\x80\x02K\x01X\x01\x00\x00\x00a\x86.").unwrap();
/// assert_eq!(v, (1, "a".to_string()));
/// assert!(bucketcache_pickle::from_slice::<u8>(b"cos\nsystem\n.").is_err());
/// ```
pub fn from_slice<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, PickleError> {
    let decoded = bucketcache_unpickle::read(bytes)?;
    let root = decoded.root.clone();
    decoded.select(root)?.deserialize(bytes)
}

impl BackendCrate for PickleBackend {
    const NAME: &'static str = NAME;
    const EXTENSION: &'static str = EXTENSION;
    const PYTHON_CLASS_NAME: Option<&'static str> = Some(PYTHON_CLASS_NAME);
    type Config = PickleConfig;
    fn new(config: PickleConfig) -> bucketcache_traits::Result<Self> {
        PickleBackend::new(config)
    }
}

bucketcache_traits::backend_crate!(PickleBackend);

#[cfg(test)]
mod tests;
