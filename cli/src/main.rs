//! `bucketcache`: look into, check and clean bucketcache cache directories from the shell.
//! One module per command; see `bucketcache --help` and cli/README.md.
//!
//! Exit status: 0 success; 1 a negative answer (`get`/`rm`: no live entry, `verify`: corrupt
//! entries found) or something skipped (`ls`/`stats`/`verify`/`prune`: an entry that could not
//! be read, reported on stderr); 2 an error (bad arguments or input, missing directory, unknown
//! backend, I/O), reported as one line on stderr.

mod backends;
mod kv;
mod location;
mod ls;
mod output;
mod prune;
mod readonly;
mod scan;
mod settings;
mod stats;
mod supervise;
mod value;
mod verify;

use std::ffi::OsString;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, Result};
use bucketcache::time::{Clock, SystemClock};
use bucketcache::Expiration;
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

use output::{paint, ColorChoice, Out, Style};

/// Exit status of a negative answer (a miss, corrupt entries found) or of skipped entries.
pub const EXIT_NEGATIVE: u8 = 1;
/// Exit status of an error.
pub const EXIT_ERROR: u8 = 2;

/// The environment variable listing plugin files (or directories of them) to load, separated
/// like `PATH`.
pub const PLUGIN_PATH_VAR: &str = bucketcache::plugins::PLUGIN_PATH_ENV;

/// The help heading of the options every command takes.
const GLOBAL: &str = "Global options";

/// Look into, check and clean bucketcache cache directories (also those written by Python
/// BucketCache 0.12.1).
#[derive(Debug, Parser)]
#[command(name = "bucketcache", version, propagate_version = true)]
#[command(
    after_help = "Exit status: 0 success, 1 a miss (get, rm), corrupt entries (verify) or \
                        entries that could not be read and were skipped (ls, stats, verify, \
                        prune), 2 an error.\nPlugins are also loaded from BUCKETCACHE_PLUGIN_PATH \
                        (files or directories, separated like PATH)."
)]
pub struct Cli {
    /// Load a backend plugin library (repeatable).
    #[arg(long = "plugin", value_name = "PATH", global = true, help_heading = GLOBAL)]
    plugins: Vec<PathBuf>,
    /// More log output on stderr (-v info, -vv debug, -vvv trace).
    #[arg(short, long, action = clap::ArgAction::Count, global = true, help_heading = GLOBAL)]
    verbose: u8,
    /// Only errors on stderr; no progress bars or notes.
    #[arg(short, long, global = true, conflicts_with = "verbose", help_heading = GLOBAL)]
    quiet: bool,
    /// When to use colours.
    #[arg(long, value_enum, value_name = "WHEN", default_value_t = ColorChoice::Auto, global = true, help_heading = GLOBAL)]
    color: ColorChoice,
    /// A bucket configuration file (TOML or JSON, the library's BucketConfig): its store,
    /// store_options, backend, keymaker, lifetime, max_entry_bytes, max_bytes, max_entries and
    /// plugins apply unless an option says otherwise (DIR still says where).
    #[arg(long, value_name = "FILE", global = true, help_heading = GLOBAL)]
    config: Option<PathBuf>,
    /// The largest entry read (and written): larger entries are "too large", not read, never
    /// judged corrupt or deleted. Bytes or a size such as 1GiB (default: the configuration's
    /// max_entry_bytes, else 256MiB).
    #[arg(long, value_name = "SIZE", value_parser = prune::size_arg, global = true, help_heading = GLOBAL)]
    max_entry_bytes: Option<u64>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// List the entries of a cache directory (file, backend, size, expiration, state) and the
    /// foreign files in it.
    Ls(ls::Args),
    /// Summarise a cache directory per backend: entries, bytes, expired, corrupt, unreadable,
    /// expiry range.
    Stats(stats::Args),
    /// Print the value stored under KEY as JSON (exit status 1 when there is none).
    Get(kv::GetArgs),
    /// Store VALUE under KEY.
    Set(kv::SetArgs),
    /// Remove KEY's entry (exit status 1 when there was none).
    Rm(kv::RmArgs),
    /// Delete expired entries and temporary files left by writers that died.
    Prune(prune::Args),
    /// Decode every entry and report the corrupt ones (exit status 1 when there are any, or
    /// when entries could not be read).
    Verify(verify::Args),
    /// List the backends this tool can use.
    Backends(backends::Args),
}

impl Command {
    /// The location the command works on.
    fn location(&self) -> Option<&scan::Location> {
        match self {
            Command::Ls(a) => Some(&a.location),
            Command::Stats(a) => Some(&a.location),
            Command::Get(a) => Some(&a.bucket.location),
            Command::Set(a) => Some(&a.bucket.location),
            Command::Rm(a) => Some(&a.bucket.location),
            Command::Prune(a) => Some(&a.location),
            Command::Verify(a) => Some(&a.location),
            Command::Backends(_) => None,
        }
    }

    /// The location the command works on, and whether the command only reads it.
    fn location_mut(&mut self) -> Option<(&mut scan::Location, bool)> {
        match self {
            Command::Ls(a) => Some((&mut a.location, true)),
            Command::Stats(a) => Some((&mut a.location, true)),
            Command::Get(a) => Some((&mut a.bucket.location, true)),
            Command::Set(a) => Some((&mut a.bucket.location, false)),
            Command::Rm(a) => Some((&mut a.bucket.location, false)),
            Command::Prune(a) => {
                let read_only = a.dry_run;
                Some((&mut a.location, read_only))
            }
            Command::Verify(a) => {
                let read_only = !a.delete_corrupt;
                Some((&mut a.location, read_only))
            }
            Command::Backends(_) => None,
        }
    }
}

/// What every command gets.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub out: Out,
    /// "Now", in naive UTC, as a bucket sees it.
    pub now: Expiration,
    /// `--config` and `--max-entry-bytes`.
    pub settings: settings::Settings,
}

/// Runs the tool and returns its exit status.
fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().collect();
    let color = color_from_args(&args);
    let command = Cli::command().color(match color {
        ColorChoice::Auto => clap::ColorChoice::Auto,
        ColorChoice::Always => clap::ColorChoice::Always,
        ColorChoice::Never => clap::ColorChoice::Never,
    });
    let cli = match command
        .try_get_matches_from(&args)
        .and_then(|m| Cli::from_arg_matches(&m))
    {
        Ok(cli) => cli,
        Err(e) => {
            // Help and --version print to stdout and succeed; usage errors exit with 2.
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { EXIT_ERROR } else { 0 });
        }
    };
    let stderr_color = cli.color.enabled(std::io::stderr().is_terminal());
    if supervise::is_worker() {
        supervise::no_core_dumps();
    } else if let Some(file) = supervise::walked_file(&cli) {
        // An LMDB environment is walked by a child process: a damaged one that LMDB cannot
        // walk kills the child, and this process reports it.
        return supervise::run_in_child(&args, &file, stderr_color);
    }
    init_logging(cli.verbose, cli.quiet, stderr_color);
    match run(cli) {
        Ok(code) => code,
        // The reader of our output went away (`| head`): not an error of ours.
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!(
                "{} {}",
                paint("error:", Style::Bad, stderr_color),
                error_text(&e)
            );
            ExitCode::from(EXIT_ERROR)
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    bucketcache::install_default_backends().context("cannot register the built-in backends")?;
    load_plugins(&cli.plugins)?;
    let settings = settings::Settings::load(cli.config.as_deref(), cli.max_entry_bytes)?;
    let mut command = cli.command;
    if let Some((location, read_only)) = command.location_mut() {
        location.apply(&settings, read_only);
    }
    let ctx = Ctx {
        out: Out::new(cli.color, cli.quiet),
        now: SystemClock.now(),
        settings,
    };
    match command {
        Command::Ls(a) => ls::run(&ctx, a),
        Command::Stats(a) => stats::run(&ctx, a),
        Command::Get(a) => kv::get(&ctx, a),
        Command::Set(a) => kv::set(&ctx, a),
        Command::Rm(a) => kv::rm(&ctx, a),
        Command::Prune(a) => prune::run(&ctx, a),
        Command::Verify(a) => verify::run(&ctx, a),
        Command::Backends(a) => backends::run(&ctx, a),
    }
}

/// The error and its causes on one line, `: `-separated; a cause whose text the previous one
/// already contains is left out (`I/O error on F: Permission denied` is not followed by
/// `: Permission denied` again), and line breaks become spaces.
fn error_text(e: &anyhow::Error) -> String {
    let mut text = String::new();
    let mut previous = String::new();
    for cause in e.chain() {
        let message = cause.to_string();
        let message = message.trim();
        if message.is_empty() || previous.contains(message) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(message);
        previous = message.to_owned();
    }
    text.replace(['\r', '\n'], " ")
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// `--color` must be known before clap runs, so that clap's own messages obey it.
fn color_from_args(args: &[OsString]) -> ColorChoice {
    let mut choice = ColorChoice::Auto;
    let mut iter = args.iter().skip(1);
    while let Some(arg) = iter.next() {
        let Some(arg) = arg.to_str() else { continue };
        if arg == "--" {
            break;
        }
        let value = match arg.strip_prefix("--color") {
            Some("") => iter.next().and_then(|v| v.to_str()),
            Some(rest) => rest.strip_prefix('='),
            None => None,
        };
        match value {
            Some("always") => choice = ColorChoice::Always,
            Some("never") => choice = ColorChoice::Never,
            Some("auto") => choice = ColorChoice::Auto,
            _ => {}
        }
    }
    choice
}

/// Logs go to stderr: warnings by default, `-v` info, `-vv` debug, `-vvv` trace, `-q` errors
/// only. `RUST_LOG`, when set, overrides these.
fn init_logging(verbose: u8, quiet: bool, color: bool) {
    use tracing_subscriber::filter::{EnvFilter, LevelFilter};
    let level = match (quiet, verbose) {
        (true, _) => LevelFilter::ERROR,
        (false, 0) => LevelFilter::WARN,
        (false, 1) => LevelFilter::INFO,
        (false, 2) => LevelFilter::DEBUG,
        (false, _) => LevelFilter::TRACE,
    };
    let filter = match std::env::var("RUST_LOG") {
        Ok(spec) if !spec.is_empty() => EnvFilter::new(spec),
        _ => EnvFilter::default().add_directive(level.into()),
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(color)
        .with_target(false)
        .without_time()
        .try_init();
}

/// Loads the plugins named in `BUCKETCACHE_PLUGIN_PATH` (files or directories of them), then
/// those given with `--plugin`. A plugin that cannot be loaded is an error: a command must not
/// silently miss a format the user asked for.
fn load_plugins(explicit: &[PathBuf]) -> Result<()> {
    for info in bucketcache::plugins::load_from_env()? {
        tracing::info!(backend = %info.name, origin = %info.origin, "loaded plugin from {PLUGIN_PATH_VAR}");
    }
    for file in explicit {
        let info = bucketcache::plugins::load(file)?;
        tracing::info!(backend = %info.name, file = %file.display(), "loaded plugin");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<OsString> {
        list.iter().map(OsString::from).collect()
    }

    #[test]
    fn color_is_found_before_parsing_in_both_spellings() {
        assert_eq!(
            color_from_args(&args(&["bc", "--color", "never", "ls"])),
            ColorChoice::Never
        );
        assert_eq!(
            color_from_args(&args(&["bc", "ls", "--color=always"])),
            ColorChoice::Always
        );
        assert_eq!(
            color_from_args(&args(&["bc", "ls", "x"])),
            ColorChoice::Auto
        );
    }

    #[test]
    fn error_causes_are_not_repeated() {
        let io = std::io::Error::from(std::io::ErrorKind::PermissionDenied);
        let io_text = io.to_string();
        let lib = bucketcache::Error::Io {
            path: "/c/f.json".into(),
            source: io,
        };
        let e = anyhow::Error::from(lib).context("cannot read the key");
        let text = error_text(&e);
        assert_eq!(text.matches(&io_text).count(), 1, "{text}");
        assert!(
            text.starts_with("cannot read the key: I/O error on /c/f.json: "),
            "{text}"
        );
        let e = anyhow::anyhow!("inner").context("outer");
        assert_eq!(error_text(&e), "outer: inner");
    }

    #[test]
    fn the_command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
