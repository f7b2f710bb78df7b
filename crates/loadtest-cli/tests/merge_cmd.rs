//! `vllm-loadtest merge`: two `--shard i/2` processes against the simulator, merged into one
//! run folder; a refused merge exits 2 with one line naming the folder and the difference.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::process::{Child, Command, Output};

use common::{BIN, TINY_RUN};

/// A quiet shard `shard` of a tiny sweep of 4 streams into `run_dir`, started now.
fn shard(url: &str, shard: &str, seed: &str, run_dir: &Path) -> Child {
    Command::new(BIN)
        .args(["--base-url", url, "--quiet", "--input-size", "16"])
        .args(["--run-dir", run_dir.to_str().unwrap()])
        // TINY_RUN but 4 streams (2 per shard).
        .args(TINY_RUN.iter().skip(3))
        .args(["--no-gpu", "--steps", "4", "--shard", shard, "--seed", seed])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

fn finish(child: Child) {
    let output = child.wait_with_output().unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

fn merge(args: &[&Path], extra: &[&str]) -> Output {
    Command::new(BIN)
        .arg("merge")
        .args(args)
        .args(extra)
        .output()
        .unwrap()
}

#[test]
fn two_shard_processes_merge_into_one_run_folder() {
    let (mut sim, url) = common::start_sim(&[]);
    let out = tempfile::tempdir().unwrap();
    let dir = |name: &str| out.path().join(name);
    let (a, b) = (
        shard(&url, "0/2", "7", &dir("s0")),
        shard(&url, "1/2", "7", &dir("s1")),
    );
    finish(a);
    finish(b);
    let merged = dir("merged");
    let output = merge(
        &[&dir("s1"), &dir("s0")],
        &["--out", merged.to_str().unwrap()],
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        merged.display().to_string()
    );
    assert!(stderr.contains("merged shards 0, 1"), "{stderr}");
    for file in [
        "config.json",
        "requests.jsonl",
        "vllm_metrics.csv",
        "gpu_metrics.csv",
        "step_summary.json",
        "vllm_step_deltas.json",
        "step_histograms.json",
        "summary.md",
    ] {
        assert!(merged.join(file).is_file(), "{file}");
    }
    let rows = common::rows(&merged);
    let count = |d: &str| common::rows(&dir(d)).len();
    assert_eq!(rows.len(), count("s0") + count("s1"));
    assert!(rows.iter().all(|r| r["shard"].is_u64()));
    // The shards' files concatenated in shard order: shard 0's rows, then shard 1's.
    let shards: Vec<u64> = rows.iter().map(|r| r["shard"].as_u64().unwrap()).collect();
    let first = count("s0");
    assert!(shards[..first].iter().all(|s| *s == 0), "{shards:?}");
    assert!(shards[first..].iter().all(|s| *s == 1), "{shards:?}");
    let ids: std::collections::BTreeSet<u64> =
        rows.iter().map(|r| r["id"].as_u64().unwrap()).collect();
    assert_eq!(ids.len(), rows.len(), "ids are unique");
    let summary: serde_json::Value = common::json(&merged, "step_summary.json");
    assert_eq!(summary["steps"][0]["load"], 4.0);
    let config: serde_json::Value = common::json(&merged, "config.json");
    assert_eq!(config["command_line"][1], "merge");
    assert!(config["settings"].get("shard").is_none());

    // Shards of another seed are another run: refused, exit 2, one line naming both.
    let other = shard(&url, "1/2", "8", &dir("s1-seed8"));
    finish(other);
    let refused = dir("refused");
    let output = merge(
        &[&dir("s0"), &dir("s1-seed8")],
        &["--out", refused.to_str().unwrap()],
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("error: ") && stderr.contains("s1-seed8") && stderr.contains("seed 8"),
        "{stderr}"
    );
    assert!(!refused.exists());
    // A shard missing: refused without --allow-partial.
    let output = merge(&[&dir("s0")], &["--out", refused.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("--allow-partial"));
    let output = merge(
        &[&dir("s0")],
        &["--out", refused.to_str().unwrap(), "--allow-partial"],
    );
    assert_eq!(output.status.code(), Some(0));
    sim.kill().unwrap();
    sim.wait().unwrap();
}
