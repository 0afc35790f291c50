//! `bucketcache verify DIR`: decode every entry, report the corrupt ones.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, Result};
use bucketcache::store::{FsStorage, Storage};
use serde_json::json;

use super::output::{outln, paint, Style};
use super::scan::{existing_dir, scan, select_backends, warn_about_unread_files, Depth, State};
use super::{Ctx, EXIT_NEGATIVE};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The cache directory.
    dir: PathBuf,
    /// Only this backend's files (default: every known backend).
    #[arg(long, value_name = "NAME")]
    backend: Option<String>,
    /// Delete the corrupt files (the exit status still says corrupt files were found).
    #[arg(long)]
    delete_corrupt: bool,
    /// One JSON object per corrupt file per line: file, backend, size, error, deleted.
    #[arg(long)]
    json: bool,
}

pub fn run(ctx: &Ctx, args: Args) -> Result<ExitCode> {
    let dir = existing_dir(&args.dir)?;
    let backends = select_backends(args.backend.as_deref())?;
    if args.backend.is_none() {
        warn_about_unread_files(&dir, &backends)?;
    }
    let entries = scan(
        &dir,
        &backends,
        ctx.now,
        Depth::Value,
        &ctx.out,
        "verifying",
    )?;
    let storage = FsStorage::new(&dir, false);
    let mut corrupt = 0usize;
    for e in entries.iter().filter(|e| e.state() == State::Corrupt) {
        corrupt += 1;
        let deleted = if args.delete_corrupt {
            storage
                .remove(&e.file)
                .with_context(|| format!("cannot delete {}", dir.join(&e.file).display()))?
        } else {
            false
        };
        let error = e.error.as_deref().unwrap_or_default();
        if args.json {
            outln!(
                "{}",
                json!({
                    "file": e.file,
                    "backend": e.backend,
                    "size": e.size,
                    "error": error,
                    "deleted": deleted,
                })
            )?;
        } else {
            outln!(
                "{} {} ({}): {error}{}",
                paint("corrupt", Style::Bad, ctx.out.color),
                e.file,
                e.backend,
                if deleted { " [deleted]" } else { "" }
            )?;
        }
    }
    if !args.json && !ctx.out.quiet {
        let expired = entries
            .iter()
            .filter(|e| e.state() == State::Expired)
            .count();
        eprintln!(
            "checked {} entries: {} ok, {} expired, {} corrupt{}",
            entries.len(),
            entries.len() - expired - corrupt,
            expired,
            corrupt,
            if args.delete_corrupt && corrupt > 0 {
                " (deleted)"
            } else {
                ""
            }
        );
    }
    Ok(if corrupt > 0 {
        ExitCode::from(EXIT_NEGATIVE)
    } else {
        ExitCode::SUCCESS
    })
}
