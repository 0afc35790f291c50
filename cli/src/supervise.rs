//! A command on an LMDB store runs in a child process (this binary again), watched by this one.
//!
//! LMDB trusts its data file: walking damaged pages can make it read outside its map (SIGSEGV,
//! SIGBUS) or fail one of its assertions (SIGABRT), and no error is returned that could be
//! caught. So the command that walks an LMDB environment runs in a child with the same
//! arguments, its standard streams the terminal's, and core dumps off; if the child is killed by
//! a signal, this process reports the damage naming the file and exits with status 2. The user
//! sees an error, never a crash. (Unix only: elsewhere the command runs in this process.)

use std::ffi::OsString;
#[cfg(unix)]
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::ExitCode;

#[cfg(unix)]
use rustix::process::Signal;

use super::output::{paint, Style};
use super::{Cli, EXIT_ERROR};

/// Set in the child's environment: the child does the work itself.
const WORKER_VAR: &str = "BUCKETCACHE_CLI_LMDB_WORKER";

/// Whether this process is the child that does the work.
pub fn is_worker() -> bool {
    std::env::var_os(WORKER_VAR).is_some_and(|v| v == "1")
}

/// A crash of the child must not leave a core file behind (the soft limit can always be lowered).
#[cfg(not(unix))]
pub fn no_core_dumps() {}

/// A crash of the child must not leave a core file behind (the soft limit can always be lowered).
#[cfg(unix)]
pub fn no_core_dumps() {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    let limit = getrlimit(Resource::Core);
    let _ = setrlimit(
        Resource::Core,
        Rlimit {
            current: Some(0),
            maximum: limit.maximum,
        },
    );
}

/// The LMDB data file the command would walk, if any: a local directory holding `data.mdb`
/// whose store is not named otherwise (by `--store` or the configuration's `store`).
pub fn walked_file(cli: &Cli) -> Option<PathBuf> {
    if cfg!(not(unix)) {
        return None;
    }
    let location = cli.command.location()?;
    let store = match location.store.as_deref().filter(|s| !s.is_empty()) {
        Some(store) => Some(store.to_owned()),
        None => cli
            .config
            .as_deref()
            .and_then(|file| bucketcache::BucketConfig::from_file(file).ok())
            .and_then(|c| c.store),
    };
    if store.is_some_and(|s| s != bucketcache::lmdb::NAME) {
        return None;
    }
    bucketcache::lmdb::is_lmdb_dir(&location.dir)
        .then(|| location.dir.join(bucketcache::lmdb::DATA_FILE))
}

/// The signals by which a reader of a damaged file dies.
#[cfg(unix)]
fn is_damage(signal: i32) -> bool {
    [
        Signal::SEGV,
        Signal::BUS,
        Signal::ABORT,
        Signal::ILL,
        Signal::FPE,
        Signal::SYS,
        Signal::TRAP,
    ]
    .iter()
    .any(|s| s.as_raw() == signal)
}

/// A signal's usual name.
#[cfg(unix)]
fn signal_name(signal: i32) -> String {
    let named = [
        (Signal::SEGV, "SIGSEGV"),
        (Signal::BUS, "SIGBUS"),
        (Signal::ABORT, "SIGABRT"),
        (Signal::ILL, "SIGILL"),
        (Signal::FPE, "SIGFPE"),
        (Signal::SYS, "SIGSYS"),
        (Signal::TRAP, "SIGTRAP"),
        (Signal::KILL, "SIGKILL"),
        (Signal::TERM, "SIGTERM"),
        (Signal::INT, "SIGINT"),
    ];
    named
        .iter()
        .find(|(s, _)| s.as_raw() == signal)
        .map_or_else(|| format!("signal {signal}"), |(_, n)| (*n).to_owned())
}

/// Never called where there are no signals ([`walked_file`] is `None`).
#[cfg(not(unix))]
pub fn run_in_child(_args: &[OsString], file: &std::path::Path, color: bool) -> ExitCode {
    eprintln!(
        "{} cannot read {} in a child process here",
        paint("error:", Style::Bad, color),
        file.display()
    );
    ExitCode::from(EXIT_ERROR)
}

/// Runs this binary again with `args` as the worker, and turns its death by a signal into an
/// error naming `file`.
#[cfg(unix)]
pub fn run_in_child(args: &[OsString], file: &std::path::Path, color: bool) -> ExitCode {
    let fail = |text: String| {
        eprintln!("{} {text}", paint("error:", Style::Bad, color));
        ExitCode::from(EXIT_ERROR)
    };
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(e) => {
            return fail(format!(
                "cannot find this program to read {}: {e}",
                file.display()
            ))
        }
    };
    let status = std::process::Command::new(exe)
        .args(args.iter().skip(1))
        .env(WORKER_VAR, "1")
        .status();
    match status {
        Err(e) => fail(format!(
            "cannot start a process to read {}: {e}",
            file.display()
        )),
        Ok(status) => match (status.code(), status.signal()) {
            (Some(code), _) => ExitCode::from(u8::try_from(code).unwrap_or(EXIT_ERROR)),
            (None, Some(signal)) if is_damage(signal) => fail(format!(
                "{} is damaged: LMDB could not walk it (its reader stopped with {}); the command \
                 did not complete (--store fs works on the files beside it)",
                file.display(),
                signal_name(signal)
            )),
            (None, Some(signal)) => fail(format!(
                "the process reading {} was stopped by {}",
                file.display(),
                signal_name(signal)
            )),
            (None, None) => fail(format!("the process reading {} ended", file.display())),
        },
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn crash_signals_are_damage_and_named() {
        assert!(is_damage(Signal::SEGV.as_raw()));
        assert!(is_damage(Signal::ABORT.as_raw()));
        assert!(!is_damage(Signal::INT.as_raw()));
        assert_eq!(signal_name(Signal::BUS.as_raw()), "SIGBUS");
        assert_eq!(signal_name(99), "signal 99");
    }
}
