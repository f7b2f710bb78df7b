//! Every fault is observable by a client, counted in `/sim/truth`, and seeded.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::{chat_body, get, ms, post};
use loadtest_sim::{Faults, Profile, SimConfig, SimHandle, Simulator};

async fn with(faults: Faults) -> SimHandle {
    Simulator::start(SimConfig {
        profile: Profile::Fixed,
        ttft: Duration::from_millis(3),
        itl: Duration::from_millis(2),
        faults,
        ..SimConfig::ephemeral()
    })
    .await
    .unwrap()
}

fn stream_body() -> String {
    chat_body(
        4,
        10,
        true,
        r#","ignore_eos":true,"stream_options":{"include_usage":true}"#,
    )
}

#[tokio::test]
async fn http_errors() {
    let sim = with(Faults {
        http_500: 1.0,
        ..Faults::default()
    })
    .await;
    let reply = post(sim.local_addr(), "/v1/chat/completions", &stream_body()).await;
    assert_eq!(reply.status, 500);
    assert_eq!(reply.json()["error"]["code"], 500);
    assert_eq!(sim.truth().faults.http_500, 1);
    sim.shutdown().await;

    let sim = with(Faults {
        http_429: 1.0,
        ..Faults::default()
    })
    .await;
    let reply = post(
        sim.local_addr(),
        "/v1/completions",
        r#"{"prompt":"x","max_tokens":3}"#,
    )
    .await;
    assert_eq!(reply.status, 429);
    assert_eq!(reply.json()["error"]["code"], 429);
    assert_eq!(sim.truth().faults.http_429, 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn disconnect_cuts_the_stream() {
    let sim = with(Faults {
        disconnect: 1.0,
        ..Faults::default()
    })
    .await;
    let reply = post(sim.local_addr(), "/v1/chat/completions", &stream_body()).await;
    assert_eq!(reply.status, 200);
    assert!(reply.cut, "the body must end in an error");
    let text = reply.text();
    assert!(!text.contains("[DONE]"));
    let tokens = reply.events().len() - 1; // minus the role event
    assert!(
        (1..10).contains(&tokens),
        "{tokens} token events before the cut"
    );
    assert_eq!(sim.truth().faults.disconnect, 1);
    // Aborted requests count their tokens but not as a success.
    let m = sim.metrics_text();
    assert_eq!(
        common::sample(
            &m,
            r#"vllm:request_success_total{engine="0",finished_reason="length",model_name="tiny-llama"}"#
        ),
        0.0
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn stall_pauses_then_finishes() {
    let sim = with(Faults {
        stall_probability: 1.0,
        stall: Duration::from_millis(300),
        ..Faults::default()
    })
    .await;
    let reply = post(sim.local_addr(), "/v1/chat/completions", &stream_body()).await;
    assert!(reply.text().ends_with("data: [DONE]\n\n"));
    let events = reply.events();
    let longest = events
        .windows(2)
        .map(|w| ms(w[1].0 - w[0].0))
        .fold(0.0, f64::max);
    assert!(longest >= 290.0, "longest gap {longest} ms");
    assert_eq!(sim.truth().faults.stall, 1);
    assert!(sim.truth().gap_us.max >= 290_000);
    sim.shutdown().await;
}

#[tokio::test]
async fn malformed_event_is_one_broken_json() {
    let sim = with(Faults {
        malformed: 1.0,
        ..Faults::default()
    })
    .await;
    let reply = post(sim.local_addr(), "/v1/chat/completions", &stream_body()).await;
    assert!(reply.text().ends_with("data: [DONE]\n\n"));
    let broken = reply
        .events()
        .iter()
        .filter(|(_, e)| e != "[DONE]" && serde_json::from_str::<serde_json::Value>(e).is_err())
        .count();
    assert_eq!(broken, 1);
    assert_eq!(sim.truth().faults.malformed, 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn buffer_sends_the_whole_stream_in_one_write_at_the_end() {
    let sim = Simulator::start(SimConfig {
        profile: Profile::Fixed,
        ttft: Duration::from_millis(20),
        itl: Duration::from_millis(10),
        faults: Faults {
            buffer: 1.0,
            ..Faults::default()
        },
        ..SimConfig::ephemeral()
    })
    .await
    .unwrap();
    let reply = post(sim.local_addr(), "/v1/chat/completions", &stream_body()).await;
    assert_eq!(reply.status, 200);
    assert!(!reply.cut);
    // Role, 10 tokens, usage and [DONE]: one frame, after the last token was produced.
    assert_eq!(reply.frames.len(), 1, "{:?}", reply.frames.len());
    let events = reply.events();
    assert_eq!(events.len(), 13);
    assert_eq!(events.last().unwrap().1, "[DONE]");
    let arrived = ms(reply.frames[0].0 - reply.sent_at);
    assert!(arrived >= 105.0, "arrived after {arrived} ms");
    // The truth records the real write: TTFT is the whole generation, gaps are 0; lateness
    // is the simulator's own delay in releasing the buffer, not the hold.
    let truth = sim.truth();
    assert_eq!(truth.token_events, 10);
    assert!(truth.ttft_us.p50 >= 105_000, "{:?}", truth.ttft_us);
    assert!(truth.gap_us.max < 1_000, "{:?}", truth.gap_us);
    assert!(truth.lateness_us.max < 50_000, "{:?}", truth.lateness_us);
    // The engine streamed as usual: its own TTFT is the configured 20 ms.
    let m = sim.metrics_text();
    let ttft_sum = common::sample(
        &m,
        r#"vllm:time_to_first_token_seconds_sum{engine="0",model_name="tiny-llama"}"#,
    );
    assert!((0.015..0.06).contains(&ttft_sum), "{ttft_sum}");
    sim.shutdown().await;

    // Not at 0.0.
    let sim = with(Faults::default()).await;
    let reply = post(sim.local_addr(), "/v1/chat/completions", &stream_body()).await;
    assert!(reply.frames.len() > 10);
    sim.shutdown().await;
}

#[tokio::test]
async fn metrics_faults() {
    let sim = with(Faults {
        metrics_delay: Duration::from_millis(200),
        metrics_garbage: 1.0,
        ..Faults::default()
    })
    .await;
    let start = Instant::now();
    let reply = get(sim.local_addr(), "/metrics").await;
    assert!(start.elapsed() >= Duration::from_millis(195));
    assert_eq!(reply.status, 200);
    assert!(std::str::from_utf8(&reply.body()).is_err() || !reply.text().contains("# TYPE"));
    assert_eq!(sim.truth().faults.metrics_garbage, 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn faults_are_seeded_per_request() {
    let faults = Faults {
        http_500: 0.3,
        http_429: 0.3,
        ..Faults::default()
    };
    let mut runs = Vec::new();
    for _ in 0..2 {
        let sim = with(faults.clone()).await;
        let mut statuses = Vec::new();
        for _ in 0..20 {
            statuses.push(
                post(
                    sim.local_addr(),
                    "/v1/completions",
                    r#"{"prompt":"x","max_tokens":2}"#,
                )
                .await
                .status,
            );
        }
        runs.push(statuses);
        sim.shutdown().await;
    }
    assert_eq!(runs[0], runs[1]);
    assert!(
        runs[0].contains(&200) && runs[0].contains(&500) && runs[0].contains(&429),
        "{:?}",
        runs[0]
    );
}
