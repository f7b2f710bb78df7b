//! Signals against the built binary (§3 cancellation): SIGINT and SIGTERM in warmup, mid-step,
//! in cooldown and in the final drain leave every file whole and exit 130; repeated SIGTERM
//! (`timeout(1)`, `kill -TERM -PGID`) and SIGHUP never cut the outputs short (the rule for a
//! later, interactive second Ctrl-C is unit-tested in `commands/signals.rs`); `kill -9`
//! leaves requests.jsonl valid up to its last complete line.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use common::wait_exit;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_vllm-loadtest");

const ALL_FILES: [&str; 7] = [
    "config.json",
    "requests.jsonl",
    "vllm_metrics.csv",
    "gpu_metrics.csv",
    "step_summary.json",
    "vllm_step_deltas.json",
    "summary.md",
];

fn spawn(args: &[&str], out: &Path) -> Child {
    Command::new(BIN)
        .args(["--simulate", "--no-gpu", "--quiet"])
        .args(args)
        .arg("--output-dir")
        .arg(out)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// The run folder once its requests.jsonl exists: the moment the run's clock started.
fn wait_run_dir(out: &Path, child: &mut Child) -> PathBuf {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(dir) = std::fs::read_dir(out)
            .ok()
            .and_then(|mut d| d.next())
            .and_then(Result::ok)
            .map(|e| e.path())
            && dir.join("requests.jsonl").is_file()
        {
            return dir;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "exited before the run began"
        );
        assert!(Instant::now() < deadline, "the run never began");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn signal(child: &Child, name: &str) {
    let ok = Command::new("kill")
        .args([&format!("-{name}"), &child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill -{name} failed");
}

/// Every line of requests.jsonl is JSON, and the file does not end in half a line.
fn assert_requests_whole(dir: &Path) -> usize {
    let bytes = std::fs::read(dir.join("requests.jsonl")).unwrap();
    assert!(bytes.is_empty() || bytes.ends_with(b"\n"), "torn last line");
    let text = String::from_utf8(bytes).unwrap();
    for line in text.lines() {
        let row: serde_json::Value = serde_json::from_str(line).unwrap();
        assert!(row["status"].is_string());
    }
    text.lines().count()
}

/// All seven files present and parseable; returns step_summary.json.
fn assert_all_files(dir: &Path) -> serde_json::Value {
    for file in ALL_FILES {
        assert!(dir.join(file).is_file(), "{file} missing");
    }
    assert_requests_whole(dir);
    let json = |name: &str| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(dir.join(name)).unwrap())
            .unwrap_or_else(|e| panic!("{name}: {e}"))
    };
    let config = json("config.json");
    assert_eq!(config["interrupted"], true);
    assert!(config["finished_at"].is_string());
    json("vllm_step_deltas.json");
    for csv in ["vllm_metrics.csv", "gpu_metrics.csv"] {
        let text = std::fs::read_to_string(dir.join(csv)).unwrap();
        assert!(text.ends_with('\n'), "{csv}: torn last line");
        let width = text.lines().next().unwrap().split(',').count();
        assert!(
            text.lines().all(|l| l.split(',').count() == width),
            "{csv}: ragged rows"
        );
    }
    let md = std::fs::read_to_string(dir.join("summary.md")).unwrap();
    assert!(md.starts_with('#') && !md.contains("NaN"), "{md}");
    // No temporary file of an atomic write left behind.
    for entry in std::fs::read_dir(dir).unwrap() {
        let name = entry.unwrap().file_name();
        assert!(!name.to_string_lossy().ends_with(".tmp"), "{name:?} left");
    }
    json("step_summary.json")
}

/// Runs `args`, sends `sig` `after` the run began, and checks the clean stop.
fn interrupt(args: &[&str], sig: &str, after: Duration) -> serde_json::Value {
    let out = tempfile::tempdir().unwrap();
    let mut child = spawn(args, out.path());
    let dir = wait_run_dir(out.path(), &mut child);
    std::thread::sleep(after);
    assert!(
        child.try_wait().unwrap().is_none(),
        "finished before the signal"
    );
    signal(&child, sig);
    let status = wait_exit(&mut child, Duration::from_secs(20));
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert_eq!(status.code(), Some(130), "{sig} after {after:?}: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_all_files(&dir)
}

#[test]
fn sigint_in_warmup() {
    let summary = interrupt(
        &["--steps", "2", "--step-duration-s", "2", "--warmup-s", "3"],
        "INT",
        Duration::from_millis(800),
    );
    assert_eq!(
        summary["steps"].as_array().unwrap().len(),
        0,
        "no window began"
    );
}

#[test]
fn sigterm_mid_step() {
    let summary = interrupt(
        &[
            "--steps",
            "2,4",
            "--step-duration-s",
            "3",
            "--warmup-s",
            "0.3",
        ],
        "TERM",
        Duration::from_millis(1500),
    );
    let steps = summary["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 1);
    assert_eq!(steps[0]["partial"], true);
}

#[test]
fn sigterm_in_cooldown() {
    // Window 0.3–1.3 s, cooldown until 4.3 s.
    let summary = interrupt(
        &[
            "--steps",
            "2,2",
            "--step-duration-s",
            "1",
            "--warmup-s",
            "0.3",
            "--cooldown-s",
            "3",
        ],
        "TERM",
        Duration::from_millis(2500),
    );
    let steps = summary["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 1, "the second window never began");
    assert_eq!(steps[0]["partial"], false, "the first window was complete");
}

#[test]
fn sigint_in_the_final_drain() {
    // The schedule ends at 1.2 s; requests of 1,000 tokens are still streaming (the
    // simulator makes about 150 tokens/s per stream): the signal lands in the drain, just
    // before the outputs are written.
    let out = tempfile::tempdir().unwrap();
    let mut child = spawn(
        &[
            "--steps",
            "1",
            "--step-duration-s",
            "1",
            "--warmup-s",
            "0.2",
            "--max-output-tokens",
            "1000",
            "--ignore-eos",
        ],
        out.path(),
    );
    let dir = wait_run_dir(out.path(), &mut child);
    std::thread::sleep(Duration::from_millis(2000));
    assert!(
        child.try_wait().unwrap().is_none(),
        "finished before the signal"
    );
    signal(&child, "INT");
    let status = wait_exit(&mut child, Duration::from_secs(20));
    assert_eq!(status.code(), Some(130));
    let summary = assert_all_files(&dir);
    let steps = summary["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 1);
    assert_eq!(steps[0]["partial"], false);
    // The streaming request (started in warmup: the one slot stayed busy) was cancelled by
    // the stop: recorded so, and never listed as an error of the server.
    let rows = std::fs::read_to_string(dir.join("requests.jsonl")).unwrap();
    assert!(
        rows.lines().any(|l| l.contains("\"status\":\"cancelled\"")),
        "the streaming request was not recorded as cancelled: {rows}"
    );
    let errors = steps[0]["errors"].as_array().unwrap();
    assert!(
        errors.iter().all(|e| e["status"] != "cancelled"),
        "{errors:?}"
    );
}

/// A run holding `streams` in flight, started in its own process group (as a shell job is),
/// with the run folder once it began.
fn spawn_group(streams: &str, out: &Path) -> (Child, PathBuf) {
    use std::os::unix::process::CommandExt as _;
    let mut child = Command::new(BIN)
        .args(["--simulate", "--no-gpu", "--quiet", "--steps", streams])
        .args(["--step-duration-s", "10", "--warmup-s", "0.2"])
        .arg("--output-dir")
        .arg(out)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .unwrap();
    let dir = wait_run_dir(out, &mut child);
    (child, dir)
}

/// `kill -SIG -PGID`: every process of the group, as supervisors and `timeout(1)` do.
fn signal_group(child: &Child, name: &str) {
    let ok = Command::new("kill")
        .args([&format!("-{name}"), "--", &format!("-{}", child.id())])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill -{name} -PGID failed");
}

#[test]
fn repeated_sigterm_to_the_process_group_never_skips_the_outputs() {
    for _ in 0..2 {
        let out = tempfile::tempdir().unwrap();
        let (mut child, dir) = spawn_group("256", out.path());
        std::thread::sleep(Duration::from_millis(1000));
        signal_group(&child, "TERM");
        std::thread::sleep(Duration::from_millis(20));
        signal_group(&child, "TERM");
        let status = wait_exit(&mut child, Duration::from_secs(20));
        assert_eq!(status.code(), Some(130));
        let summary = assert_all_files(&dir);
        assert_eq!(summary["steps"][0]["partial"], true);
    }
}

#[test]
fn a_sigint_right_after_the_first_is_the_same_interrupt() {
    let out = tempfile::tempdir().unwrap();
    let (mut child, dir) = spawn_group("64", out.path());
    std::thread::sleep(Duration::from_millis(1000));
    signal(&child, "INT");
    std::thread::sleep(Duration::from_millis(5));
    signal_group(&child, "INT");
    let status = wait_exit(&mut child, Duration::from_secs(20));
    assert_eq!(status.code(), Some(130));
    assert_all_files(&dir);
}

#[test]
fn under_timeout_1_every_file_is_written() {
    let out = tempfile::tempdir().unwrap();
    // timeout(1) signals its child, then the child's process group.
    let o = Command::new("timeout")
        .args(["--preserve-status", "-s", "TERM", "2", BIN])
        .args(["--simulate", "--no-gpu", "--quiet", "--steps", "256"])
        .args(["--step-duration-s", "10", "--warmup-s", "0.2"])
        .arg("--output-dir")
        .arg(out.path())
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let dir = std::fs::read_dir(out.path())
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    assert_all_files(&dir);
    // --quiet still names the run folder on stdout.
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).trim(),
        dir.display().to_string()
    );
}

#[test]
fn sighup_stops_the_run_like_sigterm() {
    interrupt(
        &[
            "--steps",
            "4",
            "--step-duration-s",
            "5",
            "--warmup-s",
            "0.2",
        ],
        "HUP",
        Duration::from_millis(800),
    );
}

#[test]
fn kill_9_leaves_requests_jsonl_valid_to_its_last_line() {
    let out = tempfile::tempdir().unwrap();
    let mut child = spawn(
        &[
            "--steps",
            "8",
            "--step-duration-s",
            "10",
            "--warmup-s",
            "0.2",
            "--max-output-tokens",
            "16",
        ],
        out.path(),
    );
    let dir = wait_run_dir(out.path(), &mut child);
    std::thread::sleep(Duration::from_millis(1500));
    child.kill().unwrap(); // SIGKILL
    let status = child.wait().unwrap();
    assert_eq!(status.code(), None, "killed by a signal");
    // Rows are flushed whenever the writer is idle: some are on disk, all whole.
    let rows = assert_requests_whole(&dir);
    assert!(rows > 0, "nothing flushed before kill -9");
    assert!(dir.join("config.json").is_file());
}
