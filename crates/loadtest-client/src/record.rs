//! The outcome of one request: its [`Status`] and timings ([`RequestRecord`]).

use std::time::{Duration, Instant};

use loadtest_run::Status;

use crate::decode::Usage;
use crate::gaps::GapSummary;

/// Longest `error` text kept, in characters.
pub const MAX_ERROR_CHARS: usize = 240;

/// One request's timing record (design §6). Durations are measured from [`start`](Self::start)
/// with a monotonic clock, stamped when the bytes arrived, before any parsing.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestRecord {
    /// How the request ended.
    pub status: Status,
    /// The response's HTTP status, when headers arrived.
    pub http_status: Option<u16>,
    /// Short, sanitised error text (the server's message for HTTP errors); `None` when ok.
    pub error: Option<String>,
    /// Just before the request was handed to the connection pool.
    pub start: Instant,
    /// First token event − start.
    pub ttft: Option<Duration>,
    /// Last token event − start.
    pub e2e: Option<Duration>,
    /// End of the stream (`[DONE]`, else the body's end, else the moment of failure) − start.
    pub total: Duration,
    /// Number of token events (SSE events carrying generated output): `chunks` in
    /// `requests.jsonl`. Under load one event can carry several tokens.
    pub token_events: u64,
    /// Every SSE event received (role chunk, usage chunk and `[DONE]` included).
    pub sse_events: u64,
    /// How many separate reads delivered the token events: body frames that arrived more
    /// than [`SAME_READ_WITHIN`](crate::measure::SAME_READ_WITHIN) after the previous frame
    /// start a new read. 0 when no token event came; `None` when no body was read (the
    /// request failed before its stream). A server that streams gives about one read per
    /// token event; a buffered response (a buffering proxy, a server that flushes at the end)
    /// gives 1 or 2 whatever its length.
    pub reads: Option<u64>,
    /// Gaps between consecutive token events.
    pub gaps: GapSummary,
    /// The last `usage` the server sent (null fields stay `None`).
    pub usage: Usage,
    /// The first non-null `finish_reason`.
    pub finish_reason: Option<String>,
    /// How the token events were timed.
    pub stamps: EventStamps,
}

/// How a request's token events were timed. A read's stamp is the kernel's receive stamp of
/// the *last* packet it took (the client's own HTTP/1.1 on Linux), so it is a token event's
/// own arrival only when the event is the one token event of its read: events that waited in
/// the socket together (the client fell behind by more than their spacing) all get the latest
/// one's. Every other event was timed when its read returned (hyper, `https://`, elsewhere),
/// with the client's own delay in getting to the socket in it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EventStamps {
    /// Token events received.
    pub events: u64,
    /// Of those, the ones timed by the kernel's receive stamp of their own bytes: the only
    /// token event of a read the kernel stamped.
    pub kernel: u64,
}

impl EventStamps {
    /// Counts the `events` token events of one read, `kernel` when the kernel stamped it.
    pub fn count(&mut self, events: u64, kernel: bool) {
        self.events = self.events.saturating_add(events);
        if kernel && events == 1 {
            self.kernel = self.kernel.saturating_add(1);
        }
    }
}

impl RequestRecord {
    /// A record for a request abandoned by its caller (its future dropped), with no timings
    /// but `total` = `now − start`.
    pub fn cancelled(start: Instant, now: Instant) -> Self {
        Self::failed(
            start,
            now,
            Status::Cancelled,
            None,
            "cancelled by the caller".to_owned(),
        )
    }

    /// A record for a request that failed before any stream was read.
    pub(crate) fn failed(
        start: Instant,
        now: Instant,
        status: Status,
        http_status: Option<u16>,
        error: String,
    ) -> Self {
        Self {
            status,
            http_status,
            error: Some(sanitize_error(&error)),
            start,
            ttft: None,
            e2e: None,
            total: now.saturating_duration_since(start),
            token_events: 0,
            sse_events: 0,
            reads: None,
            gaps: GapSummary::default(),
            usage: Usage::default(),
            finish_reason: None,
            stamps: EventStamps::default(),
        }
    }

    /// Whether the request succeeded.
    pub fn is_ok(&self) -> bool {
        self.status == Status::Ok
    }

    /// Time per output token: `(e2e − ttft) / (completion_tokens − 1)` when the server's usage
    /// reported `completion_tokens > 1`, else `None`.
    pub fn tpot(&self) -> Option<Duration> {
        let tokens = self.usage.completion_tokens?;
        if tokens <= 1 {
            return None;
        }
        let decode = self.e2e?.checked_sub(self.ttft?)?;
        let per = decode.as_secs_f64() / (tokens - 1) as f64;
        Some(Duration::from_secs_f64(per))
    }
}

/// Makes error text safe for one line of JSON or a terminal: [`sanitize_text`] cut to
/// [`MAX_ERROR_CHARS`] characters.
pub fn sanitize_error(text: &str) -> String {
    sanitize_text(text, MAX_ERROR_CHARS)
}

/// Makes untrusted text (a server's error, model id, body start) safe for one line of a
/// terminal or JSON: control characters and runs of whitespace become one space (none at
/// the ends), other characters that are not printable (bidi overrides, zero-width marks…)
/// are escaped as `\u{…}`, and the text is cut to at most `max_chars` characters, escapes
/// included, then `…`. The one sanitiser for every console path.
pub fn sanitize_text(text: &str, max_chars: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max_chars.saturating_add(4)));
    let mut chars = 0usize;
    let mut pending_space = false;
    for c in text.chars() {
        if c.is_control() || c.is_whitespace() {
            pending_space = !out.is_empty();
            continue;
        }
        // Printable characters stay as they are; the others become `\u{…}`, whose every
        // character counts: the text never passes the limit, the space owed before `c` and
        // the escape included.
        let escape = (!c.is_ascii()).then(|| c.escape_debug());
        let width = escape.clone().map_or(1, Iterator::count);
        if chars + width + usize::from(pending_space) > max_chars {
            out.push('…');
            return out;
        }
        if pending_space {
            out.push(' ');
            chars += 1;
            pending_space = false;
        }
        match escape {
            Some(escape) => out.extend(escape),
            None => out.push(c),
        }
        chars += width;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitize_strips_controls_and_truncates() {
        assert_eq!(sanitize_error("  a\n\tb\u{1b}[31m c  "), "a b [31m c");
        let long = "x".repeat(1000);
        let s = sanitize_error(&long);
        assert_eq!(s.chars().count(), MAX_ERROR_CHARS + 1);
        assert!(s.ends_with('…'));
        assert_eq!(sanitize_error(""), "");
        // A bidi override would reorder what the terminal shows: escaped; é is printable.
        assert_eq!(sanitize_text("é\u{202e}x", 16), "é\\u{202e}x");
        assert_eq!(sanitize_text("é\u{202e}x", 8), "é…");
        assert_eq!(sanitize_text("abcdef", 3), "abc…");
        // Found by the chunk_decode fuzz target: a space owed at the limit went one over.
        for words in ["ab ", "a ", "abc  \n"] {
            let s = sanitize_error(&words.repeat(400));
            assert!(
                s.chars().count() <= MAX_ERROR_CHARS + 1,
                "{}",
                s.chars().count()
            );
            assert!(s.ends_with('…') && !s.ends_with(" …"), "{s:?}");
        }
    }

    #[test]
    fn tpot_needs_two_tokens() {
        let start = Instant::now();
        let mut r = RequestRecord::cancelled(start, start);
        r.ttft = Some(Duration::from_millis(100));
        r.e2e = Some(Duration::from_millis(1100));
        r.usage.completion_tokens = Some(11);
        assert_eq!(r.tpot(), Some(Duration::from_millis(100)));
        r.usage.completion_tokens = Some(1);
        assert_eq!(r.tpot(), None);
        r.usage.completion_tokens = None;
        assert_eq!(r.tpot(), None);
    }
}
