//! [`Expiration`]: a naive UTC date and time with microsecond precision, without a calendar
//! library (civil-date arithmetic of its own, proleptic Gregorian, as chrono and Python's
//! `datetime` count).

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const MICROS_PER_SEC: i64 = 1_000_000;
const MICROS_PER_DAY: i64 = 86_400 * MICROS_PER_SEC;

/// A naive UTC date and time with microsecond precision: the expiration of an entry (the
/// original's `datetime.utcnow() + lifetime`).
///
/// It covers the years −262143 to 262142 (chrono's range); the formats of the built-in backends
/// can only hold years 1 to 9999 (see [`crate::time::latest_expiration`]). It displays as chrono's
/// `NaiveDateTime` does (`2030-01-01 00:01:30`), parses from `datetime.isoformat()` text, and, with
/// the feature `chrono`, converts to and from `chrono::NaiveDateTime`.
///
/// ```
/// use std::time::Duration;
/// use bucketcache_traits::Expiration;
/// let e = Expiration::from_ymd_hms_micro(2030, 1, 1, 0, 0, 0, 0).unwrap();
/// let later = e + Duration::from_secs(90);
/// assert_eq!(later.to_string(), "2030-01-01 00:01:30");
/// assert_eq!("2030-01-01T00:01:30".parse::<Expiration>().unwrap(), later);
/// assert_eq!((later.minute(), later.second()), (1, 30));
/// assert!(later > e);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Expiration {
    /// Microseconds since 1970-01-01T00:00:00.
    micros: i64,
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let (m, d) = (i64::from(month), i64::from(day));
    let y = if m <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day since 1970-01-01 (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(year) => 29,
        2 => 28,
        _ => 0,
    }
}

impl Expiration {
    /// The earliest representable instant, `-262143-01-01T00:00:00`.
    pub const MIN: Expiration = Expiration {
        micros: -8_334_601_228_800 * MICROS_PER_SEC,
    };
    /// The latest representable instant, `+262142-12-31T23:59:59.999999`.
    pub const MAX: Expiration = Expiration {
        micros: 8_210_266_876_800 * MICROS_PER_SEC - 1,
    };
    /// 1970-01-01T00:00:00.
    pub const UNIX_EPOCH: Expiration = Expiration { micros: 0 };

    /// The instant `micros` microseconds after 1970-01-01T00:00:00 (before it when negative);
    /// `None` outside [`MIN`](Self::MIN)..=[`MAX`](Self::MAX).
    ///
    /// ```
    /// use bucketcache_traits::Expiration;
    /// let e = Expiration::from_timestamp_micros(1_500_000).unwrap();
    /// assert_eq!(e.to_string(), "1970-01-01 00:00:01.500");
    /// assert_eq!(e.timestamp_micros(), 1_500_000);
    /// assert!(Expiration::from_timestamp_micros(i64::MAX).is_none());
    /// ```
    pub fn from_timestamp_micros(micros: i64) -> Option<Expiration> {
        (Self::MIN.micros..=Self::MAX.micros)
            .contains(&micros)
            .then_some(Expiration { micros })
    }

    /// Microseconds since 1970-01-01T00:00:00 (negative before it).
    pub fn timestamp_micros(&self) -> i64 {
        self.micros
    }

    /// The instant of a civil date and time; `None` for a date or time that does not exist
    /// (February 30th, hour 24, second 60, a microsecond ≥ 1,000,000) or is out of range.
    ///
    /// ```
    /// use bucketcache_traits::Expiration;
    /// let e = Expiration::from_ymd_hms_micro(2024, 2, 29, 23, 59, 59, 999_999).unwrap();
    /// assert_eq!((e.year(), e.month(), e.day(), e.microsecond()), (2024, 2, 29, 999_999));
    /// assert!(Expiration::from_ymd_hms_micro(2023, 2, 29, 0, 0, 0, 0).is_none());
    /// ```
    pub fn from_ymd_hms_micro(
        year: i32,
        month: u32,
        day: u32,
        hour: u32,
        minute: u32,
        second: u32,
        micro: u32,
    ) -> Option<Expiration> {
        let year = i64::from(year);
        if day == 0 || day > days_in_month(year, month) {
            return None;
        }
        if hour > 23 || minute > 59 || second > 59 || micro > 999_999 {
            return None;
        }
        let secs = i64::from(hour * 3600 + minute * 60 + second);
        let micros = days_from_civil(year, month, day)
            .checked_mul(MICROS_PER_DAY)?
            .checked_add(secs * MICROS_PER_SEC + i64::from(micro))?;
        Self::from_timestamp_micros(micros)
    }

    /// The civil date, computed once (year, month, day).
    pub(crate) fn date(&self) -> (i64, u32, u32) {
        civil_from_days(self.micros.div_euclid(MICROS_PER_DAY))
    }

    fn micros_of_day(&self) -> i64 {
        self.micros.rem_euclid(MICROS_PER_DAY)
    }

    /// The year (proleptic Gregorian; 0 is 1 BC).
    pub fn year(&self) -> i32 {
        self.date().0 as i32
    }
    /// The month, 1 to 12.
    pub fn month(&self) -> u32 {
        self.date().1
    }
    /// The day of the month, 1 to 31.
    pub fn day(&self) -> u32 {
        self.date().2
    }
    /// The hour, 0 to 23.
    pub fn hour(&self) -> u32 {
        (self.micros_of_day() / (3600 * MICROS_PER_SEC)) as u32
    }
    /// The minute, 0 to 59.
    pub fn minute(&self) -> u32 {
        (self.micros_of_day() / (60 * MICROS_PER_SEC) % 60) as u32
    }
    /// The second, 0 to 59.
    pub fn second(&self) -> u32 {
        (self.micros_of_day() / MICROS_PER_SEC % 60) as u32
    }
    /// The microsecond within the second, 0 to 999,999.
    pub fn microsecond(&self) -> u32 {
        (self.micros_of_day() % MICROS_PER_SEC) as u32
    }

    /// `self + d`, `None` past [`MAX`](Self::MAX).
    pub fn checked_add(self, d: Duration) -> Option<Expiration> {
        let d = i64::try_from(d.as_micros()).ok()?;
        Self::from_timestamp_micros(self.micros.checked_add(d)?)
    }

    /// `self - d`, `None` before [`MIN`](Self::MIN).
    pub fn checked_sub(self, d: Duration) -> Option<Expiration> {
        let d = i64::try_from(d.as_micros()).ok()?;
        Self::from_timestamp_micros(self.micros.checked_sub(d)?)
    }

    /// How long after `earlier` this is (`None` when it is before `earlier`).
    ///
    /// ```
    /// use std::time::Duration;
    /// use bucketcache_traits::Expiration;
    /// let a: Expiration = "2030-01-01T00:00:00".parse().unwrap();
    /// let b: Expiration = "2030-01-02T00:00:00.5".parse().unwrap();
    /// assert_eq!(b.duration_since(a), Some(Duration::from_millis(86_400_500)));
    /// assert_eq!(a.duration_since(b), None);
    /// ```
    pub fn duration_since(self, earlier: Expiration) -> Option<Duration> {
        let d = self.micros.checked_sub(earlier.micros)?;
        u64::try_from(d).ok().map(Duration::from_micros)
    }

    /// The same instant as a [`SystemTime`] (naive UTC read as UTC).
    pub fn to_system_time(self) -> SystemTime {
        let abs = Duration::from_micros(self.micros.unsigned_abs());
        if self.micros >= 0 {
            UNIX_EPOCH + abs
        } else {
            UNIX_EPOCH - abs
        }
    }

    /// The naive UTC instant of a [`SystemTime`], truncated to the microsecond; `None` out of
    /// range.
    ///
    /// ```
    /// use std::time::{Duration, UNIX_EPOCH};
    /// use bucketcache_traits::Expiration;
    /// let e = Expiration::from_system_time(UNIX_EPOCH + Duration::from_nanos(1_999)).unwrap();
    /// assert_eq!(e.timestamp_micros(), 1);
    /// assert_eq!(e.to_system_time(), UNIX_EPOCH + Duration::from_micros(1));
    /// ```
    pub fn from_system_time(t: SystemTime) -> Option<Expiration> {
        let micros = match t.duration_since(UNIX_EPOCH) {
            Ok(d) => i64::try_from(d.as_micros()).ok()?,
            Err(e) => {
                // Before the epoch: round towards the past, as a floor of the instant.
                let d = e.duration();
                let whole = i64::try_from(d.as_micros()).ok()?;
                let partial = d.as_nanos() % 1000 != 0;
                -whole - i64::from(partial)
            }
        };
        Self::from_timestamp_micros(micros)
    }

    /// The date as chrono's `%Y-%m-%d` writes it (years outside 0..=9999 signed).
    pub(crate) fn write_date(&self, out: &mut impl fmt::Write) -> fmt::Result {
        let (y, m, d) = self.date();
        if (0..=9999).contains(&y) {
            write!(out, "{y:04}-{m:02}-{d:02}")
        } else {
            write!(out, "{y:+05}-{m:02}-{d:02}")
        }
    }

    pub(crate) fn write_hms(&self, out: &mut impl fmt::Write) -> fmt::Result {
        write!(
            out,
            "{:02}:{:02}:{:02}",
            self.hour(),
            self.minute(),
            self.second()
        )
    }
}

impl Default for Expiration {
    /// 1970-01-01T00:00:00, as chrono's `NaiveDateTime::default()`.
    fn default() -> Expiration {
        Expiration::UNIX_EPOCH
    }
}

impl fmt::Display for Expiration {
    /// As chrono's `NaiveDateTime` shows itself: `2030-01-01 00:01:30`, with `.500` for whole
    /// milliseconds and `.000250` otherwise.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = String::with_capacity(32);
        self.write_date(&mut s)?;
        s.push(' ');
        self.write_hms(&mut s)?;
        let micro = self.microsecond();
        if micro == 0 {
        } else if micro % 1000 == 0 {
            fmt::Write::write_fmt(&mut s, format_args!(".{:03}", micro / 1000))?;
        } else {
            fmt::Write::write_fmt(&mut s, format_args!(".{micro:06}"))?;
        }
        f.pad(&s)
    }
}

impl fmt::Debug for Expiration {
    /// As chrono's `NaiveDateTime` debugs itself: `2030-01-01T00:01:30`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = self.to_string().replacen(' ', "T", 1);
        f.write_str(&text)
    }
}

/// Why a text is not an expiration (see [`crate::time::parse_expiration`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a naive ISO 8601 date and time (YYYY-MM-DDTHH:MM:SS[.ffffff], no offset)")]
pub struct ParseExpirationError;

impl std::str::FromStr for Expiration {
    type Err = ParseExpirationError;
    /// As [`crate::time::parse_expiration`].
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        crate::time::parse_expiration(s).ok_or(ParseExpirationError)
    }
}

impl std::ops::Add<Duration> for Expiration {
    type Output = Expiration;
    /// Saturating at [`Expiration::MAX`].
    fn add(self, d: Duration) -> Expiration {
        self.checked_add(d).unwrap_or(Expiration::MAX)
    }
}

impl std::ops::Sub<Duration> for Expiration {
    type Output = Expiration;
    /// Saturating at [`Expiration::MIN`].
    fn sub(self, d: Duration) -> Expiration {
        self.checked_sub(d).unwrap_or(Expiration::MIN)
    }
}

#[cfg(feature = "chrono")]
mod with_chrono {
    use super::Expiration;

    impl From<chrono::NaiveDateTime> for Expiration {
        /// Truncated to the microsecond (a leap second counts as the second before it).
        fn from(t: chrono::NaiveDateTime) -> Expiration {
            let micros = t.and_utc().timestamp_micros();
            Expiration::from_timestamp_micros(micros).unwrap_or(if micros < 0 {
                Expiration::MIN
            } else {
                Expiration::MAX
            })
        }
    }

    impl From<Expiration> for chrono::NaiveDateTime {
        fn from(e: Expiration) -> chrono::NaiveDateTime {
            chrono::DateTime::from_timestamp_micros(e.micros)
                .map(|d| d.naive_utc())
                .unwrap_or(chrono::NaiveDateTime::MAX)
        }
    }

    impl Expiration {
        /// This instant as a chrono UTC date and time (feature `chrono`).
        pub fn and_utc(self) -> chrono::DateTime<chrono::Utc> {
            chrono::NaiveDateTime::from(self).and_utc()
        }
    }

    impl std::ops::Add<chrono::TimeDelta> for Expiration {
        type Output = Expiration;
        /// Saturating at the ends of the range.
        fn add(self, d: chrono::TimeDelta) -> Expiration {
            let micros = d
                .num_microseconds()
                .unwrap_or(if d < chrono::TimeDelta::zero() {
                    i64::MIN
                } else {
                    i64::MAX
                });
            let sum = self.micros.saturating_add(micros);
            Expiration::from_timestamp_micros(sum).unwrap_or(if sum < 0 {
                Expiration::MIN
            } else {
                Expiration::MAX
            })
        }
    }

    impl std::ops::Sub<chrono::TimeDelta> for Expiration {
        type Output = Expiration;
        /// Saturating at the ends of the range.
        fn sub(self, d: chrono::TimeDelta) -> Expiration {
            self + (-d)
        }
    }

    impl std::ops::Sub<Expiration> for Expiration {
        type Output = chrono::TimeDelta;
        /// The signed time between two instants, as chrono's `NaiveDateTime - NaiveDateTime`.
        fn sub(self, earlier: Expiration) -> chrono::TimeDelta {
            chrono::TimeDelta::microseconds(self.micros - earlier.micros)
        }
    }

    impl Expiration {
        /// `self + d`, `None` out of range (feature `chrono`).
        pub fn checked_add_signed(self, d: chrono::TimeDelta) -> Option<Expiration> {
            Expiration::from_timestamp_micros(self.micros.checked_add(d.num_microseconds()?)?)
        }
        /// `self - d`, `None` out of range (feature `chrono`).
        pub fn checked_sub_signed(self, d: chrono::TimeDelta) -> Option<Expiration> {
            Expiration::from_timestamp_micros(self.micros.checked_sub(d.num_microseconds()?)?)
        }
    }

    impl PartialEq<chrono::NaiveDateTime> for Expiration {
        fn eq(&self, other: &chrono::NaiveDateTime) -> bool {
            chrono::NaiveDateTime::from(*self) == *other
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Datelike, NaiveDateTime, Timelike};

    fn chrono_of(micros: i64) -> NaiveDateTime {
        chrono::DateTime::from_timestamp_micros(micros)
            .unwrap()
            .naive_utc()
    }

    #[test]
    fn the_ends_of_the_range_are_chronos() {
        assert_eq!(
            format!("{:?}", Expiration::MAX),
            format!("{:?}", chrono::NaiveDateTime::MAX).replace(".999999999", ".999999")
        );
        assert_eq!(
            format!("{:?}", Expiration::MIN),
            format!("{:?}", chrono::NaiveDateTime::MIN)
        );
        assert!(Expiration::MAX
            .checked_add(Duration::from_micros(1))
            .is_none());
        assert!(Expiration::MIN
            .checked_sub(Duration::from_micros(1))
            .is_none());
    }

    proptest::proptest! {
        #[test]
        fn civil_fields_and_text_agree_with_chrono(
            micros in Expiration::MIN.micros..=Expiration::MAX.micros,
        ) {
            let ours = Expiration::from_timestamp_micros(micros).unwrap();
            let theirs = chrono_of(micros);
            proptest::prop_assert_eq!(
                (ours.year(), ours.month(), ours.day()),
                (theirs.year(), theirs.month(), theirs.day())
            );
            proptest::prop_assert_eq!(
                (ours.hour(), ours.minute(), ours.second(), ours.microsecond()),
                (theirs.hour(), theirs.minute(), theirs.second(), theirs.nanosecond() / 1000)
            );
            proptest::prop_assert_eq!(ours.to_string(), theirs.to_string());
            proptest::prop_assert_eq!(format!("{ours:?}"), format!("{theirs:?}"));
            let back = Expiration::from_ymd_hms_micro(
                ours.year(), ours.month(), ours.day(), ours.hour(), ours.minute(), ours.second(),
                ours.microsecond(),
            );
            proptest::prop_assert_eq!(back, Some(ours));
        }

        #[test]
        fn system_time_round_trips(micros in -10_000_000_000_000_000i64..10_000_000_000_000_000) {
            let e = Expiration::from_timestamp_micros(micros).unwrap();
            proptest::prop_assert_eq!(Expiration::from_system_time(e.to_system_time()), Some(e));
        }
    }
}
