//! `--arrival trace:PATH --trace-speed F` end to end: the binary replays a Mooncake sample
//! against the simulator, and refuses the flags a trace makes meaningless, by name.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::BIN;

fn sample() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/traces/mooncake-40.jsonl")
}

#[test]
fn a_mooncake_trace_replays_end_to_end() {
    let (mut sim, url) = common::start_sim(&[]);
    let out = tempfile::tempdir().unwrap();
    let run_dir = out.path().join("run");
    let arrival = format!("trace:{}", sample().display());
    let output = Command::new(BIN)
        .args(["--base-url", &url, "--quiet", "--no-gpu", "--ignore-eos"])
        .args(["--arrival", &arrival, "--trace-speed", "8"])
        .args([
            "--warmup-s",
            "0.25",
            "--step-duration-s",
            "0.5",
            "--timeout-s",
            "5",
        ])
        .args([
            "--endpoint",
            "completions",
            "--run-dir",
            run_dir.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let _ = sim.kill();
    let _ = sim.wait();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    let trace: Vec<serde_json::Value> = std::fs::read_to_string(sample())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let mut rows: Vec<serde_json::Value> = common::rows(&run_dir);
    rows.sort_by_key(|r| r["id"].as_u64().unwrap());
    let ids: Vec<u64> = rows.iter().map(|r| r["id"].as_u64().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
    let t0 = trace[0]["timestamp"].as_f64().unwrap();
    for row in &rows {
        let i = row["id"].as_u64().unwrap() as usize;
        let want = &trace[i];
        assert_eq!(row["status"], "ok", "{row}");
        assert_eq!(row["completion_tokens"], want["output_length"], "{row}");
        let scheduled = row["start_s"].as_f64().unwrap() - row["sched_delay_s"].as_f64().unwrap();
        let offset = (want["timestamp"].as_f64().unwrap() - t0) / 1000.0 / 8.0;
        assert!(
            (scheduled - offset).abs() < 1e-6,
            "row {i}: {scheduled} vs {offset}"
        );
    }
    let config: serde_json::Value = common::json(&run_dir, "config.json");
    let settings = &config["settings"];
    assert_eq!(settings["arrival"], "trace");
    assert_eq!(settings["load_mode"], "rate");
    assert_eq!(settings["trace"]["format"], "mooncake");
    assert_eq!(settings["trace"]["speed"], 8.0);
    assert_eq!(settings["trace"]["rows_replayed"], 40);
    let summary: serde_json::Value = common::json(&run_dir, "step_summary.json");
    let steps = summary["steps"].as_array().unwrap();
    assert_eq!(steps.len(), settings["steps"].as_array().unwrap().len());
    let measured: u64 = steps
        .iter()
        .map(|s| s["counts"]["started"].as_u64().unwrap())
        .sum();
    let warmup = rows.iter().filter(|r| r["phase"] == "warmup").count() as u64;
    // Every row sent once, or (on a very loaded machine) counted unsent past its slice.
    let unsent: u64 = steps
        .iter()
        .map(|s| s["unsent_arrivals"].as_u64().unwrap_or(0))
        .sum();
    assert_eq!(rows.len() as u64, measured + warmup);
    assert_eq!(measured + warmup + unsent, 40);
    assert!(unsent <= 2, "{unsent} unsent");
}

#[test]
fn flags_a_trace_makes_meaningless_are_refused_by_name() {
    let arrival = format!("trace:{}", sample().display());
    for (extra, flag) in [
        (&["--steps", "1,2"][..], "--steps"),
        (&["--steps", "auto"], "--steps"),
        (&["--request-rate", "4"], "--request-rate"),
        (&["--num-prompts", "10"], "--num-prompts"),
        (&["--load-mode", "concurrency"], "--load-mode concurrency"),
        (&["--input-size", "10"], "--input-size"),
        (&["--max-output-tokens", "10"], "--max-output-tokens"),
        (&["--ramp-s", "1"], "--ramp-s"),
    ] {
        let output = Command::new(BIN)
            .args(["--simulate", "--quiet", "--arrival", &arrival])
            .args(extra)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{extra:?}: {stderr}");
        assert!(
            stderr.contains(&format!("{flag} does not apply to --arrival trace:PATH")),
            "{extra:?}: {stderr}"
        );
    }
    for (args, want) in [
        (
            vec![
                "--arrival".to_owned(),
                arrival.clone(),
                "--trace-speed".into(),
                "0".into(),
            ],
            "invalid --trace-speed 0",
        ),
        (
            vec![
                "--load-mode".into(),
                "rate".into(),
                "--trace-speed".into(),
                "2".into(),
            ],
            "--trace-speed applies to --arrival trace:PATH only",
        ),
        (
            vec!["--arrival".into(), "trace:nope.bin".into()],
            "invalid --arrival \"trace:nope.bin\"",
        ),
        (
            vec![
                "--arrival".into(),
                arrival.clone(),
                "--turns".into(),
                "2".into(),
            ],
            "invalid --turns 2: a trace replays single requests at their own times",
        ),
        (
            vec!["--arrival".into(), "trace:/nonexistent/t.jsonl".into()],
            "cannot read trace /nonexistent/t.jsonl",
        ),
    ] {
        let output = Command::new(BIN)
            .args(["--simulate", "--quiet"])
            .args(&args)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(want), "{args:?}: {stderr}");
    }
}
