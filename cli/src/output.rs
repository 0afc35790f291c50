//! Terminal output: colours, aligned tables, progress bars, sizes and dates.

use std::io::{self, IsTerminal};

use bucketcache::time::format_expiration;
use bucketcache::Expiration;
use chrono::{Local, TimeZone};
use indicatif::{ProgressBar, ProgressStyle};

/// `println!` that returns the write error instead of panicking, so that a closed pipe
/// (`bucketcache ls DIR | head`) ends the command quietly.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($arg)*)
    }};
}
pub(crate) use outln;

/// `--color`: when to colour output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ColorChoice {
    /// Colour when writing to a terminal and `NO_COLOR` is not set.
    Auto,
    /// Always colour.
    Always,
    /// Never colour.
    Never,
}

impl ColorChoice {
    /// Whether to colour a stream that is (or is not) a terminal.
    pub fn enabled(self, is_terminal: bool) -> bool {
        match self {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                is_terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
            }
        }
    }
}

/// A colour for a table cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// No colour.
    Plain,
    /// Green: healthy.
    Good,
    /// Yellow: stale, harmless.
    Warn,
    /// Red: broken.
    Bad,
    /// Bold: headers.
    Bold,
}

impl Style {
    fn code(self) -> &'static str {
        match self {
            Style::Plain => "",
            Style::Good => "\x1b[32m",
            Style::Warn => "\x1b[33m",
            Style::Bad => "\x1b[31m",
            Style::Bold => "\x1b[1m",
        }
    }
}

/// Wraps `text` in the escape codes of `style` when `color` is on.
pub fn paint(text: &str, style: Style, color: bool) -> String {
    if !color || style == Style::Plain {
        return text.to_owned();
    }
    format!("{}{text}\x1b[0m", style.code())
}

/// Where human output goes and how it looks.
#[derive(Debug, Clone, Copy)]
pub struct Out {
    /// Colour standard output.
    pub color: bool,
    /// Show progress bars (standard error is a terminal and not `-q`).
    pub progress: bool,
    /// `-q`: print only what was asked for and errors.
    pub quiet: bool,
}

impl Out {
    pub fn new(choice: ColorChoice, quiet: bool) -> Self {
        Out {
            color: choice.enabled(std::io::stdout().is_terminal()),
            progress: !quiet && std::io::stderr().is_terminal(),
            quiet,
        }
    }

    /// A progress bar over `len` files, hidden unless standard error is a terminal.
    pub fn progress_bar(&self, len: u64, what: &'static str) -> ProgressBar {
        if !self.progress || len == 0 {
            return ProgressBar::hidden();
        }
        let bar = ProgressBar::new(len);
        if let Ok(style) =
            ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} files ({eta})")
        {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_message(what);
        bar
    }
}

/// A table printed with aligned columns; cells may be coloured.
#[derive(Debug, Default)]
pub struct Table {
    rows: Vec<Vec<(String, Style)>>,
    right: Vec<bool>,
}

impl Table {
    /// A table with these headers; `right[i]` aligns column i to the right (numbers).
    pub fn new(headers: &[&str], right: &[bool]) -> Self {
        Table {
            rows: vec![headers
                .iter()
                .map(|h| (h.to_string(), Style::Bold))
                .collect()],
            right: right.to_vec(),
        }
    }

    pub fn row(&mut self, cells: Vec<(String, Style)>) {
        self.rows.push(cells);
    }

    pub fn print(&self, color: bool) -> io::Result<()> {
        let columns = self.rows.iter().map(Vec::len).max().unwrap_or(0);
        let widths: Vec<usize> = (0..columns)
            .map(|c| {
                self.rows
                    .iter()
                    .filter_map(|r| r.get(c))
                    .map(|(t, _)| t.chars().count())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        for row in &self.rows {
            let mut line = String::new();
            for (c, (text, style)) in row.iter().enumerate() {
                let pad = widths[c].saturating_sub(text.chars().count());
                let last = c + 1 == row.len();
                if c > 0 {
                    line.push_str("  ");
                }
                if self.right.get(c).copied().unwrap_or(false) {
                    line.push_str(&" ".repeat(pad));
                    line.push_str(&paint(text, *style, color));
                } else {
                    line.push_str(&paint(text, *style, color));
                    if !last {
                        line.push_str(&" ".repeat(pad));
                    }
                }
            }
            outln!("{line}")?;
        }
        Ok(())
    }
}

/// `1536` → `1.5 KiB`.
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// The expiration as stored (naive UTC, Python `isoformat`), or `never`.
pub fn utc_text(e: Option<&Expiration>) -> String {
    e.map_or_else(|| "never".to_owned(), format_expiration)
}

/// The expiration in the local time zone, to the second, with the offset, or `never`.
pub fn local_text(e: Option<&Expiration>) -> String {
    e.map_or_else(
        || "never".to_owned(),
        |e| {
            Local
                .from_utc_datetime(&chrono::NaiveDateTime::from(*e))
                .format("%Y-%m-%d %H:%M:%S %:z")
                .to_string()
        },
    )
}

/// The expiration in the local time zone as RFC 3339 (for `--json`).
pub fn local_rfc3339(e: &Expiration) -> String {
    Local
        .from_utc_datetime(&chrono::NaiveDateTime::from(*e))
        .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_shown_in_binary_units() {
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(3 * 1024 * 1024), "3.0 MiB");
    }

    #[test]
    fn colour_is_off_when_never_and_on_when_always() {
        assert!(!ColorChoice::Never.enabled(true));
        assert!(ColorChoice::Always.enabled(false));
        assert_eq!(paint("x", Style::Bad, false), "x");
        assert_eq!(paint("x", Style::Bad, true), "\x1b[31mx\x1b[0m");
    }
}
