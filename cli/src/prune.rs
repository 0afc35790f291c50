//! `bucketcache prune DIR`: delete expired entries and temporary files of dead writers (what the
//! library's `Bucket::prune` deletes), or with `--dry-run` list them without deleting anything.
//! Both come from the library's one plan ([`Inspector::prune_plan`]).
//!
//! With `--max-bytes` / `--max-entries`, the directory is then shrunk to that budget by the rule
//! of the library's disk budgets (least recently used entries first, of every backend:
//! [`Inspector::shrink_plan_after`], what `Bucket::shrink_to` does).

use std::process::ExitCode;

use anyhow::Result;
use bucketcache::budget::Usage;
use bucketcache::inspect::{Inspector, PrunePlan, Reason, Removal};
use bucketcache::lifetime::parse_lifetime;
use bucketcache::size::parse_size;
use bucketcache::time::format_expiration;
use bucketcache::DEFAULT_BACKEND;
use serde_json::json;

use super::output::{human_bytes, outln, utc_text, Style, Table};
use super::scan::{
    inspector, list_error, open_location, select_backends, Location, Recorder, Selected,
};
use super::{Ctx, EXIT_NEGATIVE};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub location: Location,
    /// The backend whose files to prune (default: the configuration's, else msgpack).
    #[arg(long, value_name = "NAME", conflicts_with = "all_backends")]
    backend: Option<String>,
    /// Prune the files of every known backend.
    #[arg(long)]
    all_backends: bool,
    /// List what would be deleted; delete nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Prune as a bucket with this lifetime does: entries that never expire or that outlive
    /// now + lifetime were written under another lifetime and go too.
    #[arg(long, value_name = "DURATION")]
    lifetime: Option<String>,
    /// Then shrink the directory to this many bytes of entries (of every backend), least
    /// recently used first: bytes, or a size such as 500MiB or 1.5GB.
    #[arg(long, value_name = "SIZE", value_parser = size_arg)]
    max_bytes: Option<u64>,
    /// Then shrink the directory to this many entries (of every backend), least recently
    /// used first.
    #[arg(long, value_name = "N")]
    max_entries: Option<u64>,
    /// One JSON object per backend per line: backend, dry_run, files, bytes, skipped, removed
    /// (a list of {file, size, expiration, reason}); with a budget, then one line: budget
    /// ({max_bytes, max_entries}), dry_run, files, bytes, skipped, entries_left, bytes_left,
    /// removed (a list of {file, backend, size, last_used, reason}).
    #[arg(long)]
    json: bool,
}

/// A size argument (`500MiB`, `1.5GB`, bytes).
pub fn size_arg(text: &str) -> std::result::Result<u64, String> {
    parse_size(text).map_err(|e| match e {
        bucketcache::Error::Config(why) => why,
        other => other.to_string(),
    })
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

pub fn run(ctx: &Ctx, mut args: Args) -> Result<ExitCode> {
    let store = open_location(&args.location)?;
    if args.max_bytes.is_none() && args.max_entries.is_none() {
        // The configuration's budget, if any.
        (args.max_bytes, args.max_entries) = ctx.settings.budget();
    }
    let lifetime = match args.lifetime.as_deref() {
        Some(text) => Some(parse_lifetime(text)?),
        None => ctx.settings.lifetime(),
    }
    .filter(|l| !l.is_zero());
    let backends = if args.all_backends {
        select_backends(None)?
    } else {
        let name = args
            .backend
            .as_deref()
            .or(ctx.settings.backend())
            .unwrap_or(DEFAULT_BACKEND);
        select_backends(Some(name))?
    };
    let inspector: Inspector = inspector(&store, &backends, lifetime);
    // Entries that cannot be read are reported (a warning each) by the library, then skipped.
    let plan = inspector.prune_plan().map_err(|e| list_error(&store, e))?;
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
    if args.max_bytes.is_some() || args.max_entries.is_some() {
        let budget = shrink(&store, &inspector, &plan, &args)?;
        skipped_any |= budget.skipped > 0;
        if args.json {
            outln!("{}", budget.json(&args))?;
        } else {
            for r in &budget.plan.removals {
                any = true;
                table.row(vec![
                    (r.name.clone(), Style::Plain),
                    (
                        r.backend.clone().unwrap_or_else(|| "-".into()),
                        Style::Plain,
                    ),
                    (r.size.to_string(), Style::Plain),
                    ("-".into(), Style::Plain),
                    (r.reason.words().to_owned(), Style::Warn),
                ]);
            }
            lines.push(budget.line(&args));
        }
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

/// What shrinking to the budget did (or, in a dry run, would do).
struct Shrunk {
    plan: PrunePlan,
    files: usize,
    bytes: u64,
    skipped: usize,
    left: Usage,
}

/// Shrinks the directory to the budget of `args`, after the `pruned` plan (carried out already,
/// or, in a dry run, counted as done).
fn shrink(
    store: &Recorder,
    inspector: &Inspector,
    pruned: &PrunePlan,
    args: &Args,
) -> Result<Shrunk> {
    let usage = || inspector.usage().map_err(|e| list_error(store, e));
    let (max_bytes, max_entries) = (args.max_bytes, args.max_entries);
    if !args.dry_run {
        // The expired entries are gone now: plan on what is left.
        let plan = inspector
            .shrink_plan(max_bytes, max_entries)
            .map_err(|e| list_error(store, e))?;
        let done = inspector.execute(&plan);
        return Ok(Shrunk {
            plan,
            files: done.files,
            bytes: done.bytes,
            skipped: done.skipped,
            left: usage()?,
        });
    }
    let plan = inspector
        .shrink_plan_after(pruned, max_bytes, max_entries)
        .map_err(|e| list_error(store, e))?;
    let files = plan.removals.len();
    let bytes: u64 = plan.removals.iter().map(|r| r.size).sum();
    // What would be left: the entries now, less the expired ones and the over-budget ones.
    let expired = pruned
        .removals
        .iter()
        .filter(|r| r.reason != Reason::DeadWriterTemporary);
    let (expired_files, expired_bytes) = expired.fold((0, 0), |(n, b), r| (n + 1, b + r.size));
    let now = usage()?;
    let left = Usage::new(
        now.entries.saturating_sub(expired_files + files as u64),
        now.bytes.saturating_sub(expired_bytes + bytes),
    );
    Ok(Shrunk {
        plan,
        files,
        bytes,
        skipped: 0,
        left,
    })
}

impl Shrunk {
    fn line(&self, args: &Args) -> String {
        let mut limits = Vec::new();
        if let Some(b) = args.max_bytes {
            limits.push(format!("{} bytes ({})", b, human_bytes(b)));
        }
        if let Some(n) = args.max_entries {
            limits.push(format!("{n} entries"));
        }
        let mut line = format!(
            "budget of {}: {} {} file(s), {} bytes ({}); {} entries, {} bytes ({}) {}",
            limits.join(" and "),
            if args.dry_run {
                "would remove"
            } else {
                "removed"
            },
            self.files,
            self.bytes,
            human_bytes(self.bytes),
            self.left.entries,
            self.left.bytes,
            human_bytes(self.left.bytes),
            if args.dry_run {
                "would be left"
            } else {
                "left"
            },
        );
        if self.skipped > 0 {
            line.push_str(&format!(", {} skipped", self.skipped));
        }
        line
    }

    fn json(&self, args: &Args) -> serde_json::Value {
        let removed: Vec<_> = self
            .plan
            .removals
            .iter()
            .map(|r| {
                json!({
                    "file": r.name,
                    "backend": r.backend,
                    "size": r.size,
                    "last_used": r.used.map(|t| {
                        chrono::DateTime::<chrono::Utc>::from(t)
                            .naive_utc()
                            .format("%Y-%m-%dT%H:%M:%S%.6f")
                            .to_string()
                    }),
                    "reason": r.reason.words(),
                })
            })
            .collect();
        json!({
            "budget": {"max_bytes": args.max_bytes, "max_entries": args.max_entries},
            "dry_run": args.dry_run,
            "files": self.files,
            "bytes": self.bytes,
            "skipped": self.skipped,
            "entries_left": self.left.entries,
            "bytes_left": self.left.bytes,
            "removed": removed,
        })
    }
}
