//! The decoded value model and its serde `Deserializer`.
//!
//! Containers live in an arena ([`Arena`]) and values refer to them by index, so that a memo
//! reference (`BINGET`) to a list that is still being filled sees its later items, exactly as
//! Python's shared object would, without cloning. The reader checks the finished graph
//! ([`Arena::check`]): no cycles, bounded depth and bounded expansion, so handing the value out as
//! a tree is always bounded in time and memory.

use std::cell::RefCell;
use std::fmt;
use std::sync::Arc;

use serde::de::{self, DeserializeSeed, IntoDeserializer, Visitor};

use crate::bigint::BigInt;
use crate::datetime::PyDateTime;
use crate::error::PickleError;

/// The Python globals this reader knows; any other is refused when it is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Global {
    /// `builtins.set`.
    Set,
    /// `builtins.frozenset`.
    FrozenSet,
    /// `builtins.bytes`.
    Bytes,
    /// `builtins.bytearray`.
    ByteArray,
    /// `_codecs.encode`.
    CodecsEncode,
    /// `datetime.datetime`.
    DateTime,
}

/// Where a piece of a pickle's content is: at this byte range of the pickle itself (as written,
/// so reading it copies nothing), or in a copy of its own (where reading transformed it:
/// escapes, encodings).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    /// The first byte's offset in the pickle.
    pub start: usize,
    /// The length in bytes.
    pub len: usize,
}

impl Span {
    /// These bytes of `input` (the pickle the span was read from); an error if it is shorter.
    pub fn of<'a>(&self, input: &'a [u8]) -> Result<&'a [u8], PickleError> {
        self.start
            .checked_add(self.len)
            .and_then(|end| input.get(self.start..end))
            .ok_or_else(|| PickleError::decode("a span outside the pickle it was read from"))
    }
}

/// A `str`'s text.
///
/// ```
/// use bucketcache_unpickle::{read, Text, Value};
/// let pickle = b"\x80\x02X\x02\x00\x00\x00ab.";
/// let Value::Str(text) = read(pickle).unwrap().root else { unreachable!() };
/// assert!(matches!(text, Text::At(_)));
/// assert_eq!(text.get(pickle).unwrap(), "ab");
/// assert!(text.get(b"").is_err(), "a span outside the bytes given is an error");
/// ```
#[derive(Debug, Clone)]
pub enum Text {
    /// UTF-8 at this span of the pickle.
    At(Span),
    /// Text of its own.
    Own(Arc<str>),
}

impl Text {
    /// The text; `input` is the pickle it was read from (the span's UTF-8 is checked again,
    /// so a wrong `input` is an error, never a wrong `str`).
    pub fn get<'a>(&'a self, input: &'a [u8]) -> Result<&'a str, PickleError> {
        match self {
            Text::At(span) => std::str::from_utf8(span.of(input)?)
                .map_err(|e| PickleError::decode(format!("invalid UTF-8 in a str: {e}"))),
            Text::Own(s) => Ok(s),
        }
    }

    /// Its length in bytes.
    pub fn len(&self) -> usize {
        match self {
            Text::At(span) => span.len,
            Text::Own(s) => s.len(),
        }
    }

    /// Whether it is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl From<&str> for Text {
    fn from(s: &str) -> Text {
        Text::Own(s.into())
    }
}

impl From<String> for Text {
    fn from(s: String) -> Text {
        Text::Own(s.into())
    }
}

/// A `bytes`' content.
#[derive(Debug, Clone)]
pub enum Blob {
    /// At this span of the pickle.
    At(Span),
    /// Bytes of their own.
    Own(Arc<[u8]>),
}

impl Blob {
    /// The bytes; `input` is the pickle they were read from.
    pub fn get<'a>(&'a self, input: &'a [u8]) -> Result<&'a [u8], PickleError> {
        match self {
            Blob::At(span) => span.of(input),
            Blob::Own(b) => Ok(b),
        }
    }

    /// Their length.
    pub fn len(&self) -> usize {
        match self {
            Blob::At(span) => span.len,
            Blob::Own(b) => b.len(),
        }
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl From<Vec<u8>> for Blob {
    fn from(b: Vec<u8>) -> Blob {
        Blob::Own(b.into())
    }
}

/// A decoded Python value. Cheap to clone: text and bytes are spans of the pickle or shared,
/// containers are indices.
#[derive(Debug, Clone)]
pub enum Value {
    /// `None`.
    None,
    /// `bool`.
    Bool(bool),
    /// `int` that fits 128 bits.
    Int(i128),
    /// `int` that does not.
    BigInt(Arc<BigInt>),
    /// `float`.
    Float(f64),
    /// `str`.
    Str(Text),
    /// `bytes` (and `bytearray`).
    Bytes(Blob),
    /// A naive `datetime.datetime`.
    DateTime(PyDateTime),
    /// A container in the arena.
    Node(u32),
    /// A known global not (yet) called; never a valid final value.
    Global(Global),
}

/// A Python container.
#[derive(Debug)]
pub enum Node {
    /// `list`.
    List(Vec<Value>),
    /// `tuple`.
    Tuple(Vec<Value>),
    /// `dict`, in insertion order.
    Dict(Vec<(Value, Value)>),
    /// `set`.
    Set(Vec<Value>),
    /// `frozenset`.
    FrozenSet(Vec<Value>),
}

impl Node {
    /// Every value the node holds (a dict's keys and values alike), without allocating.
    fn children(&self) -> impl Iterator<Item = &Value> + '_ {
        let (items, pairs): (&[Value], &[(Value, Value)]) = match self {
            Node::List(v) | Node::Tuple(v) | Node::Set(v) | Node::FrozenSet(v) => (v, &[]),
            Node::Dict(v) => (&[], v),
        };
        items.iter().chain(pairs.iter().flat_map(|(k, v)| [k, v]))
    }
}

/// The containers of one pickle.
#[derive(Debug, Default)]
pub struct Arena {
    pub(crate) nodes: Vec<Node>,
}

/// Limits on what a decoded value may expand to.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Deepest container nesting.
    pub max_depth: usize,
    /// Most values the tree may hand out (shared containers count each time they appear).
    pub max_expansion: u64,
}

/// Where [`Arena::check`] is with a node.
#[derive(Clone, Copy, PartialEq)]
enum State {
    New,
    Open,
    Done { depth: usize, size: u64 },
}

thread_local! {
    /// [`Arena::check`]'s working vectors, kept by each thread from one check to the next.
    static CHECK_SCRATCH: RefCell<(Vec<State>, Vec<u32>)> = const { RefCell::new((Vec::new(), Vec::new())) };
}

/// The most elements a working vector kept by a thread between reads has room for: 256 holds a
/// typical cache entry's, and a thread then keeps at most about 30 KB; a larger pickle's vectors
/// are freed, not kept.
const SCRATCH_KEPT: usize = 256;

/// Empties a working vector for the next read or check, or frees it if it grew past
/// [`SCRATCH_KEPT`].
pub(crate) fn keep_for_next<T>(v: &mut Vec<T>) {
    if v.capacity() > SCRATCH_KEPT {
        *v = Vec::new();
    } else {
        v.clear();
    }
}

impl Arena {
    pub(crate) fn push(&mut self, node: Node) -> Value {
        let id = self.nodes.len() as u32;
        self.nodes.push(node);
        Value::Node(id)
    }

    /// The container `id`, if the arena holds it.
    pub fn get(&self, id: u32) -> Option<&Node> {
        self.nodes.get(id as usize)
    }

    pub(crate) fn node(&self, id: u32) -> &Node {
        &self.nodes[id as usize]
    }

    pub(crate) fn node_mut(&mut self, id: u32) -> &mut Node {
        &mut self.nodes[id as usize]
    }

    /// Checks the graph below `root`: no cycle (Python allows them; a tree cannot hold one), no
    /// stray global, depth and expansion within `limits`. Iterative, so hostile nesting cannot
    /// overflow the stack; each node is visited once, so shared nodes cost nothing extra here.
    pub fn check(&self, root: &Value, limits: Limits) -> Result<(), PickleError> {
        let (mut state, mut stack) = CHECK_SCRATCH.with(RefCell::take);
        let checked = self.check_with(root, limits, &mut state, &mut stack);
        keep_for_next(&mut state);
        keep_for_next(&mut stack);
        CHECK_SCRATCH.with(|s| s.replace((state, stack)));
        checked
    }

    /// [`check`](Self::check) with working vectors of the caller's (emptied first).
    fn check_with(
        &self,
        root: &Value,
        limits: Limits,
        state: &mut Vec<State>,
        stack: &mut Vec<u32>,
    ) -> Result<(), PickleError> {
        state.clear();
        state.resize(self.nodes.len(), State::New);
        stack.clear();
        let leaf = |v: &Value| -> Result<Option<u32>, PickleError> {
            match v {
                Value::Node(id) => Ok(Some(*id)),
                Value::Global(g) => Err(PickleError::decode(format!(
                    "the global {g:?} is not a value this reader accepts"
                ))),
                _ => Ok(None),
            }
        };
        let Some(root) = leaf(root)? else {
            return Ok(());
        };
        // Every container's children are in its arena (the reader builds them so); the root
        // comes from the caller.
        if self.get(root).is_none() {
            return Err(PickleError::decode("the value is not in this arena"));
        }
        stack.push(root);
        while let Some(&id) = stack.last() {
            match state[id as usize] {
                State::Done { .. } => {
                    stack.pop();
                }
                State::New => {
                    state[id as usize] = State::Open;
                    for child in self.node(id).children() {
                        if let Some(c) = leaf(child)? {
                            match state[c as usize] {
                                State::Open => {
                                    return Err(PickleError::decode(
                                        "a container contains itself (recursive structure)",
                                    ))
                                }
                                State::New => stack.push(c),
                                State::Done { .. } => {}
                            }
                        }
                    }
                }
                State::Open => {
                    let mut depth = 0;
                    let mut size: u64 = 1;
                    for child in self.node(id).children() {
                        size = size.saturating_add(match child {
                            Value::Node(c) => match state[*c as usize] {
                                State::Done { depth: d, size: s } => {
                                    depth = depth.max(d);
                                    s
                                }
                                // A child pushed and not yet finished means a cycle through a
                                // node reached twice in one pass; refuse rather than guess.
                                _ => {
                                    return Err(PickleError::decode(
                                        "a container contains itself (recursive structure)",
                                    ))
                                }
                            },
                            Value::Str(s) => 1 + s.len() as u64 / 16,
                            Value::Bytes(b) => 1 + b.len() as u64 / 16,
                            _ => 1,
                        });
                    }
                    if size > limits.max_expansion {
                        return Err(PickleError::decode(format!(
                            "the value expands to more than {} items (shared references)",
                            limits.max_expansion
                        )));
                    }
                    if depth + 1 > limits.max_depth {
                        return Err(PickleError::decode(format!(
                            "containers nested deeper than {}",
                            limits.max_depth
                        )));
                    }
                    state[id as usize] = State::Done {
                        depth: depth + 1,
                        size,
                    };
                    stack.pop();
                }
            }
        }
        Ok(())
    }
}

impl Value {
    fn kind(&self, arena: &Arena) -> &'static str {
        match self {
            Value::None => "None",
            Value::Bool(_) => "bool",
            Value::Int(_) | Value::BigInt(_) => "int",
            Value::Float(_) => "float",
            Value::Str(_) => "str",
            Value::Bytes(_) => "bytes",
            Value::DateTime(_) => "datetime",
            Value::Global(_) => "global",
            Value::Node(id) => match arena.get(*id) {
                Some(Node::List(_)) => "list",
                Some(Node::Tuple(_)) => "tuple",
                Some(Node::Dict(_)) => "dict",
                Some(Node::Set(_)) => "set",
                Some(Node::FrozenSet(_)) => "frozenset",
                None => "container of another pickle",
            },
        }
    }
}

/// What a value's deserializer reads besides the value: the pickle (for spans) and the arena.
#[derive(Clone, Copy)]
struct Cx<'a> {
    input: &'a [u8],
    arena: &'a Arena,
}

impl<'a> Cx<'a> {
    /// The container `id` (an error, not a panic, for a value paired with another arena).
    fn node(&self, id: u32) -> Result<&'a Node, PickleError> {
        self.arena
            .get(id)
            .ok_or_else(|| PickleError::Value("a container that is not in this pickle".into()))
    }
}

/// A deserializer over one value of a checked arena.
#[derive(Clone, Copy)]
pub struct ValueDeserializer<'a> {
    cx: Cx<'a>,
    value: &'a Value,
}

impl<'a> ValueDeserializer<'a> {
    /// A deserializer for `value`, read from the pickle `input`, whose containers are in `arena`
    /// (which must have passed [`Arena::check`] for `value`).
    pub fn new(input: &'a [u8], arena: &'a Arena, value: &'a Value) -> Self {
        ValueDeserializer {
            cx: Cx { input, arena },
            value,
        }
    }

    fn at(cx: Cx<'a>, value: &'a Value) -> Self {
        ValueDeserializer { cx, value }
    }

    fn invalid(&self, exp: &dyn de::Expected) -> PickleError {
        de::Error::invalid_type(
            de::Unexpected::Other(&format!("Python {}", self.value.kind(self.cx.arena))),
            exp,
        )
    }
}

type Res<T> = Result<T, PickleError>;

struct SeqAccess<'a> {
    cx: Cx<'a>,
    items: std::slice::Iter<'a, Value>,
}

impl<'de, 'a> de::SeqAccess<'de> for SeqAccess<'a> {
    type Error = PickleError;
    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Res<Option<T::Value>> {
        match self.items.next() {
            None => Ok(None),
            Some(v) => seed
                .deserialize(ValueDeserializer::at(self.cx, v))
                .map(Some),
        }
    }
    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len())
    }
}

struct MapAccess<'a> {
    cx: Cx<'a>,
    entries: std::slice::Iter<'a, (Value, Value)>,
    pending: Option<&'a Value>,
}

impl<'de, 'a> de::MapAccess<'de> for MapAccess<'a> {
    type Error = PickleError;
    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Res<Option<K::Value>> {
        match self.entries.next() {
            None => Ok(None),
            Some((k, v)) => {
                self.pending = Some(v);
                seed.deserialize(KeyDeserializer(ValueDeserializer::at(self.cx, k)))
                    .map(Some)
            }
        }
    }
    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Res<V::Value> {
        let v = self
            .pending
            .take()
            .ok_or_else(|| PickleError::Value("map value asked before its key".into()))?;
        seed.deserialize(ValueDeserializer::at(self.cx, v))
    }
    fn size_hint(&self) -> Option<usize> {
        Some(self.entries.len())
    }
}

impl<'de, 'a> de::Deserializer<'de> for ValueDeserializer<'a> {
    type Error = PickleError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Res<V::Value> {
        match self.value {
            Value::None => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(*b),
            Value::Int(i) => {
                if let Ok(v) = i64::try_from(*i) {
                    visitor.visit_i64(v)
                } else if let Ok(v) = u64::try_from(*i) {
                    visitor.visit_u64(v)
                } else {
                    visitor.visit_string(i.to_string())
                }
            }
            Value::BigInt(b) => visitor.visit_string(b.to_decimal()?),
            Value::Float(f) => visitor.visit_f64(*f),
            Value::Str(s) => visitor.visit_str(s.get(self.cx.input)?),
            Value::Bytes(b) => visitor.visit_bytes(b.get(self.cx.input)?),
            Value::DateTime(dt) => visitor.visit_string(dt.to_string()),
            Value::Global(_) => Err(self.invalid(&visitor)),
            Value::Node(id) => match self.cx.node(*id)? {
                Node::List(v) | Node::Tuple(v) | Node::Set(v) | Node::FrozenSet(v) => visitor
                    .visit_seq(SeqAccess {
                        cx: self.cx,
                        items: v.iter(),
                    }),
                Node::Dict(entries) => visitor.visit_map(MapAccess {
                    cx: self.cx,
                    entries: entries.iter(),
                    pending: None,
                }),
            },
        }
    }

    fn deserialize_i128<V: Visitor<'de>>(self, visitor: V) -> Res<V::Value> {
        match self.value {
            Value::Int(i) => visitor.visit_i128(*i),
            _ => self.deserialize_any(visitor),
        }
    }

    fn deserialize_u128<V: Visitor<'de>>(self, visitor: V) -> Res<V::Value> {
        match self.value {
            Value::Int(i) => match u128::try_from(*i) {
                Ok(u) => visitor.visit_u128(u),
                Err(_) => visitor.visit_i128(*i),
            },
            Value::BigInt(b) => match b.to_u128() {
                Some(u) => visitor.visit_u128(u),
                None => self.deserialize_any(visitor),
            },
            _ => self.deserialize_any(visitor),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Res<V::Value> {
        match self.value {
            Value::None => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Res<V::Value> {
        match self.value {
            Value::None => visitor.visit_unit(),
            _ => Err(self.invalid(&visitor)),
        }
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Res<V::Value> {
        self.deserialize_unit(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Res<V::Value> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Res<V::Value> {
        match self.value {
            // `Vec<u8>` asks for a sequence; Python bytes hand out their byte values.
            Value::Bytes(b) => {
                let b = b.get(self.cx.input)?;
                visitor.visit_seq(de::value::SeqDeserializer::new(b.iter().copied()))
            }
            _ => self.deserialize_any(visitor),
        }
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Res<V::Value> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Res<V::Value> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Res<V::Value> {
        match self.value {
            Value::Str(s) => visitor.visit_enum(s.get(self.cx.input)?.into_deserializer()),
            Value::Node(id) => match self.cx.node(*id)? {
                Node::Dict(entries) if entries.len() == 1 => visitor.visit_enum(EnumAccess {
                    cx: self.cx,
                    variant: &entries[0].0,
                    content: &entries[0].1,
                }),
                _ => Err(self.invalid(&visitor)),
            },
            _ => Err(self.invalid(&visitor)),
        }
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Res<V::Value> {
        visitor.visit_unit()
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 u8 u16 u32 u64 f32 f64 char str string bytes byte_buf
        map struct identifier
    }
}

/// Map keys: as values, except that integer keys also read as text (for targets such as
/// `serde_json::Value` whose keys are strings) and text keys also read as integers.
struct KeyDeserializer<'a>(ValueDeserializer<'a>);

macro_rules! key_int {
    ($($method:ident => $visit:ident: $t:ty),*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Res<V::Value> {
            if let Value::Str(s) = self.0.value {
                if let Ok(v) = s.get(self.0.cx.input)?.parse::<$t>() {
                    return visitor.$visit(v);
                }
            }
            de::Deserializer::$method(self.0, visitor)
        }
    )*};
}

impl<'de, 'a> de::Deserializer<'de> for KeyDeserializer<'a> {
    type Error = PickleError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Res<V::Value> {
        self.0.deserialize_any(visitor)
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Res<V::Value> {
        match self.0.value {
            Value::Int(i) => visitor.visit_string(i.to_string()),
            Value::BigInt(b) => visitor.visit_string(b.to_decimal()?),
            _ => self.0.deserialize_any(visitor),
        }
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Res<V::Value> {
        self.deserialize_str(visitor)
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Res<V::Value> {
        self.deserialize_str(visitor)
    }

    key_int! {
        deserialize_i8 => visit_i8: i8, deserialize_i16 => visit_i16: i16,
        deserialize_i32 => visit_i32: i32, deserialize_i64 => visit_i64: i64,
        deserialize_u8 => visit_u8: u8, deserialize_u16 => visit_u16: u16,
        deserialize_u32 => visit_u32: u32, deserialize_u64 => visit_u64: u64,
        deserialize_i128 => visit_i128: i128, deserialize_u128 => visit_u128: u128
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Res<V::Value> {
        self.0.deserialize_option(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Res<V::Value> {
        self.0.deserialize_newtype_struct(name, visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Res<V::Value> {
        self.0.deserialize_enum(name, variants, visitor)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Res<V::Value> {
        self.0.deserialize_seq(visitor)
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, len: usize, visitor: V) -> Res<V::Value> {
        self.0.deserialize_tuple(len, visitor)
    }

    serde::forward_to_deserialize_any! {
        bool f32 f64 char bytes byte_buf unit unit_struct map struct tuple_struct ignored_any
    }
}

struct EnumAccess<'a> {
    cx: Cx<'a>,
    variant: &'a Value,
    content: &'a Value,
}

impl<'de, 'a> de::EnumAccess<'de> for EnumAccess<'a> {
    type Error = PickleError;
    type Variant = ValueDeserializer<'a>;
    fn variant_seed<V: DeserializeSeed<'de>>(self, seed: V) -> Res<(V::Value, Self::Variant)> {
        let v = seed.deserialize(KeyDeserializer(ValueDeserializer::at(
            self.cx,
            self.variant,
        )))?;
        Ok((v, ValueDeserializer::at(self.cx, self.content)))
    }
}

impl<'de, 'a> de::VariantAccess<'de> for ValueDeserializer<'a> {
    type Error = PickleError;
    fn unit_variant(self) -> Res<()> {
        de::Deserialize::deserialize(self)
    }
    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Res<T::Value> {
        seed.deserialize(self)
    }
    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Res<V::Value> {
        de::Deserializer::deserialize_seq(self, visitor)
    }
    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Res<V::Value> {
        de::Deserializer::deserialize_any(self, visitor)
    }
}

impl fmt::Display for Global {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Global::Set => "builtins.set",
            Global::FrozenSet => "builtins.frozenset",
            Global::Bytes => "builtins.bytes",
            Global::ByteArray => "builtins.bytearray",
            Global::CodecsEncode => "_codecs.encode",
            Global::DateTime => "datetime.datetime",
        })
    }
}
