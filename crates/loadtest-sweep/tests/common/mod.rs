//! Shared set-up of the sweep's end-to-end tests: a simulator and a short sweep config.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::Duration;

use loadtest_sim::{Profile, SimConfig, SimHandle, Simulator};
use loadtest_sweep::config::{SweepConfig, TargetConfig};
use loadtest_sweep::inputs::InputSource;
use loadtest_sweep::{RunOptions, RunOutcome, run_sweep};

/// A fixed-profile simulator: every request 20 ms to first token, then 5 ms per token.
pub async fn fixed_sim() -> SimHandle {
    let mut config = SimConfig::ephemeral();
    config.profile = Profile::Fixed;
    config.ttft = Duration::from_millis(20);
    config.itl = Duration::from_millis(5);
    Simulator::start(config).await.unwrap()
}

/// A batching engine that runs at most 4 sequences, with fast iterations: past 4 in flight
/// its throughput is flat and latency grows with the queue.
pub async fn small_batching_sim() -> SimHandle {
    let mut config = SimConfig::ephemeral();
    config.profile = Profile::Batching;
    config.max_num_seqs = 4;
    config.step_base = Duration::from_millis(8);
    config.step_per_seq = Duration::from_micros(500);
    config.prefill_per_token = Duration::ZERO;
    Simulator::start(config).await.unwrap()
}

/// Runs a sweep to completion with no cancel and fresh counters.
pub async fn run(config: SweepConfig) -> RunOutcome {
    run_sweep(config, RunOptions::default()).await.unwrap()
}

/// Steps of `step_s` seconds with a short warmup, synthetic prompts, 16 output tokens.
pub fn config(base_url: &str, out: &Path, steps: &[f64], step_s: f64) -> SweepConfig {
    let mut config = SweepConfig::new(
        TargetConfig::new(base_url),
        InputSource::Synthetic("uniform:20:40".parse().unwrap()),
    );
    config.steps = steps.to_vec();
    config.step_duration = Duration::from_secs_f64(step_s);
    config.warmup = Duration::from_millis(500);
    config.max_output_tokens = "16".parse().unwrap();
    config.ignore_eos = true;
    config.seed = 1;
    config.poll_interval = Duration::from_millis(250);
    config.output_dir = out.to_owned();
    config.run_name = "test".into();
    config
}

/// Every line of requests.jsonl as JSON.
pub fn rows(run_dir: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(run_dir.join("requests.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// A JSON file of the run folder.
pub fn json(run_dir: &Path, name: &str) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(run_dir.join(name)).unwrap()).unwrap()
}

/// Reads one request head, through its blank line, from a test server's connection; `None`
/// when the connection ends first (or sends 64 KiB without one). `pending` holds what was
/// read past the head, for the next request of a keep-alive connection.
pub async fn read_head(
    stream: &mut tokio::net::TcpStream,
    pending: &mut Vec<u8>,
) -> Option<String> {
    use tokio::io::AsyncReadExt;
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(i) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&pending[..i + 4]).into_owned();
            pending.drain(..i + 4);
            return Some(head);
        }
        if pending.len() > 64 * 1024 {
            return None;
        }
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => pending.extend_from_slice(&chunk[..n]),
        }
    }
}

/// The backticked names in the first column of docs/output-format.md's table after
/// `<!-- schema: NAME -->`.
pub fn documented(name: &str) -> Vec<String> {
    let doc = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/output-format.md"
    ))
    .unwrap();
    let marker = format!("<!-- schema: {name} -->");
    let start = doc
        .find(&marker)
        .unwrap_or_else(|| panic!("no schema {name}"));
    doc[start + marker.len()..]
        .lines()
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .skip(2)
        .flat_map(|l| {
            let cell = l.split('|').nth(1).unwrap().trim();
            // `a` / `b`, or `a`, `b`: one row for several fields.
            cell.split(['/', ','])
                .map(|name| name.trim().trim_matches('`').to_owned())
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Rows grouped by conversation, each conversation's rows in turn order (checked to be
/// 0, 1, 2, … with ids `conversation · turns + turn`; with `--turns dataset`, `turns` is `MAX_TURNS`).
pub fn conversations(
    rows: &[serde_json::Value],
    turns: u64,
) -> std::collections::BTreeMap<u64, Vec<serde_json::Value>> {
    let mut by: std::collections::BTreeMap<u64, Vec<serde_json::Value>> =
        std::collections::BTreeMap::new();
    for row in rows {
        let c = row["conversation"].as_u64().expect("a conversation row");
        by.entry(c).or_default().push(row.clone());
    }
    for (c, rows) in by.iter_mut() {
        rows.sort_by_key(|r| r["turn"].as_u64().unwrap());
        for (k, row) in rows.iter().enumerate() {
            assert_eq!(row["turn"].as_u64().unwrap(), k as u64, "conversation {c}");
            assert_eq!(row["id"].as_u64().unwrap(), c * turns + k as u64);
        }
    }
    by
}
