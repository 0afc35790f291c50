//! The store's own accounting, kept in the write transaction that changes an entry: its usage
//! (entries and bytes) and a recency index (least recently used first), so that a disk budget
//! neither lists the store nor keeps a record file.
//!
//! Three named databases, apart from the entries (whose keys and bytes are unchanged; LMDB
//! keeps a named database as a key of the main database, and every name starting with `.` is
//! the store's own, never listed):
//! - [`USAGE_DB`]: one key, `usage` → entries (u64 BE) ++ bytes (u64 BE);
//! - [`USED_DB`]: entry name → when it was last written or touched (nanoseconds since the
//!   epoch, u64 BE);
//! - [`RECENCY_DB`]: that time (u64 BE) ++ name → the entry's size (u64 BE), so that the first
//!   keys are the least recently used entries.
//!
//! An environment written before these existed is counted once, when a writer opens it.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bucketcache_traits::store::Usage;
use bucketcache_traits::store::{Kind, Listed};
use heed::types::Bytes;
use heed::{Database, RoTxn, RwTxn};

type Db<'t> = Database<'t, Bytes, Bytes>;

/// The named database of the usage record.
pub(crate) const USAGE_DB: &str = ".bucketcache-usage";
/// The named database of each entry's last use.
pub(crate) const USED_DB: &str = ".bucketcache-used";
/// The named database of the recency index.
pub(crate) const RECENCY_DB: &str = ".bucketcache-recency";

const USAGE_KEY: &[u8] = b"usage";

/// The names of the three databases, in the order of [`Meta::from_dbs`].
pub(crate) const NAMES: [&str; 3] = [USAGE_DB, USED_DB, RECENCY_DB];

/// The three databases of the accounting.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Meta<'t> {
    usage: Database<'t, Bytes, Bytes>,
    used: Database<'t, Bytes, Bytes>,
    recency: Database<'t, Bytes, Bytes>,
}

fn be(bytes: &[u8]) -> u64 {
    bytes
        .get(..8)
        .and_then(|b| <[u8; 8]>::try_from(b).ok())
        .map_or(0, u64::from_be_bytes)
}

fn recency_key(used: u64, name: &[u8]) -> Vec<u8> {
    let mut key = Vec::with_capacity(8 + name.len());
    key.extend_from_slice(&used.to_be_bytes());
    key.extend_from_slice(name);
    key
}

/// Now, in nanoseconds since the epoch.
pub(crate) fn now_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

fn time_of(nanos: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_nanos(nanos)
}

impl<'t> Meta<'t> {
    /// The databases, in the order of [`NAMES`].
    pub(crate) fn from_dbs([usage, used, recency]: [Database<'t, Bytes, Bytes>; 3]) -> Self {
        Meta {
            usage,
            used,
            recency,
        }
    }

    /// Counts the entries of `db` when the usage was never counted (each entry used now).
    pub(crate) fn count_once(&self, wtxn: &mut RwTxn<'_>, db: &Db<'_>) -> heed::Result<()> {
        if self.usage.get(wtxn, USAGE_KEY)?.is_some() {
            return Ok(());
        }
        let now = now_nanos();
        let mut entries: Vec<(Vec<u8>, u64)> = Vec::new();
        for pair in db.iter(wtxn)? {
            let (key, value) = pair?;
            if is_entry(key) {
                entries.push((key.to_vec(), value.len() as u64));
            }
        }
        let mut usage = Usage::default();
        for (name, size) in &entries {
            usage.entries += 1;
            usage.bytes += size;
            self.used.put(wtxn, name, &now.to_be_bytes())?;
            self.recency
                .put(wtxn, &recency_key(now, name), &size.to_be_bytes())?;
        }
        self.put_usage(wtxn, usage)
    }

    fn put_usage(&self, wtxn: &mut RwTxn<'_>, usage: Usage) -> heed::Result<()> {
        let mut value = [0u8; 16];
        value[..8].copy_from_slice(&usage.entries.to_be_bytes());
        value[8..].copy_from_slice(&usage.bytes.to_be_bytes());
        self.usage.put(wtxn, USAGE_KEY, &value)
    }

    /// The usage as last committed.
    pub(crate) fn usage(&self, rtxn: &RoTxn<'_>) -> heed::Result<Usage> {
        Ok(match self.usage.get(rtxn, USAGE_KEY)? {
            Some(v) if v.len() == 16 => Usage::new(be(&v[..8]), be(&v[8..])),
            _ => Usage::default(),
        })
    }

    /// When `name` was last used, if it is indexed.
    pub(crate) fn used(&self, rtxn: &RoTxn<'_>, name: &[u8]) -> heed::Result<Option<u64>> {
        Ok(self.used.get(rtxn, name)?.map(be))
    }

    /// Accounts for `name` written with `size` bytes, replacing `old` bytes (`None`: new),
    /// used now.
    pub(crate) fn wrote(
        &self,
        wtxn: &mut RwTxn<'_>,
        name: &[u8],
        old: Option<u64>,
        size: u64,
    ) -> heed::Result<()> {
        let mut usage = self.usage(wtxn)?;
        if old.is_none() {
            usage.entries += 1;
        }
        usage.bytes = usage
            .bytes
            .saturating_sub(old.unwrap_or(0))
            .saturating_add(size);
        self.put_usage(wtxn, usage)?;
        self.reindex(wtxn, name, size, now_nanos())
    }

    /// Moves `name` (of `size` bytes) to `used` in the recency index.
    fn reindex(&self, wtxn: &mut RwTxn<'_>, name: &[u8], size: u64, used: u64) -> heed::Result<()> {
        let stamp = used.to_be_bytes();
        // A name seen for the first time (every new entry) is indexed in one operation: the
        // put only happens when the name is absent, and answers its last use otherwise.
        if let Some(previous) = self.used.get_or_put(wtxn, name, &stamp)?.map(be) {
            self.recency.delete(wtxn, &recency_key(previous, name))?;
            self.used.put(wtxn, name, &stamp)?;
        }
        self.recency
            .put(wtxn, &recency_key(used, name), &size.to_be_bytes())
    }

    /// Records a use of `name` (of `size` bytes) now.
    pub(crate) fn touched(&self, wtxn: &mut RwTxn<'_>, name: &[u8], size: u64) -> heed::Result<()> {
        self.reindex(wtxn, name, size, now_nanos())
    }

    /// Accounts for the removal of `name`, of `size` bytes.
    pub(crate) fn removed(&self, wtxn: &mut RwTxn<'_>, name: &[u8], size: u64) -> heed::Result<()> {
        let used = self.used(wtxn, name)?;
        self.subtract(wtxn, Usage::new(1, size))?;
        self.forget(wtxn, name, used)
    }

    /// Takes `gone` (entries removed, their bytes) off the usage.
    pub(crate) fn subtract(&self, wtxn: &mut RwTxn<'_>, gone: Usage) -> heed::Result<()> {
        let mut usage = self.usage(wtxn)?;
        usage.entries = usage.entries.saturating_sub(gone.entries);
        usage.bytes = usage.bytes.saturating_sub(gone.bytes);
        self.put_usage(wtxn, usage)
    }

    /// Drops `name`, last used at `used` (as [`used`](Self::used) read it), from the index;
    /// the caller accounts for its size ([`subtract`](Self::subtract)).
    pub(crate) fn forget(
        &self,
        wtxn: &mut RwTxn<'_>,
        name: &[u8],
        used: Option<u64>,
    ) -> heed::Result<()> {
        if let Some(previous) = used {
            self.recency.delete(wtxn, &recency_key(previous, name))?;
        }
        self.used.delete(wtxn, name)?;
        Ok(())
    }

    /// The `n` least recently used entries, least recent first.
    pub(crate) fn least_recent(&self, rtxn: &RoTxn<'_>, n: usize) -> heed::Result<Vec<Listed>> {
        let mut out = Vec::with_capacity(n.min(4096));
        for pair in self.recency.iter(rtxn)?.take(n) {
            let (key, value) = pair?;
            let Some(name) = key.get(8..).and_then(|n| std::str::from_utf8(n).ok()) else {
                continue;
            };
            out.push(Listed::new(
                name.to_owned(),
                be(value),
                Kind::File,
                Some(time_of(be(key))),
            ));
        }
        Ok(out)
    }

    /// `used` as a [`Listed::used`].
    pub(crate) fn time(used: Option<u64>) -> Option<SystemTime> {
        used.map(time_of)
    }
}

/// Whether a key of the main database is an entry (not one of the store's own names).
pub(crate) fn is_entry(key: &[u8]) -> bool {
    !key.starts_with(b".") && std::str::from_utf8(key).is_ok()
}
