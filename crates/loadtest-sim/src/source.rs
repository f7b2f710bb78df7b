//! Where a response's tokens come from: a fixed schedule, or the batching engine. Both yield
//! [`Step`](crate::engine::Step)s; [`Progress`] turns them into the request's engine-side metrics.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio::time::Sleep;

use crate::chunks::FinishReason;
use crate::engine::Step;
use crate::metrics::{Finished, H};
use crate::state::Shared;

/// A fixed-profile schedule: first step at `arrival + ttft`, then one every `itl`.
#[derive(Debug)]
pub(crate) struct FixedSchedule {
    arrival: Instant,
    next_at: Instant,
    itl: Duration,
    remaining: u64,
    per_step: u64,
    reason: FinishReason,
    sleep: Pin<Box<Sleep>>,
}

/// The token source of one request.
#[derive(Debug)]
pub(crate) enum Source {
    /// Fixed TTFT/ITL.
    Fixed(FixedSchedule),
    /// Steps sent by the batching engine.
    Engine(mpsc::UnboundedReceiver<Step>),
}

impl Source {
    /// A fixed schedule of `total` tokens, `per_step` at a time.
    pub(crate) fn fixed(
        arrival: Instant,
        ttft: Duration,
        itl: Duration,
        total: u64,
        per_step: u64,
        reason: FinishReason,
    ) -> Self {
        let first = arrival + ttft;
        Source::Fixed(FixedSchedule {
            arrival,
            next_at: first,
            itl,
            remaining: total,
            per_step: per_step.max(1),
            reason,
            sleep: Box::pin(tokio::time::sleep_until(first.into())),
        })
    }

    /// The next step when it is due; `None` once the last step was given (or the engine went
    /// away).
    pub(crate) fn poll_step(&mut self, cx: &mut Context<'_>) -> Poll<Option<Step>> {
        match self {
            Source::Engine(rx) => rx.poll_recv(cx),
            Source::Fixed(f) => {
                if f.remaining == 0 {
                    return Poll::Ready(None);
                }
                if f.sleep.deadline() != f.next_at.into() {
                    f.sleep.as_mut().reset(f.next_at.into());
                }
                if f.sleep.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                let tokens = f.per_step.min(f.remaining);
                f.remaining -= tokens;
                let step = Step {
                    tokens,
                    at: f.next_at,
                    admitted: f.arrival,
                    preemptions: 0,
                    finish: (f.remaining == 0).then_some(f.reason),
                };
                f.next_at += f.itl;
                Poll::Ready(Some(step))
            }
        }
    }

    /// Waits for the next step.
    pub(crate) async fn next_step(&mut self) -> Option<Step> {
        std::future::poll_fn(|cx| self.poll_step(cx)).await
    }
}

/// Engine-side bookkeeping of one request, recorded into `/metrics` when it finishes or is
/// dropped (client gone: counted as aborted).
#[derive(Debug)]
pub(crate) struct Progress {
    shared: Arc<Shared>,
    arrival: Instant,
    prompt_tokens: u64,
    max_tokens_param: Option<u64>,
    max_tokens: u64,
    /// Fixed profile: this request holds a slot in the running gauge.
    holds_gauges: bool,
    generated: u64,
    admitted: Option<Instant>,
    first_at: Option<Instant>,
    last_at: Option<Instant>,
    preemptions: u32,
    done: bool,
}

impl Progress {
    /// Starts tracking a request.
    pub(crate) fn new(
        shared: Arc<Shared>,
        arrival: Instant,
        prompt_tokens: u64,
        max_tokens_param: Option<u64>,
        max_tokens: u64,
        holds_gauges: bool,
    ) -> Self {
        if holds_gauges {
            let mut m = shared.metrics.lock();
            m.scalars.running += 1;
            m.scalars.kv_used_tokens += prompt_tokens;
        }
        Progress {
            shared,
            arrival,
            prompt_tokens,
            max_tokens_param,
            max_tokens,
            holds_gauges,
            generated: 0,
            admitted: None,
            first_at: None,
            last_at: None,
            preemptions: 0,
            done: false,
        }
    }

    /// Tokens counted so far.
    pub(crate) fn generated(&self) -> u64 {
        self.generated
    }

    /// Accounts one step (ITL observed between steps).
    pub(crate) fn step(&mut self, step: &Step) {
        self.generated += step.tokens;
        self.admitted.get_or_insert(step.admitted);
        self.preemptions = step.preemptions;
        let mut m = self.shared.metrics.lock();
        match self.last_at {
            Some(prev) => m.observe(
                H::Itl,
                step.at.saturating_duration_since(prev).as_secs_f64(),
            ),
            // As vLLM does, TTFT is observed when the first token is produced (e2e, queue,
            // prefill and decode when the request finishes): a scrape between the two sees
            // the request's TTFT already.
            None => m.observe(
                H::Ttft,
                step.at
                    .saturating_duration_since(self.arrival)
                    .as_secs_f64(),
            ),
        }
        if self.holds_gauges {
            m.scalars.kv_used_tokens += step.tokens;
        }
        drop(m);
        self.first_at.get_or_insert(step.at);
        self.last_at = Some(step.at);
        if let Some(reason) = step.finish {
            self.record(Some(reason));
        }
    }

    fn record(&mut self, reason: Option<FinishReason>) {
        if self.done {
            return;
        }
        self.done = true;
        let admitted = self.admitted.unwrap_or(self.arrival);
        let first = self.first_at;
        let last = self.last_at.unwrap_or(admitted);
        let finished = Finished {
            prompt_tokens: self.prompt_tokens,
            generated: self.generated,
            max_tokens_param: self.max_tokens_param,
            max_tokens: self.max_tokens,
            reason,
            preemptions: self.preemptions,
            queue: admitted.saturating_duration_since(self.arrival),
            prefill: first.map_or(Duration::ZERO, |f| f.saturating_duration_since(admitted)),
            decode: first.map_or(Duration::ZERO, |f| last.saturating_duration_since(f)),
            e2e: last.saturating_duration_since(self.arrival),
        };
        self.shared.metrics.finish(&finished);
        if self.holds_gauges {
            let mut m = self.shared.metrics.lock();
            m.scalars.running = m.scalars.running.saturating_sub(1);
            m.scalars.kv_used_tokens = m
                .scalars
                .kv_used_tokens
                .saturating_sub(self.prompt_tokens + self.generated);
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.record(None);
    }
}
