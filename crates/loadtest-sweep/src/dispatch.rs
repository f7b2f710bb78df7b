//! The closed-loop dispatcher (`--load-mode concurrency`): one worker task per concurrency
//! slot. Slot `i` is active while the timeline's target load exceeds `i`; an active slot
//! sends a request, waits for it to end, and sends the next one at once. What both
//! dispatchers share ([`DispatchShared`], [`send_one`]) lives here too; the open-loop one is in
//! `open_loop.rs`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::inflight::InflightStarts;
use crate::rows::{RowContext, request_row};
use hdrhistogram::Histogram;
use loadtest_client::{Client, Endpoint, ExtraFields, GapSink, StreamRequest};
use loadtest_run::{RequestRow, Status};
use tokio::sync::{Semaphore, SemaphorePermit, mpsc};

use crate::cancel::CancelToken;
use crate::conversation::{AnswerSink, ConversationPlan, TurnOf};
use crate::inputs::InputPlan;
use crate::live::LiveCounters;
use crate::timeline::{Position, Timeline};
use loadtest_run::{Phase, Shard};

/// How often an idle slot re-checks the target during a ramp.
const RAMP_RECHECK: Duration = Duration::from_millis(5);

/// What every worker shares.
pub(crate) struct DispatchShared {
    pub client: Client,
    pub inputs: InputPlan,
    pub timeline: Timeline,
    pub endpoint: Endpoint,
    pub model: Arc<str>,
    pub ignore_eos: bool,
    /// `--extra-body` fields, serialised once.
    pub extra: Option<ExtraFields>,
    pub run_start: Instant,
    pub run_start_unix_s: f64,
    /// This process's requests so far: request `k` here is the run's request
    /// `shard.global_index(k)`.
    pub next_id: AtomicU64,
    /// This process's shard of the run ([`Shard::SINGLE`] alone).
    pub shard: Shard,
    pub live: Arc<LiveCounters>,
    /// Measure-phase requests in flight, per step (what a window leaves unfinished).
    pub inflight: Arc<InflightStarts>,
    /// Pooled inter-token gaps of each step's measure-phase requests, in µs.
    pub itl: Arc<[std::sync::Mutex<Histogram<u64>>]>,
    pub rows: mpsc::UnboundedSender<RequestRow>,
    /// No new requests (Ctrl-C).
    pub stop_dispatch: CancelToken,
    /// Cancel in-flight requests (Ctrl-C, or the drain deadline).
    pub cancel_inflight: CancelToken,
    pub inflight_cap: Semaphore,
    pub pacer: ConnectionPacer,
    /// `--turns`: requests are the turns of conversations.
    pub conversations: Option<Arc<ConversationPlan>>,
}

/// Hands out start times at least `1 / connect_rate_per_s` apart, so that thousands of
/// streams starting at once do not overflow the server's accept queue (a dropped SYN costs
/// a silent 1 s retry). See [`crate::SweepConfig::connect_rate_per_s`].
#[derive(Debug)]
pub(crate) struct ConnectionPacer {
    origin: Instant,
    next_ns: AtomicU64,
    pace: Duration,
}

impl ConnectionPacer {
    pub(crate) fn new(origin: Instant, pace: Duration) -> Self {
        ConnectionPacer {
            origin,
            next_ns: AtomicU64::new(0),
            pace,
        }
    }

    /// Reserves the next free start time and waits for it.
    pub(crate) async fn wait_turn(&self) {
        let pace_ns = self.pace.as_nanos() as u64;
        let now_ns = self.origin.elapsed().as_nanos() as u64;
        let mut current = self.next_ns.load(Ordering::Relaxed);
        let slot = loop {
            let slot = current.max(now_ns);
            match self.next_ns.compare_exchange_weak(
                current,
                slot + pace_ns,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => break slot,
                Err(actual) => current = actual,
            }
        };
        if slot > now_ns {
            tokio::time::sleep_until((self.origin + Duration::from_nanos(slot)).into()).await;
        }
    }
}

/// Runs slot `slot` until the timeline ends or dispatch stops.
pub(crate) async fn worker(shared: Arc<DispatchShared>, slot: usize) {
    if let Some(plan) = shared.conversations.clone() {
        return crate::conversation::drive::worker(shared, plan, slot).await;
    }
    let mut connected = false;
    let mut backoff = FailureBackoff::default();
    while let Some((permit, pos)) = slot_turn(&shared, slot, &mut connected).await {
        let (status, took) = send_one(&shared, pos.step, pos.phase, None).await;
        drop(permit);
        if let Some(pause) = backoff.after(status, took)
            && !pause_unless_stopped(&shared, pause).await
        {
            return;
        }
    }
}

/// A closed-loop slot's next turn on a time timeline, for every kind of request it sends
/// (single requests, conversation turns): waits while the slot is inactive (the target is not
/// above it: a ramp, a cooldown, a lower step), paces the slot's first connection
/// (`--connect-rate`), takes an in-flight permit and returns it with where the sweep is when
/// the request goes out. `None` once the timeline has ended or dispatch stopped.
pub(crate) async fn slot_turn<'a>(
    shared: &'a DispatchShared,
    slot: usize,
    connected: &mut bool,
) -> Option<(SemaphorePermit<'a>, Position)> {
    loop {
        if shared.stop_dispatch.is_cancelled() {
            return None;
        }
        let elapsed = shared.run_start.elapsed();
        let pos = shared.timeline.at(elapsed);
        if pos.phase == Phase::Drain {
            return None;
        }
        if (slot + 1) as f64 <= pos.target + 1e-9 {
            break;
        }
        let wait = match (pos.phase, pos.phase_end) {
            (Phase::Ramp, _) => RAMP_RECHECK,
            (_, Some(end)) => end.saturating_sub(elapsed),
            (_, None) => return None,
        };
        if !pause_unless_stopped(shared, wait.max(Duration::from_micros(100))).await {
            return None;
        }
    }
    if !*connected {
        shared.pacer.wait_turn().await;
        *connected = true;
    }
    let permit = shared.inflight_cap.acquire().await.ok()?;
    // The attribution is where the sweep is when the request is sent.
    let pos = shared.timeline.at(shared.run_start.elapsed());
    (pos.phase != Phase::Drain && !shared.stop_dispatch.is_cancelled()).then_some((permit, pos))
}

/// Sleeps `pause`; false when dispatch stopped meanwhile.
pub(crate) async fn pause_unless_stopped(shared: &DispatchShared, pause: Duration) -> bool {
    tokio::select! {
        () = tokio::time::sleep(pause) => true,
        () = shared.stop_dispatch.cancelled() => false,
    }
}

/// A slot whose requests fail at once (connection refused while the server restarts, an
/// instant 500 or 429) would otherwise re-send in a hot loop and flood requests.jsonl;
/// after such a failure it waits, 10 ms doubling to 1 s, until a request succeeds.
#[derive(Debug, Default)]
pub(crate) struct FailureBackoff {
    next: Option<Duration>,
}

/// A failure faster than this counts as instant.
const INSTANT_FAILURE: Duration = Duration::from_millis(10);
const BACKOFF_FIRST: Duration = Duration::from_millis(10);
const BACKOFF_MAX: Duration = Duration::from_secs(1);

impl FailureBackoff {
    /// The pause before the next request, if any.
    pub(crate) fn after(&mut self, status: Status, took: Duration) -> Option<Duration> {
        let instant_failure = status != Status::Ok
            && status != Status::Cancelled
            && (status == Status::ConnectError || took < INSTANT_FAILURE);
        if !instant_failure {
            self.next = None;
            return None;
        }
        let pause = self.next.unwrap_or(BACKOFF_FIRST);
        self.next = Some((pause * 2).min(BACKOFF_MAX));
        Some(pause)
    }
}

/// Sends request number `next_id`, attributed to `step` and `phase`, and hands its row to the
/// recorder. `scheduled` is its arrival time in rate mode.
pub(crate) async fn send_one(
    shared: &DispatchShared,
    step: usize,
    phase: Phase,
    scheduled: Option<Instant>,
) -> (Status, Duration) {
    let id = shared
        .shard
        .global_index(shared.next_id.fetch_add(1, Ordering::Relaxed));
    let inputs = shared.inputs.inputs(id);
    send_inputs(shared, id, inputs, step, phase, scheduled).await
}

/// Sends request `id` with `inputs` (a trace row's), attributed to `step` and `phase`, and
/// hands its row to the recorder. `scheduled` is its arrival time in rate mode.
pub(crate) async fn send_inputs(
    shared: &DispatchShared,
    id: u64,
    inputs: crate::inputs::RequestInputs,
    step: usize,
    phase: Phase,
    scheduled: Option<Instant>,
) -> (Status, Duration) {
    let sent = send_request(shared, id, inputs, step, phase, scheduled, None).await;
    (sent.status, sent.took)
}

/// What a sent request came to.
#[derive(Debug)]
pub(crate) struct Sent {
    pub status: Status,
    pub took: Duration,
    /// When its stream ended.
    pub end: Instant,
    /// The answer's text and whether it was cut, when its turn asked for it.
    pub answer: Option<(String, bool)>,
}

/// [`send_inputs`], for a request that may be a conversation's turn (`turn`).
pub(crate) async fn send_request(
    shared: &DispatchShared,
    id: u64,
    inputs: crate::inputs::RequestInputs,
    step: usize,
    phase: Phase,
    scheduled: Option<Instant>,
    turn: Option<TurnOf>,
) -> Sent {
    let max_tokens = u32::try_from(inputs.max_tokens).unwrap_or(u32::MAX);
    let request =
        match StreamRequest::new(shared.endpoint, Arc::clone(&shared.model), inputs.prompt) {
            Ok(request) => {
                let request = request
                    .with_max_tokens(Some(max_tokens))
                    .with_ignore_eos(shared.ignore_eos);
                match &shared.extra {
                    Some(extra) => request.with_extra(extra.clone()),
                    None => request,
                }
            }
            Err(err) => {
                // Validation refuses message prompts on the completions endpoint before the run.
                tracing::error!(%err, "request could not be built");
                return Sent {
                    status: Status::StreamError,
                    took: Duration::ZERO,
                    end: Instant::now(),
                    answer: None,
                };
            }
        };
    // Both dispatchers send only in warmup, ramp and measure; the other two arms are there
    // for exhaustiveness.
    let row_phase = match phase {
        Phase::Warmup => loadtest_run::Phase::Warmup,
        Phase::Ramp => loadtest_run::Phase::Ramp,
        Phase::Measure | Phase::Cooldown | Phase::Drain => loadtest_run::Phase::Measure,
    };
    let histogram = (phase == Phase::Measure)
        .then(|| shared.itl.get(step))
        .flatten();
    let mut gaps = GapBuffer::new(histogram);
    shared.live.request_started();
    let measured = phase == Phase::Measure;
    if measured {
        shared.inflight.begin(step, id, Instant::now());
    }
    let cancel = shared.cancel_inflight.cancelled();
    let (record, answer) = if turn.is_some_and(|t| t.keep_answer) {
        let mut sink = AnswerSink::new(&mut gaps);
        let record = shared
            .client
            .stream_until(&request, &mut sink, cancel)
            .await;
        (record, Some(sink.into_text()))
    } else {
        let record = shared
            .client
            .stream_until(&request, &mut gaps, cancel)
            .await;
        (record, None)
    };
    if measured {
        shared.inflight.end(step, id);
    }
    gaps.flush();
    shared.live.request_finished(&record);
    let ctx = RowContext {
        id,
        run_start: shared.run_start,
        run_start_unix_s: shared.run_start_unix_s,
        step: u32::try_from(step).ok(),
        phase: Some(row_phase),
        load: shared.timeline.steps().get(step).map(|s| s.load),
        input_tokens_target: inputs.input_tokens_target,
        max_tokens: Some(max_tokens),
        conversation: turn.map(|t| (t.conversation, t.turn)),
        conversation_turns: turn.and_then(|t| t.turns),
    };
    let mut row = request_row(&record, &ctx);
    row.sched_delay_s =
        scheduled.map(|at| record.start.saturating_duration_since(at).as_secs_f64());
    // The recorder outlives every worker; a send error means the run is being torn down.
    let _ = shared.rows.send(row);
    Sent {
        status: record.status,
        took: record.total,
        end: record.start + record.total,
        answer,
    }
}

/// Buffers gaps locally and moves them into the step's shared histogram in batches, so the
/// lock is taken once per 64 token events rather than once per event.
struct GapBuffer<'a> {
    target: Option<&'a std::sync::Mutex<Histogram<u64>>>,
    buf: [u64; 64],
    len: usize,
}

impl<'a> GapBuffer<'a> {
    fn new(target: Option<&'a std::sync::Mutex<Histogram<u64>>>) -> Self {
        GapBuffer {
            target,
            buf: [0; 64],
            len: 0,
        }
    }

    fn flush(&mut self) {
        if self.len == 0 {
            return;
        }
        if let Some(Ok(mut hist)) = self.target.map(|m| m.lock()) {
            for &us in &self.buf[..self.len] {
                hist.saturating_record(us);
            }
        }
        self.len = 0;
    }
}

impl GapSink for GapBuffer<'_> {
    fn record_gap(&mut self, gap: Duration) {
        if self.target.is_none() {
            return;
        }
        self.buf[self.len] = (gap.as_micros() as u64).max(1);
        self.len += 1;
        if self.len == self.buf.len() {
            self.flush();
        }
    }
}

impl Drop for GapBuffer<'_> {
    fn drop(&mut self) {
        self.flush();
    }
}

/// Keeps the number of workers within reason for a timeline.
pub(crate) fn worker_count(timeline: &Timeline, max_inflight: usize) -> usize {
    let peak = timeline.max_load().ceil() as usize;
    peak.min(max_inflight)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn pacer_spaces_turns() {
        let pacer = ConnectionPacer::new(Instant::now(), Duration::from_millis(2));
        let t0 = Instant::now();
        for _ in 0..5 {
            pacer.wait_turn().await;
        }
        assert!(
            t0.elapsed() >= Duration::from_millis(7),
            "{:?}",
            t0.elapsed()
        );
    }

    #[test]
    fn instant_failures_back_off_until_a_success() {
        let mut b = FailureBackoff::default();
        let fast = Duration::from_millis(1);
        assert_eq!(b.after(Status::Ok, fast), None);
        assert_eq!(
            b.after(Status::HttpError, fast),
            Some(Duration::from_millis(10))
        );
        assert_eq!(
            b.after(Status::HttpError, fast),
            Some(Duration::from_millis(20))
        );
        let slow_refusal = Duration::from_secs(2);
        assert_eq!(
            b.after(Status::ConnectError, slow_refusal),
            Some(Duration::from_millis(40))
        );
        for _ in 0..20 {
            b.after(Status::ConnectError, fast);
        }
        assert_eq!(
            b.after(Status::ConnectError, fast),
            Some(Duration::from_secs(1))
        );
        // A slow failure (a timeout, a stream cut late) is not a hot loop.
        assert_eq!(b.after(Status::Timeout, Duration::from_secs(5)), None);
        assert_eq!(
            b.after(Status::HttpError, fast),
            Some(Duration::from_millis(10))
        );
        assert_eq!(b.after(Status::Cancelled, fast), None);
    }

    #[test]
    fn gap_buffer_flushes_in_batches_and_on_drop() {
        let hist = std::sync::Mutex::new(crate::stats::new_us_histogram());
        {
            let mut buf = GapBuffer::new(Some(&hist));
            for _ in 0..100 {
                buf.record_gap(Duration::from_millis(20));
            }
            assert_eq!(hist.lock().unwrap().len(), 64);
        }
        assert_eq!(hist.lock().unwrap().len(), 100);
        let mut none = GapBuffer::new(None);
        none.record_gap(Duration::from_millis(1));
        assert_eq!(none.len, 0);
    }
}
