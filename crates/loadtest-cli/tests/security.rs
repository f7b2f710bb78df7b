//! Secrets and hostile servers (§12): the api key — flag, `OPENAI_API_KEY` or `VLLM_API_KEY` —
//! and auth headers never reach the run folder, the logs (at `RUST_LOG=trace`) or an error
//! message; error bodies quoted back are truncated and carry no terminal escapes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Output};

use common::{BIN, TINY_RUN};

/// Every file under `dir`, charts included.
fn all_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(path) = stack.pop() {
        if path.is_dir() {
            for entry in std::fs::read_dir(&path).unwrap() {
                stack.push(entry.unwrap().path());
            }
        } else {
            files.push(path);
        }
    }
    files
}

/// Fails if `needle` is in any file under `dir` or in the captured output.
fn assert_nowhere(needle: &str, dir: &Path, o: &Output) {
    let stdout = String::from_utf8_lossy(&o.stdout);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(!stdout.contains(needle), "{needle} in stdout");
    assert!(!stderr.contains(needle), "{needle} in stderr");
    let files = all_files(dir);
    for path in &files {
        let bytes = std::fs::read(path).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        assert!(!text.contains(needle), "{needle} in {}", path.display());
    }
    assert!(files.len() >= 7, "only {} files to search", files.len());
}

#[test]
fn the_api_key_is_never_written_or_logged() {
    let cases: [(&str, Option<&str>, &str); 3] = [
        ("sk-FLAG-5ecret-0001", None, "--api-key"),
        ("sk-OPENAI-5ecret-0002", Some("OPENAI_API_KEY"), ""),
        ("sk-VLLM-5ecret-0003", Some("VLLM_API_KEY"), ""),
    ];
    for (secret, env, flag) in cases {
        let out = tempfile::tempdir().unwrap();
        let mut command = Command::new(BIN);
        command
            .arg("--simulate")
            .args(TINY_RUN)
            .args([
                "--header",
                "Proxy-Authorization: Bearer sk-HEADER-5ecret-0004",
            ])
            .args(["--header", "X-Api-Key: sk-XAPI-5ecret-0005"])
            .arg("--output-dir")
            .arg(out.path())
            .env_remove("OPENAI_API_KEY")
            .env_remove("VLLM_API_KEY")
            .env("RUST_LOG", "trace");
        if flag.is_empty() {
            command.env(env.unwrap(), secret);
        } else {
            command.args([flag, secret]);
        }
        let o = command.output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        assert!(!o.stderr.is_empty(), "RUST_LOG=trace logged nothing");
        for needle in [secret, "5ecret"] {
            assert_nowhere(needle, out.path(), &o);
        }
        let config: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(
                std::fs::read_dir(out.path())
                    .unwrap()
                    .next()
                    .unwrap()
                    .unwrap()
                    .path()
                    .join("config.json"),
            )
            .unwrap(),
        )
        .unwrap();
        assert_eq!(config["target"]["api_key"], "<redacted>", "{env:?}");
    }
}

#[test]
fn the_api_key_is_not_in_error_messages() {
    let out = tempfile::tempdir().unwrap();
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    // An unreachable server, a key that is not a valid header value, a bad flag beside it.
    for args in [
        vec![
            "--base-url",
            &url,
            "--prompt-text",
            "hi",
            "--api-key",
            "sk-ERR-5ecret-1",
        ],
        vec![
            "--base-url",
            &url,
            "--prompt-text",
            "hi",
            "--api-key",
            "sk-ERR-5ecret-2\n",
        ],
        vec!["--simulate", "--steps", "0", "--api-key", "sk-ERR-5ecret-3"],
        vec!["probe", "--base-url", &url, "--api-key", "sk-ERR-5ecret-4"],
    ] {
        let mut command = Command::new(BIN);
        command.args(&args);
        if args[0] != "probe" {
            command.arg("--output-dir").arg(out.path());
        }
        let o = command.env("RUST_LOG", "trace").output().unwrap();
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(!all.contains("5ecret"), "{args:?}: {all}");
    }
}

/// A server whose `/v1/chat/completions` answers 500 with an error message holding terminal
/// escapes and `filler` bytes of text; `/v1/models` lists `m`; everything else is 404.
fn hostile_server(filler: usize) -> String {
    common::canned_server(move |head, _| {
        if head.starts_with("GET /v1/models") {
            common::models_answer()
        } else if head.starts_with("POST /v1/chat/completions") {
            let message = format!(
                "\u{1b}[31mRED\u{1b}[0m \u{1b}]0;pwned\u{7} {}",
                "A".repeat(filler)
            );
            (
                "500 Internal Server Error",
                "application/json",
                serde_json::json!({"error": {"message": message, "code": 500}}).to_string(),
            )
        } else {
            (
                "404 Not Found",
                "application/json",
                r#"{"detail":"Not Found"}"#.to_owned(),
            )
        }
    })
    .0
}

#[test]
fn error_bodies_are_truncated_and_stripped_of_escapes() {
    // 300 bytes of filler: the JSON message is read whole; 200 kB: the body is cut before it
    // can be parsed, and its text is quoted (cut) instead.
    for (filler, expected) in [
        (300, "HTTP 500: [31mRED [0m ]0;pwned AAA"),
        (200_000, "HTTP 500: {\"error\""),
    ] {
        let url = hostile_server(filler);
        let out = tempfile::tempdir().unwrap();
        let o = Command::new(BIN)
            .args(["--base-url", &url, "--prompt-text", "hi", "--no-metrics"])
            .args(TINY_RUN)
            .arg("--output-dir")
            .arg(out.path())
            .env("RUST_LOG", "debug")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&o.stderr);
        // Every request failed: the run exits 1 and says why.
        assert_eq!(o.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains("none of the"), "{stderr}");
        let dir = std::fs::read_dir(out.path())
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path();
        let requests = std::fs::read_to_string(dir.join("requests.jsonl")).unwrap();
        let first: serde_json::Value =
            serde_json::from_str(requests.lines().next().unwrap()).unwrap();
        assert_eq!(first["status"], "http_error");
        assert_eq!(first["http_status"], 500);
        let error = first["error"].as_str().unwrap();
        assert!(error.starts_with(expected), "{error}");
        assert!(
            error.chars().count() <= loadtest_client::MAX_ERROR_CHARS + 1,
            "{error}"
        );
        assert!(error.ends_with('…'), "{error}");
        assert!(!error.chars().any(char::is_control), "{error:?}");
        // No escape byte anywhere: not in the files, not on the terminal.
        for path in all_files(&dir) {
            let bytes = std::fs::read(&path).unwrap();
            assert!(!bytes.contains(&0x1b), "ESC in {}", path.display());
            assert!(!bytes.contains(&0x07), "BEL in {}", path.display());
        }
        assert!(!o.stdout.contains(&0x1b) && !o.stderr.contains(&0x1b));
        assert!(!o.stdout.contains(&0x07) && !o.stderr.contains(&0x07));
        let md = std::fs::read_to_string(dir.join("summary.md")).unwrap();
        assert!(md.contains("| http_error |"), "{md}");
        assert!(
            md.lines().all(|l| l.len() < 2_000),
            "a huge line in summary.md"
        );

        // `probe` prints the same record: also clean and short.
        let o = Command::new(BIN)
            .args(["probe", "--base-url", &url, "--requests", "1", "--json"])
            .output()
            .unwrap();
        assert!(!o.stdout.contains(&0x1b) && !o.stderr.contains(&0x1b));
        assert!(!o.stdout.contains(&0x07) && !o.stderr.contains(&0x07));
        assert!(
            o.stdout.len() + o.stderr.len() < 4_000,
            "probe echoed the huge body"
        );
    }
}
