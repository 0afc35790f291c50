//! Expiration dates and clocks.
//!
//! The original stores expirations as *naive UTC* datetimes (`datetime.utcnow() + lifetime`), and
//! JSON and msgpack files hold them as `datetime.isoformat()` text: `%Y-%m-%dT%H:%M:%S`, followed
//! by `.%6f` only when the microsecond is not zero, and no offset. This module writes exactly that
//! and reads it back leniently (a date alone, a space separator, fewer fraction digits), refusing
//! anything with an offset: the original crashed comparing tz-aware dates; here such an entry is a
//! miss.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use chrono::{NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, Timelike};

/// A naive UTC date and time with microsecond precision: the expiration of an entry.
pub type Expiration = NaiveDateTime;

/// Formats an expiration as Python's `datetime.isoformat()` does.
///
/// ```
/// use bucketcache_core::time::{format_expiration, parse_expiration};
/// let e = parse_expiration("2100-01-01T00:00:00.123456").unwrap();
/// assert_eq!(format_expiration(&e), "2100-01-01T00:00:00.123456");
/// let e = parse_expiration("2100-01-01T00:00:00").unwrap();
/// assert_eq!(format_expiration(&e), "2100-01-01T00:00:00");
/// ```
pub fn format_expiration(e: &Expiration) -> String {
    let e = truncate_to_micros(*e);
    if e.nanosecond() == 0 {
        e.format("%Y-%m-%dT%H:%M:%S").to_string()
    } else {
        e.format("%Y-%m-%dT%H:%M:%S%.6f").to_string()
    }
}

/// Parses an expiration written by `datetime.isoformat()` (or a reasonable human variant).
///
/// Accepted: `YYYY-MM-DD`, optionally followed by `T` or a space and `HH:MM`, `HH:MM:SS` or
/// `HH:MM:SS.f` (1 to 9 fraction digits, kept to the microsecond). Refused: any time-zone offset
/// or `Z` (naive UTC is the format's contract), and everything else.
///
/// ```
/// use bucketcache_core::time::parse_expiration;
/// assert!(parse_expiration("2100-01-01").is_some());
/// assert!(parse_expiration("2100-01-01 12:30").is_some());
/// assert!(parse_expiration("2100-01-01T00:00:00Z").is_none());
/// assert!(parse_expiration("2100-01-01T00:00:00+01:00").is_none());
/// assert!(parse_expiration("tomorrow").is_none());
/// ```
pub fn parse_expiration(text: &str) -> Option<Expiration> {
    let text = text.trim();
    let (date, time) = match text.find(['T', ' ']) {
        Some(i) => (&text[..i], Some(&text[i + 1..])),
        None => (text, None),
    };
    let date = NaiveDate::parse_from_str(date, "%Y-%m-%d").ok()?;
    let time = match time {
        None => NaiveTime::MIN,
        Some(t) => parse_time(t.trim())?,
    };
    Some(truncate_to_micros(NaiveDateTime::new(date, time)))
}

fn parse_time(t: &str) -> Option<NaiveTime> {
    if !t
        .bytes()
        .all(|b| b.is_ascii_digit() || b == b':' || b == b'.')
    {
        return None; // offsets, "Z", words
    }
    ["%H:%M:%S%.f", "%H:%M:%S", "%H:%M"]
        .iter()
        .find_map(|f| NaiveTime::parse_from_str(t, f).ok())
}

fn truncate_to_micros(e: NaiveDateTime) -> NaiveDateTime {
    let micros = e.nanosecond() / 1000 * 1000;
    e.with_nanosecond(micros).unwrap_or(e)
}

/// Adds a lifetime to a point in time, saturating at the largest representable date.
pub fn add_lifetime(now: Expiration, lifetime: Duration) -> Expiration {
    TimeDelta::from_std(lifetime)
        .ok()
        .and_then(|d| now.checked_add_signed(d))
        .unwrap_or(NaiveDateTime::MAX)
}

/// Where a bucket gets "now" from. The default is the system clock in UTC; tests use
/// [`ManualClock`] so that expiry needs no sleeping.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// The current naive UTC time.
    fn now(&self) -> Expiration;
}

/// The system clock, in naive UTC (as the original's `datetime.utcnow()`).
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Expiration {
        truncate_to_micros(chrono::Utc::now().naive_utc())
    }
}

/// A clock that only moves when told to. Shared by cloning an `Arc` of it.
///
/// ```
/// use std::time::Duration;
/// use bucketcache_core::time::{Clock, ManualClock};
/// let clock = ManualClock::new("2030-01-01T00:00:00".parse().unwrap());
/// clock.advance(Duration::from_secs(90));
/// assert_eq!(clock.now().to_string(), "2030-01-01 00:01:30");
/// ```
#[derive(Debug)]
pub struct ManualClock {
    micros: AtomicI64,
}

impl ManualClock {
    /// A clock standing at `start`.
    pub fn new(start: Expiration) -> Self {
        ManualClock {
            micros: AtomicI64::new(start.and_utc().timestamp_micros()),
        }
    }

    /// A clock standing at the current system time.
    pub fn starting_now() -> Self {
        Self::new(SystemClock.now())
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: Duration) {
        let by = i64::try_from(by.as_micros()).unwrap_or(i64::MAX);
        self.micros.fetch_add(by, Ordering::SeqCst);
    }

    /// Puts the clock at `to`.
    pub fn set(&self, to: Expiration) {
        self.micros
            .store(to.and_utc().timestamp_micros(), Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Expiration {
        let micros = self.micros.load(Ordering::SeqCst);
        chrono::DateTime::from_timestamp_micros(micros)
            .map(|d| d.naive_utc())
            .unwrap_or(NaiveDateTime::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn microseconds_are_omitted_when_zero() {
        let e = parse_expiration("2100-01-01T00:00:00.000000").unwrap();
        assert_eq!(format_expiration(&e), "2100-01-01T00:00:00");
    }

    #[test]
    fn short_fractions_are_read_as_python_does() {
        let e = parse_expiration("2000-01-01T01:00:00.5").unwrap();
        assert_eq!(format_expiration(&e), "2000-01-01T01:00:00.500000");
    }

    #[test]
    fn nanoseconds_are_truncated_to_micros() {
        let e = parse_expiration("2000-01-01T01:00:00.123456789").unwrap();
        assert_eq!(format_expiration(&e), "2000-01-01T01:00:00.123456");
    }

    #[test]
    fn offsets_and_garbage_are_refused() {
        for bad in [
            "",
            "2100-13-01",
            "2100-01-01T25:00",
            "2100-01-01T00:00:00-05:00",
            "x",
        ] {
            assert!(parse_expiration(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn huge_lifetimes_saturate() {
        let now = SystemClock.now();
        assert_eq!(add_lifetime(now, Duration::MAX), NaiveDateTime::MAX);
    }
}
