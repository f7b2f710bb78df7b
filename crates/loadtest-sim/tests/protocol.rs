//! The simulator's wire format against the real vLLM 0.32 captures: same SSE framing, same
//! keys in the same order, same event sequence, same error bodies.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{chat_body, fixture, get, post, send, skeleton};
use loadtest_sim::{Endpoint, Profile, SimConfig, SimHandle, Simulator};

async fn fast_sim() -> SimHandle {
    Simulator::start(SimConfig {
        profile: Profile::Fixed,
        ttft: std::time::Duration::from_millis(2),
        itl: std::time::Duration::from_millis(1),
        max_model_len: 2048,
        ..SimConfig::ephemeral()
    })
    .await
    .unwrap()
}

/// Fixture events, `data: ` stripped.
fn fixture_events(name: &str) -> Vec<String> {
    let text = fixture(name);
    assert!(!text.contains('\r'));
    text.split("\n\n")
        .filter(|e| !e.is_empty())
        .map(|e| e.strip_prefix("data: ").unwrap().to_owned())
        .collect()
}

/// The request body the fixture was captured with, with `ignore_eos` added so the simulator
/// also runs to `max_tokens`.
fn captured_request(name: &str) -> String {
    let body = fixture(&format!("requests/{name}.json"));
    let body = body.trim_end();
    format!("{}, \"ignore_eos\": true}}", &body[..body.len() - 1])
}

async fn same_stream_shape(sim: &SimHandle, name: &str, path: &str) {
    let want = fixture_events(&format!("{name}.txt"));
    let reply = post(sim.local_addr(), path, &captured_request(name)).await;
    assert_eq!(reply.status, 200, "{name}");
    assert_eq!(reply.content_type(), "text/event-stream; charset=utf-8");
    let body = reply.text();
    assert!(body.ends_with("data: [DONE]\n\n"), "{name}: {body}");
    assert!(!body.contains('\r'));
    let got: Vec<String> = reply.events().into_iter().map(|(_, e)| e).collect();
    assert_eq!(got.len(), want.len(), "{name}: event count\n{body}");
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        assert_eq!(skeleton(g), skeleton(w), "{name}: event {i}");
    }
    // Each event is compact JSON (or [DONE]); ids and created are the same on every event.
    let parsed: Vec<serde_json::Value> = got[..got.len() - 1]
        .iter()
        .map(|e| serde_json::from_str(e).unwrap())
        .collect();
    assert!(parsed.iter().all(|p| p["id"] == parsed[0]["id"]));
    assert!(parsed.iter().all(|p| p["model"] == "tiny-llama"));
}

#[tokio::test]
async fn chat_streams_match_the_capture() {
    let sim = fast_sim().await;
    for name in [
        "sse_chat_usage",
        "sse_chat_no_usage",
        "sse_chat_continuous_usage",
        "sse_chat_include_usage_false",
        "sse_chat_max_tokens_1",
    ] {
        same_stream_shape(&sim, name, "/v1/chat/completions").await;
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn completions_stream_matches_the_capture() {
    let sim = fast_sim().await;
    same_stream_shape(&sim, "sse_completions_usage", "/v1/completions").await;
    sim.shutdown().await;
}

#[tokio::test]
async fn usage_counts_words_and_tokens() {
    let sim = fast_sim().await;
    let reply = post(
        sim.local_addr(),
        "/v1/chat/completions",
        &chat_body(
            7,
            12,
            true,
            r#","ignore_eos":true,"stream_options":{"include_usage":true,"continuous_usage_stats":true}"#,
        ),
    )
    .await;
    let events = reply.events();
    let usage: serde_json::Value = serde_json::from_str(&events[events.len() - 2].1).unwrap();
    assert_eq!(usage["choices"], serde_json::json!([]));
    assert_eq!(usage["usage"]["prompt_tokens"], 7);
    assert_eq!(usage["usage"]["completion_tokens"], 12);
    assert_eq!(usage["usage"]["total_tokens"], 19);
    // Continuous usage counts up by one per event, from 0 on the role event.
    for (i, (_, e)) in events[..events.len() - 2].iter().enumerate() {
        let v: serde_json::Value = serde_json::from_str(e).unwrap();
        assert_eq!(v["usage"]["completion_tokens"], i as u64);
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn tokens_per_chunk_groups_tokens() {
    let sim = Simulator::start(SimConfig {
        profile: Profile::Fixed,
        ttft: std::time::Duration::from_millis(1),
        itl: std::time::Duration::from_millis(1),
        tokens_per_chunk: 4,
        ..SimConfig::ephemeral()
    })
    .await
    .unwrap();
    let reply = post(
        sim.local_addr(),
        "/v1/completions",
        r#"{"prompt":"a b","max_tokens":10,"ignore_eos":true,"stream":true,"stream_options":{"include_usage":true,"continuous_usage_stats":true}}"#,
    )
    .await;
    let counts: Vec<u64> = reply
        .events()
        .iter()
        .filter(|(_, e)| e != "[DONE]")
        .map(|(_, e)| serde_json::from_str::<serde_json::Value>(e).unwrap())
        .filter(|v| !v["choices"].as_array().unwrap().is_empty())
        .map(|v| v["usage"]["completion_tokens"].as_u64().unwrap())
        .collect();
    assert_eq!(counts, [4, 8, 10]);
    sim.shutdown().await;
}

#[tokio::test]
async fn whole_bodies_match_the_capture() {
    let sim = fast_sim().await;
    let addr = sim.local_addr();
    for (name, path) in [
        ("nonstream_chat", "/v1/chat/completions"),
        ("nonstream_completions", "/v1/completions"),
    ] {
        let reply = post(addr, path, &captured_request(name)).await;
        assert_eq!(reply.status, 200);
        assert_eq!(reply.content_type(), "application/json");
        let want = fixture(&format!("{name}.json"));
        assert_eq!(skeleton(&reply.text()), skeleton(want.trim_end()), "{name}");
        let v = reply.json();
        let asked: serde_json::Value =
            serde_json::from_str(&fixture(&format!("requests/{name}.json"))).unwrap();
        assert_eq!(v["usage"]["completion_tokens"], asked["max_tokens"]);
    }
    let models = get(addr, "/v1/models").await;
    assert_eq!(
        skeleton(&models.text()),
        skeleton(fixture("models.json").trim_end())
    );
    assert_eq!(models.json()["data"][0]["max_model_len"], 2048);
    let version = get(addr, "/version").await;
    assert_eq!(
        skeleton(&version.text()),
        skeleton(fixture("version.json").trim_end())
    );
    let health = get(addr, "/health").await;
    assert_eq!((health.status, health.body().len()), (200, 0));
    sim.shutdown().await;
}

#[tokio::test]
async fn errors_match_the_capture() {
    let sim = fast_sim().await;
    let addr = sim.local_addr();
    for (req, resp, status) in [
        (
            "err_max_tokens_too_large.json",
            "err_max_tokens_too_large.json",
            400,
        ),
        (
            "err_max_tokens_too_large_stream.json",
            "err_max_tokens_too_large_stream.json",
            400,
        ),
        (
            "err_missing_messages.json",
            "err_missing_messages.json",
            400,
        ),
        ("err_unknown_model.json", "err_unknown_model.json", 404),
        (
            "err_unknown_model_stream.json",
            "err_unknown_model_stream.json",
            404,
        ),
    ] {
        let reply = post(
            addr,
            "/v1/chat/completions",
            &fixture(&format!("requests/{req}")),
        )
        .await;
        assert_eq!(reply.status, status, "{req}");
        assert_eq!(reply.content_type(), "application/json", "{req}");
        assert_eq!(reply.text(), fixture(resp).trim_end(), "{req}");
    }
    for (req, resp) in [
        ("err_prompt_too_long.json", "err_prompt_too_long.json"),
        ("err_malformed_json.body", "err_malformed_json.json"),
    ] {
        let reply = post(
            addr,
            "/v1/chat/completions",
            &fixture(&format!("requests/{req}")),
        )
        .await;
        assert_eq!(reply.status, 400, "{req}");
        let (got, want) = (
            reply.json(),
            serde_json::from_str::<serde_json::Value>(&fixture(resp)).unwrap(),
        );
        for key in ["type", "param", "code"] {
            assert_eq!(got["error"][key], want["error"][key], "{req} {key}");
        }
    }
    let reply = get(addr, "/v1/chat/completions").await;
    assert_eq!(reply.status, 405);
    assert_eq!(
        reply.text(),
        fixture("err_get_chat_completions.json").trim_end()
    );
    let reply = send(addr, "GET", "/no/such/path", None).await;
    assert_eq!(reply.status, 404);
    assert_eq!(reply.text(), fixture("err_unknown_path.json").trim_end());

    let counts = sim.counts();
    assert_eq!(counts.received(Endpoint::ChatCompletions), 8);
    assert_eq!(counts.answered(Endpoint::ChatCompletions, 400), 5);
    assert_eq!(counts.answered(Endpoint::ChatCompletions, 404), 2);
    assert_eq!(counts.answered(Endpoint::ChatCompletions, 405), 1);
    assert_eq!(counts.answered(Endpoint::Other, 404), 1);
    // Refused requests are not generation requests.
    assert_eq!(sim.truth().requests, 0);
    sim.shutdown().await;
}

#[tokio::test]
async fn keep_alive_serves_many_requests_on_one_connection() {
    use http_body_util::{BodyExt, Full};
    let sim = fast_sim().await;
    let stream = tokio::net::TcpStream::connect(sim.local_addr())
        .await
        .unwrap();
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .unwrap();
    tokio::spawn(conn);
    for _ in 0..3 {
        let req = http::Request::post("/v1/chat/completions")
            .header("host", "sim")
            .body(Full::new(bytes::Bytes::from(chat_body(3, 4, true, ""))))
            .unwrap();
        let resp = sender.send_request(req).await.unwrap();
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        assert!(body.ends_with(b"data: [DONE]\n\n"));
    }
    assert_eq!(sim.counts().answered(Endpoint::ChatCompletions, 200), 3);
    sim.shutdown().await;
}
