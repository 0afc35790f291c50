//! `bucketcache prune DIR`: delete expired entries (the library's `Bucket::prune`), or with
//! `--dry-run` list what it would delete without deleting anything.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Result;
use bucketcache::lifetime::parse_lifetime;
use bucketcache::time::{add_lifetime, format_expiration};
use bucketcache::{Bucket, Expiration, DEFAULT_BACKEND};
use serde_json::json;

use super::output::{human_bytes, outln, utc_text, Style, Table};
use super::scan::{existing_dir, scan, select_backends, stale_temp_files, Depth, Entry, Selected};
use super::Ctx;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The cache directory.
    dir: PathBuf,
    /// The backend whose files to prune.
    #[arg(long, value_name = "NAME", default_value = DEFAULT_BACKEND, conflicts_with = "all_backends")]
    backend: String,
    /// Prune the files of every known backend.
    #[arg(long)]
    all_backends: bool,
    /// List what would be deleted; delete nothing.
    #[arg(long)]
    dry_run: bool,
    /// Prune as a bucket with this lifetime does: entries that never expire or that outlive
    /// now + lifetime were written under another lifetime and go too.
    #[arg(long, value_name = "DURATION")]
    lifetime: Option<String>,
    /// One JSON object per backend per line: backend, dry_run, files, bytes, removed (a list of
    /// {file, size, expiration, reason}).
    #[arg(long)]
    json: bool,
}

/// A file that goes (or would go).
#[derive(Debug, Clone)]
struct Doomed {
    file: String,
    size: u64,
    expiration: Option<Expiration>,
    reason: &'static str,
}

/// The library's expiry rule for a bucket with `lifetime` (see `Bucket::prune`).
fn goes(e: &Entry, now: Expiration, lifetime: Option<Duration>) -> bool {
    if !e.envelope_ok {
        return false; // prune leaves files it cannot decode alone
    }
    if e.expiration.is_some_and(|x| now > x) {
        return true;
    }
    match lifetime {
        None => false,
        Some(l) => match e.expiration {
            None => true,
            Some(x) => x > add_lifetime(now, l),
        },
    }
}

fn doomed(
    dir: &Path,
    sel: &Selected,
    entries: &[Entry],
    now: Expiration,
    lifetime: Option<Duration>,
) -> Result<Vec<Doomed>> {
    let mut out: Vec<Doomed> = entries
        .iter()
        .filter(|e| e.backend == sel.info.name && goes(e, now, lifetime))
        .map(|e| Doomed {
            file: e.file.clone(),
            size: e.size,
            expiration: e.expiration,
            reason: if e.expiration.is_some_and(|x| now > x) {
                "expired"
            } else {
                "lifetime changed"
            },
        })
        .collect();
    out.sort_by(|a, b| a.file.cmp(&b.file));
    for t in stale_temp_files(dir, &sel.info.extension)? {
        out.push(Doomed {
            file: t.file,
            size: t.size,
            expiration: None,
            reason: "temporary file of a dead writer",
        });
    }
    Ok(out)
}

pub fn run(ctx: &Ctx, args: Args) -> Result<ExitCode> {
    let dir = existing_dir(&args.dir)?;
    let lifetime = args
        .lifetime
        .as_deref()
        .map(parse_lifetime)
        .transpose()?
        .filter(|l| !l.is_zero());
    let backends = if args.all_backends {
        select_backends(None)?
    } else {
        select_backends(Some(&args.backend))?
    };
    let entries = scan(
        &dir,
        &backends,
        ctx.now,
        Depth::Envelope,
        &ctx.out,
        "checking",
    )?;
    let mut grand = (0usize, 0u64);
    let mut table = Table::new(
        &["FILE", "BACKEND", "SIZE", "EXPIRES (UTC)", "REASON"],
        &[false, false, true, false, false],
    );
    let mut lines = Vec::new();
    for sel in &backends {
        let listed = doomed(&dir, sel, &entries, ctx.now, lifetime)?;
        let (files, bytes) = if args.dry_run {
            (listed.len(), listed.iter().map(|d| d.size).sum())
        } else {
            let mut builder = Bucket::builder(&dir).backend(&sel.info.name);
            if let Some(l) = lifetime {
                builder = builder.lifetime(l);
            }
            let pruned = builder.open()?.prune()?;
            (pruned.files, pruned.bytes)
        };
        grand.0 += files;
        grand.1 += bytes;
        if args.json {
            let removed: Vec<_> = listed
                .iter()
                .map(|d| {
                    json!({
                        "file": d.file,
                        "size": d.size,
                        "expiration": d.expiration.as_ref().map(format_expiration),
                        "reason": d.reason,
                    })
                })
                .collect();
            outln!(
                "{}",
                json!({
                    "backend": sel.info.name,
                    "dry_run": args.dry_run,
                    "files": files,
                    "bytes": bytes,
                    "removed": removed,
                })
            )?;
            continue;
        }
        for d in &listed {
            table.row(vec![
                (d.file.clone(), Style::Plain),
                (sel.info.name.clone(), Style::Plain),
                (d.size.to_string(), Style::Plain),
                (utc_text(d.expiration.as_ref()), Style::Plain),
                (d.reason.to_owned(), Style::Warn),
            ]);
        }
        lines.push(format!(
            "{}: {} {} file(s), {} bytes ({})",
            sel.info.name,
            if args.dry_run {
                "would remove"
            } else {
                "removed"
            },
            files,
            bytes,
            human_bytes(bytes)
        ));
    }
    if !args.json {
        if grand.0 > 0 {
            table.print(ctx.out.color)?;
        }
        for line in lines {
            outln!("{line}")?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(exp: Option<&str>) -> Entry {
        Entry {
            file: "f".into(),
            backend: "json".into(),
            size: 1,
            expiration: exp.map(|e| e.parse().unwrap()),
            envelope_ok: true,
            expired: false,
            error: None,
        }
    }

    #[test]
    fn the_rules_match_the_library() {
        let now: Expiration = "2050-01-01T00:00:00".parse().unwrap();
        let hour = Some(Duration::from_secs(3600));
        assert!(goes(&entry(Some("2049-12-31T23:00:00")), now, None));
        assert!(!goes(&entry(Some("2050-01-01T00:30:00")), now, None));
        assert!(!goes(&entry(None), now, None));
        // With a lifetime: never-expiring and too-far entries were written under another one.
        assert!(goes(&entry(None), now, hour));
        assert!(goes(&entry(Some("2050-01-01T02:00:00")), now, hour));
        assert!(!goes(&entry(Some("2050-01-01T00:30:00")), now, hour));
        let mut unreadable = entry(Some("2000-01-01T00:00:00"));
        unreadable.envelope_ok = false;
        assert!(
            !goes(&unreadable, now, None),
            "undecodable files are left alone"
        );
    }
}
