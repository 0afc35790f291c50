//! Connections to one server: reused, replaced when they break, bounded in time.
//!
//! The `redis` crate's synchronous connection does not reconnect by itself. Here a call takes an
//! idle connection (or opens one), runs, and gives it back; a connection that failed at the
//! transport level is dropped. A call that failed that way on a *reused* connection (the server
//! restarted since, or an idle connection was cut) is run once more on a fresh connection — every
//! command of the store may be repeated without harm. After a failed connection attempt, calls
//! fail at once for `reconnect_backoff` instead of each waiting for the connect timeout; the first
//! call after it tries again, so a server that comes back is used again within that time.

use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use redis::{Connection, ConnectionLike, RedisError, RedisResult};

use crate::error::RedisStoreError;

/// Idle connections kept for reuse (more are opened when more threads call at once).
const MAX_IDLE: usize = 16;

/// Timeouts of one server.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Timeouts {
    pub(crate) connect: Duration,
    pub(crate) command: Duration,
    pub(crate) reconnect_backoff: Duration,
}

/// What a call is, for its errors: the command, the key it is about, whether it changes data.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Call<'a> {
    pub(crate) command: &'static str,
    pub(crate) key: Option<&'a str>,
    /// A change (`SET`, `DEL`, …): a failure after it was sent leaves its outcome unknown.
    pub(crate) writes: bool,
}

impl<'a> Call<'a> {
    /// A command that only reads.
    pub(crate) fn read(command: &'static str, key: Option<&'a str>) -> Self {
        Call {
            command,
            key,
            writes: false,
        }
    }

    /// A command that changes `key`.
    pub(crate) fn write(command: &'static str, key: &'a str) -> Self {
        Call {
            command,
            key: Some(key),
            writes: true,
        }
    }
}

/// The last failed connection attempt.
#[derive(Debug)]
struct Down {
    at: Instant,
    reason: String,
}

pub(crate) struct Pool {
    client: redis::Client,
    /// The URL without credentials, for messages.
    url: String,
    timeouts: Timeouts,
    idle: Mutex<Vec<Connection>>,
    down: Mutex<Option<Down>>,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("url", &self.url)
            .field("timeouts", &self.timeouts)
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Whether `e` broke the connection (as opposed to the server refusing one command).
fn breaks_connection(e: &RedisError, con: &Connection) -> bool {
    e.is_io_error() || e.is_timeout() || e.is_unrecoverable_error() || !con.is_open()
}

impl Pool {
    pub(crate) fn new(client: redis::Client, url: String, timeouts: Timeouts) -> Pool {
        Pool {
            client,
            url,
            timeouts,
            idle: Mutex::new(Vec::new()),
            down: Mutex::new(None),
        }
    }

    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    /// Opens a connection with the timeouts set, unless the last attempt failed within the
    /// backoff.
    pub(crate) fn connect(&self) -> Result<Connection, RedisStoreError> {
        if let Some(down) = &*lock(&self.down) {
            let ago = down.at.elapsed();
            if ago < self.timeouts.reconnect_backoff {
                return Err(RedisStoreError::Backoff {
                    url: self.url.clone(),
                    ago_ms: ago.as_millis() as u64,
                    reason: down.reason.clone(),
                    retry_in_ms: (self.timeouts.reconnect_backoff - ago).as_millis() as u64,
                });
            }
        }
        let opened = self
            .client
            .get_connection_with_timeout(self.timeouts.connect)
            .and_then(|con| {
                con.set_read_timeout(Some(self.timeouts.command))?;
                con.set_write_timeout(Some(self.timeouts.command))?;
                Ok(con)
            });
        match opened {
            Ok(con) => {
                if lock(&self.down).take().is_some() {
                    tracing::info!(url = %self.url, "Redis is reachable again");
                }
                Ok(con)
            }
            Err(e) => {
                let error = RedisStoreError::fault(&self.url, e, self.timeouts.connect, None);
                tracing::debug!(url = %self.url, error = %error, "cannot connect to Redis");
                *lock(&self.down) = Some(Down {
                    at: Instant::now(),
                    reason: error.to_string(),
                });
                Err(error)
            }
        }
    }

    /// Runs `op` on a connection; `call` names it in errors. A change that was sent but not
    /// answered is [`RedisStoreError::OutcomeUnknown`].
    pub(crate) fn run<T>(
        &self,
        call: Call<'_>,
        mut op: impl FnMut(&mut Connection) -> RedisResult<T>,
    ) -> Result<T, RedisStoreError> {
        let reused = lock(&self.idle).pop();
        let (mut con, mut fresh) = match reused {
            Some(con) => (con, false),
            None => (self.connect()?, true),
        };
        loop {
            match op(&mut con) {
                Ok(value) => {
                    self.give_back(con);
                    return Ok(value);
                }
                Err(e) if breaks_connection(&e, &con) => {
                    drop(con);
                    // A reused connection may have been cut while idle (a server restart): once
                    // more on a fresh one. Not after a timeout: the server is there but slow, and
                    // waiting twice would break the bound on a call's time.
                    if !fresh && !e.is_timeout() {
                        tracing::debug!(url = %self.url, error = %e, "a reused Redis connection failed: reconnecting");
                        con = self.connect()?;
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
                Err(e) => {
                    self.give_back(con);
                    return Err(RedisStoreError::refused(&self.url, call, e));
                }
            }
        }
    }

    fn give_back(&self, con: Connection) {
        let mut idle = lock(&self.idle);
        if idle.len() < MAX_IDLE && con.is_open() {
            idle.push(con);
        }
    }
}
