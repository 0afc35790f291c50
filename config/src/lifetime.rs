//! Lifetimes written by humans: `"1h30m"`, `"90s"`, `"2d"`, `"1w 2d"`, `"500ms"`, or plain
//! seconds.

use std::time::Duration;

use serde::Deserialize as _;

use bucketcache_core::{Error, Result};

/// Parses a lifetime. Units: `w`, `d`, `h`, `m`, `s`, `ms`, `us` (or `µs`); a number without a
/// unit is seconds. Components may be separated by spaces; each unit may appear once (`"1h 1h"`
/// is refused, as a typo is likelier than a sum). Zero means "no lifetime" to a bucket.
///
/// ```
/// use std::time::Duration;
/// use bucketcache_config::lifetime::parse_lifetime;
/// assert_eq!(parse_lifetime("1h30m").unwrap(), Duration::from_secs(5400));
/// assert_eq!(parse_lifetime("90").unwrap(), Duration::from_secs(90));
/// assert_eq!(parse_lifetime("1.5s").unwrap(), Duration::from_millis(1500));
/// assert_eq!(parse_lifetime("1w 2d 500ms").unwrap(), Duration::from_millis(9 * 86_400_000 + 500));
/// assert!(parse_lifetime("soon").is_err());
/// assert!(parse_lifetime("1h 1h").is_err());
/// assert!(parse_lifetime("1h 30hours").is_err());
/// ```
pub fn parse_lifetime(text: &str) -> Result<Duration> {
    let bad = |why: &str| Error::InvalidLifetime(format!("{text:?}: {why}"));
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(bad("empty"));
    }
    if let Ok(secs) = trimmed.parse::<f64>() {
        return seconds(secs)
            .ok_or_else(|| bad("must be a finite, non-negative number of seconds"));
    }
    let mut total = Duration::ZERO;
    let mut seen: Vec<&str> = Vec::with_capacity(7);
    let mut rest = trimmed;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if number_len == 0 {
            return Err(bad("expected a number, like 1h30m"));
        }
        let number: f64 = rest[..number_len].parse().map_err(|_| bad("bad number"))?;
        rest = &rest[number_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.' || c.is_whitespace())
            .unwrap_or(rest.len());
        let (unit, scale) = match &rest[..unit_len] {
            "w" | "week" | "weeks" => ("w", 604_800.0),
            "d" | "day" | "days" => ("d", 86_400.0),
            "h" | "hour" | "hours" => ("h", 3_600.0),
            "m" | "min" | "mins" | "minute" | "minutes" => ("m", 60.0),
            "s" | "sec" | "secs" | "second" | "seconds" => ("s", 1.0),
            "ms" | "millisecond" | "milliseconds" => ("ms", 1e-3),
            "us" | "µs" | "microsecond" | "microseconds" => ("us", 1e-6),
            "" => return Err(bad("a unit is missing (w, d, h, m, s, ms, us)")),
            other => {
                return Err(bad(&format!(
                    "unknown unit {other:?} (w, d, h, m, s, ms, us)"
                )))
            }
        };
        if seen.contains(&unit) {
            return Err(bad(&format!("the unit {unit} is given twice")));
        }
        seen.push(unit);
        total = seconds(number * scale)
            .and_then(|part| total.checked_add(part))
            .ok_or_else(|| bad("too large"))?;
        rest = rest[unit_len..].trim_start();
    }
    Ok(total)
}

fn seconds(secs: f64) -> Option<Duration> {
    Duration::try_from_secs_f64(secs).ok()
}

/// Deserializes a lifetime from seconds (a number) or a human string.
pub(crate) fn deserialize_lifetime<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<Option<Duration>, D::Error> {
    #[derive(serde::Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Seconds(f64),
        Text(String),
    }
    use serde::de::Error as _;
    match Option::<Raw>::deserialize(d)? {
        None => Ok(None),
        Some(Raw::Seconds(s)) => seconds(s)
            .map(Some)
            .ok_or_else(|| D::Error::custom(format!("invalid lifetime: {s} seconds"))),
        Some(Raw::Text(t)) => parse_lifetime(&t).map(Some).map_err(D::Error::custom),
    }
}
