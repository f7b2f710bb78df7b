//! Shared by the CLI's integration tests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// The built binary.
pub const BIN: &str = env!("CARGO_BIN_EXE_vllm-loadtest");

/// Starts `vllm-loadtest sim --port 0 --profile fixed --ttft-ms 5 --itl-ms 1 EXTRA…` and
/// returns it with the URL from its `listening on` line. The caller kills it.
pub fn start_sim(extra: &[&str]) -> (Child, String) {
    let mut child = Command::new(BIN)
        .args(["sim", "--port", "0", "--profile", "fixed"])
        .args(["--ttft-ms", "5", "--itl-ms", "1"])
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
