//! `bucketcache ls DIR`: one row per entry.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use serde_json::json;

use super::output::{local_rfc3339, local_text, outln, utc_text, Style, Table};
use super::scan::{
    existing_dir, scan, select_backends, warn_about_unread_files, Depth, Entry, State,
};
use super::Ctx;
use bucketcache::time::format_expiration;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The cache directory.
    dir: PathBuf,
    /// Only this backend's files (default: every known backend).
    #[arg(long, value_name = "NAME")]
    backend: Option<String>,
    /// One JSON object per line: file, backend, size, expiration, expiration_local, state,
    /// error.
    #[arg(long)]
    json: bool,
    /// Order of the rows (default: by backend, then file name).
    #[arg(long, value_enum, value_name = "KEY")]
    sort: Option<SortKey>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum SortKey {
    /// Largest first.
    Size,
    /// Soonest expiration first; entries that never expire last.
    Expiry,
}

pub fn run(ctx: &Ctx, args: Args) -> Result<ExitCode> {
    let dir = existing_dir(&args.dir)?;
    let backends = select_backends(args.backend.as_deref())?;
    if args.backend.is_none() {
        warn_about_unread_files(&dir, &backends)?;
    }
    let mut entries = scan(&dir, &backends, ctx.now, Depth::Value, &ctx.out, "reading")?;
    sort(&mut entries, args.sort);
    if args.json {
        for e in &entries {
            outln!("{}", entry_json(e))?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    let mut table = Table::new(
        &[
            "FILE",
            "BACKEND",
            "SIZE",
            "EXPIRES (LOCAL)",
            "EXPIRES (UTC)",
            "STATE",
        ],
        &[false, false, true, false, false, false],
    );
    for e in &entries {
        let state = e.state();
        table.row(vec![
            (e.file.clone(), Style::Plain),
            (e.backend.clone(), Style::Plain),
            (e.size.to_string(), Style::Plain),
            (local_text(e.expiration.as_ref()), Style::Plain),
            (utc_text(e.expiration.as_ref()), Style::Plain),
            (state.as_str().to_owned(), state_style(state)),
        ]);
    }
    if !entries.is_empty() {
        table.print(ctx.out.color)?;
    } else if !ctx.out.quiet {
        eprintln!("no entries in {}", dir.display());
    }
    Ok(ExitCode::SUCCESS)
}

pub fn state_style(state: State) -> Style {
    match state {
        State::Ok => Style::Good,
        State::Expired => Style::Warn,
        State::Corrupt => Style::Bad,
    }
}

fn sort(entries: &mut [Entry], key: Option<SortKey>) {
    entries.sort_by(|a, b| (&a.backend, &a.file).cmp(&(&b.backend, &b.file)));
    match key {
        None => {}
        Some(SortKey::Size) => entries.sort_by_key(|e| std::cmp::Reverse(e.size)),
        // `None` (never) sorts after every date.
        Some(SortKey::Expiry) => {
            entries.sort_by_key(|e| (e.expiration.is_none(), e.expiration));
        }
    }
}

/// The stable `--json` form of an entry.
pub fn entry_json(e: &Entry) -> serde_json::Value {
    json!({
        "file": e.file,
        "backend": e.backend,
        "size": e.size,
        "expiration": e.expiration.as_ref().map(format_expiration),
        "expiration_local": e.expiration.as_ref().map(local_rfc3339),
        "state": e.state().as_str(),
        "error": e.error,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(file: &str, size: u64, expiration: Option<&str>) -> Entry {
        Entry {
            file: file.into(),
            backend: "json".into(),
            size,
            expiration: expiration.map(|e| e.parse().unwrap()),
            envelope_ok: true,
            expired: false,
            error: None,
        }
    }

    #[test]
    fn expiry_order_puts_never_last() {
        let mut v = vec![
            entry("a", 1, None),
            entry("b", 1, Some("2030-01-01T00:00:00")),
            entry("c", 1, Some("2020-01-01T00:00:00")),
        ];
        sort(&mut v, Some(SortKey::Expiry));
        let files: Vec<_> = v.iter().map(|e| e.file.as_str()).collect();
        assert_eq!(files, ["c", "b", "a"]);
    }

    #[test]
    fn size_order_is_largest_first_with_ties_by_name() {
        let mut v = vec![
            entry("b", 5, None),
            entry("a", 5, None),
            entry("c", 9, None),
        ];
        sort(&mut v, Some(SortKey::Size));
        let files: Vec<_> = v.iter().map(|e| e.file.as_str()).collect();
        assert_eq!(files, ["c", "a", "b"]);
    }
}
