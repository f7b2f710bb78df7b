//! Test helpers: a plain hyper client that timestamps every body frame, SSE splitting, a
//! JSON skeleton (structure and key order, values blanked) and a Prometheus text reader.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code, missing_docs)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, Request};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;

pub const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/vllm-0.32.0");

pub fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!("{FIXTURES}/{name}")).unwrap()
}

/// One response, with the arrival time of every body frame.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub sent_at: Instant,
    pub frames: Vec<(Instant, Bytes)>,
    /// The body ended with an error (connection cut).
    pub cut: bool,
}

impl Reply {
    pub fn body(&self) -> Vec<u8> {
        self.frames
            .iter()
            .flat_map(|(_, b)| b.iter().copied())
            .collect()
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body()).into_owned()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body()).unwrap()
    }

    pub fn content_type(&self) -> &str {
        self.headers
            .get("content-type")
            .map(|v| v.to_str().unwrap())
            .unwrap_or("")
    }

    /// SSE events (the `data: ...` payloads) with the time the frame holding them arrived.
    pub fn events(&self) -> Vec<(Instant, String)> {
        let mut out = Vec::new();
        let mut pending = String::new();
        for (at, frame) in &self.frames {
            pending.push_str(&String::from_utf8_lossy(frame));
            while let Some(end) = pending.find("\n\n") {
                let event: String = pending.drain(..end + 2).collect();
                let data = event.trim_end().strip_prefix("data: ").unwrap().to_owned();
                out.push((*at, data));
            }
        }
        out
    }
}

/// Sends one request on a fresh connection and reads the whole answer.
pub async fn send(addr: SocketAddr, method: &str, path: &str, body: Option<&str>) -> Reply {
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.set_nodelay(true).unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let mut req = Request::builder()
        .method(method)
        .uri(path)
        .header("host", "sim");
    if body.is_some() {
        req = req.header("content-type", "application/json");
    }
    let req = req
        .body(Full::new(Bytes::from(body.unwrap_or("").to_owned())))
        .unwrap();
    let sent_at = Instant::now();
    let resp = sender.send_request(req).await.unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let mut body = resp.into_body();
    let mut frames = Vec::new();
    let mut cut = false;
    loop {
        match body.frame().await {
            None => break,
            Some(Ok(frame)) => {
                let at = Instant::now();
                if let Ok(data) = frame.into_data() {
                    frames.push((at, data));
                }
            }
            Some(Err(_)) => {
                cut = true;
                break;
            }
        }
    }
    Reply {
        status,
        headers,
        sent_at,
        frames,
        cut,
    }
}

pub async fn get(addr: SocketAddr, path: &str) -> Reply {
    send(addr, "GET", path, None).await
}

pub async fn post(addr: SocketAddr, path: &str, body: &str) -> Reply {
    send(addr, "POST", path, Some(body)).await
}

/// A chat request body with `words` words of prompt.
pub fn chat_body(words: usize, max_tokens: u64, stream: bool, extra: &str) -> String {
    let prompt = vec!["word"; words].join(" ");
    format!(
        r#"{{"model":"tiny-llama","messages":[{{"role":"user","content":"{prompt}"}}],"max_tokens":{max_tokens},"stream":{stream}{extra}}}"#
    )
}

/// The JSON with every string value replaced by `S` and every number by `N`: structure and
/// key order only.
pub fn skeleton(json: &str) -> String {
    let chars: Vec<char> = json.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '"' {
            let start = i;
            i += 1;
            while chars[i] != '"' {
                if chars[i] == '\\' {
                    i += 1;
                }
                i += 1;
            }
            i += 1;
            let mut j = i;
            while j < chars.len() && chars[j].is_whitespace() {
                j += 1;
            }
            if j < chars.len() && chars[j] == ':' {
                out.extend(&chars[start..i]);
            } else {
                out.push('S');
            }
        } else if c == '-' || c.is_ascii_digit() {
            while i < chars.len() && (chars[i].is_ascii_digit() || "+-.eE".contains(chars[i])) {
                i += 1;
            }
            out.push('N');
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

/// `(name{labels}, value)` for every sample line.
pub fn samples(text: &str) -> Vec<(String, f64)> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let (k, v) = l.rsplit_once(' ').unwrap();
            let v = match v {
                "+Inf" => f64::INFINITY,
                "-Inf" => f64::NEG_INFINITY,
                other => other.parse().unwrap(),
            };
            (k.to_owned(), v)
        })
        .collect()
}

/// The value of one sample, by its exact `name{labels}` text.
pub fn sample(text: &str, key: &str) -> f64 {
    samples(text)
        .into_iter()
        .find(|(k, _)| k == key)
        .unwrap_or_else(|| panic!("no sample {key}"))
        .1
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// The simulator's truth once it counts `events` token events. A token event is counted when
/// its write has returned, so a client can hold every byte a moment before the simulator's
/// task counts the last one: waits up to 2 s for the count, then returns what there is.
pub async fn truth_after(
    sim: &loadtest_sim::SimHandle,
    events: u64,
) -> loadtest_sim::TruthSnapshot {
    let give_up = Instant::now() + Duration::from_secs(2);
    loop {
        let truth = sim.truth();
        if truth.token_events >= events || Instant::now() >= give_up {
            return truth;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
