//! The unpickling machine: protocols 0 to 5, for the built-in types Python BucketCache files
//! hold. It never imports or calls anything: the only globals it knows are `set`, `frozenset`,
//! `bytes`, `bytearray`, `_codecs.encode` and `datetime.datetime`, each applied by Rust code;
//! every other global, and every opcode that builds arbitrary objects (`BUILD`, `INST`, `OBJ`,
//! `NEWOBJ`, `PERSID`, `EXT*`...), is an error.
//!
//! Hostile input is bounded: a declared length is checked against the input left before any
//! allocation, the work done (values pushed and copied) is capped in proportion to the input
//! size, the memo is capped, and the finished value's depth and expansion are checked
//! ([`Arena::check`]) before anything is handed out.

use std::collections::HashMap;
use std::sync::Arc;

use crate::bigint::{le_to_i128, BigInt};
use crate::datetime::{decode_state, STATE_LEN};
use crate::error::PickleError;
use crate::opcodes as op;
use crate::value::{Arena, Global, Limits, Node, Value};

type Result<T> = std::result::Result<T, PickleError>;

/// Deepest container nesting accepted. CPython cannot pickle much deeper (its recursion limit
/// is 1000), and handing out a tree recurses once per level.
pub const MAX_DEPTH: usize = 200;
/// Largest memo accepted (entries).
pub const MAX_MEMO: usize = 1 << 22;
/// Largest `LONG4` accepted, in bytes (about 2.5 million decimal digits).
pub const MAX_LONG_BYTES: usize = 1 << 20;

/// A decoded pickle: the top-level value and the containers it refers to.
#[derive(Debug)]
pub struct Decoded {
    /// Containers.
    pub arena: Arena,
    /// The value `STOP` returned.
    pub root: Value,
}

impl Decoded {
    /// The limits applied to a pickle of `len` bytes.
    pub fn limits(len: usize) -> Limits {
        Limits {
            max_depth: MAX_DEPTH,
            // Sharing (the memo, DUP) lets a few bytes stand for a huge tree, which decoding
            // copies out in full: allow the tree only a few nodes per input byte. Real files
            // spend at least a byte per node, and share little.
            max_expansion: (1u64 << 16) + 4 * len as u64,
        }
    }
}

/// Decodes a pickle (any protocol 0 to 5) and checks the result against the limits.
pub fn read(input: &[u8]) -> Result<Decoded> {
    let mut r = Reader {
        input,
        pos: 0,
        stack: Vec::with_capacity(16),
        marks: Vec::with_capacity(4),
        memo: Memo::default(),
        arena: Arena::default(),
        hashable_tuple: Vec::new(),
        work: 0,
        max_work: 1_000_000 + 4 * input.len() as u64,
    };
    let root = r.run()?;
    let decoded = Decoded {
        arena: r.arena,
        root,
    };
    decoded
        .arena
        .check(&decoded.root, Decoded::limits(input.len()))?;
    Ok(decoded)
}

struct Reader<'i> {
    input: &'i [u8],
    pos: usize,
    stack: Vec<Value>,
    marks: Vec<usize>,
    memo: Memo,
    arena: Arena,
    /// For each arena node: whether it is a hashable tuple (or frozenset).
    hashable_tuple: Vec<bool>,
    work: u64,
    max_work: u64,
}

fn err<T>(msg: impl Into<String>) -> Result<T> {
    Err(PickleError::Decode(msg.into()))
}

impl<'i> Reader<'i> {
    fn run(&mut self) -> Result<Value> {
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
                    let v = self.pop()?;
                    self.extend_list(vec![v])?;
                }
                op::APPENDS => {
                    let items = self.pop_mark()?;
                    self.extend_list(items)?;
                }
                op::SETITEM => {
                    let v = self.pop()?;
                    let k = self.pop()?;
                    let pairs = self.pairs(vec![k, v])?;
                    self.extend_dict(pairs)?;
                }
                op::SETITEMS => {
                    let items = self.pop_mark()?;
                    let pairs = self.pairs(items)?;
                    self.extend_dict(pairs)?;
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

    fn remaining(&self) -> usize {
        self.input.len() - self.pos
    }

    fn byte(&mut self) -> Result<u8> {
        let b = *self
            .input
            .get(self.pos)
            .ok_or_else(|| PickleError::decode("pickle data was truncated"))?;
        self.pos += 1;
        Ok(b)
    }

    /// Takes `n` bytes, refusing (before any allocation) a length beyond the input left.
    fn take(&mut self, n: u64) -> Result<&'i [u8]> {
        if n > self.remaining() as u64 {
            return err("pickle data was truncated");
        }
        let s = &self.input[self.pos..self.pos + n as usize];
        self.pos += n as usize;
        Ok(s)
    }

    fn u32(&mut self) -> Result<u32> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn u64(&mut self) -> Result<u64> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }

    fn line(&mut self) -> Result<&'i [u8]> {
        let rest = &self.input[self.pos..];
        let n = rest
            .iter()
            .position(|&b| b == b'\n')
            .ok_or_else(|| PickleError::decode("pickle data was truncated (no newline)"))?;
        self.pos += n + 1;
        Ok(&rest[..n])
    }

    fn unicode(&mut self, n: u64) -> Result<()> {
        let raw = self.take(n)?;
        let s = std::str::from_utf8(raw)
            .map_err(|e| PickleError::decode(format!("invalid UTF-8 in a str: {e}")))?;
        self.push(Value::Str(s.into()))
    }

    fn bytes(&mut self, n: u64) -> Result<()> {
        let raw = self.take(n)?;
        self.push(Value::Bytes(raw.into()))
    }

    fn charge(&mut self, n: u64) -> Result<()> {
        self.work = self.work.saturating_add(n);
        if self.work > self.max_work {
            return err("pickle does too much work for its size (hostile input?)");
        }
        Ok(())
    }

    fn push(&mut self, v: Value) -> Result<()> {
        self.charge(1)?;
        self.stack.push(v);
        Ok(())
    }

    fn new_node(&mut self, node: Node) -> Result<()> {
        let hashable = match &node {
            Node::Tuple(items) => items.iter().all(|v| self.is_hashable(v)),
            Node::FrozenSet(_) => true,
            _ => false,
        };
        self.hashable_tuple.push(hashable);
        let v = self.arena.push(node);
        self.push(v)
    }

    fn is_hashable(&self, v: &Value) -> bool {
        match v {
            Value::Node(id) => self.hashable_tuple[*id as usize],
            _ => true,
        }
    }

    fn check_hashable(&self, items: &[Value]) -> Result<()> {
        if items.iter().all(|v| self.is_hashable(v)) {
            Ok(())
        } else {
            err("unhashable type (list, dict or set) used as a dict key or set item")
        }
    }

    fn fence(&self) -> usize {
        self.marks.last().copied().unwrap_or(0)
    }

    fn pop(&mut self) -> Result<Value> {
        if self.stack.len() <= self.fence() {
            return err("unpickling stack underflow");
        }
        self.stack
            .pop()
            .ok_or_else(|| PickleError::decode("unpickling stack underflow"))
    }

    fn top(&self) -> Result<&Value> {
        if self.stack.len() <= self.fence() {
            return err("unpickling stack underflow");
        }
        self.stack
            .last()
            .ok_or_else(|| PickleError::decode("unpickling stack underflow"))
    }

    /// Python's `load_pop`: pops a value, or the mark when the stack is at the mark.
    fn op_pop(&mut self) -> Result<()> {
        if self.marks.last() == Some(&self.stack.len()) {
            self.marks.pop();
            return Ok(());
        }
        self.pop().map(drop)
    }

    fn pop_mark(&mut self) -> Result<Vec<Value>> {
        let mark = self
            .marks
            .pop()
            .ok_or_else(|| PickleError::decode("could not find MARK"))?;
        Ok(self.stack.split_off(mark.min(self.stack.len())))
    }

    fn pairs(&self, items: Vec<Value>) -> Result<Vec<(Value, Value)>> {
        if items.len() % 2 != 0 {
            return err("odd number of items for a dict");
        }
        let mut out = Vec::with_capacity(items.len() / 2);
        let mut it = items.into_iter();
        while let (Some(k), Some(v)) = (it.next(), it.next()) {
            if !self.is_hashable(&k) {
                return err("unhashable type (list, dict or set) used as a dict key");
            }
            out.push((k, v));
        }
        Ok(out)
    }

    fn extend_list(&mut self, items: Vec<Value>) -> Result<()> {
        match self.top()? {
            Value::Node(id) => match self.arena.node_mut(*id) {
                Node::List(v) => {
                    v.extend(items);
                    Ok(())
                }
                _ => err("APPEND to something that is not a list"),
            },
            _ => err("APPEND to something that is not a list"),
        }
    }

    fn extend_dict(&mut self, pairs: Vec<(Value, Value)>) -> Result<()> {
        match self.top()? {
            Value::Node(id) => match self.arena.node_mut(*id) {
                Node::Dict(v) => {
                    v.extend(pairs);
                    Ok(())
                }
                _ => err("SETITEM on something that is not a dict"),
            },
            _ => err("SETITEM on something that is not a dict"),
        }
    }

    fn memo_put(&mut self, idx: u32) -> Result<()> {
        let top = self.top()?.clone();
        self.memo.insert(idx, top, self.input.len())
    }

    fn memo_get(&mut self, idx: u32) -> Result<()> {
        let v =
            self.memo.get(idx).cloned().ok_or_else(|| {
                PickleError::decode(format!("memo value not found at index {idx}"))
            })?;
        self.push(v)
    }

    fn tuple_items(&self, args: &Value) -> Result<&[Value]> {
        match args {
            Value::Node(id) => match self.arena.node(*id) {
                Node::Tuple(items) => Ok(items),
                _ => err("REDUCE arguments must be a tuple"),
            },
            _ => err("REDUCE arguments must be a tuple"),
        }
    }

    /// Calls one of the known globals, in Rust.
    fn reduce(&mut self, callable: Value, args: Value) -> Result<Value> {
        let Value::Global(g) = callable else {
            return err("REDUCE on something that is not a known global");
        };
        let args = self.tuple_items(&args)?.to_vec();
        match (g, args.as_slice()) {
            (Global::Set | Global::FrozenSet, []) => {
                let node = if g == Global::Set {
                    Node::Set(Vec::new())
                } else {
                    Node::FrozenSet(Vec::new())
                };
                self.node_value(node)
            }
            (Global::Set | Global::FrozenSet, [Value::Node(id)]) => {
                let n = match self.arena.node(*id) {
                    Node::List(v) | Node::Tuple(v) | Node::Set(v) | Node::FrozenSet(v) => v.len(),
                    Node::Dict(_) => return err("set() of a dict is not supported"),
                };
                // Charged before copying, so a shared list copied many times stops early.
                self.charge(n as u64)?;
                let items = match self.arena.node(*id) {
                    Node::List(v) | Node::Tuple(v) | Node::Set(v) | Node::FrozenSet(v) => v.clone(),
                    Node::Dict(_) => Vec::new(),
                };
                self.check_hashable(&items)?;
                let node = if g == Global::Set {
                    Node::Set(items)
                } else {
                    Node::FrozenSet(items)
                };
                self.node_value(node)
            }
            (Global::Bytes | Global::ByteArray, []) => Ok(Value::Bytes(Arc::from(&[][..]))),
            (Global::Bytes | Global::ByteArray, [Value::Bytes(b)]) => Ok(Value::Bytes(b.clone())),
            (Global::ByteArray | Global::CodecsEncode, [Value::Str(s), Value::Str(enc)]) => {
                Ok(Value::Bytes(encode(s, enc)?.into()))
            }
            (Global::CodecsEncode, [Value::Str(s)]) => Ok(Value::Bytes(Arc::from(s.as_bytes()))),
            (Global::DateTime, [state] | [state, Value::None]) => {
                let raw: Vec<u8> = match state {
                    Value::Bytes(b) => b.to_vec(),
                    // Python 2 pickles hold the state as a str (decoded here as ASCII, as the
                    // original does); Python's datetime takes it as latin-1.
                    Value::Str(s) => encode(s, "latin1")?,
                    _ => return err("datetime from anything but its pickled state"),
                };
                if raw.len() != STATE_LEN {
                    return err("datetime state must have 10 bytes");
                }
                decode_state(&raw)
                    .map(Value::DateTime)
                    .map_err(PickleError::Decode)
            }
            (Global::DateTime, [_, _]) => {
                err("a datetime with a time zone is not a naive UTC expiration")
            }
            (g, _) => err(format!("unsupported arguments to {g}")),
        }
    }

    fn node_value(&mut self, node: Node) -> Result<Value> {
        self.new_node(node)?;
        self.stack
            .pop()
            .ok_or_else(|| PickleError::decode("internal: node vanished"))
    }
}

/// The memo: dense for the small indices every pickler uses, sparse for the others (a hostile
/// `LONG_BINPUT 0xffffffff` must not allocate gigabytes).
#[derive(Default)]
struct Memo {
    dense: Vec<Option<Value>>,
    sparse: HashMap<u32, Value>,
    len: usize,
}

impl Memo {
    fn insert(&mut self, idx: u32, v: Value, input_len: usize) -> Result<()> {
        let i = idx as usize;
        // A real pickle puts at most one entry per two bytes of input.
        if i < input_len / 2 + 256 {
            if i >= self.dense.len() {
                // Grow geometrically: picklers number the memo 0, 1, 2... one at a time.
                let want = (i + 1).max(self.dense.len() * 2).max(16);
                self.dense.resize(want.min(input_len / 2 + 256), None);
            }
            if self.dense[i].replace(v).is_none() {
                self.len += 1;
            }
        } else if self.sparse.insert(idx, v).is_none() {
            self.len += 1;
        }
        if self.len > MAX_MEMO {
            return err("memo too large");
        }
        Ok(())
    }

    fn get(&self, idx: u32) -> Option<&Value> {
        match self.dense.get(idx as usize) {
            Some(v) => v.as_ref(),
            None => self.sparse.get(&idx),
        }
    }

    fn len(&self) -> usize {
        self.len
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
fn raw_unicode_escape(line: &[u8]) -> Result<String> {
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

/// `str.encode(encoding)` for the encodings pickles use.
fn encode(s: &str, encoding: &str) -> Result<Vec<u8>> {
    let enc = encoding.to_ascii_lowercase().replace('_', "-");
    match enc.as_str() {
        "latin1" | "latin-1" | "iso-8859-1" | "iso8859-1" | "l1" => s
            .chars()
            .map(|c| u8::try_from(u32::from(c)).ok())
            .collect::<Option<Vec<u8>>>()
            .ok_or_else(|| PickleError::decode("'latin-1' codec can't encode a character")),
        "utf-8" | "utf8" => Ok(s.as_bytes().to_vec()),
        "ascii" if s.is_ascii() => Ok(s.as_bytes().to_vec()),
        _ => err(format!("unsupported encoding {encoding:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root(input: &[u8]) -> Result<Decoded> {
        read(input)
    }

    #[test]
    fn trailing_bytes_after_stop_are_ignored() {
        let d = root(b"\x80\x02K\x05.garbage").unwrap();
        assert!(matches!(d.root, Value::Int(5)));
    }

    #[test]
    fn protocol_0_text_opcodes_load() {
        let d = root(b"(lp0\nI1\naF2.5\naS'a\\'b'\np1\naVx\\u2603\naL123456789012345678901234567890L\naI01\na.")
            .unwrap();
        let Value::Node(id) = d.root else { panic!() };
        let Node::List(items) = d.arena.node(id) else {
            panic!()
        };
        assert_eq!(items.len(), 6);
        assert!(matches!(&items[2], Value::Str(s) if &**s == "a'b"));
        assert!(matches!(&items[3], Value::Str(s) if &**s == "x\u{2603}"));
        assert!(matches!(
            &items[4],
            Value::Int(123456789012345678901234567890)
        ));
        assert!(matches!(&items[5], Value::Bool(true)));
    }

    #[test]
    fn raw_unicode_escape_follows_cpython() {
        assert_eq!(raw_unicode_escape(b"a\\u2603b").unwrap(), "a\u{2603}b");
        assert_eq!(raw_unicode_escape(b"\\U0001f600").unwrap(), "\u{1f600}");
        assert_eq!(raw_unicode_escape(b"x\\\\u2603").unwrap(), "x\\\\u2603");
        assert_eq!(raw_unicode_escape(b"\\\\\\u005c").unwrap(), "\\\\\\");
        assert_eq!(raw_unicode_escape(b"\xe9").unwrap(), "\u{e9}");
        assert!(raw_unicode_escape(b"\\ud800").is_err());
        assert!(raw_unicode_escape(b"\\u12").is_err());
    }

    #[test]
    fn unknown_globals_are_refused() {
        let e = root(b"cos\nsystem\n(S'echo hi'\ntR.").unwrap_err();
        assert!(e.to_string().contains("os.system"), "{e}");
        assert!(root(b"\x80\x04\x8c\x02os\x8c\x06system\x93.").is_err());
    }

    #[test]
    fn object_building_opcodes_are_refused() {
        for op in [
            op::BUILD,
            op::INST,
            op::OBJ,
            op::NEWOBJ,
            op::NEWOBJ_EX,
            op::PERSID,
            op::EXT1,
        ] {
            assert!(root(&[0x80, 2, b'N', b'N', op, b'.']).is_err());
        }
    }

    #[test]
    fn declared_lengths_beyond_the_input_are_refused() {
        assert!(root(b"\x80\x02X\xff\xff\xff\xffab.").is_err());
        assert!(root(b"\x80\x04\x8d\xff\xff\xff\xff\xff\xff\xff\xffab.").is_err());
        assert!(root(b"\x80\x02\x8b\xff\xff\xff\x7f\x00.").is_err());
        assert!(root(b"\x80\x02\x8b\xff\xff\xff\xff\x00.").is_err());
        assert!(root(b"\x80\x04\x95\xff\xff\xff\xff\xff\xff\xff\xffN.").is_err());
    }

    #[test]
    fn recursive_list_is_refused() {
        // l = []; l.append(l)
        assert!(root(b"\x80\x02]q\x00h\x00a.").is_err());
    }

    #[test]
    fn unhashable_keys_are_refused() {
        assert!(root(b"\x80\x02}](K\x01s.").is_err());
        assert!(root(b"\x80\x02}]\x85K\x01s.").is_err());
        assert!(root(b"\x80\x02}K\x01\x85K\x01s.").is_ok());
    }
}
