//! The client's own HTTP/1.1 ([`HttpTransport::Native`], the default for `http://`) against a
//! raw TCP server that writes exactly the bytes each test gives: framings, keep-alive, a
//! connection the server closed while it was idle, hostile heads and bodies, every split of a
//! response across reads — and the same answers through hyper ([`HttpTransport::Hyper`]) give
//! the same records.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use loadtest_client::{
    Client, ClientConfig, Endpoint, HttpTransport, NoGapSink, Prompt, RequestRecord, StreamRequest,
};
use loadtest_run::Status;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

mod common;
use common::{FINISH, ROLE, TOKEN};

/// What the server does for one request.
#[derive(Debug, Clone)]
enum Act {
    Write(Vec<u8>),
    Sleep(Duration),
    /// Close the connection (after the writes so far).
    Close,
}

/// A raw server: `answer(connection number, request number on it)` gives the acts. Returns
/// the base URL and the count of accepted connections.
async fn raw_server(
    answer: impl Fn(usize, usize) -> Vec<Act> + Send + Sync + 'static,
) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let accepted = Arc::new(AtomicUsize::new(0));
    let answer = Arc::new(answer);
    let count = accepted.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let n = count.fetch_add(1, Ordering::SeqCst);
            let answer = answer.clone();
            tokio::spawn(async move { serve_conn(stream, n, &*answer).await });
        }
    });
    (url, accepted)
}

async fn serve_conn(
    mut stream: TcpStream,
    conn: usize,
    answer: &(dyn Fn(usize, usize) -> Vec<Act> + Send + Sync),
) {
    stream.set_nodelay(true).unwrap();
    let mut buf = Vec::new();
    for request in 0.. {
        // Read one request: the head, then its Content-Length body.
        let head_end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            let mut chunk = [0u8; 4096];
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
        let len: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length: "))
            .map_or(0, |v| v.trim().parse().unwrap());
        while buf.len() < head_end + len {
            let mut chunk = [0u8; 4096];
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        buf.drain(..head_end + len);
        for act in answer(conn, request) {
            match act {
                Act::Write(bytes) => {
                    if stream.write_all(&bytes).await.is_err() {
                        return;
                    }
                }
                Act::Sleep(d) => tokio::time::sleep(d).await,
                Act::Close => return,
            }
        }
    }
}

const USAGE: &str =
    r#"data: {"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":3,"total_tokens":6}}"#;

/// A whole SSE body: role, two tokens, finish, usage, `[DONE]`.
fn sse() -> Vec<u8> {
    [ROLE, TOKEN, TOKEN, FINISH, USAGE, "data: [DONE]"]
        .iter()
        .map(|e| format!("{e}\n\n"))
        .collect::<String>()
        .into_bytes()
}

fn chunked(body: &[u8], size: usize) -> Vec<u8> {
    let mut out =
        b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
            .to_vec();
    for piece in body.chunks(size) {
        out.extend_from_slice(format!("{:x};ext=1\r\n", piece.len()).as_bytes());
        out.extend_from_slice(piece);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\nx-trailer: 1\r\n\r\n");
    out
}

fn with_length(body: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncontent-length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(body);
    out
}

/// A response with a fixed body.
fn fixed(status: &str, header: &str, body: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 {status}\r\n{header}\r\ncontent-length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(body);
    out
}

fn client(url: &str, transport: HttpTransport) -> Client {
    let mut config = ClientConfig::new(url);
    config.request_timeout = Duration::from_secs(5);
    config.connect_timeout = Duration::from_secs(2);
    config.transport = transport;
    Client::new(&config).unwrap()
}

fn request() -> StreamRequest {
    StreamRequest::new(Endpoint::Chat, Arc::from("m"), Prompt::text("hi")).unwrap()
}

async fn once(url: &str, transport: HttpTransport) -> RequestRecord {
    client(url, transport)
        .stream(&request(), &mut NoGapSink)
        .await
}

fn assert_complete(r: &RequestRecord) {
    assert_eq!(r.status, Status::Ok, "{r:?}");
    assert_eq!((r.token_events, r.sse_events), (3, 6), "{r:?}");
    assert_eq!(r.usage.completion_tokens, Some(3));
}

#[tokio::test]
async fn chunked_length_and_close_delimited_bodies_stream() {
    for (name, wire) in [
        ("chunked", chunked(&sse(), 50)),
        ("length", with_length(&sse())),
        ("close", {
            let mut w = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\r\n".to_vec();
            w.extend_from_slice(&sse());
            w
        }),
        ("100 continue first", {
            let mut w = b"HTTP/1.1 100 Continue\r\n\r\n".to_vec();
            w.extend_from_slice(&chunked(&sse(), 7));
            w
        }),
    ] {
        let (url, _) = raw_server(move |_, _| vec![Act::Write(wire.clone()), Act::Close]).await;
        let r = once(&url, HttpTransport::Native).await;
        assert_complete(&r);
        assert_eq!(r.http_status, Some(200), "{name}");
    }
}

#[tokio::test]
async fn keep_alive_reuses_one_connection_and_connection_close_is_honoured() {
    let (url, accepted) = raw_server(|_, _| vec![Act::Write(chunked(&sse(), 64))]).await;
    let c = client(&url, HttpTransport::Native);
    for _ in 0..5 {
        assert_complete(&c.stream(&request(), &mut NoGapSink).await);
    }
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        1,
        "one keep-alive connection"
    );

    let (url, accepted) = raw_server(|_, _| {
        let mut wire = with_length(&sse());
        let at = wire.windows(2).position(|w| w == b"\r\n").unwrap() + 2;
        wire.splice(at..at, b"connection: close\r\n".iter().copied());
        vec![Act::Write(wire), Act::Close]
    })
    .await;
    let c = client(&url, HttpTransport::Native);
    for _ in 0..3 {
        assert_complete(&c.stream(&request(), &mut NoGapSink).await);
    }
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        3,
        "Connection: close is not reused"
    );
}

#[tokio::test]
async fn a_connection_the_server_closed_while_idle_is_not_a_failure() {
    // The server answers, then closes its side as soon as it is idle: the pool sees the close.
    let (url, accepted) = raw_server(|_, _| {
        vec![
            Act::Write(chunked(&sse(), 64)),
            Act::Sleep(Duration::from_millis(10)),
            Act::Close,
        ]
    })
    .await;
    let c = client(&url, HttpTransport::Native);
    for _ in 0..3 {
        assert_complete(&c.stream(&request(), &mut NoGapSink).await);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(accepted.load(Ordering::SeqCst), 3);

    // The race: the server reads the next request on the idle connection and closes without
    // answering. The request is sent once more on a new connection.
    let (url, accepted) = raw_server(|conn, request| match (conn, request) {
        (_, 0) => vec![Act::Write(chunked(&sse(), 64))],
        _ => vec![Act::Close],
    })
    .await;
    let c = client(&url, HttpTransport::Native);
    assert_complete(&c.stream(&request(), &mut NoGapSink).await);
    assert_complete(&c.stream(&request(), &mut NoGapSink).await);
    assert_eq!(accepted.load(Ordering::SeqCst), 2);

    // A fresh connection that closes before answering is a failure, not retried forever.
    let (url, accepted) = raw_server(|_, _| vec![Act::Close]).await;
    let r = once(&url, HttpTransport::Native).await;
    assert_eq!(r.status, Status::StreamError, "{r:?}");
    assert!(
        r.error
            .as_deref()
            .unwrap()
            .contains("closed before any response"),
        "{r:?}"
    );
    assert_eq!(accepted.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn hostile_heads_and_bodies_fail_their_request_with_a_reason() {
    let big_head = format!(
        "HTTP/1.1 200 OK\r\n{}\r\n",
        (0..40)
            .map(|i| format!("x-h{i}: {}\r\n", "v".repeat(500)))
            .collect::<String>()
    );
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("head too large", big_head.into_bytes(), "larger than 16 KiB"),
        ("not http", b"SSH-2.0-OpenSSH_9.6\r\n\r\n".to_vec(), "invalid HTTP response head"),
        (
            "bad chunk size",
            b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n".to_vec(),
            "invalid HTTP body framing",
        ),
        (
            "chunk without CRLF",
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabcdef".to_vec(),
            "invalid HTTP body framing",
        ),
        (
            "two lengths",
            b"HTTP/1.1 200 OK\r\ncontent-length: 3\r\ncontent-length: 4\r\n\r\nabc".to_vec(),
            "Content-Length",
        ),
        (
            "cut mid-body",
            {
                let mut w = chunked(&sse(), 40);
                w.truncate(w.len() / 2);
                w
            },
            "mid-stream",
        ),
        ("cut mid-head", b"HTTP/1.1 200 OK\r\ncontent-ty".to_vec(), "middle of the response head"),
    ];
    for (name, wire, want) in cases {
        let (url, _) = raw_server(move |_, _| vec![Act::Write(wire.clone()), Act::Close]).await;
        let r = once(&url, HttpTransport::Native).await;
        assert_eq!(r.status, Status::StreamError, "{name}: {r:?}");
        let error = r.error.unwrap_or_default();
        assert!(error.contains(want), "{name}: want {want:?} in {error:?}");
    }
}

#[tokio::test]
async fn every_split_of_a_response_gives_the_same_record() {
    // The whole response written in two writes at every offset, with a pause between them so
    // that they arrive as two reads: the head split anywhere, a chunk header split anywhere.
    let wire = chunked(&sse(), 97);
    let len = wire.len();
    let (url, accepted) = raw_server(move |_, request| {
        let at = request % (len + 1);
        vec![
            Act::Write(wire[..at].to_vec()),
            Act::Sleep(Duration::from_millis(2)),
            Act::Write(wire[at..].to_vec()),
        ]
    })
    .await;
    let c = client(&url, HttpTransport::Native);
    for at in 0..=len {
        let r = c.stream(&request(), &mut NoGapSink).await;
        assert_eq!(r.status, Status::Ok, "split at {at}: {r:?}");
        assert_eq!((r.token_events, r.sse_events), (3, 6), "split at {at}");
    }
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        1,
        "every request reused the connection"
    );
}

#[tokio::test]
async fn both_transports_give_the_same_records() {
    let replies: Vec<(&str, Vec<Act>)> = vec![
        ("complete", vec![Act::Write(chunked(&sse(), 33))]),
        ("slow tokens", {
            let w = chunked(&sse(), 33);
            vec![
                Act::Write(w[..250].to_vec()),
                Act::Sleep(Duration::from_millis(30)),
                Act::Write(w[250..].to_vec()),
            ]
        }),
        (
            "http 503",
            vec![Act::Write(fixed(
                "503 Service Unavailable",
                "content-type: application/json",
                br#"{"error":{"message":"the engine is busy"}}"#,
            ))],
        ),
        (
            "json 200",
            vec![Act::Write(fixed(
                "200 OK",
                "content-type: application/json",
                br#"{"object":"chat.completion"}"#,
            ))],
        ),
        (
            "gzip",
            vec![Act::Write(fixed(
                "200 OK",
                "content-encoding: gzip",
                b"\x1f\x8b",
            ))],
        ),
        (
            "reset mid-stream",
            vec![Act::Write(chunked(&sse(), 40)[..300].to_vec()), Act::Close],
        ),
    ];
    for (name, acts) in replies {
        let acts = Arc::new(acts);
        let a = acts.clone();
        let (url, _) = raw_server(move |_, _| a.to_vec()).await;
        let native = once(&url, HttpTransport::Native).await;
        let hyper = once(&url, HttpTransport::Hyper).await;
        let key = |r: &RequestRecord| {
            (
                r.status,
                r.http_status,
                r.token_events,
                r.sse_events,
                r.usage.completion_tokens,
                r.ttft.is_some(),
            )
        };
        assert_eq!(key(&native), key(&hyper), "{name}: {native:?} vs {hyper:?}");
        if native.status == Status::HttpError || name == "json 200" || name == "gzip" {
            assert_eq!(native.error, hyper.error, "{name}");
        }
    }
}

#[tokio::test]
async fn get_reads_whole_bodies_and_reuses_the_connection() {
    let models = br#"{"object":"list","data":[{"id":"tiny","object":"model"}]}"#.to_vec();
    let (url, accepted) = raw_server(move |_, _| {
        let mut w = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n{:x}\r\n",
            models.len()
        )
        .into_bytes();
        w.extend_from_slice(&models);
        w.extend_from_slice(b"\r\n0\r\n\r\n");
        vec![Act::Write(w)]
    })
    .await;
    let c = client(&url, HttpTransport::Native);
    assert_eq!(c.first_model().await.unwrap(), "tiny");
    let r = c.get("/metrics").await.unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.content_type.as_deref(), Some("application/json"));
    assert_eq!(accepted.load(Ordering::SeqCst), 1);
}

/// The bytes real vLLM 0.32 (uvicorn) sent for one streaming chat request, head and chunked
/// body as captured from the socket, replayed split at every offset: always the same record.
#[tokio::test]
async fn a_real_vllm_response_reads_the_same_at_every_split() {
    let wire = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../testdata/vllm-0.32.0/raw_chat_stream.http"
    ))
    .unwrap();
    assert!(wire.starts_with(b"HTTP/1.1 200 OK\r\n") && wire.ends_with(b"0\r\n\r\n"));
    let len = wire.len();
    let (url, accepted) = raw_server(move |_, nth| {
        // Every 7th offset keeps the test short; the framing unit tests take every one.
        let at = (nth * 7) % (len + 1);
        vec![
            Act::Write(wire[..at].to_vec()),
            Act::Sleep(Duration::from_millis(1)),
            Act::Write(wire[at..].to_vec()),
        ]
    })
    .await;
    let c = client(&url, HttpTransport::Native);
    for nth in 0..=len / 7 {
        let r = c.stream(&request(), &mut NoGapSink).await;
        assert_eq!(r.status, Status::Ok, "split at {}: {r:?}", nth * 7);
        assert_eq!(r.token_events, 12, "split at {}", nth * 7);
        assert_eq!(
            (r.usage.prompt_tokens, r.usage.completion_tokens),
            (Some(27), Some(12))
        );
        assert_eq!(r.finish_reason.as_deref(), Some("length"));
    }
    assert_eq!(accepted.load(Ordering::SeqCst), 1);
}
