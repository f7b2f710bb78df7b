//! `--num-prompts N` and `--warmup-requests N`, run as the binary: a count sweep end to end
//! against the simulator, and the combinations refused before anything starts.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Command;

use common::BIN;

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn num_prompts_sends_exactly_n_per_step() {
    let (mut sim, url) = common::start_sim(&[]);
    let out = tempfile::tempdir().unwrap();
    let run_dir = out.path().join("run");
    let o = Command::new(BIN)
        .args(["--base-url", &url, "--no-gpu", "--random-input-len", "8"])
        .args(["--num-prompts", "5", "--max-concurrency", "2"])
        .args(["--warmup-requests", "2", "--max-output-tokens", "4"])
        .args(["--timeout-s", "5", "--run-dir", run_dir.to_str().unwrap()])
        .output()
        .unwrap();
    sim.kill().unwrap();
    let stderr = text(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    let rows: Vec<serde_json::Value> = common::rows(&run_dir);
    let phase = |p: &str| rows.iter().filter(|r| r["phase"] == p).count();
    assert_eq!((phase("warmup"), phase("measure"), rows.len()), (2, 5, 7));
    let summary: serde_json::Value = common::json(&run_dir, "step_summary.json");
    assert_eq!(summary["steps"][0]["ended_by"], "count");
    assert_eq!(summary["steps"][0]["counts"]["started"], 5);
    let config: serde_json::Value = common::json(&run_dir, "config.json");
    assert_eq!(config["settings"]["num_prompts"], 5);
    assert_eq!(config["settings"]["warmup_requests"], 2);
    assert_eq!(config["settings"]["warmup_s"], 0.0);
    // The step's line (no terminal here): 5 finished in its window.
    assert!(
        stderr.contains("step 1/1 (load 2) measured: 5 ok"),
        "{stderr}"
    );
    let report = std::fs::read_to_string(run_dir.join("summary.md")).unwrap();
    assert!(report.contains("5 requests per step"), "{report}");
}

#[test]
fn count_flags_refuse_what_they_cannot_mean() {
    for (args, needle) in [
        (vec!["--num-prompts", "0"], "invalid --num-prompts 0"),
        (
            vec!["--num-prompts", "5", "--step-duration-s", "5"],
            "--num-prompts and --step-duration-s cannot be combined",
        ),
        (
            vec!["--num-prompts", "5", "--ramp-s", "1"],
            "--num-prompts and --ramp-s cannot be combined",
        ),
        (
            vec!["--warmup-requests", "3"],
            "--warmup-requests applies with --num-prompts only",
        ),
        (
            vec![
                "--num-prompts",
                "5",
                "--warmup-requests",
                "3",
                "--warmup-s",
                "1",
            ],
            "--warmup-requests and --warmup-s cannot be combined",
        ),
        (
            vec!["--num-prompts", "3", "--steps", "4", "--shard", "1/4"],
            "invalid --num-prompts 3: with 4 shards",
        ),
    ] {
        let stderr = common::refusal(
            &["--base-url", "http://127.0.0.1:1", "--prompt-text", "hi"],
            &args,
            needle,
        );
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
    }
}
