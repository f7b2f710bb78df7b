//! `--arrival trace:PATH` against the simulator: every row sent once, at its timestamp over
//! the speed, with its output length as `max_tokens`; the steps are the trace's slices; with
//! the tokenizer the server counts exactly the row's input length.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use loadtest_client::Endpoint;
use loadtest_run::{Shard, files};
use loadtest_sim::{Profile, SimConfig, SimTokenizer, Simulator};
use loadtest_sweep::tokenize::TokenCounter;
use loadtest_sweep::trace::{TraceOptions, TraceReplay, TraceSpec, load_trace, replay_trace};

fn testdata(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata")
        .join(name)
}

/// The sample's rows as JSON, in order.
fn mooncake_rows() -> Vec<serde_json::Value> {
    std::fs::read_to_string(testdata("traces/mooncake-40.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn load(name: &str, speed: f64) -> Arc<TraceReplay> {
    let spec: TraceSpec = testdata(name).display().to_string().parse().unwrap();
    let mut options = TraceOptions::new(Duration::from_millis(500), Duration::from_secs(1));
    options.speed = speed;
    Arc::new(load_trace(&spec, options).unwrap())
}

/// Rows by request id, each id once.
fn by_id(run_dir: &Path) -> Vec<serde_json::Value> {
    let mut rows = common::rows(run_dir);
    rows.sort_by_key(|r| r["id"].as_u64().unwrap());
    let ids: Vec<u64> = rows.iter().map(|r| r["id"].as_u64().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
    rows
}

/// Every trace row was sent once, or counted as unsent (open loop: an arrival the dispatcher
/// reached after its slice had ended, which only a very loaded machine sees).
fn all_accounted(outcome: &loadtest_sweep::RunOutcome, rows: usize, trace_rows: usize) {
    let unsent: u64 = outcome.steps.iter().map(|s| s.unsent_arrivals).sum();
    assert_eq!(rows as u64 + unsent, trace_rows as u64, "{unsent} unsent");
    assert!(unsent <= 2, "{unsent} unsent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mooncake_trace_replays_on_its_schedule() {
    let sim = common::fixed_sim().await;
    let out = tempfile::tempdir().unwrap();
    let speed = 4.0;
    let trace = load("traces/mooncake-40.jsonl", speed);
    let mut config = common::config(&sim.base_url(), out.path(), &[1.0], 1.0);
    replay_trace(&mut config, Arc::clone(&trace));
    let outcome = common::run(config).await;
    let trace_rows = mooncake_rows();
    let rows = by_id(&outcome.run_dir);
    all_accounted(&outcome, rows.len(), trace_rows.len());
    let t0 = trace_rows[0]["timestamp"].as_f64().unwrap();
    for row in &rows {
        let i = row["id"].as_u64().unwrap() as usize;
        let want = &trace_rows[i];
        assert_eq!(row["status"], "ok", "{row}");
        let scheduled = row["start_s"].as_f64().unwrap() - row["sched_delay_s"].as_f64().unwrap();
        let offset = (want["timestamp"].as_f64().unwrap() - t0) / 1000.0 / speed;
        assert!(
            (scheduled - offset).abs() < 1e-6,
            "row {i}: {scheduled} vs {offset}"
        );
        let out_len = want["output_length"].as_u64();
        assert_eq!(row["max_tokens"].as_u64(), out_len, "{row}");
        assert_eq!(row["completion_tokens"].as_u64(), out_len, "{row}");
        // Words without a tokenizer: the row's length in words.
        assert_eq!(row["input_tokens_target"], want["input_length"], "{row}");
    }
    // The steps are the slices: 1 s of run time (4 s of trace) each after a 0.5 s warmup.
    let counts = trace.step_counts(Shard::SINGLE);
    assert_eq!(outcome.steps.len(), counts.len());
    let in_warmup = trace_rows
        .iter()
        .filter(|r| (r["timestamp"].as_f64().unwrap() - t0) / 1000.0 / speed < 0.5)
        .count() as u64;
    assert_eq!(in_warmup + counts.iter().sum::<u64>(), 40);
    for (step, &n) in outcome.steps.iter().zip(&counts) {
        // Warmup arrivals left unsent count in step 0.
        assert!(step.counts.started <= n, "step {}", step.step);
        assert!(
            step.counts.started + step.unsent_arrivals >= n,
            "step {}",
            step.step
        );
        assert_eq!(step.load, n as f64, "step {}", step.step);
        assert_eq!(step.load_mode, "rate");
        let in_step = rows
            .iter()
            .filter(|r| r["step"].as_u64() == Some(step.step as u64) && r["phase"] == "measure")
            .count() as u64;
        assert_eq!(in_step, step.counts.started);
    }
    // The steps' loads follow the trace: no knee or saturation is claimed from them.
    let summary = common::json(&outcome.run_dir, files::STEP_SUMMARY);
    assert!(summary["knee"].is_null() && summary["saturation"].is_null());
    let md = std::fs::read_to_string(outcome.run_dir.join(files::SUMMARY_MD)).unwrap();
    assert!(md.contains("No knee or saturation verdict"), "{md}");
    let config = common::json(&outcome.run_dir, files::CONFIG);
    let settings = &config["settings"];
    assert_eq!(settings["arrival"], "trace");
    assert_eq!(settings["input_mode"], "trace");
    let facts = &settings["trace"];
    assert_eq!(facts["format"], "mooncake");
    assert_eq!(facts["rows"], 40);
    assert_eq!(facts["rows_replayed"], 40);
    assert_eq!(facts["speed"], 4.0);
    assert_eq!(facts["sha256"].as_str().unwrap().len(), 64);
    // Every field is documented (`max_steps` only appears with --trace-max-steps).
    let mut keys: Vec<String> = facts.as_object().unwrap().keys().cloned().collect();
    keys.push("max_steps".to_owned());
    keys.sort();
    let mut doc = documented_trace_fields();
    doc.sort();
    assert_eq!(keys, doc);
    sim.shutdown().await;
}

/// The fields of docs/output-format.md's `<!-- schema: trace -->` table.
fn documented_trace_fields() -> Vec<String> {
    let doc = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/output-format.md"
    ))
    .unwrap();
    let marker = "<!-- schema: trace -->";
    let start = doc.find(marker).unwrap() + marker.len();
    doc[start..]
        .lines()
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .skip(2)
        .map(|l| {
            l.split('|')
                .nth(1)
                .unwrap()
                .trim()
                .trim_matches('`')
                .to_owned()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_tokenizer_the_server_counts_each_rows_input_length() {
    let dir = testdata("tiny-llama-tokenizer");
    let mut sim_config = SimConfig::ephemeral();
    sim_config.profile = Profile::Fixed;
    sim_config.ttft = Duration::from_millis(5);
    sim_config.itl = Duration::from_millis(2);
    sim_config.tokenizer = Some(SimTokenizer::load(&dir).unwrap());
    let sim = Simulator::start(sim_config).await.unwrap();
    let out = tempfile::tempdir().unwrap();
    let mut config = common::config(&sim.base_url(), out.path(), &[1.0], 1.0);
    replay_trace(&mut config, load("traces/mooncake-40.jsonl", 8.0));
    config.target.endpoint = Endpoint::Completions;
    config.tokenizer = Some(Arc::new(TokenCounter::load(&dir).unwrap()));
    let outcome = common::run(config).await;
    let rows = by_id(&outcome.run_dir);
    let trace_rows = mooncake_rows();
    all_accounted(&outcome, rows.len(), trace_rows.len());
    for row in &rows {
        let want = &trace_rows[row["id"].as_u64().unwrap() as usize];
        assert_eq!(row["status"], "ok", "{row}");
        assert_eq!(row["prompt_tokens"], want["input_length"], "{row}");
        assert_eq!(row["input_tokens_target"], want["input_length"], "{row}");
    }
    let config = common::json(&outcome.run_dir, files::CONFIG);
    assert_eq!(config["settings"]["token_counting"]["method"], "tokenizer");
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burstgpt_trace_skips_its_failed_rows() {
    let sim = common::fixed_sim().await;
    let out = tempfile::tempdir().unwrap();
    // 27 s of trace at speed 20: 1.35 s.
    let trace = load("traces/burstgpt-30.csv", 20.0);
    assert_eq!((trace.facts().rows, trace.facts().rows_skipped), (30, 2));
    let mut config = common::config(&sim.base_url(), out.path(), &[1.0], 1.0);
    replay_trace(&mut config, trace);
    let outcome = common::run(config).await;
    let rows = by_id(&outcome.run_dir);
    all_accounted(&outcome, rows.len(), 28);
    let csv = std::fs::read_to_string(testdata("traces/burstgpt-30.csv")).unwrap();
    let kept: Vec<Vec<&str>> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect::<Vec<_>>())
        .filter(|f| f[3] != "0")
        .collect();
    let t0: f64 = kept[0][0].parse().unwrap();
    for row in &rows {
        let want = &kept[row["id"].as_u64().unwrap() as usize];
        assert_eq!(row["status"], "ok", "{row}");
        assert_eq!(row["max_tokens"].as_u64(), want[3].parse().ok(), "{row}");
        let scheduled = row["start_s"].as_f64().unwrap() - row["sched_delay_s"].as_f64().unwrap();
        let offset = (want[0].parse::<f64>().unwrap() - t0) / 20.0;
        assert!((scheduled - offset).abs() < 1e-6, "{scheduled} vs {offset}");
    }
    let config = common::json(&outcome.run_dir, files::CONFIG);
    assert_eq!(config["settings"]["trace"]["format"], "burstgpt");
    assert_eq!(config["settings"]["trace"]["rows_skipped"], 2);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_shards_replay_the_trace_once_between_them() {
    let sim = common::fixed_sim().await;
    let out = tempfile::tempdir().unwrap();
    let trace = load("traces/mooncake-40.jsonl", 8.0);
    let trace_rows = mooncake_rows();
    let t0 = trace_rows[0]["timestamp"].as_f64().unwrap();
    let (mut ids, mut unsent) = (Vec::new(), 0);
    for i in 0..2 {
        let mut config = common::config(&sim.base_url(), out.path(), &[1.0], 1.0);
        replay_trace(&mut config, Arc::clone(&trace));
        config.shard = Shard::new(i, 2).unwrap();
        let outcome = common::run(config).await;
        unsent += outcome.steps.iter().map(|s| s.unsent_arrivals).sum::<u64>();
        let own = trace.step_counts(Shard::new(i, 2).unwrap());
        for (step, n) in outcome.steps.iter().zip(own) {
            assert_eq!(step.load, n as f64);
        }
        for row in by_id(&outcome.run_dir) {
            let id = row["id"].as_u64().unwrap();
            assert_eq!(id % 2, u64::from(i));
            let want = &trace_rows[id as usize];
            let scheduled =
                row["start_s"].as_f64().unwrap() - row["sched_delay_s"].as_f64().unwrap();
            let offset = (want["timestamp"].as_f64().unwrap() - t0) / 1000.0 / 8.0;
            assert!((scheduled - offset).abs() < 1e-6, "{scheduled} vs {offset}");
            assert_eq!(row["max_tokens"], want["output_length"]);
            ids.push(id);
        }
    }
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len() as u64 + unsent, 40);
    assert!(unsent <= 2);
    sim.shutdown().await;
}
