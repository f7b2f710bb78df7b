//! Everything the binary writes to the terminal goes through here.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::process::ExitCode;

use crate::EXIT_USAGE;

/// Logs go to stderr, filtered by `RUST_LOG` (default: warnings and errors; errors only when
/// `quiet`).
pub(crate) fn init_tracing(quiet: bool) {
    let default = if quiet { "error" } else { "warn" };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    // Colours only on a terminal: a log file or a pipe gets plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}

/// Prints a clap error (or `--help` / `--version` output) and picks the exit code.
pub(crate) fn clap_error(err: &clap::Error) -> ExitCode {
    if err.use_stderr() {
        eprintln!("{}", one_line(&err.render().to_string()));
        ExitCode::from(EXIT_USAGE)
    } else {
        let _ = err.print();
        ExitCode::SUCCESS
    }
}

/// A clap usage error on one line: its message, possible values and tip, without the usage
/// block and the "For more information" line (every error of this tool is one line). The
/// lines listed under a line ending with ':' (the missing arguments) follow it after a space
/// and are joined with ", "; other lines are joined with "; ".
fn one_line(rendered: &str) -> String {
    let mut text = String::new();
    // Inside the list that follows a line ending with ':', and whether it has an item yet.
    let mut list: Option<bool> = None;
    for line in rendered.lines().map(str::trim) {
        if line.starts_with("Usage:") {
            break;
        }
        if line.is_empty() {
            list = None;
            continue;
        }
        if line.starts_with("For more information") {
            continue;
        }
        if !text.is_empty() {
            text.push_str(match list {
                Some(false) => " ",
                Some(true) => ", ",
                None if line.starts_with('[') => " ",
                None => "; ",
            });
        }
        text.push_str(line);
        list = if line.ends_with(':') {
            Some(false)
        } else {
            list.map(|_| true)
        };
    }
    let text = text.strip_prefix("error: ").unwrap_or(&text);
    format!("error: {text} (see --help)")
}

/// True when stderr is a terminal (live progress draws a bar there, else prints lines).
pub(crate) fn stderr_is_terminal() -> bool {
    use std::io::IsTerminal as _;
    std::io::stderr().is_terminal()
}

/// A progress bar on stderr over `len` units (the run's milliseconds), with a message;
/// cleared when dropped.
pub(crate) fn progress_bar(len: u64) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::with_draw_target(
        Some(len),
        indicatif::ProgressDrawTarget::stderr_with_hz(4),
    );
    if let Ok(style) = indicatif::ProgressStyle::with_template("{bar:24.cyan/blue} {msg}") {
        bar.set_style(style.progress_chars("█▉▊▋▌▍▎▏ "));
    }
    bar
}

/// A spinner on stderr with a message; cleared when dropped.
pub(crate) fn spinner() -> indicatif::ProgressBar {
    let bar =
        indicatif::ProgressBar::with_draw_target(None, indicatif::ProgressDrawTarget::stderr());
    if let Ok(style) = indicatif::ProgressStyle::with_template("{spinner} {msg}") {
        bar.set_style(style);
    }
    bar
}

/// Prints a fatal error as one line (with its causes) and returns the usage/preflight code.
pub(crate) fn fatal(err: &anyhow::Error) -> ExitCode {
    eprintln!("error: {}", error_line(err));
    ExitCode::from(EXIT_USAGE)
}

/// An error and its causes on one line: a cause already quoted by the message before it
/// (`cannot write X: No space left on device` over the same OS error) is not repeated, and
/// control characters (a server's text, a terminal escape) become spaces.
fn error_line(err: &anyhow::Error) -> String {
    let mut text = err.to_string();
    for cause in err.chain().skip(1) {
        let cause = cause.to_string();
        if !text.contains(&cause) {
            text.push_str(": ");
            text.push_str(&cause);
        }
    }
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
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

#[cfg(test)]
mod tests {
    #[test]
    fn fatal_errors_are_one_line_without_repeated_causes() {
        let io = std::io::Error::new(std::io::ErrorKind::StorageFull, "disk full");
        let err = anyhow::Error::new(io)
            .context("cannot write /x: disk full")
            .context("saving\nthe \u{1b}[31mrun");
        assert_eq!(
            super::error_line(&err),
            "saving the  [31mrun: cannot write /x: disk full"
        );
    }

    #[test]
    fn clap_errors_become_one_line() {
        let rendered = "error: invalid value 'bogus' for '--endpoint <ENDPOINT>'\n  [possible values: chat, completions]\n\nFor more information, try '--help'.\n";
        assert_eq!(
            super::one_line(rendered),
            "error: invalid value 'bogus' for '--endpoint <ENDPOINT>' [possible values: chat, completions] (see --help)"
        );
        let rendered = "error: unexpected argument '--bogus' found\n\n  tip: a similar argument exists: '--no-gpu'\n\nUsage: vllm-loadtest --no-gpu\n\nFor more information, try '--help'.\n";
        assert_eq!(
            super::one_line(rendered),
            "error: unexpected argument '--bogus' found; tip: a similar argument exists: '--no-gpu' (see --help)"
        );
    }

    #[test]
    fn clap_lists_after_a_colon_read_naturally() {
        let rendered = "error: the following required arguments were not provided:\n  <FILE|URL>\n\nUsage: vllm-loadtest metrics <FILE|URL|--diff <BEFORE> <AFTER>>\n\nFor more information, try '--help'.\n";
        assert_eq!(
            super::one_line(rendered),
            "error: the following required arguments were not provided: <FILE|URL> (see --help)"
        );
        let rendered = "error: the following required arguments were not provided:\n  --base-url <URL>\n  --input-size <N>\n\n  tip: try --simulate\n\nUsage: vllm-loadtest [OPTIONS]\n";
        assert_eq!(
            super::one_line(rendered),
            "error: the following required arguments were not provided: --base-url <URL>, --input-size <N>; tip: try --simulate (see --help)"
        );
    }
}
