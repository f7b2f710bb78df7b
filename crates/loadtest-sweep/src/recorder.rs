//! The recorder: writes each finished request to `requests.jsonl` as it arrives and folds it
//! into its step's accumulator. It runs on a blocking thread so disk writes never stall the
//! request path.
//!
//! Flush policy: the file is flushed whenever the queue of finished requests is empty, so a
//! crash (even `kill -9`) loses at most the requests finished since the last idle moment, and
//! the file is valid JSONL up to its last complete line.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use loadtest_run::{Phase as RowPhase, RequestRow, Status};
use tokio::sync::mpsc;

use crate::output_file::OutputFile;
use crate::timeline::Timeline;
use loadtest_run::OutputError;
use loadtest_run::{ErrorKindSummary, StatusCounts};
use loadtest_run::{Latencies, Slo};

/// Receives every finished request's row, in the recorder's thread, after it was written to
/// `requests.jsonl`: an embedding program's own sink (see `examples/embed.rs`).
pub trait RecordSink: Send {
    /// One finished request.
    fn record(&mut self, row: &RequestRow);
}

/// Distinct error texts remembered per status and step (the rest are counted, not named).
const MAX_DISTINCT_ERRORS: usize = 64;

/// What one step collected from its requests.
#[derive(Debug, Default)]
pub(crate) struct StepAccumulator {
    /// Measure-phase requests by status.
    pub counts: StatusCounts,
    pub ttft_s: Vec<f64>,
    pub e2e_s: Vec<f64>,
    pub tpot_s: Vec<f64>,
    /// Rate mode: start − scheduled arrival of measure-phase requests.
    pub sched_delay_s: Vec<f64>,
    /// Rate mode: TTFT and e2e counted from the scheduled arrival (`ok` requests).
    pub ttft_from_sched_s: Vec<f64>,
    pub e2e_from_sched_s: Vec<f64>,
    /// `ok` measure-phase requests meeting every per-request SLO.
    pub slo_good: u64,
    pub usage_missing: u64,
    /// `ok` measure-phase requests the burst rule applies to, and those delivered in a burst
    /// ([`RequestRow::delivered_in_burst`]).
    pub burst_eligible: u64,
    pub burst_delivered: u64,
    /// Requests actually sent inside the window (by start time, any attribution).
    pub sent_in_window: u64,
    /// `ok` completions inside the window (any start phase or step).
    pub completed_in_window: u64,
    pub output_tokens_in_window: u64,
    pub input_tokens_in_window: u64,
    /// TTFT of requests whose first token arrived in the window (any start): what the
    /// server's TTFT histogram covers.
    pub ttft_server_aligned_s: Vec<f64>,
    /// e2e of `ok` requests whose last token arrived in the window: what the server's e2e
    /// histogram covers.
    pub e2e_server_aligned_s: Vec<f64>,
    /// Rows of this step's requests (any phase) that did not reach `requests.jsonl` (a write
    /// error: a full disk). They are still counted here.
    pub rows_not_written: u64,
    /// `ok` measure-phase requests whose prompt the client counted with `--tokenizer` and the
    /// server's usage counted too, and the sum of their differences (server − client): the
    /// chat template's tokens.
    pub prompt_overhead_n: u64,
    pub prompt_overhead_sum: i64,
    /// `--turns`: the measure-phase rows per turn index.
    pub turns: crate::conversation::stats::TurnsAccumulator,
    errors: HashMap<Status, ErrorTally>,
}

#[derive(Debug, Default)]
struct ErrorTally {
    count: u64,
    messages: HashMap<String, u64>,
}

impl StepAccumulator {
    fn add_started(&mut self, row: &RequestRow, slo: Option<&Slo>, counted: bool) {
        // Cancelled by the tool (Ctrl-C, the drain's end): counted apart, not an error.
        if row.status != Status::Ok && row.status != Status::Cancelled {
            let tally = self.errors.entry(row.status).or_default();
            tally.count += 1;
            if let Some(message) = &row.error {
                if let Some(n) = tally.messages.get_mut(message) {
                    *n += 1;
                } else if tally.messages.len() < MAX_DISTINCT_ERRORS {
                    tally.messages.insert(message.clone(), 1);
                }
            }
        }
        if row.phase != Some(RowPhase::Measure) {
            return;
        }
        let c = &mut self.counts;
        c.started += 1;
        match row.status {
            Status::Ok => c.ok += 1,
            Status::HttpError => c.http_error += 1,
            Status::Timeout => c.timeout += 1,
            Status::ConnectError => c.connect_error += 1,
            Status::StreamError => c.stream_error += 1,
            Status::Cancelled => c.cancelled += 1,
            Status::ClientError => c.client_error += 1,
        }
        self.sched_delay_s.extend(row.sched_delay_s);
        self.turns.add(row);
        if row.status == Status::Ok {
            self.ttft_s.extend(row.ttft_s);
            self.e2e_s.extend(row.e2e_s);
            self.tpot_s.extend(row.tpot_s);
            let delay = row.sched_delay_s;
            let from_sched = |v: Option<f64>| Some(v? + delay?);
            self.ttft_from_sched_s.extend(from_sched(row.ttft_s));
            self.e2e_from_sched_s.extend(from_sched(row.e2e_s));
            if row.completion_tokens.is_none() {
                self.usage_missing += 1;
            }
            if counted
                && let (Some(server), Some(client)) = (row.prompt_tokens, row.input_tokens_target)
                && let (Ok(server), Ok(client)) = (i64::try_from(server), i64::try_from(client))
            {
                self.prompt_overhead_n += 1;
                self.prompt_overhead_sum += server - client;
            }
            if let Some(burst) = row.delivered_in_burst() {
                self.burst_eligible += 1;
                self.burst_delivered += u64::from(burst);
            }
            let felt = Latencies {
                ttft: from_sched(row.ttft_s).or(row.ttft_s),
                tpot: row.tpot_s,
                e2e: from_sched(row.e2e_s).or(row.e2e_s),
            };
            if slo.is_some_and(|slo| slo.request_meets(&felt)) {
                self.slo_good += 1;
            }
        }
    }

    /// `counted`: the rows' `input_tokens_target` are `--tokenizer` counts, which stand in for
    /// a prompt the server's usage did not count.
    fn add_completed_in_window(&mut self, row: &RequestRow, counted: bool) {
        self.completed_in_window += 1;
        self.output_tokens_in_window += row.completion_tokens.unwrap_or(0);
        let client = counted.then_some(row.input_tokens_target).flatten();
        self.input_tokens_in_window += row.prompt_tokens.or(client).unwrap_or(0);
    }

    /// Errors by status, most frequent message first.
    pub fn error_summary(&self) -> Vec<ErrorKindSummary> {
        let mut out: Vec<ErrorKindSummary> = Status::ALL
            .iter()
            .filter_map(|status| {
                let tally = self.errors.get(status)?;
                let top = tally
                    .messages
                    .iter()
                    .max_by(|a, b| a.1.cmp(b.1).then_with(|| b.0.cmp(a.0)));
                Some(ErrorKindSummary {
                    status: status.as_str().to_owned(),
                    count: tally.count,
                    top_message: top.map(|(m, _)| m.clone()),
                    top_message_count: top.map_or(0, |(_, n)| *n),
                })
            })
            .collect();
        out.sort_by_key(|e| std::cmp::Reverse(e.count));
        out
    }
}

/// Everything the recorder produced.
#[derive(Debug)]
pub(crate) struct Recorded {
    pub steps: Vec<StepAccumulator>,
    pub rows_written: u64,
    /// Rows that did not reach `requests.jsonl` (after a write error), all steps together.
    pub rows_not_written: u64,
    /// The first write error; the run goes on (statistics stay in memory) but it is reported.
    pub write_error: Option<OutputError>,
}

/// The per-step accumulators, shared with the `--steps auto` controller, which reads a
/// step's interim numbers at the end of its window.
pub(crate) type SharedSteps = std::sync::Arc<std::sync::Mutex<Vec<StepAccumulator>>>;

/// Accumulators for every step of `timeline`.
pub(crate) fn new_steps(timeline: &Timeline) -> SharedSteps {
    std::sync::Arc::new(std::sync::Mutex::new(
        timeline
            .steps()
            .iter()
            .map(|_| StepAccumulator::default())
            .collect(),
    ))
}

/// Opens `requests.jsonl` (so a permission problem shows before the run starts).
pub(crate) fn open_requests_file(path: &Path) -> Result<OutputFile, OutputError> {
    OutputFile::create(path, 256 * 1024, b"")
}

/// Receives rows until every sender is gone; call from `spawn_blocking`. `counted`: the
/// rows' `input_tokens_target` are `--tokenizer` counts (see
/// [`StepAccumulator::prompt_overhead_sum`]).
pub(crate) fn record(
    mut rows: mpsc::UnboundedReceiver<RequestRow>,
    mut file: OutputFile,
    timeline: Timeline,
    slo: Option<Slo>,
    counted: bool,
    mut sink: Option<Box<dyn RecordSink>>,
    steps: SharedSteps,
) -> Recorded {
    let mut rows_written = 0;
    let mut line = Vec::with_capacity(1024);
    // The steps of the rows taken since the last flush: lost with the buffer on an error.
    let mut unflushed: Vec<Option<u32>> = Vec::new();
    let mut lost: Vec<Option<u32>> = Vec::new();
    while let Some(first) = rows.blocking_recv() {
        let mut next = Some(first);
        while let Some(row) = next {
            line.clear();
            if serde_json::to_writer(&mut line, &row).is_ok() {
                line.push(b'\n');
                if file.write(&line) {
                    rows_written += 1;
                    unflushed.push(row.step);
                } else {
                    lost.push(row.step);
                }
            }
            if file.failed() && !unflushed.is_empty() {
                rows_written -= unflushed.len() as u64;
                lost.append(&mut unflushed);
            }
            if let Ok(mut steps) = steps.lock() {
                fold(&mut steps, &timeline, &row, slo.as_ref(), counted);
                count_lost(&mut steps, &mut lost);
            }
            if let Some(sink) = sink.as_mut() {
                sink.record(&row);
            }
            next = rows.try_recv().ok();
        }
        file.flush();
        if file.failed() {
            rows_written -= unflushed.len() as u64;
            lost.append(&mut unflushed);
        } else {
            unflushed.clear();
        }
    }
    file.flush();
    if file.failed() {
        rows_written -= unflushed.len() as u64;
        lost.append(&mut unflushed);
    }
    let mut steps = steps
        .lock()
        .map(|mut s| std::mem::take(&mut *s))
        .unwrap_or_default();
    count_lost(&mut steps, &mut lost);
    let (write_error, rows_not_written) = file.finish();
    Recorded {
        steps,
        rows_written,
        rows_not_written,
        write_error,
    }
}

/// Adds the rows in `lost` to their steps' `rows_not_written` and empties it.
fn count_lost(steps: &mut [StepAccumulator], lost: &mut Vec<Option<u32>>) {
    for step in lost.drain(..) {
        if let Some(acc) = step.and_then(|s| steps.get_mut(s as usize)) {
            acc.rows_not_written += 1;
        }
    }
}

/// Which step's measure window holds an instant (seconds since the run start): the run's
/// [`Timeline`], or the windows a finished run recorded (`merge`).
pub(crate) trait MeasureWindows {
    /// The step whose measure window contains `at`, if any.
    fn measure_step_at(&self, at: Duration) -> Option<usize>;
}

impl MeasureWindows for Timeline {
    fn measure_step_at(&self, at: Duration) -> Option<usize> {
        Timeline::measure_step_at(self, at)
    }
}

/// Folds one row into the accumulators of its steps: the one rule for what a row counts
/// towards, used by the recorder as rows arrive and by `merge` on the rows of every shard.
pub(crate) fn fold<W: MeasureWindows + ?Sized>(
    steps: &mut [StepAccumulator],
    timeline: &W,
    row: &RequestRow,
    slo: Option<&Slo>,
    counted: bool,
) {
    if let Some(acc) = row.step.and_then(|s| steps.get_mut(s as usize)) {
        acc.add_started(row, slo, counted);
    }
    if row.start_s.is_finite()
        && row.start_s >= 0.0
        && let Some(step) = timeline.measure_step_at(Duration::from_secs_f64(row.start_s))
        && let Some(acc) = steps.get_mut(step)
    {
        acc.sent_in_window += 1;
    }
    // Like for like with the server's histograms, which observe TTFT when the first token is
    // produced and e2e when the request finishes: the client's comparable samples are picked
    // by those moments, not by when the request started.
    let in_window = |at_s: f64| {
        (at_s.is_finite() && at_s >= 0.0)
            .then(|| timeline.measure_step_at(Duration::from_secs_f64(at_s)))
            .flatten()
    };
    if let Some(ttft) = row.ttft_s
        && let Some(acc) = in_window(row.start_s + ttft).and_then(|s| steps.get_mut(s))
    {
        acc.ttft_server_aligned_s.push(ttft);
    }
    if row.status == Status::Ok
        && let Some(e2e) = row.e2e_s
        && let Some(acc) = in_window(row.start_s + e2e).and_then(|s| steps.get_mut(s))
    {
        acc.e2e_server_aligned_s.push(e2e);
    }
    let end_s = row.start_s + row.total_s;
    if row.status == Status::Ok
        && end_s.is_finite()
        && end_s >= 0.0
        && let Some(step) = timeline.measure_step_at(Duration::from_secs_f64(end_s))
        && let Some(acc) = steps.get_mut(step)
    {
        acc.add_completed_in_window(row, counted);
    }
}

#[cfg(test)]
mod tests {
    use loadtest_run::Phase;

    use super::*;

    /// An `ok` measure-phase row of step 0, with the server's and the client's prompt counts.
    fn row(prompt_tokens: Option<u64>, counted: Option<u64>) -> RequestRow {
        RequestRow {
            id: 0,
            step: Some(0),
            phase: Some(Phase::Measure),
            load: Some(1.0),
            start_unix_s: 0.0,
            start_s: 0.0,
            ttft_s: Some(0.01),
            e2e_s: Some(0.02),
            total_s: 0.02,
            tpot_s: None,
            chunks: 2,
            gap_mean_s: None,
            gap_p50_s: None,
            gap_p99_s: None,
            gap_max_s: None,
            prompt_tokens,
            completion_tokens: Some(2),
            cached_tokens: None,
            input_tokens_target: counted,
            max_tokens: None,
            finish_reason: Some("length".to_owned()),
            status: Status::Ok,
            http_status: Some(200),
            error: None,
            sched_delay_s: None,
            reads: None,
            shard: None,
            conversation: None,
            turn: None,
            conversation_turns: None,
        }
    }

    #[test]
    fn tokenizer_counts_stand_in_for_missing_usage_and_measure_the_template() {
        let mut acc = StepAccumulator::default();
        // The server counted 17 tokens more than the content (a chat template).
        acc.add_started(&row(Some(117), Some(100)), None, true);
        acc.add_completed_in_window(&row(Some(117), Some(100)), true);
        // No usage: the client's count stands in for the input tokens.
        acc.add_started(&row(None, Some(50)), None, true);
        acc.add_completed_in_window(&row(None, Some(50)), true);
        assert_eq!(acc.input_tokens_in_window, 167);
        assert_eq!((acc.prompt_overhead_n, acc.prompt_overhead_sum), (1, 17));
        // Without a tokenizer the targets are word estimates: never summed, never compared.
        let mut words = StepAccumulator::default();
        words.add_started(&row(Some(117), Some(100)), None, false);
        words.add_completed_in_window(&row(None, Some(50)), false);
        assert_eq!(words.input_tokens_in_window, 0);
        assert_eq!(words.prompt_overhead_n, 0);
    }
}
