//! The names of a run folder's files, and the CSV headers.

/// Effective configuration: [`RunFacts`](crate::RunFacts).
pub const CONFIG: &str = "config.json";
/// One [`RequestRow`](crate::RequestRow) per line.
pub const REQUESTS: &str = "requests.jsonl";
/// One row per `/metrics` scrape: [`vllm_metrics_header`].
pub const VLLM_METRICS: &str = "vllm_metrics.csv";
/// One [`GpuMetricsRow`](crate::GpuMetricsRow) per GPU per sample.
pub const GPU_METRICS: &str = "gpu_metrics.csv";
/// Per-step statistics: [`StepSummaryFile`](crate::StepSummaryFile).
pub const STEP_SUMMARY: &str = "step_summary.json";
/// Per-step server deltas: [`StepDeltasFile`](crate::StepDeltasFile).
pub const STEP_DELTAS: &str = "vllm_step_deltas.json";
/// Per-step mergeable distributions (HDR histogram buckets):
/// [`StepHistogramsFile`](crate::StepHistogramsFile).
pub const STEP_HISTOGRAMS: &str = "step_histograms.json";
/// The report for people.
pub const SUMMARY_MD: &str = "summary.md";
/// The folder of the charts (SVG), relative to the run folder.
pub const CHARTS_DIR: &str = "charts";

/// The columns of `vllm_metrics.csv` before the canonical metric columns
/// ([`loadtest_prom::CSV_COLUMNS`]).
pub const VLLM_METRICS_LEAD_COLUMNS: [&str; 4] = ["unix_s", "elapsed_s", "step", "phase"];

/// The header line of `vllm_metrics.csv`, with its `\n`.
///
/// ```
/// assert!(loadtest_run::files::vllm_metrics_header().starts_with("unix_s,elapsed_s,step,phase,requests_running,"));
/// ```
pub fn vllm_metrics_header() -> String {
    let mut line = VLLM_METRICS_LEAD_COLUMNS
        .iter()
        .chain(loadtest_prom::CSV_COLUMNS.iter())
        .copied()
        .collect::<Vec<_>>()
        .join(",");
    line.push('\n');
    line
}
