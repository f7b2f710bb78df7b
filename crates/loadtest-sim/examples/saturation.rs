//! The default `batching` profile's saturation curve: closed-loop load at concurrency 1, 2, 4,
//! …, 64; prints a markdown table of token throughput and TTFT per level.
//!
//! `cargo run --release -p loadtest-sim --example saturation [-- SECONDS_PER_LEVEL]`
//!
//! Each request: a 256-word prompt, `max_tokens` 256, `ignore_eos`, streamed. The simulator
//! runs alone on one thread; throughput counts token events received inside each window.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    missing_docs
)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use loadtest_sim::{SimConfig, Simulator};

#[derive(Default)]
struct Tally {
    tokens: AtomicU64,
    requests: AtomicU64,
    ttft_us: AtomicU64,
}

async fn one_request(addr: SocketAddr, body: Bytes, end: Instant, tally: &Tally) {
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.set_nodelay(true).unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    let req = http::Request::post("/v1/chat/completions")
        .header("host", "sim")
        .body(Full::new(body))
        .unwrap();
    let sent = Instant::now();
    let mut resp = sender.send_request(req).await.unwrap().into_body();
    let mut first = true;
    while let Some(frame) = resp.frame().await {
        let Ok(data) = frame.unwrap().into_data() else {
            continue;
        };
        let now = Instant::now();
        // Token events carry `"delta":{"content"`; the role event and usage do not.
        let events = data
            .windows(17)
            .filter(|w| w == b"\"delta\":{\"content")
            .count() as u64;
        if events == 0 {
            continue;
        }
        if first {
            first = false;
            if now <= end {
                tally.requests.fetch_add(1, Ordering::Relaxed);
                tally
                    .ttft_us
                    .fetch_add((now - sent).as_micros() as u64, Ordering::Relaxed);
            }
        }
        if now <= end {
            tally.tokens.fetch_add(events, Ordering::Relaxed);
        }
    }
}

async fn level(addr: SocketAddr, concurrency: usize, window: Duration) -> (f64, f64, u64) {
    let prompt = vec!["word"; 256].join(" ");
    let body = Bytes::from(format!(
        r#"{{"model":"tiny-llama","messages":[{{"role":"user","content":"{prompt}"}}],"max_tokens":256,"ignore_eos":true,"stream":true,"stream_options":{{"include_usage":true}}}}"#
    ));
    let tally = Arc::new(Tally::default());
    let start = Instant::now();
    let end = start + window;
    let mut workers = Vec::new();
    for _ in 0..concurrency {
        let (tally, body) = (tally.clone(), body.clone());
        workers.push(tokio::spawn(async move {
            while Instant::now() < end {
                one_request(addr, body.clone(), end, &tally).await;
            }
        }));
    }
    for w in workers {
        w.await.unwrap();
    }
    let n = tally.requests.load(Ordering::Relaxed);
    (
        tally.tokens.load(Ordering::Relaxed) as f64 / window.as_secs_f64(),
        tally.ttft_us.load(Ordering::Relaxed) as f64 / n.max(1) as f64 / 1e3,
        n,
    )
}

fn main() {
    let seconds: u64 = std::env::args().nth(1).map_or(10, |s| s.parse().unwrap());
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let sim = Simulator::start(SimConfig::ephemeral()).await.unwrap();
            addr_tx.send(sim.local_addr()).unwrap();
            std::future::pending::<()>().await;
        });
    });
    let addr = addr_rx.recv().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    println!("| concurrency | output tokens/s | mean TTFT (ms) | requests started |");
    println!("|---:|---:|---:|---:|");
    for c in [1, 2, 4, 8, 16, 32, 64] {
        let (tput, ttft, n) = rt.block_on(level(addr, c, Duration::from_secs(seconds)));
        println!("| {c} | {tput:.0} | {ttft:.1} | {n} |");
    }
}
