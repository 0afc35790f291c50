//! The errors of the Redis store.

use std::io;
use std::time::Duration;

use bucketcache_traits::store::{StoreError, StoreErrorKind};

/// What went wrong talking to Redis.
///
/// A `Bucket` reports a store failure as
/// [`bucketcache_traits::Error::Io`], whose `source` is an [`io::Error`] of the kind
/// [`kind`](Self::kind) wrapping this error: match the kind, or find this type with
/// [`RedisStoreError::find`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RedisStoreError {
    /// The URL or the store options are not valid.
    #[error("invalid Redis store configuration: {0}")]
    Config(String),
    /// The server could not be reached: connection refused or dropped, host unreachable, TLS or
    /// authentication failure. Nothing was done.
    #[error("Redis at {url} is unavailable{}: {source}", on(.key))]
    Unavailable {
        /// The server's URL, without credentials.
        url: String,
        /// The Redis key the call was about, if one.
        key: Option<String>,
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
    /// No answer within the timeout to a command that only reads (or to connecting).
    #[error("Redis at {url} did not answer within {timeout:?}{}", on(.key))]
    Timeout {
        /// The server's URL, without credentials.
        url: String,
        /// The Redis key the call was about, if one.
        key: Option<String>,
        /// The timeout that passed.
        timeout: Duration,
        /// What the client said.
        #[source]
        source: redis::RedisError,
    },
    /// A command that changes data (`SET`, `DEL`, …) was sent but not answered: it timed out or
    /// the connection broke after sending. The server may or may not have applied it. After a
    /// `set`, the key holds the new value or what it held before (never a mix); read it again
    /// to know.
    #[error("Redis at {url} did not confirm {command}{}: outcome unknown (it may or may not have been applied): {source}", on(.key))]
    OutcomeUnknown {
        /// The server's URL, without credentials.
        url: String,
        /// The command.
        command: &'static str,
        /// The Redis key it changes, if one.
        key: Option<String>,
        /// Whether the command timed out (else the connection broke).
        timed_out: bool,
        /// What the client said.
        #[source]
        source: redis::RedisError,
    },
    /// The server refused a command (out of memory, no permission, a read-only replica, …).
    #[error("Redis at {url} refused {command}{}: {source}", on(.key))]
    Refused {
        /// The server's URL, without credentials.
        url: String,
        /// The command.
        command: &'static str,
        /// The Redis key the command was about, if one.
        key: Option<String>,
        /// What the server said.
        #[source]
        source: redis::RedisError,
    },
    /// A value larger than the server accepts (its `proto-max-bulk-len`, 512 MB by default).
    /// Nothing was written.
    #[error("a value of {size} bytes for key {key} is too large for this server (limit {limit} bytes, its proto-max-bulk-len, at {url})")]
    TooLarge {
        /// The value's size.
        size: u64,
        /// The server's limit.
        limit: u64,
        /// The server's URL, without credentials.
        url: String,
        /// The Redis key.
        key: String,
    },
}

impl RedisStoreError {
    /// A call to the server at `url` failed with `e`, which left no answer within `timeout`:
    /// the server did not answer, or is unavailable.
    pub(crate) fn fault(
        url: &str,
        e: redis::RedisError,
        timeout: std::time::Duration,
        key: Option<String>,
    ) -> RedisStoreError {
        if e.is_timeout() {
            RedisStoreError::Timeout {
                url: url.to_owned(),
                key,
                timeout,
                source: e,
            }
        } else {
            RedisStoreError::Unavailable {
                url: url.to_owned(),
                key,
                source: e,
            }
        }
    }

    /// `call` broke its connection with `e` (a timeout, a cut): a change's outcome is unknown;
    /// anything else is a [`fault`](Self::fault).
    pub(crate) fn broken(
        url: &str,
        call: crate::pool::Call<'_>,
        e: redis::RedisError,
        timeout: std::time::Duration,
    ) -> RedisStoreError {
        let key = call.key.map(str::to_owned);
        if call.writes {
            return RedisStoreError::OutcomeUnknown {
                url: url.to_owned(),
                command: call.command,
                key,
                timed_out: e.is_timeout(),
                source: e,
            };
        }
        RedisStoreError::fault(url, e, timeout, key)
    }

    /// The server refused `call` with `e`.
    pub(crate) fn refused(url: &str, call: crate::pool::Call<'_>, e: redis::RedisError) -> Self {
        RedisStoreError::Refused {
            url: url.to_owned(),
            command: call.command,
            key: call.key.map(str::to_owned),
            source: e,
        }
    }
}

/// ` on key K`, or nothing.
fn on(key: &Option<String>) -> String {
    key.as_ref()
        .map(|k| format!(" on key {k}"))
        .unwrap_or_default()
}

impl RedisStoreError {
    /// The kind of the [`io::Error`] this error travels in: `InvalidInput` for a configuration
    /// or a value too large, `TimedOut` (also an unknown outcome that timed out),
    /// `ConnectionRefused` when the server refused the connection, `NotConnected` when it is
    /// otherwise unreachable (or broke after a change was sent), `Other` for a refused command.
    pub fn kind(&self) -> io::ErrorKind {
        match self {
            RedisStoreError::Config(_) | RedisStoreError::TooLarge { .. } => {
                io::ErrorKind::InvalidInput
            }
            RedisStoreError::Timeout { .. }
            | RedisStoreError::OutcomeUnknown {
                timed_out: true, ..
            } => io::ErrorKind::TimedOut,
            RedisStoreError::OutcomeUnknown { .. } => io::ErrorKind::NotConnected,
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
                | RedisStoreError::OutcomeUnknown { .. }
        )
    }

    /// Whether a change was sent and may or may not have been applied
    /// ([`OutcomeUnknown`](Self::OutcomeUnknown)).
    pub fn is_outcome_unknown(&self) -> bool {
        matches!(self, RedisStoreError::OutcomeUnknown { .. })
    }

    /// This error, if it is anywhere in `error`'s chain of sources (e.g. in a
    /// `bucketcache::Error` returned by `Bucket::set`).
    ///
    /// ```
    /// use bucketcache_redis::RedisStoreError;
    /// let too_large = RedisStoreError::TooLarge {
    ///     size: 2,
    ///     limit: 1,
    ///     url: "redis://127.0.0.1:6379/0".into(),
    ///     key: "ns:k.json".into(),
    /// };
    /// assert!(too_large.to_string().contains("too large for this server (limit 1 bytes"));
    /// let io: std::io::Error = too_large.into();
    /// let e = bucketcache_core::Error::Io { path: "ns/k.json".into(), source: io };
    /// assert!(matches!(RedisStoreError::find(&e), Some(RedisStoreError::TooLarge { .. })));
    /// ```
    pub fn find<'a>(error: &'a (dyn std::error::Error + 'static)) -> Option<&'a RedisStoreError> {
        let mut current = Some(error);
        while let Some(e) = current {
            if let Some(found) = e.downcast_ref::<RedisStoreError>() {
                return Some(found);
            }
            let inner = e.downcast_ref::<io::Error>().and_then(|io| io.get_ref());
            if let Some(found) = inner.and_then(|i| i.downcast_ref::<RedisStoreError>()) {
                return Some(found);
            }
            // Inside the StoreError that carries its kind.
            let typed = inner.and_then(|i| i.downcast_ref::<StoreError>());
            if let Some(found) = typed
                .and_then(|t| std::error::Error::source(t))
                .and_then(|s| s.downcast_ref::<RedisStoreError>())
            {
                return Some(found);
            }
            current = e.source();
        }
        None
    }
}

impl RedisStoreError {
    /// The kind of store failure this is ([`StoreErrorKind`]), which callers of a bucket
    /// branch on with `Error::store_error_kind`.
    pub fn store_error_kind(&self) -> StoreErrorKind {
        match self {
            RedisStoreError::Config(_) | RedisStoreError::Refused { .. } => StoreErrorKind::Invalid,
            RedisStoreError::TooLarge { .. } => StoreErrorKind::TooLarge,
            RedisStoreError::Timeout { .. } => StoreErrorKind::TimedOut,
            RedisStoreError::OutcomeUnknown { .. } => StoreErrorKind::OutcomeUnknown,
            RedisStoreError::Unavailable { .. } | RedisStoreError::Backoff { .. } => {
                StoreErrorKind::Unavailable
            }
        }
    }
}

impl From<RedisStoreError> for io::Error {
    /// An `io::Error` of [`RedisStoreError::kind`] around a [`StoreError`] of
    /// [`RedisStoreError::store_error_kind`] around this error.
    fn from(e: RedisStoreError) -> io::Error {
        let kind = e.kind();
        io::Error::new(kind, StoreError::new(e.store_error_kind(), e))
    }
}
