//! The `batching` profile saturates: throughput rises then plateaus, TTFT climbs past
//! `max_num_seqs`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::{chat_body, post};
use loadtest_sim::{SimConfig, Simulator};

/// Closed loop at `concurrency` for `window`: (tokens/s, mean TTFT in ms).
async fn level(addr: std::net::SocketAddr, concurrency: usize, window: Duration) -> (f64, f64) {
    let tokens = Arc::new(AtomicU64::new(0));
    let ttft_us = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicU64::new(0));
    let end = Instant::now() + window;
    let start = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..concurrency {
        let (tokens, ttft_us, done) = (tokens.clone(), ttft_us.clone(), done.clone());
        workers.push(tokio::spawn(async move {
            let body = chat_body(
                32,
                32,
                true,
                r#","ignore_eos":true,"stream_options":{"include_usage":true}"#,
            );
            while Instant::now() < end {
                let reply = post(addr, "/v1/chat/completions", &body).await;
                let events = reply.events();
                let usage: serde_json::Value =
                    serde_json::from_str(&events[events.len() - 2].1).unwrap();
                tokens.fetch_add(
                    usage["usage"]["completion_tokens"].as_u64().unwrap(),
                    Ordering::Relaxed,
                );
                let first = (events[1].0 - reply.sent_at).as_micros() as u64;
                ttft_us.fetch_add(first, Ordering::Relaxed);
                done.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    for w in workers {
        w.await.unwrap();
    }
    let elapsed = start.elapsed().as_secs_f64();
    let n = done.load(Ordering::Relaxed).max(1);
    (
        tokens.load(Ordering::Relaxed) as f64 / elapsed,
        ttft_us.load(Ordering::Relaxed) as f64 / n as f64 / 1e3,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throughput_plateaus_and_ttft_climbs() {
    let sim = Simulator::start(SimConfig {
        max_num_seqs: 16,
        step_base: Duration::from_millis(2),
        step_per_seq: Duration::from_micros(250),
        prefill_per_token: Duration::from_micros(10),
        ..SimConfig::ephemeral()
    })
    .await
    .unwrap();
    let addr = sim.local_addr();
    let (tput_1, ttft_1) = level(addr, 1, Duration::from_millis(1500)).await;
    let (tput_64, ttft_64) = level(addr, 64, Duration::from_millis(2000)).await;
    eprintln!(
        "c=1: {tput_1:.0} tok/s, ttft {ttft_1:.1} ms; c=64: {tput_64:.0} tok/s, ttft {ttft_64:.1} ms"
    );
    assert!(
        tput_64 >= 3.0 * tput_1,
        "c=1 {tput_1:.0} tok/s, c=64 {tput_64:.0} tok/s"
    );
    assert!(
        ttft_64 > 2.0 * ttft_1,
        "c=1 {ttft_1:.1} ms, c=64 {ttft_64:.1} ms"
    );
    // The engine never ran more than max_num_seqs: with 64 in flight, some waited.
    let metrics = sim.metrics_text();
    let queue_sum = common::sample(
        &metrics,
        r#"vllm:request_queue_time_seconds_sum{engine="0",model_name="tiny-llama"}"#,
    );
    assert!(queue_sum > 0.0);
    sim.shutdown().await;
}

#[tokio::test]
async fn natural_stops_are_seeded() {
    let config = SimConfig {
        mean_output_tokens: 20,
        step_base: Duration::from_micros(200),
        step_per_seq: Duration::from_micros(10),
        seed: 7,
        ..SimConfig::ephemeral()
    };
    let mut runs = Vec::new();
    for _ in 0..2 {
        let sim = Simulator::start(config.clone()).await.unwrap();
        let mut lengths = Vec::new();
        for _ in 0..10 {
            let v = post(
                sim.local_addr(),
                "/v1/chat/completions",
                &chat_body(4, 200, false, ""),
            )
            .await
            .json();
            lengths.push((
                v["usage"]["completion_tokens"].as_u64().unwrap(),
                v["choices"][0]["finish_reason"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
                v["choices"][0]["message"]["content"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            ));
        }
        runs.push(lengths);
        sim.shutdown().await;
    }
    assert_eq!(runs[0], runs[1]);
    assert!(runs[0].iter().any(|(_, reason, _)| reason == "stop"));
    assert!(
        runs[0]
            .iter()
            .all(|(n, reason, _)| (*n < 200) == (reason == "stop"))
    );
}

#[tokio::test]
async fn preemption_when_the_kv_cache_is_full() {
    let sim = Simulator::start(SimConfig {
        max_model_len: 256,
        kv_cache_tokens: 256,
        step_base: Duration::from_micros(300),
        step_per_seq: Duration::from_micros(50),
        ..SimConfig::ephemeral()
    })
    .await
    .unwrap();
    let addr = sim.local_addr();
    let mut handles = Vec::new();
    for _ in 0..4 {
        handles.push(tokio::spawn(async move {
            post(
                addr,
                "/v1/completions",
                &format!(
                    r#"{{"prompt":"{}","max_tokens":100,"ignore_eos":true}}"#,
                    vec!["w"; 50].join(" ")
                ),
            )
            .await
        }));
    }
    for h in handles {
        assert_eq!(h.await.unwrap().json()["usage"]["completion_tokens"], 100);
    }
    let text = sim.metrics_text();
    assert!(
        common::sample(
            &text,
            r#"vllm:num_preemptions_total{engine="0",model_name="tiny-llama"}"#
        ) > 0.0
    );
    sim.shutdown().await;
}
