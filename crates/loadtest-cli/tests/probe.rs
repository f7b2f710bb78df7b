//! `vllm-loadtest probe` run as a process against a loopback server serving the real vLLM
//! captures.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const ROW_KEYS: [&str; 26] = loadtest_run::REQUEST_ROW_KEYS;

fn fixture(rel: &str) -> Vec<u8> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/").to_owned() + rel;
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// A one-thread HTTP/1.1 server: every response closes its connection.
fn serve(chat_status: u16) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let models = fixture("vllm-0.32.0/models.json");
    let sse = fixture("vllm-0.32.0/sse_chat_usage.txt");
    let err = fixture("vllm-0.32.0/err_unknown_model.json");
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            handle(stream, &models, &sse, &err, chat_status);
        }
    });
    format!("http://{addr}")
}

/// A server whose `/v1/models` answers and whose chat completions never do: each chat request
/// is read whole, reported on the returned channel, and its connection held open.
fn serve_stalling() -> (String, mpsc::Receiver<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let models = fixture("vllm-0.32.0/models.json");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let (models, tx) = (models.clone(), tx.clone());
            std::thread::spawn(move || {
                let mut held = stream.try_clone().unwrap();
                // `handle` answers the models; a chat request (status 0) is left unanswered.
                if !handle(stream, &models, b"", b"", 0) {
                    let _ = tx.send(());
                }
                std::thread::sleep(Duration::from_secs(30));
                let _ = held.flush();
            });
        }
    });
    (format!("http://{addr}"), rx)
}

/// Answers one request; returns false for a chat request left unanswered (`chat_status` 0).
fn handle(mut stream: TcpStream, models: &[u8], sse: &[u8], err: &[u8], chat_status: u16) -> bool {
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() {
        return true;
    }
    let mut content_length = 0usize;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
            break;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            content_length = value.trim().parse().unwrap();
        }
    }
    let mut body = vec![0; content_length];
    reader.read_exact(&mut body).unwrap();
    let (status, content_type, payload) = if request_line.starts_with("GET /v1/models") {
        (200, "application/json", models)
    } else if chat_status == 0 {
        return false;
    } else if request_line.starts_with("POST /v1/chat/completions") && chat_status == 200 {
        (200, "text/event-stream", sse)
    } else {
        (chat_status, "application/json", err)
    };
    let head = format!(
        "HTTP/1.1 {status} X\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        payload.len()
    );
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(payload);
    true
}

fn probe(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vllm-loadtest"))
        .arg("probe")
        .args(args)
        .env_remove("OPENAI_API_KEY")
        .env_remove("VLLM_API_KEY")
        .output()
        .unwrap()
}

#[test]
fn json_rows_carry_every_requests_jsonl_key() {
    let url = serve(200);
    let out = probe(&[
        "--base-url",
        &url,
        "--json",
        "--requests",
        "2",
        "--max-output-tokens",
        "16",
    ]);
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    for (i, line) in lines.iter().enumerate() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        let mut sorted_keys = keys.clone();
        sorted_keys.sort_unstable();
        let mut want = ROW_KEYS.to_vec();
        want.sort_unstable();
        assert_eq!(sorted_keys, want, "{line}");
        // And in §9 order in the text itself.
        let mut at = 0;
        for key in ROW_KEYS {
            at += line[at..]
                .find(&format!("\"{key}\":"))
                .unwrap_or_else(|| panic!("{key} order: {line}"));
        }
        assert_eq!(v["id"], i as u64);
        assert_eq!(v["status"], "ok");
        assert_eq!(v["http_status"], 200);
        assert_eq!(v["chunks"], 16);
        assert_eq!(v["completion_tokens"], 16);
        assert_eq!(v["prompt_tokens"], 27);
        assert_eq!(v["max_tokens"], 16);
        assert_eq!(v["finish_reason"], "length");
        assert!(v["step"].is_null() && v["phase"].is_null() && v["load"].is_null());
        assert!(v["ttft_s"].as_f64().unwrap() > 0.0);
        assert!(v["tpot_s"].is_number());
    }
}

#[test]
fn human_output_has_one_line_per_request_and_a_summary() {
    let url = serve(200);
    let out = probe(&[
        "--base-url",
        &url,
        "--requests",
        "3",
        "--model",
        "tiny-llama",
    ]);
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(out.status.success(), "{stdout}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 5, "{stdout}");
    assert!(lines[0].starts_with("probing "), "{stdout}");
    assert!(
        lines[1].starts_with("#0") && lines[1].contains(" ok "),
        "{stdout}"
    );
    assert!(lines[4].starts_with("summary: 3/3 ok"), "{stdout}");
}

#[test]
fn http_errors_exit_1_with_the_server_message() {
    let url = serve(404);
    let out = probe(&["--base-url", &url, "--json", "--requests", "1"]);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["status"], "http_error");
    assert_eq!(v["http_status"], 404);
    assert!(
        v["error"].as_str().unwrap().contains("does not exist"),
        "{v}"
    );
}

#[test]
fn unreachable_server_exits_2_with_one_line() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let out = probe(&["--base-url", &format!("http://{addr}"), "--timeout-s", "5"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("unreachable"), "{stderr}");
    assert!(out.stdout.is_empty());
}

#[test]
fn bad_flags_exit_2() {
    let out = probe(&["--base-url", "http://127.0.0.1:9", "--header", "no-colon"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--header"));
    let out = probe(&["--base-url", "ftp://x"]);
    assert_eq!(out.status.code(), Some(2));
    let out = probe(&["--base-url", "http://127.0.0.1:9", "--endpoint", "nope"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn a_signal_stops_the_probe_and_prints_what_it_has() {
    for sig in ["INT", "TERM", "HUP"] {
        let (url, chat_seen) = serve_stalling();
        let mut child = Command::new(env!("CARGO_BIN_EXE_vllm-loadtest"))
            .args(["probe", "--base-url", &url, "--model", "tiny-llama"])
            .args(["--requests", "3", "--timeout-s", "60"])
            .env_remove("OPENAI_API_KEY")
            .env_remove("VLLM_API_KEY")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // The first request is in flight once the server has read it.
        chat_seen.recv_timeout(Duration::from_secs(20)).unwrap();
        let ok = Command::new("kill")
            .args([&format!("-{sig}"), &child.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill -{sig}");
        let deadline = Instant::now() + Duration::from_secs(10);
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            assert!(
                Instant::now() < deadline,
                "SIG{sig}: the probe did not stop"
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        let mut stdout = String::new();
        child
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut stdout)
            .unwrap();
        let mut stderr = String::new();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut stderr)
            .unwrap();
        assert_eq!(status.code(), Some(130), "SIG{sig}: {stdout}{stderr}");
        let lines: Vec<&str> = stdout.lines().collect();
        assert_eq!(lines.len(), 3, "SIG{sig}: {stdout}");
        assert!(lines[0].starts_with("probing "), "{stdout}");
        assert!(lines[1].starts_with("#0   cancelled"), "{stdout}");
        assert!(
            lines[2].starts_with("summary: 0/1 ok") && lines[2].contains("1 cancelled"),
            "{stdout}"
        );
        assert!(stderr.contains(": stopping"), "SIG{sig}: {stderr}");
    }
}

#[test]
fn the_api_key_rules_are_the_sweep_s() {
    // --api-key and an Authorization header both set the header.
    let out = probe(&[
        "--base-url",
        "http://127.0.0.1:9",
        "--api-key",
        "sk-5ecret",
        "--header",
        "authorization: Bearer sk-5ecret",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--api-key and --header 'Authorization: …' both set"),
        "{stderr}"
    );
    assert!(!stderr.contains("5ecret"), "{stderr}");
    // A malformed header never echoes its text.
    for header in ["Authorization Bearer sk-5ecret", "Bad Name: sk-5ecret"] {
        let out = probe(&["--base-url", "http://127.0.0.1:9", "--header", header]);
        assert_eq!(out.status.code(), Some(2));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("invalid --header"), "{stderr}");
        assert!(!stderr.contains("5ecret"), "{stderr}");
    }
}

/// Like [`serve`], with the bodies given: `/v1/models` answers `models`, a chat request gets
/// `chat` (SSE) when `chat_status` is 200, else `chat` as a JSON error with that status.
fn serve_bodies(models: &str, chat: &str, chat_status: u16) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (models, chat) = (models.as_bytes().to_vec(), chat.as_bytes().to_vec());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            handle(stream, &models, &chat, &chat, chat_status);
        }
    });
    format!("http://{addr}")
}

/// No ESC (a terminal escape) or BEL byte anywhere in the probe's output.
fn assert_no_escapes(out: &Output) {
    for (name, bytes) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
        assert!(
            !bytes.iter().any(|&b| b == 0x1b || b == 0x07),
            "{name} carries a raw control byte: {:?}",
            String::from_utf8_lossy(bytes)
        );
    }
}

const HOSTILE_MODELS: &str =
    r#"{"object":"list","data":[{"id":"evil\u001b[2J\u0007model","object":"model"}]}"#;

const HOSTILE_SSE: &str = concat!(
    "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"},\"finish_reason\":null}]}\n\n",
    "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"b\"},",
    "\"finish_reason\":\"stop\\u001b[2J\\u0007\"}]}\n\n",
    "data: [DONE]\n\n",
);

#[test]
fn server_strings_never_reach_the_terminal_raw() {
    let url = serve_bodies(HOSTILE_MODELS, HOSTILE_SSE, 200);
    // Human output: the model id (from /v1/models) and the finish_reason are cleaned.
    let out = probe(&["--base-url", &url, "--requests", "2"]);
    assert_no_escapes(&out);
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains("model evil [2J model"), "{stdout}");
    assert!(stdout.contains("finish stop [2J"), "{stdout}");
    assert_eq!(stdout.lines().count(), 4, "{stdout}");

    // --json: JSON escapes the control characters; the value itself is kept.
    let out = probe(&["--base-url", &url, "--requests", "1", "--json"]);
    assert_no_escapes(&out);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["finish_reason"], "stop\u{1b}[2J\u{7}");

    // An HTTP error's message, in human and JSON output.
    let error = r#"{"error":{"message":"bad\u001b[2J\u0007 thing","type":"x","code":500}}"#;
    let url = serve_bodies(HOSTILE_MODELS, error, 500);
    let out = probe(&["--base-url", &url, "--requests", "1"]);
    assert_eq!(out.status.code(), Some(1));
    assert_no_escapes(&out);
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains("error: "), "{stdout}");
    let out = probe(&["--base-url", &url, "--requests", "1", "--json"]);
    assert_no_escapes(&out);

    // A /v1/models answer that is no model list: the fatal line is clean too.
    let url = serve_bodies("\u{1b}[2J\u{7}<html>", HOSTILE_SSE, 200);
    let out = probe(&["--base-url", &url, "--requests", "1"]);
    assert_eq!(out.status.code(), Some(2));
    assert_no_escapes(&out);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("cannot pick a model"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
