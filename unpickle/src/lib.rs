//! A safe unpickler for the built-in Python types, and the decoded value as a serde
//! `Deserializer`.
//!
//! It reads protocols 0 to 5 (Python 2's files too) for None, bool, int of any size, float, str,
//! bytes, bytearray, list, tuple, dict, set, frozenset and naive `datetime.datetime`. It never
//! imports or calls anything: any other global, and every opcode that builds arbitrary objects,
//! is an error. Hostile input is bounded in time and memory and never panics (see [`read`]).
//!
//! This is the reading half of the `pickle` backend (`bucketcache-pickle`), in a crate of its own
//! so that `bucketcache-traits` can deserialize a decoded pickle into the caller's type without
//! type erasure ([`Unpickled::deserialize`]), as it does for MessagePack and JSON spans.
//!
//! ```
//! use bucketcache_unpickle::{read, Value};
//! // pickle.dumps((1, 'a'), 2)
//! let pickle = b"\x80\x02K\x01X\x01\x00\x00\x00aq\x00\x86q\x01.";
//! let decoded = read(pickle).unwrap();
//! let value = decoded.root.clone();
//! let unpickled = decoded.select(value).unwrap();
//! // A str is a span of the pickle, which the value is read with.
//! let back: (u8, String) = unpickled.deserialize(pickle).unwrap();
//! assert_eq!(back, (1, "a".to_string()));
//! assert!(read(b"cos\nsystem\n(S'echo hi'\ntR.").is_err());
//! ```
#![warn(missing_docs)]

mod bigint;
mod datetime;
mod error;
// Each constant is named as in CPython's `pickletools`, which documents it.
#[allow(missing_docs)]
pub mod opcodes;
mod reader;
mod value;

use serde::de::DeserializeOwned;

pub use bigint::BigInt;
pub use datetime::{PyDateTime, STATE_LEN};
pub use error::PickleError;
pub use reader::{read, Decoded, MAX_DEPTH, MAX_LONG_BYTES, MAX_MEMO};
pub use value::{Arena, Blob, Global, Limits, Node, Span, Text, Value, ValueDeserializer};

/// One value of a decoded pickle, with the containers it refers to: what a cache entry's value
/// is once read, deserialized as often as asked. Its strs and bytes are spans of the pickle,
/// which it does not own: each deserialization is given the pickle it was read from.
///
/// ```
/// use std::collections::BTreeMap;
/// // pickle.dumps({'a': [1, 2]}, 2)
/// let pickle = b"\x80\x02}q\x00X\x01\x00\x00\x00aq\x01]q\x02(K\x01K\x02es.";
/// let decoded = bucketcache_unpickle::read(pickle).unwrap();
/// let root = decoded.root.clone();
/// let unpickled = decoded.select(root).unwrap();
/// let map: BTreeMap<String, Vec<u8>> = unpickled.deserialize(pickle).unwrap();
/// assert_eq!(map["a"], [1, 2]);
/// assert!(unpickled.deserialize::<String>(pickle).is_err(), "a dict is not a str");
/// ```
#[derive(Debug)]
pub struct Unpickled {
    arena: Arena,
    value: Value,
}

impl Decoded {
    /// Keeps `value`, which must be [`root`](Decoded::root) or a value found inside it (a
    /// container refers to this pickle's arena). A container that is not in the arena is
    /// refused.
    pub fn select(self, value: Value) -> Result<Unpickled, PickleError> {
        if let Value::Node(id) = value {
            if self.arena.get(id).is_none() {
                return Err(PickleError::Decode(
                    "the selected value is not in this pickle".into(),
                ));
            }
        }
        Ok(Unpickled {
            arena: self.arena,
            value,
        })
    }
}

impl Unpickled {
    /// Deserializes the value into `T` (an error if it does not fit `T`); `input` is the pickle
    /// it was read from. Given other bytes, a str or bytes may come out wrong or be an error,
    /// never a panic.
    pub fn deserialize<T: DeserializeOwned>(&self, input: &[u8]) -> Result<T, PickleError> {
        T::deserialize(ValueDeserializer::new(input, &self.arena, &self.value))
    }

    /// The value, as a deserializer (for a caller that holds a seed or an erased deserializer);
    /// `input` is the pickle it was read from.
    pub fn deserializer<'a>(&'a self, input: &'a [u8]) -> ValueDeserializer<'a> {
        ValueDeserializer::new(input, &self.arena, &self.value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `pickle.dumps(('ab', b'cd'), 3)`.
    const STR_AND_BYTES: &[u8] = b"\x80\x03X\x02\x00\x00\x00abq\x00C\x02cdq\x01\x86q\x02.";

    fn whole(input: &[u8]) -> Unpickled {
        let decoded = read(input).unwrap();
        let root = decoded.root.clone();
        decoded.select(root).unwrap()
    }

    #[test]
    fn strs_and_bytes_are_read_as_spans_of_the_pickle() {
        let decoded = read(STR_AND_BYTES).unwrap();
        let Value::Node(id) = decoded.root else {
            panic!("not a tuple")
        };
        let Some(Node::Tuple(items)) = decoded.arena.get(id) else {
            panic!("not a tuple")
        };
        assert!(matches!(
            &items[0],
            Value::Str(Text::At(Span { start: 7, len: 2 }))
        ));
        assert!(matches!(
            &items[1],
            Value::Bytes(Blob::At(Span { start: 13, len: 2 }))
        ));
        let (s, b): (String, serde_bytes_like::Bytes) =
            whole(STR_AND_BYTES).deserialize(STR_AND_BYTES).unwrap();
        assert_eq!((s.as_str(), b.0.as_slice()), ("ab", &b"cd"[..]));
    }

    #[test]
    fn a_value_read_with_other_bytes_is_an_error_never_a_panic() {
        let unpickled = whole(STR_AND_BYTES);
        assert!(unpickled.deserialize::<(String, Vec<u8>)>(b"").is_err());
        let mut not_utf8 = STR_AND_BYTES.to_vec();
        not_utf8[7] = 0xff;
        assert!(unpickled
            .deserialize::<(String, Vec<u8>)>(&not_utf8)
            .is_err());
    }

    #[test]
    fn a_container_outside_the_pickle_cannot_be_selected() {
        assert!(read(b"\x80\x02N.").unwrap().select(Value::Node(7)).is_err());
        let decoded = read(b"\x80\x02N.").unwrap();
        // Paired by hand with an arena that does not hold it: an error, not a panic.
        let stray = Value::Node(7);
        let de = ValueDeserializer::new(b"", &decoded.arena, &stray);
        assert!(<Vec<u8> as serde::Deserialize>::deserialize(de).is_err());
        assert!(decoded.arena.check(&stray, Decoded::limits(0)).is_err());
    }

    /// `Vec<u8>` through `deserialize_bytes`, as `serde_bytes` would ask for it.
    mod serde_bytes_like {
        pub struct Bytes(pub Vec<u8>);
        impl<'de> serde::Deserialize<'de> for Bytes {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl serde::de::Visitor<'_> for V {
                    type Value = Bytes;
                    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                        f.write_str("bytes")
                    }
                    fn visit_bytes<E>(self, v: &[u8]) -> Result<Bytes, E> {
                        Ok(Bytes(v.to_vec()))
                    }
                }
                d.deserialize_bytes(V)
            }
        }
    }
}
