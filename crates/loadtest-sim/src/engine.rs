//! The `batching` profile: one continuous-batching engine loop per simulator.
//!
//! Each iteration: drop sequences whose client left; admit waiting sequences (first come,
//! first served) while fewer than `max_num_seqs` run and their KV fits; give every decoding
//! sequence `tokens_per_chunk` tokens and share the rest of `max_num_batched_tokens` among
//! prefilling ones (chunked prefill); preempt the newest sequence while the KV cache would
//! overflow; then take `step_base + step_per_seq × scheduled + prefill_per_token × prefilled`
//! and hand every sequence its tokens, stamped with the iteration's end. Iterations follow each
//! other on absolute deadlines, so the timer's granularity does not stretch them.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use crate::SimConfig;
use crate::chunks::FinishReason;
use crate::metrics::H;
use crate::metrics::Metrics;

/// Tokens that came out of the engine together, due at `at`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Step {
    /// Tokens in this step (≥ 1).
    pub(crate) tokens: u64,
    /// When the engine produced them: the event's scheduled send time.
    pub(crate) at: Instant,
    /// When the request was first scheduled (left the waiting queue).
    pub(crate) admitted: Instant,
    /// Times the request was preempted so far.
    pub(crate) preemptions: u32,
    /// Set on the last step.
    pub(crate) finish: Option<FinishReason>,
}

/// Behind schedule by more than this, the engine restarts its clock instead of catching up.
const RESYNC_AFTER: Duration = Duration::from_millis(50);

/// A request handed to the engine.
#[derive(Debug)]
pub(crate) struct Submission {
    /// Prompt length.
    pub(crate) prompt_tokens: u64,
    /// Tokens to generate.
    pub(crate) target: u64,
    /// Finish reason once `target` is reached.
    pub(crate) reason: FinishReason,
    /// Where its steps go; closed when the client leaves.
    pub(crate) tx: mpsc::UnboundedSender<Step>,
}

/// How handlers reach the engine.
#[derive(Debug, Clone)]
pub(crate) struct EngineHandle {
    tx: mpsc::UnboundedSender<Submission>,
}

impl EngineHandle {
    /// A handle and the receiving end for [`run`].
    pub(crate) fn new() -> (Self, mpsc::UnboundedReceiver<Submission>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (EngineHandle { tx }, rx)
    }

    /// Queues a request; `false` if the engine is gone.
    pub(crate) fn submit(&self, submission: Submission) -> bool {
        self.tx.send(submission).is_ok()
    }
}

#[derive(Debug)]
struct Seq {
    sub: Submission,
    generated: u64,
    /// Tokens to (re)compute before decoding: the prompt, plus the output after a preemption.
    prefill_target: u64,
    prefilled: u64,
    /// KV tokens held.
    kv: u64,
    admitted: Option<Instant>,
    preemptions: u32,
}

impl Seq {
    fn decoding(&self) -> bool {
        self.prefilled >= self.prefill_target
    }
}

/// Engine settings, copied out of the config.
#[derive(Debug, Clone, Copy)]
struct Limits {
    max_num_seqs: usize,
    batched_tokens: u64,
    kv_capacity: u64,
    per_chunk: u64,
    base: Duration,
    per_seq: Duration,
    per_prefill_token: Duration,
}

/// Runs the engine until the task is aborted.
pub(crate) async fn run(
    config: SimConfig,
    metrics: Arc<Metrics>,
    mut rx: mpsc::UnboundedReceiver<Submission>,
) {
    let c = &config;
    let limits = Limits {
        max_num_seqs: usize::try_from(c.max_num_seqs).unwrap_or(usize::MAX),
        batched_tokens: c.max_num_batched_tokens,
        kv_capacity: c.kv_cache_tokens,
        per_chunk: u64::from(c.tokens_per_chunk),
        base: c.step_base,
        per_seq: c.step_per_seq,
        per_prefill_token: c.prefill_per_token,
    };
    let mut waiting: VecDeque<Seq> = VecDeque::new();
    let mut running: Vec<Seq> = Vec::new();
    let mut spare: Vec<Seq> = Vec::new();
    let mut work: Vec<u64> = Vec::new();
    let mut kv_used = 0u64;
    let mut next_start: Option<Instant> = None;
    loop {
        while let Ok(sub) = rx.try_recv() {
            waiting.push_back(new_seq(sub));
        }
        if running.is_empty() && waiting.is_empty() {
            publish(&metrics, 0, 0, 0);
            match rx.recv().await {
                Some(sub) => waiting.push_back(new_seq(sub)),
                None => return,
            }
            next_start = None;
            continue;
        }
        let now = Instant::now();
        let start = match next_start {
            Some(t) if now.saturating_duration_since(t) < RESYNC_AFTER => t,
            _ => now,
        };
        running.retain(|s| {
            let gone = s.sub.tx.is_closed();
            if gone {
                kv_used -= s.kv;
            }
            !gone
        });
        waiting.retain(|s| !s.sub.tx.is_closed());
        while running.len() < limits.max_num_seqs {
            let Some(front) = waiting.front() else { break };
            if !running.is_empty() && kv_used + front.prefill_target > limits.kv_capacity {
                break;
            }
            let Some(mut seq) = waiting.pop_front() else {
                break;
            };
            seq.admitted.get_or_insert(start);
            seq.prefilled = 0;
            seq.kv = seq.prefill_target;
            kv_used += seq.kv;
            running.push(seq);
        }
        // Plan the iteration, preempting the newest sequence while decode growth overflows.
        let (prefill_tokens, decode_tokens) = loop {
            let (prefill, decode) = plan(&running, &limits, &mut work);
            if kv_used + decode <= limits.kv_capacity || running.len() <= 1 {
                break (prefill, decode);
            }
            if let Some(mut victim) = running.pop() {
                kv_used -= victim.kv;
                victim.kv = 0;
                victim.prefilled = 0;
                victim.prefill_target = victim.sub.prompt_tokens + victim.generated;
                victim.preemptions += 1;
                metrics.lock().scalars.preemptions += 1;
                waiting.push_front(victim);
            }
        };
        let scheduled = work.iter().filter(|&&w| w > 0).count() as u32;
        let step_time = limits
            .base
            .saturating_add(limits.per_seq.saturating_mul(scheduled))
            .saturating_add(
                limits
                    .per_prefill_token
                    .saturating_mul(u32::try_from(prefill_tokens).unwrap_or(u32::MAX)),
            );
        // Validated settings keep this far below a year; the cap keeps `Instant` arithmetic safe.
        let deadline = start + step_time.min(Duration::from_secs(365 * 86_400));
        tokio::time::sleep_until(deadline.into()).await;

        for (mut seq, w) in running.drain(..).zip(work.iter().copied()) {
            let mut emit = 0;
            if w > 0 {
                if seq.decoding() {
                    emit = w;
                } else {
                    seq.prefilled += w;
                    if seq.decoding() {
                        emit = limits.per_chunk.min(seq.sub.target - seq.generated);
                    }
                }
            }
            if emit == 0 {
                spare.push(seq);
                continue;
            }
            seq.generated += emit;
            seq.kv += emit;
            kv_used += emit;
            let finished = seq.generated >= seq.sub.target;
            let step = Step {
                tokens: emit,
                at: deadline,
                admitted: seq.admitted.unwrap_or(start),
                preemptions: seq.preemptions,
                finish: finished.then_some(seq.sub.reason),
            };
            if seq.sub.tx.send(step).is_err() || finished {
                kv_used -= seq.kv;
            } else {
                spare.push(seq);
            }
        }
        std::mem::swap(&mut running, &mut spare);
        {
            let mut m = metrics.lock();
            m.observe(H::IterationTokens, (prefill_tokens + decode_tokens) as f64);
        }
        publish(&metrics, running.len(), waiting.len(), kv_used);
        next_start = Some(deadline);
    }
}

fn new_seq(sub: Submission) -> Seq {
    Seq {
        prefill_target: sub.prompt_tokens,
        sub,
        generated: 0,
        prefilled: 0,
        kv: 0,
        admitted: None,
        preemptions: 0,
    }
}

/// Fills `work` (tokens per running sequence this iteration); returns (prefill, decode) totals.
fn plan(running: &[Seq], limits: &Limits, work: &mut Vec<u64>) -> (u64, u64) {
    work.clear();
    let mut budget = limits.batched_tokens;
    let mut decode = 0;
    for seq in running {
        let w = if seq.decoding() {
            limits
                .per_chunk
                .min(seq.sub.target.saturating_sub(seq.generated))
                .min(budget)
        } else {
            0
        };
        budget -= w;
        decode += w;
        work.push(w);
    }
    let mut prefill = 0;
    for (seq, w) in running.iter().zip(work.iter_mut()) {
        if !seq.decoding() {
            let chunk = (seq.prefill_target - seq.prefilled).min(budget);
            budget -= chunk;
            prefill += chunk;
            *w = chunk;
        }
    }
    (prefill, decode)
}

fn publish(metrics: &Metrics, running: usize, waiting: usize, kv_used: u64) {
    let mut m = metrics.lock();
    m.scalars.running = running as u64;
    m.scalars.waiting = waiting as u64;
    m.scalars.kv_used_tokens = kv_used;
}
