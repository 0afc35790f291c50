//! `bucketcache stats DIR`: a summary per backend; with `--max-bytes` / `--max-entries`, how much
//! of that disk budget the directory uses (what a bucket's budget counts: entries of every
//! backend, by their lengths).

use std::process::ExitCode;

use anyhow::Result;
use bucketcache::inspect::State;
use bucketcache::time::format_expiration;
use bucketcache::Expiration;
use serde_json::json;

use super::output::{human_bytes, outln, utc_text, Style, Table};
use super::prune::size_arg;
use super::scan::{inspector, list_error, scan_location, Entry, Location};
use super::{Ctx, EXIT_NEGATIVE};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub location: Location,
    /// Only this backend (shown even when it has no entries).
    #[arg(long, value_name = "NAME")]
    backend: Option<String>,
    /// One JSON object per backend per line: backend, entries, bytes, ok, expired, corrupt,
    /// unreadable, too_large, never_expire, oldest_expiration, newest_expiration; then, when there are
    /// foreign files, one line: foreign, bytes; then, with a budget, one line: budget
    /// ({max_bytes, max_entries}), entries, bytes, bytes_percent, entries_percent, over.
    #[arg(long)]
    json: bool,
    /// Show the use of a disk budget of this many bytes (bytes, or a size such as 500MiB).
    #[arg(long, value_name = "SIZE", value_parser = size_arg)]
    max_bytes: Option<u64>,
    /// Show the use of a disk budget of this many entries.
    #[arg(long, value_name = "N")]
    max_entries: Option<u64>,
}

/// `part` of `whole`, in percent.
fn percent(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        if part == 0 {
            0.0
        } else {
            f64::INFINITY
        }
    } else {
        part as f64 * 100.0 / whole as f64
    }
}

/// The figures of one backend.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Summary {
    pub backend: String,
    pub entries: u64,
    pub bytes: u64,
    pub ok: u64,
    pub expired: u64,
    pub corrupt: u64,
    pub unreadable: u64,
    pub too_large: u64,
    pub never_expire: u64,
    pub oldest: Option<Expiration>,
    pub newest: Option<Expiration>,
}

impl Summary {
    fn add(&mut self, e: &Entry) {
        self.entries += 1;
        self.bytes += e.size;
        match e.state {
            State::Ok => self.ok += 1,
            State::Expired | State::LifetimeChanged => self.expired += 1,
            State::Unreadable(_) => self.unreadable += 1,
            State::TooLarge(_) => self.too_large += 1,
            _ => self.corrupt += 1,
        }
        if e.envelope_ok {
            match e.expiration {
                None => self.never_expire += 1,
                Some(x) => {
                    self.oldest = Some(self.oldest.map_or(x, |o| o.min(x)));
                    self.newest = Some(self.newest.map_or(x, |n| n.max(x)));
                }
            }
        }
    }

    fn merge(&mut self, o: &Summary) {
        self.entries += o.entries;
        self.bytes += o.bytes;
        self.ok += o.ok;
        self.expired += o.expired;
        self.corrupt += o.corrupt;
        self.unreadable += o.unreadable;
        self.too_large += o.too_large;
        self.never_expire += o.never_expire;
        self.oldest = match (self.oldest, o.oldest) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.newest = match (self.newest, o.newest) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
    }

    fn json(&self) -> serde_json::Value {
        json!({
            "backend": self.backend,
            "entries": self.entries,
            "bytes": self.bytes,
            "ok": self.ok,
            "expired": self.expired,
            "corrupt": self.corrupt,
            "unreadable": self.unreadable,
            "too_large": self.too_large,
            "never_expire": self.never_expire,
            "oldest_expiration": self.oldest.as_ref().map(format_expiration),
            "newest_expiration": self.newest.as_ref().map(format_expiration),
        })
    }
}

/// Summaries per backend, in the order of `backends`; backends without entries are left out
/// unless `keep_empty`. Foreign files are no backend's and are not counted.
pub fn summarise(backends: &[String], entries: &[Entry], keep_empty: bool) -> Vec<Summary> {
    backends
        .iter()
        .map(|name| {
            let mut s = Summary {
                backend: name.clone(),
                ..Summary::default()
            };
            entries
                .iter()
                .filter(|e| e.is_entry() && e.backend.as_ref() == Some(name))
                .for_each(|e| s.add(e));
            s
        })
        .filter(|s| keep_empty || s.entries > 0)
        .collect()
}

pub fn run(ctx: &Ctx, mut args: Args) -> Result<ExitCode> {
    if args.max_bytes.is_none() && args.max_entries.is_none() {
        // The configuration's budget, if any.
        (args.max_bytes, args.max_entries) = ctx.settings.budget();
    }
    let (store, backends, found) =
        scan_location(&args.location, args.backend.as_deref(), &ctx.out, "reading")?;
    let code = if found.skipped_any() {
        ExitCode::from(EXIT_NEGATIVE)
    } else {
        ExitCode::SUCCESS
    };
    let names: Vec<String> = backends.iter().map(|b| b.info.name.clone()).collect();
    let summaries = summarise(&names, &found.entries, args.backend.is_some());
    let foreign: Vec<&Entry> = found.entries.iter().filter(|e| !e.is_entry()).collect();
    let foreign_bytes: u64 = foreign.iter().map(|e| e.size).sum();
    let budget = if args.max_bytes.is_some() || args.max_entries.is_some() {
        let usage = inspector(&store, &backends, None)
            .usage()
            .map_err(|e| list_error(&store, e))?;
        Some(usage)
    } else {
        None
    };
    let over = budget.is_some_and(|u| u.is_over(args.max_bytes, args.max_entries));
    if args.json {
        for s in &summaries {
            outln!("{}", s.json())?;
        }
        if !foreign.is_empty() {
            outln!(
                "{}",
                json!({"foreign": foreign.len(), "bytes": foreign_bytes})
            )?;
        }
        if let Some(u) = budget {
            outln!(
                "{}",
                json!({
                    "budget": {"max_bytes": args.max_bytes, "max_entries": args.max_entries},
                    "entries": u.entries,
                    "bytes": u.bytes,
                    "bytes_percent": args.max_bytes.map(|m| percent(u.bytes, m)),
                    "entries_percent": args.max_entries.map(|m| percent(u.entries, m)),
                    "over": over,
                })
            )?;
        }
        return Ok(code);
    }
    if summaries.is_empty() {
        if !ctx.out.quiet {
            eprintln!("no entries in {}", store.dir().display());
        }
    } else {
        let mut table = Table::new(
            &[
                "BACKEND",
                "ENTRIES",
                "BYTES",
                "SIZE",
                "OK",
                "EXPIRED",
                "CORRUPT",
                "UNREADABLE",
                "TOO LARGE",
                "NEVER",
                "OLDEST EXPIRY",
                "NEWEST EXPIRY",
            ],
            &[
                false, true, true, true, true, true, true, true, true, true, false, false,
            ],
        );
        let mut total = Summary {
            backend: "total".into(),
            ..Summary::default()
        };
        for s in &summaries {
            total.merge(s);
            table.row(row(s));
        }
        if summaries.len() > 1 {
            table.row(row(&total));
        }
        table.print(ctx.out.color)?;
    }
    if !foreign.is_empty() {
        outln!(
            "foreign: {} file(s), {} bytes ({}), not entries, not counted (see `bucketcache ls`)",
            foreign.len(),
            foreign_bytes,
            human_bytes(foreign_bytes)
        )?;
    }
    if let Some(u) = budget {
        let mut parts = Vec::new();
        if let Some(m) = args.max_bytes {
            parts.push(format!(
                "{} of {} ({:.1}%)",
                human_bytes(u.bytes),
                human_bytes(m),
                percent(u.bytes, m)
            ));
        }
        if let Some(m) = args.max_entries {
            parts.push(format!(
                "{} of {} entries ({:.1}%)",
                u.entries,
                m,
                percent(u.entries, m)
            ));
        }
        let status = if over { "over budget" } else { "within budget" };
        let text = format!(
            "budget: {} — {status} (every backend's entries: {} entries, {} bytes)",
            parts.join(", "),
            u.entries,
            u.bytes
        );
        let style = if over { Style::Warn } else { Style::Plain };
        outln!("{}", super::output::paint(&text, style, ctx.out.color))?;
    }
    Ok(code)
}

fn row(s: &Summary) -> Vec<(String, Style)> {
    let count = |n: u64, bad: Style| (n.to_string(), if n > 0 { bad } else { Style::Plain });
    let date = |d: Option<Expiration>| match d {
        Some(d) => utc_text(Some(&d)),
        None => "-".into(),
    };
    vec![
        (s.backend.clone(), Style::Plain),
        (s.entries.to_string(), Style::Plain),
        (s.bytes.to_string(), Style::Plain),
        (human_bytes(s.bytes), Style::Plain),
        (s.ok.to_string(), Style::Plain),
        count(s.expired, Style::Warn),
        count(s.corrupt, Style::Bad),
        count(s.unreadable, Style::Bad),
        count(s.too_large, Style::Warn),
        (s.never_expire.to_string(), Style::Plain),
        (date(s.oldest), Style::Plain),
        (date(s.newest), Style::Plain),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(backend: &str, size: u64, exp: Option<&str>, expired: bool, corrupt: bool) -> Entry {
        Entry {
            file: "f".into(),
            backend: Some(backend.into()),
            size,
            expiration: exp.map(|e| e.parse().unwrap()),
            envelope_ok: !corrupt,
            state: if corrupt {
                State::Corrupt("bad".into())
            } else if expired {
                State::Expired
            } else {
                State::Ok
            },
        }
    }

    #[test]
    fn summaries_count_states_and_expiry_range_per_backend() {
        let entries = [
            entry("json", 10, Some("2000-01-01T00:00:00"), true, false),
            entry("json", 20, Some("2100-01-01T00:00:00"), false, false),
            entry("json", 5, None, false, true),
            entry("msgpack", 7, None, false, false),
            Entry {
                state: State::Unreadable("Permission denied".into()),
                envelope_ok: false,
                ..entry("msgpack", 3, None, false, false)
            },
            Entry {
                backend: None,
                state: State::Foreign("not named <digest>.<extension>".into()),
                envelope_ok: false,
                ..entry("json", 100, None, false, false)
            },
        ];
        let names = ["json".to_owned(), "msgpack".to_owned(), "pickle".to_owned()];
        let s = summarise(&names, &entries, false);
        assert_eq!(s.len(), 2, "backends without entries are left out");
        assert_eq!((s[0].entries, s[0].bytes), (3, 35));
        assert_eq!((s[0].ok, s[0].expired, s[0].corrupt), (1, 1, 1));
        assert_eq!(
            s[0].never_expire, 0,
            "a corrupt envelope has no known expiration"
        );
        assert_eq!(
            s[0].oldest.map(|d| format_expiration(&d)).as_deref(),
            Some("2000-01-01T00:00:00")
        );
        assert_eq!(s[1].never_expire, 1);
        assert_eq!((s[1].entries, s[1].unreadable, s[1].bytes), (2, 1, 10));
    }
}
