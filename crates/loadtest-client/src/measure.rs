//! The per-request state machine that turns timestamped body bytes into a [`RequestRecord`],
//! independent of HTTP: the [`Client`](crate::Client) drives it, and tests or other transports
//! can drive it directly.
//!
//! ```
//! use std::time::{Duration, Instant};
//! use loadtest_client::measure::{Progress, StreamMeasurer};
//! use loadtest_run::Status;
//!
//! let start = Instant::now();
//! let mut m = StreamMeasurer::new(start);
//! let mut gaps = Vec::new();
//! let mut sink = |gap: Duration| gaps.push(gap);
//! let t = |ms| start + Duration::from_millis(ms);
//! m.feed(b"data: {\"choices\":[{\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}\n\n", t(200), &mut sink);
//! m.feed(b"data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\n", t(200), &mut sink);
//! m.feed(b"data: {\"choices\":[{\"delta\":{\"content\":\"b\"},\"finish_reason\":\"length\"}]}\n\n", t(220), &mut sink);
//! let p = m.feed(b"data: {\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":2}}\n\ndata: [DONE]\n\n", t(221), &mut sink);
//! assert_eq!(p, Progress::Done);
//! let record = m.finish(t(221));
//! assert_eq!(record.status, Status::Ok);
//! assert_eq!(record.ttft, Some(Duration::from_millis(200)));
//! assert_eq!(record.e2e, Some(Duration::from_millis(220)));
//! assert_eq!(record.token_events, 2);
//! // The token events came in frames 200 ms and 220 ms after the start: two reads.
//! assert_eq!(record.reads, Some(2));
//! assert_eq!(record.usage.completion_tokens, Some(2));
//! assert_eq!(gaps, vec![Duration::from_millis(20)]);
//! ```

use std::time::{Duration, Instant};

use crate::decode::{ChunkKind, Usage, decode_chunk};
use crate::gaps::GapStats;
use loadtest_run::Status;

use crate::record::{RequestRecord, sanitize_error};
use crate::sse::{SseError, SseEvent, SseParser};

/// Body frames that arrive at most this long after the previous frame count as the same
/// read: a decoder hands the HTTP chunks of one socket read over one after another, within
/// microseconds, while separate writes of a streaming server are an engine step (milliseconds)
/// apart.
pub const SAME_READ_WITHIN: Duration = Duration::from_millis(1);

/// The most bytes one stream may buffer for a line without its end, or for one event's data:
/// 4 MiB, far above any real chunk (a few hundred bytes; a few KiB with logprobs). A stream
/// that goes past it fails at once (`stream_error`), so a server that never sends a newline
/// holds at most this much per stream in the line buffer plus this much in the event buffer.
pub const MAX_STREAM_LINE_BYTES: usize = 4 * 1024 * 1024;

/// Receives every gap between consecutive token events as it is measured (the sweep feeds an
/// HDR histogram). Gaps of every request are delivered, whatever its final status.
pub trait GapSink {
    /// One gap.
    fn record_gap(&mut self, gap: Duration);

    /// The raw `data` of each token event, for a sink that keeps the answer's text (a
    /// multi-turn conversation sends it back as the assistant's message). Nothing by
    /// default: a sink that does not override it costs nothing, and the decoder itself never
    /// builds the text.
    fn token_data(&mut self, _data: &str) {}
}

impl<F: FnMut(Duration)> GapSink for F {
    fn record_gap(&mut self, gap: Duration) {
        self(gap)
    }
}

/// A sink that drops every gap.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoGapSink;

impl GapSink for NoGapSink {
    fn record_gap(&mut self, _gap: Duration) {}
}

/// Where a stream stands after a feed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// More bytes are expected.
    Continue,
    /// `[DONE]` was received: the stream is complete.
    Done,
    /// The stream failed (error event, bad JSON or UTF-8); later bytes are ignored.
    Failed,
}

/// Accumulates one response stream's timings in O(1) memory.
#[derive(Debug)]
pub struct StreamMeasurer {
    parser: SseParser,
    start: Instant,
    first_token: Option<Instant>,
    last_token: Option<Instant>,
    token_events: u64,
    sse_events: u64,
    gaps: GapStats,
    usage: Usage,
    finish_reason: Option<String>,
    done_at: Option<Instant>,
    failure: Option<(Instant, String)>,
    /// Arrival of the last body frame.
    last_frame_at: Option<Instant>,
    /// Number of reads so far (frames more than [`SAME_READ_WITHIN`] apart).
    read: u64,
    /// The read that delivered the last token event.
    last_token_read: Option<u64>,
    /// Distinct reads that delivered token events.
    token_reads: u64,
    /// The body's first two bytes (how many were seen): to say what a body without any SSE
    /// event was.
    head: [u8; 2],
    head_len: usize,
}

impl StreamMeasurer {
    /// Starts measuring a stream whose request was sent at `start`.
    pub fn new(start: Instant) -> Self {
        Self {
            parser: SseParser::with_max_event_bytes(MAX_STREAM_LINE_BYTES),
            start,
            first_token: None,
            last_token: None,
            token_events: 0,
            sse_events: 0,
            gaps: GapStats::new(),
            usage: Usage::default(),
            finish_reason: None,
            done_at: None,
            failure: None,
            last_frame_at: None,
            read: 0,
            last_token_read: None,
            token_reads: 0,
            head: [0; 2],
            head_len: 0,
        }
    }

    /// Feeds the bytes of one body frame, all stamped `at` (when the frame arrived).
    pub fn feed<S: GapSink + ?Sized>(
        &mut self,
        bytes: &[u8],
        at: Instant,
        sink: &mut S,
    ) -> Progress {
        if let Some(p) = self.settled() {
            return p;
        }
        if self
            .last_frame_at
            .is_none_or(|prev| at.saturating_duration_since(prev) > SAME_READ_WITHIN)
        {
            self.read += 1;
        }
        self.last_frame_at = Some(at);
        for &b in bytes.iter().take(2 - self.head_len) {
            self.head[self.head_len] = b;
            self.head_len += 1;
        }
        let mut parser = std::mem::take(&mut self.parser);
        parser.feed(bytes, |event| self.on_event(event, at, sink));
        if parser.overflowed() && self.settled().is_none() {
            self.failure = Some((
                at,
                format!(
                    "an SSE line or event grew past {} MiB without its end: the stream is \
                     abandoned",
                    MAX_STREAM_LINE_BYTES / (1024 * 1024)
                ),
            ));
            // Give the buffers back now, not when the record is built.
            parser = SseParser::with_max_event_bytes(MAX_STREAM_LINE_BYTES);
        }
        self.parser = parser;
        self.settled().unwrap_or(Progress::Continue)
    }

    /// The body ended at `at` (or `[DONE]` was seen): builds the record. A stream that ended
    /// without `[DONE]` is ok if a `finish_reason` was seen, a `stream_error` otherwise.
    pub fn finish(mut self, at: Instant) -> RequestRecord {
        if self.settled().is_none() {
            let mut parser = std::mem::take(&mut self.parser);
            parser.finish(|event| self.on_event(event, at, &mut NoGapSink));
        }
        if let Some((failed_at, error)) = self.failure.take() {
            return self.record(Status::StreamError, Some(error), failed_at);
        }
        let end = self.done_at.unwrap_or(at);
        if self.finish_reason.is_some() {
            return self.record(Status::Ok, None, end);
        }
        let error = if self.sse_events == 0 {
            self.no_event_error()
        } else if self.done_at.is_some() {
            "[DONE] without any finish_reason".to_owned()
        } else {
            "stream ended before any finish_reason".to_owned()
        };
        self.record(Status::StreamError, Some(error), end)
    }

    /// Ends the stream with a failure seen outside the bytes (a reset, the deadline, a
    /// cancellation), keeping what was measured so far. A failure already found in the bytes
    /// wins.
    pub fn fail(mut self, status: Status, error: &str, at: Instant) -> RequestRecord {
        if let Some((failed_at, error)) = self.failure.take() {
            return self.record(Status::StreamError, Some(error), failed_at);
        }
        self.record(status, Some(error.to_owned()), at)
    }

    /// What a body without any SSE event held, as far as its first bytes tell.
    fn no_event_error(&self) -> String {
        let head = &self.head[..self.head_len];
        let what = if head.is_empty() {
            "its body was empty"
        } else if head == [0x1f, 0x8b] {
            "its body is gzip-compressed (magic bytes 1f 8b)"
        } else if head.first() == Some(&b'{') || head.first() == Some(&b'[') {
            "its body looks like JSON (a whole answer, not a stream?)"
        } else if head.first() == Some(&b'<') {
            "its body looks like HTML or XML"
        } else {
            "its body holds no `data:` line"
        };
        format!("the response held no SSE event: {what}")
    }

    /// Token events so far.
    pub fn token_events(&self) -> u64 {
        self.token_events
    }

    /// `[DONE]` arrival, once seen.
    pub fn done_at(&self) -> Option<Instant> {
        self.done_at
    }

    fn settled(&self) -> Option<Progress> {
        if self.failure.is_some() {
            Some(Progress::Failed)
        } else if self.done_at.is_some() {
            Some(Progress::Done)
        } else {
            None
        }
    }

    fn on_event<S: GapSink + ?Sized>(
        &mut self,
        event: Result<SseEvent<'_>, SseError>,
        at: Instant,
        sink: &mut S,
    ) {
        if self.settled().is_some() {
            return;
        }
        self.sse_events += 1;
        let event = match event {
            Ok(event) => event,
            Err(e) => {
                self.failure = Some((at, e.to_string()));
                return;
            }
        };
        if event.is_error() {
            let message = crate::decode::error_message(event.data());
            self.failure = Some((at, format!("error event: {message}")));
            return;
        }
        match decode_chunk(event.data()) {
            Ok(ChunkKind::Done) => self.done_at = Some(at),
            Ok(ChunkKind::Error(message)) => {
                self.failure = Some((at, format!("error event: {message}")));
            }
            Ok(ChunkKind::Chunk(chunk)) => {
                if chunk.is_token {
                    self.token_events += 1;
                    if self.last_token_read != Some(self.read) {
                        self.last_token_read = Some(self.read);
                        self.token_reads += 1;
                    }
                    if let Some(last) = self.last_token {
                        let gap = at.saturating_duration_since(last);
                        self.gaps.record(gap);
                        sink.record_gap(gap);
                    } else {
                        self.first_token = Some(at);
                    }
                    self.last_token = Some(at);
                    sink.token_data(event.data());
                }
                if self.finish_reason.is_none()
                    && let Some(reason) = chunk.finish_reason
                {
                    self.finish_reason = Some(reason.into_owned());
                }
                if let Some(usage) = chunk.usage {
                    // The last usage counts; an invalid one, even superseded, stays flagged.
                    let invalid = self.usage.invalid || usage.invalid;
                    self.usage = usage;
                    self.usage.invalid = invalid;
                }
            }
            Err(e) => {
                let mut head: String = event.data().chars().take(60).collect();
                if head.len() < event.data().len() {
                    head.push('…');
                }
                self.failure = Some((at, format!("{e} in data {head:?}")));
            }
        }
    }

    fn record(self, status: Status, error: Option<String>, end: Instant) -> RequestRecord {
        let mut usage = self.usage;
        // An invalid usage (a negative, fractional or huge count) left no completion_tokens:
        // the counted token events stand in (a lower bound when an event carries several
        // tokens), and `usage.invalid` says so. A usage never sent stays `None`.
        if usage.invalid && usage.completion_tokens.is_none() {
            usage.completion_tokens = Some(self.token_events);
        }
        let since = |t: Option<Instant>| t.map(|t| t.saturating_duration_since(self.start));
        RequestRecord {
            status,
            http_status: None,
            error: error.map(|e| sanitize_error(&e)),
            start: self.start,
            ttft: since(self.first_token),
            e2e: since(self.last_token),
            total: end.saturating_duration_since(self.start),
            token_events: self.token_events,
            sse_events: self.sse_events,
            reads: Some(self.token_reads),
            gaps: self.gaps.summary(),
            usage,
            finish_reason: self.finish_reason,
            stamps: crate::record::EventStamps::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROLE: &[u8] =
        b"data: {\"choices\":[{\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}\n\n";
    const TOKEN: &[u8] = b"data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\n";
    const LAST: &[u8] =
        b"data: {\"choices\":[{\"delta\":{\"content\":\"b\"},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n";

    fn us(start: Instant, micros: u64) -> Instant {
        start + Duration::from_micros(micros)
    }

    #[test]
    fn frames_within_a_millisecond_are_one_read() {
        let start = Instant::now();
        let mut m = StreamMeasurer::new(start);
        // A buffered body split into HTTP chunks handed over back to back.
        m.feed(ROLE, us(start, 500_000), &mut NoGapSink);
        for i in 0..8 {
            m.feed(TOKEN, us(start, 500_010 + 20 * i), &mut NoGapSink);
        }
        m.feed(LAST, us(start, 500_200), &mut NoGapSink);
        let r = m.finish(us(start, 500_200));
        assert_eq!(r.status, Status::Ok);
        assert_eq!((r.token_events, r.reads), (9, Some(1)));
    }

    #[test]
    fn frames_further_apart_are_separate_reads() {
        let start = Instant::now();
        let mut m = StreamMeasurer::new(start);
        // The role chunk's read carries no token: not counted.
        m.feed(ROLE, us(start, 100_000), &mut NoGapSink);
        for i in 0..4 {
            m.feed(TOKEN, us(start, 120_000 + 5_000 * i), &mut NoGapSink);
        }
        // One read with two token events, and one just over the limit after it.
        let mut two = TOKEN.to_vec();
        two.extend_from_slice(TOKEN);
        m.feed(&two, us(start, 200_000), &mut NoGapSink);
        m.feed(LAST, us(start, 201_001), &mut NoGapSink);
        let r = m.finish(us(start, 201_001));
        assert_eq!((r.token_events, r.reads), (7, Some(6)));
    }

    #[test]
    fn an_event_counts_in_the_read_that_completed_it() {
        let start = Instant::now();
        let mut m = StreamMeasurer::new(start);
        let (head, tail) = TOKEN.split_at(10);
        m.feed(head, us(start, 10_000), &mut NoGapSink);
        m.feed(tail, us(start, 30_000), &mut NoGapSink);
        m.feed(TOKEN, us(start, 30_500), &mut NoGapSink);
        let r = m.fail(Status::StreamError, "cut", us(start, 40_000));
        assert_eq!((r.token_events, r.reads), (2, Some(1)));
        let none = StreamMeasurer::new(start).finish(start);
        assert_eq!(none.reads, Some(0));
        assert_eq!(RequestRecord::cancelled(start, start).reads, None);
    }
}
