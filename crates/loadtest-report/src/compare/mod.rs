//! `compare`: two runs side by side, per load level present in both (same load mode and
//! level), every change with both sample sizes and a 95 % interval of B − A, called better
//! or worse only when the interval excludes zero *and* the change is at least
//! [`CompareOptions::min_change`]; otherwise "no significant change".
//!
//! Method (docs/output-format.md, "compare"):
//! - latencies (TTFT, TPOT, ITL, e2e): a moving-block percentile bootstrap over the
//!   measure-phase `ok` requests of each step in `requests.jsonl`, in start order —
//!   [`CompareOptions::resamples`] resamples of each run's requests with replacement, in
//!   blocks of as many consecutive requests as were in flight on average (they share the
//!   server's and the client's stalls), seeded ([`CompareOptions::seed`]), the statistic
//!   recomputed on both, the 2.5th–97.5th percentile of the differences. ITL per request is
//!   its median gap between token events; `ITL p50` / `ITL p99` are the median / p99 over
//!   requests of it (one hiccup in a stream does not move them, a slower decode does). A step
//!   with more than [`MAX_SAMPLES_PER_STEP`](samples::MAX_SAMPLES_PER_STEP) requests keeps
//!   every k-th.
//! - rates (req/s, output tok/s, goodput): counts in the window are taken as Poisson (a
//!   closed loop varies less: the interval is conservative), normal interval.
//! - failed share: two proportions, normal interval; [`MIN_SHARE_CHANGE`] is its practical
//!   threshold.
//! - a change is better or worse only when the whole interval lies beyond the practical
//!   threshold: it excludes zero and even its bound nearest zero is at least `min_change` of
//!   A.
//! - server and GPU rows have no per-request samples: shown for context, never judged.

mod facts;
mod metrics;
mod render;
mod samples;
mod stats;

use std::path::{Path, PathBuf};

use crate::{ReportError, RunData};
pub use metrics::MIN_SHARE_CHANGE;
use samples::RunSamples;

/// Default [`CompareOptions::min_change`]: 5 %.
pub const DEFAULT_MIN_CHANGE: f64 = 0.05;
/// Default [`CompareOptions::resamples`].
pub const DEFAULT_RESAMPLES: usize = 1000;
/// Most resamples accepted (time grows linearly with them).
pub const MAX_RESAMPLES: usize = 10_000;
/// Default [`CompareOptions::seed`].
pub const DEFAULT_SEED: u64 = 0x5EED;

/// How two runs are compared.
#[derive(Debug, Clone, PartialEq)]
pub struct CompareOptions {
    /// Smallest relative change (0.05 = 5 %) called better or worse.
    pub min_change: f64,
    /// Compare runs of different load modes anyway (no step is matched across modes).
    pub force: bool,
    /// Bootstrap resamples (at most [`MAX_RESAMPLES`]).
    pub resamples: usize,
    /// Seed of the bootstrap.
    pub seed: u64,
}

impl Default for CompareOptions {
    fn default() -> Self {
        CompareOptions {
            min_change: DEFAULT_MIN_CHANGE,
            force: false,
            resamples: DEFAULT_RESAMPLES,
            seed: DEFAULT_SEED,
        }
    }
}

/// The comparison of B against A.
#[derive(Debug, Clone)]
pub struct Comparison {
    /// The markdown report.
    pub markdown: String,
    /// One line per metric and load judged worse (empty: no regression).
    pub regressions: Vec<String>,
}

/// Why two runs cannot be compared.
#[derive(Debug, thiserror::Error)]
pub enum CompareError {
    /// A run folder could not be read.
    #[error(transparent)]
    Report(#[from] ReportError),
    /// `requests.jsonl` could not be read.
    #[error("cannot read {path}: {source}")]
    Requests {
        /// The file.
        path: PathBuf,
        /// Why.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The runs used different load modes: concurrency N and N req/s are different loads.
    #[error(
        "A ran in {a} mode and B in {b} mode: their steps measure different things (concurrency 2 is not 2 req/s); compare runs of one mode, or force it (no step is matched)"
    )]
    LoadModes {
        /// A's mode.
        a: &'static str,
        /// B's mode.
        b: &'static str,
    },
    /// An option is out of range.
    #[error("{0}")]
    Options(String),
}

/// Reads two run folders and renders the comparison of B against A with default options.
///
/// # Errors
/// Those of [`compare_runs_with`].
pub fn compare_runs(a: &Path, b: &Path) -> Result<String, CompareError> {
    compare_runs_with(a, b, &CompareOptions::default()).map(|c| c.markdown)
}

/// Reads two run folders (config.json, step_summary.json, requests.jsonl) and compares B
/// against A.
///
/// # Errors
/// A folder or file that cannot be read; runs of different load modes without
/// [`CompareOptions::force`]; options out of range.
pub fn compare_runs_with(
    a: &Path,
    b: &Path,
    opts: &CompareOptions,
) -> Result<Comparison, CompareError> {
    let a = RunData::load(a)?;
    let b = RunData::load(b)?;
    render_compare(&a, &b, opts)
}

/// Compares run B against run A (their per-request samples read from each run folder).
///
/// # Errors
/// As [`compare_runs_with`].
pub fn render_compare(
    a: &RunData,
    b: &RunData,
    opts: &CompareOptions,
) -> Result<Comparison, CompareError> {
    if !(opts.min_change.is_finite() && (0.0..10.0).contains(&opts.min_change)) {
        return Err(CompareError::Options(format!(
            "min change {} is not a share between 0 and 10 (0.05 = 5 %)",
            opts.min_change
        )));
    }
    if opts.resamples == 0 || opts.resamples > MAX_RESAMPLES {
        return Err(CompareError::Options(format!(
            "resamples {} is not within 1..={MAX_RESAMPLES}",
            opts.resamples
        )));
    }
    let (ma, mb) = (a.facts.settings.load_mode, b.facts.settings.load_mode);
    if ma != mb && !opts.force {
        return Err(CompareError::LoadModes {
            a: ma.as_str(),
            b: mb.as_str(),
        });
    }
    let sa = RunSamples::read(&a.dir)?;
    let sb = RunSamples::read(&b.dir)?;
    Ok(render::render(a, b, &sa, &sb, opts))
}
