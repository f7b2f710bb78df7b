//! Exit codes against a failing server (§4): request failures are data (exit 0) unless they
//! pass `--max-error-rate` (exit 1).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

mod common;

use common::BIN;

#[test]
fn failures_exit_0_unless_above_max_error_rate() {
    // Half the requests answered 500, a tenth cut mid-stream.
    let (mut sim, url) = common::start_sim(&[
        "--fault-http-500",
        "0.5",
        "--fault-disconnect",
        "0.1",
        "--seed",
        "3",
    ]);
    for (max_error_rate, expected) in [(None, 0), (Some("0.9"), 0), (Some("0.1"), 1)] {
        let out = tempfile::tempdir().unwrap();
        let mut command = Command::new(BIN);
        command
            .args([
                "--base-url",
                &url,
                "--prompt-text",
                "hi",
                "--no-gpu",
                "--quiet",
            ])
            .args(["--steps", "2", "--step-duration-s", "1", "--warmup-s", "0"])
            .args(["--max-output-tokens", "8", "--output-dir"])
            .arg(out.path());
        if let Some(rate) = max_error_rate {
            command.args(["--max-error-rate", rate]);
        }
        let o = command.output().unwrap();
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(
            o.status.code(),
            Some(expected),
            "{max_error_rate:?}: {stderr}"
        );
        if expected == 1 {
            assert!(stderr.contains("above --max-error-rate 0.1"), "{stderr}");
        }
        let dir = std::fs::read_dir(out.path())
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path();
        let md = std::fs::read_to_string(dir.join("summary.md")).unwrap();
        assert!(
            md.contains("| http_error |") && md.contains("HTTP 500"),
            "{md}"
        );
    }
    sim.kill().unwrap();
    sim.wait().unwrap();
}
