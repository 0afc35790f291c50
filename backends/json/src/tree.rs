//! A small JSON reader for what `serde_json` refuses but Python writes: the bare `NaN`,
//! `Infinity` and `-Infinity` of `allow_nan=True`. It builds an owned tree (object keys in file
//! order) that deserializes like `serde_json` would. Only used when `serde_json` fails on a file
//! that contains one of those words, so the common path stays zero-copy.

use serde::de::value::{Error, MapDeserializer, SeqDeserializer};
use serde::de::{self, IntoDeserializer, Visitor};
use serde::forward_to_deserialize_any;

/// Nesting deeper than this is refused (as `serde_json`'s recursion limit), so hostile input
/// cannot overflow the stack.
const MAX_DEPTH: usize = 128;

/// An owned JSON value that keeps object key order and non-finite floats.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tree {
    Null,
    Bool(bool),
    U64(u64),
    I64(i64),
    F64(f64),
    Str(String),
    List(Vec<Tree>),
    Map(Vec<(String, Tree)>),
}

/// Parses one JSON document (with Python's `NaN`/`Infinity` extension), surrounded by optional
/// whitespace.
pub(crate) fn parse(bytes: &[u8]) -> Result<Tree, String> {
    let text = std::str::from_utf8(bytes).map_err(|e| e.to_string())?;
    let mut p = Parser {
        s: text.as_bytes(),
        text,
        i: 0,
    };
    p.ws();
    let v = p.value(0)?;
    p.ws();
    if p.i != p.s.len() {
        return Err(format!("trailing characters at byte {}", p.i));
    }
    Ok(v)
}

struct Parser<'a> {
    s: &'a [u8],
    text: &'a str,
    i: usize,
}

impl Parser<'_> {
    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.s.get(self.i) {
            self.i += 1;
        }
    }

    fn err<T>(&self, what: &str) -> Result<T, String> {
        Err(format!("{what} at byte {}", self.i))
    }

    fn eat(&mut self, word: &[u8]) -> bool {
        if self.s[self.i..].starts_with(word) {
            self.i += word.len();
            true
        } else {
            false
        }
    }

    fn value(&mut self, depth: usize) -> Result<Tree, String> {
        if depth > MAX_DEPTH {
            return self.err("nesting too deep");
        }
        match self.s.get(self.i) {
            None => self.err("unexpected end of input"),
            Some(b'{') => self.object(depth),
            Some(b'[') => self.array(depth),
            Some(b'"') => self.string().map(Tree::Str),
            Some(b't') if self.eat(b"true") => Ok(Tree::Bool(true)),
            Some(b'f') if self.eat(b"false") => Ok(Tree::Bool(false)),
            Some(b'n') if self.eat(b"null") => Ok(Tree::Null),
            Some(b'N') if self.eat(b"NaN") => Ok(Tree::F64(f64::NAN)),
            Some(b'I') if self.eat(b"Infinity") => Ok(Tree::F64(f64::INFINITY)),
            Some(b'-') if self.eat(b"-Infinity") => Ok(Tree::F64(f64::NEG_INFINITY)),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(_) => self.err("expected a value"),
        }
    }

    fn object(&mut self, depth: usize) -> Result<Tree, String> {
        self.i += 1;
        let mut entries = Vec::new();
        self.ws();
        if self.eat(b"}") {
            return Ok(Tree::Map(entries));
        }
        loop {
            self.ws();
            if self.s.get(self.i) != Some(&b'"') {
                return self.err("expected an object key");
            }
            let key = self.string()?;
            self.ws();
            if !self.eat(b":") {
                return self.err("expected ':'");
            }
            self.ws();
            let value = self.value(depth + 1)?;
            entries.push((key, value));
            self.ws();
            if self.eat(b",") {
                continue;
            }
            if self.eat(b"}") {
                return Ok(Tree::Map(entries));
            }
            return self.err("expected ',' or '}'");
        }
    }

    fn array(&mut self, depth: usize) -> Result<Tree, String> {
        self.i += 1;
        let mut items = Vec::new();
        self.ws();
        if self.eat(b"]") {
            return Ok(Tree::List(items));
        }
        loop {
            self.ws();
            items.push(self.value(depth + 1)?);
            self.ws();
            if self.eat(b",") {
                continue;
            }
            if self.eat(b"]") {
                return Ok(Tree::List(items));
            }
            return self.err("expected ',' or ']'");
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.i;
        while let Some(b'0'..=b'9') = self.s.get(self.i) {
            self.i += 1;
        }
        self.i - start
    }

    fn number(&mut self) -> Result<Tree, String> {
        let start = self.i;
        self.eat(b"-");
        match self.s.get(self.i) {
            Some(b'0') => self.i += 1,
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return self.err("invalid number"),
        }
        let mut integral = true;
        if self.eat(b".") {
            integral = false;
            if self.digits() == 0 {
                return self.err("invalid number");
            }
        }
        if let Some(b'e' | b'E') = self.s.get(self.i) {
            integral = false;
            self.i += 1;
            if let Some(b'+' | b'-') = self.s.get(self.i) {
                self.i += 1;
            }
            if self.digits() == 0 {
                return self.err("invalid number");
            }
        }
        let text = &self.text[start..self.i];
        if integral {
            if let Ok(u) = text.parse::<u64>() {
                return Ok(Tree::U64(u));
            }
            if let Ok(i) = text.parse::<i64>() {
                return Ok(Tree::I64(i));
            }
        }
        // Integers beyond 64 bits become floats, as with serde_json.
        text.parse::<f64>()
            .map(Tree::F64)
            .or_else(|_| self.err("invalid number"))
    }

    fn hex4(&mut self) -> Result<u16, String> {
        let h = self
            .s
            .get(self.i..self.i + 4)
            .ok_or("truncated \\u escape")?;
        let h = std::str::from_utf8(h).map_err(|e| e.to_string())?;
        let v =
            u16::from_str_radix(h, 16).map_err(|_| format!("bad \\u escape at byte {}", self.i))?;
        self.i += 4;
        Ok(v)
    }

    fn string(&mut self) -> Result<String, String> {
        self.i += 1;
        let mut out = String::new();
        loop {
            let start = self.i;
            while let Some(&b) = self.s.get(self.i) {
                if b == b'"' || b == b'\\' || b < 0x20 {
                    break;
                }
                self.i += 1;
            }
            // The input is valid UTF-8 and we stopped at an ASCII byte: a char boundary.
            out.push_str(&self.text[start..self.i]);
            match self.s.get(self.i) {
                None => return self.err("unterminated string"),
                Some(b'"') => {
                    self.i += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.i += 1;
                    let Some(&e) = self.s.get(self.i) else {
                        return self.err("unterminated string");
                    };
                    self.i += 1;
                    match e {
                        b'"' => out.push('"'),
                        b'\\' => out.push('\\'),
                        b'/' => out.push('/'),
                        b'b' => out.push('\u{8}'),
                        b'f' => out.push('\u{c}'),
                        b'n' => out.push('\n'),
                        b'r' => out.push('\r'),
                        b't' => out.push('\t'),
                        b'u' => {
                            let hi = self.hex4()?;
                            let c = if (0xd800..0xdc00).contains(&hi) {
                                if !self.eat(b"\\u") {
                                    return self.err("lone surrogate");
                                }
                                let lo = self.hex4()?;
                                if !(0xdc00..0xe000).contains(&lo) {
                                    return self.err("lone surrogate");
                                }
                                let code = 0x10000
                                    + ((u32::from(hi) - 0xd800) << 10)
                                    + (u32::from(lo) - 0xdc00);
                                char::from_u32(code)
                            } else {
                                char::from_u32(u32::from(hi))
                            };
                            match c {
                                Some(c) => out.push(c),
                                None => return self.err("lone surrogate"),
                            }
                        }
                        _ => return self.err("invalid escape"),
                    }
                }
                Some(_) => return self.err("control character in string"),
            }
        }
    }
}

impl<'de> IntoDeserializer<'de, Error> for Tree {
    type Deserializer = Tree;
    fn into_deserializer(self) -> Tree {
        self
    }
}

impl<'de> de::Deserializer<'de> for Tree {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self {
            Tree::Null => visitor.visit_unit(),
            Tree::Bool(b) => visitor.visit_bool(b),
            Tree::U64(u) => visitor.visit_u64(u),
            Tree::I64(i) => visitor.visit_i64(i),
            Tree::F64(f) => visitor.visit_f64(f),
            Tree::Str(s) => visitor.visit_string(s),
            Tree::List(items) => {
                let mut seq = SeqDeserializer::new(items.into_iter());
                let v = visitor.visit_seq(&mut seq)?;
                seq.end()?;
                Ok(v)
            }
            Tree::Map(entries) => {
                let mut map = MapDeserializer::new(entries.into_iter());
                let v = visitor.visit_map(&mut map)?;
                map.end()?;
                Ok(v)
            }
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self {
            Tree::Null => visitor.visit_none(),
            other => visitor.visit_some(other),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        match self {
            Tree::Str(s) => visitor.visit_enum(s.into_deserializer()),
            Tree::Map(entries) if entries.len() == 1 => visitor.visit_enum(
                de::value::MapAccessDeserializer::new(MapDeserializer::new(entries.into_iter())),
            ),
            other => other.deserialize_any(visitor),
        }
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct seq tuple tuple_struct map struct identifier ignored_any
    }
}

#[cfg(test)]
impl serde::Serialize for Tree {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Tree::Null => s.serialize_unit(),
            Tree::Bool(b) => s.serialize_bool(*b),
            Tree::U64(u) => s.serialize_u64(*u),
            Tree::I64(i) => s.serialize_i64(*i),
            Tree::F64(f) => s.serialize_f64(*f),
            Tree::Str(t) => s.serialize_str(t),
            Tree::List(l) => s.collect_seq(l),
            Tree::Map(m) => s.collect_map(m.iter().map(|(k, v)| (k, v))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[test]
    fn python_non_finite_floats_parse() {
        let t =
            parse(b" [NaN, Infinity, -Infinity, -1.5e-10, 7, -7, 18446744073709551616] ").unwrap();
        let Tree::List(items) = t else {
            panic!("{t:?}")
        };
        assert!(matches!(items[0], Tree::F64(f) if f.is_nan()));
        assert_eq!(items[1], Tree::F64(f64::INFINITY));
        assert_eq!(items[2], Tree::F64(f64::NEG_INFINITY));
        assert_eq!(items[3], Tree::F64(-1.5e-10));
        assert_eq!(items[4], Tree::U64(7));
        assert_eq!(items[5], Tree::I64(-7));
        assert_eq!(items[6], Tree::F64(18446744073709551616.0));
    }

    #[test]
    fn strings_with_escapes_and_surrogates_parse() {
        let t = parse(br#""v\u00e4rde \u2603 \ud83d\ude00 \"\\\/\b\f\n\r\t""#).unwrap();
        assert_eq!(t, Tree::Str("värde ☃ 😀 \"\\/\u{8}\u{c}\n\r\t".into()));
    }

    #[test]
    fn objects_keep_their_order() {
        let t = parse(br#"{"z": 1, "a": {}, "m": []}"#).unwrap();
        let Tree::Map(m) = t else { panic!() };
        let keys: Vec<_> = m.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["z", "a", "m"]);
    }

    #[test]
    fn invalid_json_is_refused() {
        for bad in [
            &b""[..],
            b"[",
            b"[1,]",
            b"{\"a\" 1}",
            b"nan",
            b"-",
            b"01x",
            b"1.",
            b"\"\\ud83d\"",
            b"\"a\nb\"",
            b"\"abc",
            b"[1] x",
            b"\xff",
            b"{\"a\": 1,}",
            b"\"\\x\"",
        ] {
            assert!(parse(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn deep_nesting_is_refused_not_a_stack_overflow() {
        let deep = "[".repeat(100_000);
        assert!(parse(deep.as_bytes()).is_err());
    }

    #[test]
    fn trees_deserialize_like_serde_json() {
        #[derive(Debug, Deserialize, PartialEq)]
        enum E {
            Unit,
            New(f64),
            Rec { a: Option<u8> },
        }
        #[derive(Debug, Deserialize, PartialEq)]
        struct S {
            f: f64,
            e: Vec<E>,
            t: (u8, String),
            o: Option<i32>,
        }
        let t = parse(br#"{"f": -Infinity, "e": ["Unit", {"New": NaN}, {"Rec": {"a": null}}], "t": [1, "x"], "o": null}"#)
            .unwrap();
        let s = S::deserialize(t).unwrap();
        assert_eq!(s.f, f64::NEG_INFINITY);
        assert_eq!(s.e[0], E::Unit);
        assert!(matches!(s.e[1], E::New(f) if f.is_nan()));
        assert_eq!(s.e[2], E::Rec { a: None });
        assert_eq!(s.t, (1, "x".into()));
        assert_eq!(s.o, None);
        assert!(u8::deserialize(parse(b"NaN").unwrap()).is_err());
        assert!(<(u8,)>::deserialize(parse(b"[1, 2]").unwrap()).is_err());
    }
}

/// A tree shared by the entries of the in-memory layer, handed out as a deserializer on demand.
#[derive(Debug)]
pub(crate) struct SharedTree(pub(crate) Tree);

impl bucketcache_traits::ValueTree for SharedTree {
    fn visit(
        &self,
        visit: &mut bucketcache_traits::ValueVisitor<'_>,
    ) -> Result<(), erased_serde::Error> {
        visit(&mut <dyn erased_serde::Deserializer>::erase(self.0.clone()))
    }
}
