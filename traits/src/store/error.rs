//! Typed store errors: a [`StoreErrorKind`] callers branch on, carried across the seam inside
//! the store's `io::Error` (see [`StoreError`]).

use std::error::Error as StdError;
use std::fmt;
use std::io;

/// What kind of failure a store reported: what a caller may branch on (retry later, give up,
/// read again, raise a limit …). `#[non_exhaustive]`: new kinds may come.
///
/// ```
/// use bucketcache_traits::store::StoreErrorKind;
/// let down = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
/// assert_eq!(StoreErrorKind::of(&down), StoreErrorKind::Unavailable);
/// assert_eq!(StoreErrorKind::Unavailable.to_string(), "unavailable");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StoreErrorKind {
    /// The store cannot be reached (a server down, refused, unreachable): nothing was done.
    Unavailable,
    /// No answer within the timeout to an operation that changes nothing, or to connecting.
    TimedOut,
    /// A change was sent but not confirmed (a timeout or a broken connection after sending):
    /// it may or may not have been applied. Read again to know.
    OutcomeUnknown,
    /// The value is larger than the store accepts (an LMDB map, a Redis `proto-max-bulk-len`).
    TooLarge,
    /// What the operation needs does not exist (a directory, a database).
    NotFound,
    /// The store's own data is damaged (not an entry's bytes: those are misses).
    Corrupt,
    /// The store refused access (file permissions, a read-only store, an authentication).
    PermissionDenied,
    /// A lock of the store is held by someone else past the deadline.
    Locked,
    /// The store refused the request as not valid (a name, an option, a command).
    Invalid,
    /// Any other input/output failure.
    Io,
}

impl StoreErrorKind {
    /// The kind of a store's `io::Error`: the kind of the [`StoreError`] inside it when there
    /// is one, else read from its `io::ErrorKind` (only kinds stable in Rust 1.80).
    pub fn of(e: &io::Error) -> StoreErrorKind {
        if let Some(inner) = e.get_ref().and_then(|i| i.downcast_ref::<StoreError>()) {
            return inner.kind();
        }
        match e.kind() {
            io::ErrorKind::NotFound => StoreErrorKind::NotFound,
            io::ErrorKind::PermissionDenied => StoreErrorKind::PermissionDenied,
            io::ErrorKind::TimedOut => StoreErrorKind::TimedOut,
            io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::NotConnected => StoreErrorKind::Unavailable,
            io::ErrorKind::InvalidData | io::ErrorKind::UnexpectedEof => StoreErrorKind::Corrupt,
            io::ErrorKind::WouldBlock => StoreErrorKind::Locked,
            io::ErrorKind::InvalidInput => StoreErrorKind::Invalid,
            _ => StoreErrorKind::Io,
        }
    }

    /// The `io::ErrorKind` a [`StoreError`] of this kind travels as.
    pub fn io_kind(self) -> io::ErrorKind {
        match self {
            StoreErrorKind::Unavailable => io::ErrorKind::NotConnected,
            StoreErrorKind::TimedOut => io::ErrorKind::TimedOut,
            StoreErrorKind::OutcomeUnknown => io::ErrorKind::NotConnected,
            StoreErrorKind::TooLarge | StoreErrorKind::Invalid => io::ErrorKind::InvalidInput,
            StoreErrorKind::NotFound => io::ErrorKind::NotFound,
            StoreErrorKind::Corrupt => io::ErrorKind::InvalidData,
            StoreErrorKind::PermissionDenied => io::ErrorKind::PermissionDenied,
            StoreErrorKind::Locked => io::ErrorKind::WouldBlock,
            StoreErrorKind::Io => io::ErrorKind::Other,
        }
    }
}

impl fmt::Display for StoreErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            StoreErrorKind::Unavailable => "unavailable",
            StoreErrorKind::TimedOut => "timed out",
            StoreErrorKind::OutcomeUnknown => "outcome unknown",
            StoreErrorKind::TooLarge => "too large",
            StoreErrorKind::NotFound => "not found",
            StoreErrorKind::Corrupt => "corrupt",
            StoreErrorKind::PermissionDenied => "permission denied",
            StoreErrorKind::Locked => "locked",
            StoreErrorKind::Invalid => "invalid",
            StoreErrorKind::Io => "I/O error",
        })
    }
}

/// A store's failure with its [`StoreErrorKind`] and the store's own error as its source. A
/// store turns it into the `io::Error` its methods return (`io::Error::from`), and the kind
/// travels inside: [`StoreErrorKind::of`] (and `bucketcache::Error::store_error_kind`) find it.
///
/// ```
/// use bucketcache_traits::store::{StoreError, StoreErrorKind};
/// let e = StoreError::new(StoreErrorKind::TooLarge, "a value of 9 bytes, over the limit of 8");
/// let io: std::io::Error = e.into();
/// assert_eq!(StoreErrorKind::of(&io), StoreErrorKind::TooLarge);
/// assert_eq!(io.to_string(), "a value of 9 bytes, over the limit of 8");
/// ```
#[derive(Debug)]
pub struct StoreError {
    kind: StoreErrorKind,
    source: Box<dyn StdError + Send + Sync>,
}

impl StoreError {
    /// A failure of `kind`, caused by `source` (the store's own error, or a message).
    pub fn new(kind: StoreErrorKind, source: impl Into<Box<dyn StdError + Send + Sync>>) -> Self {
        StoreError {
            kind,
            source: source.into(),
        }
    }

    /// Its kind.
    pub fn kind(&self) -> StoreErrorKind {
        self.kind
    }
}

impl fmt::Display for StoreError {
    /// The store's own message.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.source, f)
    }
}

impl StdError for StoreError {
    /// The store's own error (so that a store's error type is found in the chain of sources).
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        Some(&*self.source)
    }
}

impl From<StoreError> for io::Error {
    fn from(e: StoreError) -> io::Error {
        io::Error::new(e.kind.io_kind(), e)
    }
}
