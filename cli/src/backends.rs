//! `bucketcache backends`: every backend this tool can use.

use std::process::ExitCode;

use anyhow::Result;
use bucketcache::registry::{self, BackendInfo, Origin};
use serde_json::json;

use super::output::{outln, Style, Table};
use super::Ctx;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// One JSON object per backend per line: name, extension, binary, origin, source,
    /// python_class.
    #[arg(long)]
    json: bool,
}

/// The kind of origin (`built-in`, `crate`, `plugin`, `program`) and its detail (crate name or
/// plugin file).
fn origin(info: &BackendInfo) -> (&'static str, String) {
    match &info.origin {
        Origin::BuiltIn(c) => ("built-in", c.clone()),
        Origin::Crate(c) => ("crate", c.clone()),
        Origin::Plugin(p) => ("plugin", p.display().to_string()),
        Origin::Program => ("program", String::new()),
        other => ("other", other.to_string()),
    }
}

pub fn run(ctx: &Ctx, args: Args) -> Result<ExitCode> {
    for refused in registry::refused() {
        tracing::warn!("{refused}");
    }
    let all = registry::backends();
    if args.json {
        for b in &all {
            let (kind, source) = origin(b);
            outln!(
                "{}",
                json!({
                    "name": b.name,
                    "extension": b.extension,
                    "binary": b.binary,
                    "origin": kind,
                    "source": source,
                    "python_class": b.python_class_name,
                })
            )?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    let mut table = Table::new(
        &["NAME", "EXTENSION", "FILES", "ORIGIN", "PYTHON CLASS"],
        &[false, false, false, false, false],
    );
    for b in &all {
        let (kind, source) = origin(b);
        let origin = if source.is_empty() {
            kind.to_owned()
        } else {
            format!("{kind} ({source})")
        };
        table.row(vec![
            (b.name.clone(), Style::Plain),
            (format!(".{}", b.extension), Style::Plain),
            (
                (if b.binary { "binary" } else { "text" }).to_owned(),
                Style::Plain,
            ),
            (origin, Style::Plain),
            (
                b.python_class_name.clone().unwrap_or_else(|| "-".into()),
                Style::Plain,
            ),
        ]);
    }
    table.print(ctx.out.color)?;
    Ok(ExitCode::SUCCESS)
}
