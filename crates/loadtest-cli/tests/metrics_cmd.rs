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
    "/../../testdata/vllm-0.32.0/metrics_idle.txt"
);
const AFTER: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../testdata/vllm-0.32.0/metrics_after_load.txt"
);
const LLAMACPP: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../testdata/llamacpp-0c1e57098/metrics_idle.txt"
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
    // A percentile is the bucket holding it: p99 of TTFT is in the narrow (0.04, 0.06]
    // (hi/lo = 1.5), so it keeps PromQL's estimate 0.04 + 0.02 × 0.44.
    let p99 = &c["ttft_s"]["p99"];
    assert_eq!(p99["lo"], 0.04);
    assert_eq!(p99["hi"], 0.06);
    let est = p99["est"].as_f64().unwrap();
    assert!((est - 0.0488).abs() < 1e-12, "{est}");
    // Queue time: all 56 in (0, 0.3] with a mean of 18 µs. PromQL's 0.15 / 0.27 / 0.297 were
    // invented; each percentile is the bucket, with no estimate.
    let queue = &c["queue_s"];
    assert!(queue["mean"].as_f64().unwrap() < 2e-5, "{queue}");
    for p in ["p50", "p90", "p99"] {
        assert_eq!(
            queue[p],
            serde_json::json!({"lo": 0.0, "hi": 0.3, "est": null}),
            "{p}"
        );
    }
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
    let row = |name: &str| text.lines().find(|l| l.starts_with(name)).unwrap();
    // TTFT p99 in a narrow bucket: the estimate to two digits, with its bucket.
    assert!(row("ttft_s").contains("≈49 ms (40–60 ms)"), "{text}");
    // p50 in (0.005, 0.01]: too wide for an estimate (hi/lo = 2).
    assert!(row("ttft_s").contains(" 5–10 ms "), "{text}");
    // Queue time: every percentile is "at most 300 ms", never PromQL's 0.1500.
    let queue = row("queue_s");
    assert_eq!(queue.matches("≤ 300 ms").count(), 3, "{queue}");
    // … while the exact mean reads 17.7 µs.
    assert!(queue.contains(" 17.7 µs "), "{queue}");
    assert!(!text.contains("0.1500"), "{text}");
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
    assert_eq!(run(&[AFTER, "--diff", IDLE, AFTER]).status.code(), Some(2));
}

#[test]
fn no_argument_reads_naturally() {
    let out = run(&[]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: the following required arguments were not provided: <FILE|URL> (see --help)\n"
    );
}

#[test]
fn https_urls_are_fetched() {
    // Nothing listens on port 1: the URL passes the argument check and fails to connect.
    let out = run(&["https://127.0.0.1:1/metrics"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("error: cannot connect to https://127.0.0.1:1/metrics"),
        "{stderr}"
    );
    assert!(!stderr.contains("not supported"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    // So do both schemes in --diff.
    let out = run(&["--diff", "HTTPS://127.0.0.1:1/m", "http://127.0.0.1:1/m"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("cannot connect to https://127.0.0.1:1/m"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn url_credentials_are_refused_unechoed() {
    let out = run(&["http://admin:hunter2@127.0.0.1:1/metrics"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("hunter2"), "{stderr}");
    assert!(
        stderr.contains("<redacted>@127.0.0.1:1/metrics"),
        "{stderr}"
    );
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
    // Header names are case-insensitive (the client writes them in lower case).
    assert!(
        requests[0]
            .to_ascii_lowercase()
            .contains(&format!("\r\nhost: 127.0.0.1:{port}\r\n")),
        "{}",
        requests[0]
    );
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

fn answer(content_type: &str, body: &[u8]) -> Vec<u8> {
    let mut a = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    a.extend_from_slice(body);
    a
}

const MODELS_JSON: &[u8] =
    br#"{"object":"list","data":[{"id":"tiny-llama","object":"model","owned_by":"vllm"}]}"#;

#[test]
fn non_prometheus_url_is_refused() {
    let (port, server) = serve(vec![answer("application/json", MODELS_JSON)]);
    let url = format!("http://127.0.0.1:{port}/v1/models");
    let out = run(&[&url, "--json"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with(&format!("error: {url} holds no Prometheus samples (")),
        "{stderr}"
    );
    assert!(
        stderr.contains("Content-Type: application/json"),
        "{stderr}"
    );
    assert!(
        stderr.contains(r#"the body starts: {"object":"list","data":[{"id":"#),
        "{stderr}"
    );
    server.join().unwrap();
}

#[test]
fn hostile_non_prometheus_body_is_quoted_sanitised() {
    let mut body = b"\x1b]0;pwned\x07\x1b[2J<html>\r\n<body>\xe2\x80\xae".to_vec();
    body.extend_from_slice(&[b'x'; 10_000]);
    // (A control byte in a header is refused by the client itself; a long one is cut.)
    let content_type = format!("text/html; x={}", "y".repeat(500));
    let (port, server) = serve(vec![answer(&content_type, &body)]);
    let out = run(&[&format!("http://127.0.0.1:{port}/")]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        !stderr.contains('\x1b') && !stderr.contains('\u{202e}'),
        "{stderr:?}"
    );
    assert!(stderr.contains("holds no Prometheus samples"), "{stderr}");
    assert!(stderr.contains("<html> <body>\\u{202e}xxx"), "{stderr}");
    assert!(
        stderr.contains("Content-Type: text/html; x=yyy"),
        "{stderr}"
    );
    assert!(stderr.contains("yyy…; the body starts: "), "{stderr}");
    assert!(stderr.len() < 400, "{stderr}");
    server.join().unwrap();
}

#[test]
fn non_prometheus_files_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let json_path = dir.path().join("models.json");
    std::fs::write(&json_path, MODELS_JSON).unwrap();
    let html_path = dir.path().join("page.html");
    std::fs::write(
        &html_path,
        "<!DOCTYPE html>\n<html><head><title>vLLM</title></head></html>\n",
    )
    .unwrap();
    for path in [&json_path, &html_path] {
        let path = path.to_str().unwrap();
        let out = run(&[path]);
        assert_eq!(out.status.code(), Some(2), "{path}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.starts_with(&format!(
                "error: scrape file {path} holds no Prometheus samples (the body starts: "
            )),
            "{stderr}"
        );
    }
    let stderr = String::from_utf8_lossy(&run(&[html_path.to_str().unwrap()]).stderr).into_owned();
    assert!(stderr.contains("<!DOCTYPE html> <html><head>"), "{stderr}");
    // Either side of --diff.
    for args in [
        ["--diff", json_path.to_str().unwrap(), AFTER],
        ["--diff", IDLE, html_path.to_str().unwrap()],
    ] {
        let out = run(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(out.stdout.is_empty());
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("holds no Prometheus samples"),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn empty_valid_exposition_warns_and_succeeds() {
    let dir = tempfile::tempdir().unwrap();
    let comments = dir.path().join("comments.txt");
    std::fs::write(
        &comments,
        "# HELP vllm:num_requests_running Running.\n# TYPE vllm:num_requests_running gauge\n\n# a comment\n",
    )
    .unwrap();
    let empty = dir.path().join("empty.txt");
    std::fs::write(&empty, "").unwrap();
    for path in [&comments, &empty] {
        let out = run(&[path.to_str().unwrap(), "--json"]);
        assert_eq!(out.status.code(), Some(0));
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["samples"], 0);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.starts_with(&format!(
                "warning: scrape file {} holds no samples",
                path.display()
            )),
            "{stderr}"
        );
    }
    // An empty body over HTTP is the same.
    let (port, server) = serve(vec![answer("text/plain; version=0.0.4", b"")]);
    let out = run(&[&format!("http://127.0.0.1:{port}/metrics")]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("warning: "));
    server.join().unwrap();
}

#[test]
fn help_says_what_an_empty_scrape_does() {
    let out = run(&["--help"]);
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(help.contains("https://"), "{help}");
    assert!(help.contains("valid but empty exposition"), "{help}");
}

/// docs/output-format.md documents the quantile bucket (`<!-- schema: quantile_bucket -->`):
/// its keys are exactly those `metrics --json` writes for every percentile.
#[test]
fn quantile_bucket_keys_are_documented() {
    let doc = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/output-format.md"
    ))
    .unwrap();
    let marker = "<!-- schema: quantile_bucket -->";
    let start = doc.find(marker).unwrap() + marker.len();
    let documented: Vec<String> = doc[start..]
        .lines()
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .skip(2)
        .map(|l| {
            l.split('|')
                .nth(1)
                .unwrap()
                .trim()
                .trim_matches('`')
                .to_owned()
        })
        .collect();
    assert_eq!(documented, ["lo", "hi", "est"]);
    let v = json(&[AFTER, "--json"]);
    for h in [
        "ttft_s",
        "itl_s",
        "e2e_s",
        "queue_s",
        "prefill_s",
        "decode_s",
    ] {
        for p in ["p50", "p90", "p99"] {
            let keys: Vec<&String> = v["canonical"][h][p].as_object().unwrap().keys().collect();
            let mut want: Vec<&String> = documented.iter().collect();
            let mut got = keys.clone();
            want.sort();
            got.sort();
            assert_eq!(got, want, "{h}.{p}");
        }
    }
}
