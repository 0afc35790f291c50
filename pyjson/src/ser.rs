//! The serde `Serializer`: values in Python's layout (`", "` and `": "` separators, or
//! `indent`), streamed into the writer as they come, except maps whose keys must be sorted
//! (see `keys`).

use std::io::{self, Write};

use serde::ser::{self, Serialize};

use crate::escape::write_quoted;
use crate::float::{format_float, StackBuf};
use crate::int::{format_int, INT_BUF};
use crate::keys::{write_key, Sorted};
use crate::{BytesPolicy, Error, PyJsonOptions};

/// The serde `Serializer` behind [`to_writer`](crate::to_writer); use it to write several values
/// or to get the writer back.
#[derive(Debug)]
pub struct PySerializer<'o, W> {
    out: W,
    opts: &'o PyJsonOptions,
    depth: usize,
}

impl<'o, W: Write> PySerializer<'o, W> {
    /// A serializer writing into `out`.
    pub fn new(out: W, opts: &'o PyJsonOptions) -> Self {
        PySerializer {
            out,
            opts,
            depth: 0,
        }
    }

    /// Gives the writer back.
    pub fn into_inner(self) -> W {
        self.out
    }

    fn newline_indent(&mut self) -> io::Result<()> {
        if let Some(width) = self.opts.indent {
            write_newline_indent(&mut self.out, width * self.depth)?;
        }
        Ok(())
    }

    /// Counts one more level of nesting, refusing to go past `max_depth`.
    fn enter(&mut self) -> Result<(), Error> {
        if self.opts.max_depth.is_some_and(|max| self.depth >= max) {
            return Err(Error::TooDeep(self.opts.max_depth.unwrap_or_default()));
        }
        self.depth += 1;
        Ok(())
    }

    /// Opens `[` or `{`.
    fn open(&mut self, bracket: u8) -> Result<(), Error> {
        self.enter()?;
        self.out.write_all(&[bracket])?;
        Ok(())
    }

    /// Writes what comes before an item of the innermost container.
    fn item_prefix(&mut self, first: bool) -> io::Result<()> {
        if !first {
            let sep: &[u8] = if self.opts.indent.is_some() {
                b","
            } else {
                b", "
            };
            self.out.write_all(sep)?;
        }
        self.newline_indent()
    }

    /// Closes the innermost container.
    fn close(&mut self, bracket: u8, had_items: bool) -> io::Result<()> {
        self.depth -= 1;
        if had_items {
            self.newline_indent()?;
        }
        self.out.write_all(&[bracket])
    }

    fn write_str(&mut self, s: &str) -> io::Result<()> {
        write_quoted(&mut self.out, s, self.opts.ensure_ascii)
    }

    fn write_float(&mut self, v: f64) -> Result<(), Error> {
        let mut buf = StackBuf::new();
        format_float(&mut buf, v, self.opts.allow_nan)?;
        self.out.write_all(buf.as_bytes())?;
        Ok(())
    }

    fn write_int(&mut self, negative: bool, magnitude: u128) -> Result<(), Error> {
        let mut buf = [0u8; INT_BUF];
        self.out
            .write_all(format_int(&mut buf, negative, magnitude))?;
        Ok(())
    }

    /// Writes `{"variant": ` and leaves the object open (depth + 1).
    fn open_variant(&mut self, variant: &str) -> Result<(), Error> {
        self.open(b'{')?;
        self.item_prefix(true)?;
        self.write_str(variant)?;
        self.out.write_all(b": ")?;
        Ok(())
    }

    fn map_compound<'a>(
        &'a mut self,
        variant: bool,
        len: Option<usize>,
    ) -> Result<Compound<'a, 'o, W>, Error> {
        let state = if self.opts.sort_keys {
            // Nested values are written at the depth they will have once copied out.
            self.enter()?;
            State::Sorted(Sorted::with_capacity(len.unwrap_or(4).min(1024)))
        } else {
            self.open(b'{')?;
            State::Map { first: true }
        };
        Ok(Compound {
            ser: self,
            state,
            variant,
        })
    }

    fn seq_compound<'a>(&'a mut self, variant: bool) -> Result<Compound<'a, 'o, W>, Error> {
        self.open(b'[')?;
        Ok(Compound {
            ser: self,
            state: State::Seq { first: true },
            variant,
        })
    }
}

fn write_newline_indent<W: Write>(out: &mut W, spaces: usize) -> io::Result<()> {
    const SPACES: &[u8; 65] = b"\n                                                                ";
    let mut left = spaces;
    let first = left.min(64);
    out.write_all(&SPACES[..=first])?;
    left -= first;
    while left > 0 {
        let n = left.min(64);
        out.write_all(&SPACES[1..=n])?;
        left -= n;
    }
    Ok(())
}

/// What a [`Compound`] is writing.
#[derive(Debug)]
enum State {
    Seq { first: bool },
    Map { first: bool },
    Sorted(Sorted),
}

/// The serde compound serializer of [`PySerializer`] (sequences, tuples, maps, structs).
#[derive(Debug)]
pub struct Compound<'a, 'o, W> {
    ser: &'a mut PySerializer<'o, W>,
    state: State,
    /// Inside `{"Variant": ...}`: close that object too.
    variant: bool,
}

impl<W: Write> Compound<'_, '_, W> {
    fn element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        if let State::Seq { first } = &mut self.state {
            let was_first = *first;
            *first = false;
            self.ser.item_prefix(was_first)?;
        }
        value.serialize(&mut *self.ser)
    }

    fn key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Error> {
        match &mut self.state {
            State::Seq { .. } => Err(Error::Custom("map key outside a map".into())),
            State::Map { first } => {
                let was_first = *first;
                *first = false;
                self.ser.item_prefix(was_first)?;
                write_key(&mut self.ser.out, key, self.ser.opts)?;
                self.ser.out.write_all(b": ")?;
                Ok(())
            }
            State::Sorted(s) => s.key(key, self.ser.opts),
        }
    }

    fn value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        match &mut self.state {
            State::Seq { .. } => Err(Error::Custom("map value outside a map".into())),
            State::Map { .. } => value.serialize(&mut *self.ser),
            State::Sorted(s) => {
                let (opts, depth) = (self.ser.opts, self.ser.depth);
                s.value(|buf| {
                    value.serialize(&mut PySerializer {
                        out: buf,
                        opts,
                        depth,
                    })
                })
            }
        }
    }

    fn finish(self) -> Result<(), Error> {
        let Compound {
            ser,
            state,
            variant,
        } = self;
        match state {
            State::Seq { first } => ser.close(b']', !first)?,
            State::Map { first } => ser.close(b'}', !first)?,
            State::Sorted(s) => write_sorted(ser, s)?,
        }
        if variant {
            ser.close(b'}', true)?;
        }
        Ok(())
    }
}

/// Writes a map collected for sorting, sorted, at the depth it was opened at.
fn write_sorted<W: Write>(ser: &mut PySerializer<'_, W>, mut s: Sorted) -> Result<(), Error> {
    s.sort()?;
    // `map_compound` already counted this level; `open` counts it again.
    ser.depth -= 1;
    ser.open(b'{')?;
    for (i, e) in s.entries().iter().enumerate() {
        ser.item_prefix(i == 0)?;
        ser.write_str(s.key_text(e)?)?;
        ser.out.write_all(b": ")?;
        ser.out.write_all(s.value_json(e))?;
    }
    ser.close(b'}', !s.entries().is_empty())?;
    Ok(())
}

impl<W: Write> ser::SerializeSeq for Compound<'_, '_, W> {
    type Ok = ();
    type Error = Error;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.element(value)
    }
    fn end(self) -> Result<(), Error> {
        self.finish()
    }
}

impl<W: Write> ser::SerializeTuple for Compound<'_, '_, W> {
    type Ok = ();
    type Error = Error;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.element(value)
    }
    fn end(self) -> Result<(), Error> {
        self.finish()
    }
}

impl<W: Write> ser::SerializeTupleStruct for Compound<'_, '_, W> {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.element(value)
    }
    fn end(self) -> Result<(), Error> {
        self.finish()
    }
}

impl<W: Write> ser::SerializeTupleVariant for Compound<'_, '_, W> {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.element(value)
    }
    fn end(self) -> Result<(), Error> {
        self.finish()
    }
}

impl<W: Write> ser::SerializeMap for Compound<'_, '_, W> {
    type Ok = ();
    type Error = Error;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Error> {
        self.key(key)
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.value(value)
    }
    fn end(self) -> Result<(), Error> {
        self.finish()
    }
}

impl<W: Write> ser::SerializeStruct for Compound<'_, '_, W> {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        self.key(key)?;
        self.value(value)
    }
    fn end(self) -> Result<(), Error> {
        self.finish()
    }
}

impl<W: Write> ser::SerializeStructVariant for Compound<'_, '_, W> {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        self.key(key)?;
        self.value(value)
    }
    fn end(self) -> Result<(), Error> {
        self.finish()
    }
}

impl<'a, 'o, W: Write> ser::Serializer for &'a mut PySerializer<'o, W> {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = Compound<'a, 'o, W>;
    type SerializeTuple = Compound<'a, 'o, W>;
    type SerializeTupleStruct = Compound<'a, 'o, W>;
    type SerializeTupleVariant = Compound<'a, 'o, W>;
    type SerializeMap = Compound<'a, 'o, W>;
    type SerializeStruct = Compound<'a, 'o, W>;
    type SerializeStructVariant = Compound<'a, 'o, W>;

    fn serialize_bool(self, v: bool) -> Result<(), Error> {
        let text: &[u8] = if v { b"true" } else { b"false" };
        self.out.write_all(text)?;
        Ok(())
    }
    fn serialize_i8(self, v: i8) -> Result<(), Error> {
        self.write_int(v < 0, i128::from(v).unsigned_abs())
    }
    fn serialize_i16(self, v: i16) -> Result<(), Error> {
        self.write_int(v < 0, i128::from(v).unsigned_abs())
    }
    fn serialize_i32(self, v: i32) -> Result<(), Error> {
        self.write_int(v < 0, i128::from(v).unsigned_abs())
    }
    fn serialize_i64(self, v: i64) -> Result<(), Error> {
        self.write_int(v < 0, i128::from(v).unsigned_abs())
    }
    fn serialize_i128(self, v: i128) -> Result<(), Error> {
        self.write_int(v < 0, v.unsigned_abs())
    }
    fn serialize_u8(self, v: u8) -> Result<(), Error> {
        self.write_int(false, u128::from(v))
    }
    fn serialize_u16(self, v: u16) -> Result<(), Error> {
        self.write_int(false, u128::from(v))
    }
    fn serialize_u32(self, v: u32) -> Result<(), Error> {
        self.write_int(false, u128::from(v))
    }
    fn serialize_u64(self, v: u64) -> Result<(), Error> {
        self.write_int(false, u128::from(v))
    }
    fn serialize_u128(self, v: u128) -> Result<(), Error> {
        self.write_int(false, v)
    }
    fn serialize_f32(self, v: f32) -> Result<(), Error> {
        self.write_float(f64::from(v))
    }
    fn serialize_f64(self, v: f64) -> Result<(), Error> {
        self.write_float(v)
    }
    fn serialize_char(self, v: char) -> Result<(), Error> {
        let mut buf = [0u8; 4];
        self.write_str(v.encode_utf8(&mut buf))?;
        Ok(())
    }
    fn serialize_str(self, v: &str) -> Result<(), Error> {
        self.write_str(v)?;
        Ok(())
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<(), Error> {
        match self.opts.bytes {
            BytesPolicy::Error => Err(Error::Bytes),
            BytesPolicy::IntList => {
                use ser::SerializeSeq;
                let mut seq = self.seq_compound(false)?;
                for b in v {
                    seq.serialize_element(b)?;
                }
                seq.end()
            }
        }
    }
    fn serialize_none(self) -> Result<(), Error> {
        self.serialize_unit()
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), Error> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<(), Error> {
        self.out.write_all(b"null")?;
        Ok(())
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result<(), Error> {
        self.serialize_unit()
    }
    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<(), Error> {
        self.serialize_str(variant)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        self.open_variant(variant)?;
        value.serialize(&mut *self)?;
        self.close(b'}', true)?;
        Ok(())
    }
    fn serialize_seq(self, _len: Option<usize>) -> Result<Self::SerializeSeq, Error> {
        self.seq_compound(false)
    }
    fn serialize_tuple(self, _len: usize) -> Result<Self::SerializeTuple, Error> {
        self.seq_compound(false)
    }
    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleStruct, Error> {
        self.seq_compound(false)
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleVariant, Error> {
        self.open_variant(variant)?;
        self.seq_compound(true)
    }
    fn serialize_map(self, len: Option<usize>) -> Result<Self::SerializeMap, Error> {
        self.map_compound(false, len)
    }
    fn serialize_struct(
        self,
        _name: &'static str,
        len: usize,
    ) -> Result<Self::SerializeStruct, Error> {
        self.map_compound(false, Some(len))
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Self::SerializeStructVariant, Error> {
        self.open_variant(variant)?;
        self.map_compound(true, Some(len))
    }
}
