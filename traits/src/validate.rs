//! Runtime validation of backends: the original's `check_concrete`, done properly.
//!
//! Every backend entering the registry — built in, linked through `inventory`, or loaded from a
//! plugin file — must pass [`validate_backend`]. Each rule has its own message, so a refusal says
//! exactly what is wrong.

use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};

use serde::{Deserialize, Serialize};

use crate::backend::{Backend, BackendError};
use crate::error::{Error, Result};
use crate::time::{parse_expiration, Expiration};

/// The value every backend must round-trip: text (with non-ASCII), integers of both signs, a
/// float, a boolean, a missing value, a list and a nested map.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Probe {
    /// Non-ASCII text.
    pub text: String,
    /// A negative integer.
    pub negative: i64,
    /// A large unsigned integer.
    pub large: u64,
    /// A float with a fraction.
    pub float: f64,
    /// A boolean.
    pub flag: bool,
    /// A null.
    pub nothing: Option<u32>,
    /// A list.
    pub list: Vec<u32>,
    /// A nested map.
    pub nested: BTreeMap<String, Vec<String>>,
}

impl Probe {
    /// The probe value.
    pub(crate) fn sample() -> Probe {
        Probe {
            text: "probe värde ☃ 😀".into(),
            negative: -123_456_789,
            large: 1 << 40,
            float: 2.5,
            flag: true,
            nothing: None,
            list: vec![0, 1, 255, 65_536],
            nested: BTreeMap::from([("a".into(), vec!["x".into()]), ("empty".into(), vec![])]),
        }
    }
}

/// Checks that a backend obeys every rule the host relies on. `origin` names where it came from
/// (a crate or a plugin file) for the error message.
///
/// ```
/// # use bucketcache_traits::{validate::validate_backend, Backend, BackendError, Decoded, Expiration, ValueLocation};
/// #[derive(Debug)]
/// struct Nameless;
/// impl Backend for Nameless {
///     fn name(&self) -> &str { "Bad Name" }
///     fn file_extension(&self) -> &str { "x" }
///     fn is_binary(&self) -> bool { true }
///     fn dump(&self, _: &dyn erased_serde::Serialize, _: Option<Expiration>, _: &mut Vec<u8>)
///         -> Result<Option<ValueLocation>, BackendError> { Ok(None) }
///     fn decode(&self, _: &[u8]) -> Result<Decoded, BackendError> { Err(BackendError::decode("no")) }
/// }
/// let err = validate_backend(&Nameless, "an example").unwrap_err();
/// assert!(err.to_string().contains("name must match [a-z0-9_-]+"));
/// ```
pub fn validate_backend(backend: &dyn Backend, origin: &str) -> Result<()> {
    let refuse = |rule: String| Error::BackendRefused {
        name: guard(|| backend.name().to_owned()).unwrap_or_else(|_| "?".into()),
        origin: origin.to_owned(),
        rule,
    };
    let name = guard(|| backend.name().to_owned()).map_err(|p| refuse(format!("name() {p}")))?;
    if name.is_empty()
        || name.len() > 64
        || !name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
    {
        return Err(refuse(format!(
            "name must match [a-z0-9_-]+ (1 to 64 characters), got {name:?}"
        )));
    }
    let ext = guard(|| backend.file_extension().to_owned())
        .map_err(|p| refuse(format!("file_extension() {p}")))?;
    if ext.is_empty() || ext.len() > 16 || !ext.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(refuse(format!(
            "file extension must match [A-Za-z0-9]+ (1 to 16 characters, no dot), got {ext:?}"
        )));
    }
    if ext.eq_ignore_ascii_case("tmp") {
        return Err(refuse(
            "file extension \"tmp\" is reserved for the cache's temporary files".into(),
        ));
    }
    let class = guard(|| backend.python_class_name().map(str::to_owned))
        .map_err(|p| refuse(format!("python_class_name() {p}")))?;
    if let Some(class) = class {
        let mut bytes = class.bytes();
        let ok = bytes
            .next()
            .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
            && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if !ok {
            return Err(refuse(format!(
                "Python class name must be a Python identifier, got {class:?}"
            )));
        }
    }
    let probe = Probe::sample();
    let expirations = [
        None,
        parse_expiration("2100-01-01T00:00:00.123456"),
        parse_expiration("2100-01-01T00:00:00"),
    ];
    for expiration in expirations {
        check_round_trip(backend, &probe, expiration).map_err(refuse)?;
    }
    check_garbage(backend, &probe).map_err(refuse)?;
    Ok(())
}

fn check_round_trip(
    backend: &dyn Backend,
    probe: &Probe,
    expiration: Option<Expiration>,
) -> std::result::Result<(), String> {
    let shown = expiration.map_or("no expiration".to_owned(), |e| format!("expiration {e}"));
    let bytes = guard(|| backend.encode(probe, expiration))
        .map_err(|p| format!("dump {p}"))?
        .map_err(|e| format!("probe value with {shown} does not encode: {e}"))?;
    let again = guard(|| backend.encode(probe, expiration))
        .map_err(|p| format!("dump {p}"))?
        .map_err(|e| format!("probe value does not encode twice: {e}"))?;
    if bytes != again {
        return Err("dump is not deterministic: the same envelope gave different bytes".into());
    }
    let decoded = guard(|| backend.decode(&bytes))
        .map_err(|p| format!("decode {p}"))?
        .map_err(|e| format!("its own probe file with {shown} does not decode: {e}"))?;
    let got = decoded.expiration;
    if got != expiration {
        return Err(format!(
            "expiration does not round-trip: wrote {expiration:?}, read {got:?}"
        ));
    }
    let value: Probe = guard(|| decoded.value(&bytes))
        .map_err(|p| format!("decoding the value {p}"))?
        .map_err(|e| format!("probe value does not decode: {e}"))?;
    if value != *probe {
        return Err(format!(
            "probe value does not round-trip: wrote {probe:?}, read {value:?}"
        ));
    }
    // Where `dump` says it put the value is what a bucket reads back from memory.
    let mut out = Vec::new();
    let located = guard(|| backend.dump(probe, expiration, &mut out))
        .map_err(|p| format!("dump {p}"))?
        .map_err(|e| format!("probe value does not encode: {e}"))?;
    if let Some(located) = located {
        let value: Probe = guard(|| located.deserialize(&out))
            .map_err(|p| format!("decoding the value where dump put it {p}"))?
            .map_err(|e| format!("the value is not where dump says it put it: {e}"))?;
        if value != *probe {
            return Err(format!(
                "the value where dump says it put it is {value:?}, not {probe:?}"
            ));
        }
    }
    Ok(())
}

fn check_garbage(backend: &dyn Backend, probe: &Probe) -> std::result::Result<(), String> {
    let whole = backend
        .encode(probe, None)
        .map_err(|e| format!("probe value does not encode: {e}"))?;
    let mut inputs: Vec<(&str, Vec<u8>)> = vec![
        ("empty input", Vec::new()),
        ("garbage bytes", b"\xff\xfe\x00garbage\x80{[".to_vec()),
    ];
    // Every strict prefix (sampled for long files) must be refused: a truncated file is a miss.
    let step = (whole.len() / 64).max(1);
    for cut in (0..whole.len()).step_by(step) {
        inputs.push(("a truncated file", whole[..cut].to_vec()));
    }
    for (what, input) in inputs {
        let loaded = guard(|| backend.decode(&input))
            .map_err(|p| format!("decode on {what} ({} bytes) {p}", input.len()))?;
        if loaded.is_ok() {
            return Err(format!(
                "{what} ({} bytes) loads as a valid file; it must be an error",
                input.len()
            ));
        }
    }
    Ok(())
}

/// Runs `f`, turning a panic into a message.
fn guard<T>(f: impl FnOnce() -> T) -> std::result::Result<T, String> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|p| {
        let msg = p
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| p.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a non-string payload".into());
        format!("panicked: {msg}")
    })
}

/// Runs a backend call, turning a panic into a [`BackendError::Failure`]. Used on every call the
/// bucket makes into a backend, so that a misbehaving format can never take the program down.
///
/// ```
/// use bucketcache_traits::{validate::shielded, BackendError};
/// let r: Result<(), BackendError> = shielded(|| panic!("boom"));
/// assert!(r.unwrap_err().to_string().contains("panicked: boom"));
/// ```
pub fn shielded<T>(
    f: impl FnOnce() -> std::result::Result<T, BackendError>,
) -> std::result::Result<T, BackendError> {
    guard(f).unwrap_or_else(|p| Err(BackendError::Failure(p)))
}

/// How many distinct probe keys a keymaker must name with distinct digests.
const KEYMAKER_PROBE_KEYS: u32 = 4096;

/// On how many of them `make_key`'s text must be `make_digest`'s.
const KEYMAKER_TEXT_SAMPLE: u32 = 64;

/// Checks a keymaker before a bucket uses it: its digests must be lowercase hex of at least 128
/// bits (32 characters) and at most 128 characters (they are file names; this also rules out path
/// separators), deterministic, and distinct for 4096 distinct probe keys.
///
/// This is what makes a hash collision unable to return a wrong value in practice: a bucket
/// trusts the file name to identify the key, so a keymaker must be collision resistant. The
/// built-in keymakers use SHA-256 (`default`, `streaming`) and MD5 (`python`, for the original's
/// file names; MD5 collisions can be constructed on purpose, so do not use Python-compatible
/// naming for keys chosen by an adversary). A weak keymaker (a short or poorly mixed digest)
/// collides on the probe keys and is refused.
///
/// ```
/// # use bucketcache_traits::{validate::validate_keymaker, Backend, KeyError, KeyMaker};
/// #[derive(Debug)]
/// struct Short;
/// impl KeyMaker for Short {
///     fn name(&self) -> &str { "short" }
///     fn digest_len(&self) -> usize { 3 }
///     fn make_key(&self, key: &dyn erased_serde::Serialize, _: &dyn Backend) -> Result<String, KeyError> {
///         Ok("abc".into())
///     }
/// }
/// # #[derive(Debug)] struct B;
/// # impl Backend for B {
/// #   fn name(&self) -> &str { "b" } fn file_extension(&self) -> &str { "b" } fn is_binary(&self) -> bool { true }
/// #   fn dump(&self, _: &dyn erased_serde::Serialize, _: Option<bucketcache_traits::Expiration>, _: &mut Vec<u8>) -> Result<Option<bucketcache_traits::ValueLocation>, bucketcache_traits::BackendError> { Ok(None) }
/// #   fn decode(&self, _: &[u8]) -> Result<bucketcache_traits::Decoded, bucketcache_traits::BackendError> { Err(bucketcache_traits::BackendError::decode("no")) }
/// # }
/// let err = validate_keymaker(&Short, &B).unwrap_err();
/// assert!(err.to_string().contains("at least 32"));
/// ```
pub fn validate_keymaker(keymaker: &dyn crate::KeyMaker, backend: &dyn Backend) -> Result<()> {
    let name = guard(|| keymaker.name().to_owned()).unwrap_or_else(|_| "?".into());
    let refuse = |rule: String| Error::Config(format!("keymaker {name:?} refused: {rule}"));
    let mut seen = std::collections::HashMap::with_capacity(KEYMAKER_PROBE_KEYS as usize);
    for i in 0..KEYMAKER_PROBE_KEYS {
        let key = (i, format!("probe-{}", i % 7), i % 2 == 0);
        // The bucket names entries with `make_digest` (its default checks `make_key`'s text).
        let digest = guard(|| keymaker.make_digest(&key, backend))
            .map_err(|p| refuse(format!("make_digest {p}")))?
            .map_err(|e| refuse(format!("cannot hash a probe key: {e}")))?;
        let digest: String = digest.into();
        check_digest(&digest).map_err(refuse)?;
        // A keymaker that overrides `make_digest` must still give the same text from
        // `make_key` (checked on a sample: validation runs when a bucket opens).
        if i < KEYMAKER_TEXT_SAMPLE {
            let text = guard(|| keymaker.make_key(&key, backend))
                .map_err(|p| refuse(format!("make_key {p}")))?
                .map_err(|e| refuse(format!("make_key cannot hash a probe key: {e}")))?;
            if text != digest {
                return Err(refuse(format!(
                    "make_key gives {text:?} where make_digest gives {digest:?}"
                )));
            }
        }
        if i == 0 {
            let again: String = keymaker
                .make_digest(&key, backend)
                .map_err(|e| refuse(format!("cannot hash a probe key twice: {e}")))?
                .into();
            if again != digest {
                return Err(refuse("digests are not deterministic".into()));
            }
        }
        if let Some(other) = seen.insert(digest.clone(), i) {
            return Err(refuse(format!(
                "probe keys {other} and {i} collide on digest {digest}: the digest is too weak"
            )));
        }
    }
    Ok(())
}

/// A digest must be a safe file name stem: lowercase hex, 32 to 128 characters.
#[doc(hidden)]
pub fn check_digest(digest: &str) -> std::result::Result<(), String> {
    if digest.len() < 32 || digest.len() > 128 {
        return Err(format!(
            "digests must have at least 32 and at most 128 hex characters, got {} ({digest:?})",
            digest.len()
        ));
    }
    // Without an early exit the check vectorizes: it is on every key's path (a warm get).
    let hex = digest.bytes().fold(true, |ok, b| {
        ok & ((b.wrapping_sub(b'0') < 10) | (b.wrapping_sub(b'a') < 6))
    });
    if !hex {
        return Err(format!("digests must be lowercase hex, got {digest:?}"));
    }
    Ok(())
}
