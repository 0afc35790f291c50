//! `bucketcache get|set|rm DIR KEY`: the map API of a bucket, keys and values as JSON text (DIR
//! is a namespace with `--store redis://…`).
//!
//! A key given as JSON names the same file as the equal key built in Rust (`"a"` = `"a"`,
//! `[1, "x"]` = `(1, "x")` or `vec![..]`, objects = maps/structs with the same fields): the JSON
//! text is parsed into a `serde_json::Value` and hashed by the bucket's keymaker, which sorts map
//! keys. With `--python` files are named as Python BucketCache names them.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{anyhow, bail, Result};
use bucketcache::lifetime::parse_lifetime;
use bucketcache::{Bucket, DEFAULT_BACKEND};

use super::output::outln;
use super::scan::{backend_named, existing_dir, Location};
use super::value::AnyValue;
use super::{Ctx, EXIT_NEGATIVE};

/// What selects a bucket's files.
#[derive(Debug, clap::Args)]
pub struct BucketArgs {
    #[command(flatten)]
    location: Location,
    /// The backend (file format).
    #[arg(long, value_name = "NAME", default_value = DEFAULT_BACKEND)]
    backend: String,
    /// Name files as Python BucketCache 0.12.1 does, to share the directory with Python.
    #[arg(long)]
    python: bool,
}

#[derive(Debug, clap::Args)]
pub struct GetArgs {
    #[command(flatten)]
    bucket: BucketArgs,
    /// The key, as JSON text (e.g. '"name"', '[1, "a"]', '{"user": 7}').
    key: String,
    /// Indent the printed JSON.
    #[arg(long)]
    pretty: bool,
}

#[derive(Debug, clap::Args)]
pub struct SetArgs {
    #[command(flatten)]
    bucket: BucketArgs,
    /// The key, as JSON text.
    key: String,
    /// The value, as JSON text.
    value: String,
    /// The entry's lifetime, e.g. 1h30m, 90s, 2d, or seconds (default: never expires).
    #[arg(long, value_name = "DURATION")]
    lifetime: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct RmArgs {
    #[command(flatten)]
    bucket: BucketArgs,
    /// The key, as JSON text.
    key: String,
}

/// Parses a command-line argument as JSON; the error says which argument, where it failed, and
/// (for a bare word) that strings need quotes.
pub fn parse_json(what: &str, text: &str) -> Result<serde_json::Value> {
    let value = serde_json::from_str(text).map_err(|e| {
        let bare_word = text.trim_start().starts_with(|c: char| c.is_alphabetic())
            && !["true", "false", "null"].contains(&text.trim());
        let hint = if bare_word {
            " (a string needs quotes: '\"name\"')"
        } else {
            ""
        };
        anyhow!("{what} is not valid JSON: {e}, in {text:?}{hint}")
    })?;
    if let Some(big) = integer_beyond_64_bits(text) {
        // serde_json would read it as a float: a different key than Python's int, a rounded value.
        bail!("{what}: the integer {big} does not fit in 64 bits, which keys and values here must");
    }
    Ok(value)
}

/// The first integer literal of a valid JSON text that fits neither `i64` nor `u64`.
fn integer_beyond_64_bits(text: &str) -> Option<&str> {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
            }
            b'-' | b'0'..=b'9' => {
                let start = i;
                while i < bytes.len()
                    && matches!(bytes[i], b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9')
                {
                    i += 1;
                }
                let token = &text[start..i];
                let integer = !token.contains(['.', 'e', 'E']);
                if integer && token.parse::<i64>().is_err() && token.parse::<u64>().is_err() {
                    return Some(token);
                }
            }
            _ => i += 1,
        }
    }
    None
}

fn open(args: &BucketArgs, lifetime: Option<Duration>, must_exist: bool) -> Result<Bucket> {
    let dir = &args.location.dir;
    let store = match args.location.store_url() {
        Some(url) => url.to_owned(),
        None if must_exist => {
            existing_dir(dir)?;
            args.location.check_existing(dir)?
        }
        None => {
            if dir.exists() && !dir.is_dir() {
                existing_dir(dir)?; // the same message as the read commands
            }
            args.location.name_for(dir)
        }
    };
    backend_named(&args.backend)?; // an unknown name lists the known ones
    let mut builder = Bucket::builder(dir).store(store).backend(&args.backend);
    if args.python {
        builder = builder.python_compatible();
    }
    if let Some(l) = lifetime {
        builder = builder.lifetime(l);
    }
    Ok(builder.open()?)
}

pub fn get(ctx: &Ctx, args: GetArgs) -> Result<ExitCode> {
    let key = parse_json("KEY", &args.key)?;
    let bucket = open(&args.bucket, None, true)?;
    match bucket.get::<AnyValue>(&key)? {
        Some(AnyValue(value)) => {
            let text = if args.pretty {
                serde_json::to_string_pretty(&value)?
            } else {
                serde_json::to_string(&value)?
            };
            outln!("{text}")?;
            Ok(ExitCode::SUCCESS)
        }
        None => {
            if !ctx.out.quiet {
                eprintln!("no live entry for key {}", args.key.trim());
            }
            Ok(ExitCode::from(EXIT_NEGATIVE))
        }
    }
}

pub fn set(_ctx: &Ctx, args: SetArgs) -> Result<ExitCode> {
    let key = parse_json("KEY", &args.key)?;
    let value = parse_json("VALUE", &args.value)?;
    let lifetime = args.lifetime.as_deref().map(parse_lifetime).transpose()?;
    let bucket = open(&args.bucket, lifetime, false)?;
    bucket.set(&key, &value)?;
    tracing::info!(file = %bucket.path_for_key(&key)?.display(), "stored");
    Ok(ExitCode::SUCCESS)
}

pub fn rm(ctx: &Ctx, args: RmArgs) -> Result<ExitCode> {
    let key = parse_json("KEY", &args.key)?;
    let bucket = open(&args.bucket, None, true)?;
    if bucket.remove(&key)? {
        Ok(ExitCode::SUCCESS)
    } else {
        if !ctx.out.quiet {
            eprintln!("no live entry for key {}", args.key.trim());
        }
        Ok(ExitCode::from(EXIT_NEGATIVE))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_json_says_where_it_failed() {
        let err = parse_json("KEY", "[1, 2").unwrap_err();
        let text = format!("{err:#}");
        assert!(text.contains("KEY is not valid JSON"), "{text}");
        assert!(text.contains("line 1 column 5"), "{text}");
    }

    #[test]
    fn integers_beyond_64_bits_are_refused_not_rounded() {
        let err = parse_json(
            "KEY",
            r#"[1, "99999999999999999999", 18446744073709551616]"#,
        );
        let err = err.unwrap_err().to_string();
        assert!(err.contains("18446744073709551616 does not fit"), "{err}");
        assert!(parse_json("KEY", "[18446744073709551615, -9223372036854775808, 1e30]").is_ok());
        assert!(parse_json("KEY", r#""\\" 1""#).is_err(), "not JSON at all");
        assert!(parse_json("KEY", r#"["\"123456789012345678901234"]"#).is_ok());
    }

    #[test]
    fn bare_words_are_not_strings() {
        let err = parse_json("KEY", "name").unwrap_err().to_string();
        assert!(err.contains("a string needs quotes"), "{err}");
        let err = parse_json("KEY", "[1,").unwrap_err().to_string();
        assert!(!err.contains("quotes"), "{err}");
        assert_eq!(parse_json("KEY", "\"name\"").unwrap(), "name");
    }
}
