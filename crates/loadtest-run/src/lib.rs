//! The run folder of vllm-loadtest — the product's contract — in one place: the file names,
//! every file's types and their (de)serialisation, atomic whole-file writes, and a reader for
//! each file. The engine (`loadtest-sweep`) writes these types, the report
//! (`loadtest-report`) and any other tool read them; nothing here runs a request.
//!
//! | file | type |
//! |---|---|
//! | `config.json` | [`RunFacts`] ([`read_config`]) |
//! | `requests.jsonl` | one [`RequestRow`] per line ([`request_rows`], one at a time; [`read_requests`]) |
//! | `vllm_metrics.csv` | header [`files::vllm_metrics_header`]; rows from `loadtest_prom::CanonicalSnapshot::csv_values` |
//! | `gpu_metrics.csv` | [`GpuMetricsRow`], header [`gpu_metrics_header`] |
//! | `step_summary.json` | [`StepSummaryFile`] ([`read_step_summary`]) |
//! | `vllm_step_deltas.json` | [`StepDeltasFile`] ([`read_step_deltas`]) |
//! | `step_histograms.json` | [`StepHistogramsFile`] ([`read_step_histograms`]) |
//! | `result.json` | an array of [`ResultRow`] ([`result_rows`]) |
//! | `trials.json` (`--repeat`) | [`TrialsFile`] ([`aggregate_trials`]) |
//!
//! Every field is documented in `docs/output-format.md`, which a test holds against a real run.
//!
//! ```
//! use loadtest_run::{RequestRow, Status, Phase};
//!
//! let line = r#"{"id":0,"step":0,"phase":"measure","load":4.0,"start_unix_s":1700000000.0,"start_s":2.5,"ttft_s":0.05,"e2e_s":0.9,"total_s":0.91,"tpot_s":0.007,"chunks":128,"gap_mean_s":0.007,"gap_p50_s":0.007,"gap_p99_s":0.01,"gap_max_s":0.02,"prompt_tokens":256,"completion_tokens":128,"cached_tokens":null,"input_tokens_target":256,"max_tokens":128,"finish_reason":"length","status":"ok","http_status":200,"error":null,"sched_delay_s":null,"reads":128}"#;
//! let row: RequestRow = serde_json::from_str(line).unwrap();
//! assert_eq!(row.status, Status::Ok);
//! assert_eq!(row.phase, Some(Phase::Measure));
//! assert_eq!(serde_json::to_string(&row).unwrap(), line);
//! ```

/// The README's examples, compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

mod atomic;
mod auto_stop;
mod client_health;
mod config_json;
pub mod files;
mod gpu;
mod knee;
mod merge_facts;
mod read;
mod request_row;
mod result_json;
mod server_block;
mod shard;
mod slo;
mod stats;
mod step_deltas;
mod step_histograms;
mod step_summary;
mod thresholds;
mod trials;
mod turns;
mod verdicts;
mod workload_facts;

pub use atomic::{OutputError, write_atomic, write_json_atomic};
pub use auto_stop::{AutoStop, AutoStopped};
pub use client_health::{ClientHealth, ClientVerdict};
pub use config_json::{
    Arrival, GpuSettings, LoadMode, PromptFileFacts, RunFacts, Settings, TargetFacts,
    TelemetryFacts,
};
pub use gpu::{
    GPU_METRICS_COLUMNS, GpuMetricsRow, GpuReading, GpuStepStats, gpu_metrics_header,
    tokens_per_joule, total_energy_j,
};
pub use knee::{Knee, KneeRule, knee_between};
pub use merge_facts::MergedShard;
pub use read::{
    ReadError, RequestRows, read_config, read_requests, read_step_deltas, read_step_histograms,
    read_step_summary, request_rows,
};
pub use request_row::{Phase, REQUEST_ROW_KEYS, RequestRow, Status};
pub use result_json::{RESULT_JSON, RESULT_SCHEMA_VERSION, ResultRow, result_rows};
pub use server_block::ServerBlock;
pub use shard::{MAX_SHARDS, Shard, ShardError};
pub use slo::{
    DEFAULT_ATTAINMENT, Latencies, PercentileCheck, Slo, SloError, SloMetric, SloResult, SloTerm,
    parse_duration,
};
pub use stats::{LatencyStats, percentile_linear};
pub use step_deltas::{StepDeltasEntry, StepDeltasFile};
pub use step_histograms::{StepHistograms, StepHistogramsFile, StoredHistogram};
pub use step_summary::{
    ErrorKindSummary, InflightStats, Saturation, StatusCounts, StepEnd, StepSummary,
    StepSummaryFile,
};
pub use thresholds::{
    Threshold, ThresholdError, ThresholdMetric, ThresholdOp, ThresholdStat, ThresholdVerdict,
    evaluate_thresholds,
};
pub use trials::{
    Spread, TRIALS_JSON, TrialEntry, TrialStep, TrialsFile, aggregate_trials, headline_numbers,
};
pub use turns::{TurnStats, Turns};
pub use verdicts::{find_knee, find_saturation, step_latency_p50, sweep_verdicts};
pub use workload_facts::{
    DatasetFacts, DatasetTurnFacts, SharedPrefixFacts, TokenCounting, TraceFacts,
};
