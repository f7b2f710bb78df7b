//! A scripted loopback HTTP/1.1 server (hyper) for the client tests: each reply is a status,
//! a content type and a list of steps (write these bytes, sleep, reset the connection).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::{Body, Frame, Incoming};
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::mpsc;

/// One thing the server does while sending a body.
#[derive(Debug, Clone)]
pub enum Step {
    /// Send these bytes as one body frame (one HTTP chunk).
    Bytes(Bytes),
    /// Wait.
    Sleep(Duration),
    /// Abort the connection mid-body.
    Reset,
}

/// A scripted reply.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub content_type: &'static str,
    pub steps: Vec<Step>,
}

impl Reply {
    /// 200 text/event-stream with these steps.
    pub fn sse(steps: Vec<Step>) -> Self {
        Self {
            status: 200,
            content_type: "text/event-stream; charset=utf-8",
            steps,
        }
    }

    /// 200 SSE sending `body` in the given pieces, back to back.
    pub fn sse_pieces<I: IntoIterator<Item = Vec<u8>>>(pieces: I) -> Self {
        Self::sse(
            pieces
                .into_iter()
                .map(|p| Step::Bytes(Bytes::from(p)))
                .collect(),
        )
    }

    /// A JSON reply with this status.
    pub fn json(status: u16, body: impl Into<Bytes>) -> Self {
        Self {
            status,
            content_type: "application/json",
            steps: vec![Step::Bytes(body.into())],
        }
    }
}

/// What the server received.
#[derive(Debug, Clone)]
pub struct Captured {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
}

impl Captured {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

type Handler = dyn Fn(&Captured) -> Reply + Send + Sync;

/// The running server; it stops when dropped (its task is aborted).
pub struct Server {
    pub addr: SocketAddr,
    pub requests: Arc<Mutex<Vec<Captured>>>,
    pub connections: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Server {
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn connection_count(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    pub fn captured(&self) -> Vec<Captured> {
        self.requests.lock().unwrap().clone()
    }
}

/// Starts a server on 127.0.0.1:0 answering every request with `handler`.
pub async fn serve(handler: impl Fn(&Captured) -> Reply + Send + Sync + 'static) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let requests = Arc::new(Mutex::new(Vec::new()));
    let connections = Arc::new(AtomicUsize::new(0));
    let handler: Arc<Handler> = Arc::new(handler);
    let (reqs, conns) = (requests.clone(), connections.clone());
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            stream.set_nodelay(true).unwrap();
            conns.fetch_add(1, Ordering::SeqCst);
            let handler = handler.clone();
            let reqs = reqs.clone();
            tokio::spawn(async move {
                let service = service_fn(move |req: Request<Incoming>| {
                    let handler = handler.clone();
                    let reqs = reqs.clone();
                    async move { Ok::<_, Infallible>(respond(req, &*handler, &reqs).await) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Server {
        addr,
        requests,
        connections,
        task,
    }
}

async fn respond(
    req: Request<Incoming>,
    handler: &Handler,
    reqs: &Mutex<Vec<Captured>>,
) -> Response<ChannelBody> {
    let (parts, body) = req.into_parts();
    let body = body.collect().await.unwrap().to_bytes();
    let captured = Captured {
        method: parts.method.to_string(),
        path: parts.uri.path().to_owned(),
        headers: parts
            .headers
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_str().unwrap_or("").to_owned()))
            .collect(),
        body,
    };
    let reply = handler(&captured);
    reqs.lock().unwrap().push(captured);
    let (tx, rx) = mpsc::channel(1);
    tokio::spawn(async move {
        for step in reply.steps {
            match step {
                Step::Bytes(b) => {
                    if tx.send(Ok(Frame::data(b))).await.is_err() {
                        return;
                    }
                    // Give the connection a chance to write this frame on its own.
                    tokio::task::yield_now().await;
                }
                Step::Sleep(d) => tokio::time::sleep(d).await,
                Step::Reset => {
                    let _ = tx.send(Err(std::io::Error::other("scripted reset"))).await;
                    return;
                }
            }
        }
    });
    Response::builder()
        .status(reply.status)
        .header("content-type", reply.content_type)
        .body(ChannelBody { rx })
        .unwrap()
}

/// A response body fed by a channel.
pub struct ChannelBody {
    rx: mpsc::Receiver<Result<Frame<Bytes>, std::io::Error>>,
}

impl Body for ChannelBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        self.rx.poll_recv(cx)
    }
}

/// Path of a file under `testdata/` (the real captures).
pub fn fixture_path(rel: &str) -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/")).join(rel)
}

/// Bytes of a fixture.
pub fn fixture(rel: &str) -> Vec<u8> {
    std::fs::read(fixture_path(rel)).unwrap_or_else(|e| panic!("fixture {rel}: {e}"))
}

/// Every SSE body fixture (as body bytes: the raw-chunked capture is de-chunked).
pub fn sse_fixtures() -> Vec<(&'static str, Vec<u8>)> {
    let mut out = Vec::new();
    for name in [
        "vllm-0.32.0/sse_chat_usage.txt",
        "vllm-0.32.0/sse_chat_no_usage.txt",
        "vllm-0.32.0/sse_chat_continuous_usage.txt",
        "vllm-0.32.0/sse_chat_include_usage_false.txt",
        "vllm-0.32.0/sse_chat_max_tokens_1.txt",
        "vllm-0.32.0/sse_completions_usage.txt",
        "llamacpp-0c1e57098/sse_chat_no_usage.txt",
        "llamacpp-0c1e57098/sse_completions_no_usage.txt",
    ] {
        out.push((name, fixture(name)));
    }
    let raw = fixture("vllm-0.32.0/sse_chat_usage_raw_chunked.txt");
    out.push((
        "vllm-0.32.0/sse_chat_usage_raw_chunked.txt",
        dechunk(&raw).concat(),
    ));
    out.push((
        "vllm-0.32.0/sse_chat_usage_timed.jsonl",
        timed_reads().into_iter().flat_map(|(_, d)| d).collect(),
    ));
    out
}

/// The HTTP/1.1 chunks of a `curl --raw` capture, in order.
pub fn dechunk(mut raw: &[u8]) -> Vec<Vec<u8>> {
    let mut chunks = Vec::new();
    loop {
        let line_end = raw.windows(2).position(|w| w == b"\r\n").unwrap();
        let size = usize::from_str_radix(std::str::from_utf8(&raw[..line_end]).unwrap().trim(), 16)
            .unwrap();
        raw = &raw[line_end + 2..];
        if size == 0 {
            return chunks;
        }
        chunks.push(raw[..size].to_vec());
        assert_eq!(&raw[size..size + 2], b"\r\n");
        raw = &raw[size + 2..];
    }
}

/// The timed capture: `(ms since the request was sent, bytes of that socket read)`.
pub fn timed_reads() -> Vec<(f64, Vec<u8>)> {
    let text = String::from_utf8(fixture("vllm-0.32.0/sse_chat_usage_timed.jsonl")).unwrap();
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            (
                v["t_ms"].as_f64().unwrap(),
                v["data"].as_str().unwrap().as_bytes().to_vec(),
            )
        })
        .collect()
}

/// What an independent, naive reading of a whole SSE body says (the oracle for the tests).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expected {
    pub token_events: u64,
    pub prompt_tokens: Option<u64>,
    pub completion_tokens: Option<u64>,
    pub cached_tokens: Option<u64>,
    pub finish_reason: Option<String>,
    pub role_chunks: u64,
}

pub fn expected(body: &[u8]) -> Expected {
    let text = std::str::from_utf8(body).unwrap().replace("\r\n", "\n");
    let mut e = Expected {
        token_events: 0,
        prompt_tokens: None,
        completion_tokens: None,
        cached_tokens: None,
        finish_reason: None,
        role_chunks: 0,
    };
    for block in text.split("\n\n") {
        let Some(data) = block.trim().strip_prefix("data: ") else {
            continue;
        };
        if data == "[DONE]" {
            continue;
        }
        let v: serde_json::Value = serde_json::from_str(data).unwrap();
        for c in v["choices"].as_array().unwrap() {
            let non_empty = |x: &serde_json::Value| match x {
                serde_json::Value::String(s) => !s.is_empty(),
                serde_json::Value::Array(a) => !a.is_empty(),
                _ => false,
            };
            let d = &c["delta"];
            let token = non_empty(&c["text"])
                || ["content", "reasoning", "reasoning_content", "tool_calls"]
                    .iter()
                    .any(|k| non_empty(&d[k]));
            if token {
                e.token_events += 1;
            }
            if d.get("role").is_some() && !token {
                e.role_chunks += 1;
            }
            if e.finish_reason.is_none()
                && let Some(f) = c["finish_reason"].as_str()
            {
                e.finish_reason = Some(f.to_owned());
            }
        }
        if let Some(u) = v.get("usage").filter(|u| !u.is_null()) {
            e.prompt_tokens = u["prompt_tokens"].as_u64();
            e.completion_tokens = u["completion_tokens"].as_u64();
            e.cached_tokens = u["prompt_tokens_details"]["cached_tokens"].as_u64();
        }
    }
    e
}

/// The role-only chunk vLLM sends first (not a token event).
pub const ROLE: &str = r#"data: {"choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}"#;
/// A content chunk: one token event.
pub const TOKEN: &str =
    r#"data: {"choices":[{"index":0,"delta":{"content":"x"},"finish_reason":null}]}"#;
/// The last content chunk, with `finish_reason` `stop`.
pub const FINISH: &str =
    r#"data: {"choices":[{"index":0,"delta":{"content":"y"},"finish_reason":"stop"}]}"#;
