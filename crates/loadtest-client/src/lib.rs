//! A streaming client for OpenAI-compatible LLM servers (vLLM, SGLang, TGI, llama.cpp) that
//! measures each request the way a load tester needs: monotonic timestamps taken when the
//! bytes arrive, before any parsing, and one [`RequestRecord`] per request that never is an
//! `Err` — every failure is a [`Status`](loadtest_run::Status).
//!
//! The pieces, each usable alone:
//! - [`sse`]: an incremental WHATWG Server-Sent Events parser (any HTTP stack);
//! - [`decode`]: OpenAI chunk decoding that reads only what timing needs;
//! - [`measure`]: the per-request state machine (TTFT, e2e, gaps, usage, status);
//! - [`gaps`]: per-request gap statistics in constant memory;
//! - [`Client`]: pooled keep-alive HTTP/1.1 and HTTPS (hyper, rustls) to one server;
//!
//! # Measurements
//!
//! `start` is taken just before the request is handed to the connection pool. Every body
//! frame is stamped with [`Instant::now`](std::time::Instant::now) as soon as it arrives, and
//! all SSE events completed by that frame share the stamp. A **token event** is an event whose
//! delta carries non-empty `content`, `reasoning`, `reasoning_content` or `tool_calls`
//! (completions: `text`) — the role-only chunk is not one. `ttft` = first token event − start,
//! `e2e` = last token event − start, `total` = `[DONE]` (or end of body, or failure) − start,
//! gaps = intervals between consecutive token events, `tpot` = (e2e − ttft) /
//! (completion_tokens − 1). Token counts come only from the server's `usage`. See
//! `docs/metrics.md` for the full definitions.
//!
//! # Example
//!
//! ```no_run
//! use std::sync::Arc;
//! use std::time::Duration;
//! use loadtest_client::{Client, ClientConfig, Endpoint, Prompt, StreamRequest};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let mut config = ClientConfig::new("http://localhost:8000");
//! config.request_timeout = Duration::from_secs(60);
//! let client = Client::new(&config)?;
//! let model: Arc<str> = client.first_model().await?.into();
//!
//! // Build the prompt once; every request shares it.
//! let prompt = Prompt::text("Write a haiku about load testing.");
//! let req = StreamRequest::new(Endpoint::Chat, model, prompt)?.with_max_tokens(Some(64));
//!
//! let mut itl = Vec::new(); // the sweep feeds an HDR histogram instead
//! let record = client.stream(&req, &mut |gap: Duration| itl.push(gap)).await;
//! println!("{} ttft={:?} tokens={:?}", record.status, record.ttft, record.usage.completion_tokens);
//! # Ok(())
//! # }
//! ```
//!
//! The SSE parser alone:
//!
//! ```
//! use loadtest_client::sse::SseParser;
//!
//! let mut parser = SseParser::new();
//! let mut data = Vec::new();
//! parser.feed(b": keep-alive\r\ndata: {\"a\":1}\r\n\r\ndata: li", |e| data.push(e.unwrap().data().to_owned()));
//! parser.feed(b"ne 1\ndata: line 2\n\n", |e| data.push(e.unwrap().data().to_owned()));
//! assert_eq!(data, ["{\"a\":1}", "line 1\nline 2"]);
//! ```

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

mod base_url;
mod client;
mod config;
pub mod decode;
mod error;
pub mod gaps;
mod h1;
pub mod measure;
mod record;
mod redact;
mod request;
mod response;
pub mod sse;
mod stream;
mod transport;

pub use base_url::normalize_base_url;
pub use client::{Client, GetResponse, MAX_GET_BODY_BYTES};
pub use config::{
    ClientConfig, DEFAULT_CONNECT_TIMEOUT, DEFAULT_POOL_SIZE, DEFAULT_REQUEST_TIMEOUT,
    HttpTransport, SENSITIVE_HEADERS, SENSITIVE_NAME_PARTS, is_sensitive,
};
pub use decode::Usage;
pub use error::ClientError;
pub use gaps::GapSummary;
#[doc(hidden)]
pub use h1::fuzz_response as fuzz_http1_response;
pub use measure::{GapSink, NoGapSink};
pub use record::{EventStamps, MAX_ERROR_CHARS, RequestRecord, sanitize_error, sanitize_text};
pub use redact::{MIN_SECRET_BYTES, REDACTED, Redactor, redact_url};
pub use request::{
    ChatMessage, Endpoint, ExtraFields, Prompt, RESERVED_KEYS, RequestError, StreamRequest,
};
