//! `bucketcache verify DIR`: decode every entry, report the corrupt ones.

use std::process::ExitCode;

use anyhow::{Context as _, Result};
use bucketcache::inspect::State;
use bucketcache::store::Store;
use serde_json::json;

use super::output::{outln, paint, Style};
use super::scan::{scan_location, value_of, Entry, Location, Recorder, Selected};
use super::{Ctx, EXIT_NEGATIVE};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub location: Location,
    /// Only this backend's files (default: every known backend).
    #[arg(long, value_name = "NAME")]
    backend: Option<String>,
    /// Delete the corrupt entries (the exit status still says corrupt entries were found).
    /// Foreign files (not named like an entry, links, FIFOs, …) and entries too large to read
    /// (see --max-entry-bytes) are never deleted.
    #[arg(long)]
    pub delete_corrupt: bool,
    /// One JSON object per corrupt entry per line: file, backend, size, error, deleted.
    #[arg(long)]
    json: bool,
}

pub fn run(ctx: &Ctx, args: Args) -> Result<ExitCode> {
    let (store, backends, found) = scan_location(
        &args.location,
        args.backend.as_deref(),
        &ctx.out,
        "verifying",
    )?;
    let entries = &found.entries;
    let mut corrupt = 0usize;
    // Not read, so not judged: reported, never deleted, and the check is not complete.
    let too_large = entries
        .iter()
        .filter(|e| matches!(e.state, State::TooLarge(_)))
        .count();
    for e in entries {
        let State::Corrupt(error) = &e.state else {
            continue;
        };
        corrupt += 1;
        let deleted = if args.delete_corrupt {
            delete_corrupt(&store, &backends, e)
                .with_context(|| format!("cannot delete {}", store.dir().join(&e.file).display()))?
        } else {
            false
        };
        let backend = e.backend.as_deref().unwrap_or_default();
        if args.json {
            outln!(
                "{}",
                json!({
                    "file": e.file,
                    "backend": backend,
                    "size": e.size,
                    "error": error,
                    "deleted": deleted,
                })
            )?;
        } else {
            outln!(
                "{} {} ({backend}): {error}{}",
                paint("corrupt", Style::Bad, ctx.out.color),
                e.file,
                if deleted { " [deleted]" } else { "" }
            )?;
        }
    }
    if !args.json && !ctx.out.quiet {
        let count = |f: fn(&State) -> bool| entries.iter().filter(|e| f(&e.state)).count();
        let checked = count(|s| !matches!(s, State::Foreign(_)));
        let expired = count(|s| matches!(s, State::Expired | State::LifetimeChanged));
        let foreign = entries.len() - checked;
        let mut line = format!(
            "checked {checked} entries: {} ok, {expired} expired, {corrupt} corrupt",
            count(|s| *s == State::Ok),
        );
        if args.delete_corrupt && corrupt > 0 {
            line.push_str(" (deleted)");
        }
        if found.unreadable > 0 {
            line.push_str(&format!(", {} unreadable (skipped)", found.unreadable));
        }
        if too_large > 0 {
            line.push_str(&format!(
                ", {too_large} too large to read (over {} bytes: not checked, not deleted; \
                 --max-entry-bytes raises the limit)",
                store.max_entry_bytes
            ));
        }
        if foreign > 0 {
            line.push_str(&format!("; {foreign} foreign file(s) left alone"));
        }
        eprintln!("{line}");
    }
    Ok(if corrupt > 0 || too_large > 0 || found.skipped_any() {
        ExitCode::from(EXIT_NEGATIVE)
    } else {
        ExitCode::SUCCESS
    })
}

/// Deletes a corrupt entry, only if the file is still a corrupt entry at this moment (another
/// process may have replaced it with a good one since it was read), judged on the bytes read
/// then: an entry over the size limit is not read, so not judged, so never deleted. Only regular
/// files are removed: the store never follows a link nor removes anything else.
fn delete_corrupt(store: &Recorder, backends: &[Selected], e: &Entry) -> std::io::Result<bool> {
    let Some(sel) = backends
        .iter()
        .find(|s| Some(s.backend.name()) == e.backend.as_deref())
    else {
        return Ok(false);
    };
    let limit = store.max_entry_bytes;
    let still_corrupt =
        |bytes: &[u8]| bytes.len() as u64 <= limit && value_of(&*sel.backend, bytes).is_err();
    Ok(store.remove_if(&e.file, &still_corrupt)?.is_some())
}
