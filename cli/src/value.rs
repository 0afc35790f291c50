//! A JSON view of any stored value, whatever the backend decoded.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// Any value a backend hands out, converted to JSON for printing.
///
/// Lenient where `serde_json::Value` is strict, because caches written by Python hold values
/// JSON has no word for: map keys that are not strings become their JSON text (`{1: "a"}` prints
/// as `{"1": "a"}`, as Python's `json.dumps` does), byte strings become arrays of integers,
/// non-finite floats become `null`, and integers beyond 64 bits become (rounded) floats.
#[derive(Debug, Clone, PartialEq)]
pub struct AnyValue(pub Value);

impl<'de> Deserialize<'de> for AnyValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(AnyVisitor).map(AnyValue)
    }
}

struct AnyVisitor;

impl<'de> Visitor<'de> for AnyVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }
    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Value, E> {
        if let Ok(v) = i64::try_from(v) {
            return self.visit_i64(v);
        }
        if let Ok(v) = u64::try_from(v) {
            return self.visit_u64(v);
        }
        self.visit_f64(v as f64)
    }
    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Value, E> {
        match u64::try_from(v) {
            Ok(v) => self.visit_u64(v),
            Err(_) => self.visit_f64(v as f64),
        }
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Ok(Number::from_f64(v).map_or(Value::Null, Value::Number))
    }
    fn visit_char<E: de::Error>(self, v: char) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Value, E> {
        Ok(Value::Array(v.iter().map(|b| Value::from(*b)).collect()))
    }
    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        AnyValue::deserialize(d).map(|v| v.0)
    }
    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        AnyValue::deserialize(d).map(|v| v.0)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        while let Some(AnyValue(v)) = seq.next_element()? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some((AnyValue(k), AnyValue(v))) = map.next_entry()? {
            let key = match k {
                Value::String(s) => s,
                other => other.to_string(),
            };
            out.insert(key, v);
        }
        Ok(Value::Object(out))
    }
}

#[cfg(test)]
mod tests {
    use serde::de::value::{BytesDeserializer, Error, MapDeserializer};

    use super::*;

    #[test]
    fn non_string_map_keys_become_their_json_text() {
        // Python's {1: "a", 2: "b"} as a MessagePack or pickle reader hands it out.
        let map = MapDeserializer::<_, Error>::new(vec![(1u32, "a"), (2, "b")].into_iter());
        let v = AnyValue::deserialize(map).unwrap();
        assert_eq!(v.0, serde_json::json!({"1": "a", "2": "b"}));
    }

    #[test]
    fn byte_strings_become_integer_arrays() {
        let v = AnyValue::deserialize(BytesDeserializer::<Error>::new(&[0, 255])).unwrap();
        assert_eq!(v.0, serde_json::json!([0, 255]));
    }

    #[test]
    fn json_values_come_out_unchanged() {
        let text = r#"{"a":[1,-2,2.5,"x",null,true],"b":{}}"#;
        let v: AnyValue = serde_json::from_str(text).unwrap();
        assert_eq!(v.0.to_string(), text);
    }
}
