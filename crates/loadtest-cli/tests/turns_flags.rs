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
    let by = by_conversation(&rows);
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
        common::refusal(
            &["--base-url", "http://127.0.0.1:1", "--prompt-text", "hi"],
            &args,
            needle,
        );
    }
}

/// The multi-turn ShareGPT rows of the repository's test data.
fn multiturn_dataset() -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/datasets/sharegpt_multiturn.json");
    format!("sharegpt:{}", path.display())
}

#[test]
fn turns_dataset_runs_each_rows_own_turns() {
    let (mut sim, url) = common::start_sim_with("5", "1", &[]);
    let out = tempfile::tempdir().unwrap();
    let run_dir = out.path().join("run");
    let o = Command::new(BIN)
        .args(["--base-url", &url, "--dataset", &multiturn_dataset()])
        .args([
            "--no-gpu",
            "--steps",
            "2",
            "--step-duration-s",
            "1",
            "--warmup-s",
            "0",
        ])
        .args(["--max-output-tokens", "4", "--timeout-s", "5"])
        .args(["--turns", "dataset", "--think-time-s", "0.01"])
        .args(["--run-dir", run_dir.to_str().unwrap()])
        .output()
        .unwrap();
    sim.kill().unwrap();
    let stderr = text(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    let rows: Vec<serde_json::Value> = common::rows(&run_dir);
    let by = by_conversation(&rows);
    let mut lengths = std::collections::BTreeSet::new();
    for (c, turns) in &by {
        let n = turns[0]["conversation_turns"].as_u64().unwrap();
        assert!((1..=4).contains(&n), "conversation {c}: {n} turns");
        for (k, row) in turns.iter().enumerate() {
            assert_eq!(row["turn"].as_u64(), Some(k as u64), "conversation {c}");
            assert_eq!(row["id"].as_u64(), Some(c * 1000 + k as u64));
            assert_eq!(row["conversation_turns"].as_u64(), Some(n));
        }
        assert!(turns.len() as u64 <= n);
        if turns.len() as u64 == n {
            lengths.insert(n);
        }
    }
    assert!(
        lengths.len() >= 2,
        "complete conversations of {lengths:?} turns"
    );
    let config: serde_json::Value = common::json(&run_dir, "config.json");
    assert_eq!(config["settings"]["turns"], "dataset");
    assert_eq!(config["settings"]["dataset"]["conversations"]["turns"], 15);
    let summary: serde_json::Value = common::json(&run_dir, "step_summary.json");
    assert!(summary["steps"][0].get("conversations_aborted").is_none());
    let report = std::fs::read_to_string(run_dir.join("summary.md")).unwrap();
    assert!(
        report.contains("Each conversation is a dataset row"),
        "{report}"
    );
}

#[test]
fn turns_dataset_refuses_what_it_cannot_mean() {
    let dir = tempfile::tempdir().unwrap();
    let jsonl = dir.path().join("rows.jsonl");
    std::fs::write(&jsonl, "{\"prompt\": \"hello there\"}\n").unwrap();
    let jsonl = format!("jsonl:{}", jsonl.display());
    let sharegpt = multiturn_dataset();
    let trace = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/traces/mooncake-40.jsonl");
    let trace = format!("trace:{}", trace.display());
    let no_dataset = "invalid --turns dataset: each conversation is a row of a ShareGPT dataset, with its own turns: it takes --dataset sharegpt:PATH";
    for (args, needle) in [
        (vec!["--prompt-text", "hi"], no_dataset),
        (vec!["--dataset", &jsonl], no_dataset),
        (
            vec!["--dataset", &sharegpt, "--endpoint", "completions"],
            "invalid --turns dataset: a conversation's history is chat messages: it takes --endpoint chat, not --endpoint completions",
        ),
        (
            vec!["--dataset", &sharegpt, "--num-prompts", "5"],
            "invalid --turns dataset: conversations span steps",
        ),
        (
            vec!["--load-mode", "rate", "--arrival", &trace],
            "invalid --turns dataset: a trace replays single requests at their own times",
        ),
    ] {
        common::refusal(
            &["--base-url", "http://127.0.0.1:1", "--turns", "dataset"],
            &args,
            needle,
        );
    }
    let o = Command::new(BIN)
        .args(["--base-url", "http://127.0.0.1:1", "--turns", "some"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).contains("`dataset`"), "{}", text(&o.stderr));
}

/// Rows grouped by their conversation.
fn by_conversation(rows: &[serde_json::Value]) -> BTreeMap<u64, Vec<&serde_json::Value>> {
    let mut by: BTreeMap<u64, Vec<&serde_json::Value>> = BTreeMap::new();
    for row in rows {
        by.entry(row["conversation"].as_u64().unwrap())
            .or_default()
            .push(row);
    }
    by
}
