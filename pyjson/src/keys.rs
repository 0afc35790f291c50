//! Map keys: Python's `json` coerces them to strings (`1` → `"1"`, `True` → `"true"`,
//! `None` → `"null"`), and with `sort_keys` it sorts them *before* coercing, as Python values:
//! strings by code point, numbers numerically, and a mix of the two is an error. So each key
//! is kept with its kind ([`KeyKind`]) and a sorted map is buffered until it ends ([`Sorted`]).

use std::cmp::Ordering;
use std::io::Write;

use serde::ser::{self, Impossible, Serialize};

use crate::escape::write_quoted;
use crate::float::{format_float, StackBuf};
use crate::int::{format_int, INT_BUF};
use crate::{Error, PyJsonOptions};

/// The kind of a map key, kept for sorting (Python sorts keys before turning them into text).
#[derive(Debug, Clone, Copy)]
enum KeyKind {
    Str,
    Int(i128),
    UInt(u128),
    Float(f64),
    Bool(bool),
    Null,
}

impl KeyKind {
    fn class(&self) -> &'static str {
        match self {
            KeyKind::Str => "str",
            KeyKind::Int(_) | KeyKind::UInt(_) | KeyKind::Float(_) | KeyKind::Bool(_) => "number",
            KeyKind::Null => "None",
        }
    }
}

/// A number for exact comparison across ints, big unsigned ints and floats.
#[derive(Clone, Copy)]
enum Num {
    Int(i128),
    Big(u128),
    Float(f64),
}

fn num_of(k: KeyKind) -> Num {
    match k {
        KeyKind::Int(i) => Num::Int(i),
        KeyKind::UInt(u) => i128::try_from(u).map_or(Num::Big(u), Num::Int),
        KeyKind::Float(f) => Num::Float(f),
        KeyKind::Bool(b) => Num::Int(i128::from(b)),
        KeyKind::Str | KeyKind::Null => Num::Int(0),
    }
}

/// A total order matching Python's `<` on numbers; NaN (unordered in Python) goes last.
fn cmp_num(a: Num, b: Num) -> Ordering {
    fn int_float(i: i128, f: f64) -> Ordering {
        if f.is_nan() {
            return Ordering::Less;
        }
        match (i as f64).partial_cmp(&f) {
            Some(Ordering::Equal) | None => i.cmp(&(f as i128)),
            Some(o) => o,
        }
    }
    fn big_float(u: u128, f: f64) -> Ordering {
        if f.is_nan() {
            return Ordering::Less;
        }
        match (u as f64).partial_cmp(&f) {
            Some(Ordering::Equal) | None => u.cmp(&(f as u128)),
            Some(o) => o,
        }
    }
    match (a, b) {
        (Num::Int(x), Num::Int(y)) => x.cmp(&y),
        (Num::Big(x), Num::Big(y)) => x.cmp(&y),
        (Num::Big(_), Num::Int(_)) => Ordering::Greater,
        (Num::Int(_), Num::Big(_)) => Ordering::Less,
        (Num::Float(x), Num::Float(y)) => match (x.is_nan(), y.is_nan()) {
            (true, true) => Ordering::Equal,
            (true, false) => Ordering::Greater,
            (false, true) => Ordering::Less,
            (false, false) => x.partial_cmp(&y).unwrap_or(Ordering::Equal),
        },
        (Num::Int(i), Num::Float(f)) => int_float(i, f),
        (Num::Float(f), Num::Int(i)) => int_float(i, f).reverse(),
        (Num::Big(u), Num::Float(f)) => big_float(u, f),
        (Num::Float(f), Num::Big(u)) => big_float(u, f).reverse(),
    }
}

/// One entry of a [`Sorted`] map: where its key and value sit in the buffer.
#[derive(Debug)]
pub(crate) struct Entry {
    kind: KeyKind,
    key: (usize, usize),
    value: (usize, usize),
}

/// A map being collected for sorting: keys (as raw text) and values (as JSON) in one buffer.
#[derive(Debug, Default)]
pub(crate) struct Sorted {
    buf: Vec<u8>,
    entries: Vec<Entry>,
    pending: Option<(KeyKind, usize, usize)>,
}

impl Sorted {
    /// Room for `len` entries (serde's hint), so that small maps fill their buffer without
    /// regrowing.
    pub(crate) fn with_capacity(len: usize) -> Self {
        Sorted {
            buf: Vec::with_capacity(24 * len),
            entries: Vec::with_capacity(len),
            pending: None,
        }
    }

    /// Records a key (its raw text and kind) until its value comes.
    pub(crate) fn key<T: Serialize + ?Sized>(
        &mut self,
        key: &T,
        opts: &PyJsonOptions,
    ) -> Result<(), Error> {
        let start = self.buf.len();
        let kind = key.serialize(KeyWriter {
            out: &mut self.buf,
            opts,
            raw: true,
        })?;
        self.pending = Some((kind, start, self.buf.len()));
        Ok(())
    }

    /// Records the value of the pending key, which `write` appends to the buffer as JSON.
    pub(crate) fn value(
        &mut self,
        write: impl FnOnce(&mut Vec<u8>) -> Result<(), Error>,
    ) -> Result<(), Error> {
        let (kind, ks, ke) = self
            .pending
            .take()
            .ok_or_else(|| Error::Custom("map value without a key".into()))?;
        let start = self.buf.len();
        write(&mut self.buf)?;
        self.entries.push(Entry {
            kind,
            key: (ks, ke),
            value: (start, self.buf.len()),
        });
        Ok(())
    }

    /// Orders the entries as Python's `sorted()` orders the keys, or refuses keys it could not
    /// compare (it raises `TypeError`).
    pub(crate) fn sort(&mut self) -> Result<(), Error> {
        let Sorted { buf, entries, .. } = self;
        if let Some(first) = entries.first() {
            let class = first.kind.class();
            for e in &entries[1..] {
                if e.kind.class() != class {
                    return Err(Error::MixedKeys(class, e.kind.class()));
                }
            }
            if class == "None" && entries.len() > 1 {
                return Err(Error::MixedKeys("None", "None"));
            }
            if class == "str" {
                // UTF-8 byte order is code point order, Python's string order.
                entries.sort_by(|a, b| buf[a.key.0..a.key.1].cmp(&buf[b.key.0..b.key.1]));
            } else {
                entries.sort_by(|a, b| cmp_num(num_of(a.kind), num_of(b.kind)));
            }
        }
        Ok(())
    }

    /// The entries, in order once [`sort`](Self::sort)ed.
    pub(crate) fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// An entry's key, as raw text (to be quoted).
    pub(crate) fn key_text(&self, e: &Entry) -> Result<&str, Error> {
        std::str::from_utf8(&self.buf[e.key.0..e.key.1]).map_err(|e| Error::Custom(e.to_string()))
    }

    /// An entry's value, as JSON.
    pub(crate) fn value_json(&self, e: &Entry) -> &[u8] {
        &self.buf[e.value.0..e.value.1]
    }
}

/// Writes a map key as a JSON string (Python coerces number, bool and null keys to strings).
pub(crate) fn write_key<W: Write, T: Serialize + ?Sized>(
    out: &mut W,
    key: &T,
    opts: &PyJsonOptions,
) -> Result<(), Error> {
    key.serialize(KeyWriter {
        out,
        opts,
        raw: false,
    })?;
    Ok(())
}

/// Serializes a map key: its text (quoted and escaped, or raw for sorting) and its kind.
struct KeyWriter<'b, 'o, W> {
    out: &'b mut W,
    opts: &'o PyJsonOptions,
    /// Raw text (for the sort buffer) instead of a quoted, escaped JSON string.
    raw: bool,
}

impl<W: Write> KeyWriter<'_, '_, W> {
    fn text(self, text: &str, kind: KeyKind) -> Result<KeyKind, Error> {
        if self.raw {
            self.out.write_all(text.as_bytes())?;
        } else {
            write_quoted(self.out, text, self.opts.ensure_ascii)?;
        }
        Ok(kind)
    }
    fn number(self, kind: KeyKind) -> Result<KeyKind, Error> {
        let mut buf = [0u8; INT_BUF];
        let text = match kind {
            KeyKind::Int(i) => format_int(&mut buf, i < 0, i.unsigned_abs()),
            KeyKind::UInt(u) => format_int(&mut buf, false, u),
            _ => return Err(Error::Custom("not an integer key".into())),
        };
        self.ascii(text, kind)
    }
    fn ascii(self, text: &[u8], kind: KeyKind) -> Result<KeyKind, Error> {
        // Number and keyword text needs no escaping.
        if self.raw {
            self.out.write_all(text)?;
        } else {
            self.out.write_all(b"\"")?;
            self.out.write_all(text)?;
            self.out.write_all(b"\"")?;
        }
        Ok(kind)
    }
}

impl<W: Write> ser::Serializer for KeyWriter<'_, '_, W> {
    type Ok = KeyKind;
    type Error = Error;
    type SerializeSeq = Impossible<KeyKind, Error>;
    type SerializeTuple = Impossible<KeyKind, Error>;
    type SerializeTupleStruct = Impossible<KeyKind, Error>;
    type SerializeTupleVariant = Impossible<KeyKind, Error>;
    type SerializeMap = Impossible<KeyKind, Error>;
    type SerializeStruct = Impossible<KeyKind, Error>;
    type SerializeStructVariant = Impossible<KeyKind, Error>;

    fn serialize_bool(self, v: bool) -> Result<KeyKind, Error> {
        let text: &[u8] = if v { b"true" } else { b"false" };
        self.ascii(text, KeyKind::Bool(v))
    }
    fn serialize_i8(self, v: i8) -> Result<KeyKind, Error> {
        self.number(KeyKind::Int(v.into()))
    }
    fn serialize_i16(self, v: i16) -> Result<KeyKind, Error> {
        self.number(KeyKind::Int(v.into()))
    }
    fn serialize_i32(self, v: i32) -> Result<KeyKind, Error> {
        self.number(KeyKind::Int(v.into()))
    }
    fn serialize_i64(self, v: i64) -> Result<KeyKind, Error> {
        self.number(KeyKind::Int(v.into()))
    }
    fn serialize_i128(self, v: i128) -> Result<KeyKind, Error> {
        self.number(KeyKind::Int(v))
    }
    fn serialize_u8(self, v: u8) -> Result<KeyKind, Error> {
        self.number(KeyKind::UInt(v.into()))
    }
    fn serialize_u16(self, v: u16) -> Result<KeyKind, Error> {
        self.number(KeyKind::UInt(v.into()))
    }
    fn serialize_u32(self, v: u32) -> Result<KeyKind, Error> {
        self.number(KeyKind::UInt(v.into()))
    }
    fn serialize_u64(self, v: u64) -> Result<KeyKind, Error> {
        self.number(KeyKind::UInt(v.into()))
    }
    fn serialize_u128(self, v: u128) -> Result<KeyKind, Error> {
        self.number(KeyKind::UInt(v))
    }
    fn serialize_f32(self, v: f32) -> Result<KeyKind, Error> {
        self.serialize_f64(f64::from(v))
    }
    fn serialize_f64(self, v: f64) -> Result<KeyKind, Error> {
        let mut buf = StackBuf::new();
        format_float(&mut buf, v, self.opts.allow_nan)?;
        self.ascii(buf.as_bytes(), KeyKind::Float(v))
    }
    fn serialize_char(self, v: char) -> Result<KeyKind, Error> {
        let mut buf = [0u8; 4];
        self.text(v.encode_utf8(&mut buf), KeyKind::Str)
    }
    fn serialize_str(self, v: &str) -> Result<KeyKind, Error> {
        self.text(v, KeyKind::Str)
    }
    fn serialize_bytes(self, _v: &[u8]) -> Result<KeyKind, Error> {
        Err(Error::KeyType("bytes"))
    }
    fn serialize_none(self) -> Result<KeyKind, Error> {
        self.serialize_unit()
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<KeyKind, Error> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<KeyKind, Error> {
        self.ascii(b"null", KeyKind::Null)
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result<KeyKind, Error> {
        self.serialize_unit()
    }
    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<KeyKind, Error> {
        self.text(variant, KeyKind::Str)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<KeyKind, Error> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _value: &T,
    ) -> Result<KeyKind, Error> {
        Err(Error::KeyType("enum variant with data"))
    }
    fn serialize_seq(self, _len: Option<usize>) -> Result<Self::SerializeSeq, Error> {
        Err(Error::KeyType("list"))
    }
    fn serialize_tuple(self, _len: usize) -> Result<Self::SerializeTuple, Error> {
        Err(Error::KeyType("tuple"))
    }
    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleStruct, Error> {
        Err(Error::KeyType("tuple"))
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleVariant, Error> {
        Err(Error::KeyType("enum variant with data"))
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<Self::SerializeMap, Error> {
        Err(Error::KeyType("dict"))
    }
    fn serialize_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStruct, Error> {
        Err(Error::KeyType("dict"))
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStructVariant, Error> {
        Err(Error::KeyType("enum variant with data"))
    }
}
