//! `bucketcache`: look into, check and clean bucketcache cache directories from the shell.
//!
//! See `bucketcache --help` and `docs/CLI.md`.

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
