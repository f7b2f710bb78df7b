//! The per-step summary (`step_summary.json`): one object per step, as defined in §6.

use serde::{Deserialize, Serialize};

use crate::gpu::GpuStepStats;

use crate::auto_stop::AutoStopped;
use crate::client_health::ClientHealth;
use crate::knee::Knee;
use crate::server_block::ServerBlock;
use crate::slo::SloResult;
use crate::stats::LatencyStats;
use crate::thresholds::ThresholdVerdict;

/// Counts of measure-phase requests of a step, by final status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusCounts {
    /// Requests started in the measure window.
    pub started: u64,
    /// Finished with a complete stream.
    pub ok: u64,
    /// Non-2xx HTTP status.
    pub http_error: u64,
    /// Deadline passed.
    pub timeout: u64,
    /// Could not connect.
    pub connect_error: u64,
    /// Malformed stream, error event, or connection dropped before the end.
    pub stream_error: u64,
    /// Cancelled by the tool (Ctrl-C, or still running at the end of the drain).
    pub cancelled: u64,
    /// Failed on the client itself (out of file descriptors): not a server failure, left out
    /// of [`failed`](Self::failed) and [`judged`](Self::judged). Absent when 0.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub client_error: u64,
}

impl StatusCounts {
    /// Requests that failed: not `ok` and not `cancelled`. A request the tool cancelled
    /// (Ctrl-C / SIGTERM, or still running when the drain ended) is not a server failure.
    pub fn failed(&self) -> u64 {
        self.http_error + self.timeout + self.connect_error + self.stream_error
    }

    /// Requests with an outcome of their own: started and not cancelled by the tool, nor
    /// failed on the client itself (the denominator of error rates).
    pub fn judged(&self) -> u64 {
        self.started
            .saturating_sub(self.cancelled)
            .saturating_sub(self.client_error)
    }

    /// `failed ÷ judged`; `None` when nothing was judged.
    pub fn error_rate(&self) -> Option<f64> {
        let judged = self.judged();
        (judged > 0).then(|| self.failed() as f64 / judged as f64)
    }
}

/// What ends a step's measure window ([`StepSummary::ended_by`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepEnd {
    /// The window's planned length (`--step-duration-s`).
    #[default]
    Window,
    /// Its requests (`--num-prompts`) all having finished: the window runs from the step's
    /// start to its last completion.
    Count,
}

impl StepEnd {
    /// `window`, for `skip_serializing_if`: time-window files stay as they were.
    pub fn is_window(&self) -> bool {
        *self == StepEnd::Window
    }

    /// The name in step_summary.json.
    pub fn as_str(self) -> &'static str {
        match self {
            StepEnd::Window => "window",
            StepEnd::Count => "count",
        }
    }
}

/// How many requests were in flight during the window (sampled every 100 ms).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct InflightStats {
    /// Samples taken.
    pub samples: u64,
    /// Mean of the samples.
    pub mean: f64,
    /// Smallest sample.
    pub min: u64,
    /// Largest sample.
    pub max: u64,
}

/// The most common error message of one kind, with counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorKindSummary {
    /// The status (`http_error`, `timeout`…).
    pub status: String,
    /// Requests of the step (any phase) that ended with it.
    pub count: u64,
    /// The most frequent error text.
    pub top_message: Option<String>,
    /// How often that text occurred.
    pub top_message_count: u64,
}

/// One step of `step_summary.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepSummary {
    /// Index in `--steps`.
    pub step: usize,
    /// Load level (concurrency, or requests/s in rate mode).
    pub load: f64,
    /// `concurrency` or `rate`.
    pub load_mode: String,
    /// Window start, seconds since the sweep started.
    pub window_start_s: f64,
    /// Window end, seconds since the sweep started (earlier than planned when interrupted).
    pub window_end_s: f64,
    /// Window length in seconds: the divisor of every rate below.
    pub window_s: f64,
    /// True when the sweep was interrupted inside this step.
    pub partial: bool,
    /// The rule that ends the step's window: its planned length (`window`, the default, left
    /// out of the file) or its requests all having finished (`count`, `--num-prompts`). A
    /// step cut short by an interrupt is also `partial`.
    #[serde(default, skip_serializing_if = "StepEnd::is_window")]
    pub ended_by: StepEnd,
    /// Measure-phase requests by status.
    pub counts: StatusCounts,
    /// `ok` requests that completed inside the window ÷ window.
    pub rps: f64,
    /// Completion tokens (usage) of requests completed inside the window ÷ window.
    pub output_tokens_per_s: f64,
    /// Prompt tokens (usage) of requests completed inside the window ÷ window.
    pub input_tokens_per_s: f64,
    /// Requests that completed `ok` inside the window (any start phase).
    pub completed_in_window: u64,
    /// `ok` measure-phase requests whose stream carried no usage.
    pub usage_missing: u64,
    /// Time to first token of `ok` measure-phase requests.
    pub ttft_s: Option<LatencyStats>,
    /// Start to last token of `ok` measure-phase requests.
    pub e2e_s: Option<LatencyStats>,
    /// Time per output token of `ok` measure-phase requests with more than one token.
    pub tpot_s: Option<LatencyStats>,
    /// Gaps between token events, pooled over the step's measure-phase requests (HDR, µs).
    pub itl_s: Option<LatencyStats>,
    /// In-flight requests sampled during the window.
    pub inflight: Option<InflightStats>,
    /// Rate mode: the arrival rate asked for (= `load`); null in concurrency mode.
    #[serde(default)]
    pub offered_rps: Option<f64>,
    /// Requests actually sent inside the window ÷ window (any attribution).
    #[serde(default)]
    pub achieved_rps: f64,
    /// Rate mode: arrivals the seeded schedule put inside the window, per second (a Poisson
    /// or gamma draw differs from the nominal rate by chance); null in concurrency mode.
    #[serde(default)]
    pub scheduled_rps: Option<f64>,
    /// Rate mode: actual start − scheduled arrival of measure-phase requests.
    #[serde(default)]
    pub sched_delay_s: Option<LatencyStats>,
    /// Rate mode: TTFT from the scheduled arrival (what a user would have felt).
    #[serde(default)]
    pub ttft_from_sched_s: Option<LatencyStats>,
    /// Rate mode: e2e from the scheduled arrival.
    #[serde(default)]
    pub e2e_from_sched_s: Option<LatencyStats>,
    /// Rate mode: how late the dispatcher fired each arrival (pacing precision).
    #[serde(default)]
    pub dispatch_lag_s: Option<LatencyStats>,
    /// Goodput against `--slo` (null without it).
    #[serde(default)]
    pub slo: Option<SloResult>,
    /// Errors of requests started in this step (any phase), by kind.
    pub errors: Vec<ErrorKindSummary>,
    /// Server block from `/metrics` deltas over the window (null without metrics).
    pub server: Option<ServerBlock>,
    /// GPU block, one entry per GPU (empty without telemetry).
    pub gpu: Vec<GpuStepStats>,
    /// Generation tokens (server counter, else client usage) per joule of all GPUs.
    pub tokens_per_joule: Option<f64>,
    /// The client's own health over the window.
    pub client: ClientHealth,
    /// Client TTFT of the requests whose first token arrived inside the window, whatever
    /// step or phase they started in: the same requests the server's TTFT histogram delta
    /// covers (vLLM observes TTFT when the first token is produced). The client column of
    /// every client-vs-server comparison.
    #[serde(default)]
    pub ttft_server_aligned_s: Option<LatencyStats>,
    /// Client e2e of the `ok` requests whose last token arrived inside the window: the set
    /// the server's e2e histogram delta covers (observed when a request finishes).
    #[serde(default)]
    pub e2e_server_aligned_s: Option<LatencyStats>,
    /// Measure-phase requests of this step still running when its window ended (null when
    /// the window did not end: an interrupted run). Their latency is at least their age: the
    /// step's latency statistics waited for them (they finished in later steps or the drain).
    #[serde(default)]
    pub unfinished_at_window_end: Option<u64>,
    /// Share (0–1) of the `ok` measure-phase requests with at least 4 token events whose
    /// tokens all arrived in a burst (≤ 2 reads, TTFT ≥ 90 % of e2e): a buffering proxy or a
    /// server that flushes at the end; null when no request qualified. See
    /// [`RequestRow::delivered_in_burst`](crate::RequestRow::delivered_in_burst).
    #[serde(default)]
    pub buffered_share: Option<f64>,
    /// `--fail-on` thresholds that apply to this step, each with its verdict (absent when
    /// none were given). A threshold without data is `no_data` and fails.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub thresholds: Vec<ThresholdVerdict>,
    /// Rows of this step's requests (any phase) that did not reach `requests.jsonl`: a write
    /// error (a full disk) stopped the file. They are still counted in this summary. Absent
    /// when 0.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub rows_not_written: u64,
    /// Rate mode: arrivals of this step's schedule that were never sent, because their phase
    /// (warmup, ramp or the window) had ended while they waited for a `--max-inflight` slot.
    /// Absent when 0.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub unsent_arrivals: u64,
    /// With `--tokenizer`: the mean, over `ok` measure-phase requests, of the server's
    /// `prompt_tokens` minus the tokens the client counted in the prompt it sent — the chat
    /// template's tokens on `/v1/chat/completions` (0 on `/v1/completions` when both count
    /// alike). Absent without a tokenizer or without usage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_overhead_tokens: Option<f64>,
    /// `--turns`: the step's requests per turn index (absent for single-turn runs).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub turns: Vec<crate::TurnStats>,
    /// `--turns`: conversations this step's failed turns ended before their last turn (the
    /// remaining turns were not sent). Absent when 0.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub conversations_aborted: u64,
}

/// For `skip_serializing_if`: additive counts are left out when 0, so older files and
/// readers see no change.
fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Where a sweep saturated: the first step whose extra load bought little throughput while
/// requests queued. Found without `--slo` and whatever the step spacing (the knee rule
/// compares neighbours with fixed thresholds and misses a 16 → 64 jump that still gains
/// 16 %).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Saturation {
    /// The saturated step.
    pub step: usize,
    /// Its load.
    pub load: f64,
    /// The load of the step before it (capacity lies between the two).
    pub below_load: f64,
    /// Relative output-throughput gain over the step before.
    pub throughput_gain: f64,
    /// Client TTFT p50 of the step before and of this one, seconds.
    pub ttft_p50_s: (Option<f64>, Option<f64>),
    /// The server's mean waiting and running requests over this step's window.
    pub server_waiting_running: Option<(f64, f64)>,
}

/// The whole `step_summary.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepSummaryFile {
    /// One object per step that ran.
    pub steps: Vec<StepSummary>,
    /// Run-level warnings (also listed in summary.md).
    pub warnings: Vec<String>,
    /// The knee of the sweep, when one was found.
    #[serde(default)]
    pub knee: Option<Knee>,
    /// The highest load whose step met `--slo` (null without it, or when none did).
    #[serde(default)]
    pub slo_max_load: Option<f64>,
    /// `--steps auto`: the step after which the sweep stopped, and why.
    #[serde(default)]
    pub auto_stopped: Option<AutoStopped>,
    /// The first saturated step, with the evidence (`find_saturation`).
    #[serde(default)]
    pub saturation: Option<Saturation>,
    /// `--fail-on` thresholds whose `@LOAD` matched no step that ran: failing (absent when
    /// none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub thresholds_unmatched: Vec<String>,
}
