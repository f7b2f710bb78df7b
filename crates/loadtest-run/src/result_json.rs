//! `result.json`: one flat object per step with the headline numbers, the config facts,
//! tool and server versions and the `--tag` labels — a file for dashboards. Where a number
//! means what `vllm bench serve --save-result` means by it, it carries that tool's key
//! (`request_throughput`, `output_throughput`, `mean_ttft_ms`, `p99_itl_ms`, …), so a
//! dashboard that parses those files takes this one unchanged. The schema is
//! `docs/result.schema.json`; every field is described in `docs/output-format.md`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::config_json::{LoadMode, RunFacts};
use crate::stats::LatencyStats;
use crate::step_summary::StepSummary;

/// The file name in the run folder.
pub const RESULT_JSON: &str = "result.json";

/// The version of this row's layout (raised when a field changes meaning or goes away).
pub const RESULT_SCHEMA_VERSION: u32 = 1;

/// One step of `result.json`. Latencies in milliseconds (`_ms`), rates per second, counts of
/// measure-phase requests. A latency is null when the step had no value for it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResultRow {
    /// [`RESULT_SCHEMA_VERSION`].
    pub schema_version: u32,
    /// This tool's name and version (`vllm-loadtest 0.1.0`).
    pub tool: String,
    /// When the run started (UTC, RFC 3339); vllm's `date` holds the same fact.
    pub date: String,
    /// The run folder's name.
    pub run_name: String,
    /// `--base-url`.
    pub base_url: String,
    /// Model requests named (vllm: `model_id`).
    pub model_id: String,
    /// Detected server kind (`vllm`, `sglang`, …), when known.
    pub server_kind: Option<String>,
    /// `GET /version`, when answered.
    pub server_version: Option<String>,
    /// `chat` or `completions`.
    pub endpoint: String,
    /// `concurrency` or `rate`.
    pub load_mode: String,
    /// Index of the step in `--steps`.
    pub step: usize,
    /// The step's load: concurrency or requests/s.
    pub load: f64,
    /// Concurrency mode: the step's concurrency (vllm: `max_concurrency`); null in rate mode.
    pub max_concurrency: Option<f64>,
    /// Rate mode: the step's arrival rate, req/s (vllm: `request_rate`); null otherwise.
    pub request_rate: Option<f64>,
    /// Rate mode: the gamma shape of the arrivals (1 = Poisson; null for constant gaps and in
    /// concurrency mode).
    pub burstiness: Option<f64>,
    /// `--input-mode`.
    pub input_mode: String,
    /// `--input-size` (synthetic prompts).
    pub input_size: Option<String>,
    /// `--max-output-tokens`.
    pub max_output_tokens: String,
    /// `--ignore-eos`.
    pub ignore_eos: bool,
    /// `--seed`.
    pub seed: u64,
    /// The step's measure window, seconds (vllm: `duration`, its whole benchmark).
    pub duration: f64,
    /// True when the run was interrupted inside this step.
    pub partial: bool,
    /// Measure-phase requests started (vllm: `num_prompts`).
    pub num_prompts: u64,
    /// Of those, ended `ok` (vllm: `completed`).
    pub completed: u64,
    /// Of those, failed (not `ok`, not cancelled by the tool).
    pub failed: u64,
    /// `failed ÷ (started − cancelled)`; null when nothing was judged.
    pub error_rate: Option<f64>,
    /// `ok` requests completed in the window ÷ window, req/s.
    pub request_throughput: f64,
    /// Completion tokens of requests completed in the window ÷ window, tok/s.
    pub output_throughput: f64,
    /// Prompt plus completion tokens of those requests ÷ window, tok/s.
    pub total_token_throughput: f64,
    /// Requests/s meeting every `--slo` objective (null without `--slo`).
    pub request_goodput: Option<f64>,
    /// Mean time to first token.
    pub mean_ttft_ms: Option<f64>,
    /// Median TTFT.
    pub median_ttft_ms: Option<f64>,
    /// 90th percentile TTFT.
    pub p90_ttft_ms: Option<f64>,
    /// 95th percentile TTFT.
    pub p95_ttft_ms: Option<f64>,
    /// 99th percentile TTFT.
    pub p99_ttft_ms: Option<f64>,
    /// Mean time per output token.
    pub mean_tpot_ms: Option<f64>,
    /// Median TPOT.
    pub median_tpot_ms: Option<f64>,
    /// 90th percentile TPOT.
    pub p90_tpot_ms: Option<f64>,
    /// 95th percentile TPOT.
    pub p95_tpot_ms: Option<f64>,
    /// 99th percentile TPOT.
    pub p99_tpot_ms: Option<f64>,
    /// Mean inter-token latency (gaps between token events, pooled).
    pub mean_itl_ms: Option<f64>,
    /// Median ITL.
    pub median_itl_ms: Option<f64>,
    /// 90th percentile ITL.
    pub p90_itl_ms: Option<f64>,
    /// 95th percentile ITL.
    pub p95_itl_ms: Option<f64>,
    /// 99th percentile ITL.
    pub p99_itl_ms: Option<f64>,
    /// Mean end-to-end latency.
    pub mean_e2el_ms: Option<f64>,
    /// Median e2e latency.
    pub median_e2el_ms: Option<f64>,
    /// 90th percentile e2e latency.
    pub p90_e2el_ms: Option<f64>,
    /// 95th percentile e2e latency.
    pub p95_e2el_ms: Option<f64>,
    /// 99th percentile e2e latency.
    pub p99_e2el_ms: Option<f64>,
    /// `--fail-on` thresholds checked at this step.
    pub thresholds_checked: usize,
    /// Of those, failed (no data counts as failed).
    pub thresholds_failed: usize,
    /// `--tag k=v` labels.
    pub tags: BTreeMap<String, String>,
}

/// The five latency fields of one metric, in ms.
struct Ms {
    mean: Option<f64>,
    median: Option<f64>,
    p90: Option<f64>,
    p95: Option<f64>,
    p99: Option<f64>,
}

fn ms(stats: Option<LatencyStats>) -> Ms {
    let f = |pick: fn(&LatencyStats) -> f64| {
        stats
            .as_ref()
            .map(|s| pick(s) * 1e3)
            .filter(|v| v.is_finite())
    };
    Ms {
        mean: f(|s| s.mean),
        median: f(|s| s.p50),
        p90: f(|s| s.p90),
        p95: f(|s| s.p95),
        p99: f(|s| s.p99),
    }
}

impl ResultRow {
    /// The row of `step` in the run described by `facts`.
    pub fn new(facts: &RunFacts, step: &StepSummary) -> Self {
        let s = &facts.settings;
        let rate = s.load_mode == LoadMode::Rate;
        let run_name = facts
            .run_dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| s.run_name.clone());
        let (ttft, tpot, itl, e2e) = (
            ms(step.ttft_s),
            ms(step.tpot_s),
            ms(step.itl_s),
            ms(step.e2e_s),
        );
        ResultRow {
            schema_version: RESULT_SCHEMA_VERSION,
            tool: facts.tool.clone(),
            date: facts.started_at.clone(),
            run_name,
            base_url: facts.target.base_url.clone(),
            model_id: facts.target.model.clone(),
            server_kind: facts.target.server_kind.clone(),
            server_version: facts.target.server_version.clone(),
            endpoint: facts.target.endpoint.clone(),
            load_mode: step.load_mode.clone(),
            step: step.step,
            load: step.load,
            max_concurrency: (!rate).then_some(step.load),
            request_rate: rate.then_some(step.load),
            burstiness: match s.arrival {
                _ if !rate => None,
                crate::Arrival::Poisson => Some(1.0),
                crate::Arrival::Constant | crate::Arrival::Trace => None,
                crate::Arrival::Gamma { burstiness } => Some(burstiness),
            },
            input_mode: s.input_mode.clone(),
            input_size: s.input_size.clone(),
            max_output_tokens: s.max_output_tokens.clone(),
            ignore_eos: s.ignore_eos,
            seed: s.seed,
            duration: step.window_s,
            partial: step.partial,
            num_prompts: step.counts.started,
            completed: step.counts.ok,
            failed: step.counts.failed(),
            error_rate: step.counts.error_rate(),
            request_throughput: step.rps,
            output_throughput: step.output_tokens_per_s,
            total_token_throughput: step.output_tokens_per_s + step.input_tokens_per_s,
            request_goodput: step.slo.as_ref().map(|r| r.goodput_rps),
            mean_ttft_ms: ttft.mean,
            median_ttft_ms: ttft.median,
            p90_ttft_ms: ttft.p90,
            p95_ttft_ms: ttft.p95,
            p99_ttft_ms: ttft.p99,
            mean_tpot_ms: tpot.mean,
            median_tpot_ms: tpot.median,
            p90_tpot_ms: tpot.p90,
            p95_tpot_ms: tpot.p95,
            p99_tpot_ms: tpot.p99,
            mean_itl_ms: itl.mean,
            median_itl_ms: itl.median,
            p90_itl_ms: itl.p90,
            p95_itl_ms: itl.p95,
            p99_itl_ms: itl.p99,
            mean_e2el_ms: e2e.mean,
            median_e2el_ms: e2e.median,
            p90_e2el_ms: e2e.p90,
            p95_e2el_ms: e2e.p95,
            p99_e2el_ms: e2e.p99,
            thresholds_checked: step.thresholds.len(),
            thresholds_failed: step.thresholds.iter().filter(|v| !v.passed).count(),
            tags: s.tags.clone(),
        }
    }
}

/// Every step's row: the content of `result.json` (a JSON array).
pub fn result_rows(facts: &RunFacts, steps: &[StepSummary]) -> Vec<ResultRow> {
    steps.iter().map(|s| ResultRow::new(facts, s)).collect()
}
