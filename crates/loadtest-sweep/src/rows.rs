//! Building a `requests.jsonl` row from a client's [`RequestRecord`] and where the run puts it
//! (step, phase, load).

use std::time::{Duration, Instant};

use loadtest_client::RequestRecord;
use loadtest_run::{Phase, RequestRow};

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
    /// `--turns`: the request's conversation and turn (0-based).
    pub conversation: Option<(u64, u32)>,
    /// `--turns dataset`: the number of turns of the request's conversation.
    pub conversation_turns: Option<u32>,
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
            conversation: None,
            conversation_turns: None,
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

/// The row for `record` in context `ctx`.
pub fn request_row(record: &RequestRecord, ctx: &RowContext) -> RequestRow {
    let start_s = secs(record.start.saturating_duration_since(ctx.run_start));
    RequestRow {
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
        reads: record.reads,
        shard: None,
        conversation: ctx.conversation.map(|(c, _)| c),
        turn: ctx.conversation.map(|(_, t)| t),
        conversation_turns: ctx.conversation_turns,
    }
}

#[cfg(test)]
mod tests {
    use loadtest_run::REQUEST_ROW_KEYS;

    use super::*;

    #[test]
    fn serialises_every_key_in_order() {
        let t0 = Instant::now();
        let record = RequestRecord::cancelled(t0, t0 + Duration::from_millis(5));
        let row = request_row(&record, &RowContext::new(7, t0, 1_700_000_000.0));
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
