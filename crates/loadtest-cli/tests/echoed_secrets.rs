//! A server that echoes the credentials back (issue 20): the key never reaches stderr (the
//! preflight's `error:` line, DEBUG logs) nor the run folder, and a `--header` without `:`
//! is refused without its value.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Command;

use common::{BIN, TINY_RUN, canned_server, models_answer};

const KEY: &str = "sk-ECHO-5ecret-0123456789";
const TOKEN: &str = "tok-ECHO-5ecret-987654";

/// The Authorization and X-Auth-Token values of a request head.
fn credentials(head: &str) -> String {
    head.lines()
        .filter_map(|l| l.split_once(':'))
        .filter(|(n, _)| {
            n.eq_ignore_ascii_case("authorization") || n.eq_ignore_ascii_case("x-auth-token")
        })
        .map(|(_, v)| v.trim().to_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// A tiny sweep of `url` carrying [`KEY`] and [`TOKEN`], logging at debug level.
fn sweep_with_secrets(url: &str, out: &std::path::Path) -> std::process::Output {
    Command::new(BIN)
        .args(["--base-url", url, "--api-key", KEY, "--header"])
        .arg(format!("X-Auth-Token: {TOKEN}"))
        .args(TINY_RUN)
        .args(["--prompt-text", "hi"])
        .arg("--output-dir")
        .arg(out)
        .env("RUST_LOG", "debug")
        .output()
        .unwrap()
}

#[test]
fn a_preflight_error_echoing_the_key_is_redacted_on_stderr() {
    let (url, _) = canned_server(|head, _| {
        (
            "401 Unauthorized",
            "text/plain",
            format!("invalid key: {}", credentials(head)),
        )
    });
    let out = tempfile::tempdir().unwrap();
    let o = sweep_with_secrets(&url, out.path());
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("invalid key: "), "{stderr}");
    assert!(stderr.matches("<redacted>").count() >= 2, "{stderr}");
    assert!(!stderr.contains(KEY) && !stderr.contains(TOKEN), "{stderr}");
    assert!(!String::from_utf8_lossy(&o.stdout).contains(KEY));
}

#[test]
fn requests_failing_with_the_key_echoed_leave_no_trace_of_it() {
    let (url, _) = canned_server(|head, _| {
        if head.starts_with("GET /v1/models") {
            models_answer()
        } else if head.starts_with("GET") {
            ("404 Not Found", "text/plain", String::new())
        } else {
            (
                "500 Internal Server Error",
                "text/plain",
                format!("upstream refused {}", credentials(head)),
            )
        }
    });
    let out = tempfile::tempdir().unwrap();
    let o = sweep_with_secrets(&url, out.path());
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(!stderr.contains(KEY) && !stderr.contains(TOKEN), "{stderr}");
    assert!(stderr.contains("upstream refused "), "{stderr}");
    assert!(stderr.contains("Bearer <redacted>"), "{stderr}");
    let mut stack = vec![out.path().to_owned()];
    let mut searched = 0;
    while let Some(path) = stack.pop() {
        if path.is_dir() {
            stack.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
            continue;
        }
        let text = String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned();
        assert!(
            !text.contains(KEY) && !text.contains(TOKEN),
            "{}",
            path.display()
        );
        searched += 1;
    }
    assert!(searched >= 5, "only {searched} files");
}

#[test]
fn a_header_without_colon_is_refused_without_its_value() {
    let o = Command::new(BIN)
        .args(["--simulate", "--header", "X-Api-Key sk-NOCOLON-5ecret"])
        .args(TINY_RUN)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("invalid --header"), "{stderr}");
    assert!(!stderr.contains("5ecret"), "{stderr}");
}
