//! An incremental Server-Sent Events parser (WHATWG HTML §9.2.5–9.2.6), independent of any
//! HTTP library: feed it byte slices exactly as they arrive, get complete events back.
//!
//! What it implements:
//! - lines end with LF, CRLF or a lone CR — also a CR at the end of one read followed by an LF
//!   at the start of the next (that pair is one line end, not two);
//! - a leading UTF-8 BOM is stripped once;
//! - `:` comment lines are ignored (proxies send `: ping` keep-alives);
//! - `field: value` with exactly one leading space stripped from the value; a line with no
//!   colon is a field with an empty value;
//! - `data` lines are joined with `\n`; `event` sets the type (default `message`); `id` sets the
//!   last event id (ignored if it holds NUL; it persists across events); `retry` is kept when it
//!   is all ASCII digits; other fields are ignored;
//! - a blank line dispatches the event; an event with an empty data buffer is not dispatched;
//! - bytes are split into lines *before* UTF-8 decoding, so a multi-byte character split across
//!   reads is reassembled; each dispatched event is then checked to be UTF-8;
//! - at end of stream an event not closed by a blank line is discarded, except a lone
//!   `data: [DONE]` (lenient, like `vllm bench serve`).
//!
//! One extension, for llama.cpp: a field named `error` (llama.cpp writes `error: {json}`
//! instead of `event: error`) is treated like `data` and makes the event's type `error`,
//! unless an `event:` field set another type.
//!
//! Copying: the bytes of a line are copied at most once, into the event's data buffer (or into
//! a small line buffer when a line spans two reads). No per-event allocation once the buffers
//! have grown to the largest event seen.
//!
//! ```
//! use loadtest_client::sse::SseParser;
//!
//! let mut parser = SseParser::new();
//! let mut seen = Vec::new();
//! // One event split across three reads, with a CRLF cut between reads.
//! for read in [&b"data: hel"[..], b"lo\r", b"\n\r\ndata: [DONE]\n\n"] {
//!     parser.feed(read, |event| seen.push(event.map(|e| e.data().to_owned())));
//! }
//! assert_eq!(seen.len(), 2);
//! assert_eq!(seen[0].as_deref(), Ok("hello"));
//! assert_eq!(seen[1].as_deref(), Ok("[DONE]"));
//! ```

use std::time::Duration;

use memchr::memchr2;

/// The default cap on one line (and on one event's data): 16 MiB.
pub const DEFAULT_MAX_EVENT_BYTES: usize = 16 * 1024 * 1024;

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// One dispatched event. It borrows the parser's buffers: copy what you keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SseEvent<'a> {
    event_type: &'a str,
    data: &'a str,
    last_event_id: &'a str,
}

impl<'a> SseEvent<'a> {
    /// The event type: the last `event:` field, `error` for llama.cpp's `error:` field, else
    /// `message`.
    pub fn event_type(&self) -> &'a str {
        self.event_type
    }

    /// The data: every `data:` line's value, joined with `\n`.
    pub fn data(&self) -> &'a str {
        self.data
    }

    /// The last event id seen so far in the stream (empty when none).
    pub fn last_event_id(&self) -> &'a str {
        self.last_event_id
    }

    /// Whether the event type is `error` (`event: error`, or llama.cpp's `error:` field).
    pub fn is_error(&self) -> bool {
        self.event_type == "error"
    }
}

/// Why an event could not be delivered. Parsing goes on after an error: the bad event is
/// skipped and the next one is parsed normally.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SseError {
    /// The event's data or type is not valid UTF-8.
    #[error("SSE event is not valid UTF-8 (byte {valid_up_to} of its {field} field)")]
    InvalidUtf8 {
        /// Which field: `data` or `event`.
        field: &'static str,
        /// How many bytes of that field were valid.
        valid_up_to: usize,
    },
    /// A line or an event's data grew beyond the parser's limit; the event is dropped.
    #[error("SSE event larger than {limit} bytes; dropped")]
    TooLarge {
        /// The limit in bytes.
        limit: usize,
    },
}

/// What [`SseParser::finish`] found at the end of the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FinishOutcome {
    /// An unterminated event (or line) was discarded, per the spec.
    pub discarded_partial_event: bool,
}

/// The incremental parser. Keep one per stream; it holds at most one partial line and one
/// partial event.
#[derive(Debug, Clone)]
pub struct SseParser {
    /// Bytes of a line that started in an earlier read.
    line: Vec<u8>,
    data: Vec<u8>,
    event_type: Vec<u8>,
    last_event_id: Vec<u8>,
    retry: Option<Duration>,
    /// The previous read ended with CR: a leading LF in the next read belongs to it.
    after_cr: bool,
    /// Bytes of a possible BOM still to be checked (only at the very start).
    bom_state: BomState,
    /// The current line overflowed the limit; skip to its end.
    skipping_line: bool,
    /// The current event overflowed the limit; drop it at dispatch.
    event_too_large: bool,
    max_event_bytes: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BomState {
    /// Nothing seen yet, or this many bytes of the BOM matched.
    Matching(usize),
    Done,
}

impl Default for SseParser {
    fn default() -> Self {
        Self::new()
    }
}

impl SseParser {
    /// A parser with the default size limit ([`DEFAULT_MAX_EVENT_BYTES`]).
    pub fn new() -> Self {
        Self::with_max_event_bytes(DEFAULT_MAX_EVENT_BYTES)
    }

    /// A parser that drops (with [`SseError::TooLarge`]) any line or event's data above
    /// `max_event_bytes`, so a hostile stream cannot make it buffer without bound.
    pub fn with_max_event_bytes(max_event_bytes: usize) -> Self {
        Self {
            line: Vec::new(),
            data: Vec::new(),
            event_type: Vec::new(),
            last_event_id: Vec::new(),
            retry: None,
            after_cr: false,
            bom_state: BomState::Matching(0),
            skipping_line: false,
            event_too_large: false,
            max_event_bytes,
        }
    }

    /// Whether the line or event being read has already grown past the limit (it will be
    /// dropped with [`SseError::TooLarge`] when it ends): a caller that must bound its memory
    /// can give up on the stream at once instead of waiting for a line end that may never
    /// come.
    pub fn overflowed(&self) -> bool {
        self.event_too_large || self.skipping_line
    }

    /// The reconnection time from the last valid `retry:` field, if any.
    pub fn retry(&self) -> Option<Duration> {
        self.retry
    }

    /// Feeds the next bytes of the stream; `on_event` gets each event completed by them, in
    /// order (or an error for an event that could not be delivered).
    pub fn feed<F>(&mut self, mut bytes: &[u8], mut on_event: F)
    where
        F: FnMut(Result<SseEvent<'_>, SseError>),
    {
        bytes = self.strip_bom(bytes);
        if self.after_cr && !bytes.is_empty() {
            self.after_cr = false;
            if let Some(rest) = bytes.strip_prefix(b"\n") {
                bytes = rest;
            }
        }
        while !bytes.is_empty() {
            let Some(end) = memchr2(b'\n', b'\r', bytes) else {
                self.buffer_partial_line(bytes);
                return;
            };
            let is_cr = bytes[end] == b'\r';
            let line_part = &bytes[..end];
            let mut next = end + 1;
            if is_cr {
                match bytes.get(next) {
                    Some(b'\n') => next += 1,
                    Some(_) => {}
                    None => self.after_cr = true,
                }
            }
            if self.line.is_empty() && !self.skipping_line {
                // The same limit as for a line buffered across reads, so that where the
                // reads split a stream never changes its events.
                if line_part.len() > self.max_event_bytes {
                    self.event_too_large = true;
                } else {
                    self.process_line(line_part, &mut on_event);
                }
            } else {
                self.buffer_partial_line(line_part);
                let line = std::mem::take(&mut self.line);
                if self.skipping_line {
                    self.skipping_line = false;
                } else {
                    self.process_line(&line, &mut on_event);
                }
                self.line = line;
                self.line.clear();
            }
            bytes = &bytes[next..];
        }
    }

    /// Ends the stream. A trailing line without a line end is processed; then an event not
    /// closed by a blank line is discarded, except a lone `data: [DONE]`, which is delivered.
    /// The parser is reset and can parse a new stream.
    pub fn finish<F>(&mut self, mut on_event: F) -> FinishOutcome
    where
        F: FnMut(Result<SseEvent<'_>, SseError>),
    {
        let mut discarded = false;
        if !self.line.is_empty() || self.skipping_line {
            let line = std::mem::take(&mut self.line);
            if !self.skipping_line {
                self.process_line(&line, &mut on_event);
            }
            discarded = true;
        }
        if self.data == b"[DONE]\n" && self.event_type.is_empty() && !self.event_too_large {
            self.dispatch(&mut on_event);
            discarded = false;
        } else if !self.data.is_empty() || !self.event_type.is_empty() {
            discarded = true;
        }
        *self = Self::with_max_event_bytes(self.max_event_bytes);
        FinishOutcome {
            discarded_partial_event: discarded,
        }
    }

    fn strip_bom<'b>(&mut self, bytes: &'b [u8]) -> &'b [u8] {
        let BomState::Matching(matched) = self.bom_state else {
            return bytes;
        };
        let want = &BOM[matched..];
        let n = want.len().min(bytes.len());
        if bytes[..n] == want[..n] {
            if n == want.len() {
                self.bom_state = BomState::Done;
            } else {
                self.bom_state = BomState::Matching(matched + n);
            }
            &bytes[n..]
        } else {
            self.bom_state = BomState::Done;
            if matched > 0 {
                // A partial BOM that turned out not to be one: those bytes were line content.
                self.buffer_partial_line(&BOM[..matched]);
            }
            bytes
        }
    }

    fn buffer_partial_line(&mut self, bytes: &[u8]) {
        if self.skipping_line {
            return;
        }
        if self.line.len() + bytes.len() > self.max_event_bytes {
            self.line.clear();
            self.skipping_line = true;
            self.event_too_large = true;
            return;
        }
        self.line.extend_from_slice(bytes);
    }

    fn process_line<F>(&mut self, line: &[u8], on_event: &mut F)
    where
        F: FnMut(Result<SseEvent<'_>, SseError>),
    {
        if line.is_empty() {
            self.dispatch(on_event);
            return;
        }
        if line[0] == b':' {
            return;
        }
        let (name, value) = match memchr::memchr(b':', line) {
            Some(colon) => {
                let value = &line[colon + 1..];
                (&line[..colon], value.strip_prefix(b" ").unwrap_or(value))
            }
            None => (line, &b""[..]),
        };
        match name {
            b"data" => self.append_data(value),
            b"error" => {
                if self.event_type.is_empty() {
                    self.event_type.extend_from_slice(b"error");
                }
                self.append_data(value);
            }
            b"event" => {
                self.event_type.clear();
                self.event_type.extend_from_slice(value);
            }
            // An id with NUL is ignored (spec); so is one that is not UTF-8, so that one bad
            // id cannot spoil every later event.
            b"id" if memchr::memchr(0, value).is_none() && std::str::from_utf8(value).is_ok() => {
                self.last_event_id.clear();
                self.last_event_id.extend_from_slice(value);
            }
            // All ASCII digits, else ignored; a value that overflows u64 is ignored too.
            b"retry" if !value.is_empty() && value.iter().all(u8::is_ascii_digit) => {
                if let Some(ms) = std::str::from_utf8(value)
                    .ok()
                    .and_then(|s| s.parse::<u64>().ok())
                {
                    self.retry = Some(Duration::from_millis(ms));
                }
            }
            _ => {}
        }
    }

    fn append_data(&mut self, value: &[u8]) {
        if self.event_too_large {
            return;
        }
        if self.data.len() + value.len() + 1 > self.max_event_bytes {
            self.data.clear();
            self.event_too_large = true;
            return;
        }
        self.data.extend_from_slice(value);
        self.data.push(b'\n');
    }

    fn dispatch<F>(&mut self, on_event: &mut F)
    where
        F: FnMut(Result<SseEvent<'_>, SseError>),
    {
        if self.event_too_large {
            self.event_too_large = false;
            self.data.clear();
            self.event_type.clear();
            on_event(Err(SseError::TooLarge {
                limit: self.max_event_bytes,
            }));
            return;
        }
        if self.data.is_empty() {
            self.event_type.clear();
            return;
        }
        let data = &self.data[..self.data.len() - 1];
        let result = match (
            std::str::from_utf8(data),
            std::str::from_utf8(&self.event_type),
            std::str::from_utf8(&self.last_event_id),
        ) {
            (Ok(data), Ok(event_type), Ok(last_event_id)) => Ok(SseEvent {
                event_type: if event_type.is_empty() {
                    "message"
                } else {
                    event_type
                },
                data,
                last_event_id,
            }),
            (Err(e), _, _) => Err(utf8_error("data", &e)),
            (_, Err(e), _) => Err(utf8_error("event", &e)),
            (_, _, Err(e)) => Err(utf8_error("id", &e)),
        };
        on_event(result);
        self.data.clear();
        self.event_type.clear();
    }
}

fn utf8_error(field: &'static str, e: &std::str::Utf8Error) -> SseError {
    SseError::InvalidUtf8 {
        field,
        valid_up_to: e.valid_up_to(),
    }
}
