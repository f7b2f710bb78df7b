//! Preflight against a server that accepts connections and never answers (issue 20): the
//! sweep fails within the preflight deadline (exit 2), not after `--timeout-s`; Ctrl-C during
//! that wait exits 130 at once with no run folder. A poll interval that would hammer the
//! server is refused, naming the flag.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{BIN, wait_exit};

/// A server on 127.0.0.1 that accepts every connection and never sends a byte.
fn silent_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept() {
            held.push(stream);
        }
    });
    url
}

fn spawn_sweep(url: &str, out: &Path) -> Child {
    Command::new(BIN)
        .args(["--base-url", url, "--prompt-text", "hi", "--no-gpu"])
        .args([
            "--steps",
            "1",
            "--step-duration-s",
            "1",
            "--timeout-s",
            "600",
        ])
        .arg("--output-dir")
        .arg(out)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn stderr_of(child: &mut Child) -> String {
    let mut text = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut text).unwrap();
    text
}

#[test]
fn a_silent_server_fails_within_the_preflight_deadline() {
    let url = silent_server();
    let out = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let mut child = spawn_sweep(&url, out.path());
    let status = wait_exit(&mut child, Duration::from_secs(20));
    let stderr = stderr_of(&mut child);
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(started.elapsed() < Duration::from_secs(20));
    assert!(
        stderr.contains(&format!("error: cannot reach {url}: no response from"))
            && stderr.contains("within 10s"),
        "{stderr}"
    );
    assert_eq!(std::fs::read_dir(out.path()).unwrap().count(), 0);
}

#[test]
fn ctrl_c_during_preflight_exits_130_at_once_with_nothing_written() {
    let url = silent_server();
    let out = tempfile::tempdir().unwrap();
    let mut child = spawn_sweep(&url, out.path());
    std::thread::sleep(Duration::from_secs(1));
    assert!(
        child.try_wait().unwrap().is_none(),
        "exited before the signal"
    );
    let ok = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill -INT failed");
    let status = wait_exit(&mut child, Duration::from_secs(2));
    let stderr = stderr_of(&mut child);
    assert_eq!(status.code(), Some(130), "{stderr}");
    assert!(
        stderr.contains("interrupted before the run began: nothing was written"),
        "{stderr}"
    );
    assert_eq!(std::fs::read_dir(out.path()).unwrap().count(), 0);
}

#[test]
fn a_poll_interval_that_hammers_the_server_is_refused() {
    let out = tempfile::tempdir().unwrap();
    for (value, refused) in [("0.0001", true), ("0.049", true), ("0.05", false)] {
        let output = Command::new(BIN)
            .args(["--base-url", "http://127.0.0.1:1", "--prompt-text", "hi"])
            .args(["--no-gpu", "--steps", "1", "--poll-interval-s", value])
            .arg("--output-dir")
            .arg(out.path())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{stderr}");
        let message =
            format!("error: invalid --poll-interval-s {value}: expected at least 0.05 seconds");
        // 0.05 passes validation and fails at preflight (nobody listens on port 1).
        assert_eq!(stderr.contains(&message), refused, "{stderr}");
    }
    assert_eq!(std::fs::read_dir(out.path()).unwrap().count(), 0);
}
