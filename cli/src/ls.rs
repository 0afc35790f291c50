//! `bucketcache ls DIR`: one row per entry, and per foreign file.

use std::process::ExitCode;

use anyhow::Result;
use bucketcache::inspect::State;
use serde_json::json;

use super::output::{local_rfc3339, local_text, outln, utc_text, Style, Table};
use super::scan::{order_key, scan_location, Entry, Location};
use super::{Ctx, EXIT_NEGATIVE};
use bucketcache::time::format_expiration;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub location: Location,
    /// Only this backend's files (default: every known backend).
    #[arg(long, value_name = "NAME")]
    backend: Option<String>,
    /// One JSON object per line: file, backend, size, expiration, expiration_local, state,
    /// error.
    #[arg(long)]
    json: bool,
    /// Order of the rows (default: by backend, then file name; foreign files last).
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
    let (store, _, found) =
        scan_location(&args.location, args.backend.as_deref(), &ctx.out, "reading")?;
    let code = if found.skipped_any() {
        ExitCode::from(EXIT_NEGATIVE)
    } else {
        ExitCode::SUCCESS
    };
    let mut entries = found.entries;
    sort(&mut entries, args.sort);
    if args.json {
        for e in &entries {
            outln!("{}", entry_json(e))?;
        }
        return Ok(code);
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
        let (local, utc) = if e.envelope_ok {
            (
                local_text(e.expiration.as_ref()),
                utc_text(e.expiration.as_ref()),
            )
        } else {
            ("-".to_owned(), "-".to_owned())
        };
        let mut state = e.state.word().to_owned();
        if let State::Foreign(why) = &e.state {
            state = format!("{state} ({why})");
        }
        table.row(vec![
            (e.file.clone(), Style::Plain),
            (
                e.backend.clone().unwrap_or_else(|| "-".into()),
                Style::Plain,
            ),
            (e.size.to_string(), Style::Plain),
            (local, Style::Plain),
            (utc, Style::Plain),
            (state, state_style(&e.state)),
        ]);
    }
    if !entries.is_empty() {
        table.print(ctx.out.color)?;
    } else if !ctx.out.quiet {
        eprintln!("no entries in {}", store.dir().display());
    }
    Ok(code)
}

pub fn state_style(state: &State) -> Style {
    match state {
        State::Ok => Style::Good,
        State::Expired | State::LifetimeChanged | State::TooLarge(_) => Style::Warn,
        State::Corrupt(_) | State::Unreadable(_) => Style::Bad,
        _ => Style::Plain,
    }
}

fn sort(entries: &mut [Entry], key: Option<SortKey>) {
    entries.sort_by(|a, b| order_key(a).cmp(&order_key(b)));
    match key {
        None => {}
        Some(SortKey::Size) => entries.sort_by_key(|e| std::cmp::Reverse(e.size)),
        // `None` (never) sorts after every date.
        Some(SortKey::Expiry) => {
            entries.sort_by_key(|e| (e.expiration.is_none(), e.expiration));
        }
    }
}

/// The stable `--json` form of an entry (`backend` is `null` for a foreign file).
pub fn entry_json(e: &Entry) -> serde_json::Value {
    json!({
        "file": e.file,
        "backend": e.backend,
        "size": e.size,
        "expiration": e.expiration.as_ref().map(format_expiration),
        "expiration_local": e.expiration.as_ref().map(local_rfc3339),
        "state": e.state.word(),
        "error": e.error(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(file: &str, size: u64, expiration: Option<&str>) -> Entry {
        Entry {
            file: file.into(),
            backend: Some("json".into()),
            size,
            expiration: expiration.map(|e| e.parse().unwrap()),
            envelope_ok: true,
            state: State::Ok,
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

    #[test]
    fn foreign_files_come_last_and_have_no_backend_in_json() {
        let mut foreign = entry("package.json", 2, None);
        foreign.backend = None;
        foreign.envelope_ok = false;
        foreign.state = State::Foreign("not named <digest>.<extension>".into());
        let mut v = vec![foreign, entry("b", 5, None)];
        sort(&mut v, None);
        assert_eq!(v[1].file, "package.json");
        let j = entry_json(&v[1]);
        assert_eq!(j["state"], "foreign");
        assert!(j["backend"].is_null());
        assert_eq!(j["error"], "not named <digest>.<extension>");
    }
}
