//! Native async reads and writes (feature `async`): what `AsyncBucket` uses for `get` and
//! `set` on a Redis store, on the caller's task — a multiplexed connection of the `redis`
//! crate (many concurrent commands on one socket), no thread per call and no blocking-pool hop.
//!
//! The connection is opened by the first async call, on the tokio runtime running it (its
//! driver is a task of that runtime), and replaced when it breaks — also when that runtime has
//! gone. Commands are bounded by the store's connect and command timeouts. Everything else
//! (locks, removals, `SCAN`) goes through the blocking pool, as before.

use std::io;
use std::sync::atomic::Ordering;
use std::sync::{Mutex, PoisonError};
use std::time::SystemTime;

use bucketcache_traits::store::{AsyncStoreOps, BoxFuture, Fetched};
use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, FromRedisValue, RedisError};

use crate::error::RedisStoreError;
use crate::pool::{Call, Timeouts};
use crate::{unix_millis_rounded_up, RedisStore};

/// The store's async connection.
pub(crate) struct Native {
    client: redis::Client,
    url: String,
    timeouts: Timeouts,
    connection: Mutex<Option<MultiplexedConnection>>,
}

impl Native {
    pub(crate) fn new(client: redis::Client, url: String, timeouts: Timeouts) -> Native {
        Native {
            client,
            url,
            timeouts,
            connection: Mutex::new(None),
        }
    }

    async fn connect(&self) -> Result<MultiplexedConnection, RedisStoreError> {
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(self.timeouts.connect))
            .set_response_timeout(Some(self.timeouts.command));
        match self
            .client
            .get_multiplexed_async_connection_with_config(&config)
            .await
        {
            Ok(con) => {
                *self
                    .connection
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner) = Some(con.clone());
                Ok(con)
            }
            Err(e) => Err(RedisStoreError::fault(
                &self.url,
                e,
                self.timeouts.connect,
                None,
            )),
        }
    }

    /// Runs `cmd`; a connection that broke (a server restart, the runtime that drove it gone)
    /// is replaced and the command sent once more — every command here may be repeated.
    async fn query<T: FromRedisValue>(
        &self,
        call: Call<'_>,
        cmd: &redis::Cmd,
    ) -> Result<T, RedisStoreError> {
        let cached = self
            .connection
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let (mut con, mut fresh) = match cached {
            Some(con) => (con, false),
            None => (self.connect().await?, true),
        };
        loop {
            match cmd.query_async::<T>(&mut con).await {
                Ok(value) => return Ok(value),
                Err(e) if breaks(&e) => {
                    self.connection
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .take();
                    if !fresh && !e.is_timeout() {
                        tracing::debug!(url = %self.url, error = %e, "an async Redis connection failed: reconnecting");
                        con = self.connect().await?;
                        fresh = true;
                        continue;
                    }
                    return Err(RedisStoreError::broken(
                        &self.url,
                        call,
                        e,
                        self.timeouts.command,
                    ));
                }
                Err(e) => return Err(RedisStoreError::refused(&self.url, call, e)),
            }
        }
    }
}

/// Whether `e` broke the connection (as opposed to the server refusing one command).
fn breaks(e: &RedisError) -> bool {
    e.is_io_error() || e.is_timeout() || e.is_unrecoverable_error() || e.is_connection_dropped()
}

impl AsyncStoreOps for RedisStore {
    fn read_async<'a>(
        &'a self,
        name: &'a str,
        max_bytes: u64,
    ) -> BoxFuture<'a, io::Result<Fetched>> {
        Box::pin(async move {
            let key = self.key_of(name);
            let mut cmd = redis::cmd("GET");
            cmd.arg(&key);
            let bytes = match self
                .native
                .query::<Option<Vec<u8>>>(Call::read("GET", Some(&key)), &cmd)
                .await
            {
                Ok(Some(bytes)) => bytes,
                Ok(None) => return Ok(Fetched::Missing),
                Err(RedisStoreError::Refused { source, .. })
                    if source.code() == Some("WRONGTYPE") =>
                {
                    // A key of another type: what it is, as the blocking read says it.
                    let mut cmd = redis::cmd("TYPE");
                    cmd.arg(&key);
                    let type_name = self
                        .native
                        .query::<String>(Call::read("TYPE", Some(&key)), &cmd)
                        .await?;
                    return Ok(Fetched::NotAFile(crate::kind_of_type(&type_name)));
                }
                Err(e) => return Err(e.into()),
            };
            if bytes.len() as u64 > max_bytes {
                return Ok(Fetched::TooLarge(bytes.len() as u64));
            }
            Ok(Fetched::Bytes(bytes))
        })
    }

    fn write_expiring_async<'a>(
        &'a self,
        name: &'a str,
        bytes: &'a [u8],
        expires: Option<SystemTime>,
    ) -> BoxFuture<'a, io::Result<()>> {
        Box::pin(async move {
            if !self.limit_known.load(Ordering::Relaxed) {
                self.learn_limit_async().await;
            }
            let limit = self.max_value_bytes.load(Ordering::Relaxed);
            let key = self.key_of(name);
            if bytes.len() as u64 > limit {
                return Err(RedisStoreError::TooLarge {
                    size: bytes.len() as u64,
                    limit,
                    url: self.native.url.clone(),
                    key,
                }
                .into());
            }
            let mut cmd = redis::cmd("SET");
            cmd.arg(&key).arg(bytes);
            if let Some(at) = expires {
                cmd.arg("PXAT").arg(unix_millis_rounded_up(at));
            }
            Ok(self
                .native
                .query::<()>(Call::write("SET", &key), &cmd)
                .await?)
        })
    }

    fn usable_here(&self) -> bool {
        tokio::runtime::Handle::try_current().is_ok()
    }
}

impl RedisStore {
    /// [`learn_limit`](Self::learn_limit), async.
    async fn learn_limit_async(&self) {
        let mut cmd = redis::cmd("CONFIG");
        cmd.arg("GET").arg("proto-max-bulk-len");
        match self
            .native
            .query::<std::collections::HashMap<String, String>>(
                Call::read("CONFIG GET", None),
                &cmd,
            )
            .await
        {
            Ok(config) => {
                if let Some(limit) = config
                    .get("proto-max-bulk-len")
                    .and_then(|v| v.parse::<u64>().ok())
                {
                    self.max_value_bytes.store(limit, Ordering::Relaxed);
                }
                self.limit_known.store(true, Ordering::Relaxed);
            }
            Err(RedisStoreError::Refused { .. }) => self.limit_known.store(true, Ordering::Relaxed),
            Err(_) => {} // unreachable: the write that follows says so
        }
    }
}
