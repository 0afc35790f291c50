//! Reads and writes through a store's native async client ([`AsyncStoreOps`]: Redis), on the
//! caller's task: no blocking-pool hop. Only for buckets without a disk budget (whose
//! bookkeeping is blocking store work) and when the store says its client works here.

use std::time::{Duration, SystemTime};

use super::{rt, INLINE_DECODE_MAX};
use bucketcache_core::store::{AsyncStoreOps, Fetched};
use bucketcache_core::Bucket;
use bucketcache_core::Result;
use bucketcache_near::Entry;

fn ops(bucket: &Bucket) -> Option<&dyn AsyncStoreOps> {
    if bucket.has_budget() {
        return None;
    }
    bucket.store().async_ops().filter(|ops| ops.usable_here())
}

/// Whether writes of `bucket` go through the store's native client.
pub(super) fn usable(bucket: &Bucket) -> bool {
    ops(bucket).is_some()
}

/// [`Bucket::load`] through the native client: `None` when there is none to use. An expired
/// entry is deleted (on the evidence of the store, as always) in one hop to the pool; a large
/// entry's envelope is checked there too.
pub(super) async fn load(bucket: &Bucket, digest: &str) -> Option<Result<Option<Entry>>> {
    let ops = ops(bucket)?;
    let name = bucket.file_name(digest);
    // Taken before the read: a change of the key that begins after it makes the answer stale.
    let stamp = bucket.read_stamp(digest);
    let fetched = ops
        .read_async(&name, bucket.max_entry_bytes())
        .await
        .map(|f| (f, Duration::ZERO));
    let large = matches!(&fetched, Ok((Fetched::Bytes(b), _)) if b.len() > INLINE_DECODE_MAX);
    let looked = if large {
        let (b, d) = (bucket.clone(), digest.to_owned());
        match rt::unblock(move || b.lookup_from(&d, true, Some((fetched, stamp)), false)).await {
            Ok(looked) => looked,
            Err(e) => Err(bucket.store_error(&name, e)),
        }
    } else {
        bucket.lookup_from(digest, true, Some((fetched, stamp)), false)
    };
    Some(match looked {
        Ok((entry, true)) => {
            let (b, d) = (bucket.clone(), digest.to_owned());
            if let Err(e) = rt::unblock(move || b.remove_if_expired(&d)).await {
                tracing::debug!(digest, error = %e, "cannot delete an expired entry");
            }
            Ok(entry)
        }
        Ok((entry, false)) => Ok(entry),
        Err(e) => Err(e),
    })
}

/// [`Bucket::write_entry`] through the native client (the caller checked [`usable`]).
pub(super) async fn write(bucket: &Bucket, digest: &str, entry: Entry) -> Result<()> {
    let Some(ops) = ops(bucket) else {
        let (b, d) = (bucket.clone(), digest.to_owned());
        return rt::unblock(move || b.write_entry(&d, entry))
            .await
            .map_err(|e| bucket.store_error("", e))?;
    };
    let name = bucket.file_name(digest);
    let expires = entry.expiration.map(|e| SystemTime::from(e.and_utc()));
    // The change begins before the write (per-key linearizability; see Bucket::wrote).
    let mutation = bucket.begin_change(digest);
    if let Err(e) = ops.write_expiring_async(&name, &entry.bytes, expires).await {
        return Err(bucket.write_failed(digest, &mutation, &name, e));
    }
    bucket.wrote(digest, &name, entry, None, mutation);
    Ok(())
}
