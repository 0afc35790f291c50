//! Cross-machine locks for single flight: one Redis key per entry being computed.
//!
//! The lock of the entry `<digest>` is the helper key `<namespace>:.lock:<digest>` (never an
//! entry, never listed), set with `SET … NX PX <lock_ttl>` to a token of its holder. While the
//! lease is held a keeper thread renews the expiry every third of the ttl; dropping the lease
//! deletes the key if it still holds the token (a compare-and-delete). A holder that dies stops
//! renewing, and its lock is free at most `lock_ttl` later.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bucketcache_traits::store::{Lease, Locked};

use crate::error::RedisStoreError;
use crate::pool::{Call, Pool};

/// Extends the key's expiry only if it still holds the token.
const RENEW: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
";

/// Deletes the key only if it still holds the token.
const RELEASE: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
";

/// A token no other lease holds: this process, a counter, the time.
fn token() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!(
        "{}-{}-{nanos}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// Tries to take the lock key `key` for `ttl`.
pub(crate) fn try_lock(
    pool: &Arc<Pool>,
    key: String,
    ttl: Duration,
) -> Result<Locked, RedisStoreError> {
    let token = token();
    let ttl_ms = ttl.as_millis().max(1) as u64;
    let set: Option<String> = pool.run(Call::write("SET NX", &key), |c| {
        redis::cmd("SET")
            .arg(&key)
            .arg(&token)
            .arg("NX")
            .arg("PX")
            .arg(ttl_ms)
            .query(c)
    })?;
    if set.is_none() {
        return Ok(Locked::Busy);
    }
    let (stop, stopped) = mpsc::channel::<()>();
    let keeper = {
        let (pool, key, token) = (pool.clone(), key.clone(), token.clone());
        std::thread::Builder::new()
            .name("bucketcache-redis-lock".into())
            .spawn(move || {
                let renew = redis::Script::new(RENEW);
                loop {
                    match stopped.recv_timeout(ttl / 3) {
                        Err(RecvTimeoutError::Timeout) => {}
                        _ => return,
                    }
                    let renewed = pool.run(Call::write("PEXPIRE", &key), |c| {
                        renew
                            .key(&key)
                            .arg(&token)
                            .arg(ttl_ms)
                            .invoke::<i64>(c)
                    });
                    match renewed {
                        Ok(1) => {}
                        Ok(_) => {
                            tracing::warn!(key = %key, "a lock expired while its computation ran: another machine may compute too");
                            return;
                        }
                        Err(e) => {
                            tracing::warn!(key = %key, error = %e, "cannot renew a lock");
                        }
                    }
                }
            })
            .ok()
    };
    Ok(Locked::Acquired(Box::new(RedisLease {
        pool: pool.clone(),
        key,
        token,
        stop: Some(stop),
        keeper,
    })))
}

/// A held lock key.
struct RedisLease {
    pool: Arc<Pool>,
    key: String,
    token: String,
    stop: Option<mpsc::Sender<()>>,
    keeper: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for RedisLease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisLease")
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

impl Lease for RedisLease {}

impl Drop for RedisLease {
    fn drop(&mut self) {
        drop(self.stop.take()); // the keeper stops at once
        if let Some(keeper) = self.keeper.take() {
            let _ = keeper.join();
        }
        let release = redis::Script::new(RELEASE);
        let released = self.pool.run(Call::write("DEL", &self.key), |c| {
            release.key(&self.key).arg(&self.token).invoke::<i64>(c)
        });
        if let Err(e) = released {
            tracing::warn!(key = %self.key, error = %e, "cannot release a lock: it expires by itself");
        }
    }
}
