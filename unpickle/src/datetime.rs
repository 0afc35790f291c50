//! The pickled state of a Python `datetime.datetime`: 10 bytes,
//! `year_hi year_lo month day hour minute second us(3 bytes, big-endian)`. The month byte's
//! high bit is the `fold` flag (Python 3.6+), which a naive datetime read here ignores.

use std::fmt;

/// Length of the state.
pub const STATE_LEN: usize = 10;

/// A naive `datetime.datetime`, every field checked as Python's constructor checks it.
///
/// ```
/// use bucketcache_unpickle::PyDateTime;
/// let dt = PyDateTime::from_state(&[0x08, 0x34, 1, 1, 0, 0, 0, 0x01, 0xe2, 0x40]).unwrap();
/// assert_eq!((dt.year, dt.month, dt.day, dt.microsecond), (2100, 1, 1, 123_456));
/// assert_eq!(dt.to_string(), "2100-01-01T00:00:00.123456");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PyDateTime {
    /// 1 to 9999.
    pub year: u16,
    /// 1 to 12.
    pub month: u8,
    /// 1 to the month's length.
    pub day: u8,
    /// 0 to 23.
    pub hour: u8,
    /// 0 to 59.
    pub minute: u8,
    /// 0 to 59.
    pub second: u8,
    /// 0 to 999,999.
    pub microsecond: u32,
}

impl PyDateTime {
    /// Decodes a datetime state, validating every field as Python's constructor does.
    pub fn from_state(state: &[u8]) -> Result<PyDateTime, String> {
        let s: &[u8; STATE_LEN] = state
            .try_into()
            .map_err(|_| format!("datetime state has {} bytes, expected 10", state.len()))?;
        let dt = PyDateTime {
            year: u16::from(s[0]) << 8 | u16::from(s[1]),
            month: s[2] & 0x7f,
            day: s[3],
            hour: s[4],
            minute: s[5],
            second: s[6],
            microsecond: u32::from(s[7]) << 16 | u32::from(s[8]) << 8 | u32::from(s[9]),
        };
        if !(1..=9999).contains(&dt.year) || dt.microsecond > 999_999 {
            return Err(format!("datetime state {s:02x?} is out of range"));
        }
        let valid = (1..=12).contains(&dt.month)
            && dt.day >= 1
            && dt.day <= days_in_month(dt.year, dt.month)
            && dt.hour < 24
            && dt.minute < 60
            && dt.second < 60;
        if !valid {
            return Err(format!(
                "datetime state {s:02x?} is not a valid date and time"
            ));
        }
        Ok(dt)
    }
}

fn days_in_month(year: u16, month: u8) -> u8 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Python's `isoformat()`: the microseconds only when they are not zero.
impl fmt::Display for PyDateTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )?;
        if self.microsecond != 0 {
            write!(f, ".{:06}", self.microsecond)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_states_are_refused() {
        assert!(PyDateTime::from_state(&[0x08, 0x34, 13, 1, 0, 0, 0, 0, 0, 0]).is_err());
        assert!(PyDateTime::from_state(&[0x08, 0x34, 2, 30, 0, 0, 0, 0, 0, 0]).is_err());
        assert!(PyDateTime::from_state(&[0x08, 0x34, 1, 0, 0, 0, 0, 0, 0, 0]).is_err());
        assert!(PyDateTime::from_state(&[0x08, 0x34, 1, 1, 24, 0, 0, 0, 0, 0]).is_err());
        assert!(PyDateTime::from_state(&[0x08, 0x34, 1, 1, 0, 60, 0, 0, 0, 0]).is_err());
        assert!(PyDateTime::from_state(&[0x08, 0x34, 1, 1, 0, 0, 60, 0, 0, 0]).is_err());
        assert!(PyDateTime::from_state(&[0x08, 0x34, 1, 1, 0, 0, 0, 0xff, 0xff, 0xff]).is_err());
        assert!(PyDateTime::from_state(&[0, 0, 1, 1, 0, 0, 0, 0, 0, 0]).is_err());
        assert!(PyDateTime::from_state(&[0x27, 0x10, 1, 1, 0, 0, 0, 0, 0, 0]).is_err());
        assert!(PyDateTime::from_state(&[1, 2, 3]).is_err());
    }

    #[test]
    fn leap_days_follow_the_gregorian_rules() {
        // 2000 and 2024 have a 29 February; 1900 and 2100 do not.
        assert!(PyDateTime::from_state(&[0x07, 0xd0, 2, 29, 0, 0, 0, 0, 0, 0]).is_ok());
        assert!(PyDateTime::from_state(&[0x07, 0xe8, 2, 29, 0, 0, 0, 0, 0, 0]).is_ok());
        assert!(PyDateTime::from_state(&[0x07, 0x6c, 2, 29, 0, 0, 0, 0, 0, 0]).is_err());
        assert!(PyDateTime::from_state(&[0x08, 0x34, 2, 29, 0, 0, 0, 0, 0, 0]).is_err());
    }

    #[test]
    fn the_fold_bit_is_ignored() {
        let dt = PyDateTime::from_state(&[0x08, 0x34, 0x81, 1, 0, 0, 0, 0, 0, 0]).unwrap();
        assert_eq!(dt.month, 1);
    }

    #[test]
    fn isoformat_shows_microseconds_only_when_not_zero() {
        let dt = PyDateTime::from_state(&[0, 1, 1, 1, 1, 2, 3, 0, 0, 0]).unwrap();
        assert_eq!(dt.to_string(), "0001-01-01T01:02:03");
        let dt = PyDateTime::from_state(&[0, 1, 1, 1, 1, 2, 3, 0, 0, 5]).unwrap();
        assert_eq!(dt.to_string(), "0001-01-01T01:02:03.000005");
    }
}
