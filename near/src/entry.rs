//! What the memory layer and the bucket share: a live entry.

use std::sync::atomic::AtomicU64;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bucketcache_traits::backend::ValueLocation;
use bucketcache_traits::Expiration;

/// A live entry: its encoded bytes (exactly what the store holds), its expiration and where
/// its value is.
///
/// The in-memory layer holds the encoded envelope rather than a decoded value: it mirrors the
/// store, it is decoded into whatever type the reader asks for, and a write that fails to encode
/// never touches it. Shared (`Arc`): a memory hit clones one pointer.
#[derive(Debug)]
pub struct Stored {
    /// The encoded envelope, exactly as the store holds it.
    pub bytes: Vec<u8>,
    /// When the entry expires (`None`: never).
    pub expiration: Option<Expiration>,
    /// Where the value is: known from the decode of a read, from the backend's `dump` of a
    /// write, or — for backends that do not say — decoded once on the first read from memory.
    pub value: OnceLock<ValueLocation>,
    /// When this process last wrote, read or touched the entry's file (seconds since the
    /// epoch; 0: unknown): a bucket with a disk budget touches the file again on a memory hit
    /// at most once a second.
    pub touched: AtomicU64,
    /// How old these bytes were when read (a near cache's copy is older than its read): the
    /// in-memory layer's maximum age counts from when the store last had them.
    pub age: Duration,
}

/// A shared live entry: a memory hit clones this pointer.
pub type Entry = Arc<Stored>;
