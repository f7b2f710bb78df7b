//! Response bodies: whole ones, and the SSE stream that turns engine steps into events on
//! schedule, with faults.

use std::collections::VecDeque;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use hyper::body::{Body, Frame, SizeHint};
use tokio::time::Sleep;

use crate::chunks::{ChunkHead, DONE_EVENT, break_event};
use crate::engine::Step;
use crate::faults::{FaultKind, FaultPlan};
use crate::request::Api;
use crate::seeded::TokenText;
use crate::source::{Progress, Source};
use crate::state::Shared;
use crate::tap::{ConnTap, StreamClock};

/// Every response body the simulator sends.
#[derive(Debug)]
pub(crate) enum SimBody {
    /// A complete body (`None` once sent).
    Full(Option<Bytes>),
    /// A body that fails at once: the connection is closed after the head.
    Fail,
    /// An SSE stream.
    Stream(Box<EventStream>),
}

impl SimBody {
    /// A complete body.
    pub(crate) fn full(bytes: impl Into<Bytes>) -> Self {
        SimBody::Full(Some(bytes.into()))
    }
}

impl Body for SimBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        match self.get_mut() {
            SimBody::Full(bytes) => Poll::Ready(bytes.take().map(|b| Ok(Frame::data(b)))),
            SimBody::Fail => Poll::Ready(Some(Err(io::Error::other("injected disconnect")))),
            SimBody::Stream(stream) => stream.poll_event(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(self, SimBody::Full(None))
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            SimBody::Full(Some(b)) => SizeHint::with_exact(b.len() as u64),
            SimBody::Full(None) => SizeHint::with_exact(0),
            SimBody::Fail | SimBody::Stream(_) => SizeHint::default(),
        }
    }
}

/// How a stream should look.
#[derive(Debug, Clone, Copy)]
pub(crate) struct StreamShape {
    pub(crate) api: Api,
    pub(crate) include_usage: bool,
    pub(crate) continuous_usage: bool,
}

/// One SSE response in flight.
pub(crate) struct EventStream {
    shared: Arc<Shared>,
    head: ChunkHead,
    shape: StreamShape,
    tap: Arc<ConnTap>,
    clock: Arc<StreamClock>,
    source: Source,
    progress: Progress,
    text: TokenText,
    fault: FaultPlan,
    /// Frames ready to hand over; `Some(due)` marks a token event to stamp.
    ready: VecDeque<(Bytes, Option<Instant>)>,
    token_events: u64,
    role_sent: bool,
    /// A step held back by a stall, and the stall's timer.
    stalled: Option<(Pin<Box<Sleep>>, Step)>,
    stall_done: bool,
    ended: bool,
    scratch: String,
}

impl std::fmt::Debug for EventStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventStream")
            .field("token_events", &self.token_events)
            .finish_non_exhaustive()
    }
}

/// What a stream is built from.
pub(crate) struct StreamParts {
    pub(crate) shared: Arc<Shared>,
    pub(crate) head: ChunkHead,
    pub(crate) shape: StreamShape,
    pub(crate) tap: Arc<ConnTap>,
    pub(crate) arrival: Instant,
    pub(crate) source: Source,
    pub(crate) progress: Progress,
    pub(crate) text: TokenText,
    pub(crate) fault: FaultPlan,
}

impl EventStream {
    /// A stream ready to be polled by hyper.
    pub(crate) fn new(p: StreamParts) -> Self {
        EventStream {
            shared: p.shared,
            head: p.head,
            shape: p.shape,
            tap: p.tap,
            clock: StreamClock::new(p.arrival),
            source: p.source,
            progress: p.progress,
            text: p.text,
            fault: p.fault,
            ready: VecDeque::with_capacity(4),
            token_events: 0,
            role_sent: false,
            stalled: None,
            stall_done: false,
            ended: false,
            scratch: String::new(),
        }
    }

    fn poll_event(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        loop {
            // `--fault-buffer`: nothing leaves before the last event is produced.
            let holding = self.fault == FaultPlan::Buffer && !self.ended;
            if !holding && self.fault == FaultPlan::Buffer && self.ready.len() > 1 {
                self.release_held();
            }
            if !holding && let Some((bytes, due)) = self.ready.pop_front() {
                if let Some(due) = due {
                    self.tap.handed(&self.clock, due);
                }
                return Poll::Ready(Some(Ok(Frame::data(bytes))));
            }
            if self.ended {
                return Poll::Ready(None);
            }
            let step = if let Some((sleep, _)) = &mut self.stalled {
                if sleep.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                match self.stalled.take() {
                    Some((_, step)) => step,
                    None => continue,
                }
            } else {
                match self.source.poll_step(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(Some(step)) => step,
                    Poll::Ready(None) => {
                        return Poll::Ready(Some(Err(io::Error::other(
                            "the engine stopped before the stream finished",
                        ))));
                    }
                }
            };
            let index = self.token_events;
            match self.fault {
                FaultPlan::Disconnect { event } if event == index => {
                    self.shared.truth.fault(FaultKind::Disconnect);
                    self.ended = true;
                    return Poll::Ready(Some(Err(io::Error::other("injected disconnect"))));
                }
                FaultPlan::Stall { event } if event == index && !self.stall_done => {
                    self.stall_done = true;
                    self.shared.truth.fault(FaultKind::Stall);
                    let until = Instant::now() + self.shared.config.faults.stall;
                    self.stalled = Some((Box::pin(tokio::time::sleep_until(until.into())), step));
                    continue;
                }
                _ => {}
            }
            self.push_step(&step, index);
        }
    }

    /// Joins every held frame into one, so the whole response goes out in one write. Each
    /// token event in it is handed to the tap as due at the last event's scheduled time: the
    /// truth then records the real write (TTFT = the whole generation, gaps 0) and, as
    /// lateness, only the simulator's own delay in releasing the buffer.
    fn release_held(&mut self) {
        let len = self.ready.iter().map(|(b, _)| b.len()).sum();
        let mut all = BytesMut::with_capacity(len);
        let mut tokens = 0usize;
        let mut due = None;
        for (bytes, at) in self.ready.drain(..) {
            all.extend_from_slice(&bytes);
            if at.is_some() {
                tokens += 1;
                due = due.max(at);
            }
        }
        if let Some(due) = due {
            for _ in 0..tokens {
                self.tap.handed(&self.clock, due);
            }
        }
        self.ready.push_back((all.freeze(), None));
    }

    fn push_step(&mut self, step: &Step, index: u64) {
        self.progress.step(step);
        if self.shape.api == Api::Chat && !self.role_sent {
            self.role_sent = true;
            let role = self.head.role_event(self.shape.continuous_usage);
            self.ready.push_back((Bytes::from(role), None));
        }
        self.scratch.clear();
        self.text.push(step.tokens, &mut self.scratch);
        let last = step.finish.is_some();
        let mut event = self.head.token_event(
            &self.scratch,
            step.finish,
            self.shape
                .continuous_usage
                .then(|| self.progress.generated()),
            last && !self.shape.include_usage,
        );
        if self.fault == (FaultPlan::Malformed { event: index }) {
            self.shared.truth.fault(FaultKind::Malformed);
            event = break_event(&event);
        }
        // The event is due when the engine produced it, unless a stall held it back.
        self.ready.push_back((Bytes::from(event), Some(step.at)));
        self.token_events += 1;
        if last {
            if self.shape.include_usage {
                let usage = self.head.usage_event(self.progress.generated());
                self.ready.push_back((Bytes::from(usage), None));
            }
            self.ready
                .push_back((Bytes::from_static(DONE_EVENT.as_bytes()), None));
            self.ended = true;
        }
    }
}

/// Collects every step of a non-streaming request; `None` if the source stopped early.
pub(crate) async fn collect(
    source: &mut Source,
    progress: &mut Progress,
    text: &mut TokenText,
    stall: Option<Duration>,
) -> Option<(String, crate::chunks::FinishReason)> {
    let mut out = String::new();
    loop {
        let step = source.next_step().await?;
        progress.step(&step);
        text.push(step.tokens, &mut out);
        if let Some(reason) = step.finish {
            if let Some(stall) = stall {
                tokio::time::sleep(stall).await;
            }
            return Some((out, reason));
        }
    }
}
