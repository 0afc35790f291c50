//! `bucketcache prune DIR`: delete expired entries and temporary files of dead writers (what the
//! library's `Bucket::prune` deletes), or with `--dry-run` list them without deleting anything.
//! Both come from the library's one plan ([`Inspector::prune_plan`]).

use std::process::ExitCode;

use anyhow::Result;
use bucketcache::inspect::{Inspector, PrunePlan, Removal};
use bucketcache::lifetime::parse_lifetime;
use bucketcache::time::format_expiration;
use bucketcache::DEFAULT_BACKEND;
use serde_json::json;

use super::output::{human_bytes, outln, utc_text, Style, Table};
use super::scan::{inspector, list_error, open_location, select_backends, Location, Selected};
use super::{Ctx, EXIT_NEGATIVE};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    location: Location,
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
    /// One JSON object per backend per line: backend, dry_run, files, bytes, skipped, removed
    /// (a list of {file, size, expiration, reason}).
    #[arg(long)]
    json: bool,
}

/// The part of `plan` that is `sel`'s: its removals, and its unreadable entries (by extension).
fn share(plan: &PrunePlan, sel: &Selected) -> PrunePlan {
    let mut part = plan.clone();
    part.removals
        .retain(|r| r.backend.as_deref() == Some(sel.backend.name()));
    let suffix = format!(".{}", sel.info.extension);
    part.unreadable.retain(|(name, _)| name.ends_with(&suffix));
    part
}

pub fn run(ctx: &Ctx, args: Args) -> Result<ExitCode> {
    let store = open_location(&args.location)?;
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
    let inspector: Inspector = inspector(&store, &backends, lifetime);
    // Entries that cannot be read are reported (a warning each) by the library, then skipped.
    let plan = inspector
        .prune_plan()
        .map_err(|e| list_error(store.dir(), e))?;
    let mut any = false;
    let mut skipped_any = false;
    let mut table = Table::new(
        &["FILE", "BACKEND", "SIZE", "EXPIRES (UTC)", "REASON"],
        &[false, false, true, false, false],
    );
    let mut lines = Vec::new();
    for sel in &backends {
        let part = share(&plan, sel);
        let (files, bytes, skipped) = if args.dry_run {
            let bytes = part.removals.iter().map(|r| r.size).sum();
            (part.removals.len(), bytes, part.unreadable.len())
        } else {
            let done = inspector.execute(&part);
            (done.files, done.bytes, done.skipped)
        };
        any |= !part.removals.is_empty();
        skipped_any |= skipped > 0;
        if args.json {
            let removed: Vec<_> = part.removals.iter().map(removal_json).collect();
            outln!(
                "{}",
                json!({
                    "backend": sel.info.name,
                    "dry_run": args.dry_run,
                    "files": files,
                    "bytes": bytes,
                    "skipped": skipped,
                    "removed": removed,
                })
            )?;
            continue;
        }
        for r in &part.removals {
            table.row(vec![
                (r.name.clone(), Style::Plain),
                (sel.info.name.clone(), Style::Plain),
                (r.size.to_string(), Style::Plain),
                (utc_text(r.expiration.as_ref()), Style::Plain),
                (r.reason.words().to_owned(), Style::Warn),
            ]);
        }
        let mut line = format!(
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
        );
        if skipped > 0 {
            line.push_str(&format!(", {skipped} skipped"));
        }
        lines.push(line);
    }
    if !args.json {
        if any {
            table.print(ctx.out.color)?;
        }
        for line in lines {
            outln!("{line}")?;
        }
    }
    Ok(if skipped_any {
        ExitCode::from(EXIT_NEGATIVE)
    } else {
        ExitCode::SUCCESS
    })
}

fn removal_json(r: &Removal) -> serde_json::Value {
    json!({
        "file": r.name,
        "size": r.size,
        "expiration": r.expiration.as_ref().map(format_expiration),
        "reason": r.reason.words(),
    })
}
