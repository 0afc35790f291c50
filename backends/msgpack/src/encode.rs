//! A serde `Serializer` that writes MessagePack exactly as Python's `msgpack.Packer` does with
//! the original's settings, straight into the output buffer (no intermediate value tree).
//!
//! Rules (original-behaviour.md §2.5): integers take the smallest encoding, non-negative ones
//! from the uint family whatever the Rust type's signedness; floats are float64 unless
//! `use_single_float`; strings are the str family (str8 only with `use_bin_type`); byte strings
//! are bin (or str without `use_bin_type`); sequences, tuples and tuple structs are arrays; maps
//! and structs are maps (struct fields by name, in declaration order). Enums are externally
//! tagged like `serde_json`: a unit variant is its name, the others a one-entry map
//! `{name: data}`. Integers beyond 64 bits cannot be written (Python raises `OverflowError`).

use std::fmt;

use serde::ser::{self, Serialize};

use crate::config::MsgpackConfig;
use crate::MAX_DEPTH;

/// Why a value could not be encoded.
#[derive(Debug)]
pub(crate) struct EncodeError(pub(crate) String);

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for EncodeError {}

impl ser::Error for EncodeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        EncodeError(msg.to_string())
    }
}

type Result<T = ()> = std::result::Result<T, EncodeError>;

/// Appends msgpack encodings to a buffer.
pub(crate) struct Encoder<'a> {
    pub(crate) out: &'a mut Vec<u8>,
    pub(crate) config: MsgpackConfig,
    depth: usize,
}

impl<'a> Encoder<'a> {
    pub(crate) fn new(out: &'a mut Vec<u8>, config: MsgpackConfig) -> Self {
        Encoder {
            out,
            config,
            depth: 0,
        }
    }

    pub(crate) fn uint(&mut self, v: u64) {
        let out = &mut *self.out;
        if v < 0x80 {
            out.push(v as u8);
        } else if v <= 0xff {
            out.extend_from_slice(&[0xcc, v as u8]);
        } else if v <= 0xffff {
            out.push(0xcd);
            out.extend_from_slice(&(v as u16).to_be_bytes());
        } else if v <= 0xffff_ffff {
            out.push(0xce);
            out.extend_from_slice(&(v as u32).to_be_bytes());
        } else {
            out.push(0xcf);
            out.extend_from_slice(&v.to_be_bytes());
        }
    }

    pub(crate) fn int(&mut self, v: i64) {
        if v >= 0 {
            return self.uint(v as u64);
        }
        let out = &mut *self.out;
        if v >= -32 {
            out.push(v as i8 as u8);
        } else if v >= -0x80 {
            out.extend_from_slice(&[0xd0, v as i8 as u8]);
        } else if v >= -0x8000 {
            out.push(0xd1);
            out.extend_from_slice(&(v as i16).to_be_bytes());
        } else if v >= -0x8000_0000 {
            out.push(0xd2);
            out.extend_from_slice(&(v as i32).to_be_bytes());
        } else {
            out.push(0xd3);
            out.extend_from_slice(&v.to_be_bytes());
        }
    }

    fn float(&mut self, v: f64) -> Result {
        if self.config.use_single_float {
            let single = v as f32;
            if single.is_infinite() && v.is_finite() {
                // Python's packer raises OverflowError here rather than write infinity.
                return Err(EncodeError(format!(
                    "float {v} is too large for float32 (use_single_float)"
                )));
            }
            self.out.push(0xca);
            self.out.extend_from_slice(&single.to_be_bytes());
        } else {
            self.out.push(0xcb);
            self.out.extend_from_slice(&v.to_be_bytes());
        }
        Ok(())
    }

    /// A str header. Without `use_bin_type` str8 does not exist (the old spec), as in Python.
    fn str_header(&mut self, len: usize) -> Result {
        let out = &mut *self.out;
        if len < 32 {
            out.push(0xa0 | len as u8);
        } else if len <= 0xff && self.config.use_bin_type {
            out.extend_from_slice(&[0xd9, len as u8]);
        } else if len <= 0xffff {
            out.push(0xda);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        } else {
            let len = u32::try_from(len)
                .map_err(|_| EncodeError(format!("string of {len} bytes is too long")))?;
            out.push(0xdb);
            out.extend_from_slice(&len.to_be_bytes());
        }
        Ok(())
    }

    pub(crate) fn str(&mut self, s: &str) -> Result {
        self.str_header(s.len())?;
        self.out.extend_from_slice(s.as_bytes());
        Ok(())
    }

    fn bytes(&mut self, b: &[u8]) -> Result {
        if !self.config.use_bin_type {
            self.str_header(b.len())?;
        } else if b.len() <= 0xff {
            self.out.extend_from_slice(&[0xc4, b.len() as u8]);
        } else if b.len() <= 0xffff {
            self.out.push(0xc5);
            self.out.extend_from_slice(&(b.len() as u16).to_be_bytes());
        } else {
            let len = u32::try_from(b.len()).map_err(|_| {
                EncodeError(format!("byte string of {} bytes is too long", b.len()))
            })?;
            self.out.push(0xc6);
            self.out.extend_from_slice(&len.to_be_bytes());
        }
        self.out.extend_from_slice(b);
        Ok(())
    }

    fn nil(&mut self) {
        self.out.push(0xc0);
    }

    /// Starts an array or map; `len` is the declared number of elements (entries for a map).
    fn open(&mut self, kind: Kind, len: Option<usize>) -> Result<Compound<'_, 'a>> {
        if self.depth >= MAX_DEPTH {
            return Err(EncodeError(format!(
                "value nests deeper than {MAX_DEPTH} levels"
            )));
        }
        self.depth += 1;
        let header_pos = self.out.len();
        let declared = len.unwrap_or(0);
        header(self.out, kind, declared)?;
        Ok(Compound {
            header_len: self.out.len() - header_pos,
            enc: self,
            kind,
            header_pos,
            declared,
            count: 0,
            close_variant: false,
        })
    }

    /// Writes the `{variant: ...}` wrapper of a non-unit enum variant.
    fn variant_map(&mut self, variant: &str) -> Result {
        if self.depth >= MAX_DEPTH {
            return Err(EncodeError(format!(
                "value nests deeper than {MAX_DEPTH} levels"
            )));
        }
        self.out.push(0x81);
        self.str(variant)
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Array,
    Map,
}

fn header(out: &mut Vec<u8>, kind: Kind, len: usize) -> Result {
    let (fix, m16, m32) = match kind {
        Kind::Array => (0x90, 0xdc, 0xdd),
        Kind::Map => (0x80, 0xde, 0xdf),
    };
    if len < 16 {
        out.push(fix | len as u8);
    } else if len <= 0xffff {
        out.push(m16);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        let len = u32::try_from(len)
            .map_err(|_| EncodeError(format!("container of {len} elements is too long")))?;
        out.push(m32);
        out.extend_from_slice(&len.to_be_bytes());
    }
    Ok(())
}

/// An open array or map. Its header was written from the declared length; when the real count
/// differs (a `serialize_map(None)`, skipped struct fields) the header is rewritten at the end.
pub(crate) struct Compound<'e, 'a> {
    enc: &'e mut Encoder<'a>,
    kind: Kind,
    header_pos: usize,
    header_len: usize,
    declared: usize,
    count: usize,
    /// The depth also counts the `{variant: ...}` wrapper of an enum variant.
    close_variant: bool,
}

impl Compound<'_, '_> {
    fn finish(self) -> Result {
        if self.count != self.declared {
            let mut fixed = Vec::with_capacity(5);
            header(&mut fixed, self.kind, self.count)?;
            let range = self.header_pos..self.header_pos + self.header_len;
            self.enc.out.splice(range, fixed);
        }
        self.enc.depth -= 1 + usize::from(self.close_variant);
        Ok(())
    }

    fn element<T: Serialize + ?Sized>(&mut self, v: &T) -> Result {
        self.count += 1;
        v.serialize(&mut *self.enc)
    }

    fn field<T: Serialize + ?Sized>(&mut self, key: &'static str, v: &T) -> Result {
        self.count += 1;
        self.enc.str(key)?;
        v.serialize(&mut *self.enc)
    }
}

fn too_big(what: &str) -> EncodeError {
    EncodeError(format!(
        "{what} is out of msgpack's range (at most 64 bits, as Python's OverflowError)"
    ))
}

impl<'e, 'a> ser::Serializer for &'e mut Encoder<'a> {
    type Ok = ();
    type Error = EncodeError;
    type SerializeSeq = Compound<'e, 'a>;
    type SerializeTuple = Compound<'e, 'a>;
    type SerializeTupleStruct = Compound<'e, 'a>;
    type SerializeTupleVariant = Compound<'e, 'a>;
    type SerializeMap = Compound<'e, 'a>;
    type SerializeStruct = Compound<'e, 'a>;
    type SerializeStructVariant = Compound<'e, 'a>;

    fn is_human_readable(&self) -> bool {
        // Agrees with rmp_serde's deserializer, which reads the values back.
        false
    }

    fn serialize_bool(self, v: bool) -> Result {
        self.out.push(if v { 0xc3 } else { 0xc2 });
        Ok(())
    }
    fn serialize_i8(self, v: i8) -> Result {
        self.int(v.into());
        Ok(())
    }
    fn serialize_i16(self, v: i16) -> Result {
        self.int(v.into());
        Ok(())
    }
    fn serialize_i32(self, v: i32) -> Result {
        self.int(v.into());
        Ok(())
    }
    fn serialize_i64(self, v: i64) -> Result {
        self.int(v);
        Ok(())
    }
    fn serialize_i128(self, v: i128) -> Result {
        if let Ok(u) = u64::try_from(v) {
            self.uint(u);
        } else {
            self.int(i64::try_from(v).map_err(|_| too_big(&format!("integer {v}")))?);
        }
        Ok(())
    }
    fn serialize_u8(self, v: u8) -> Result {
        self.uint(v.into());
        Ok(())
    }
    fn serialize_u16(self, v: u16) -> Result {
        self.uint(v.into());
        Ok(())
    }
    fn serialize_u32(self, v: u32) -> Result {
        self.uint(v.into());
        Ok(())
    }
    fn serialize_u64(self, v: u64) -> Result {
        self.uint(v);
        Ok(())
    }
    fn serialize_u128(self, v: u128) -> Result {
        self.uint(u64::try_from(v).map_err(|_| too_big(&format!("integer {v}")))?);
        Ok(())
    }
    fn serialize_f32(self, v: f32) -> Result {
        // Python has one float type, written as float64: widen, as the original would.
        self.float(v.into())
    }
    fn serialize_f64(self, v: f64) -> Result {
        self.float(v)
    }
    fn serialize_char(self, v: char) -> Result {
        self.str(v.encode_utf8(&mut [0; 4]))
    }
    fn serialize_str(self, v: &str) -> Result {
        self.str(v)
    }
    fn serialize_bytes(self, v: &[u8]) -> Result {
        self.bytes(v)
    }
    fn serialize_none(self) -> Result {
        self.nil();
        Ok(())
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result {
        self.nil();
        Ok(())
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result {
        self.nil();
        Ok(())
    }
    fn serialize_unit_variant(self, _: &'static str, _: u32, variant: &'static str) -> Result {
        self.str(variant)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, _: &'static str, value: &T) -> Result {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        value: &T,
    ) -> Result {
        self.variant_map(variant)?;
        self.depth += 1;
        let r = value.serialize(&mut *self);
        self.depth -= 1;
        r
    }
    fn serialize_seq(self, len: Option<usize>) -> Result<Self::SerializeSeq> {
        self.open(Kind::Array, len)
    }
    fn serialize_tuple(self, len: usize) -> Result<Self::SerializeTuple> {
        self.open(Kind::Array, Some(len))
    }
    fn serialize_tuple_struct(self, _: &'static str, len: usize) -> Result<Self::SerializeTuple> {
        self.open(Kind::Array, Some(len))
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Self::SerializeTupleVariant> {
        self.variant_map(variant)?;
        self.depth += 1;
        let mut c = self.open(Kind::Array, Some(len))?;
        c.close_variant = true;
        Ok(c)
    }
    fn serialize_map(self, len: Option<usize>) -> Result<Self::SerializeMap> {
        self.open(Kind::Map, len)
    }
    fn serialize_struct(self, _: &'static str, len: usize) -> Result<Self::SerializeStruct> {
        self.open(Kind::Map, Some(len))
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Self::SerializeStructVariant> {
        self.variant_map(variant)?;
        self.depth += 1;
        let mut c = self.open(Kind::Map, Some(len))?;
        c.close_variant = true;
        Ok(c)
    }
}

impl ser::SerializeSeq for Compound<'_, '_> {
    type Ok = ();
    type Error = EncodeError;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, v: &T) -> Result {
        self.element(v)
    }
    fn end(self) -> Result {
        self.finish()
    }
}

impl ser::SerializeTuple for Compound<'_, '_> {
    type Ok = ();
    type Error = EncodeError;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, v: &T) -> Result {
        self.element(v)
    }
    fn end(self) -> Result {
        self.finish()
    }
}

impl ser::SerializeTupleStruct for Compound<'_, '_> {
    type Ok = ();
    type Error = EncodeError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, v: &T) -> Result {
        self.element(v)
    }
    fn end(self) -> Result {
        self.finish()
    }
}

impl ser::SerializeTupleVariant for Compound<'_, '_> {
    type Ok = ();
    type Error = EncodeError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, v: &T) -> Result {
        self.element(v)
    }
    fn end(self) -> Result {
        self.finish()
    }
}

impl ser::SerializeMap for Compound<'_, '_> {
    type Ok = ();
    type Error = EncodeError;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result {
        self.count += 1;
        key.serialize(&mut *self.enc)
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, v: &T) -> Result {
        v.serialize(&mut *self.enc)
    }
    fn end(self) -> Result {
        self.finish()
    }
}

impl ser::SerializeStruct for Compound<'_, '_> {
    type Ok = ();
    type Error = EncodeError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, key: &'static str, v: &T) -> Result {
        self.field(key, v)
    }
    fn end(self) -> Result {
        self.finish()
    }
}

impl ser::SerializeStructVariant for Compound<'_, '_> {
    type Ok = ();
    type Error = EncodeError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, key: &'static str, v: &T) -> Result {
        self.field(key, v)
    }
    fn end(self) -> Result {
        self.finish()
    }
}
