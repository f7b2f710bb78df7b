//! `--turns N --think-time-s DIST`, run as the binary: multi-turn conversations end to end
//! against the simulator, and the combinations refused before anything starts.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::process::Command;

use common::{BIN, TINY_RUN};

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn turns_run_conversations_end_to_end() {
    let (mut sim, url) = common::start_sim_with("5", "1", &[]);
    let out = tempfile::tempdir().unwrap();
    let run_dir = out.path().join("run");
    let o = Command::new(BIN)
        .args(["--base-url", &url, "--input-size", "8"])
        .args(TINY_RUN)
        .args(["--turns", "2", "--think-time-s", "0.05"])
        .args(["--run-dir", run_dir.to_str().unwrap()])
        .output()
        .unwrap();
    sim.kill().unwrap();
    let stderr = text(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    let rows: Vec<serde_json::Value> = common::rows(&run_dir);
    let mut by: BTreeMap<u64, Vec<&serde_json::Value>> = BTreeMap::new();
    for row in &rows {
        by.entry(row["conversation"].as_u64().unwrap())
            .or_default()
            .push(row);
    }
    let mut complete = 0;
    for (c, turns) in &by {
        assert_eq!(turns[0]["turn"], 0, "conversation {c}");
        assert_eq!(turns[0]["id"].as_u64(), Some(c * 2));
        if let [first, second] = turns.as_slice() {
            complete += 1;
            assert_eq!(second["turn"], 1);
            let end = first["start_s"].as_f64().unwrap() + first["total_s"].as_f64().unwrap();
            assert!(second["start_s"].as_f64().unwrap() >= end + 0.049);
            let grown = first["prompt_tokens"].as_u64().unwrap()
                + first["completion_tokens"].as_u64().unwrap();
            assert!(second["prompt_tokens"].as_u64().unwrap() > grown);
        }
    }
    assert!(complete >= 2, "{rows:?}");
    let config: serde_json::Value = common::json(&run_dir, "config.json");
    assert_eq!(config["settings"]["turns"], 2);
    assert_eq!(config["settings"]["think_time_s"], "0.05");
    let report = std::fs::read_to_string(run_dir.join("summary.md")).unwrap();
    assert!(report.contains("## Conversations"), "{report}");
}

#[test]
fn turns_flags_refuse_what_they_cannot_mean() {
    for (args, needle) in [
        (
            vec!["--turns", "2", "--endpoint", "completions"],
            "invalid --turns 2: a conversation's history is chat messages: it takes --endpoint chat, not --endpoint completions",
        ),
        (
            vec!["--turns", "2", "--num-prompts", "5"],
            "invalid --turns 2: conversations span steps",
        ),
        (
            vec!["--turns", "0"],
            "invalid --turns 0: expected a whole number",
        ),
        (
            vec!["--turns", "2", "--think-time-s", "uniform:2:1"],
            "invalid --think-time-s \"uniform:2:1\": min is above max",
        ),
        (
            vec!["--turns", "2", "--think-time-s", "-1"],
            "invalid --think-time-s \"-1\"",
        ),
        (vec!["--think-time-s", "1"], "--turns"),
    ] {
        let o = Command::new(BIN)
            .args(["--base-url", "http://127.0.0.1:1", "--prompt-text", "hi"])
            .args(&args)
            .output()
            .unwrap();
        let stderr = text(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
    }
}
