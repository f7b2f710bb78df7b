//! The sweep engine of vllm-loadtest: load levels held for fixed windows, requests streamed
//! and timed by `loadtest-client`, `/metrics` scraped at every window edge (`loadtest-prom`),
//! GPUs sampled (`loadtest-gpu`), and a run folder written with every file of the spec.
//!
//! A front end builds a [`SweepConfig`] (all defaults resolved, all values validated) and
//! calls [`run_sweep`]:
//!
//! ```no_run
//! use std::sync::Arc;
//! use std::time::Duration;
//! use loadtest_sweep::config::{SweepConfig, TargetConfig};
//! use loadtest_sweep::inputs::InputSource;
//! use loadtest_sweep::{RunOptions, run_sweep};
//!
//! # async fn demo() -> Result<(), loadtest_sweep::SweepError> {
//! let input = InputSource::Synthetic("normal:256:64:32:1024".parse().unwrap());
//! let mut config = SweepConfig::new(TargetConfig::new("http://127.0.0.1:8000"), input);
//! config.steps = vec![1.0, 4.0];
//! config.step_duration = Duration::from_secs(30);
//! config.ignore_eos = true;
//! let outcome = run_sweep(config, RunOptions::default()).await?;
//! println!("wrote {}", outcome.run_dir.display());
//! # Ok(()) }
//! ```
//!
//! For a sweep driven from another tool with its own request source and record sink, see
//! `examples/embed.rs`.

pub mod arrival;
pub mod auto_stop;
mod cancel;
mod collected;
pub mod config;
pub mod conversation;
mod count;
pub mod dataset;
mod dispatch;
mod engine;
pub mod fd_budget;
mod finalize;
mod gpu_telemetry;
pub mod health;
mod inflight;
mod inflight_grid;
pub mod inputs;
mod live;
pub mod live_text;
pub mod merge;
mod open_loop;
mod output_file;
pub mod prefix;
mod preflight;
pub mod probe;
pub mod prompt_file;
mod recorder;
pub mod repeat;
mod rows;
pub mod run_dir;
mod scrape;
mod scrape_counted;
mod scrape_plan;
pub mod start_at;
pub mod stats;
mod summarize;
mod synthetic;
pub mod timeline;
mod timer;
pub mod tokenize;
pub mod trace;
pub mod validate;
mod warnings;
mod windows;

use std::path::PathBuf;

pub use cancel::{CancelToken, Cancelled};
pub use config::SweepConfig;
pub use engine::{RunOptions, run_sweep};
pub use live::{LiveCounters, StepLive};
pub use preflight::ServerInfo;
pub use recorder::RecordSink;
pub use rows::{RowContext, request_row, unix_now_s};
pub use synthetic::{ExactSynthetic, synthetic_prompt};

/// Why a sweep could not run. Request failures are never errors: they are recorded.
#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    /// The configuration breaks a rule of the engine ([`SweepConfig::validate`]).
    #[error(transparent)]
    Config(#[from] validate::ConfigError),
    /// The configuration cannot be run.
    #[error("{message}")]
    Usage {
        /// What is wrong.
        message: String,
    },
    /// The server did not answer at all (preflight); nothing was written.
    #[error("cannot reach {url}: {reason}")]
    Unreachable {
        /// The base URL.
        url: String,
        /// Why.
        reason: String,
    },
    /// Ctrl-C / SIGTERM ([`RunOptions::cancel`]) came before the run began (during
    /// preflight): nothing was written.
    #[error("interrupted before the run began: nothing was written")]
    Interrupted,
    /// The server answered but cannot be load tested as configured.
    #[error("{message}")]
    Preflight {
        /// What is wrong.
        message: String,
    },
    /// The HTTP client could not be built (TLS set-up, invalid URL or header).
    #[error(transparent)]
    Client(loadtest_client::ClientError),
    /// A file of the run folder could not be written.
    #[error(transparent)]
    Output(#[from] loadtest_run::OutputError),
    /// The report (summary.md, charts) could not be rendered from the files written.
    #[error(transparent)]
    Report(#[from] loadtest_report::ReportError),
    /// A task of the engine failed (a bug).
    #[error("internal error: {message}")]
    Internal {
        /// What failed.
        message: String,
    },
}

/// What a finished (or interrupted) sweep left behind.
#[derive(Debug)]
pub struct RunOutcome {
    /// The run folder.
    pub run_dir: PathBuf,
    /// One summary per step whose window began.
    pub steps: Vec<loadtest_run::StepSummary>,
    /// True when stopped by Ctrl-C / SIGTERM.
    pub interrupted: bool,
    /// Requests started in measure windows.
    pub measured_requests: u64,
    /// Of those, requests that failed (not `ok`, not cancelled by the tool).
    pub failed_requests: u64,
    /// Of those, requests the tool cancelled (Ctrl-C / SIGTERM, or the end of the drain):
    /// not failures, and not in error rates.
    pub cancelled_requests: u64,
    /// Lines written to requests.jsonl.
    pub rows_written: u64,
    /// Rows of vllm_metrics.csv and gpu_metrics.csv lost to a write error (a full disk).
    pub csv_rows_not_written: u64,
    /// Run-level warnings.
    pub warnings: Vec<String>,
    /// `--fail-on` thresholds whose `@LOAD` matched no step that ran (failing).
    pub thresholds_unmatched: Vec<String>,
}

#[doc(hidden)]
pub use output_file::inject_write_failure;

impl RunOutcome {
    /// Rows of `requests.jsonl` that were not written (a write error: a full disk), all
    /// steps together. The CLI exits 2 when it is not 0: records were lost.
    pub fn rows_not_written(&self) -> u64 {
        self.steps.iter().map(|s| s.rows_not_written).sum()
    }

    /// One line per failed `--fail-on` threshold (per step it failed at, and per threshold
    /// whose load never ran); empty when every threshold held.
    pub fn threshold_failures(&self) -> Vec<String> {
        let mut lines: Vec<String> = self
            .steps
            .iter()
            .flat_map(|s| s.thresholds.iter())
            .filter(|v| !v.passed)
            .map(loadtest_run::ThresholdVerdict::failure_line)
            .collect();
        lines.extend(
            self.thresholds_unmatched
                .iter()
                .map(|e| format!("threshold {e} failed: no step ran at that load")),
        );
        lines
    }

    /// Failed share of the measured requests the tool did not cancel (0 when none).
    pub fn error_rate(&self) -> f64 {
        let judged = self
            .measured_requests
            .saturating_sub(self.cancelled_requests);
        if judged == 0 {
            0.0
        } else {
            self.failed_requests as f64 / judged as f64
        }
    }
}
