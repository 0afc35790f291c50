//! Freshness of memoized entries: stale-while-revalidate, stale-if-error and refresh ahead
//! (probabilistic early expiration, "XFetch") — the policy and the one decision function.
//!
//! The decision is pure ([`judge`]): an entry's expiration, the bucket's lifetime, now, how long
//! the entry's computation took and a random draw go in; what a memoized call should do comes
//! out. Sync memoization (`MemoCache::lookup_fresh` (bucketcache-core)) and async
//! memoization call it alike. The expiry rule itself stays [`verdict`]: this only
//! says what to do with an entry that rule calls expired, and when to refresh a live one early.
//!
//! See `docs/freshness.md` for what each memoized call does and what processes see.

use std::cell::Cell;
use std::time::Duration;

use bucketcache_traits::rules::{verdict, Verdict};
use bucketcache_traits::Expiration;

/// How memoized calls treat expired and nearly expired entries. All off by default: an expired
/// entry is a miss, as in a plain `get`.
///
/// ```
/// use std::time::Duration;
/// use bucketcache_core::freshness::Freshness;
/// let f = Freshness::default()
///     .stale_while_revalidate(Duration::from_secs(10))
///     .stale_if_error(Duration::from_secs(60));
/// assert!(!f.is_off());
/// assert_eq!(f.grace(), Duration::from_secs(60));
/// assert!(Freshness::default().is_off());
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Freshness {
    /// A memoized call that finds an entry expired by at most this long returns it at once, and
    /// one refresh of it starts (one per key across the processes sharing the store).
    pub stale_while_revalidate: Option<Duration>,
    /// When a refresh or a recomputation fails and the entry expired by at most this long, callers
    /// get the expired value instead of the error.
    pub stale_if_error: Option<Duration>,
    /// Refresh live entries early, with a probability rising as their expiry nears, weighted by
    /// how long their computation took (XFetch).
    pub refresh_ahead: bool,
}

impl Freshness {
    /// Sets [`stale_while_revalidate`](Self::stale_while_revalidate).
    pub fn stale_while_revalidate(mut self, window: Duration) -> Self {
        self.stale_while_revalidate = Some(window);
        self
    }

    /// Sets [`stale_if_error`](Self::stale_if_error).
    pub fn stale_if_error(mut self, window: Duration) -> Self {
        self.stale_if_error = Some(window);
        self
    }

    /// Sets [`refresh_ahead`](Self::refresh_ahead).
    pub fn refresh_ahead(mut self, yes: bool) -> Self {
        self.refresh_ahead = yes;
        self
    }

    /// Whether every option is off (memoized calls behave as plain lookups).
    pub fn is_off(&self) -> bool {
        self.grace().is_zero() && !self.refresh_ahead
    }

    /// How long past its expiration an entry may still serve a memoized call: the longer
    /// window. Within it an expired entry is a miss for `get` but is not deleted on read.
    pub fn grace(&self) -> Duration {
        self.stale_while_revalidate
            .unwrap_or_default()
            .max(self.stale_if_error.unwrap_or_default())
    }
}

/// What a memoized call should do with the entry it found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum State {
    /// Live: answer with it.
    Fresh,
    /// Live, but due for an early refresh: answer with it; whoever takes the key's refresh
    /// recomputes it.
    RefreshAhead,
    /// Expired within the stale-while-revalidate window: answer with it at once; whoever takes
    /// the key's refresh recomputes it.
    Stale,
    /// Expired past the revalidate window but within the stale-if-error window: recompute (as
    /// a miss), and answer with it if the computation fails.
    ErrorFallback,
    /// A miss: expired past every window, or written under another lifetime.
    Miss,
}

/// The decision on an entry expiring at `expiration`, for a bucket with `lifetime`, at `now`.
/// `took` is how long the entry's computation took, when known (refresh ahead needs it), and
/// `draw` a uniform random number in `(0, 1]` (see [`draw`]).
///
/// ```
/// use std::time::Duration;
/// use bucketcache_core::freshness::{judge, Freshness, State};
/// use bucketcache_core::time::parse_expiration;
/// let t = |s: &str| parse_expiration(s).unwrap();
/// let lifetime = Some(Duration::from_secs(60));
/// let exp = Some(t("2030-01-01T00:01:00"));
/// let swr = Freshness::default().stale_while_revalidate(Duration::from_secs(10));
/// assert_eq!(judge(&swr, exp, lifetime, t("2030-01-01T00:00:30"), None, 0.5), State::Fresh);
/// assert_eq!(judge(&swr, exp, lifetime, t("2030-01-01T00:01:05"), None, 0.5), State::Stale);
/// assert_eq!(judge(&swr, exp, lifetime, t("2030-01-01T00:01:11"), None, 0.5), State::Miss);
/// let ahead = Freshness::default().refresh_ahead(true);
/// let took = Some(Duration::from_secs(2));
/// // One second before expiry with a two-second computation: always due.
/// assert_eq!(judge(&ahead, exp, lifetime, t("2030-01-01T00:00:59"), took, 1.0), State::RefreshAhead);
/// // Forty seconds before: never (past half the lifetime).
/// assert_eq!(judge(&ahead, exp, lifetime, t("2030-01-01T00:00:20"), took, 1e-12), State::Fresh);
/// ```
pub fn judge(
    policy: &Freshness,
    expiration: Option<Expiration>,
    lifetime: Option<Duration>,
    now: Expiration,
    took: Option<Duration>,
    draw: f64,
) -> State {
    match verdict(expiration, lifetime, now) {
        Verdict::Live => match (policy.refresh_ahead, expiration) {
            (true, Some(e)) => {
                let left = (e - now).to_std().unwrap_or_default();
                if refresh_ahead_due(left, lifetime, took, draw) {
                    State::RefreshAhead
                } else {
                    State::Fresh
                }
            }
            _ => State::Fresh,
        },
        Verdict::Expired => {
            let Some(e) = expiration else {
                return State::Miss;
            };
            let late = (now - e).to_std().unwrap_or_default();
            if policy.stale_while_revalidate.is_some_and(|w| late <= w) {
                State::Stale
            } else if policy.stale_if_error.is_some_and(|w| late <= w) {
                State::ErrorFallback
            } else {
                State::Miss
            }
        }
        // Written under another lifetime: never served, whatever the windows.
        _ => State::Miss,
    }
}

/// Whether an entry with `left` before its expiry is due for an early refresh (XFetch): with a
/// computation taking `took`, the refresh is due when `left <= took × max(1, −ln draw)` — so
/// always in the last `took` (a later start could not finish in time), and before that with
/// probability `exp(−left / took)` per read. Never in the first half of a `lifetime` (so a key read
/// very often is not recomputed continuously), and never without a known `took`.
///
/// ```
/// use std::time::Duration;
/// use bucketcache_core::freshness::refresh_ahead_due;
/// let s = Duration::from_secs;
/// assert!(refresh_ahead_due(s(1), Some(s(60)), Some(s(2)), 1.0));
/// assert!(!refresh_ahead_due(s(10), Some(s(60)), Some(s(2)), 1.0));
/// assert!(refresh_ahead_due(s(10), Some(s(60)), Some(s(2)), 1e-3)); // −ln 0.001 ≈ 6.9
/// assert!(!refresh_ahead_due(s(1), Some(s(60)), None, 1e-3));
/// ```
pub fn refresh_ahead_due(
    left: Duration,
    lifetime: Option<Duration>,
    took: Option<Duration>,
    draw: f64,
) -> bool {
    let Some(took) = took else {
        return false;
    };
    if lifetime.is_some_and(|l| left > l / 2) {
        return false;
    }
    let draw = if draw > 0.0 && draw <= 1.0 { draw } else { 1.0 };
    let weight = (-draw.ln()).max(1.0);
    left.as_secs_f64() <= took.as_secs_f64() * weight
}

/// A uniform random number in `(0, 1]` from a per-thread generator (splitmix64; not for
/// cryptography — it only spreads early refreshes).
pub fn draw() -> f64 {
    thread_local! {
        static STATE: Cell<u64> = Cell::new(seed());
    }
    STATE.with(|s| {
        let mut z = s.get().wrapping_add(0x9e37_79b9_7f4a_7c15);
        s.set(z);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        // 53 random bits, in (0, 1].
        ((z >> 11) + 1) as f64 / (1u64 << 53) as f64
    })
}

fn seed() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let local = 0u8;
    nanos ^ (std::process::id() as u64) << 32 ^ (&local as *const u8 as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bucketcache_traits::time::parse_expiration;

    fn t(s: &str) -> Expiration {
        parse_expiration(s).unwrap()
    }

    #[test]
    fn without_options_an_expired_entry_is_a_miss_and_a_live_one_fresh() {
        let off = Freshness::default();
        let exp = Some(t("2030-01-01T00:01:00"));
        let l = Some(Duration::from_secs(60));
        assert_eq!(
            judge(
                &off,
                exp,
                l,
                t("2030-01-01T00:00:59"),
                Some(Duration::from_secs(5)),
                1e-9
            ),
            State::Fresh
        );
        assert_eq!(
            judge(&off, exp, l, t("2030-01-01T00:01:01"), None, 0.5),
            State::Miss
        );
    }

    #[test]
    fn stale_if_error_applies_past_the_revalidate_window() {
        let f = Freshness::default()
            .stale_while_revalidate(Duration::from_secs(10))
            .stale_if_error(Duration::from_secs(100));
        let exp = Some(t("2030-01-01T00:01:00"));
        let l = Some(Duration::from_secs(60));
        assert_eq!(
            judge(&f, exp, l, t("2030-01-01T00:01:10"), None, 0.5),
            State::Stale
        );
        assert_eq!(
            judge(&f, exp, l, t("2030-01-01T00:01:11"), None, 0.5),
            State::ErrorFallback
        );
        assert_eq!(
            judge(&f, exp, l, t("2030-01-01T00:02:41"), None, 0.5),
            State::Miss
        );
    }

    #[test]
    fn an_entry_written_under_another_lifetime_is_never_served_stale() {
        let f = Freshness::default().stale_while_revalidate(Duration::from_secs(10));
        // Expires in an hour, but the bucket's lifetime is a minute.
        let exp = Some(t("2030-01-01T01:00:00"));
        let l = Some(Duration::from_secs(60));
        assert_eq!(
            judge(&f, exp, l, t("2030-01-01T00:00:00"), None, 0.5),
            State::Miss
        );
        assert_eq!(
            judge(&f, None, l, t("2030-01-01T00:00:00"), None, 0.5),
            State::Miss
        );
    }

    #[test]
    fn early_refresh_becomes_likelier_as_expiry_nears() {
        let took = Some(Duration::from_millis(300));
        let l = Some(Duration::from_secs(10));
        let share = |left_ms: u64| {
            let mut due = 0;
            for i in 1..=10_000 {
                let u = i as f64 / 10_000.0;
                if refresh_ahead_due(Duration::from_millis(left_ms), l, took, u) {
                    due += 1;
                }
            }
            due
        };
        let (far, mid, near) = (share(2000), share(600), share(300));
        assert!(far < mid && mid < near, "{far} {mid} {near}");
        assert_eq!(near, 10_000);
        assert_eq!(share(6000), 0, "never in the first half of the lifetime");
    }

    #[test]
    fn draws_are_in_the_unit_interval_and_vary() {
        let a: Vec<f64> = (0..1000).map(|_| draw()).collect();
        assert!(a.iter().all(|x| *x > 0.0 && *x <= 1.0));
        let mean = a.iter().sum::<f64>() / a.len() as f64;
        assert!((0.4..0.6).contains(&mean), "{mean}");
    }
}
