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

mod dispatch;

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;

use crate::datetime::{PyDateTime, STATE_LEN};
use crate::error::PickleError;
use crate::value::{keep_for_next, Arena, Blob, Global, Limits, Node, Span, Text, Value};

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

/// The reader's working vectors, kept by each thread from one read to the next (emptied; see
/// [`keep_for_next`]): a cache entry's decode then allocates only what it hands out.
#[derive(Default)]
struct Scratch {
    stack: Vec<Value>,
    marks: Vec<usize>,
    memo: Vec<Option<Value>>,
    hashable_tuple: Vec<bool>,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// Decodes a pickle (any protocol 0 to 5) and checks the result against the limits.
pub fn read(input: &[u8]) -> Result<Decoded> {
    let scratch = SCRATCH.with(RefCell::take);
    let mut r = Reader {
        input,
        pos: 0,
        stack: scratch.stack,
        marks: scratch.marks,
        memo: Memo {
            dense: scratch.memo,
            ..Memo::default()
        },
        arena: Arena::default(),
        hashable_tuple: scratch.hashable_tuple,
        work: 0,
        max_work: 1_000_000 + 4 * input.len() as u64,
    };
    let root = r.run();
    let mut kept = Scratch {
        stack: std::mem::take(&mut r.stack),
        marks: std::mem::take(&mut r.marks),
        memo: std::mem::take(&mut r.memo.dense),
        hashable_tuple: std::mem::take(&mut r.hashable_tuple),
    };
    keep_for_next(&mut kept.stack);
    keep_for_next(&mut kept.marks);
    keep_for_next(&mut kept.memo);
    keep_for_next(&mut kept.hashable_tuple);
    SCRATCH.with(|s| s.replace(kept));
    let decoded = Decoded {
        arena: r.arena,
        root: root?,
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
        let start = self.pos;
        let raw = self.take(n)?;
        std::str::from_utf8(raw)
            .map_err(|e| PickleError::decode(format!("invalid UTF-8 in a str: {e}")))?;
        self.push(Value::Str(Text::At(Span {
            start,
            len: raw.len(),
        })))
    }

    fn bytes(&mut self, n: u64) -> Result<()> {
        let start = self.pos;
        let raw = self.take(n)?;
        self.push(Value::Bytes(Blob::At(Span {
            start,
            len: raw.len(),
        })))
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
        let mark = self.pop_mark_index()?;
        Ok(self.stack.split_off(mark))
    }

    /// Pops the last mark: where the items above it begin on the stack.
    fn pop_mark_index(&mut self) -> Result<usize> {
        let mark = self
            .marks
            .pop()
            .ok_or_else(|| PickleError::decode("could not find MARK"))?;
        Ok(mark.min(self.stack.len()))
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

    /// Where the last `n` values begin on the stack (the items of `APPEND`, `SETITEM`): they
    /// must all be above the last mark.
    fn last_items(&self, n: usize) -> Result<usize> {
        match self.stack.len().checked_sub(n) {
            Some(at) if at >= self.fence() => Ok(at),
            _ => err("unpickling stack underflow"),
        }
    }

    /// The container just below the items beginning at `at`, which must be above the last mark.
    fn container_below(&self, at: usize, what: &str) -> Result<u32> {
        if at == 0 || at <= self.fence() {
            return err("unpickling stack underflow");
        }
        match self.stack.get(at - 1) {
            Some(Value::Node(id)) => Ok(*id),
            Some(_) => err(format!("{what} to something that is not a container")),
            None => err("unpickling stack underflow"),
        }
    }

    /// `APPENDS` (the items above the mark) and `APPEND` (the last value): the items from `at`
    /// on move into the list below them, with no vector in between (this is how every list of
    /// a protocol 2+ pickle is filled).
    fn append_from(&mut self, at: usize) -> Result<()> {
        let id = self.container_below(at, "APPEND")?;
        match self.arena.node_mut(id) {
            Node::List(v) => {
                v.extend(self.stack.drain(at..));
                Ok(())
            }
            _ => err("APPEND to something that is not a list"),
        }
    }

    /// `SETITEMS` (the pairs above the mark) and `SETITEM` (the last pair): the key-value pairs
    /// from `at` on move into the dict below them (keys checked hashable first; no vector in
    /// between).
    fn set_items_from(&mut self, at: usize) -> Result<()> {
        if (self.stack.len() - at) % 2 != 0 {
            return err("odd number of items for a dict");
        }
        if !self.stack[at..]
            .iter()
            .step_by(2)
            .all(|k| self.is_hashable(k))
        {
            return err("unhashable type (list, dict or set) used as a dict key");
        }
        let id = self.container_below(at, "SETITEM")?;
        match self.arena.node_mut(id) {
            Node::Dict(v) => {
                let mut items = self.stack.drain(at..);
                v.reserve(items.len() / 2);
                while let (Some(k), Some(value)) = (items.next(), items.next()) {
                    v.push((k, value));
                }
                Ok(())
            }
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
        let input = self.input;
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
            (Global::Bytes | Global::ByteArray, []) => {
                Ok(Value::Bytes(Blob::Own(Arc::from(&[][..]))))
            }
            (Global::Bytes | Global::ByteArray, [Value::Bytes(b)]) => Ok(Value::Bytes(b.clone())),
            (Global::ByteArray | Global::CodecsEncode, [Value::Str(s), Value::Str(enc)]) => {
                Ok(Value::Bytes(encode(s.get(input)?, enc.get(input)?)?.into()))
            }
            (Global::CodecsEncode, [Value::Str(s)]) => {
                Ok(Value::Bytes(s.get(input)?.as_bytes().to_vec().into()))
            }
            (Global::DateTime, [state] | [state, Value::None]) => {
                let raw: Vec<u8> = match state {
                    Value::Bytes(b) => b.get(input)?.to_vec(),
                    // Python 2 pickles hold the state as a str (decoded here as ASCII, as the
                    // original does); Python's datetime takes it as latin-1.
                    Value::Str(s) => encode(s.get(input)?, "latin1")?,
                    _ => return err("datetime from anything but its pickled state"),
                };
                if raw.len() != STATE_LEN {
                    return err("datetime state must have 10 bytes");
                }
                PyDateTime::from_state(&raw)
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
    use super::dispatch::raw_unicode_escape;
    use super::*;
    use crate::opcodes as op;

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
        let text = |v: &Value| match v {
            Value::Str(s) => s.get(b"").unwrap().to_owned(),
            _ => panic!("not a str"),
        };
        assert_eq!(text(&items[2]), "a'b");
        assert_eq!(text(&items[3]), "x\u{2603}");
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
    fn a_read_sees_nothing_of_the_read_before_it_on_the_thread() {
        // Cut short after memoizing a str (MARK and the str left on the stack too).
        assert!(root(b"\x80\x02(X\x01\x00\x00\x00aq\x00").is_err());
        // The memo, the stack and the marks start empty again.
        assert!(
            root(b"\x80\x02h\x00.").is_err(),
            "memo entry 0 is not there"
        );
        assert!(root(b"\x80\x02e.").is_err(), "no mark is left");
        let d = root(b"\x80\x02K\x07.").unwrap();
        assert!(matches!(d.root, Value::Int(7)));
    }

    #[test]
    fn recursive_list_is_refused() {
        // l = []; l.append(l)
        assert!(root(b"\x80\x02]q\x00h\x00a.").is_err());
    }

    #[test]
    fn append_and_setitem_reach_only_a_container_above_the_last_mark() {
        // [1] and {1: 2} by APPEND and SETITEM, as CPython writes one-item containers.
        assert!(root(b"\x80\x02]K\x01a.").is_ok());
        assert!(root(b"\x80\x02}K\x01K\x02s.").is_ok());
        // The item, or the container, below the mark; nothing to append to; not a container.
        assert!(root(b"\x80\x02](K\x01a.").is_err());
        assert!(root(b"\x80\x02}K\x01(K\x02s.").is_err());
        assert!(root(b"\x80\x02}(K\x01K\x02s.").is_err());
        assert!(root(b"\x80\x02K\x01a.").is_err());
        assert!(root(b"\x80\x02K\x01K\x02a.").is_err());
        assert!(root(b"\x80\x02]K\x01K\x02s.").is_err());
    }

    #[test]
    fn unhashable_keys_are_refused() {
        assert!(root(b"\x80\x02}](K\x01s.").is_err());
        assert!(root(b"\x80\x02}]\x85K\x01s.").is_err());
        assert!(root(b"\x80\x02}K\x01\x85K\x01s.").is_ok());
    }
}
