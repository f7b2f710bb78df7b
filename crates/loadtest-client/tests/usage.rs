//! A server's `usage` is hostile input: an absurd token count (negative, fractional, huge, not
//! a number) never fails the stream and never reaches a throughput.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{FINISH, ROLE, Reply, TOKEN, serve};
use loadtest_client::decode::{ChunkKind, MAX_USAGE_TOKENS, Usage, decode_chunk};
use loadtest_client::{
    Client, ClientConfig, Endpoint, NoGapSink, Prompt, RequestRecord, StreamRequest,
};
use loadtest_run::Status;

async fn run_sse(body: String) -> RequestRecord {
    let reply = Reply::sse_pieces([body.into_bytes()]);
    let server = serve(move |_| reply.clone()).await;
    let mut config = ClientConfig::new(server.url());
    config.request_timeout = Duration::from_secs(10);
    let client = Client::new(&config).unwrap();
    let request = StreamRequest::new(Endpoint::Chat, Arc::from("m"), Prompt::text("hi")).unwrap();
    client.stream(&request, &mut NoGapSink).await
}

/// A stream of 4 token events ending with `usage`.
fn body(usage: &str) -> String {
    let usage = format!(r#"data: {{"choices":[],"usage":{usage}}}"#);
    [ROLE, TOKEN, TOKEN, TOKEN, FINISH, &usage, "data: [DONE]"]
        .iter()
        .map(|e| format!("{e}\n\n"))
        .collect()
}

#[tokio::test]
async fn an_absurd_completion_count_keeps_the_timings_and_counts_the_events() {
    for bad in [
        "-5",
        "16.5",
        "1e3",
        "9223372036854775807",
        "18446744073709551615",
        "100000000000000000000000",
        "10000001",
        "\"16\"",
        "true",
        "[16]",
        "{\"n\":16}",
    ] {
        let usage = format!(r#"{{"prompt_tokens":3,"completion_tokens":{bad}}}"#);
        let r = run_sse(body(&usage)).await;
        assert_eq!(r.status, Status::Ok, "{bad}: {r:?}");
        assert!(r.ttft.is_some() && r.e2e.is_some(), "{bad}: timings lost");
        assert_eq!(r.token_events, 4, "{bad}");
        assert!(r.usage.invalid, "{bad}: not flagged");
        assert_eq!(r.usage.completion_tokens, Some(4), "{bad}: no fallback");
        assert_eq!(r.usage.prompt_tokens, Some(3), "{bad}");
        // The throughput comes from the counted events: 3 decode gaps over e2e − ttft.
        let tpot = r.tpot().unwrap().as_secs_f64();
        let decode = (r.e2e.unwrap() - r.ttft.unwrap()).as_secs_f64();
        assert!((tpot - decode / 3.0).abs() < 1e-9, "{bad}: tpot {tpot}");
    }
}

#[tokio::test]
async fn a_believable_usage_is_kept_as_is() {
    for (usage, want) in [
        (r#"{"prompt_tokens":3,"completion_tokens":7}"#, Some(7)),
        (
            r#"{"prompt_tokens":3,"completion_tokens":10000000}"#,
            Some(10_000_000),
        ),
        (r#"{"prompt_tokens":3,"completion_tokens":0}"#, Some(0)),
        // Left out or null: never guessed.
        (r#"{"prompt_tokens":3}"#, None),
        (r#"{"prompt_tokens":3,"completion_tokens":null}"#, None),
    ] {
        let r = run_sse(body(usage)).await;
        assert_eq!(r.status, Status::Ok, "{usage}");
        assert!(!r.usage.invalid, "{usage}");
        assert_eq!(r.usage.completion_tokens, want, "{usage}");
    }
}

#[tokio::test]
async fn a_usage_of_the_wrong_shape_is_flagged_not_fatal() {
    for usage in ["5", "\"x\"", "[1,2]", "true"] {
        let r = run_sse(body(usage)).await;
        assert_eq!(r.status, Status::Ok, "{usage}: {r:?}");
        assert!(r.usage.invalid, "{usage}");
        assert_eq!(r.usage.completion_tokens, Some(4), "{usage}");
        assert_eq!(r.usage.prompt_tokens, None, "{usage}");
    }
    // Bad prompt or cached counts are dropped and flagged; a good completion count stays.
    let r = run_sse(body(
        r#"{"prompt_tokens":-1,"completion_tokens":2,"prompt_tokens_details":{"cached_tokens":0.5}}"#,
    ))
    .await;
    assert!(r.usage.invalid);
    assert_eq!(r.usage.completion_tokens, Some(2));
    assert_eq!((r.usage.prompt_tokens, r.usage.cached_tokens), (None, None));
}

#[tokio::test]
async fn a_later_good_usage_does_not_hide_an_earlier_absurd_one() {
    let with_usage = |delta: &str, n: &str| {
        format!(
            r#"data: {{"choices":[{{"index":0,"delta":{delta}}}],"usage":{{"prompt_tokens":3,"completion_tokens":{n}}}}}"#
        )
    };
    let body: String = [
        with_usage(r#"{"content":"a"}"#, "-9223372036854775808"),
        with_usage(r#"{"content":"b"},"finish_reason":"stop""#, "2"),
        "data: [DONE]".to_owned(),
    ]
    .iter()
    .map(|e| format!("{e}\n\n"))
    .collect();
    let r = run_sse(body).await;
    assert_eq!(r.status, Status::Ok, "{r:?}");
    assert!(r.usage.invalid);
    assert_eq!(r.usage.completion_tokens, Some(2));
}

fn decoded_usage(json: &str) -> Usage {
    let data = format!(r#"{{"choices":[],"usage":{json}}}"#);
    match decode_chunk(&data).unwrap() {
        ChunkKind::Chunk(c) => c.usage.unwrap_or_default(),
        other => panic!("{other:?}"),
    }
}

/// The decoder alone: which counts are believed.
#[test]
fn counts_are_integers_up_to_the_bound() {
    let u = decoded_usage(
        r#"{"prompt_tokens":27,"completion_tokens":10000000,"prompt_tokens_details":{"cached_tokens":16}}"#,
    );
    assert_eq!(
        u,
        Usage {
            prompt_tokens: Some(27),
            completion_tokens: Some(MAX_USAGE_TOKENS),
            cached_tokens: Some(16),
            invalid: false,
        }
    );
    for bad in [
        "-1",
        "0.5",
        "2.0",
        "1e2",
        "10000001",
        "18446744073709551616",
        "\"1\"",
        "{}",
    ] {
        let u = decoded_usage(&format!(
            r#"{{"prompt_tokens":1,"completion_tokens":{bad}}}"#
        ));
        assert_eq!(u.completion_tokens, None, "{bad}");
        assert_eq!(u.prompt_tokens, Some(1), "{bad}");
        assert!(u.invalid, "{bad}");
    }
    let u = decoded_usage(r#"{"completion_tokens":null,"prompt_tokens_details":null}"#);
    assert_eq!(u, Usage::default());
    assert_eq!(decoded_usage("null"), Usage::default());
    assert_eq!(decoded_usage("7").completion_tokens, None);
    assert!(decoded_usage("7").invalid);
    assert!(decoded_usage(r#"{"prompt_tokens_details":[1]}"#).invalid);
}
