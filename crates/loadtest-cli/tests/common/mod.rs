//! Shared by the CLI's integration tests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// The built binary.
pub const BIN: &str = env!("CARGO_BIN_EXE_vllm-loadtest");

/// One short step, no GPU: a sweep with these flags takes about a second.
pub const TINY_RUN: [&str; 11] = [
    "--no-gpu",
    "--steps",
    "1",
    "--step-duration-s",
    "0.5",
    "--warmup-s",
    "0",
    "--max-output-tokens",
    "4",
    "--timeout-s",
    "5",
];

/// Starts `vllm-loadtest sim --port 0 --profile fixed --ttft-ms 5 --itl-ms 1 EXTRA…` and
/// returns it with the URL from its `listening on` line. The caller kills it.
pub fn start_sim(extra: &[&str]) -> (Child, String) {
    start_sim_with("5", "1", extra)
}

/// [`start_sim`] with this TTFT and gap between token events, in ms.
pub fn start_sim_with(ttft_ms: &str, itl_ms: &str, extra: &[&str]) -> (Child, String) {
    let mut child = Command::new(BIN)
        .args(["sim", "--port", "0", "--profile", "fixed"])
        .args(["--ttft-ms", ttft_ms, "--itl-ms", itl_ms])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_owned();
    (child, url)
}

/// One request a [`canned_server`] received: its head (request line and headers) and body.
#[derive(Debug, Clone)]
pub struct Seen {
    /// Request line and headers, as sent.
    pub head: String,
    /// The body.
    pub body: Vec<u8>,
}

/// What a [`canned_server`] answers: status line, content type, body.
pub type Answer = (&'static str, &'static str, String);

/// A loopback HTTP/1.1 server (port 0) answering each request with `respond(head, body)` and
/// closing the connection; every request is kept in the returned list. Runs until the test
/// process ends.
pub fn canned_server(
    respond: impl Fn(&str, &[u8]) -> Answer + Send + Sync + 'static,
) -> (String, std::sync::Arc<std::sync::Mutex<Vec<Seen>>>) {
    let respond = std::sync::Arc::new(respond);
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = std::sync::Arc::clone(&seen);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let log = std::sync::Arc::clone(&log);
            let respond = std::sync::Arc::clone(&respond);
            std::thread::spawn(move || -> std::io::Result<()> {
                stream.set_read_timeout(Some(std::time::Duration::from_secs(5)))?;
                let mut reader = BufReader::new(stream.try_clone()?);
                let mut head = String::new();
                let mut length = 0usize;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line)? == 0 {
                        return Ok(());
                    }
                    if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        length = v.trim().parse().unwrap_or(0);
                    }
                    head.push_str(&line);
                    if line == "\r\n" {
                        break;
                    }
                }
                let mut body = vec![0; length];
                reader.read_exact(&mut body)?;
                let (status, content_type, answer) = respond(&head, &body);
                log.lock().unwrap().push(Seen { head, body });
                write!(
                    stream,
                    "HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{answer}",
                    answer.len()
                )?;
                stream.flush()
            });
        }
    });
    (url, seen)
}

/// `/v1/models` lists `m`, like a real server.
pub fn models_answer() -> Answer {
    (
        "200 OK",
        "application/json",
        r#"{"object":"list","data":[{"id":"m","object":"model"}]}"#.to_owned(),
    )
}

/// A complete streamed chat answer: one token, usage, `[DONE]`.
pub fn one_token_stream() -> Answer {
    (
        "200 OK",
        "text/event-stream",
        concat!(
            "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hi\"},\"finish_reason\":\"length\"}]}\n\n",
            "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":1,\"total_tokens\":4}}\n\n",
            "data: [DONE]\n\n"
        )
        .to_owned(),
    )
}

/// Waits for `child` to exit, killing it (and failing the test) after `limit`.
pub fn wait_exit(
    child: &mut std::process::Child,
    limit: std::time::Duration,
) -> std::process::ExitStatus {
    let deadline = std::time::Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("still running {limit:?} after the signal");
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

/// A [`TINY_RUN`] sweep against `url` into `run_dir`, with `extra` flags: it must succeed, and
/// every request it recorded (at least one) must be `ok`. `what` names the case in messages.
pub fn tiny_run_all_ok(url: &str, run_dir: &std::path::Path, extra: &[&str], what: &str) {
    let o = Command::new(BIN)
        .args(["--base-url", url, "--prompt-text", "hi"])
        .args(TINY_RUN)
        .args(["--run-dir", run_dir.to_str().unwrap()])
        .args(extra)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "{what}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let rows = rows(run_dir);
    assert!(!rows.is_empty(), "{what}: no request recorded");
    assert!(rows.iter().all(|r| r["status"] == "ok"), "{what}: {rows:?}");
}

/// The rows of a run folder's requests.jsonl, in file order.
pub fn rows(run_dir: &std::path::Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(run_dir.join("requests.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// A JSON file of a run folder (`config.json`, `step_summary.json`, …).
pub fn json(run_dir: &std::path::Path, name: &str) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(run_dir.join(name)).unwrap()).unwrap()
}

/// Runs the binary with `base` then `args`, which must be refused: exit code 2 and `needle` in
/// stderr. Returns stderr for further checks.
pub fn refusal(base: &[&str], args: &[&str], needle: &str) -> String {
    let o = Command::new(BIN).args(base).args(args).output().unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(o.status.code(), Some(2), "{args:?}: {stderr}");
    assert!(
        stderr.contains(needle),
        "{args:?}: want {needle:?} in {stderr}"
    );
    stderr
}
