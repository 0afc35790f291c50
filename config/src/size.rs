//! Human sizes: `"64MiB"`, `"1.5GB"`, `"512 KiB"`, or a plain number of bytes.
//!
//! Binary units (`KiB`, `MiB`, `GiB`, `TiB`, also `K`i…) are powers of 1024, decimal ones (`KB`,
//! `MB`, `GB`, `TB`, also `K`, `M`, `G`, `T`) powers of 1000; units are case-insensitive.

use std::fmt;

use serde::de::{self, Visitor};
use serde::Deserializer;

use bucketcache_core::{Error, Result};

/// Parses a size in bytes.
///
/// ```
/// use bucketcache_config::size::parse_size;
/// assert_eq!(parse_size("64MiB")?, 64 << 20);
/// assert_eq!(parse_size("1.5GB")?, 1_500_000_000);
/// assert_eq!(parse_size(" 4096 ")?, 4096);
/// assert_eq!(parse_size("2 kib")?, 2048);
/// let e = parse_size("64 furlongs").unwrap_err();
/// assert!(e.to_string().contains("64 furlongs"), "{e}");
/// assert!(parse_size("").is_err() && parse_size("-1").is_err() && parse_size("1e3").is_err());
/// # Ok::<(), bucketcache_core::Error>(())
/// ```
pub fn parse_size(text: &str) -> Result<u64> {
    let trimmed = text.trim();
    let refuse = |why: &str| {
        Error::Config(format!(
            "{text:?} is not a size: {why} (give bytes, or a number and a unit such as \"64MiB\" \
             or \"1.5GB\")"
        ))
    };
    if trimmed.is_empty() {
        return Err(refuse("it is empty"));
    }
    if !trimmed.starts_with(|c: char| c.is_ascii_digit()) {
        return Err(refuse("it does not start with a number"));
    }
    let size: bytesize::ByteSize = trimmed.parse().map_err(|e: String| refuse(&e))?;
    if size.as_u64() == u64::MAX {
        return Err(refuse("it is too large"));
    }
    Ok(size.as_u64())
}

/// Deserializes an optional size: an integer number of bytes or a string for [`parse_size`].
pub(crate) fn deserialize_size<'de, D: Deserializer<'de>>(
    d: D,
) -> std::result::Result<Option<u64>, D::Error> {
    struct SizeVisitor;

    impl<'de> Visitor<'de> for SizeVisitor {
        type Value = Option<u64>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a size: a number of bytes or a string such as \"64MiB\"")
        }

        fn visit_u64<E: de::Error>(self, v: u64) -> std::result::Result<Self::Value, E> {
            Ok(Some(v))
        }

        fn visit_i64<E: de::Error>(self, v: i64) -> std::result::Result<Self::Value, E> {
            u64::try_from(v)
                .map(Some)
                .map_err(|_| E::custom(format!("{v} is not a size: it is negative")))
        }

        fn visit_f64<E: de::Error>(self, v: f64) -> std::result::Result<Self::Value, E> {
            Err(E::custom(format!(
                "{v} is not a size: give whole bytes, or a string such as \"1.5GB\""
            )))
        }

        fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<Self::Value, E> {
            parse_size(v).map(Some).map_err(|e| match e {
                Error::Config(text) => E::custom(text),
                other => E::custom(other),
            })
        }

        fn visit_none<E: de::Error>(self) -> std::result::Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_unit<E: de::Error>(self) -> std::result::Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_some<D: Deserializer<'de>>(
            self,
            d: D,
        ) -> std::result::Result<Self::Value, D::Error> {
            d.deserialize_any(self)
        }
    }

    d.deserialize_option(SizeVisitor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_and_decimal_units_and_plain_bytes() {
        assert_eq!(parse_size("1GiB").unwrap(), 1 << 30);
        assert_eq!(parse_size("1 GB").unwrap(), 1_000_000_000);
        assert_eq!(parse_size("100000").unwrap(), 100_000);
        assert_eq!(parse_size("0").unwrap(), 0);
        assert_eq!(parse_size("512KiB").unwrap(), 512 << 10);
    }

    #[test]
    fn malformed_sizes_are_refused_with_the_text() {
        for bad in [
            "",
            "  ",
            "MiB",
            "1.2.3MB",
            "12 parsecs",
            "-5MB",
            "1e9",
            "99999999EiB",
        ] {
            let e = parse_size(bad).expect_err(bad);
            assert!(matches!(e, Error::Config(_)), "{bad}: {e}");
            assert!(e.to_string().contains("is not a size"), "{bad}: {e}");
        }
    }
}
