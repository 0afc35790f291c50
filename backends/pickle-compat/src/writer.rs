//! A serde `Serializer` that writes the exact opcode stream of CPython's C pickler
//! (`_pickle.c`) at protocol 2 (or 3), so that a file written here is byte-identical to the one
//! Python BucketCache writes for the same value.
//!
//! What is mirrored from CPython:
//! * the memo: every str, bytes (reduce result), list, dict, non-empty tuple and global gets the
//!   next `BINPUT` id at the moment CPython memoizes it (containers before their items, tuples
//!   after them). Python memoizes by object identity; a Rust value has none, so equal user strings
//!   are written again rather than fetched with `BINGET`. Only the objects CPython provably
//!   shares whatever built them are fetched from the memo: the `_codecs.encode`,
//!   `__builtin__.bytes` and `datetime.datetime` globals, the interned `'latin1'`, and the
//!   singletons `''`, one-character latin-1 strs, `b''` and one-byte bytes. (Other repeated
//!   strings, such as the same dict key in many dicts, are shared in Python only when the program
//!   happened to share them; there the bytes may differ while the values are equal);
//! * the choice of integer opcode (`BININT1`/`BININT2`/`BININT`/`LONG1`, minimal two's
//!   complement);
//! * list and dict batching (`APPEND`/`SETITEM` for exactly one item, else `MARK … APPENDS` /
//!   `MARK … SETITEMS` in batches of 1000, with CPython's extra empty `MARK SETITEMS` after a
//!   dict whose size is a multiple of 1000);
//! * `bytes` at protocol 2 as `_codecs.encode(<latin-1 str>, 'latin1')` (`__builtin__.bytes()`
//!   when empty), and the datetime expiration as `datetime.datetime(<state bytes>)`.

mod serializer;

use std::collections::HashMap;

use bucketcache_traits::Expiration as NaiveDateTime;
use serde::ser::Serialize;

use crate::datetime::encode_state;
use bucketcache_unpickle::opcodes as op;
use bucketcache_unpickle::PickleError;
use bucketcache_unpickle::MAX_DEPTH;

/// CPython's `BATCHSIZE`.
const BATCH: usize = 1000;

type Result<T> = std::result::Result<T, PickleError>;

/// Writes pickles; one `Writer` per file, because the memo numbering spans the whole file.
pub struct Writer<'o> {
    out: &'o mut Vec<u8>,
    protocol: u8,
    next_memo: u32,
    codecs_encode: Option<u32>,
    builtin_bytes: Option<u32>,
    latin1: Option<u32>,
    /// Memo ids of the str singletons written so far: `''` (key 256) and the 256 one-character
    /// latin-1 strings, which CPython always shares, whatever built them.
    str_singletons: HashMap<u32, u32>,
    /// Memo ids of the bytes singletons: `b''` (key 256) and the 256 one-byte bytes.
    bytes_singletons: HashMap<u16, u32>,
    /// Containers open around what is being written (the envelope's dict included): never more
    /// than the reader's [`MAX_DEPTH`], so that whatever is written can be read back.
    depth: usize,
    /// Levels taken by what surrounds the value (1 in an envelope), for messages.
    outer: usize,
}

impl<'o> Writer<'o> {
    /// A writer appending to `out` with `protocol` (2 or 3).
    pub fn new(out: &'o mut Vec<u8>, protocol: u8) -> Self {
        Writer {
            out,
            protocol,
            next_memo: 0,
            codecs_encode: None,
            builtin_bytes: None,
            latin1: None,
            str_singletons: HashMap::new(),
            bytes_singletons: HashMap::new(),
            depth: 0,
            outer: 0,
        }
    }

    /// Counts one more open container, refusing to nest deeper than the reader reads.
    fn enter(&mut self) -> Result<()> {
        if self.depth >= MAX_DEPTH {
            return Err(PickleError::Encode(format!(
                "the value nests containers deeper than {} levels, the most the reader reads back",
                MAX_DEPTH - self.outer
            )));
        }
        self.depth += 1;
        Ok(())
    }

    /// Writes the original's envelope `{'value': value, 'expiration_date': expiration}`.
    pub fn write_envelope(
        mut self,
        value: &dyn erased_serde::Serialize,
        expiration: Option<NaiveDateTime>,
    ) -> Result<()> {
        self.out.extend_from_slice(&[op::PROTO, self.protocol]);
        self.enter()?;
        self.outer = 1;
        self.out.push(op::EMPTY_DICT);
        self.memoize();
        self.out.push(op::MARK);
        self.write_str("value")?;
        value.serialize(&mut self)?;
        self.write_str("expiration_date")?;
        match expiration {
            None => self.out.push(op::NONE),
            Some(dt) => self.write_datetime(&dt)?,
        }
        self.out.extend_from_slice(&[op::SETITEMS, op::STOP]);
        Ok(())
    }

    /// Writes `value` alone: `PROTO`, the value, `STOP`.
    pub fn write_value<T: Serialize + ?Sized>(mut self, value: &T) -> Result<()> {
        self.out.extend_from_slice(&[op::PROTO, self.protocol]);
        value.serialize(&mut self)?;
        self.out.push(op::STOP);
        Ok(())
    }

    fn memoize(&mut self) -> u32 {
        let id = self.next_memo;
        self.next_memo += 1;
        match u8::try_from(id) {
            Ok(small) => self.out.extend_from_slice(&[op::BINPUT, small]),
            Err(_) => {
                self.out.push(op::LONG_BINPUT);
                self.out.extend_from_slice(&id.to_le_bytes());
            }
        }
        id
    }

    fn memo_get(&mut self, id: u32) {
        match u8::try_from(id) {
            Ok(small) => self.out.extend_from_slice(&[op::BINGET, small]),
            Err(_) => {
                self.out.push(op::LONG_BINGET);
                self.out.extend_from_slice(&id.to_le_bytes());
            }
        }
    }

    /// A str of the value: CPython's singletons are fetched from the memo when seen before.
    fn write_str(&mut self, s: &str) -> Result<()> {
        let mut chars = s.chars();
        let singleton = match (chars.next(), chars.next()) {
            (None, _) => Some(256),
            (Some(c), None) if u32::from(c) < 256 => Some(u32::from(c)),
            _ => None,
        };
        let Some(key) = singleton else {
            return self.write_fresh_str(s);
        };
        if let Some(&id) = self.str_singletons.get(&key) {
            self.memo_get(id);
            return Ok(());
        }
        self.write_fresh_str(s)?;
        self.str_singletons.insert(key, self.next_memo - 1);
        Ok(())
    }

    /// A str object that is new in CPython (never shared), memoized.
    fn write_fresh_str(&mut self, s: &str) -> Result<()> {
        let len = u32::try_from(s.len()).map_err(|_| {
            PickleError::Encode("a string longer than 4 GiB needs protocol 4".into())
        })?;
        self.out.push(op::BINUNICODE);
        self.out.extend_from_slice(&len.to_le_bytes());
        self.out.extend_from_slice(s.as_bytes());
        self.memoize();
        Ok(())
    }

    /// A global that CPython holds as one object (so memoized once, then fetched).
    fn write_global(&mut self, module: &str, name: &str, slot: Option<u32>) -> u32 {
        if let Some(id) = slot {
            self.memo_get(id);
            return id;
        }
        self.out.push(op::GLOBAL);
        self.out.extend_from_slice(module.as_bytes());
        self.out.push(b'\n');
        self.out.extend_from_slice(name.as_bytes());
        self.out.push(b'\n');
        self.memoize()
    }

    /// A bytes value: CPython shares `b''` and the one-byte bytes, so those are written once and
    /// fetched from the memo afterwards.
    fn write_bytes(&mut self, b: &[u8]) -> Result<()> {
        let key = match b {
            [] => Some(256u16),
            [x] => Some(u16::from(*x)),
            _ => None,
        };
        if let Some(&id) = key.and_then(|k| self.bytes_singletons.get(&k)) {
            self.memo_get(id);
            return Ok(());
        }
        self.write_new_bytes(b)?;
        if let Some(k) = key {
            self.bytes_singletons.insert(k, self.next_memo - 1);
        }
        Ok(())
    }

    fn write_new_bytes(&mut self, b: &[u8]) -> Result<()> {
        if self.protocol >= 3 {
            match u8::try_from(b.len()) {
                Ok(n) => self.out.extend_from_slice(&[op::SHORT_BINBYTES, n]),
                Err(_) => {
                    let n = u32::try_from(b.len()).map_err(|_| {
                        PickleError::Encode("bytes longer than 4 GiB need protocol 4".into())
                    })?;
                    self.out.push(op::BINBYTES);
                    self.out.extend_from_slice(&n.to_le_bytes());
                }
            }
            self.out.extend_from_slice(b);
            self.memoize();
            return Ok(());
        }
        if b.is_empty() {
            let id = self.write_global("__builtin__", "bytes", self.builtin_bytes);
            self.builtin_bytes = Some(id);
            self.out.extend_from_slice(&[op::EMPTY_TUPLE, op::REDUCE]);
            self.memoize();
            return Ok(());
        }
        let id = self.write_global("_codecs", "encode", self.codecs_encode);
        self.codecs_encode = Some(id);
        // Each byte becomes the code point of the same value (latin-1), stored as UTF-8.
        let latin1: String = b.iter().map(|&c| char::from(c)).collect();
        // `PyUnicode_DecodeLatin1` in the pickler makes a new str even for one character.
        self.write_fresh_str(&latin1)?;
        match self.latin1 {
            Some(id) => self.memo_get(id),
            None => {
                self.write_fresh_str("latin1")?;
                self.latin1 = Some(self.next_memo - 1);
            }
        }
        self.out.push(op::TUPLE2);
        self.memoize();
        self.out.push(op::REDUCE);
        self.memoize();
        Ok(())
    }

    fn write_datetime(&mut self, dt: &NaiveDateTime) -> Result<()> {
        let state = encode_state(dt).map_err(PickleError::Encode)?;
        // `datetime.datetime` cannot occur in a value written from Rust, so it is always new.
        self.write_global("datetime", "datetime", None);
        self.write_bytes(&state)?;
        self.out.push(op::TUPLE1);
        self.memoize();
        self.out.push(op::REDUCE);
        self.memoize();
        Ok(())
    }

    fn write_i64(&mut self, v: i64) {
        if (0..=0xff).contains(&v) {
            self.out.extend_from_slice(&[op::BININT1, v as u8]);
        } else if (0..=0xffff).contains(&v) {
            self.out.push(op::BININT2);
            self.out.extend_from_slice(&(v as u16).to_le_bytes());
        } else if let Ok(v) = i32::try_from(v) {
            self.out.push(op::BININT);
            self.out.extend_from_slice(&v.to_le_bytes());
        } else {
            self.write_long(v < 0, u128::from(v.unsigned_abs()));
        }
    }

    fn write_u128(&mut self, v: u128) {
        match i64::try_from(v) {
            Ok(v) => self.write_i64(v),
            Err(_) => self.write_long(false, v),
        }
    }

    fn write_i128(&mut self, v: i128) {
        match i64::try_from(v) {
            Ok(v) => self.write_i64(v),
            Err(_) => self.write_long(v < 0, v.unsigned_abs()),
        }
    }

    /// `LONG1` with CPython's `encode_long` length: `bit_length // 8 + 1` bytes of little-endian
    /// two's complement, minus one redundant `0xff` for negative numbers such as `-2**63`.
    fn write_long(&mut self, negative: bool, magnitude: u128) {
        let nbits = 128 - magnitude.leading_zeros() as usize;
        let mut nbytes = nbits / 8 + 1;
        let mut buf = [0u8; 17];
        buf[..16].copy_from_slice(&magnitude.to_le_bytes());
        if negative {
            let mut carry = true;
            for b in buf.iter_mut() {
                let (v, c) = (!*b).overflowing_add(u8::from(carry));
                *b = v;
                carry = c;
            }
            if nbytes > 1 && buf[nbytes - 1] == 0xff && buf[nbytes - 2] & 0x80 != 0 {
                nbytes -= 1;
            }
        }
        self.out.extend_from_slice(&[op::LONG1, nbytes as u8]);
        self.out.extend_from_slice(&buf[..nbytes]);
    }

    fn begin_dict(&mut self) -> Result<Batch> {
        self.enter()?;
        self.out.push(op::EMPTY_DICT);
        self.memoize();
        Ok(Batch::new(self.out.len()))
    }

    fn begin_list(&mut self) -> Result<Batch> {
        self.enter()?;
        self.out.push(op::EMPTY_LIST);
        self.memoize();
        Ok(Batch::new(self.out.len()))
    }
}

/// Batching state of a list or dict being written. The `MARK` of a batch is inserted when the
/// batch closes, because a container of exactly one item has none (`APPEND`/`SETITEM`), and serde
/// does not always tell the length up front.
struct Batch {
    total: usize,
    in_batch: usize,
    mark_pos: usize,
}

impl Batch {
    fn new(pos: usize) -> Self {
        Batch {
            total: 0,
            in_batch: 0,
            mark_pos: pos,
        }
    }

    /// Counts one item; closes the batch when it is full.
    fn item(&mut self, out: &mut Vec<u8>, closing: u8) {
        self.total += 1;
        self.in_batch += 1;
        if self.in_batch == BATCH {
            out.insert(self.mark_pos, op::MARK);
            out.push(closing);
            self.in_batch = 0;
            self.mark_pos = out.len();
        }
    }

    fn end_list(self, out: &mut Vec<u8>) {
        if self.total == 1 {
            out.push(op::APPEND);
        } else if self.in_batch > 0 {
            out.insert(self.mark_pos, op::MARK);
            out.push(op::APPENDS);
        }
    }

    fn end_dict(self, out: &mut Vec<u8>) {
        if self.total == 1 {
            out.push(op::SETITEM);
        } else if self.in_batch > 0 {
            out.insert(self.mark_pos, op::MARK);
            out.push(op::SETITEMS);
        } else if self.total > 0 {
            // CPython's `batch_dict_exact` loops while the last batch was full, so a dict whose
            // size is a multiple of 1000 ends with an empty batch.
            out.extend_from_slice(&[op::MARK, op::SETITEMS]);
        }
    }
}

/// A list, tuple or dict being written, plus (for enum variants) the one-entry dict around it.
pub struct Compound<'a, 'o> {
    w: &'a mut Writer<'o>,
    kind: Kind,
    /// For tuple and struct variants: close the `{variant: ...}` dict with `SETITEM` at the end.
    in_variant: bool,
}

enum Kind {
    List(Batch),
    Tuple { declared: usize, count: usize },
    Dict(Batch),
}

impl Compound<'_, '_> {
    fn element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        value.serialize(&mut *self.w)?;
        match &mut self.kind {
            Kind::List(b) => b.item(self.w.out, op::APPENDS),
            Kind::Tuple { count, .. } => *count += 1,
            Kind::Dict(_) => {}
        }
        Ok(())
    }

    fn dict_value_done(&mut self) {
        if let Kind::Dict(b) = &mut self.kind {
            b.item(self.w.out, op::SETITEMS);
        }
    }

    fn finish(self) -> Result<()> {
        match self.kind {
            Kind::List(b) => b.end_list(self.w.out),
            Kind::Dict(b) => b.end_dict(self.w.out),
            Kind::Tuple { declared, count } => {
                if declared != count {
                    return Err(PickleError::Encode(format!(
                        "tuple declared {declared} elements but gave {count}"
                    )));
                }
                match count {
                    0 => self.w.out.push(op::EMPTY_TUPLE),
                    1 => self.w.out.push(op::TUPLE1),
                    2 => self.w.out.push(op::TUPLE2),
                    3 => self.w.out.push(op::TUPLE3),
                    _ => self.w.out.push(op::TUPLE),
                }
                if count > 0 {
                    self.w.memoize();
                }
            }
        }
        if self.in_variant {
            self.w.out.push(op::SETITEM);
        }
        self.w.depth -= 1 + usize::from(self.in_variant);
        Ok(())
    }
}

impl<'a, 'o> Writer<'o> {
    fn tuple(&'a mut self, len: usize, in_variant: bool) -> Result<Compound<'a, 'o>> {
        self.enter()?;
        if len > 3 {
            self.out.push(op::MARK);
        }
        Ok(Compound {
            w: self,
            kind: Kind::Tuple {
                declared: len,
                count: 0,
            },
            in_variant,
        })
    }

    /// Opens the `{variant: ...}` dict of an enum variant (one level, closed by the caller).
    fn variant_dict(&mut self, variant: &str) -> Result<()> {
        self.enter()?;
        self.out.push(op::EMPTY_DICT);
        self.memoize();
        self.write_str(variant)
    }
}

/// Encodes the envelope `{'value': value, 'expiration_date': expiration}` with `protocol`.
pub fn to_pickle(
    value: &dyn erased_serde::Serialize,
    expiration: Option<NaiveDateTime>,
    protocol: u8,
    out: &mut Vec<u8>,
) -> Result<()> {
    let start = out.len();
    let r = Writer::new(out, protocol).write_envelope(value, expiration);
    if r.is_err() {
        out.truncate(start);
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn pickle<T: Serialize>(v: &T) -> Vec<u8> {
        let mut out = Vec::new();
        to_pickle(v, None, 2, &mut out).unwrap();
        out
    }

    /// The bytes between the `value` key and the `expiration_date` key.
    fn body<T: Serialize>(v: &T) -> Vec<u8> {
        let all = pickle(v);
        let start = 2 + 1 + 2 + 1 + 5 + 5 + 2; // PROTO, }, q0, (, X value, q1
        let tail = b"X\x0f\x00\x00\x00expiration_date".len();
        let end = all.len() - tail - 2 - 3; // q n, N u .
        all[start..end].to_vec()
    }

    #[test]
    fn plain_string_entry_matches_the_original_hexdump() {
        let expected = b"\x80\x02}q\x00(X\x05\x00\x00\x00valueq\x01X\x04\x00\x00\x00thisq\x02\
X\x0f\x00\x00\x00expiration_dateq\x03Nu.";
        assert_eq!(pickle(&"this"), expected);
    }

    #[test]
    fn integers_use_cpythons_opcodes() {
        // pickle.dumps([2**31, -2**31-1, -2**63, 2**64, -1, 255, 256, 65535, 65536], 2)
        let v: (i64, i64, i64, u128, i32, u8, u16, u16, u32) = (
            1 << 31,
            -(1 << 31) - 1,
            i64::MIN,
            1 << 64,
            -1,
            255,
            256,
            65535,
            65536,
        );
        let b = body(&v);
        let expected: &[u8] = b"(\x8a\x05\x00\x00\x00\x80\x00\x8a\x05\xff\xff\xff\x7f\xff\
\x8a\x08\x00\x00\x00\x00\x00\x00\x00\x80\x8a\t\x00\x00\x00\x00\x00\x00\x00\x00\x01\
J\xff\xff\xff\xffK\xffM\x00\x01M\xff\xffJ\x00\x00\x01\x00tq\x02";
        assert_eq!(b, expected);
    }

    #[test]
    fn tuples_lists_and_bytes_match_cpython() {
        // pickle.dumps([(1,2,3,4),(),(1,)], 2)
        let b = body(&vec![
            serde_json::json!([1, 2, 3, 4]),
            serde_json::json!([]),
            serde_json::json!([1]),
        ]);
        // serde_json arrays are lists; check the list framing only.
        assert_eq!(b[..4], *b"]q\x02(");
        // `()` is None in Python; an empty array is the empty tuple.
        let t = body(&((1, 2, 3, 4), [0u8; 0], (1,)));
        assert_eq!(
            t,
            b"(K\x01K\x02K\x03K\x04tq\x02)K\x01\x85q\x03\x87q\x04".to_vec()
        );
    }

    #[test]
    fn bytes_reuse_the_shared_globals_like_cpython() {
        // pickle.dumps({'a': [b'', b'ab', b'ab']}, 2) with distinct b'ab' objects.
        #[derive(serde::Serialize)]
        struct B(#[serde(with = "bytes_ser")] Vec<u8>);
        mod bytes_ser {
            pub fn serialize<S: serde::Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
                s.serialize_bytes(v)
            }
        }
        let v = vec![B(vec![]), B(b"ab".to_vec()), B(b"ab".to_vec())];
        let b = body(&v);
        let expected: &[u8] = b"]q\x02(c__builtin__\nbytes\nq\x03)Rq\x04\
c_codecs\nencode\nq\x05X\x02\x00\x00\x00abq\x06X\x06\x00\x00\x00latin1q\x07\x86q\x08Rq\t\
h\x05X\x02\x00\x00\x00abq\nh\x07\x86q\x0bRq\x0ce";
        assert_eq!(b, expected);
    }

    #[test]
    fn big_lists_and_dicts_are_batched_by_1000() {
        let list: Vec<u8> = vec![0; 1001];
        let b = body(&list);
        assert_eq!(b[..4], *b"]q\x02(");
        assert_eq!(b.iter().filter(|&&c| c == op::APPENDS).count(), 2);
        let dict: BTreeMap<u32, u32> = (0..1000).map(|i| (i, i)).collect();
        let b = body(&dict);
        assert!(b.ends_with(b"u(u"), "CPython's empty trailing batch");
        let one: BTreeMap<u32, u32> = BTreeMap::from([(1, 2)]);
        assert_eq!(body(&one), b"}q\x02K\x01K\x02s".to_vec());
        assert_eq!(body(&vec![7u8]), b"]q\x02K\x07a".to_vec());
        assert_eq!(body(&Vec::<u8>::new()), b"]q\x02".to_vec());
    }

    #[test]
    fn cpython_singletons_are_fetched_from_the_memo() {
        #[derive(serde::Serialize)]
        struct B(#[serde(with = "bytes_ser")] &'static [u8]);
        mod bytes_ser {
            pub fn serialize<S: serde::Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
                s.serialize_bytes(v)
            }
        }
        // pickle.dumps([b'', b'', b'x', bytes([120]), 'x', ''], 2), values inside the envelope.
        let v = (B(b""), B(b""), B(b"x"), B(b"x"), "x", "");
        let b = body(&v);
        let expected: &[u8] = b"(c__builtin__\nbytes\nq\x02)Rq\x03h\x03c_codecs\nencode\nq\x04\
X\x01\x00\x00\x00xq\x05X\x06\x00\x00\x00latin1q\x06\x86q\x07Rq\x08h\x08\
X\x01\x00\x00\x00xq\tX\x00\x00\x00\x00q\ntq\x0b";
        assert_eq!(b, expected);
        // pickle.dumps({'a': 'a', '': ''}, 2)
        let mut out = Vec::new();
        Writer::new(&mut out, 2)
            .write_value(&BTreeMap::from([("a", "a"), ("", "")]))
            .unwrap();
        assert_eq!(
            out,
            b"\x80\x02}q\x00(X\x00\x00\x00\x00q\x01h\x01X\x01\x00\x00\x00aq\x02h\x02u.".to_vec()
        );
    }

    #[test]
    fn memo_ids_past_255_use_long_binput() {
        let v: Vec<String> = (0..300).map(|i| i.to_string()).collect();
        let b = pickle(&v);
        assert!(b.windows(5).any(|w| w == [op::LONG_BINPUT, 0, 1, 0, 0]));
    }
}
