//! `vllm-loadtest report` and `compare` as a user runs them, on the report crate's committed
//! run folders.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../loadtest-report/tests/data")
        .join(name)
}

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_vllm-loadtest"))
}

#[test]
fn report_re_renders_a_copied_run_folder() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run_x");
    std::fs::create_dir(&run).unwrap();
    for file in ["config.json", "step_summary.json"] {
        std::fs::copy(data("run_a").join(file), run.join(file)).unwrap();
    }
    let out = bin().arg("report").arg(&run).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains("summary.md (3 steps)"), "{stdout}");
    assert_eq!(stdout.matches("charts/").count(), 4, "{stdout}");
    let md = std::fs::read_to_string(run.join("summary.md")).unwrap();
    assert!(md.contains("](charts/latency.svg)"));
    for chart in ["throughput", "latency", "server", "gpu"] {
        assert!(run.join("charts").join(format!("{chart}.svg")).is_file());
    }
}

#[test]
fn report_out_dir_leaves_the_run_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let out = bin()
        .arg("report")
        .arg(data("run_no_metrics"))
        .arg("--out-dir")
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(dir.path().join("summary.md").is_file());
    assert!(!dir.path().join("charts/server.svg").exists());
    assert!(!data("run_no_metrics").join("summary.md").exists());
}

#[test]
fn report_on_a_missing_folder_fails_with_one_line() {
    let out = bin().args(["report", "/nonexistent/run"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.starts_with("error: cannot render the report of /nonexistent/run"),
        "{stderr}"
    );
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
}

#[test]
fn compare_prints_markdown_or_writes_a_file() {
    let out = bin()
        .arg("compare")
        .arg(data("run_a"))
        .arg(data("run_b"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let md = String::from_utf8(out.stdout).unwrap();
    assert!(
        md.starts_with("# Comparison: A = `run_a`, B = `run_b`"),
        "{md}"
    );
    assert!(md.contains("- Only in B (not compared): concurrency 32"));
    assert!(md.contains("## Load concurrency 16"));

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ab.md");
    let out = bin()
        .arg("compare")
        .arg(data("run_a"))
        .arg(data("run_b"))
        .arg("--out")
        .arg(&file)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(
        std::fs::read_to_string(&file).unwrap().trim_end(),
        md.trim_end()
    );

    let out = bin()
        .arg("compare")
        .arg(data("run_a"))
        .arg("/nonexistent")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}
