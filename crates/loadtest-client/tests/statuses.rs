//! Every stream shape of the issue and every way a request can fail: each gives a specific
//! status, never a panic.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use common::{FINISH, ROLE, Reply, Step, TOKEN, fixture, serve};
use loadtest_client::{
    Client, ClientConfig, Endpoint, NoGapSink, Prompt, RequestRecord, StreamRequest,
};
use loadtest_run::Status;

fn request() -> StreamRequest {
    StreamRequest::new(Endpoint::Chat, Arc::from("m"), Prompt::text("hi")).unwrap()
}

async fn run_reply(reply: Reply) -> RequestRecord {
    run_with_timeout(reply, Duration::from_secs(10)).await
}

async fn run_with_timeout(reply: Reply, timeout: Duration) -> RequestRecord {
    let server = serve(move |_| reply.clone()).await;
    let mut config = ClientConfig::new(server.url());
    config.request_timeout = timeout;
    let client = Client::new(&config).unwrap();
    client.stream(&request(), &mut NoGapSink).await
}

async fn run_sse(body: &str) -> RequestRecord {
    run_reply(Reply::sse_pieces([body.as_bytes().to_vec()])).await
}

const USAGE: &str =
    r#"data: {"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}}"#;

fn events(list: &[&str]) -> String {
    list.iter().map(|e| format!("{e}\n\n")).collect()
}

#[tokio::test]
async fn complete_stream_is_ok() {
    let r = run_sse(&events(&[ROLE, TOKEN, FINISH, USAGE, "data: [DONE]"])).await;
    assert_eq!(r.status, Status::Ok, "{r:?}");
    assert_eq!(r.token_events, 2);
    assert_eq!(r.sse_events, 5);
    assert_eq!(r.usage.completion_tokens, Some(2));
    assert_eq!(r.finish_reason.as_deref(), Some("stop"));
}

#[tokio::test]
async fn finish_without_done_is_ok() {
    let r = run_sse(&events(&[ROLE, TOKEN, FINISH, USAGE])).await;
    assert_eq!(r.status, Status::Ok, "{r:?}");
    assert_eq!(r.usage.prompt_tokens, Some(3));
}

#[tokio::test]
async fn end_before_finish_reason_is_stream_error() {
    let r = run_sse(&events(&[ROLE, TOKEN, TOKEN])).await;
    assert_eq!(r.status, Status::StreamError, "{r:?}");
    assert!(
        r.error.as_deref().unwrap().contains("finish_reason"),
        "{r:?}"
    );
    assert_eq!(r.token_events, 2);
    assert!(r.ttft.is_some());
}

#[tokio::test]
async fn done_without_finish_reason_is_stream_error() {
    let r = run_sse(&events(&[ROLE, TOKEN, "data: [DONE]"])).await;
    assert_eq!(r.status, Status::StreamError, "{r:?}");
}

#[tokio::test]
async fn lenient_trailing_done_without_blank_line() {
    let mut body = events(&[ROLE, TOKEN, FINISH, USAGE]);
    body.push_str("data: [DONE]");
    let r = run_sse(&body).await;
    assert_eq!(r.status, Status::Ok, "{r:?}");
}

#[tokio::test]
async fn reasoning_and_tool_calls_are_tokens() {
    let body = events(&[
        ROLE,
        r#"data: {"choices":[{"index":0,"delta":{"reasoning":"think"}}]}"#,
        r#"data: {"choices":[{"index":0,"delta":{"reasoning_content":"more"}}]}"#,
        r#"data: {"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"t","type":"function","function":{"name":"f","arguments":""}}]}}]}"#,
        r#"data: {"choices":[{"index":0,"delta":{"tool_calls":[]}}]}"#,
        r#"data: {"choices":[{"index":0,"delta":{"content":null}}]}"#,
        r#"data: {"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}"#,
        "data: [DONE]",
    ]);
    let r = run_sse(&body).await;
    assert_eq!(r.status, Status::Ok, "{r:?}");
    assert_eq!(r.token_events, 3);
    assert_eq!(r.finish_reason.as_deref(), Some("tool_calls"));
}

#[tokio::test]
async fn continuous_usage_keeps_the_last() {
    let body = events(&[
        r#"data: {"choices":[{"index":0,"delta":{"role":"assistant","content":""}}],"usage":{"prompt_tokens":3,"completion_tokens":0}}"#,
        r#"data: {"choices":[{"index":0,"delta":{"content":"a"}}],"usage":{"prompt_tokens":3,"completion_tokens":1}}"#,
        r#"data: {"choices":[{"index":0,"delta":{"content":"bc"},"finish_reason":"length"}],"usage":{"prompt_tokens":3,"completion_tokens":3}}"#,
        "data: [DONE]",
    ]);
    let r = run_sse(&body).await;
    assert_eq!(r.status, Status::Ok);
    assert_eq!(r.usage.completion_tokens, Some(3));
    assert_eq!(r.token_events, 2);
}

#[tokio::test]
async fn mid_stream_error_object_is_stream_error() {
    let body = events(&[
        ROLE,
        TOKEN,
        r#"data: {"error":{"message":"engine died","type":"InternalServerError","param":null,"code":500}}"#,
        "data: [DONE]",
    ]);
    let r = run_sse(&body).await;
    assert_eq!(r.status, Status::StreamError, "{r:?}");
    assert!(r.error.as_deref().unwrap().contains("engine died"), "{r:?}");
    assert_eq!(r.token_events, 1);
}

#[tokio::test]
async fn llamacpp_error_field_is_stream_error() {
    let mut body = events(&[ROLE, TOKEN]);
    body.push_str(
        "error: {\"code\":500,\"message\":\"slot failed\",\"type\":\"server_error\"}\n\n",
    );
    let r = run_sse(&body).await;
    assert_eq!(r.status, Status::StreamError, "{r:?}");
    assert!(r.error.as_deref().unwrap().contains("slot failed"), "{r:?}");
}

#[tokio::test]
async fn event_error_is_stream_error() {
    let mut body = events(&[ROLE]);
    body.push_str("event: error\ndata: {\"message\":\"overloaded\"}\n\n");
    let r = run_sse(&body).await;
    assert_eq!(r.status, Status::StreamError, "{r:?}");
    assert!(r.error.as_deref().unwrap().contains("overloaded"), "{r:?}");
}

#[tokio::test]
async fn null_error_field_is_ignored() {
    let body = events(&[
        r#"data: {"error":null,"choices":[{"index":0,"delta":{"content":"a"},"finish_reason":"stop"}]}"#,
        "data: [DONE]",
    ]);
    let r = run_sse(&body).await;
    assert_eq!(r.status, Status::Ok, "{r:?}");
}

#[tokio::test]
async fn invalid_json_is_stream_error() {
    let body = events(&[
        ROLE,
        TOKEN,
        r#"data: {"choices":[{"index":0,"delta":{"content":"x""#,
    ]);
    let r = run_sse(&body).await;
    assert_eq!(r.status, Status::StreamError, "{r:?}");
    assert!(
        r.error.as_deref().unwrap().contains("invalid JSON"),
        "{r:?}"
    );
    let r = run_sse(&events(&["data: not json at all"])).await;
    assert_eq!(r.status, Status::StreamError, "{r:?}");
    let r = run_sse(&events(&[r#"data: {"choices":"nope"}"#])).await;
    assert_eq!(r.status, Status::StreamError, "{r:?}");
}

#[tokio::test]
async fn invalid_utf8_is_stream_error() {
    let mut body = events(&[ROLE, TOKEN]).into_bytes();
    body.extend_from_slice(
        b"data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"\xff\xfe\"}}]}\n\n",
    );
    body.extend_from_slice(FINISH.as_bytes());
    body.extend_from_slice(b"\n\n");
    let r = run_reply(Reply::sse_pieces([body])).await;
    assert_eq!(r.status, Status::StreamError, "{r:?}");
    assert!(r.error.as_deref().unwrap().contains("UTF-8"), "{r:?}");
}

#[tokio::test]
async fn non_sse_200_body_is_stream_error() {
    let r = run_reply(Reply::json(200, fixture("vllm-0.32.0/nonstream_chat.json"))).await;
    assert_eq!(r.status, Status::StreamError, "{r:?}");
    assert!(
        r.error.as_deref().unwrap().contains("not an SSE stream"),
        "{r:?}"
    );
}

#[tokio::test]
async fn real_error_bodies_are_http_errors() {
    let cases = [
        ("vllm-0.32.0/err_unknown_model.json", 404, "does not exist"),
        (
            "vllm-0.32.0/err_unknown_model_stream.json",
            404,
            "does not exist",
        ),
        (
            "vllm-0.32.0/err_max_tokens_too_large.json",
            400,
            "max_tokens=4096",
        ),
        (
            "vllm-0.32.0/err_max_tokens_too_large_stream.json",
            400,
            "max_tokens=4096",
        ),
        (
            "vllm-0.32.0/err_prompt_too_long.json",
            400,
            "maximum context length",
        ),
        (
            "vllm-0.32.0/err_malformed_json.json",
            400,
            "JSON decode error",
        ),
        (
            "vllm-0.32.0/err_missing_messages.json",
            400,
            "Field required",
        ),
        (
            "vllm-0.32.0/err_get_chat_completions.json",
            405,
            "Method Not Allowed",
        ),
        ("vllm-0.32.0/err_unknown_path.json", 404, "Not Found"),
        (
            "llamacpp-0c1e57098/err_ctx_exceeded.json",
            400,
            "exceeds the available context",
        ),
        (
            "llamacpp-0c1e57098/err_malformed_json.json",
            500,
            "parse error",
        ),
    ];
    for (file, status, needle) in cases {
        let r = run_reply(Reply::json(status, fixture(file))).await;
        assert_eq!(r.status, Status::HttpError, "{file}: {r:?}");
        assert_eq!(r.http_status, Some(status), "{file}");
        let error = r.error.as_deref().unwrap();
        assert!(error.contains(needle), "{file}: {error}");
        assert!(!error.chars().any(char::is_control), "{file}: {error:?}");
        assert!(error.chars().count() <= loadtest_client::MAX_ERROR_CHARS + 1);
        assert!(r.ttft.is_none() && r.token_events == 0);
    }
    // Not JSON at all, e.g. a proxy's HTML page.
    let r = run_reply(Reply::json(502, "<html>\n<b>Bad gateway</b>\n</html>")).await;
    assert_eq!(r.status, Status::HttpError);
    assert!(r.error.as_deref().unwrap().contains("Bad gateway"));
}

#[tokio::test]
async fn connection_refused_is_connect_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let client = Client::new(&ClientConfig::new(format!("http://{addr}"))).unwrap();
    let r = client.stream(&request(), &mut NoGapSink).await;
    assert_eq!(r.status, Status::ConnectError, "{r:?}");
    assert_eq!(r.http_status, None);
    assert!(r.error.is_some());
    let err = client.first_model().await.unwrap_err();
    assert!(err.is_unreachable(), "{err}");
}

#[tokio::test]
async fn tls_handshake_failure_is_connect_error() {
    // https:// to a plain-HTTP server: the TLS handshake fails.
    let server = serve(|_| Reply::sse(vec![])).await;
    let mut config = ClientConfig::new(format!("https://{}", server.addr));
    config.connect_timeout = Duration::from_secs(5);
    config.request_timeout = Duration::from_secs(5);
    let client = Client::new(&config).unwrap();
    let r = client.stream(&request(), &mut NoGapSink).await;
    assert_eq!(r.status, Status::ConnectError, "{r:?}");
}

#[tokio::test]
async fn reset_mid_stream_is_stream_error() {
    let reply = Reply::sse(vec![
        Step::Bytes(Bytes::from(events(&[ROLE, TOKEN]))),
        Step::Sleep(Duration::from_millis(20)),
        Step::Reset,
    ]);
    let r = run_reply(reply).await;
    assert_eq!(r.status, Status::StreamError, "{r:?}");
    assert!(r.error.as_deref().unwrap().contains("mid-stream"), "{r:?}");
    assert_eq!(r.token_events, 1);
    assert_eq!(r.http_status, Some(200));
}

#[tokio::test]
async fn stall_past_deadline_is_timeout() {
    let reply = Reply::sse(vec![
        Step::Bytes(Bytes::from(events(&[ROLE, TOKEN]))),
        Step::Sleep(Duration::from_secs(5)),
        Step::Bytes(Bytes::from(events(&[FINISH, "data: [DONE]"]))),
    ]);
    let r = run_with_timeout(reply, Duration::from_millis(300)).await;
    assert_eq!(r.status, Status::Timeout, "{r:?}");
    assert_eq!(r.token_events, 1);
    assert!(r.ttft.is_some());
    assert!(
        r.total >= Duration::from_millis(300) && r.total < Duration::from_secs(3),
        "{r:?}"
    );
}

#[tokio::test]
async fn no_headers_before_deadline_is_timeout() {
    // A server that accepts (in the kernel's backlog) but never answers.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut config = ClientConfig::new(format!("http://{addr}"));
    config.request_timeout = Duration::from_millis(200);
    let client = Client::new(&config).unwrap();
    let r = client.stream(&request(), &mut NoGapSink).await;
    assert_eq!(r.status, Status::Timeout, "{r:?}");
    assert_eq!(r.http_status, None);
    drop(listener);
}

#[tokio::test]
async fn cancel_keeps_partial_timings() {
    let server = serve(|_| {
        Reply::sse(vec![
            Step::Bytes(Bytes::from(events(&[ROLE, TOKEN]))),
            Step::Sleep(Duration::from_secs(5)),
        ])
    })
    .await;
    let client = Client::new(&ClientConfig::new(server.url())).unwrap();
    let cancel = tokio::time::sleep(Duration::from_millis(150));
    let r = client
        .stream_until(&request(), &mut NoGapSink, cancel)
        .await;
    assert_eq!(r.status, Status::Cancelled, "{r:?}");
    assert_eq!(r.token_events, 1);
    assert!(r.ttft.is_some());
}

#[tokio::test]
async fn hostile_garbage_never_panics() {
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    for round in 0..20 {
        let mut body = Vec::new();
        for _ in 0..(round * 37 + 5) {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            body.push(match seed % 7 {
                0 => b'\n',
                1 => b'\r',
                2 => b':',
                3 => b'{',
                _ => (seed >> 8) as u8,
            });
        }
        let r = run_reply(Reply::sse_pieces([body])).await;
        assert_ne!(r.status, Status::Ok, "{r:?}");
    }
}
