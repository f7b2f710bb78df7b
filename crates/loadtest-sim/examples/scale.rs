//! Efficiency check: one simulator thread (a current-thread runtime) serving N concurrent
//! `fixed`-profile streams at 100 ms ITL; prints its lateness from `/sim/truth` and the CPU
//! time its thread used.
//!
//! `cargo run --release -p loadtest-sim --example scale [-- STREAMS [TOKENS]]` (default 5000, 50)
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    missing_docs
)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use loadtest_sim::{Profile, SimConfig, Simulator, TruthSnapshot};

/// (user, system) CPU seconds used by the calling thread (Linux; zeros elsewhere).
fn thread_cpu_s() -> (f64, f64) {
    let Ok(stat) = std::fs::read_to_string("/proc/thread-self/stat") else {
        return (0.0, 0.0);
    };
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = after.split(' ').collect();
    // utime and stime are fields 14 and 15 of the whole line: 11 and 12 after the `)`.
    let tick = |i: usize| fields[i].parse::<f64>().unwrap() / 100.0;
    (tick(11), tick(12))
}

async fn stream(addr: SocketAddr, body: Bytes) -> u64 {
    let s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.set_nodelay(true).unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(s))
        .await
        .unwrap();
    tokio::spawn(conn);
    let req = http::Request::post("/v1/completions")
        .header("host", "sim")
        .body(Full::new(body))
        .unwrap();
    let mut resp = sender.send_request(req).await.unwrap().into_body();
    let mut bytes = 0;
    while let Some(frame) = resp.frame().await {
        if let Ok(d) = frame.unwrap().into_data() {
            bytes += d.len() as u64;
        }
    }
    bytes
}

fn main() {
    let mut args = std::env::args().skip(1);
    let streams: usize = args.next().map_or(5000, |s| s.parse().unwrap());
    let tokens: u64 = args.next().map_or(50, |s| s.parse().unwrap());
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let sim_thread = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let sim = Simulator::start(SimConfig {
                profile: Profile::Fixed,
                ttft: Duration::from_millis(100),
                itl: Duration::from_millis(100),
                ..SimConfig::ephemeral()
            })
            .await
            .unwrap();
            addr_tx.send(sim.local_addr()).unwrap();
            let cpu0 = thread_cpu_s();
            let _ = stop_rx.await;
            let cpu1 = thread_cpu_s();
            let cpu = (cpu1.0 - cpu0.0, cpu1.1 - cpu0.1);
            let truth: TruthSnapshot = sim.truth();
            sim.shutdown().await;
            (truth, cpu)
        })
    });
    let addr = addr_rx.recv().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let body = Bytes::from(format!(
        r#"{{"prompt":"x","max_tokens":{tokens},"ignore_eos":true,"stream":true}}"#
    ));
    let start = Instant::now();
    let bytes: u64 = rt.block_on(async {
        let mut handles = Vec::with_capacity(streams);
        for i in 0..streams {
            let body = body.clone();
            handles.push(tokio::spawn(async move { stream(addr, body).await }));
            // Open connections at a bounded pace (5 per ms), like the sweep's ramp.
            if i % 5 == 4 {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
        let mut total = 0;
        for h in handles {
            total += h.await.unwrap();
        }
        total
    });
    let wall = start.elapsed().as_secs_f64();
    stop_tx.send(()).unwrap();
    let (truth, cpu) = sim_thread.join().unwrap();
    let l = truth.lateness_us;
    println!(
        "streams {streams}, tokens/stream {tokens}, ITL 100 ms, wall {wall:.1} s, {bytes} bytes received"
    );
    let (user, sys) = cpu;
    println!(
        "token events {} ({:.0}/s); simulator thread CPU user {user:.2} s + system {sys:.2} s \
         ({:.0}% of one core; {:.1} µs per event)",
        truth.token_events,
        truth.token_events as f64 / wall,
        (user + sys) / wall * 100.0,
        (user + sys) * 1e6 / truth.token_events.max(1) as f64
    );
    println!(
        "lateness µs: p50 {} p90 {} p99 {} max {} (mean {:.0}); gap µs p50 {} p99 {}; TTFT µs p50 {} p99 {}",
        l.p50,
        l.p90,
        l.p99,
        l.max,
        l.mean,
        truth.gap_us.p50,
        truth.gap_us.p99,
        truth.ttft_us.p50,
        truth.ttft_us.p99
    );
}
