//! `requests.jsonl`: one [`RequestRow`] per finished request, with its [`Status`] and the
//! [`Phase`] of the run it started in.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A phase of the run (the timeline's, and the `phase` column of every file). A request
/// starts only in `Warmup`, `Ramp` or `Measure`; only `Measure` requests enter statistics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Load at the first step's level before anything is measured.
    Warmup,
    /// Load rising linearly from the previous level.
    Ramp,
    /// The window the step's statistics describe.
    Measure,
    /// No new requests; in-flight ones finish.
    Cooldown,
    /// After the last step: in-flight requests get up to `--timeout-s`.
    Drain,
}

impl Phase {
    /// The name written to the output files.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Warmup => "warmup",
            Phase::Ramp => "ramp",
            Phase::Measure => "measure",
            Phase::Cooldown => "cooldown",
            Phase::Drain => "drain",
        }
    }
}

/// How a request ended. Serialised in snake_case (`http_error`, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// A complete stream: a `finish_reason` was seen and no error.
    Ok,
    /// The server answered with a non-2xx status (`http_status` holds it).
    HttpError,
    /// The per-request deadline (connect to last byte) passed first.
    Timeout,
    /// No connection could be made (refused, DNS, TLS handshake, connect timeout).
    ConnectError,
    /// The stream broke: malformed SSE or JSON, invalid UTF-8, a mid-stream error event, or
    /// the connection dropped (or the body ended) before a `finish_reason`.
    StreamError,
    /// The caller cancelled the request (Ctrl-C, end of the run's drain).
    Cancelled,
    /// The client itself could not make the request: it ran out of file descriptors
    /// (EMFILE/ENFILE) opening the connection. Not the server's failure: left out of error
    /// rates, and it makes the step's client verdict client-bound.
    ClientError,
}

impl Status {
    /// The snake_case name, as written to `requests.jsonl`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::HttpError => "http_error",
            Status::Timeout => "timeout",
            Status::ConnectError => "connect_error",
            Status::StreamError => "stream_error",
            Status::Cancelled => "cancelled",
            Status::ClientError => "client_error",
        }
    }

    /// Every status, in a fixed order (for per-status counters).
    pub const ALL: [Status; 7] = [
        Status::Ok,
        Status::HttpError,
        Status::Timeout,
        Status::ConnectError,
        Status::StreamError,
        Status::Cancelled,
        Status::ClientError,
    ];
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One line of `requests.jsonl`, fields in the documented order (docs/output-format.md). Times are seconds;
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
    /// Median gap (an estimate: see docs/metrics.md).
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
    /// Separate reads (body frames more than 1 ms apart) that delivered the token events: about
    /// one per event when the server streams, 1 or 2 when the response was buffered; `null`
    /// when no body was read (or in files written before it was recorded).
    #[serde(default)]
    pub reads: Option<u64>,
    /// The shard whose process sent the request: written by `vllm-loadtest merge` on every
    /// row of a merged run; absent (not `null`) elsewhere, so an unsharded file is unchanged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<u32>,
    /// `--turns`: the conversation the request belongs to (its index in the run; shard `i` of
    /// `n` runs conversations `k·n + i`). Absent (not `null`) in single-turn runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation: Option<u64>,
    /// `--turns`: the request's turn in its conversation, 0-based. Absent in single-turn runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub turn: Option<u32>,
    /// `--turns dataset`: how many turns the request's conversation has (its dataset row's,
    /// after the `--max-model-len` cut), so a failed turn before the last is told from a
    /// failed last turn. Absent otherwise (with `--turns N` every conversation has N).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation_turns: Option<u32>,
}

impl RequestRow {
    /// A request qualifies for the burst rule only with at least this many token events (fewer
    /// arrive in one or two reads without any buffering).
    pub const BURST_MIN_CHUNKS: u64 = 4;
    /// At most this many reads delivered every token event of a burst (a proxy may flush its
    /// buffer in two pieces).
    pub const BURST_MAX_READS: u64 = 2;
    /// A burst's TTFT is at least this share of its e2e: the tokens came at the very end.
    pub const BURST_MIN_TTFT_SHARE: f64 = 0.9;
    /// Above this share of bursts among a step's eligible `ok` requests, the run warns.
    pub const BUFFERED_WARN_SHARE: f64 = 0.2;

    /// Whether the response arrived in a burst rather than as a stream (see docs/metrics.md).
    /// `None` when the rule does not apply: not `ok`, fewer than
    /// [`BURST_MIN_CHUNKS`](Self::BURST_MIN_CHUNKS) token events, or `reads`, `ttft_s` or
    /// `e2e_s` unknown. Else `Some(true)` when every token event came in at most
    /// [`BURST_MAX_READS`](Self::BURST_MAX_READS) reads and TTFT is at least
    /// [`BURST_MIN_TTFT_SHARE`](Self::BURST_MIN_TTFT_SHARE) of e2e.
    pub fn delivered_in_burst(&self) -> Option<bool> {
        if self.status != Status::Ok || self.chunks < Self::BURST_MIN_CHUNKS {
            return None;
        }
        let (reads, ttft, e2e) = (self.reads?, self.ttft_s?, self.e2e_s?);
        if !(ttft.is_finite() && e2e.is_finite() && e2e > 0.0) {
            return None;
        }
        Some(reads <= Self::BURST_MAX_READS && ttft >= Self::BURST_MIN_TTFT_SHARE * e2e)
    }
}

/// The keys of a `requests.jsonl` row, in order (design §9).
pub const REQUEST_ROW_KEYS: [&str; 26] = [
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
    "reads",
];

#[cfg(test)]
mod tests {
    use super::*;

    fn row(chunks: u64, reads: Option<u64>, ttft: f64, e2e: f64) -> RequestRow {
        RequestRow {
            id: 0,
            step: None,
            phase: None,
            load: None,
            start_unix_s: 0.0,
            start_s: 0.0,
            ttft_s: Some(ttft),
            e2e_s: Some(e2e),
            total_s: e2e,
            tpot_s: None,
            chunks,
            gap_mean_s: None,
            gap_p50_s: None,
            gap_p99_s: None,
            gap_max_s: None,
            prompt_tokens: None,
            completion_tokens: Some(chunks),
            cached_tokens: None,
            input_tokens_target: None,
            max_tokens: None,
            finish_reason: Some("length".to_owned()),
            status: Status::Ok,
            http_status: Some(200),
            error: None,
            sched_delay_s: None,
            reads,
            shard: None,
            conversation: None,
            turn: None,
            conversation_turns: None,
        }
    }

    #[test]
    fn burst_rule() {
        // Buffered: one read, TTFT = e2e.
        assert_eq!(row(16, Some(1), 2.0, 2.0).delivered_in_burst(), Some(true));
        assert_eq!(row(16, Some(2), 1.8, 2.0).delivered_in_burst(), Some(true));
        // Streamed: one read per event.
        assert_eq!(
            row(16, Some(16), 0.1, 1.0).delivered_in_burst(),
            Some(false)
        );
        // A long queue then a fast decode that still streams: many reads.
        assert_eq!(
            row(16, Some(16), 1.9, 2.0).delivered_in_burst(),
            Some(false)
        );
        // Two reads far apart: a stall, not a buffer.
        assert_eq!(row(16, Some(2), 0.5, 2.0).delivered_in_burst(), Some(false));
        assert_eq!(row(16, Some(3), 2.0, 2.0).delivered_in_burst(), Some(false));
        // Not eligible.
        assert_eq!(row(3, Some(1), 2.0, 2.0).delivered_in_burst(), None);
        assert_eq!(row(16, None, 2.0, 2.0).delivered_in_burst(), None);
        let mut failed = row(16, Some(1), 2.0, 2.0);
        failed.status = Status::StreamError;
        assert_eq!(failed.delivered_in_burst(), None);
    }

    #[test]
    fn the_shard_is_written_only_when_known() {
        let mut r = row(4, Some(4), 0.1, 1.0);
        let plain = serde_json::to_string(&r).unwrap();
        assert!(!plain.contains("shard"), "{plain}");
        r.shard = Some(3);
        let merged = serde_json::to_string(&r).unwrap();
        assert!(merged.ends_with(",\"shard\":3}"), "{merged}");
        assert_eq!(serde_json::from_str::<RequestRow>(&merged).unwrap(), r);
        assert_eq!(
            serde_json::from_str::<RequestRow>(&plain).unwrap().shard,
            None
        );
    }

    #[test]
    fn rows_without_reads_still_parse() {
        let mut v = serde_json::to_value(row(4, Some(1), 1.0, 1.0)).unwrap();
        v.as_object_mut().unwrap().remove("reads");
        let back: RequestRow = serde_json::from_value(v).unwrap();
        assert_eq!(back.reads, None);
    }
}
