//! `vllm-loadtest sim` as a user runs it: prints its URL, serves, stops on a signal.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;

#[test]
fn sim_prints_its_url_and_serves_health() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_vllm-loadtest"))
        .args(["sim", "--port", "0", "--profile", "fixed"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .trim()
        .strip_prefix("listening on http://")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"));
    let mut conn = TcpStream::connect(url).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    conn.write_all(b"GET /health HTTP/1.1\r\nhost: sim\r\nconnection: close\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    conn.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
    child.kill().unwrap();
    child.wait().unwrap();
}

#[cfg(unix)]
#[test]
fn sim_exits_0_on_sigterm() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_vllm-loadtest"))
        .args(["sim", "--port", "0"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.starts_with("listening on http://127.0.0.1:"), "{line}");
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(child.wait().unwrap().code(), Some(0));
}

#[test]
fn sim_refuses_bad_flags() {
    let out = Command::new(env!("CARGO_BIN_EXE_vllm-loadtest"))
        .args(["sim", "--port", "0", "--fault-429", "2"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    // The message names the flag, not the library field.
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid --fault-429 2"));
}
