//! Byte identity with CPython's pickler on random built-in values (`tests/data/cpython_cases.json`,
//! written by CPython 3.11 with `tests/data/gen_cpython_cases.py`): for each value, `to_vec` at
//! protocols 2 and 3 must give exactly `pickle.dumps(value, 2)` / `pickle.dumps(value, 3)`, and
//! reading CPython's bytes back must give the value again.

use serde::ser::{Serialize, SerializeMap, SerializeSeq, SerializeTuple, Serializer};
use serde_json::Value;

/// A value tagged by the generator: `{"t": kind, "v": payload}`.
struct Tagged<'a>(&'a Value);

struct Bytes(Vec<u8>);

impl Serialize for Bytes {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(&self.0)
    }
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

/// Parses Python's `float.hex()` output (`[-]0x1.8p+1`, `inf`, `-inf`).
fn from_float_hex(h: &str) -> f64 {
    match h {
        "inf" => return f64::INFINITY,
        "-inf" => return f64::NEG_INFINITY,
        _ => {}
    }
    let (negative, h) = match h.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, h),
    };
    let h = h.strip_prefix("0x").expect("0x");
    let (mantissa, exp) = h.split_once('p').expect("p");
    let (int_part, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let mut m = u64::from_str_radix(int_part, 16).expect("hex digits");
    for c in frac.chars() {
        m = m * 16 + u64::from(c.to_digit(16).expect("hex digit"));
    }
    let e: i32 = exp.parse::<i32>().expect("exponent") - 4 * frac.len() as i32;
    // Two steps, so subnormals do not underflow through an intermediate power of two.
    let v = (m as f64) * 2f64.powi(e / 2) * 2f64.powi(e - e / 2);
    if negative {
        -v
    } else {
        v
    }
}

impl Serialize for Tagged<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let v = &self.0["v"];
        let items = || v.as_array().expect("array");
        match self.0["t"].as_str().expect("tag") {
            "c" => match v {
                Value::Bool(b) => s.serialize_bool(*b),
                _ => s.serialize_none(),
            },
            "i" => {
                let text = v.as_str().expect("int text");
                match text.parse::<i128>() {
                    Ok(i) => s.serialize_i128(i),
                    Err(_) => s.serialize_u128(text.parse().expect("u128")),
                }
            }
            "f" => s.serialize_f64(from_float_hex(v.as_str().expect("float hex"))),
            "s" => s.serialize_str(v.as_str().expect("str")),
            "b" => Bytes(unhex(v.as_str().expect("bytes hex"))).serialize(s),
            "l" => {
                let mut seq = s.serialize_seq(Some(items().len()))?;
                for i in items() {
                    seq.serialize_element(&Tagged(i))?;
                }
                seq.end()
            }
            "u" => {
                let mut tup = s.serialize_tuple(items().len())?;
                for i in items() {
                    tup.serialize_element(&Tagged(i))?;
                }
                tup.end()
            }
            "d" => {
                let mut map = s.serialize_map(Some(items().len()))?;
                for kv in items() {
                    map.serialize_entry(kv[0].as_str().expect("key"), &Tagged(&kv[1]))?;
                }
                map.end()
            }
            other => panic!("unknown tag {other}"),
        }
    }
}

fn cases() -> Vec<Value> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/cpython_cases.json");
    serde_json::from_str(&std::fs::read_to_string(path).expect("cases")).expect("json")
}

#[test]
fn to_vec_matches_cpython_byte_for_byte() {
    let cases = cases();
    assert_eq!(cases.len(), 120);
    for c in &cases {
        for (protocol, field) in [(2, "p"), (3, "p3")] {
            let ours = bucketcache_pickle::to_vec(&Tagged(&c["v"]), protocol).unwrap();
            let theirs = unhex(c[field].as_str().expect("hex"));
            assert_eq!(ours, theirs, "protocol {protocol}: {}", c["v"]);
        }
    }
}

/// What a serde reader can see of a Python value (a tuple is a sequence, an int beyond 64 bits
/// is handed out as decimal text).
#[derive(Debug, PartialEq)]
enum Seen {
    None,
    Bool(bool),
    Int(i128),
    Text(String),
    Float(u64),
    Bytes(Vec<u8>),
    Seq(Vec<Seen>),
    Map(Vec<(String, Seen)>),
}

impl Seen {
    fn expected(tagged: &Value) -> Seen {
        let v = &tagged["v"];
        let items = || v.as_array().expect("array");
        match tagged["t"].as_str().expect("tag") {
            "c" => v.as_bool().map_or(Seen::None, Seen::Bool),
            "i" => {
                let text = v.as_str().expect("int");
                let i: Option<i128> = text.parse().ok();
                match i {
                    Some(i) if i64::try_from(i).is_ok() || u64::try_from(i).is_ok() => Seen::Int(i),
                    _ => Seen::Text(text.to_owned()),
                }
            }
            "f" => Seen::Float(from_float_hex(v.as_str().expect("float")).to_bits()),
            "s" => Seen::Text(v.as_str().expect("str").to_owned()),
            "b" => Seen::Bytes(unhex(v.as_str().expect("bytes"))),
            "l" | "u" => Seen::Seq(items().iter().map(Seen::expected).collect()),
            _ => Seen::Map(
                items()
                    .iter()
                    .map(|kv| {
                        (
                            kv[0].as_str().expect("key").to_owned(),
                            Seen::expected(&kv[1]),
                        )
                    })
                    .collect(),
            ),
        }
    }
}

impl<'de> serde::Deserialize<'de> for Seen {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Seen, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Seen;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a Python value")
            }
            fn visit_unit<E>(self) -> Result<Seen, E> {
                Ok(Seen::None)
            }
            fn visit_bool<E>(self, b: bool) -> Result<Seen, E> {
                Ok(Seen::Bool(b))
            }
            fn visit_i64<E>(self, i: i64) -> Result<Seen, E> {
                Ok(Seen::Int(i.into()))
            }
            fn visit_u64<E>(self, i: u64) -> Result<Seen, E> {
                Ok(Seen::Int(i.into()))
            }
            fn visit_f64<E>(self, f: f64) -> Result<Seen, E> {
                Ok(Seen::Float(f.to_bits()))
            }
            fn visit_str<E>(self, s: &str) -> Result<Seen, E> {
                Ok(Seen::Text(s.to_owned()))
            }
            fn visit_bytes<E>(self, b: &[u8]) -> Result<Seen, E> {
                Ok(Seen::Bytes(b.to_vec()))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut a: A) -> Result<Seen, A::Error> {
                let mut out = Vec::new();
                while let Some(x) = a.next_element()? {
                    out.push(x);
                }
                Ok(Seen::Seq(out))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut a: A) -> Result<Seen, A::Error> {
                let mut out = Vec::new();
                while let Some(kv) = a.next_entry()? {
                    out.push(kv);
                }
                Ok(Seen::Map(out))
            }
        }
        d.deserialize_any(V)
    }
}

#[test]
fn cpython_pickles_read_back_to_the_same_value() {
    for c in &cases() {
        let expected = Seen::expected(&c["v"]);
        for field in ["p", "p3"] {
            let theirs = unhex(c[field].as_str().expect("hex"));
            let back: Seen = bucketcache_pickle::from_slice(&theirs).unwrap();
            assert_eq!(back, expected, "{field}: {}", c["v"]);
        }
    }
}

#[test]
fn every_protocol_cpython_writes_reads_back() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/cpython_read_cases.json"
    );
    let cases: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(path).expect("cases")).expect("json");
    assert_eq!(cases.len(), 60);
    for c in &cases {
        let expected = Seen::expected(&c["v"]);
        for protocol in 0..=5 {
            let theirs = unhex(c[format!("p{protocol}")].as_str().expect("hex"));
            let back: Seen = match bucketcache_pickle::from_slice(&theirs) {
                Ok(v) => v,
                Err(e) => panic!("protocol {protocol}: {e}: {}", c["v"]),
            };
            assert_eq!(back, expected, "protocol {protocol}: {}", c["v"]);
        }
    }
}
