//! The pickled state of a Python `datetime.datetime`: 10 bytes,
//! `year_hi year_lo month day hour minute second us(3 bytes, big-endian)`. The month byte's
//! high bit is the `fold` flag (Python 3.6+), which a naive UTC expiration ignores.

use bucketcache_traits::Expiration as NaiveDateTime;

/// Length of the state.
pub const STATE_LEN: usize = 10;

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

/// Decodes a datetime state, validating every field as Python's constructor does.
pub fn decode_state(state: &[u8]) -> Result<NaiveDateTime, String> {
    let s: &[u8; STATE_LEN] = state
        .try_into()
        .map_err(|_| format!("datetime state has {} bytes, expected 10", state.len()))?;
    let year = i32::from(s[0]) << 8 | i32::from(s[1]);
    let month = u32::from(s[2] & 0x7f);
    let us = u32::from(s[7]) << 16 | u32::from(s[8]) << 8 | u32::from(s[9]);
    if !(1..=9999).contains(&year) || us > 999_999 {
        return Err(format!("datetime state {s:02x?} is out of range"));
    }
    let (day, hour, minute, second) = (s[3], s[4], s[5], s[6]);
    let (day, hour, minute, second) = (day.into(), hour.into(), minute.into(), second.into());
    NaiveDateTime::from_ymd_hms_micro(year, month, day, hour, minute, second, us)
        .ok_or_else(|| format!("datetime state {s:02x?} is not a valid date and time"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dt(s: &str) -> NaiveDateTime {
        bucketcache_traits::time::parse_expiration(s).unwrap()
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
