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

pub use crate::expiration::{Expiration, ParseExpirationError};

/// Formats an expiration as Python's `datetime.isoformat()` does.
///
/// ```
/// use bucketcache_traits::time::{format_expiration, parse_expiration};
/// let e = parse_expiration("2100-01-01T00:00:00.123456").unwrap();
/// assert_eq!(format_expiration(&e), "2100-01-01T00:00:00.123456");
/// let e = parse_expiration("2100-01-01T00:00:00").unwrap();
/// assert_eq!(format_expiration(&e), "2100-01-01T00:00:00");
/// ```
pub fn format_expiration(e: &Expiration) -> String {
    IsoText::new(e).as_str().to_owned()
}

/// The `datetime.isoformat()` text of an expiration, on the stack: backends write it on every
/// set, and chrono's formatting machinery costs more than the rest of a small dump.
///
/// ```
/// use bucketcache_traits::time::{parse_expiration, IsoText};
/// let e = parse_expiration("2100-01-01T00:00:00.5").unwrap();
/// assert_eq!(IsoText::new(&e).as_str(), "2100-01-01T00:00:00.500000");
/// ```
#[derive(Debug, Clone, Copy)]
pub struct IsoText {
    buf: [u8; 32],
    len: usize,
}

impl IsoText {
    /// The text of `e` (truncated to the microsecond).
    pub fn new(e: &Expiration) -> IsoText {
        let mut buf = [0u8; 32];
        let (year, month, day) = e.date();
        let micros = e.microsecond();
        if !(0..=9999).contains(&year) {
            // Years Python cannot hold: chrono's `%Y` (signed, at least four digits).
            let mut text = String::with_capacity(32);
            let _ = e.write_date(&mut text);
            text.push('T');
            let _ = e.write_hms(&mut text);
            if micros != 0 {
                text.push_str(&format!(".{micros:06}"));
            }
            let len = text.len().min(buf.len());
            buf[..len].copy_from_slice(&text.as_bytes()[..len]);
            return IsoText { buf, len };
        }
        buf[..26].copy_from_slice(b"0000-00-00T00:00:00.000000");
        let mut put = |at: usize, width: usize, mut n: u32| {
            for i in (at..at + width).rev() {
                buf[i] = b'0' + (n % 10) as u8;
                n /= 10;
            }
        };
        put(0, 4, year as u32);
        put(5, 2, month);
        put(8, 2, day);
        put(11, 2, e.hour());
        put(14, 2, e.minute());
        put(17, 2, e.second());
        put(20, 6, micros);
        IsoText {
            buf,
            len: if micros == 0 { 19 } else { 26 },
        }
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        // Only ASCII digits, signs and separators were written.
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or_default()
    }
}

impl serde::Serialize for IsoText {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// Parses an expiration written by `datetime.isoformat()` (or a reasonable human variant).
///
/// Accepted: `YYYY-MM-DD`, optionally followed by `T` or a space and `HH:MM`, `HH:MM:SS` or
/// `HH:MM:SS.f` (1 to 9 fraction digits, kept to the microsecond). Refused: any time-zone offset
/// or `Z` (naive UTC is the format's contract), and everything else.
///
/// ```
/// use bucketcache_traits::time::parse_expiration;
/// assert!(parse_expiration("2100-01-01").is_some());
/// assert!(parse_expiration("2100-01-01 12:30").is_some());
/// assert!(parse_expiration("2100-01-01T00:00:00Z").is_none());
/// assert!(parse_expiration("2100-01-01T00:00:00+01:00").is_none());
/// assert!(parse_expiration("tomorrow").is_none());
/// ```
pub fn parse_expiration(text: &str) -> Option<Expiration> {
    if let Some(e) = parse_canonical(text.as_bytes()) {
        return Some(e); // what `isoformat()` writes, read on the fast path
    }
    let text = text.trim();
    let (date, time) = match text.find(['T', ' ']) {
        Some(i) => (&text[..i], Some(&text[i + 1..])),
        None => (text, None),
    };
    let (year, month, day) = parse_date(date)?;
    let (hour, minute, second, micro) = match time {
        None => (0, 0, 0, 0),
        Some(t) => parse_time(t.trim())?,
    };
    Expiration::from_ymd_hms_micro(year, month, day, hour, minute, second, micro)
}

/// Exactly `YYYY-MM-DDTHH:MM:SS` or `YYYY-MM-DDTHH:MM:SS.ffffff`; `None` for anything else.
fn parse_canonical(b: &[u8]) -> Option<Expiration> {
    if !(b.len() == 19 || (b.len() == 26 && b[19] == b'.')) {
        return None;
    }
    let punct = [(4, b'-'), (7, b'-'), (10, b'T'), (13, b':'), (16, b':')];
    if punct.iter().any(|&(i, c)| b[i] != c) {
        return None;
    }
    let num = |at: usize, width: usize| -> Option<u32> {
        b[at..at + width].iter().try_fold(0u32, |acc, d| {
            d.is_ascii_digit().then(|| acc * 10 + u32::from(d - b'0'))
        })
    };
    let micros = if b.len() == 26 { num(20, 6)? } else { 0 };
    Expiration::from_ymd_hms_micro(
        num(0, 4)? as i32,
        num(5, 2)?,
        num(8, 2)?,
        num(11, 2)?,
        num(14, 2)?,
        num(17, 2)?,
        micros,
    )
}

/// A run of 1 to `max` ASCII digits at the start of `s`, and the rest.
fn digits(s: &str, max: usize) -> Option<(u32, &str)> {
    let n = s.bytes().take_while(u8::is_ascii_digit).count().min(max);
    if n == 0 {
        return None;
    }
    Some((s[..n].parse().ok()?, &s[n..]))
}

/// `Y-M-D` as chrono's `%Y-%m-%d` reads it: a year of up to four digits (or a signed one of
/// more), a month and a day of one or two digits.
fn parse_date(s: &str) -> Option<(i32, u32, u32)> {
    let (sign, rest) = match s.as_bytes().first() {
        Some(b'+') => (1, &s[1..]),
        Some(b'-') => (-1, &s[1..]),
        _ => (1, s),
    };
    let width = if rest.len() == s.len() { 4 } else { 9 };
    let (year, rest) = digits(rest, width)?;
    let rest = rest.strip_prefix('-')?;
    let (month, rest) = digits(rest, 2)?;
    let rest = rest.strip_prefix('-')?;
    let (day, rest) = digits(rest, 2)?;
    rest.is_empty()
        .then_some((sign * i32::try_from(year).ok()?, month, day))
}

/// `H:M`, `H:M:S` or `H:M:S.f` (one or two digits each, any number of fraction digits, kept to
/// the microsecond).
fn parse_time(t: &str) -> Option<(u32, u32, u32, u32)> {
    if !t
        .bytes()
        .all(|b| b.is_ascii_digit() || b == b':' || b == b'.')
    {
        return None; // offsets, "Z", words
    }
    let (hour, rest) = digits(t, 2)?;
    let rest = rest.strip_prefix(':')?;
    let (minute, rest) = digits(rest, 2)?;
    if rest.is_empty() {
        return Some((hour, minute, 0, 0));
    }
    let rest = rest.strip_prefix(':')?;
    let (second, rest) = digits(rest, 2)?;
    if rest.is_empty() {
        return Some((hour, minute, second, 0));
    }
    let fraction = rest.strip_prefix('.')?;
    if fraction.is_empty() || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let micro = fraction
        .bytes()
        .chain(std::iter::repeat(b'0'))
        .take(6)
        .fold(0u32, |acc, d| acc * 10 + u32::from(d - b'0'));
    Some((hour, minute, second, micro))
}

/// The latest expiration an entry may have: the end of year 9999, the last date Python's
/// `datetime` (and so the original, and every built-in backend's format) can read.
///
/// ```
/// use bucketcache_traits::time::{format_expiration, latest_expiration};
/// assert_eq!(format_expiration(&latest_expiration()), "9999-12-31T23:59:59.999999");
/// ```
pub fn latest_expiration() -> Expiration {
    Expiration::from_ymd_hms_micro(9999, 12, 31, 23, 59, 59, 999_999).unwrap_or(Expiration::MAX)
}

/// Checks that `now + lifetime` is at most [`latest_expiration`]: a longer lifetime would write
/// expirations no reader of the format can read back.
///
/// ```
/// use std::time::Duration;
/// use bucketcache_traits::time::{check_lifetime, parse_expiration};
/// let now = parse_expiration("2030-01-01T00:00:00").unwrap();
/// assert!(check_lifetime(now, Duration::from_secs(86_400 * 365 * 1000)).is_ok());
/// let err = check_lifetime(now, Duration::MAX).unwrap_err();
/// assert!(err.to_string().contains("9999-12-31T23:59:59.999999"), "{err}");
/// ```
pub fn check_lifetime(now: Expiration, lifetime: Duration) -> crate::Result<()> {
    let latest = latest_expiration();
    let fits = now.checked_add(lifetime).is_some_and(|e| e <= latest);
    if fits {
        return Ok(());
    }
    let longest = latest
        .duration_since(now)
        .map_or(0, |d| d.as_secs() / 86_400);
    Err(crate::Error::InvalidLifetime(format!(
        "{lifetime:?} from now ({}) puts expirations past {}, the latest date Python's datetime \
         (and so every built-in format) can read; the longest lifetime from now is about \
         {longest} days",
        format_expiration(&now),
        format_expiration(&latest),
    )))
}

/// Adds a lifetime to a point in time, saturating at the largest representable date.
pub fn add_lifetime(now: Expiration, lifetime: Duration) -> Expiration {
    now.checked_add(lifetime).unwrap_or(Expiration::MAX)
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
        Expiration::from_system_time(std::time::SystemTime::now()).unwrap_or(Expiration::MAX)
    }
}

/// A clock that only moves when told to. Shared by cloning an `Arc` of it.
///
/// ```
/// use std::time::Duration;
/// use bucketcache_traits::time::{Clock, ManualClock};
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
            micros: AtomicI64::new(start.timestamp_micros()),
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
        self.micros.store(to.timestamp_micros(), Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Expiration {
        let micros = self.micros.load(Ordering::SeqCst);
        Expiration::from_timestamp_micros(micros).unwrap_or(if micros < 0 {
            Expiration::MIN
        } else {
            Expiration::MAX
        })
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
    fn fast_text_equals_chronos_isoformat_for_every_shape() {
        for t in [
            "2100-01-01T00:00:00.123456",
            "2100-01-01T00:00:00",
            "2000-01-01T01:00:00.500000",
            "0001-02-03T04:05:06.000007",
            "9999-12-31T23:59:59.999999",
        ] {
            let e = parse_expiration(t).unwrap();
            assert_eq!(IsoText::new(&e).as_str(), t);
            assert_eq!(parse_canonical(t.as_bytes()), Some(e));
        }
        let far = Expiration::from_ymd_hms_micro(12_345, 6, 7, 1, 2, 3, 4).unwrap();
        assert_eq!(IsoText::new(&far).as_str(), "+12345-06-07T01:02:03.000004");
    }

    #[test]
    fn odd_shapes_fall_back_to_the_lenient_reader() {
        assert_eq!(parse_canonical(b"2100-01-01"), None);
        assert_eq!(parse_canonical(b"2100-01-01 00:00:00"), None);
        assert_eq!(parse_canonical(b"2100-01-01T24:00:00"), None);
        assert_eq!(parse_canonical(b"2100-02-30T00:00:00"), None);
        assert!(parse_canonical(b"2100-01-01T00:00:00.000001").is_some());
        assert!(parse_expiration("2100-01-01 00:00:00").is_some());
        assert_eq!(parse_expiration("2100-01-01T00:00:0x"), None);
        assert_eq!(parse_expiration("２１００-01-01T00:00:00"), None);
    }

    proptest::proptest! {
        #[test]
        fn fast_isoformat_agrees_with_chrono(
            secs in -30_000_000_000i64..250_000_000_000,
            micros in 0u32..1_000_000,
            whole in proptest::prelude::any::<bool>(),
        ) {
            let micros = if whole { 0 } else { micros };
            let c = chrono::DateTime::from_timestamp(secs, micros * 1000).unwrap().naive_utc();
            let e = Expiration::from_timestamp_micros(c.and_utc().timestamp_micros()).unwrap();
            let chrono_text = if micros == 0 {
                c.format("%Y-%m-%dT%H:%M:%S").to_string()
            } else {
                c.format("%Y-%m-%dT%H:%M:%S%.6f").to_string()
            };
            let fast = IsoText::new(&e);
            proptest::prop_assert_eq!(fast.as_str(), chrono_text.as_str());
            proptest::prop_assert_eq!(parse_expiration(&chrono_text), Some(e));
        }

        #[test]
        fn fast_parse_never_accepts_what_the_lenient_reader_refuses(
            text in "[0-9T:. -]{19}|[0-9T:. -]{26}",
        ) {
            if let Some(e) = parse_canonical(text.as_bytes()) {
                let trimmed = text.trim();
                let (date, time) = trimmed.split_at(10);
                let lenient = chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").ok().and_then(|d| {
                    ["%H:%M:%S%.f", "%H:%M:%S", "%H:%M"].iter().find_map(|f| {
                        chrono::NaiveTime::parse_from_str(&time[1..], f).ok()
                    }).map(|t| d.and_time(t))
                }).map(|c| Expiration::from_timestamp_micros(c.and_utc().timestamp_micros()).unwrap());
                proptest::prop_assert_eq!(lenient, Some(e));
            }
        }
    }

    #[test]
    fn the_lenient_reader_reads_what_chrono_reads() {
        for text in [
            "2100-1-2",
            "2100-01-02 3:04",
            "2100-01-02T03:04:05.1",
            "2100-01-02T03:04:05.123456789",
            "2100-01-02T3:4:5",
            " 2100-01-02T03:04 ",
            "12100-01-02",
            "2100-01-02T03:04:05.",
            "2100-01-02T03",
            "2100-02-29",
            "2100-01-02T03:04:05:06",
        ] {
            let t = text.trim();
            let (date, time) = match t.find(['T', ' ']) {
                Some(i) => (&t[..i], Some(&t[i + 1..])),
                None => (t, None),
            };
            let theirs = chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d")
                .ok()
                .and_then(|d| match time {
                    None => Some(d.and_time(chrono::NaiveTime::MIN)),
                    Some(time) => ["%H:%M:%S%.f", "%H:%M:%S", "%H:%M"]
                        .iter()
                        .find_map(|f| chrono::NaiveTime::parse_from_str(time, f).ok())
                        .map(|tm| d.and_time(tm)),
                })
                .map(|c| {
                    let micros = c.and_utc().timestamp_micros();
                    Expiration::from_timestamp_micros(micros).unwrap()
                });
            assert_eq!(parse_expiration(text), theirs, "{text:?}");
        }
    }

    #[test]
    fn huge_lifetimes_saturate() {
        let now = SystemClock.now();
        assert_eq!(add_lifetime(now, Duration::MAX), Expiration::MAX);
    }
}
