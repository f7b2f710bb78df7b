//! Timing against a known schedule, the request the client sends (body, headers, api key),
//! keep-alive reuse, and the preflight helpers.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use common::{Reply, Step, fixture, serve};
use loadtest_client::{Client, ClientConfig, Endpoint, NoGapSink, Prompt, StreamRequest};
use loadtest_run::Status;

const ROLE: &str =
    "data: {\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}\n\n";

fn token(i: usize, last: bool) -> String {
    let finish = if last { "\"length\"" } else { "null" };
    format!(
        "data: {{\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"t{i}\"}},\"finish_reason\":{finish}}}]}}\n\n"
    )
}

/// First token 200 ms after the request, then one every 20 ms. Bounds are generous (the
/// machine may be busy with other builds); the precise error is measured by the bench.
#[tokio::test]
async fn ttft_and_gaps_follow_a_known_schedule() {
    const TOKENS: usize = 10;
    let mut steps = vec![
        Step::Sleep(Duration::from_millis(200)),
        Step::Bytes(Bytes::from(ROLE)),
    ];
    for i in 0..TOKENS {
        if i > 0 {
            steps.push(Step::Sleep(Duration::from_millis(20)));
        }
        steps.push(Step::Bytes(Bytes::from(token(i, i == TOKENS - 1))));
    }
    steps.push(Step::Bytes(Bytes::from(
        "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":4,\"completion_tokens\":10}}\n\ndata: [DONE]\n\n",
    )));
    let server = serve(move |_| Reply::sse(steps.clone())).await;
    let client = Client::new(&ClientConfig::new(server.url())).unwrap();
    let req = StreamRequest::new(Endpoint::Chat, Arc::from("m"), Prompt::text("hi")).unwrap();
    let gaps = Arc::new(Mutex::new(Vec::new()));
    let sink_gaps = gaps.clone();
    let r = client
        .stream(&req, &mut |g: Duration| sink_gaps.lock().unwrap().push(g))
        .await;
    assert_eq!(r.status, Status::Ok, "{r:?}");
    let ttft = r.ttft.unwrap().as_secs_f64() * 1e3;
    assert!((195.0..300.0).contains(&ttft), "ttft {ttft} ms");
    assert_eq!(r.token_events, TOKENS as u64);
    assert_eq!(r.gaps.count, TOKENS as u64 - 1);
    let gaps = gaps.lock().unwrap().clone();
    assert_eq!(gaps.len(), TOKENS - 1);
    let mean = r.gaps.mean.unwrap().as_secs_f64() * 1e3;
    assert!((18.0..40.0).contains(&mean), "gap mean {mean} ms");
    let p50 = r.gaps.p50.unwrap().as_secs_f64() * 1e3;
    assert!((18.0..40.0).contains(&p50), "gap p50 {p50} ms");
    let e2e = r.e2e.unwrap().as_secs_f64() * 1e3;
    assert!((375.0..600.0).contains(&e2e), "e2e {e2e} ms");
    let tpot = r.tpot().unwrap().as_secs_f64() * 1e3;
    assert!((18.0..40.0).contains(&tpot), "tpot {tpot} ms");
    assert!(r.total >= r.e2e.unwrap());
    // 20 ms apart, each token event came in its own read.
    assert_eq!(r.reads, Some(TOKENS as u64));
}

/// A buffered response (what a buffering proxy delivers): every event held until the end,
/// then the whole body in one chunk. One read; TTFT is the whole generation time.
#[tokio::test]
async fn a_buffered_response_is_one_read() {
    const TOKENS: usize = 10;
    let mut body = String::from(ROLE);
    for i in 0..TOKENS {
        body.push_str(&token(i, i == TOKENS - 1));
    }
    body.push_str("data: {\"choices\":[],\"usage\":{\"prompt_tokens\":4,\"completion_tokens\":10}}\n\ndata: [DONE]\n\n");
    let steps = vec![
        Step::Sleep(Duration::from_millis(150)),
        Step::Bytes(Bytes::from(body)),
    ];
    let server = serve(move |_| Reply::sse(steps.clone())).await;
    let client = Client::new(&ClientConfig::new(server.url())).unwrap();
    let req = StreamRequest::new(Endpoint::Chat, Arc::from("m"), Prompt::text("hi")).unwrap();
    let r = client.stream(&req, &mut NoGapSink).await;
    assert_eq!(r.status, Status::Ok, "{r:?}");
    assert_eq!(r.token_events, TOKENS as u64);
    assert_eq!(r.reads, Some(1));
    assert_eq!(r.ttft, r.e2e);
    assert_eq!(r.gaps.max, Some(Duration::ZERO));
}

/// The real capture's read timing replayed: TTFT and the 3 ms gaps come back.
#[tokio::test]
async fn real_timed_capture_replayed_with_its_timing() {
    let reads = common::timed_reads();
    let mut steps = Vec::new();
    let mut prev = 0.0;
    for (t_ms, data) in &reads {
        steps.push(Step::Sleep(Duration::from_secs_f64(
            (t_ms - prev).max(0.0) / 1e3,
        )));
        steps.push(Step::Bytes(Bytes::from(data.clone())));
        prev = *t_ms;
    }
    let server = serve(move |_| Reply::sse(steps.clone())).await;
    let client = Client::new(&ClientConfig::new(server.url())).unwrap();
    let req = StreamRequest::new(Endpoint::Chat, Arc::from("m"), Prompt::text("hi")).unwrap();
    let r = client.stream(&req, &mut NoGapSink).await;
    assert_eq!(r.status, Status::Ok, "{r:?}");
    assert_eq!(r.token_events, 32);
    assert_eq!(r.usage.completion_tokens, Some(32));
    let ttft = r.ttft.unwrap().as_secs_f64() * 1e3;
    assert!(
        (9.0..60.0).contains(&ttft),
        "ttft {ttft} ms (capture: 9.2 ms)"
    );
    let total = r.total.as_secs_f64() * 1e3;
    assert!(
        (97.0..250.0).contains(&total),
        "total {total} ms (capture: 97.6 ms)"
    );
    let mean = r.gaps.mean.unwrap().as_secs_f64() * 1e3;
    assert!(
        (2.0..8.0).contains(&mean),
        "gap mean {mean} ms (capture: ~2.8 ms)"
    );
}

#[tokio::test]
async fn sends_the_expected_request() {
    let body = fixture("vllm-0.32.0/sse_completions_usage.txt");
    let server = serve(move |_| Reply::sse_pieces([body.clone()])).await;
    let mut config = ClientConfig::new(format!("{}/v1/", server.url()));
    config.api_key = Some("sk-test-123".into());
    config.headers = vec![("X-Tenant".into(), "blue".into())];
    let client = Client::new(&config).unwrap();
    let req = StreamRequest::new(
        Endpoint::Completions,
        Arc::from("tiny-llama"),
        Prompt::text("The quick brown fox"),
    )
    .unwrap()
    .with_max_tokens(Some(8))
    .with_ignore_eos(true);
    let r = client.stream(&req, &mut NoGapSink).await;
    assert_eq!(r.status, Status::Ok, "{r:?}");
    assert_eq!(r.usage.prompt_tokens, Some(9));
    let seen = server.captured();
    assert_eq!(seen.len(), 1);
    let c = &seen[0];
    assert_eq!(c.method, "POST");
    assert_eq!(c.path, "/v1/completions");
    assert_eq!(c.header("authorization"), Some("Bearer sk-test-123"));
    assert_eq!(c.header("x-tenant"), Some("blue"));
    assert_eq!(c.header("content-type"), Some("application/json"));
    assert_eq!(c.header("accept"), Some("text/event-stream"));
    let v: serde_json::Value = serde_json::from_slice(&c.body).unwrap();
    assert_eq!(v["model"], "tiny-llama");
    assert_eq!(v["prompt"], "The quick brown fox");
    assert_eq!(v["max_tokens"], 8);
    assert_eq!(v["ignore_eos"], true);
    assert_eq!(v["stream"], true);
    assert_eq!(v["stream_options"]["include_usage"], true);
    // The key never shows in Debug output.
    assert!(!format!("{config:?}{client:?}").contains("sk-test-123"));
}

#[tokio::test]
async fn keep_alive_reuses_one_connection() {
    let body = fixture("vllm-0.32.0/sse_chat_usage.txt");
    let server = serve(move |_| Reply::sse_pieces([body.clone()])).await;
    let client = Client::new(&ClientConfig::new(server.url())).unwrap();
    let req = StreamRequest::new(Endpoint::Chat, Arc::from("m"), Prompt::text("hi")).unwrap();
    for _ in 0..5 {
        let r = client.clone().stream(&req, &mut NoGapSink).await;
        assert_eq!(r.status, Status::Ok, "{r:?}");
    }
    assert_eq!(server.connection_count(), 1);
}

#[tokio::test]
async fn concurrent_streams_share_the_client() {
    let body = fixture("vllm-0.32.0/sse_chat_usage.txt");
    let server = serve(move |_| {
        Reply::sse(vec![
            Step::Sleep(Duration::from_millis(50)),
            Step::Bytes(Bytes::from(body.clone())),
        ])
    })
    .await;
    let client = Client::new(&ClientConfig::new(server.url())).unwrap();
    let req = StreamRequest::new(Endpoint::Chat, Arc::from("m"), Prompt::text("hi")).unwrap();
    let mut tasks = Vec::new();
    for _ in 0..64 {
        let (client, req) = (client.clone(), req.clone());
        tasks.push(tokio::spawn(async move {
            client.stream(&req, &mut NoGapSink).await
        }));
    }
    for t in tasks {
        let r = t.await.unwrap();
        assert_eq!(r.status, Status::Ok, "{r:?}");
        assert_eq!(r.usage.completion_tokens, Some(16));
    }
}

#[tokio::test]
async fn preflight_helpers() {
    let server = serve(|c| match c.path.as_str() {
        "/v1/models" => Reply::json(200, fixture("vllm-0.32.0/models.json")),
        "/version" => Reply::json(200, fixture("vllm-0.32.0/version.json")),
        _ => Reply::json(404, fixture("vllm-0.32.0/err_unknown_path.json")),
    })
    .await;
    let client = Client::new(&ClientConfig::new(server.url())).unwrap();
    assert_eq!(client.first_model().await.unwrap(), "tiny-llama");
    let version = client.get("/version").await.unwrap();
    assert_eq!(version.status, 200);
    assert_eq!(&version.body[..], br#"{"version":"0.32.0"}"#);
    assert_eq!(version.content_type.as_deref(), Some("application/json"));
    let missing = client.get("/metrics").await.unwrap();
    assert_eq!(missing.status, 404);

    let bad = serve(|_| Reply::json(200, "[1,2]")).await;
    let client = Client::new(&ClientConfig::new(bad.url())).unwrap();
    let err = client.first_model().await.unwrap_err();
    assert!(!err.is_unreachable());
    assert!(err.to_string().contains("model list"), "{err}");
}
