//! The errors of the Redis store.

use std::io;
use std::time::Duration;

/// What went wrong talking to Redis.
///
/// A [`Bucket`](bucketcache_core::Bucket) reports a store failure as
/// [`bucketcache_core::Error::Io`], whose `source` is an [`io::Error`] of the kind
/// [`kind`](Self::kind) wrapping this error: match the kind, or find this type with
/// [`RedisStoreError::find`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RedisStoreError {
    /// The URL or the store options are not valid.
    #[error("invalid Redis store configuration: {0}")]
    Config(String),
    /// The server could not be reached: connection refused or dropped, host unreachable, TLS or
    /// authentication failure.
    #[error("Redis at {url} is unavailable: {source}")]
    Unavailable {
        /// The server's URL, without credentials.
        url: String,
        /// What the client said.
        #[source]
        source: redis::RedisError,
    },
    /// The last attempt to connect failed moments ago: this call was not tried (see
    /// `reconnect_backoff_ms`).
    #[error("Redis at {url} is unavailable (a connection attempt {ago_ms} ms ago failed: {reason}); the next attempt is in {retry_in_ms} ms")]
    Backoff {
        /// The server's URL, without credentials.
        url: String,
        /// How long ago the last attempt failed.
        ago_ms: u64,
        /// Why it failed.
        reason: String,
        /// When the next attempt will be made.
        retry_in_ms: u64,
    },
    /// No answer within the timeout.
    #[error("Redis at {url} did not answer within {timeout:?}")]
    Timeout {
        /// The server's URL, without credentials.
        url: String,
        /// The timeout that passed.
        timeout: Duration,
        /// What the client said.
        #[source]
        source: redis::RedisError,
    },
    /// The server refused a command (out of memory, no permission, a read-only replica, …).
    #[error("Redis at {url} refused {command}: {source}")]
    Refused {
        /// The server's URL, without credentials.
        url: String,
        /// The command.
        command: &'static str,
        /// What the server said.
        #[source]
        source: redis::RedisError,
    },
    /// A value larger than the server accepts (its `proto-max-bulk-len`, 512 MB by default).
    #[error(
        "a value of {size} bytes is over the {limit} bytes Redis accepts (proto-max-bulk-len)"
    )]
    TooLarge {
        /// The value's size.
        size: u64,
        /// The server's limit.
        limit: u64,
    },
}

impl RedisStoreError {
    /// The kind of the [`io::Error`] this error travels in: `InvalidInput` for a configuration
    /// or a value too large, `TimedOut`, `ConnectionRefused` when the server refused the
    /// connection, `NotConnected` when it is otherwise unreachable, `Other` for a refused
    /// command.
    pub fn kind(&self) -> io::ErrorKind {
        match self {
            RedisStoreError::Config(_) | RedisStoreError::TooLarge { .. } => {
                io::ErrorKind::InvalidInput
            }
            RedisStoreError::Timeout { .. } => io::ErrorKind::TimedOut,
            RedisStoreError::Unavailable { source, .. } if source.is_connection_refusal() => {
                io::ErrorKind::ConnectionRefused
            }
            RedisStoreError::Unavailable { .. } | RedisStoreError::Backoff { .. } => {
                io::ErrorKind::NotConnected
            }
            RedisStoreError::Refused { .. } => io::ErrorKind::Other,
        }
    }

    /// Whether the server could not be reached or did not answer (as opposed to a refusal or a
    /// bad value): what `fail_open` turns into a miss.
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            RedisStoreError::Unavailable { .. }
                | RedisStoreError::Backoff { .. }
                | RedisStoreError::Timeout { .. }
        )
    }

    /// This error, if it is anywhere in `error`'s chain of sources (e.g. in a
    /// `bucketcache::Error` returned by `Bucket::set`).
    ///
    /// ```
    /// use bucketcache_redis::RedisStoreError;
    /// let io: std::io::Error = RedisStoreError::TooLarge { size: 2, limit: 1 }.into();
    /// let e = bucketcache_core::Error::Io { path: "ns/k.json".into(), source: io };
    /// assert!(matches!(RedisStoreError::find(&e), Some(RedisStoreError::TooLarge { .. })));
    /// ```
    pub fn find<'a>(error: &'a (dyn std::error::Error + 'static)) -> Option<&'a RedisStoreError> {
        let mut current = Some(error);
        while let Some(e) = current {
            if let Some(found) = e.downcast_ref::<RedisStoreError>() {
                return Some(found);
            }
            if let Some(found) = e
                .downcast_ref::<io::Error>()
                .and_then(|io| io.get_ref())
                .and_then(|inner| inner.downcast_ref::<RedisStoreError>())
            {
                return Some(found);
            }
            current = e.source();
        }
        None
    }
}

impl From<RedisStoreError> for io::Error {
    fn from(e: RedisStoreError) -> io::Error {
        io::Error::new(e.kind(), e)
    }
}
