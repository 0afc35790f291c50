//! A Python value, as far as the three formats can carry one.

use std::fmt;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{SerializeMap, SerializeSeq, SerializeTuple, Serializer};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// A Python value: what the original stores and what the tests compare.
///
/// Serializing maps it onto serde the way a Rust program would write the same data (a tuple is a
/// serde tuple, a dict keeps its insertion order, ints use the narrowest serde integer);
/// deserializing accepts whatever a backend hands out (serde cannot tell a tuple from a list).
#[derive(Debug, Clone)]
pub(super) enum Py {
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
    pub(super) fn s(text: &str) -> Py {
        Py::Str(text.to_owned())
    }

    pub(super) fn dict(entries: Vec<(&str, Py)>) -> Py {
        Py::Dict(entries.into_iter().map(|(k, v)| (Py::s(k), v)).collect())
    }

    /// What survives a trip through a format (or through serde): `json` turns tuples into lists
    /// and dict keys into strings; `msgpack` and serde readers turn tuples into lists. Dicts are
    /// compared without regard to order (Python 2 wrote JSON envelopes in another order).
    pub(super) fn normalized(&self, format: Format) -> Py {
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
    pub(super) fn tagged(&self) -> Value {
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
    pub(super) fn from_tagged(v: &Value) -> Py {
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
pub(super) enum Format {
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

pub(super) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex"))
        .collect()
}

pub(super) fn int(i: i128) -> Py {
    Py::Int(i)
}
