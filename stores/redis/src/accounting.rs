//! The store's own accounting, kept atomically by the scripts that change entries: the usage
//! hash `<ns>:.usage` (`entries`, `bytes`), the sizes hash `<ns>:.sizes` (name → size) and the
//! recency index `<ns>:.recency` (a sorted set: name scored by its last write or use, in
//! milliseconds since the epoch). Names starting with `.` are never entries, never listed.
//!
//! What is exact and what is corrected:
//! - every `set`, overwrite, `remove`, conditional removal and eviction through this store
//!   changes the entry and the three keys in one script (atomic on the server);
//! - the first use of a namespace without `<ns>:.usage` counts it once, in one script
//!   (`SCAN` of the namespace: every entry used now); until then writes do not count;
//! - Redis's own expiry drops an entry without a script: its bytes stay counted until it is
//!   met again — by a `set` or a removal of its name, or when it reaches the front of the
//!   recency index (the eviction candidates drop it and its count). So the usage may count
//!   expired entries until the budget evicts (it never undercounts what the store holds,
//!   except for keys written without this store, which a recount sees: delete `<ns>:.usage`).

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bucketcache_traits::store::{Kind, Listed};
use bucketcache_traits::Usage;

use crate::pool::Call;
use crate::RedisStore;

/// Sets an entry (with an optional expiry) and accounts for it; answers the usage after it
/// (entries, bytes), or nothing while the namespace is not counted.
/// KEYS: entry, usage, recency, sizes. ARGV: bytes, PXAT ms or '', name, now ms.
pub(crate) const WRITE: &str = r"
if ARGV[2] == '' then
  redis.call('SET', KEYS[1], ARGV[1])
else
  redis.call('SET', KEYS[1], ARGV[1], 'PXAT', ARGV[2])
end
if redis.call('EXISTS', KEYS[2]) == 0 then
  return {}
end
local old = redis.call('HGET', KEYS[4], ARGV[3])
local size = string.len(ARGV[1])
if old then
  redis.call('HINCRBY', KEYS[2], 'bytes', size - tonumber(old))
else
  redis.call('HINCRBY', KEYS[2], 'entries', 1)
  redis.call('HINCRBY', KEYS[2], 'bytes', size)
end
redis.call('HSET', KEYS[4], ARGV[3], size)
redis.call('ZADD', KEYS[3], ARGV[4], ARGV[3])
return redis.call('HMGET', KEYS[2], 'entries', 'bytes')
";

/// Lua shared by the removals: forgets `name`'s accounting (KEYS[2..4], ARGV[1] = name).
const FORGET: &str = r"
local function forget()
  local old = redis.call('HGET', KEYS[4], ARGV[1])
  if old then
    redis.call('HINCRBY', KEYS[2], 'entries', -1)
    redis.call('HINCRBY', KEYS[2], 'bytes', -tonumber(old))
    redis.call('HDEL', KEYS[4], ARGV[1])
  end
  redis.call('ZREM', KEYS[3], ARGV[1])
end
";

/// Deletes an entry only if it is a string. KEYS: entry, usage, recency, sizes. ARGV: name.
pub(crate) fn remove_script() -> redis::Script {
    redis::Script::new(&format!(
        "{FORGET}
if redis.call('TYPE', KEYS[1]).ok == 'string' then
  forget()
  return redis.call('DEL', KEYS[1])
end
if redis.call('EXISTS', KEYS[1]) == 0 then forget() end
return 0"
    ))
}

/// Deletes an entry only if it still holds ARGV[2]. KEYS: entry, usage, recency, sizes.
pub(crate) fn remove_if_script() -> redis::Script {
    redis::Script::new(&format!(
        "{FORGET}
if redis.call('TYPE', KEYS[1]).ok == 'string' and redis.call('GET', KEYS[1]) == ARGV[2] then
  forget()
  return redis.call('DEL', KEYS[1])
end
return 0"
    ))
}

/// Lua shared by the scripts whose KEYS are usage, recency, sizes: forgets `name`'s
/// accounting (its count and bytes, its size, its place in the recency index).
const UNCOUNT: &str = r"
local function uncount(name)
  local old = redis.call('HGET', KEYS[3], name)
  if old then
    redis.call('HINCRBY', KEYS[1], 'entries', -1)
    redis.call('HINCRBY', KEYS[1], 'bytes', -tonumber(old))
    redis.call('HDEL', KEYS[3], name)
  end
  redis.call('ZREM', KEYS[2], name)
end
";

/// Evicts each of a batch of entries only if it is unchanged: its size is as listed and (when
/// listed with one) so is its recency score. Returns each one's size, or -1 where it stayed.
/// KEYS: usage, recency, sizes. ARGV: prefix, then name, size, score ('' for none) per entry.
pub(crate) fn evict_all_script() -> redis::Script {
    redis::Script::new(&format!(
        r"{UNCOUNT}
local out = {{}}
for i = 2, #ARGV, 3 do
  local name, score = ARGV[i], ARGV[i + 2]
  local key = ARGV[1] .. name
  local evicted = -1
  if redis.call('TYPE', key).ok == 'string' then
    local size = redis.call('STRLEN', key)
    local same = size == tonumber(ARGV[i + 1])
    if same and score ~= '' then
      local now = redis.call('ZSCORE', KEYS[2], name)
      same = now and tonumber(now) == tonumber(score)
    end
    if same then
      uncount(name)
      redis.call('DEL', key)
      evicted = size
    end
  end
  table.insert(out, evicted)
end
return out"
    ))
}

/// How many entries one eviction script removes at most: Redis runs a script alone, so a batch
/// is kept short enough not to hold other clients up for long (well under a millisecond).
const EVICTIONS_PER_SCRIPT: usize = 128;

/// The first ARGV[1] names of the recency index with their sizes and scores, dropping (and
/// uncounting) those whose entry is gone. KEYS: usage, recency, sizes. ARGV: n, prefix.
pub(crate) fn candidates_script() -> redis::Script {
    redis::Script::new(&format!(
        r"{UNCOUNT}
local out = {{}}
local members = redis.call('ZRANGE', KEYS[2], 0, tonumber(ARGV[1]) - 1, 'WITHSCORES')
for i = 1, #members, 2 do
  local name = members[i]
  local key = ARGV[2] .. name
  if redis.call('TYPE', key).ok == 'string' then
    table.insert(out, name)
    table.insert(out, redis.call('STRLEN', key))
    table.insert(out, members[i + 1])
  else
    uncount(name)
  end
end
return out"
    ))
}

/// Counts the namespace once when it has no usage hash. KEYS: usage, recency, sizes. ARGV:
/// SCAN pattern, prefix, now ms.
pub(crate) const INIT: &str = r"
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local entries, bytes = 0, 0
local cursor = '0'
local plen = string.len(ARGV[2])
repeat
  local r = redis.call('SCAN', cursor, 'MATCH', ARGV[1], 'COUNT', 1000)
  cursor = r[1]
  for _, key in ipairs(r[2]) do
    local name = string.sub(key, plen + 1)
    if name ~= '' and string.sub(name, 1, 1) ~= '.' and not string.find(name, ':', 1, true)
        and redis.call('TYPE', key).ok == 'string' then
      local size = redis.call('STRLEN', key)
      entries = entries + 1
      bytes = bytes + size
      redis.call('HSET', KEYS[3], name, size)
      redis.call('ZADD', KEYS[2], 'NX', ARGV[3], name)
    end
  end
until cursor == '0'
redis.call('HSET', KEYS[1], 'entries', entries, 'bytes', bytes)
return 1
";

/// How long the usage a write answered stands for the store's usage.
const RECENT: Duration = Duration::from_millis(50);

/// The usage the last write script answered, for the `usage()` that follows it: a budget
/// reads the usage right after each write, and this saves that round trip. Taken once; refused
/// when older than [`RECENT`] or when a removal through this store was answered after the
/// write was sent (the snapshot may predate it). Writes of other processes are in neither this
/// nor a separate read taken a moment later: both are snapshots.
#[derive(Debug, Default)]
pub(crate) struct RecentUsage {
    /// The usage, when it was answered, and the removals counted when its write was sent.
    snapshot: Mutex<Option<(Usage, Instant, u64)>>,
    removals: AtomicU64,
}

impl RecentUsage {
    /// To call before sending a write: what [`wrote`](Self::wrote) needs.
    pub(crate) fn before_write(&self) -> u64 {
        self.removals.load(Ordering::Acquire)
    }

    /// Keeps the usage a write sent at `sent` (from [`before_write`](Self::before_write))
    /// answered.
    pub(crate) fn wrote(&self, usage: Usage, sent: u64) {
        *self.snapshot.lock().unwrap_or_else(|p| p.into_inner()) =
            Some((usage, Instant::now(), sent));
    }

    /// To call after a removal's answer: snapshots of writes sent before it are refused.
    pub(crate) fn removed(&self) {
        self.removals.fetch_add(1, Ordering::AcqRel);
    }

    /// The last write's usage, once, if it is recent and no removal came after it was sent.
    pub(crate) fn take(&self) -> Option<Usage> {
        let (usage, at, sent) = self
            .snapshot
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()?;
        (sent == self.removals.load(Ordering::Acquire) && at.elapsed() < RECENT).then_some(usage)
    }
}

/// Now in milliseconds since the epoch (the recency scores).
pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl RedisStore {
    pub(crate) fn usage_key(&self) -> String {
        format!("{}.usage", self.prefix)
    }

    pub(crate) fn recency_key(&self) -> String {
        format!("{}.recency", self.prefix)
    }

    pub(crate) fn sizes_key(&self) -> String {
        format!("{}.sizes", self.prefix)
    }

    /// The usage, counted once (one script) if the namespace has none yet.
    pub(crate) fn counted_usage(&self) -> io::Result<Usage> {
        let usage_key = self.usage_key();
        let (entries, bytes): (Option<i64>, Option<i64>) =
            self.pool.run(Call::read("HMGET", Some(&usage_key)), |c| {
                redis::cmd("HMGET")
                    .arg(&usage_key)
                    .arg("entries")
                    .arg("bytes")
                    .query(c)
            })?;
        if let (Some(entries), Some(bytes)) = (entries, bytes) {
            return Ok(Usage::new(entries.max(0) as u64, bytes.max(0) as u64));
        }
        let (recency, sizes) = (self.recency_key(), self.sizes_key());
        let _: i64 = self.pool.run(Call::write("EVAL", &usage_key), |c| {
            self.init_script
                .key(&usage_key)
                .key(&recency)
                .key(&sizes)
                .arg(&self.pattern)
                .arg(&self.prefix)
                .arg(now_ms())
                .invoke(c)
        })?;
        tracing::debug!(namespace = %self.namespace.display(), "counted the namespace's usage");
        self.counted_usage()
    }

    /// The `n` least recently used entries.
    pub(crate) fn least_recent(&self, n: usize) -> io::Result<Vec<Listed>> {
        self.counted_usage()?; // the index exists
        let (usage, recency, sizes) = (self.usage_key(), self.recency_key(), self.sizes_key());
        let raw: Result<Vec<(String, u64, String)>, _> =
            self.pool.run(Call::write("EVAL", &recency), |c| {
                self.candidates_script
                    .key(&usage)
                    .key(&recency)
                    .key(&sizes)
                    .arg(n.max(1))
                    .arg(&self.prefix)
                    .invoke::<Vec<redis::Value>>(c)
                    .and_then(|values| {
                        values
                            .chunks(3)
                            .filter(|c| c.len() == 3)
                            .map(|c| {
                                Ok((
                                    redis::from_redis_value(c[0].clone())?,
                                    redis::from_redis_value(c[1].clone())?,
                                    redis::from_redis_value(c[2].clone())?,
                                ))
                            })
                            .collect()
                    })
            });
        // The script drops (and uncounts) names whose entry is gone.
        self.recent_usage.removed();
        let raw = raw?;
        Ok(raw
            .into_iter()
            .map(|(name, size, score)| {
                let ms = score.parse::<f64>().unwrap_or(0.0) as u64;
                Listed::new(
                    name,
                    size,
                    Kind::File,
                    Some(UNIX_EPOCH + Duration::from_millis(ms)),
                )
            })
            .collect())
    }

    /// Evicts each of `victims` (at most [`EVICTIONS_PER_SCRIPT`]) that is unchanged (size,
    /// and recency when listed with one), in one script: the size removed of each, `None`
    /// where it stayed.
    pub(crate) fn evict_chunk(&self, victims: &[&Listed]) -> io::Result<Vec<Option<u64>>> {
        let (usage, recency, sizes) = (self.usage_key(), self.recency_key(), self.sizes_key());
        let mut invocation = self.evict_all_script.prepare_invoke();
        invocation
            .key(&usage)
            .key(&recency)
            .key(&sizes)
            .arg(&self.prefix);
        for listed in victims {
            let score = listed
                .used
                .and_then(|u| u.duration_since(UNIX_EPOCH).ok())
                .map_or(String::new(), |d| (d.as_millis() as u64).to_string());
            invocation.arg(&listed.name).arg(listed.size).arg(score);
        }
        let removed = self.pool.run(Call::write("EVAL", &recency), |c| {
            invocation.invoke::<Vec<i64>>(c)
        });
        self.recent_usage.removed();
        let removed = removed?;
        let mut out: Vec<Option<u64>> = removed
            .into_iter()
            .map(|n| (n >= 0).then_some(n as u64))
            .collect();
        // One size per victim; anything short is a victim that stayed.
        out.resize(victims.len(), None);
        Ok(out)
    }

    /// [`evict_chunk`](Self::evict_chunk) over `victims` (entries only), a script per
    /// [`EVICTIONS_PER_SCRIPT`]: a budget's batch costs a round trip or a few, not one per
    /// victim. A chunk that fails is logged and counted as staying.
    pub(crate) fn evict_all(&self, victims: &[Listed]) -> Vec<Option<u64>> {
        let files: Vec<(usize, &Listed)> = victims
            .iter()
            .enumerate()
            .filter(|(_, v)| v.kind == Kind::File)
            .collect();
        let mut out = vec![None; victims.len()];
        for chunk in files.chunks(EVICTIONS_PER_SCRIPT) {
            let listed: Vec<&Listed> = chunk.iter().map(|(_, v)| *v).collect();
            match self.evict_chunk(&listed) {
                Ok(removed) => {
                    for ((at, _), size) in chunk.iter().zip(removed) {
                        out[*at] = size;
                    }
                }
                Err(e) => {
                    tracing::debug!(namespace = %self.namespace.display(), error = %e, "cannot evict")
                }
            }
        }
        out
    }

    /// Moves `name` to the end of the recency index, if indexed.
    pub(crate) fn touch_recency(&self, name: &str) -> io::Result<()> {
        let recency = self.recency_key();
        let _: i64 = self.pool.run(Call::write("ZADD", &recency), |c| {
            redis::cmd("ZADD")
                .arg(&recency)
                .arg("XX")
                .arg(now_ms())
                .arg(name)
                .query(c)
        })?;
        Ok(())
    }

    /// What `list` says of `name` alone: one script, no scan.
    pub(crate) fn stat_one(&self, name: &str) -> io::Result<Option<Listed>> {
        if name.is_empty() || name.starts_with('.') || name.contains(':') {
            return Ok(None);
        }
        let key = self.key_of(name);
        let sizes: Vec<redis::Value> = self.pool.run(Call::read("TYPE", Some(&key)), |c| {
            self.sizes_script.key(&key).invoke(c)
        })?;
        Ok(match sizes.into_iter().next() {
            Some(redis::Value::Int(-2)) | None => None,
            Some(redis::Value::Int(n)) => Some(Listed::new(
                name.to_owned(),
                n.max(0) as u64,
                Kind::File,
                None,
            )),
            Some(other) => {
                let type_name: String = redis::from_redis_value(other).unwrap_or_default();
                Some(Listed::new(
                    name.to_owned(),
                    0,
                    crate::kind_of_type(&type_name),
                    None,
                ))
            }
        })
    }
}
