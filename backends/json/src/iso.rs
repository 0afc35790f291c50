//! Expirations as `datetime.isoformat()` text, written and read without chrono's format
//! machinery (which cost about a microsecond per file, more than the rest of a small dump).
//! Anything outside the two canonical shapes falls back to `bucketcache_core::time`.

use std::borrow::Cow;
use std::fmt;

use bucketcache_core::time::{format_expiration, parse_expiration};
use bucketcache_core::Expiration;
use chrono::{Datelike, NaiveDate, Timelike};
use serde::de::{self, Deserializer, Visitor};

/// The text of an expiration, on the stack when it has the canonical shape.
pub(crate) enum IsoText {
    Fast { buf: [u8; 26], len: usize },
    Slow(String),
}

impl IsoText {
    pub(crate) fn new(e: &Expiration) -> IsoText {
        let (year, micro) = (e.year(), e.nanosecond() / 1000);
        if !(0..=9999).contains(&year) || micro >= 1_000_000 {
            return IsoText::Slow(format_expiration(e));
        }
        let mut buf = [0u8; 26];
        let mut put = |at: usize, v: u32, width: usize| {
            let mut v = v;
            for i in (at..at + width).rev() {
                buf[i] = b'0' + (v % 10) as u8;
                v /= 10;
            }
        };
        put(0, year as u32, 4);
        put(5, e.month(), 2);
        put(8, e.day(), 2);
        put(11, e.hour(), 2);
        put(14, e.minute(), 2);
        put(17, e.second(), 2);
        let len = if micro == 0 {
            19
        } else {
            put(20, micro, 6);
            26
        };
        buf[4] = b'-';
        buf[7] = b'-';
        buf[10] = b'T';
        buf[13] = b':';
        buf[16] = b':';
        buf[19] = b'.';
        IsoText::Fast { buf, len }
    }

    pub(crate) fn as_str(&self) -> &str {
        match self {
            // Only ASCII digits and separators were written.
            IsoText::Fast { buf, len } => std::str::from_utf8(&buf[..*len]).unwrap_or_default(),
            IsoText::Slow(s) => s,
        }
    }
}

impl serde::Serialize for IsoText {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// Reads an expiration: the canonical `YYYY-MM-DDTHH:MM:SS[.ffffff]` directly, anything else
/// through [`parse_expiration`].
pub(crate) fn parse(text: &str) -> Option<Expiration> {
    parse_canonical(text.as_bytes()).or_else(|| parse_expiration(text))
}

fn parse_canonical(b: &[u8]) -> Option<Expiration> {
    if !(b.len() == 19 || (b.len() == 26 && b[19] == b'.')) {
        return None;
    }
    if b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let num = |from: usize, to: usize| -> Option<u32> {
        b[from..to].iter().try_fold(0u32, |acc, &d| {
            d.is_ascii_digit().then(|| acc * 10 + u32::from(d - b'0'))
        })
    };
    let micro = if b.len() == 26 { num(20, 26)? } else { 0 };
    NaiveDate::from_ymd_opt(num(0, 4)? as i32, num(5, 7)?, num(8, 10)?)?.and_hms_micro_opt(
        num(11, 13)?,
        num(14, 16)?,
        num(17, 19)?,
        micro,
    )
}

/// The expiration field as read: `null` or text, borrowed from the file when it has no escapes.
pub(crate) struct ExpField<'a>(pub(crate) Option<Cow<'a, str>>);

impl<'de: 'a, 'a> serde::Deserialize<'de> for ExpField<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Text<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for Text<'a> {
            type Value = ExpField<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("null or an ISO date and time")
            }
            fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(ExpField(None))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(ExpField(None))
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
                d.deserialize_str(self)
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(ExpField(Some(Cow::Borrowed(v))))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(ExpField(Some(Cow::Owned(v.to_owned()))))
            }
        }
        d.deserialize_option(Text(std::marker::PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_text_equals_python_isoformat() {
        for t in [
            "2100-01-01T00:00:00.123456",
            "2100-01-01T00:00:00",
            "2000-01-01T01:00:00.500000",
            "0001-02-03T04:05:06.000007",
            "9999-12-31T23:59:59.999999",
        ] {
            let e = parse_expiration(t).unwrap();
            assert_eq!(IsoText::new(&e).as_str(), t);
            assert_eq!(IsoText::new(&e).as_str(), format_expiration(&e));
            assert_eq!(parse_canonical(t.as_bytes()), Some(e));
        }
    }

    #[test]
    fn odd_shapes_fall_back_to_the_lenient_reader() {
        assert_eq!(parse_canonical(b"2100-01-01"), None);
        assert_eq!(parse("2100-01-01"), parse_expiration("2100-01-01"));
        assert_eq!(
            parse("2100-01-01T00:00:00.5"),
            parse_expiration("2100-01-01T00:00:00.5")
        );
        assert_eq!(parse("2100-13-01T00:00:00"), None);
        assert_eq!(parse("2100-01-01T00:00:0x"), None);
        assert_eq!(parse("2100-01-01T00:00:00+01:00"), None);
        assert_eq!(parse("２１００-01-01T00:00:00"), None);
    }
}
