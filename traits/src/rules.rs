//! The one expiry rule of the cache, used by reads, `prune`, the inspector and the CLI alike.

use std::time::Duration;

use crate::time::{add_lifetime, Expiration};

/// What the rule says of an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Verdict {
    /// Not expired.
    Live,
    /// Its expiration has passed.
    Expired,
    /// The bucket has a lifetime and the entry never expires, or expires after now + lifetime:
    /// it was written under another lifetime (the original's rule), and counts as expired.
    LifetimeChanged,
}

impl Verdict {
    /// Whether the entry is a miss and may be deleted (on the evidence of what the store holds).
    pub fn is_expired(self) -> bool {
        self != Verdict::Live
    }
}

/// The verdict on an entry expiring at `expiration`, for a bucket with `lifetime`, at `now`.
///
/// ```
/// use std::time::Duration;
/// use bucketcache_traits::rules::{verdict, Verdict};
/// use bucketcache_traits::time::parse_expiration;
/// let now = parse_expiration("2030-01-01T00:00:00").unwrap();
/// let soon = parse_expiration("2030-01-01T00:30:00");
/// assert_eq!(verdict(soon, None, now), Verdict::Live);
/// assert_eq!(verdict(soon, Some(Duration::from_secs(60)), now), Verdict::LifetimeChanged);
/// assert_eq!(verdict(None, Some(Duration::from_secs(60)), now), Verdict::LifetimeChanged);
/// assert_eq!(verdict(parse_expiration("2029-12-31T23:59:59"), None, now), Verdict::Expired);
/// ```
pub fn verdict(
    expiration: Option<Expiration>,
    lifetime: Option<Duration>,
    now: Expiration,
) -> Verdict {
    if expiration.is_some_and(|e| now > e) {
        return Verdict::Expired;
    }
    if let Some(lifetime) = lifetime {
        let changed = match expiration {
            None => true,
            Some(e) => e > add_lifetime(now, lifetime),
        };
        if changed {
            return Verdict::LifetimeChanged;
        }
    }
    Verdict::Live
}
