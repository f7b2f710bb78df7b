//! [`RequestRow`]: one line of `requests.jsonl` (design §9), built from a [`RequestRecord`].

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::record::{RequestRecord, Status};

/// The phase of the run a request started in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// `--warmup-s`: excluded from statistics.
    Warmup,
    /// `--ramp-s`: excluded from statistics.
    Ramp,
    /// The measure window a step's statistics describe.
    Measure,
}

/// One line of `requests.jsonl`, fields in the order of design §9. Times are seconds;
/// optional fields are `null` when unknown or not meaningful (never guessed).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequestRow {
    /// Request index in the run (0-based, in dispatch order).
    pub id: u64,
    /// Step index; `null` outside a sweep (e.g. `probe`).
    pub step: Option<u32>,
    /// Phase the request started in; `null` outside a sweep.
    pub phase: Option<Phase>,
    /// The step's load level (concurrency or req/s); `null` outside a sweep.
    pub load: Option<f64>,
    /// Wall-clock start, unix seconds.
    pub start_unix_s: f64,
    /// Start relative to the run's start, seconds.
    pub start_s: f64,
    /// Time to first token.
    pub ttft_s: Option<f64>,
    /// Start to last token event.
    pub e2e_s: Option<f64>,
    /// Start to stream end (or failure).
    pub total_s: f64,
    /// `(e2e − ttft) / (completion_tokens − 1)` when `completion_tokens > 1`.
    pub tpot_s: Option<f64>,
    /// Token events (SSE chunks carrying output).
    pub chunks: u64,
    /// Mean gap between token events.
    pub gap_mean_s: Option<f64>,
    /// Median gap (see [`crate::gaps`] for accuracy).
    pub gap_p50_s: Option<f64>,
    /// 99th percentile gap.
    pub gap_p99_s: Option<f64>,
    /// Largest gap.
    pub gap_max_s: Option<f64>,
    /// `usage.prompt_tokens`.
    pub prompt_tokens: Option<u64>,
    /// `usage.completion_tokens`.
    pub completion_tokens: Option<u64>,
    /// `usage.prompt_tokens_details.cached_tokens`.
    pub cached_tokens: Option<u64>,
    /// The prompt length the run aimed for (synthetic prompts), when known.
    pub input_tokens_target: Option<u64>,
    /// `max_tokens` sent, when any.
    pub max_tokens: Option<u32>,
    /// The server's `finish_reason` (`stop`, `length`, …).
    pub finish_reason: Option<String>,
    /// How the request ended.
    pub status: Status,
    /// The response's HTTP status, when headers arrived.
    pub http_status: Option<u16>,
    /// Short sanitised error text.
    pub error: Option<String>,
    /// Open-loop (rate) mode: actual start − scheduled arrival (dispatch lateness plus any
    /// wait for an in-flight slot); `null` in closed-loop mode and outside a sweep.
    #[serde(default)]
    pub sched_delay_s: Option<f64>,
}

/// Context a row needs beyond the record.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RowContext {
    /// Request index.
    pub id: u64,
    /// The run's start on the monotonic clock.
    pub run_start: Instant,
    /// The same moment as unix seconds.
    pub run_start_unix_s: f64,
    /// Step index (sweep only).
    pub step: Option<u32>,
    /// Phase (sweep only).
    pub phase: Option<Phase>,
    /// Load level (sweep only).
    pub load: Option<f64>,
    /// Target prompt length, when known.
    pub input_tokens_target: Option<u64>,
    /// `max_tokens` sent, when any.
    pub max_tokens: Option<u32>,
}

impl RowContext {
    /// A context outside a sweep: no step, phase or load.
    pub fn new(id: u64, run_start: Instant, run_start_unix_s: f64) -> Self {
        Self {
            id,
            run_start,
            run_start_unix_s,
            step: None,
            phase: None,
            load: None,
            input_tokens_target: None,
            max_tokens: None,
        }
    }
}

/// The current time as unix seconds (0 if the system clock is before 1970).
pub fn unix_now_s() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

impl RequestRow {
    /// The row for `record` in context `ctx`.
    pub fn new(record: &RequestRecord, ctx: &RowContext) -> Self {
        let start_s = secs(record.start.saturating_duration_since(ctx.run_start));
        Self {
            id: ctx.id,
            step: ctx.step,
            phase: ctx.phase,
            load: ctx.load,
            start_unix_s: ctx.run_start_unix_s + start_s,
            start_s,
            ttft_s: record.ttft.map(secs),
            e2e_s: record.e2e.map(secs),
            total_s: secs(record.total),
            tpot_s: record.tpot().map(secs),
            chunks: record.token_events,
            gap_mean_s: record.gaps.mean.map(secs),
            gap_p50_s: record.gaps.p50.map(secs),
            gap_p99_s: record.gaps.p99.map(secs),
            gap_max_s: record.gaps.max.map(secs),
            prompt_tokens: record.usage.prompt_tokens,
            completion_tokens: record.usage.completion_tokens,
            cached_tokens: record.usage.cached_tokens,
            input_tokens_target: ctx.input_tokens_target,
            max_tokens: ctx.max_tokens,
            finish_reason: record.finish_reason.clone(),
            status: record.status,
            http_status: record.http_status,
            error: record.error.clone(),
            sched_delay_s: None,
        }
    }
}

/// The keys of a `requests.jsonl` row, in order (design §9).
pub const REQUEST_ROW_KEYS: [&str; 25] = [
    "id",
    "step",
    "phase",
    "load",
    "start_unix_s",
    "start_s",
    "ttft_s",
    "e2e_s",
    "total_s",
    "tpot_s",
    "chunks",
    "gap_mean_s",
    "gap_p50_s",
    "gap_p99_s",
    "gap_max_s",
    "prompt_tokens",
    "completion_tokens",
    "cached_tokens",
    "input_tokens_target",
    "max_tokens",
    "finish_reason",
    "status",
    "http_status",
    "error",
    "sched_delay_s",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serialises_every_key_in_order() {
        let t0 = Instant::now();
        let record = RequestRecord::cancelled(t0, t0 + Duration::from_millis(5));
        let row = RequestRow::new(&record, &RowContext::new(7, t0, 1_700_000_000.0));
        let line = serde_json::to_string(&row).unwrap();
        let mut at = 0;
        for key in REQUEST_ROW_KEYS {
            let pos = line[at..]
                .find(&format!("\"{key}\":"))
                .unwrap_or_else(|| panic!("{key} missing or out of order in {line}"));
            at += pos;
        }
        assert!(line.contains("\"status\":\"cancelled\""));
        assert!(line.contains("\"step\":null"));
        let back: RequestRow = serde_json::from_str(&line).unwrap();
        assert_eq!(back, row);
    }
}
