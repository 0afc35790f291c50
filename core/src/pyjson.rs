//! JSON text identical, byte for byte, to Python's `json.dumps`.
//!
//! The original names cache files with `json.dumps(key, sort_keys=True)` and writes JSON cache
//! files with `json.dump(...)`, so sharing a cache with Python needs Python's exact text:
//! `", "` and `": "` separators, `\uXXXX` escapes in lowercase hex with surrogate pairs
//! (`ensure_ascii`), Python's `float.__repr__` (`1e+16`, `1e-05`, `-0.0`), `NaN` and `Infinity`,
//! integers of any size, and object keys sorted (`sort_keys`) and coerced to strings the way
//! Python does (`1` → `"1"`, `True` → `"true"`, `None` → `"null"`). `serde_json` differs on
//! floats, escapes and key sorting, hence this serializer.
//!
//! The serializer streams into any [`io::Write`] (a file, a `Vec`, a hasher). Only a map whose
//! keys must be sorted is buffered, and only until that map ends: its entries are written into
//! one buffer per map, sorted, then copied out. Everything else is written as it is produced.
//!
//! ```
//! use bucketcache_core::pyjson::{to_string, PyJsonOptions};
//! use std::collections::HashMap;
//!
//! let key = HashMap::from([("z", vec![1.0, 1e16]), ("a", vec![1e-5, -0.0])]);
//! let text = to_string(&key, &PyJsonOptions::sorted()).unwrap();
//! assert_eq!(text, r#"{"a": [1e-05, -0.0], "z": [1.0, 1e+16]}"#);
//!
//! let text = to_string(&("värde ☃", 'x'), &PyJsonOptions::default()).unwrap();
//! assert_eq!(text, r#"["v\u00e4rde \u2603", "x"]"#);
//! ```
//!
//! Choices where Python has no answer (documented, deterministic):
//! * `f32` is widened to `f64` first (Python floats are doubles), so `0.1f32` writes
//!   `0.10000000149011612`.
//! * Bytes (`serialize_bytes`) cannot be written by Python's `json`. By default they are an
//!   error ([`Error::Bytes`]); with [`BytesPolicy::IntList`] they are written as a list of
//!   integers, i.e. exactly as a `Vec<u8>` would be. Bytes as a map key are always an error.
//! * Enums are externally tagged, as `serde_json` writes them: `"Unit"`, `{"Newtype": v}`,
//!   `{"Tuple": [a, b]}`, `{"Struct": {"f": v}}`. A unit variant used as a map key is its name.
//! * Sorting follows Python: string keys by code point, numeric keys (ints, floats, bools)
//!   numerically, and keys of different kinds in one map are an error ([`Error::MixedKeys`]), as
//!   `sorted()` raises `TypeError` in Python. A `NaN` key sorts after every other number.

use std::cmp::Ordering;
use std::fmt::{self, Write as _};
use std::io::{self, Write};

use serde::ser::{self, Impossible, Serialize};

/// What to do with `serialize_bytes` (Python's `json` cannot encode bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum BytesPolicy {
    /// Refuse them with [`Error::Bytes`] (what Python does).
    #[default]
    Error,
    /// Write them as a list of integers, the same text as a `Vec<u8>`.
    IntList,
}

/// Options of [`to_writer`]: the `json.dumps` parameters that matter in Rust.
///
/// The [`Default`] is Python's `json.dumps` defaults: no sorting, `ensure_ascii=True`,
/// `indent=None`, `allow_nan=True`.
///
/// ```
/// use bucketcache_core::pyjson::{to_string, PyJsonOptions};
/// let opts = PyJsonOptions::default().indent(Some(2)).ensure_ascii(false);
/// assert_eq!(to_string(&["ä"], &opts).unwrap(), "[\n  \"ä\"\n]");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PyJsonOptions {
    /// Sort object keys (`sort_keys`).
    pub sort_keys: bool,
    /// Escape every non-ASCII character and DEL as `\uXXXX` (`ensure_ascii`).
    pub ensure_ascii: bool,
    /// Pretty-print with this many spaces per level (`indent`); the item separator then
    /// becomes `","` as in Python.
    pub indent: Option<usize>,
    /// Write `NaN`, `Infinity` and `-Infinity` (`allow_nan`); an error when false.
    pub allow_nan: bool,
    /// What to do with bytes.
    pub bytes: BytesPolicy,
}

impl Default for PyJsonOptions {
    fn default() -> Self {
        PyJsonOptions {
            sort_keys: false,
            ensure_ascii: true,
            indent: None,
            allow_nan: true,
            bytes: BytesPolicy::Error,
        }
    }
}

impl PyJsonOptions {
    /// `json.dumps(..., sort_keys=True)`: the original keymaker's text. Bytes are written as
    /// lists of integers so that any serde key has a canonical text.
    pub fn sorted() -> Self {
        PyJsonOptions {
            sort_keys: true,
            bytes: BytesPolicy::IntList,
            ..Self::default()
        }
    }
    /// Sets `sort_keys`.
    pub fn sort_keys(mut self, yes: bool) -> Self {
        self.sort_keys = yes;
        self
    }
    /// Sets `ensure_ascii`.
    pub fn ensure_ascii(mut self, yes: bool) -> Self {
        self.ensure_ascii = yes;
        self
    }
    /// Sets `indent`.
    pub fn indent(mut self, indent: Option<usize>) -> Self {
        self.indent = indent;
        self
    }
    /// Sets `allow_nan`.
    pub fn allow_nan(mut self, yes: bool) -> Self {
        self.allow_nan = yes;
        self
    }
    /// Sets the bytes policy.
    pub fn bytes(mut self, policy: BytesPolicy) -> Self {
        self.bytes = policy;
        self
    }
}

/// Why a value could not be written as Python JSON.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The writer failed.
    #[error("I/O error: {0}")]
    Io(#[from] io::Error),
    /// `NaN` or an infinity with `allow_nan` off.
    #[error("out of range float values are not JSON compliant: {0}")]
    NonFinite(f64),
    /// A map key that is not a string, number, bool or null.
    #[error("keys must be str, int, float, bool or None, not {0}")]
    KeyType(&'static str),
    /// A map mixing key kinds (e.g. strings and numbers) cannot be sorted, as in Python.
    #[error("cannot sort keys: '<' not supported between {0} and {1} keys")]
    MixedKeys(&'static str, &'static str),
    /// Bytes with [`BytesPolicy::Error`].
    #[error("bytes are not JSON serializable")]
    Bytes,
    /// The value's `Serialize` impl failed.
    #[error("{0}")]
    Custom(String),
}

impl ser::Error for Error {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Error::Custom(msg.to_string())
    }
}

/// Writes `value` as Python JSON into `writer`.
///
/// ```
/// use bucketcache_core::pyjson::{to_writer, PyJsonOptions};
/// let mut out = Vec::new();
/// to_writer(&mut out, &(1u128 << 100), &PyJsonOptions::default()).unwrap();
/// assert_eq!(out, b"1267650600228229401496703205376");
/// ```
pub fn to_writer<W: Write, T: Serialize + ?Sized>(
    writer: W,
    value: &T,
    opts: &PyJsonOptions,
) -> Result<(), Error> {
    value.serialize(&mut PySerializer::new(writer, opts))
}

/// Python JSON of `value` as bytes.
pub fn to_vec<T: Serialize + ?Sized>(value: &T, opts: &PyJsonOptions) -> Result<Vec<u8>, Error> {
    let mut out = Vec::with_capacity(64);
    to_writer(&mut out, value, opts)?;
    Ok(out)
}

/// Python JSON of `value` as a string.
pub fn to_string<T: Serialize + ?Sized>(value: &T, opts: &PyJsonOptions) -> Result<String, Error> {
    let bytes = to_vec(value, opts)?;
    // Only `&str` input and ASCII text are ever written, so this cannot fail.
    String::from_utf8(bytes).map_err(|e| Error::Custom(e.to_string()))
}

/// The serde `Serializer` behind [`to_writer`]; use it to write several values or to get the
/// writer back.
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

    /// Opens `[` or `{`.
    fn open(&mut self, bracket: u8) -> io::Result<()> {
        self.depth += 1;
        self.out.write_all(&[bracket])
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
            self.depth += 1;
            // Sized from serde's hint so that small maps fill their buffer without regrowing.
            let len = len.unwrap_or(4).min(1024);
            State::Sorted(Sorted {
                buf: Vec::with_capacity(24 * len),
                entries: Vec::with_capacity(len),
                pending: None,
            })
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

/// A fixed buffer for number text, so numbers are formatted without allocating.
struct StackBuf {
    buf: [u8; 64],
    len: usize,
}

impl StackBuf {
    fn new() -> Self {
        StackBuf {
            buf: [0; 64],
            len: 0,
        }
    }
    fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
    fn push(&mut self, bytes: &[u8]) -> fmt::Result {
        let end = self.len + bytes.len();
        if end > self.buf.len() {
            return Err(fmt::Error);
        }
        self.buf[self.len..end].copy_from_slice(bytes);
        self.len = end;
        Ok(())
    }
}

impl fmt::Write for StackBuf {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.push(s.as_bytes())
    }
}

/// Room for any 128-bit integer with its sign.
const INT_BUF: usize = 40;

/// "00" to "99", for writing two digits at a time.
static DIGIT_PAIRS: [u8; 200] = {
    let mut t = [0u8; 200];
    let mut i = 0;
    while i < 100 {
        t[2 * i] = b'0' + (i / 10) as u8;
        t[2 * i + 1] = b'0' + (i % 10) as u8;
        i += 1;
    }
    t
};

/// Decimal text of an integer, without `fmt` (it is on the hot path of every key).
fn format_int(buf: &mut [u8; INT_BUF], negative: bool, magnitude: u128) -> &[u8] {
    let mut i = INT_BUF;
    if let Ok(mut n) = u64::try_from(magnitude) {
        while n >= 100 {
            let pair = (n % 100) as usize * 2;
            n /= 100;
            i -= 2;
            buf[i..i + 2].copy_from_slice(&DIGIT_PAIRS[pair..pair + 2]);
        }
        if n >= 10 {
            let pair = n as usize * 2;
            i -= 2;
            buf[i..i + 2].copy_from_slice(&DIGIT_PAIRS[pair..pair + 2]);
        } else {
            i -= 1;
            buf[i] = b'0' + n as u8;
        }
    } else {
        let mut n = magnitude;
        while n > 0 {
            i -= 1;
            buf[i] = b'0' + (n % 10) as u8;
            n /= 10;
        }
    }
    if negative {
        i -= 1;
        buf[i] = b'-';
    }
    &buf[i..]
}

/// Writes `v` as Python's `float.__repr__` (or `NaN`/`Infinity`/`-Infinity`, as `json` does).
fn format_float(out: &mut StackBuf, v: f64, allow_nan: bool) -> Result<(), Error> {
    let too_long = |_| Error::Custom("float text too long".into());
    if !v.is_finite() {
        if !allow_nan {
            return Err(Error::NonFinite(v));
        }
        let text: &[u8] = if v.is_nan() {
            b"NaN"
        } else if v > 0.0 {
            b"Infinity"
        } else {
            b"-Infinity"
        };
        return out.push(text).map_err(too_long);
    }
    // ryu gives the shortest round-trip digits, as Python's repr does; only the layout differs
    // (ryu writes e.g. "1e16", "0.0001", "1.2345e-7", "-0.0"). Extract the significant digits
    // and the exponent, then lay them out as Python does.
    let mut ryu_buf = ryu::Buffer::new();
    let text = ryu_buf.format_finite(v).as_bytes();
    let (negative, text) = match text.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, text),
    };
    let e_at = text.iter().position(|&b| b == b'e').unwrap_or(text.len());
    let exp10: i32 = std::str::from_utf8(text.get(e_at + 1..).unwrap_or_default())
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let mantissa = &text[..e_at];
    let int_len = mantissa
        .iter()
        .position(|&b| b == b'.')
        .unwrap_or(mantissa.len());
    let mut digits = [0u8; 32];
    let mut n = 0;
    // Where the decimal point sits after the first significant digit's position is counted.
    let mut point = int_len as i32 + exp10;
    for &b in mantissa {
        if b == b'.' {
            continue;
        }
        if n == 0 && b == b'0' {
            point -= 1; // a leading zero
            continue;
        }
        if n < digits.len() {
            digits[n] = b;
            n += 1;
        }
    }
    while n > 1 && digits[n - 1] == b'0' {
        n -= 1;
    }
    if n == 0 {
        // Zero (either sign).
        digits[0] = b'0';
        n = 1;
        point = 1;
    }
    let digits = &digits[..n];
    let exp = point - 1;
    if negative {
        out.push(b"-").map_err(too_long)?;
    }
    if !(-4..16).contains(&exp) {
        out.push(&digits[..1]).map_err(too_long)?;
        if digits.len() > 1 {
            out.push(b".").map_err(too_long)?;
            out.push(&digits[1..]).map_err(too_long)?;
        }
        let sign = if exp < 0 { '-' } else { '+' };
        write!(out, "e{sign}{:02}", exp.unsigned_abs()).map_err(too_long)?;
        return Ok(());
    }
    if point <= 0 {
        out.push(b"0.").map_err(too_long)?;
        for _ in 0..-point {
            out.push(b"0").map_err(too_long)?;
        }
        out.push(digits).map_err(too_long)?;
    } else {
        let point = point as usize;
        if point >= digits.len() {
            out.push(digits).map_err(too_long)?;
            for _ in digits.len()..point {
                out.push(b"0").map_err(too_long)?;
            }
            out.push(b".0").map_err(too_long)?;
        } else {
            out.push(&digits[..point]).map_err(too_long)?;
            out.push(b".").map_err(too_long)?;
            out.push(&digits[point..]).map_err(too_long)?;
        }
    }
    Ok(())
}

/// Bytes that need an escape: 1 = always, 2 = only with `ensure_ascii` (DEL and non-ASCII).
static ESCAPE: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = if i < 0x20 || i == b'"' as usize || i == b'\\' as usize {
            1
        } else if i >= 0x7f {
            2
        } else {
            0
        };
        i += 1;
    }
    t
};

const HEX: &[u8; 16] = b"0123456789abcdef";

fn write_u_escape<W: Write>(out: &mut W, unit: u16) -> io::Result<()> {
    out.write_all(&[
        b'\\',
        b'u',
        HEX[(unit >> 12) as usize & 0xf],
        HEX[(unit >> 8) as usize & 0xf],
        HEX[(unit >> 4) as usize & 0xf],
        HEX[unit as usize & 0xf],
    ])
}

/// Writes `s` quoted and escaped as Python's `json` does.
fn write_quoted<W: Write>(out: &mut W, s: &str, ensure_ascii: bool) -> io::Result<()> {
    out.write_all(b"\"")?;
    let bytes = s.as_bytes();
    let limit = if ensure_ascii { 2 } else { 1 };
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let class = ESCAPE[b as usize];
        if class == 0 || class > limit {
            i += 1;
            continue;
        }
        if start < i {
            out.write_all(&bytes[start..i])?;
        }
        if b < 0x80 {
            match b {
                b'"' => out.write_all(b"\\\"")?,
                b'\\' => out.write_all(b"\\\\")?,
                b'\n' => out.write_all(b"\\n")?,
                b'\r' => out.write_all(b"\\r")?,
                b'\t' => out.write_all(b"\\t")?,
                0x08 => out.write_all(b"\\b")?,
                0x0c => out.write_all(b"\\f")?,
                _ => write_u_escape(out, u16::from(b))?,
            }
            i += 1;
        } else {
            // `i` is at a char boundary: every byte before it was consumed whole.
            let c = s[i..].chars().next().unwrap_or('\u{fffd}');
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                write_u_escape(out, *unit)?;
            }
            i += c.len_utf8();
        }
        start = i;
    }
    if start < bytes.len() {
        out.write_all(&bytes[start..])?;
    }
    out.write_all(b"\"")
}

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

#[derive(Debug)]
struct Entry {
    kind: KeyKind,
    key: (usize, usize),
    value: (usize, usize),
}

/// A map being collected for sorting: keys (as raw text) and values (as JSON) in one buffer.
#[derive(Debug, Default)]
struct Sorted {
    buf: Vec<u8>,
    entries: Vec<Entry>,
    pending: Option<(KeyKind, usize, usize)>,
}

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
                key.serialize(KeyWriter {
                    out: &mut self.ser.out,
                    opts: self.ser.opts,
                    raw: false,
                })?;
                self.ser.out.write_all(b": ")?;
                Ok(())
            }
            State::Sorted(s) => {
                let start = s.buf.len();
                let kind = key.serialize(KeyWriter {
                    out: &mut s.buf,
                    opts: self.ser.opts,
                    raw: true,
                })?;
                s.pending = Some((kind, start, s.buf.len()));
                Ok(())
            }
        }
    }

    fn value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        match &mut self.state {
            State::Seq { .. } => Err(Error::Custom("map value outside a map".into())),
            State::Map { .. } => value.serialize(&mut *self.ser),
            State::Sorted(s) => {
                let (kind, ks, ke) = s
                    .pending
                    .take()
                    .ok_or_else(|| Error::Custom("map value without a key".into()))?;
                let start = s.buf.len();
                value.serialize(&mut PySerializer {
                    out: &mut s.buf,
                    opts: self.ser.opts,
                    depth: self.ser.depth,
                })?;
                s.entries.push(Entry {
                    kind,
                    key: (ks, ke),
                    value: (start, s.buf.len()),
                });
                Ok(())
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

fn write_sorted<W: Write>(ser: &mut PySerializer<'_, W>, s: Sorted) -> Result<(), Error> {
    let Sorted {
        buf, mut entries, ..
    } = s;
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
    // `map_compound` already counted this level; `open` counts it again.
    ser.depth -= 1;
    ser.open(b'{')?;
    for (i, e) in entries.iter().enumerate() {
        ser.item_prefix(i == 0)?;
        let key = std::str::from_utf8(&buf[e.key.0..e.key.1])
            .map_err(|e| Error::Custom(e.to_string()))?;
        ser.write_str(key)?;
        ser.out.write_all(b": ")?;
        ser.out.write_all(&buf[e.value.0..e.value.1])?;
    }
    ser.close(b'}', !entries.is_empty())?;
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

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, HashMap};

    use serde::Serialize;

    use super::*;

    fn py(v: &(impl Serialize + ?Sized)) -> String {
        to_string(v, &PyJsonOptions::default()).unwrap()
    }

    fn sorted(v: &(impl Serialize + ?Sized)) -> String {
        to_string(v, &PyJsonOptions::sorted()).unwrap()
    }

    #[test]
    fn floats_follow_python_repr_table() {
        let table: [(f64, &str); 16] = [
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (1.0, "1.0"),
            (0.1, "0.1"),
            (1e15, "1000000000000000.0"),
            (1e16, "1e+16"),
            (1.2345678901234568e+17, "1.2345678901234568e+17"),
            (0.0001, "0.0001"),
            (1e-05, "1e-05"),
            (1.5e-10, "1.5e-10"),
            (2.5e+300, "2.5e+300"),
            (5e-324, "5e-324"),
            (f64::INFINITY, "Infinity"),
            (f64::NEG_INFINITY, "-Infinity"),
            (f64::NAN, "NaN"),
            (-1.5e-10, "-1.5e-10"),
        ];
        for (v, want) in table {
            assert_eq!(py(&v), want, "{v:?}");
        }
    }

    #[test]
    fn more_floats_match_python() {
        // Values checked against CPython's repr().
        let table: [(f64, &str); 10] = [
            (3.25159, "3.25159"),
            (123456789012345.6, "123456789012345.6"),
            (9999999999999998.0, "9999999999999998.0"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
            (2.2250738585072014e-308, "2.2250738585072014e-308"),
            (0.00012, "0.00012"),
            (1.5, "1.5"),
            (100.0, "100.0"),
            (-2.5e-5, "-2.5e-05"),
            (1e100, "1e+100"),
        ];
        for (v, want) in table {
            assert_eq!(py(&v), want, "{v:?}");
        }
    }

    /// The layout code must agree with an independent derivation from Rust's shortest `{:e}`.
    #[test]
    fn floats_agree_with_std_shortest_digits() {
        fn reference(v: f64) -> String {
            let sci = format!("{v:e}");
            let (mant, exp) = sci.split_once('e').unwrap();
            let exp: i32 = exp.parse().unwrap();
            let (sign, mant) = mant.strip_prefix('-').map_or(("", mant), |m| ("-", m));
            let digits: String = mant.chars().filter(|c| *c != '.').collect();
            if !(-4..16).contains(&exp) {
                let (first, rest) = digits.split_at(1);
                let dot = if rest.is_empty() {
                    String::new()
                } else {
                    format!(".{rest}")
                };
                let esign = if exp < 0 { '-' } else { '+' };
                return format!("{sign}{first}{dot}e{esign}{:02}", exp.abs());
            }
            let point = exp + 1;
            if point <= 0 {
                format!("{sign}0.{}{digits}", "0".repeat((-point) as usize))
            } else if point as usize >= digits.len() {
                format!(
                    "{sign}{digits}{}.0",
                    "0".repeat(point as usize - digits.len())
                )
            } else {
                let (a, b) = digits.split_at(point as usize);
                format!("{sign}{a}.{b}")
            }
        }
        // A deterministic spread of bit patterns: every exponent, varied mantissas.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..50_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let v = f64::from_bits(x);
            if v.is_finite() {
                let (ours, std) = (py(&v), reference(v));
                // std and Python may round a tie differently in the last digit (Python rounds
                // half to even, as ryu does); both are then shortest and round-trip.
                if ours != std {
                    assert_eq!(ours.len(), std.len(), "{v:e}");
                    assert_eq!(ours.parse::<f64>().unwrap(), v, "{v:e}");
                }
            }
        }
        for p in -30..30 {
            let v = 10f64.powi(p);
            assert_eq!(py(&v), reference(v));
            assert_eq!(py(&(v * 1.5)), reference(v * 1.5));
        }
    }

    #[test]
    fn floats_match_python_repr_for_random_bit_patterns() {
        // python3: repr(struct.unpack('<d', struct.pack('<Q', bits))[0])
        let table: [(u64, &str); 13] = [
            (0xf2a74de452e6b438, "-1.989032661366619e+244"),
            (0x6513270e269e0d37, "7.761117632285041e+178"),
            (0x0c5c7fd0a6a3a450, "3.980498358697587e-249"),
            (0xd23f0824128b2f33, "-1.5432835417340557e+88"),
            (0x1818e811892f902b, "1.3647584518757569e-192"),
            (0x9531985d5d9dc9f8, "-1.3701135617873088e-206"),
            (0xe8e25d940ed90475, "-1.7160537630466207e+197"),
            (0x36f675cc81e74ef5, "6.294675241195386e-44"),
            (0x1600a35a099950d8, "1.0613447212142254e-202"),
            (0x6b0d549b6f03675a, "4.708325160387546e+207"),
            (0x3d9c172411e20b8f, "6.387016158513563e-12"),
            (0x8d116ece1738f7d9, "-9.973130378568733e-246"),
            // An exact tie (…562.25): Python rounds half to even.
            (0x43179085685d83c9, "1658206780088562.2"),
        ];
        for (bits, want) in table {
            assert_eq!(py(&f64::from_bits(bits)), want);
        }
    }

    #[test]
    fn f32_is_widened_to_f64() {
        assert_eq!(py(&0.1f32), "0.10000000149011612");
        assert_eq!(py(&1.5f32), "1.5");
    }

    #[test]
    fn non_finite_floats_are_refused_without_allow_nan() {
        let opts = PyJsonOptions::default().allow_nan(false);
        assert!(matches!(
            to_string(&f64::NAN, &opts),
            Err(Error::NonFinite(_))
        ));
        assert!(matches!(
            to_string(&BTreeMap::from([(1, f64::INFINITY)]), &opts),
            Err(Error::NonFinite(_))
        ));
        assert_eq!(to_string(&1.5, &opts).unwrap(), "1.5");
    }

    #[test]
    fn integers_format_like_display() {
        let mut samples: Vec<i128> = vec![0, 1, 9, 10, 99, 100, 101, 999, 1000, -1, -10, -100];
        for p in 0..39 {
            let x = 10i128.pow(p);
            samples.extend([x - 1, x, x + 1, -x, -x + 1, -x - 1]);
        }
        samples.extend([
            i64::MAX.into(),
            i64::MIN.into(),
            u64::MAX.into(),
            i128::MAX,
            i128::MIN,
        ]);
        for v in samples {
            assert_eq!(py(&v), v.to_string());
            assert_eq!(sorted(&BTreeMap::from([(v, 0)])), format!("{{\"{v}\": 0}}"));
        }
        for v in [0u128, u64::MAX.into(), u128::from(u64::MAX) + 1, u128::MAX] {
            assert_eq!(py(&v), v.to_string());
        }
    }

    #[test]
    fn integers_of_any_size_are_written_in_full() {
        assert_eq!(py(&u128::MAX), "340282366920938463463374607431768211455");
        assert_eq!(py(&i128::MIN), "-170141183460469231731687303715884105728");
        assert_eq!(py(&-7i8), "-7");
        assert_eq!(py(&(1u64 << 40)), "1099511627776");
    }

    #[test]
    fn nested_example_is_sorted_like_python() {
        let v: serde_json::Value =
            serde_json::from_str(r#"{"z":1,"a":{"c":2,"b":[{"y":1,"x":2}]}}"#).unwrap();
        assert_eq!(
            sorted(&v),
            r#"{"a": {"b": [{"x": 2, "y": 1}], "c": 2}, "z": 1}"#
        );
    }

    #[test]
    fn unsorted_maps_keep_insertion_order() {
        #[derive(Serialize)]
        struct S {
            z: u8,
            a: u8,
        }
        assert_eq!(py(&S { z: 1, a: 2 }), r#"{"z": 1, "a": 2}"#);
        assert_eq!(sorted(&S { z: 1, a: 2 }), r#"{"a": 2, "z": 1}"#);
    }

    #[test]
    fn strings_are_escaped_like_python_with_ensure_ascii() {
        assert_eq!(
            py("unicode ключ ☃"),
            r#""unicode \u043a\u043b\u044e\u0447 \u2603""#
        );
        assert_eq!(py("😀"), r#""\ud83d\ude00""#);
        assert_eq!(py("\u{7f}"), r#""\u007f""#);
        assert_eq!(
            py("\"\\\n\r\t\u{8}\u{c}\u{1}\u{1f}/"),
            r#""\"\\\n\r\t\b\f\u0001\u001f/""#
        );
        assert_eq!(py(""), r#""""#);
    }

    #[test]
    fn without_ensure_ascii_utf8_is_written_as_is() {
        let opts = PyJsonOptions::default().ensure_ascii(false);
        assert_eq!(
            to_string("värde ☃ 😀 \u{7f}\n", &opts).unwrap(),
            "\"värde ☃ 😀 \u{7f}\\n\""
        );
    }

    #[test]
    fn map_keys_are_coerced_to_strings_like_python() {
        assert_eq!(sorted(&BTreeMap::from([(1, 2)])), r#"{"1": 2}"#);
        assert_eq!(sorted(&BTreeMap::from([(true, 2)])), r#"{"true": 2}"#);
        assert_eq!(sorted(&BTreeMap::from([(None::<u8>, 2)])), r#"{"null": 2}"#);
        assert_eq!(
            py(&vec![(1.5f64, 1)].into_iter().collect::<Map>()),
            r#"{"1.5": 1}"#
        );
        assert_eq!(py(&HashMap::from([('é', 1)])), r#"{"\u00e9": 1}"#);
        assert_eq!(
            sorted(&BTreeMap::from([(1, 2)])),
            sorted(&BTreeMap::from([("1", 2)]))
        );
    }

    /// A map in insertion order, for tests.
    #[derive(Debug)]
    struct Map(Vec<(f64, i32)>);
    impl FromIterator<(f64, i32)> for Map {
        fn from_iter<I: IntoIterator<Item = (f64, i32)>>(iter: I) -> Self {
            Map(iter.into_iter().collect())
        }
    }
    impl Serialize for Map {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.collect_map(self.0.iter().map(|(k, v)| (k, v)))
        }
    }

    #[test]
    fn numeric_keys_sort_numerically_as_in_python() {
        // sorted([10, 9, -1]) == [-1, 9, 10], not the string order.
        let m = HashMap::from([(10, "a"), (9, "b"), (-1, "c")]);
        assert_eq!(sorted(&m), r#"{"-1": "c", "9": "b", "10": "a"}"#);
        let m: Map = vec![(2.5, 1), (f64::NAN, 2), (-1e20, 3), (2.0, 4)]
            .into_iter()
            .collect();
        assert_eq!(sorted(&m), r#"{"-1e+20": 3, "2.0": 4, "2.5": 1, "NaN": 2}"#);
    }

    #[test]
    fn string_keys_sort_by_code_point() {
        let m = HashMap::from([("é", 1), ("z", 2), ("Z", 3), ("😀", 4), ("\u{ffff}", 5)]);
        assert_eq!(
            sorted(&m),
            r#"{"Z": 3, "z": 2, "\u00e9": 1, "\uffff": 5, "\ud83d\ude00": 4}"#
        );
    }

    #[test]
    fn mixed_key_kinds_cannot_be_sorted() {
        #[derive(Serialize)]
        #[serde(untagged)]
        enum K {
            S(&'static str),
            I(i32),
        }
        let v = [(K::S("a"), 1), (K::I(1), 2)];
        let mut out = Vec::new();
        let plain = PyJsonOptions::default();
        let mut ser = PySerializer::new(&mut out, &plain);
        // Unsorted, Python writes them as they come.
        serde::Serializer::collect_map(&mut ser, v.iter().map(|(k, v)| (k, v))).unwrap();
        assert_eq!(out, br#"{"a": 1, "1": 2}"#);
        let opts = PyJsonOptions::sorted();
        let mut ser = PySerializer::new(Vec::new(), &opts);
        let err = serde::Serializer::collect_map(&mut ser, v.iter().map(|(k, v)| (k, v)));
        assert!(matches!(err, Err(Error::MixedKeys("str", "number"))));
    }

    #[test]
    fn composite_and_bytes_keys_are_errors() {
        let m = BTreeMap::from([(vec![1], 1)]);
        assert!(matches!(
            to_string(&m, &PyJsonOptions::default()),
            Err(Error::KeyType("list"))
        ));
        assert!(matches!(
            to_string(&m, &PyJsonOptions::sorted()),
            Err(Error::KeyType("list"))
        ));
    }

    #[test]
    fn bytes_follow_the_policy() {
        struct B;
        impl Serialize for B {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_bytes(b"ab")
            }
        }
        assert!(matches!(
            to_string(&B, &PyJsonOptions::default()),
            Err(Error::Bytes)
        ));
        assert_eq!(sorted(&B), "[97, 98]");
        assert_eq!(sorted(&B), sorted(&vec![97u8, 98]));
    }

    #[test]
    fn tuples_lists_unit_and_options() {
        assert_eq!(py(&(1, "a")), r#"[1, "a"]"#);
        assert_eq!(py(&(1, "a")), py(&serde_json::json!([1, "a"])));
        assert_eq!(py(&()), "null");
        assert_eq!(py(&None::<u8>), "null");
        assert_eq!(py(&Some(true)), "true");
        assert_eq!(py(&Vec::<u8>::new()), "[]");
        assert_eq!(py(&BTreeMap::<u8, u8>::new()), "{}");
        assert_eq!(sorted(&BTreeMap::<u8, u8>::new()), "{}");
        assert_eq!(py(&[[1, 2], [3, 4]]), "[[1, 2], [3, 4]]");
    }

    #[derive(Serialize, PartialEq, Eq, PartialOrd, Ord)]
    enum E {
        Unit,
        New(u8),
        Tup(u8, u8),
        Rec { z: u8, a: u8 },
    }

    #[test]
    fn enums_are_externally_tagged() {
        assert_eq!(py(&E::Unit), r#""Unit""#);
        assert_eq!(py(&E::New(1)), r#"{"New": 1}"#);
        assert_eq!(py(&E::Tup(1, 2)), r#"{"Tup": [1, 2]}"#);
        assert_eq!(py(&E::Rec { z: 1, a: 2 }), r#"{"Rec": {"z": 1, "a": 2}}"#);
        assert_eq!(
            sorted(&E::Rec { z: 1, a: 2 }),
            r#"{"Rec": {"a": 2, "z": 1}}"#
        );
        assert_eq!(sorted(&BTreeMap::from([(E::Unit, 1)])), r#"{"Unit": 1}"#);
    }

    #[test]
    fn indent_matches_python() {
        // json.dumps({"b": [1, {}], "a": {"x": []}}, indent=2, sort_keys=True)
        let v = serde_json::json!({"b": [1, {}], "a": {"x": []}});
        let opts = PyJsonOptions::sorted().indent(Some(2));
        assert_eq!(
            to_string(&v, &opts).unwrap(),
            "{\n  \"a\": {\n    \"x\": []\n  },\n  \"b\": [\n    1,\n    {}\n  ]\n}"
        );
        // indent=0 still breaks lines.
        let opts = PyJsonOptions::default().indent(Some(0));
        assert_eq!(to_string(&[1, 2], &opts).unwrap(), "[\n1,\n2\n]");
        let opts = PyJsonOptions::default().indent(Some(1));
        assert_eq!(
            to_string(&E::Tup(1, 2), &opts).unwrap(),
            "{\n \"Tup\": [\n  1,\n  2\n ]\n}"
        );
        assert_eq!(to_string(&E::New(1), &opts).unwrap(), "{\n \"New\": 1\n}");
        let opts = PyJsonOptions::sorted().indent(Some(1));
        assert_eq!(
            to_string(&E::Rec { z: 1, a: 2 }, &opts).unwrap(),
            "{\n \"Rec\": {\n  \"a\": 2,\n  \"z\": 1\n }\n}"
        );
    }

    #[test]
    fn deep_indent_beyond_the_space_table() {
        let opts = PyJsonOptions::default().indent(Some(70));
        assert_eq!(
            to_string(&[1], &opts).unwrap(),
            format!("[\n{}1\n]", " ".repeat(70))
        );
    }

    #[test]
    fn streaming_into_a_writer_equals_to_vec() {
        struct Chunks(Vec<Vec<u8>>);
        impl Write for Chunks {
            fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
                self.0.push(buf.to_vec());
                Ok(buf.len())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let v = serde_json::json!({"z": [1, 2.5, "x"], "a": {"c": null, "b": true}});
        let mut chunks = Chunks(Vec::new());
        to_writer(&mut chunks, &v, &PyJsonOptions::sorted()).unwrap();
        assert!(chunks.0.len() > 1);
        assert_eq!(
            chunks.0.concat(),
            to_vec(&v, &PyJsonOptions::sorted()).unwrap()
        );
    }

    #[test]
    fn writer_errors_are_reported() {
        struct Broken;
        impl Write for Broken {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                Err(io::Error::other("disk full"))
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        assert!(matches!(
            to_writer(Broken, &[1], &PyJsonOptions::default()),
            Err(Error::Io(_))
        ));
    }
}
