//! `vllm-loadtest metrics` end to end: the built binary on the real captures, on a diff, and
//! on a URL served by a loopback server started on port 0.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::float_cmp)]

use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::{Command, Output};
use std::thread;

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_vllm-loadtest");
const IDLE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/fixtures/vllm-0.32.0/metrics_idle.txt"
);
const AFTER: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/fixtures/vllm-0.32.0/metrics_after_load.txt"
);
const LLAMACPP: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/fixtures/llamacpp-0c1e57098/metrics_idle.txt"
);

fn run(args: &[&str]) -> Output {
    Command::new(BIN)
        .arg("metrics")
        .args(args)
        .output()
        .expect("binary runs")
}

fn json(args: &[&str]) -> Value {
    let out = run(args);
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("stdout is JSON")
}

fn check_after_load(v: &Value) {
    assert_eq!(v["server"], "vllm");
    assert_eq!(v["families"], 92);
    assert_eq!(v["samples"], 477);
    assert_eq!(v["errors"], Value::Array(vec![]));
    let c = &v["canonical"];
    assert_eq!(c["generation_tokens_total"], 2490.0);
    assert_eq!(c["prompt_tokens_total"], 6263.0);
    assert_eq!(c["request_success_total"], 56.0);
    assert_eq!(c["prefix_cache_hits_total"], 1920.0);
    assert_eq!(c["ttft_s"]["count"], 56.0);
    assert_eq!(c["ttft_s"]["sum"], 0.506_645_202_636_718_8);
    let p99 = c["ttft_s"]["p99"].as_f64().unwrap();
    assert!((p99 - 0.0488).abs() < 1e-12, "{p99}");
    for h in [
        "ttft_s",
        "itl_s",
        "e2e_s",
        "queue_s",
        "prefill_s",
        "decode_s",
    ] {
        let keys: Vec<&String> = c[h].as_object().unwrap().keys().collect();
        assert_eq!(keys.len(), 6, "{h}: {keys:?}");
    }
}

#[test]
fn file_json() {
    check_after_load(&json(&[AFTER, "--json"]));
}

#[test]
fn file_table() {
    let out = run(&[AFTER]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("server vllm   families 92   samples 477   errors 0"),
        "{text}"
    );
    let gen_line = text
        .lines()
        .find(|l| l.starts_with("generation_tokens_total"))
        .unwrap();
    assert!(gen_line.trim_end().ends_with("2490"), "{gen_line}");
    assert!(
        text.lines()
            .any(|l| l.starts_with("ttft_s") && l.contains("0.0488")),
        "{text}"
    );
}

#[test]
fn diff_json() {
    let v = json(&["--diff", IDLE, AFTER, "--json"]);
    assert_eq!(v["server"], "vllm");
    assert_eq!(v["families"], 92);
    let c = &v["canonical"];
    // Idle counters are all 0, so the deltas are the after-load values.
    assert_eq!(c["generation_tokens_total"], 2490.0 - 0.0);
    assert_eq!(c["prefix_cache_queries_total"], 6263.0);
    assert_eq!(c["requests_running"], 0.0);
    assert_eq!(c["e2e_s"]["count"], 56.0);
    // Reversed: the counters went down, which reads as a restart: delta = AFTER value (0).
    let back = json(&["--diff", AFTER, IDLE, "--json"]);
    assert_eq!(back["canonical"]["generation_tokens_total"], 0.0);
    assert_eq!(back["canonical"]["ttft_s"]["count"], 0.0);
    assert_eq!(back["canonical"]["ttft_s"]["p50"], Value::Null);
    let table = String::from_utf8(run(&["--diff", IDLE, AFTER]).stdout).unwrap();
    assert!(table.contains("AFTER − BEFORE"), "{table}");
}

#[test]
fn llamacpp_absent_metrics_are_absent() {
    let v = json(&[LLAMACPP, "--json"]);
    assert_eq!(v["server"], "llamacpp");
    assert_eq!(v["families"], 15);
    let c = v["canonical"].as_object().unwrap();
    assert!(!c.contains_key("kv_cache_usage"));
    assert!(!c.contains_key("ttft_s"));
    assert_eq!(c["generation_tokens_total"], 0.0);
}

#[test]
fn bad_lines_are_listed_and_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.txt");
    std::fs::write(
        &path,
        "vllm:num_requests_running 3\nbroken{a=b} 1\nvllm:num_requests_waiting 2\n",
    )
    .unwrap();
    let v = json(&[path.to_str().unwrap(), "--json"]);
    assert_eq!(v["samples"], 2);
    assert_eq!(v["errors"][0]["line"], 2);
    assert!(
        v["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("expected '\"'")
    );
    assert_eq!(v["canonical"]["requests_waiting"], 2.0);
}

#[test]
fn usage_errors() {
    let out = run(&["/nonexistent/scrape.txt"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/scrape.txt"));
    let out = run(&["https://example.invalid/metrics"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("https"));
    assert_eq!(run(&[]).status.code(), Some(2));
    assert_eq!(run(&[AFTER, "--diff", IDLE, AFTER]).status.code(), Some(2));
}

/// Serves `answers` (one per connection, in order) on 127.0.0.1:0; returns the port.
fn serve(answers: Vec<Vec<u8>>) -> (u16, thread::JoinHandle<Vec<String>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = thread::spawn(move || {
        let mut requests = Vec::new();
        for answer in answers {
            let (mut conn, _) = listener.accept().unwrap();
            let mut buf = Vec::new();
            let mut chunk = [0u8; 1024];
            while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                let n = conn.read(&mut chunk).unwrap();
                if n == 0 {
                    break;
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            requests.push(String::from_utf8_lossy(&buf).into_owned());
            conn.write_all(&answer).unwrap();
        }
        requests
    });
    (port, handle)
}

fn content_length_answer(body: &[u8]) -> Vec<u8> {
    let mut a = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: text/plain; version=1.0.0; charset=utf-8\r\ncontent-length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    a.extend_from_slice(body);
    a
}

fn chunked_answer(body: &[u8]) -> Vec<u8> {
    let mut a = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    for piece in body.chunks(4000) {
        a.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
        a.extend_from_slice(piece);
        a.extend_from_slice(b"\r\n");
    }
    a.extend_from_slice(b"0\r\n\r\n");
    a
}

#[test]
fn url_json() {
    let body = std::fs::read(AFTER).unwrap();
    let (port, server) = serve(vec![content_length_answer(&body)]);
    check_after_load(&json(&[
        &format!("http://127.0.0.1:{port}/metrics"),
        "--json",
    ]));
    let requests = server.join().unwrap();
    assert!(
        requests[0].starts_with("GET /metrics HTTP/1.1\r\n"),
        "{}",
        requests[0]
    );
    assert!(requests[0].contains(&format!("Host: 127.0.0.1:{port}\r\n")));
}

#[test]
fn url_chunked_diff_against_file() {
    let body = std::fs::read(AFTER).unwrap();
    let (port, server) = serve(vec![chunked_answer(&body)]);
    let v = json(&[
        "--diff",
        IDLE,
        &format!("http://127.0.0.1:{port}/metrics"),
        "--json",
    ]);
    assert_eq!(v["canonical"]["generation_tokens_total"], 2490.0);
    assert_eq!(v["samples"], 477);
    server.join().unwrap();
}

#[test]
fn url_http_error() {
    let (port, server) = serve(vec![
        b"HTTP/1.1 500 Internal Server Error\r\ncontent-length: 0\r\n\r\n".to_vec(),
    ]);
    let out = run(&[&format!("http://127.0.0.1:{port}/metrics")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("HTTP 500"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    server.join().unwrap();
}
