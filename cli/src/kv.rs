//! `bucketcache get|set|rm DIR KEY`: the map API of a bucket, keys and values as JSON text (DIR
//! is a namespace with `--store redis://…`).
//!
//! A key given as JSON names the same file as the equal key built in Rust (`"a"` = `"a"`,
//! `[1, "x"]` = `(1, "x")` or `vec![..]`, objects = maps/structs with the same fields): the JSON
//! text is parsed into a `serde_json::Value` and hashed by the bucket's keymaker, which sorts map
//! keys. With `--python` files are named as Python BucketCache names them.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail, Result};
use bucketcache::lifetime::parse_lifetime;
use bucketcache::store::Store;
use bucketcache::{Bucket, DEFAULT_BACKEND};

use super::output::outln;
use super::readonly::ReadOnly;
use super::scan::{backend_named, existing_dir, open_location, Location};
use super::value::AnyValue;
use super::{Ctx, EXIT_NEGATIVE};

/// What selects a bucket's files.
#[derive(Debug, clap::Args)]
pub struct BucketArgs {
    #[command(flatten)]
    pub location: Location,
    /// The backend (file format); default: the configuration's, else msgpack.
    #[arg(long, value_name = "NAME")]
    backend: Option<String>,
    /// Name files as Python BucketCache 0.12.1 does, to share the directory with Python.
    #[arg(long)]
    python: bool,
}

#[derive(Debug, clap::Args)]
pub struct GetArgs {
    #[command(flatten)]
    pub bucket: BucketArgs,
    /// The key, as JSON text (e.g. '"name"', '[1, "a"]', '{"user": 7}').
    key: String,
    /// Indent the printed JSON.
    #[arg(long)]
    pretty: bool,
}

#[derive(Debug, clap::Args)]
pub struct SetArgs {
    #[command(flatten)]
    pub bucket: BucketArgs,
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
    pub bucket: BucketArgs,
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

/// What a command does with the bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Use {
    /// Reads: the bucket's store is read-only (no expired entry deleted, nothing written).
    Read,
    /// Removes from an existing cache.
    Remove,
    /// Writes, creating the cache if needed.
    Write,
}

/// The bucket of `args`: the configuration's keys (`--config`) under the options given.
fn open(ctx: &Ctx, args: &BucketArgs, lifetime: Option<Duration>, what: Use) -> Result<Bucket> {
    let location = &args.location;
    let dir = &location.dir;
    let backend = args
        .backend
        .as_deref()
        .or(ctx.settings.backend())
        .unwrap_or(DEFAULT_BACKEND)
        .to_owned();
    backend_named(&backend)?; // an unknown name lists the known ones
    let mut builder = match ctx.settings.file() {
        Some(cfg) => {
            let mut cfg = cfg.clone();
            cfg.path = dir.clone();
            cfg.backend = Some(backend.clone());
            cfg.backend_options.retain(|name, _| *name == backend);
            // A command works on the store itself, not on a near copy of it.
            cfg.near_cache = None;
            cfg.near_ttl = None;
            if what == Use::Read {
                // A read records no use for a disk budget.
                cfg.max_bytes = None;
                cfg.max_entries = None;
            }
            cfg.builder()?
        }
        None => Bucket::builder(dir).backend(&backend),
    };
    builder = builder.max_entry_bytes(location.max_entry_bytes);
    if args.python {
        builder = builder.python_compatible();
    }
    if let Some(l) = lifetime.or(ctx.settings.lifetime()) {
        builder = builder.lifetime(l);
    }
    // The store: found as the read commands find it (a foreign data.mdb is not an LMDB store),
    // except for a `set` that creates the cache or names its store.
    let found = |location: &Location| -> Result<Arc<dyn Store>> { Ok(open_location(location)?) };
    builder = match what {
        Use::Read => builder.store_instance(Arc::new(ReadOnly(found(location)?))),
        Use::Remove => builder.store_instance(found(location)?),
        Use::Write => {
            let existing_lmdb = location.store.as_deref().is_none_or(str::is_empty)
                && bucketcache::lmdb::is_lmdb_dir(dir);
            if existing_lmdb {
                builder.store_instance(found(location)?)
            } else {
                if dir.exists() && !dir.is_dir() && location.store_url().is_none() {
                    existing_dir(dir)?; // the same message as the read commands
                }
                let store = match location.store_url() {
                    Some(url) => url.to_owned(),
                    None => location.name_for(dir),
                };
                let mut b = builder.store(store);
                if !location.store_options.is_null() {
                    b = b.store_options(location.store_options.clone());
                }
                b
            }
        }
    };
    Ok(builder.open()?)
}

pub fn get(ctx: &Ctx, args: GetArgs) -> Result<ExitCode> {
    let key = parse_json("KEY", &args.key)?;
    let bucket = open(ctx, &args.bucket, None, Use::Read)?;
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

pub fn set(ctx: &Ctx, args: SetArgs) -> Result<ExitCode> {
    let key = parse_json("KEY", &args.key)?;
    let value = parse_json("VALUE", &args.value)?;
    let lifetime = args.lifetime.as_deref().map(parse_lifetime).transpose()?;
    let bucket = open(ctx, &args.bucket, lifetime, Use::Write)?;
    bucket.set(&key, &value)?;
    tracing::info!(file = %bucket.path_for_key(&key)?.display(), "stored");
    Ok(ExitCode::SUCCESS)
}

pub fn rm(ctx: &Ctx, args: RmArgs) -> Result<ExitCode> {
    let key = parse_json("KEY", &args.key)?;
    let bucket = open(ctx, &args.bucket, None, Use::Remove)?;
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
