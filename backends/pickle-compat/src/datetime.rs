//! The pickled state of a Python `datetime.datetime`: 10 bytes,
//! `year_hi year_lo month day hour minute second us(3 bytes, big-endian)`. The month byte's
//! high bit is the `fold` flag (Python 3.6+), which a naive UTC expiration ignores.

use bucketcache_traits::Expiration as NaiveDateTime;
use bucketcache_unpickle::{PyDateTime, STATE_LEN};

/// Encodes `dt` (truncated to the microsecond, as Python holds it) as the datetime state.
/// Years outside 1..=9999 do not exist in Python; they are refused.
pub fn encode_state(dt: &NaiveDateTime) -> Result<[u8; STATE_LEN], String> {
    let year = dt.year();
    if !(1..=9999).contains(&year) {
        return Err(format!(
            "year {year} cannot be written as a Python datetime (1 to 9999)"
        ));
    }
    let us = dt.microsecond();
    let year = year as u16;
    Ok([
        (year >> 8) as u8,
        year as u8,
        dt.month() as u8,
        dt.day() as u8,
        dt.hour() as u8,
        dt.minute() as u8,
        dt.second() as u8,
        (us >> 16) as u8,
        (us >> 8) as u8,
        us as u8,
    ])
}

/// The expiration a decoded datetime stands for.
pub fn expiration_of(dt: &PyDateTime) -> Option<NaiveDateTime> {
    NaiveDateTime::from_ymd_hms_micro(
        dt.year.into(),
        dt.month.into(),
        dt.day.into(),
        dt.hour.into(),
        dt.minute.into(),
        dt.second.into(),
        dt.microsecond,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dt(s: &str) -> NaiveDateTime {
        bucketcache_traits::time::parse_expiration(s).unwrap()
    }

    fn decode_state(state: &[u8]) -> Result<NaiveDateTime, String> {
        let py = PyDateTime::from_state(state)?;
        expiration_of(&py).ok_or_else(|| format!("{py} is not an expiration"))
    }

    #[test]
    fn a_decoded_datetime_prints_as_the_expiration_does() {
        for t in [
            "2100-01-01T00:00:00.123456",
            "2000-02-29T23:59:59",
            "0001-01-01T00:00:00.000001",
            "9999-12-31T23:59:59.999999",
        ] {
            let py = PyDateTime::from_state(&encode_state(&dt(t)).unwrap()).unwrap();
            let text = bucketcache_traits::time::format_expiration(&dt(t));
            assert_eq!(py.to_string(), text);
        }
    }

    #[test]
    fn state_matches_the_original_bytes() {
        let s = encode_state(&dt("2100-01-01T00:00:00.123456")).unwrap();
        assert_eq!(s, [0x08, 0x34, 1, 1, 0, 0, 0, 0x01, 0xe2, 0x40]);
    }

    #[test]
    fn state_round_trips() {
        for t in [
            "2000-01-01T01:00:00.5",
            "1999-12-31T23:59:59.999999",
            "0001-01-01",
        ] {
            assert_eq!(decode_state(&encode_state(&dt(t)).unwrap()).unwrap(), dt(t));
        }
    }

    #[test]
    fn invalid_states_are_refused() {
        assert!(decode_state(&[0x08, 0x34, 13, 1, 0, 0, 0, 0, 0, 0]).is_err());
        assert!(decode_state(&[0x08, 0x34, 2, 30, 0, 0, 0, 0, 0, 0]).is_err());
        assert!(decode_state(&[0x08, 0x34, 1, 1, 24, 0, 0, 0, 0, 0]).is_err());
        assert!(decode_state(&[0x08, 0x34, 1, 1, 0, 0, 0, 0xff, 0xff, 0xff]).is_err());
        assert!(decode_state(&[0, 0, 1, 1, 0, 0, 0, 0, 0, 0]).is_err());
        assert!(decode_state(&[1, 2, 3]).is_err());
    }

    #[test]
    fn fold_bit_is_ignored() {
        let mut s = encode_state(&dt("2100-01-01T00:00:00")).unwrap();
        s[2] |= 0x80;
        assert_eq!(decode_state(&s).unwrap(), dt("2100-01-01T00:00:00"));
    }
}
