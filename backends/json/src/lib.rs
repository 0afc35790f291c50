//! JSON backend for bucketcache, byte-compatible with Python BucketCache's `JSONBackend`.
//!
//! A cache file is the original's `json.dump({"value": V, "expiration_date": E})`: `value`
//! first, `E` either `null` or the naive-UTC `datetime.isoformat()` text, Python's separators,
//! escapes and float repr (see [`bucketcache_pyjson`]), no trailing newline:
//!
//! ```
//! use bucketcache_core::{time::parse_expiration, Backend};
//! use bucketcache_json::JsonBackend;
//!
//! let backend: &dyn Backend = &JsonBackend::default();
//! let bytes = backend.encode("värde ☃", parse_expiration("2100-01-01T00:00:00")).unwrap();
//! assert_eq!(bytes, br#"{"value": "v\u00e4rde \u2603", "expiration_date": "2100-01-01T00:00:00"}"#);
//! let back: String = backend.decode_value(&bytes).unwrap();
//! assert_eq!(back, "värde ☃");
//! ```
//!
//! Reading is stricter than the original in one way and as lenient in others:
//! * the key order of the envelope does not matter (Python 2 wrote `expiration_date` first);
//! * the document must be an object with exactly the keys `value` and `expiration_date`
//!   (a missing key crashed the original; here it is a decode error, i.e. a miss);
//! * the expiration is `null`, or text read by [`bucketcache_traits::time::parse_expiration`]; a
//!   time-zone offset or unreadable text is a decode error (the original crashed or used
//!   `dateutil`'s guesses). An empty string means "never expires", as in the original, where
//!   `""` is falsy;
//! * `NaN`, `Infinity` and `-Infinity`, which Python writes for non-finite floats, are read.
#![warn(missing_docs)]

mod config;
mod iso;
mod tree;

use std::fmt;
use std::ops::Range;
use std::sync::Arc;

use bucketcache_pyjson::{self as pyjson, PyJsonOptions};
use bucketcache_traits::registration::BackendCrate;
use bucketcache_traits::time::{parse_expiration, IsoText};
use bucketcache_traits::{Backend, BackendError, Decoded, Expiration, ValueLocation};
use serde::de::{self, MapAccess, Visitor};
use serde::ser::SerializeStruct;
use serde_json::value::RawValue;

pub use config::{JsonConfig, MAX_INDENT};

/// Registry name of the backend.
pub const NAME: &str = "json";
/// File extension (no dot).
pub const EXTENSION: &str = "json";
/// The original's class name, which enters Python-compatible file names.
pub const PYTHON_CLASS_NAME: &str = "JSONBackend";

/// The deepest nesting of arrays and objects a stored value may have. `serde_json`, which reads
/// the files back, refuses documents nested more than 128 levels, and the envelope is one of
/// them: a deeper value is refused by `set` (an encode error) rather than written and then
/// never read.
pub const MAX_DEPTH: usize = 127;

/// The JSON backend. [`Default`] writes exactly what the original writes.
///
/// ```
/// use bucketcache_core::Backend;
/// use bucketcache_json::{JsonBackend, JsonConfig};
///
/// let sorted = JsonBackend::new(JsonConfig::default().sort_keys(true).indent(Some(1))).unwrap();
/// let bytes = (&sorted as &dyn Backend).encode(&[1.0, 1e16], None).unwrap();
/// assert_eq!(bytes, b"{\n \"expiration_date\": null,\n \"value\": [\n  1.0,\n  1e+16\n ]\n}");
/// ```
#[derive(Clone)]
pub struct JsonBackend {
    config: JsonConfig,
    options: PyJsonOptions,
}

impl Default for JsonBackend {
    fn default() -> Self {
        let config = JsonConfig::default();
        let options = config.pyjson_options().max_depth(Some(MAX_DEPTH + 1));
        JsonBackend { config, options }
    }
}

impl fmt::Debug for JsonBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JsonBackend")
            .field("config", &self.config)
            .finish()
    }
}

impl JsonBackend {
    /// A backend with these options; options out of range (see [`JsonConfig::validate`]) are
    /// refused.
    pub fn new(config: JsonConfig) -> bucketcache_traits::Result<Self> {
        config.validate().map_err(|e| {
            bucketcache_traits::Error::Config(format!("options of backend {NAME:?}: {e}"))
        })?;
        // The envelope counts as one level.
        let options = config.pyjson_options().max_depth(Some(MAX_DEPTH + 1));
        Ok(JsonBackend { config, options })
    }

    /// Its options.
    pub fn config(&self) -> &JsonConfig {
        &self.config
    }
}

/// The envelope as written: a struct, so that `sort_keys` orders it as Python does.
struct Envelope<'a> {
    value: &'a dyn erased_serde::Serialize,
    expiration: Option<IsoText>,
}

impl serde::Serialize for Envelope<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("Envelope", 2)?;
        st.serialize_field("value", self.value)?;
        st.serialize_field("expiration_date", &self.expiration)?;
        st.end()
    }
}

/// The envelope as read: the value's raw text and the expiration text.
struct RawEnvelope<'a> {
    value: &'a RawValue,
    expiration: Option<std::borrow::Cow<'a, str>>,
}

enum Field {
    Value,
    Expiration,
}

impl<'de> de::Deserialize<'de> for Field {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Field;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("\"value\" or \"expiration_date\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Field, E> {
                match v {
                    "value" => Ok(Field::Value),
                    "expiration_date" => Ok(Field::Expiration),
                    other => Err(E::unknown_field(other, &["value", "expiration_date"])),
                }
            }
        }
        d.deserialize_identifier(V)
    }
}

impl<'de: 'a, 'a> de::Deserialize<'de> for RawEnvelope<'a> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = RawEnvelope<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object {\"value\": ..., \"expiration_date\": ...}")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut value = None;
                let mut expiration = None;
                while let Some(field) = map.next_key::<Field>()? {
                    match field {
                        Field::Value if value.is_some() => {
                            return Err(de::Error::duplicate_field("value"))
                        }
                        Field::Value => value = Some(map.next_value::<&'a RawValue>()?),
                        Field::Expiration if expiration.is_some() => {
                            return Err(de::Error::duplicate_field("expiration_date"))
                        }
                        Field::Expiration => {
                            expiration = Some(map.next_value::<iso::ExpField<'a>>()?.0)
                        }
                    }
                }
                Ok(RawEnvelope {
                    value: value.ok_or_else(|| de::Error::missing_field("value"))?,
                    expiration: expiration
                        .ok_or_else(|| de::Error::missing_field("expiration_date"))?,
                })
            }
        }
        d.deserialize_map(V(std::marker::PhantomData))
    }
}

/// Whether `bytes` may hold Python's non-finite float words, which only the slow reader knows.
fn has_non_finite(bytes: &[u8]) -> bool {
    let has = |w: &[u8]| bytes.windows(w.len()).any(|x| x == w);
    has(b"NaN") || has(b"Infinity")
}

fn expiration_of(text: Option<&str>) -> Result<Option<Expiration>, BackendError> {
    match text {
        None | Some("") => Ok(None),
        Some(t) => parse_expiration(t)
            .map(Some)
            .ok_or_else(|| BackendError::Decode(format!("invalid expiration date {t:?}"))),
    }
}

/// The slow path: the envelope read by [`tree::parse`], for files holding `NaN`/`Infinity`.
fn slow_envelope(bytes: &[u8]) -> Result<(tree::Tree, Option<Expiration>), BackendError> {
    let tree::Tree::Map(entries) = tree::parse(bytes).map_err(BackendError::Decode)? else {
        return Err(BackendError::decode("the document is not an object"));
    };
    let mut value = None;
    let mut expiration = None;
    for (k, v) in entries {
        let slot_taken = match k.as_str() {
            "value" => value.replace(v).is_some(),
            "expiration_date" => expiration.replace(v).is_some(),
            other => {
                return Err(BackendError::Decode(format!(
                    "unknown field `{other}`, expected `value` or `expiration_date`"
                )))
            }
        };
        if slot_taken {
            return Err(BackendError::Decode(format!("duplicate field `{k}`")));
        }
    }
    let value = value.ok_or_else(|| BackendError::decode("missing field `value`"))?;
    let expiration = match expiration {
        None => return Err(BackendError::decode("missing field `expiration_date`")),
        Some(tree::Tree::Null) => None,
        Some(tree::Tree::Str(s)) => Some(s),
        Some(other) => {
            return Err(BackendError::Decode(format!(
                "expiration date is not a string: {other:?}"
            )))
        }
    };
    Ok((value, expiration_of(expiration.as_deref())?))
}

impl Backend for JsonBackend {
    fn name(&self) -> &str {
        NAME
    }

    fn file_extension(&self) -> &str {
        EXTENSION
    }

    fn is_binary(&self) -> bool {
        false
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
        let iso = expiration.as_ref().map(IsoText::new);
        let envelope = Envelope {
            value,
            expiration: iso,
        };
        let start = out.len();
        pyjson::to_writer(&mut *out, &envelope, &self.options)
            .map_err(|e| match e {
                pyjson::Error::TooDeep(_) => BackendError::Encode(format!(
                    "the value nests arrays and objects deeper than {MAX_DEPTH} levels, the \
                     most the JSON reader reads back"
                )),
                e => BackendError::Encode(e.to_string()),
            })
            .inspect_err(|_| out.truncate(start))?;
        Ok(self
            .written_value_span(&out[start..], iso.as_ref().map(IsoText::as_str))
            .map(|r| ValueLocation::Json(start + r.start..start + r.end)))
    }

    fn decode(&self, bytes: &[u8]) -> Result<Decoded, BackendError> {
        match serde_json::from_slice::<RawEnvelope<'_>>(bytes) {
            Ok(env) => {
                let expiration = expiration_of(env.expiration.as_deref())?;
                let text = env.value.get().as_bytes();
                // The raw value borrows from `bytes`; its offset is the distance between the
                // pointers.
                let start = (text.as_ptr() as usize)
                    .checked_sub(bytes.as_ptr() as usize)
                    .filter(|s| bytes.get(*s..*s + text.len()) == Some(text))
                    .ok_or_else(|| BackendError::Failure("raw value outside the input".into()))?;
                Ok(Decoded::new(
                    expiration,
                    ValueLocation::Json(start..start + text.len()),
                ))
            }
            // Python's NaN/Infinity words: only the slow reader knows them.
            Err(e) if has_non_finite(bytes) => {
                let (value, expiration) = slow_envelope(bytes)
                    .map_err(|slow| BackendError::Decode(format!("{e}; {slow}")))?;
                Ok(Decoded::new(
                    expiration,
                    ValueLocation::Tree(Arc::new(tree::SharedTree(value))),
                ))
            }
            Err(e) => Err(BackendError::decode(e)),
        }
    }

    fn may_begin_entry(&self, head: &[u8]) -> bool {
        // The envelope is an object: `{` after optional whitespace.
        match head.iter().find(|b| !b.is_ascii_whitespace()) {
            None => true,
            Some(b) => *b == b'{',
        }
    }
}

impl JsonBackend {
    /// Where `dump` put the value in `written`, for the compact layouts whose envelope text
    /// around the value is known (no indent): `{"value": V, "expiration_date": E}`, or with
    /// `sort_keys` `{"expiration_date": E, "value": V}`. Checked against the bytes, so a layout
    /// this does not know gives `None` (the value is then found by a decode on first read).
    fn written_value_span(&self, written: &[u8], iso: Option<&str>) -> Option<Range<usize>> {
        if self.config.indent.is_some() {
            return None;
        }
        // Checked piece by piece, without building the texts: this runs on every set.
        let [e0, e1, e2]: [&[u8]; 3] = match iso {
            None => [b"null", b"", b""],
            Some(t) => [b"\"", t.as_bytes(), b"\""],
        };
        let sorted: [&[u8]; 5] = [br#"{"expiration_date": "#, e0, e1, e2, br#", "value": "#];
        let unsorted: [&[u8]; 5] = [br#", "expiration_date": "#, e0, e1, e2, b"}"];
        let (before, after): (&[&[u8]], &[&[u8]]) = if self.config.sort_keys {
            (&sorted, &[b"}"])
        } else {
            (&[br#"{"value": "#], &unsorted)
        };
        let mut value = written;
        for piece in before {
            value = value.strip_prefix(*piece)?;
        }
        for piece in after.iter().rev() {
            value = value.strip_suffix(*piece)?;
        }
        let start = before.iter().map(|p| p.len()).sum::<usize>();
        Some(start..start + value.len())
    }
}

impl BackendCrate for JsonBackend {
    const NAME: &'static str = NAME;
    const EXTENSION: &'static str = EXTENSION;
    const PYTHON_CLASS_NAME: Option<&'static str> = Some(PYTHON_CLASS_NAME);
    type Config = JsonConfig;
    fn new(config: JsonConfig) -> bucketcache_traits::Result<Self> {
        JsonBackend::new(config)
    }
}

bucketcache_traits::backend_crate!(JsonBackend);

#[cfg(test)]
mod tests;
