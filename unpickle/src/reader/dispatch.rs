//! The opcode loop of the unpickling machine, and the parsers of the opcodes' arguments
//! (decimal and quoted text, `raw-unicode-escape`, the allowed globals).

use std::sync::Arc;

use super::{err, Reader, Result, MAX_LONG_BYTES};
use crate::bigint::{le_to_i128, BigInt};
use crate::error::PickleError;
use crate::opcodes as op;
use crate::value::{Global, Node, Value};

impl<'i> Reader<'i> {
    pub(super) fn run(&mut self) -> Result<Value> {
        loop {
            let at = self.pos;
            let code = self.byte()?;
            match code {
                op::STOP => return self.pop(),
                op::PROTO => {
                    let v = self.byte()?;
                    if v > op::HIGHEST_PROTOCOL {
                        return err(format!("unsupported pickle protocol: {v}"));
                    }
                }
                op::FRAME => {
                    let n = self.u64()?;
                    if n > self.remaining() as u64 {
                        return err("pickle frame longer than the data left");
                    }
                }
                op::MARK => self.marks.push(self.stack.len()),
                op::POP => self.op_pop()?,
                op::POP_MARK => {
                    self.pop_mark()?;
                }
                op::DUP => {
                    let top = self.top()?.clone();
                    self.push(top)?;
                }
                op::NONE => self.push(Value::None)?,
                op::NEWTRUE => self.push(Value::Bool(true))?,
                op::NEWFALSE => self.push(Value::Bool(false))?,
                op::INT => {
                    let line = self.line()?;
                    let v = match line {
                        b"00" => Value::Bool(false),
                        b"01" => Value::Bool(true),
                        _ => parse_decimal(line)?,
                    };
                    self.push(v)?;
                }
                op::LONG => {
                    let line = self.line()?;
                    let line = line.strip_suffix(b"L").unwrap_or(line);
                    let v = parse_decimal(line)?;
                    self.push(v)?;
                }
                op::BININT => {
                    let b = self.take(4)?;
                    let v = i32::from_le_bytes([b[0], b[1], b[2], b[3]]);
                    self.push(Value::Int(v.into()))?;
                }
                op::BININT1 => {
                    let v = self.byte()?;
                    self.push(Value::Int(v.into()))?;
                }
                op::BININT2 => {
                    let b = self.take(2)?;
                    self.push(Value::Int(u16::from_le_bytes([b[0], b[1]]).into()))?;
                }
                op::LONG1 => {
                    let n = self.byte()?;
                    let b = self.take(n.into())?;
                    let v = long_value(b);
                    self.push(v)?;
                }
                op::LONG4 => {
                    let b = self.take(4)?;
                    let n = i32::from_le_bytes([b[0], b[1], b[2], b[3]]);
                    if n < 0 {
                        return err("LONG pickle has negative byte count");
                    }
                    if n as usize > MAX_LONG_BYTES {
                        return err(format!("integer of {n} bytes is too large"));
                    }
                    let b = self.take(n as u64)?;
                    let v = long_value(b);
                    self.push(v)?;
                }
                op::FLOAT => {
                    let line = self.line()?;
                    let v = std::str::from_utf8(line)
                        .ok()
                        .and_then(|s| s.trim().parse::<f64>().ok())
                        .ok_or_else(|| PickleError::decode("invalid FLOAT text"))?;
                    self.push(Value::Float(v))?;
                }
                op::BINFLOAT => {
                    let b = self.take(8)?;
                    let mut a = [0u8; 8];
                    a.copy_from_slice(b);
                    self.push(Value::Float(f64::from_be_bytes(a)))?;
                }
                op::STRING => {
                    let line = self.line()?;
                    let raw = unquote_string(line)?;
                    let s = ascii_str(&raw)?;
                    self.push(s)?;
                }
                op::BINSTRING => {
                    let b = self.take(4)?;
                    let n = i32::from_le_bytes([b[0], b[1], b[2], b[3]]);
                    if n < 0 {
                        return err("BINSTRING pickle has negative byte count");
                    }
                    let raw = self.take(n as u64)?;
                    let s = ascii_str(raw)?;
                    self.push(s)?;
                }
                op::SHORT_BINSTRING => {
                    let n = self.byte()?;
                    let raw = self.take(n.into())?;
                    let s = ascii_str(raw)?;
                    self.push(s)?;
                }
                op::UNICODE => {
                    let line = self.line()?;
                    let s = raw_unicode_escape(line)?;
                    self.push(Value::Str(s.into()))?;
                }
                op::SHORT_BINUNICODE => {
                    let n = u64::from(self.byte()?);
                    self.unicode(n)?;
                }
                op::BINUNICODE => {
                    let n = self.u32()?;
                    self.unicode(n.into())?;
                }
                op::BINUNICODE8 => {
                    let n = self.u64()?;
                    self.unicode(n)?;
                }
                op::SHORT_BINBYTES => {
                    let n = u64::from(self.byte()?);
                    self.bytes(n)?;
                }
                op::BINBYTES => {
                    let n = self.u32()?;
                    self.bytes(n.into())?;
                }
                op::BINBYTES8 | op::BYTEARRAY8 => {
                    let n = self.u64()?;
                    self.bytes(n)?;
                }
                op::READONLY_BUFFER => {
                    if !matches!(self.top()?, Value::Bytes(_)) {
                        return err("READONLY_BUFFER on something that is not a buffer");
                    }
                }
                op::EMPTY_LIST => self.new_node(Node::List(Vec::new()))?,
                op::EMPTY_DICT => self.new_node(Node::Dict(Vec::new()))?,
                op::EMPTY_SET => self.new_node(Node::Set(Vec::new()))?,
                op::EMPTY_TUPLE => self.new_node(Node::Tuple(Vec::new()))?,
                op::LIST => {
                    let items = self.pop_mark()?;
                    self.new_node(Node::List(items))?;
                }
                op::TUPLE => {
                    let items = self.pop_mark()?;
                    self.new_node(Node::Tuple(items))?;
                }
                op::TUPLE1 | op::TUPLE2 | op::TUPLE3 => {
                    let n = usize::from(code - op::TUPLE1 + 1);
                    let fence = self.fence();
                    if self.stack.len() < fence + n {
                        return err("unpickling stack underflow");
                    }
                    let items = self.stack.split_off(self.stack.len() - n);
                    self.new_node(Node::Tuple(items))?;
                }
                op::DICT => {
                    let items = self.pop_mark()?;
                    let pairs = self.pairs(items)?;
                    self.new_node(Node::Dict(pairs))?;
                }
                op::FROZENSET => {
                    let items = self.pop_mark()?;
                    self.check_hashable(&items)?;
                    self.new_node(Node::FrozenSet(items))?;
                }
                op::APPEND => {
                    let at = self.last_items(1)?;
                    self.append_from(at)?;
                }
                op::APPENDS => {
                    let at = self.pop_mark_index()?;
                    self.append_from(at)?;
                }
                op::SETITEM => {
                    let at = self.last_items(2)?;
                    self.set_items_from(at)?;
                }
                op::SETITEMS => {
                    let at = self.pop_mark_index()?;
                    self.set_items_from(at)?;
                }
                op::ADDITEMS => {
                    let items = self.pop_mark()?;
                    self.check_hashable(&items)?;
                    match self.top()? {
                        Value::Node(id) => match self.arena.node_mut(*id) {
                            Node::Set(v) => v.extend(items),
                            _ => return err("ADDITEMS on something that is not a set"),
                        },
                        _ => return err("ADDITEMS on something that is not a set"),
                    }
                }
                op::PUT => {
                    let line = self.line()?;
                    let idx = parse_index(line)?;
                    self.memo_put(idx)?;
                }
                op::BINPUT => {
                    let idx = self.byte()?;
                    self.memo_put(idx.into())?;
                }
                op::LONG_BINPUT => {
                    let idx = self.u32()?;
                    self.memo_put(idx)?;
                }
                op::MEMOIZE => {
                    let idx = u32::try_from(self.memo.len())
                        .map_err(|_| PickleError::decode("memo too large"))?;
                    self.memo_put(idx)?;
                }
                op::GET => {
                    let line = self.line()?;
                    let idx = parse_index(line)?;
                    self.memo_get(idx)?;
                }
                op::BINGET => {
                    let idx = self.byte()?;
                    self.memo_get(idx.into())?;
                }
                op::LONG_BINGET => {
                    let idx = self.u32()?;
                    self.memo_get(idx)?;
                }
                op::GLOBAL => {
                    let module = self.line()?;
                    let name = self.line()?;
                    let g = global(module, name)?;
                    self.push(Value::Global(g))?;
                }
                op::STACK_GLOBAL => {
                    let name = self.pop()?;
                    let module = self.pop()?;
                    match (module, name) {
                        (Value::Str(m), Value::Str(n)) => {
                            let (m, n) = (m.get(self.input)?, n.get(self.input)?);
                            let g = global(m.as_bytes(), n.as_bytes())?;
                            self.push(Value::Global(g))?;
                        }
                        _ => return err("STACK_GLOBAL requires str"),
                    }
                }
                op::REDUCE => {
                    let args = self.pop()?;
                    let callable = self.pop()?;
                    let v = self.reduce(callable, args)?;
                    self.push(v)?;
                }
                op::PERSID | op::BINPERSID => {
                    return err(format!("persistent IDs are not supported (at byte {at})"))
                }
                op::BUILD | op::INST | op::OBJ | op::NEWOBJ | op::NEWOBJ_EX => {
                    return err(format!(
                        "opcode 0x{code:02x} builds an arbitrary object, which this reader \
                         never does (at byte {at})"
                    ))
                }
                op::EXT1 | op::EXT2 | op::EXT4 => {
                    return err(format!(
                        "extension registry codes are not supported (at byte {at})"
                    ))
                }
                op::NEXT_BUFFER => return err("out-of-band buffers are not supported"),
                _ => return err(format!("invalid load key 0x{code:02x} at byte {at}")),
            }
        }
    }
}

/// `LONG1`/`LONG4` payload: little-endian two's complement.
fn long_value(b: &[u8]) -> Value {
    match le_to_i128(b) {
        Some(v) => Value::Int(v),
        None => Value::BigInt(Arc::new(BigInt::TwosComplement(b.to_vec()))),
    }
}

/// Decimal text of `INT` and `LONG`.
fn parse_decimal(line: &[u8]) -> Result<Value> {
    let text = std::str::from_utf8(line)
        .map_err(|_| PickleError::decode("invalid integer text"))?
        .trim();
    if let Ok(v) = text.parse::<i128>() {
        return Ok(Value::Int(v));
    }
    let (sign, digits) = match text.strip_prefix('-') {
        Some(d) => ("-", d),
        None => ("", text.strip_prefix('+').unwrap_or(text)),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return err(format!("invalid integer text {text:?}"));
    }
    let digits = digits.trim_start_matches('0');
    Ok(Value::BigInt(Arc::new(BigInt::Decimal(format!(
        "{sign}{digits}"
    )))))
}

fn parse_index(line: &[u8]) -> Result<u32> {
    std::str::from_utf8(line)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .ok_or_else(|| PickleError::decode("invalid memo index"))
}

/// A Python 2 `str`, decoded as the original does (`encoding='ASCII', errors='strict'`).
fn ascii_str(raw: &[u8]) -> Result<Value> {
    if !raw.is_ascii() {
        return err("a Python 2 str holds non-ASCII bytes ('ascii' codec can't decode)");
    }
    let s = std::str::from_utf8(raw).map_err(PickleError::decode)?;
    Ok(Value::Str(s.into()))
}

/// The `STRING` opcode's quoted `repr`, with Python's escape sequences.
fn unquote_string(line: &[u8]) -> Result<Vec<u8>> {
    let inner = match line {
        [q, inner @ .., q2] if (*q == b'\'' || *q == b'"') && q == q2 && line.len() >= 2 => inner,
        _ => return err("the STRING opcode argument must be quoted"),
    };
    let mut out = Vec::with_capacity(inner.len());
    let mut i = 0;
    while i < inner.len() {
        let c = inner[i];
        i += 1;
        if c != b'\\' || i >= inner.len() {
            out.push(c);
            continue;
        }
        let e = inner[i];
        i += 1;
        match e {
            b'\n' => {}
            b'\\' | b'\'' | b'"' => out.push(e),
            b'a' => out.push(7),
            b'b' => out.push(8),
            b'f' => out.push(12),
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b't' => out.push(b'\t'),
            b'v' => out.push(11),
            b'0'..=b'7' => {
                let mut v = u32::from(e - b'0');
                for _ in 0..2 {
                    match inner.get(i) {
                        Some(d @ b'0'..=b'7') => {
                            v = v * 8 + u32::from(d - b'0');
                            i += 1;
                        }
                        _ => break,
                    }
                }
                out.push(v as u8);
            }
            b'x' => {
                let hex = inner
                    .get(i..i + 2)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| PickleError::decode("invalid \\x escape in STRING"))?;
                out.push(hex);
                i += 2;
            }
            _ => {
                out.push(b'\\');
                out.push(e);
            }
        }
    }
    Ok(out)
}

/// The `UNICODE` opcode's `raw-unicode-escape` text: latin-1 bytes plus `\uXXXX`/`\UXXXXXXXX`.
/// As in CPython's decoder, a `\u` is an escape only after an odd run of backslashes (Python 2
/// did not escape backslashes in this opcode; Python 3 writes them as `\u005c`).
pub(super) fn raw_unicode_escape(line: &[u8]) -> Result<String> {
    let mut out = String::with_capacity(line.len());
    let mut i = 0;
    while i < line.len() {
        if line[i] != b'\\' {
            out.push(char::from(line[i]));
            i += 1;
            continue;
        }
        let run = line[i..].iter().take_while(|&&b| b == b'\\').count();
        let after = i + run;
        let escape = run % 2 == 1 && matches!(line.get(after), Some(b'u' | b'U'));
        let literal = if escape { run - 1 } else { run };
        out.extend(std::iter::repeat('\\').take(literal));
        i = after;
        if escape {
            let digits = if line[after] == b'u' { 4 } else { 8 };
            let code = line
                .get(after + 1..after + 1 + digits)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .and_then(char::from_u32)
                .ok_or_else(|| PickleError::decode("invalid \\u escape in UNICODE"))?;
            out.push(code);
            i = after + 1 + digits;
        }
    }
    Ok(out)
}

fn global(module: &[u8], name: &[u8]) -> Result<Global> {
    let g = match (module, name) {
        (b"__builtin__" | b"builtins", b"set") => Global::Set,
        (b"__builtin__" | b"builtins", b"frozenset") => Global::FrozenSet,
        (b"__builtin__" | b"builtins", b"bytes") => Global::Bytes,
        (b"__builtin__" | b"builtins", b"bytearray") => Global::ByteArray,
        (b"_codecs", b"encode") => Global::CodecsEncode,
        (b"datetime", b"datetime") => Global::DateTime,
        _ => {
            return err(format!(
                "global {}.{} is not allowed: this reader never loads code or arbitrary classes",
                String::from_utf8_lossy(module),
                String::from_utf8_lossy(name)
            ))
        }
    };
    Ok(g)
}
