//! What the memory layer and the bucket share: a live entry.

use std::sync::atomic::AtomicU64;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use crate::backend::ValueLocation;
use crate::time::Expiration;

/// A live entry: its encoded bytes (exactly what the store holds), its expiration and where
/// its value is.
///
/// The in-memory layer holds the encoded envelope rather than a decoded value: it mirrors the
/// store, it is decoded into whatever type the reader asks for, and a write that fails to encode
/// never touches it. Shared (`Arc`): a memory hit clones one pointer.
#[derive(Debug)]
pub(crate) struct Stored {
    pub(crate) bytes: Vec<u8>,
    pub(crate) expiration: Option<Expiration>,
    /// Where the value is: known from the decode of a read, from the backend's `dump` of a
    /// write, or — for backends that do not say — decoded once on the first read from memory.
    pub(crate) value: OnceLock<ValueLocation>,
    /// When this process last wrote, read or touched the entry's file (seconds since the
    /// epoch; 0: unknown): a bucket with a disk budget touches the file again on a memory hit
    /// at most once a second.
    pub(crate) touched: AtomicU64,
    /// How old these bytes were when read (a near cache's copy is older than its read): the
    /// in-memory layer's maximum age counts from when the store last had them.
    pub(crate) age: Duration,
}

pub(crate) type Entry = Arc<Stored>;
