//! The human side of a vllm-loadtest run folder: `summary.md` with charts, re-rendered from
//! the folder's files alone, and the comparison of two runs.
//!
//! [`render_run`] reads `config.json` and `step_summary.json` (nothing else: a report can be
//! re-rendered from an old or copied folder) and writes, each atomically,
//! `summary.md` and `charts/*.svg` — throughput, latency percentiles, server queue and KV
//! cache, GPU utilisation and power (each only when the run has its data). [`render_run_to`]
//! writes them elsewhere. [`compare_runs`] renders a markdown diff of two runs per common load
//! level (same load mode), each change with sample sizes and a 95 % interval, better / worse
//! only when significant and large enough ([`compare_runs_with`], [`CompareOptions`]).
//!
//! The run folder's file names, types and readers are `loadtest_run`'s
//! ([`loadtest_run::files`], [`loadtest_run::read_config`],
//! [`loadtest_run::read_step_summary`]); [`RunData::load`] calls them, and a missing,
//! unreadable or malformed file is a [`ReportError::Read`] holding their
//! [`ReadError`](loadtest_run::ReadError).
//!
//! ```
//! use std::path::Path;
//!
//! // A small committed run (the built-in simulator, steps 1, 4, 16).
//! let run = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/run_a");
//! let out = tempfile::tempdir()?;
//! let outcome = loadtest_report::render_run_to(&run, out.path())?;
//! let summary = std::fs::read_to_string(&outcome.summary_md)?;
//! assert!(summary.contains("## Steps"));
//! assert!(summary.contains("](charts/throughput.svg)"));
//! assert!(outcome.charts.iter().any(|c| c.ends_with("latency.svg")));
//!
//! // B against A, per common load level.
//! let b = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/run_b");
//! let diff = loadtest_report::compare_runs(&run, &b)?;
//! assert!(diff.contains("## Load concurrency 4"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Cells with no data are empty (never `NaN`); latencies are shown in µs, ms or s with three
//! significant digits. Charts are plain SVG drawn by plotters (text as SVG `<text>`, no font
//! files needed); a log axis is used on x when loads span ≥ 8× (ticks at the loads) and on
//! the latency chart's y when values span more than 20×.

mod charts;
mod compare;
mod error;
mod format;
mod run_data;
mod step_values;
mod summary;
mod trials;
mod write;

use std::path::{Path, PathBuf};

use loadtest_run::files::{CHARTS_DIR, SUMMARY_MD};

pub use charts::{Chart, ChartKind, render_charts};
pub use compare::{
    CompareError, CompareOptions, Comparison, DEFAULT_MIN_CHANGE, DEFAULT_RESAMPLES, DEFAULT_SEED,
    MAX_RESAMPLES, MIN_SHARE_CHANGE, compare_runs, compare_runs_with, render_compare,
};
pub use error::ReportError;
pub use run_data::RunData;
pub use summary::render_summary;
pub use trials::render_trials;

/// What [`render_run`] wrote.
#[derive(Debug, Clone)]
pub struct RenderOutcome {
    /// The `summary.md` written.
    pub summary_md: PathBuf,
    /// The chart files written, in report order.
    pub charts: Vec<PathBuf>,
    /// Steps in the report.
    pub steps: usize,
    /// The run's warnings (as listed in summary.md's `Warnings` section, before the report's
    /// own additions).
    pub warnings: Vec<String>,
}

/// Re-renders `summary.md` and `charts/*.svg` inside the run folder `run_dir`, from its
/// `config.json` and `step_summary.json`. Each file is written atomically; chart files the
/// run has no data for are removed if an earlier render left them.
///
/// # Errors
/// [`ReportError`] naming the file that is missing, unreadable, malformed or unwritable.
pub fn render_run(run_dir: &Path) -> Result<RenderOutcome, ReportError> {
    render_run_to(run_dir, run_dir)
}

/// Like [`render_run`], but writes `summary.md` and `charts/` into `out_dir` (created when
/// missing), leaving the run folder untouched.
///
/// # Errors
/// As [`render_run`].
pub fn render_run_to(run_dir: &Path, out_dir: &Path) -> Result<RenderOutcome, ReportError> {
    let run = RunData::load(run_dir)?;
    let charts = render_charts(&run)?;
    let charts_dir = out_dir.join(CHARTS_DIR);
    write::ensure_dir(&charts_dir)?;
    let mut chart_paths = Vec::with_capacity(charts.len());
    for chart in &charts {
        let path = charts_dir.join(chart.kind.file_name());
        write::write_atomic(&path, chart.svg.as_bytes())?;
        chart_paths.push(path);
    }
    for kind in ChartKind::ALL {
        if !charts.iter().any(|c| c.kind == kind) {
            let stale = charts_dir.join(kind.file_name());
            if stale.exists()
                && let Err(err) = std::fs::remove_file(&stale)
            {
                tracing::warn!(path = %stale.display(), %err, "cannot remove a stale chart");
            }
        }
    }
    let kinds: Vec<ChartKind> = charts.iter().map(|c| c.kind).collect();
    let md = render_summary(&run, &kinds);
    let summary_md = out_dir.join(SUMMARY_MD);
    write::write_atomic(&summary_md, md.as_bytes())?;
    tracing::debug!(path = %summary_md.display(), charts = charts.len(), "report written");
    Ok(RenderOutcome {
        summary_md,
        charts: chart_paths,
        steps: run.summary.steps.len(),
        warnings: run.summary.warnings.clone(),
    })
}
