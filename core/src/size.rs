//! Human sizes: `"64MiB"`, `"1.5GB"`, `"512 KiB"`, or a plain number of bytes.
//!
//! Binary units (`KiB`, `MiB`, `GiB`, `TiB`, also `K`i…) are powers of 1024, decimal ones (`KB`,
//! `MB`, `GB`, `TB`, also `K`, `M`, `G`, `T`) powers of 1000; units are case-insensitive.

use serde::{Deserialize, Deserializer};

use crate::error::{Error, Result};

/// Parses a size in bytes.
///
/// ```
/// use bucketcache_core::size::parse_size;
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

/// A size in a configuration: an integer (bytes) or a human string.
#[derive(Deserialize)]
#[serde(untagged)]
enum SizeValue {
    Bytes(u64),
    Text(String),
}

/// Deserializes an optional size: an integer number of bytes or a string for [`parse_size`].
pub(crate) fn deserialize_size<'de, D: Deserializer<'de>>(
    d: D,
) -> std::result::Result<Option<u64>, D::Error> {
    match Option::<SizeValue>::deserialize(d)? {
        None => Ok(None),
        Some(SizeValue::Bytes(n)) => Ok(Some(n)),
        Some(SizeValue::Text(t)) => parse_size(&t)
            .map(Some)
            .map_err(|e| serde::de::Error::custom(e.to_string())),
    }
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
