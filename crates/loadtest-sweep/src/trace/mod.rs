//! `--arrival trace:PATH`: replay a published request trace — each request at its row's
//! timestamp, with its row's input and output lengths.
//!
//! Two formats, as published:
//! - **Mooncake** (JSONL, `.jsonl`/`.json`): one object per line, `timestamp` in ms,
//!   `input_length`, `output_length`, optional `hash_ids` (one integer per 512-token block of
//!   the prompt; requests sharing leading hash ids share a prompt prefix).
//! - **BurstGPT** (CSV, `.csv`): header `Timestamp,Model,Request tokens,Response tokens,Total
//!   tokens,Log Type`, `Timestamp` in seconds. Rows with `Response tokens` 0 are failures in
//!   the original log and are skipped (counted in `settings.trace.rows_skipped`).
//!
//! The file is read twice, each time as a stream: once when it is loaded
//! ([`load_trace`]: every row checked, timestamps non-decreasing, the SHA-256 and the row
//! count at every step boundary kept), then during the run, one row ahead of the schedule.
//! Memory is bounded by the step count, not by the file. The first row's timestamp is t = 0;
//! `--trace-speed F` divides every offset by F. The first `--warmup-s` of (scaled) trace time
//! is the warmup; then each step is the next `--step-duration-s` slice, until the trace ends
//! (or `--trace-max-steps`); a step's load is its slice's offered rate (arrivals / seconds).
//! Row `k` (0-based, skipped rows not counted) is the run's request `k`, so shard `i/n`
//! replays the rows `k·n + i`.

mod config;
mod parse;
mod prompt;
mod replay;

use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

pub use config::replay_trace;
pub use replay::{TraceReplay, load_trace};

pub(crate) use config::{rate_step_ok, validate};

pub(crate) use parse::TraceRow;
pub(crate) use prompt::TracePrompts;
pub(crate) use replay::TraceArrivals;

/// The longest line (or CSV row) read, in bytes; a longer one is an error naming its line.
pub const MAX_LINE_BYTES: usize = 1024 * 1024;

/// The largest `input_length` (or `Request tokens`) of a row.
pub const MAX_INPUT_TOKENS: u64 = 1 << 21;

/// The largest `output_length` (or `Response tokens`) of a row.
pub const MAX_OUTPUT_TOKENS: u64 = 1 << 24;

/// The largest timestamp, seconds (about 31,000 years: anything above is not a trace).
pub const MAX_TIMESTAMP_S: f64 = 1e12;

/// Tokens of the prompt each Mooncake hash id stands for.
pub const HASH_BLOCK_TOKENS: u64 = 512;

/// The most steps a trace may be sliced into: each step holds its own statistics for the whole
/// run (1,000 steps of 60 s are almost 17 hours).
pub const MAX_TRACE_STEPS: u64 = 1000;

/// A trace file's format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TraceFormat {
    /// Mooncake JSONL: `timestamp` (ms), `input_length`, `output_length`, `hash_ids`.
    Mooncake,
    /// BurstGPT CSV: `Timestamp` (s), `Request tokens`, `Response tokens`, ….
    BurstGpt,
}

impl TraceFormat {
    /// `mooncake` or `burstgpt`.
    pub fn as_str(self) -> &'static str {
        match self {
            TraceFormat::Mooncake => "mooncake",
            TraceFormat::BurstGpt => "burstgpt",
        }
    }
}

/// The trace of `--arrival trace:[FORMAT:]PATH`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceSpec {
    /// The format: given, or from the extension.
    pub format: TraceFormat,
    /// The file.
    pub path: PathBuf,
}

impl FromStr for TraceSpec {
    type Err = String;

    /// `mooncake:PATH`, `burstgpt:PATH`, or `PATH` ending in `.jsonl`/`.json` (Mooncake) or
    /// `.csv` (BurstGPT). The text after `trace:`.
    fn from_str(s: &str) -> Result<Self, String> {
        let expected = "expected trace:PATH with PATH ending in .jsonl/.json (Mooncake) or .csv \
                        (BurstGPT), or trace:mooncake:PATH / trace:burstgpt:PATH";
        let (format, path) = match s.split_once(':') {
            Some((f, rest)) if f.eq_ignore_ascii_case("mooncake") => {
                (Some(TraceFormat::Mooncake), rest)
            }
            Some((f, rest)) if f.eq_ignore_ascii_case("burstgpt") => {
                (Some(TraceFormat::BurstGpt), rest)
            }
            _ => (None, s),
        };
        if path.is_empty() {
            return Err(format!("no path ({expected})"));
        }
        let path = PathBuf::from(path);
        let format = match format {
            Some(format) => format,
            None => {
                let ext = path
                    .extension()
                    .and_then(|e| e.to_str())
                    .map(str::to_ascii_lowercase);
                match ext.as_deref() {
                    Some("jsonl" | "json") => TraceFormat::Mooncake,
                    Some("csv") => TraceFormat::BurstGpt,
                    _ => return Err(format!("cannot tell the format from the name ({expected})")),
                }
            }
        };
        Ok(TraceSpec { format, path })
    }
}

/// How a trace is replayed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TraceOptions {
    /// `--trace-speed`: offsets are divided by it (> 0, finite).
    pub speed: f64,
    /// The warmup: the first slice of (scaled) trace time.
    pub warmup: Duration,
    /// Each step's slice of (scaled) trace time.
    pub step_duration: Duration,
    /// `--trace-max-steps`: replay at most this many steps (`None`: until the trace ends).
    pub max_steps: Option<u64>,
}

impl TraceOptions {
    /// Speed 1, no cap.
    pub fn new(warmup: Duration, step_duration: Duration) -> Self {
        TraceOptions {
            speed: 1.0,
            warmup,
            step_duration,
            max_steps: None,
        }
    }
}

/// Why a trace cannot be replayed; every variant names the file (and the line, for a row).
#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    /// Opening or reading failed.
    #[error("cannot read trace {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A row (or the CSV header) is not what the format says.
    #[error("trace {path} line {line}: {reason}")]
    Row {
        /// The file.
        path: PathBuf,
        /// The line, 1-based.
        line: u64,
        /// What is wrong.
        reason: String,
    },
    /// The trace cannot be sliced into steps as asked.
    #[error("trace {path}: {reason}")]
    Plan {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// `--trace-speed` is not a number > 0.
    #[error("speed {0} is not a number > 0")]
    Speed(f64),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_name_or_imply_the_format() {
        let s: TraceSpec = "t/mooncake.jsonl".parse().unwrap();
        assert_eq!(s.format, TraceFormat::Mooncake);
        assert_eq!(s.path, PathBuf::from("t/mooncake.jsonl"));
        let s: TraceSpec = "BurstGPT_1.CSV".parse().unwrap();
        assert_eq!(s.format, TraceFormat::BurstGpt);
        let s: TraceSpec = "burstgpt:/data/log.txt".parse().unwrap();
        assert_eq!(s.format, TraceFormat::BurstGpt);
        assert_eq!(s.path, PathBuf::from("/data/log.txt"));
        let s: TraceSpec = "mooncake:c:/x.csv".parse().unwrap();
        assert_eq!(
            (s.format, s.path),
            (TraceFormat::Mooncake, "c:/x.csv".into())
        );
        for bad in ["", "mooncake:", "trace.txt", "noext"] {
            let err = bad.parse::<TraceSpec>().unwrap_err();
            assert!(err.contains("trace:mooncake:PATH"), "{bad}: {err}");
        }
    }
}
