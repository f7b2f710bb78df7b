//! Everything the binary writes to the terminal goes through here.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::process::ExitCode;

use crate::EXIT_USAGE;

/// Logs go to stderr, filtered by `RUST_LOG` (default: warnings and errors).
pub(crate) fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}

/// Prints a clap error (or `--help` / `--version` output) and picks the exit code.
pub(crate) fn clap_error(err: &clap::Error) -> ExitCode {
    let _ = err.print();
    if err.use_stderr() {
        ExitCode::from(EXIT_USAGE)
    } else {
        ExitCode::SUCCESS
    }
}

/// Prints a fatal error as one line (with its causes) and returns the usage/preflight code.
pub(crate) fn fatal(err: &anyhow::Error) -> ExitCode {
    eprintln!("error: {err:#}");
    ExitCode::from(EXIT_USAGE)
}

/// Prints one line of command output to stdout. A closed pipe (`… | head`) is not an error.
pub(crate) fn line(text: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stdout().lock(), "{text}");
}

/// Prints one line of progress or notice to stderr (stdout stays for results).
pub(crate) fn note(text: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "{text}");
}
