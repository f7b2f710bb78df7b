//! A hostile server (raw TCP on 127.0.0.1:0, any bytes it likes): echoed secrets are
//! redacted, an endless line fails its stream at a bounded size, and answers that are not a
//! stream say what they are.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use loadtest_client::{
    Client, ClientConfig, ClientError, Endpoint, NoGapSink, Prompt, RequestRecord, StreamRequest,
};
use loadtest_run::Status;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const KEY: &str = "sk-live-0123456789abcdef";
const TOKEN: &str = "tok-9876543210zyxw";

/// Builds an SSE body from the Authorization and X-Auth-Token values the server received.
type EchoBody = fn(&str, &str) -> Vec<u8>;

type Handler = dyn Fn(&str, &str) -> Vec<Vec<u8>> + Send + Sync;

/// Serves every connection: reads one request head (and its body), hands its path and head
/// to `handler`, writes the pieces it returns (a short pause between pieces), then holds the
/// connection open for 10 s (a `Content-Length` or `Connection: close` says where the body
/// ends).
async fn serve(handler: impl Fn(&str, &str) -> Vec<Vec<u8>> + Send + Sync + 'static) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let handler: Arc<Handler> = Arc::new(handler);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let handler = Arc::clone(&handler);
            tokio::spawn(async move { answer(stream, &*handler).await });
        }
    });
    url
}

async fn answer(mut stream: TcpStream, handler: &Handler) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let length: usize = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().ok())?
        })
        .unwrap_or(0);
    while buf.len() < head_end + length {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    let path = head.split_whitespace().nth(1).unwrap_or("/").to_owned();
    for piece in handler(&path, &head) {
        if stream.write_all(&piece).await.is_err() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    tokio::time::sleep(Duration::from_secs(10)).await;
}

/// A whole response with a `Content-Length`.
fn response(status: &str, headers: &[(&str, &str)], body: &[u8]) -> Vec<Vec<u8>> {
    let mut head = format!(
        "HTTP/1.1 {status}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(body);
    vec![bytes]
}

fn config(url: &str) -> ClientConfig {
    let mut config = ClientConfig::new(url);
    config.api_key = Some(KEY.to_owned());
    config.headers = vec![
        ("X-Auth-Token".to_owned(), TOKEN.to_owned()),
        ("X-Trace".to_owned(), "trace-visible".to_owned()),
    ];
    config.request_timeout = Duration::from_secs(5);
    config
}

fn request() -> StreamRequest {
    StreamRequest::new(Endpoint::Chat, Arc::from("m"), Prompt::text("hi")).unwrap()
}

async fn stream(url: &str) -> RequestRecord {
    let client = Client::new(&config(url)).unwrap();
    client.stream(&request(), &mut NoGapSink).await
}

/// The header's value as the server received it.
fn header<'a>(head: &'a str, name: &str) -> &'a str {
    head.lines()
        .find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.eq_ignore_ascii_case(name).then_some(v.trim())
        })
        .unwrap_or("")
}

fn assert_clean(text: &str) {
    assert!(!text.contains(KEY), "the api key leaked: {text}");
    assert!(!text.contains(TOKEN), "the token leaked: {text}");
    // Not even the start of one, where the length limit cut it.
    assert!(
        !text.contains(&KEY[..8]),
        "part of the api key leaked: {text}"
    );
}

#[tokio::test]
async fn secrets_echoed_by_the_server_are_redacted_from_every_string() {
    // A 401 text/plain echoing the Authorization header; /version and /v1/models echoing it.
    let url = serve(|path, head| {
        let auth = header(head, "authorization").to_owned();
        match path {
            "/v1/models" => response(
                "403 Forbidden",
                &[("Content-Type", "application/json")],
                format!(r#"{{"error":{{"message":"key {auth} is not allowed"}}}}"#).as_bytes(),
            ),
            "/version" => response(
                "200 OK",
                &[],
                format!("{{\"version\":\"{auth}\"}}").as_bytes(),
            ),
            _ => response(
                "401 Unauthorized",
                &[("Content-Type", "text/plain")],
                format!("invalid key: {auth}").as_bytes(),
            ),
        }
    })
    .await;
    let r = stream(&url).await;
    assert_eq!(
        (r.status, r.http_status),
        (Status::HttpError, Some(401)),
        "{r:?}"
    );
    let error = r.error.unwrap();
    assert_clean(&error);
    assert!(error.contains("invalid key: Bearer <redacted>"), "{error}");

    let client = Client::new(&config(&url)).unwrap();
    let err = client.first_model().await.unwrap_err().to_string();
    assert_clean(&err);
    assert!(err.contains("<redacted>"), "{err}");
    let version = client.get("/version").await.unwrap();
    let body = String::from_utf8_lossy(&version.body).into_owned();
    assert_clean(&body);
    assert!(body.contains("Bearer <redacted>"), "{body}");
}

#[tokio::test]
async fn secrets_in_sse_error_events_and_cut_messages_are_redacted() {
    let cases: [(&str, EchoBody); 3] = [
        ("error event", |auth, token| {
            format!(
                "event: error\ndata: {{\"error\":{{\"message\":\"bad auth {auth} {token}\"}}}}\n\n"
            )
            .into_bytes()
        }),
        ("error chunk", |auth, _| {
            format!("data: {{\"error\":{{\"message\":\"echo {auth}\"}}}}\n\n").into_bytes()
        }),
        ("cut by the limit", |auth, _| {
            // The key starts at character ~226 of the message: the 240 limit cuts it.
            let pad = "x".repeat(200);
            format!("data: {{\"error\":{{\"message\":\"{pad} echo {auth}\"}}}}\n\n").into_bytes()
        }),
    ];
    for (name, body) in cases {
        let url = serve(move |_, head| {
            let body = body(header(head, "authorization"), header(head, "x-auth-token"));
            response("200 OK", &[("Content-Type", "text/event-stream")], &body)
        })
        .await;
        let r = stream(&url).await;
        assert_eq!(r.status, Status::StreamError, "{name}: {r:?}");
        let error = r.error.unwrap();
        assert_clean(&error);
        assert!(error.contains("<redacted>"), "{name}: {error}");
        assert!(
            error.chars().count() <= loadtest_client::MAX_ERROR_CHARS + 1,
            "{error}"
        );
    }
}

#[tokio::test]
async fn credentials_in_the_base_url_are_refused_without_echo() {
    let err = Client::new(&ClientConfig::new("http://admin:hunter2pw@127.0.0.1:1/v1")).unwrap_err();
    assert!(matches!(err, ClientError::InvalidBaseUrl { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains("credentials") && !text.contains("hunter2pw"),
        "{text}"
    );
    let err = Client::new(&ClientConfig::new("http://h:1/v1?token=qwerty123")).unwrap_err();
    assert!(!err.to_string().contains("qwerty123"), "{err}");
}

#[tokio::test]
async fn a_line_without_end_fails_its_stream_at_the_cap() {
    // 200 SSE, then 5 MiB of one line and no newline, then silence.
    let url = serve(|_, _| {
        let mut pieces =
            vec![b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\ndata: ".to_vec()];
        pieces.extend((0..80).map(|_| vec![b'a'; 64 * 1024]));
        pieces
    })
    .await;
    let t0 = Instant::now();
    let r = stream(&url).await;
    assert_eq!(r.status, Status::StreamError, "{r:?}");
    let error = r.error.unwrap();
    assert!(error.contains("4 MiB"), "{error}");
    // Failed when the cap was passed, not at the 5 s deadline.
    assert!(t0.elapsed() < Duration::from_secs(4), "{:?}", t0.elapsed());
    assert_eq!(
        loadtest_client::measure::MAX_STREAM_LINE_BYTES,
        4 * 1024 * 1024
    );
}

#[tokio::test]
async fn answers_that_are_not_a_stream_say_what_they_are() {
    let gzip_magic = [0x1f, 0x8b, 0x08, 0x00, 0x00];
    let cases: Vec<(Vec<Vec<u8>>, Status, &str)> = vec![
        (
            response(
                "200 OK",
                &[("Content-Type", "text/event-stream"), ("Content-Encoding", "gzip")],
                &gzip_magic,
            ),
            Status::StreamError,
            "compressed (Content-Encoding: gzip)",
        ),
        (
            response("200 OK", &[("Content-Type", "text/event-stream")], &gzip_magic),
            Status::StreamError,
            "gzip-compressed (magic bytes 1f 8b)",
        ),
        (
            response(
                "200 OK",
                &[("Content-Type", "application/json")],
                br#"{"id":"c","object":"chat.completion","choices":[{"message":{"content":"hi"}}]}"#,
            ),
            Status::StreamError,
            "whole JSON answer",
        ),
        (
            response(
                "200 OK",
                &[("Content-Type", "application/json")],
                br#"{"error":{"message":"the engine is overloaded","type":"server_error"}}"#,
            ),
            Status::StreamError,
            "JSON error body, not an SSE stream: the engine is overloaded",
        ),
        (
            response(
                "200 OK",
                &[("Content-Type", "application/json; charset=utf-8")],
                br#"{"object":"error","message":"model crashed","code":500}"#,
            ),
            Status::StreamError,
            "JSON error body, not an SSE stream: model crashed",
        ),
        (
            response(
                "301 Moved Permanently",
                &[("Location", "https://elsewhere.example/v1/chat/completions")],
                b"",
            ),
            Status::HttpError,
            "redirected to https://elsewhere.example/v1/chat/completions",
        ),
        (
            response(
                "307 Temporary Redirect",
                &[("Location", "http://u:pw1234@x.example/?token=abcd1234")],
                b"moved",
            ),
            Status::HttpError,
            "redirected to http://<redacted>@x.example/?token=<redacted>",
        ),
    ];
    for (reply, status, want) in cases {
        let url = serve(move |_, _| reply.clone()).await;
        let r = stream(&url).await;
        let error = r.error.clone().unwrap();
        assert_eq!(r.status, status, "{want}: {r:?}");
        assert!(error.contains(want), "want {want:?} in {error:?}");
        assert!(
            !error.contains("pw1234") && !error.contains("abcd1234"),
            "{error}"
        );
    }
}

#[tokio::test]
async fn a_stream_labelled_json_still_streams() {
    let body = concat!(
        "data: {\"choices\":[{\"delta\":{\"content\":\"a\"},\"finish_reason\":\"stop\"}]}\n\n",
        "data: [DONE]\n\n"
    );
    let url = serve(move |_, _| {
        response(
            "200 OK",
            &[("Content-Type", "application/json")],
            body.as_bytes(),
        )
    })
    .await;
    let r = stream(&url).await;
    assert_eq!(r.status, Status::Ok, "{r:?}");
    assert_eq!(r.token_events, 1);
}
