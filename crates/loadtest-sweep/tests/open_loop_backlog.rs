//! An open-loop backlog (issue 20): arrivals that wait for a `--max-inflight` slot are never
//! sent after their window ends; they are counted as `unsent_arrivals`, never dropped
//! silently.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use loadtest_run::{Arrival, LoadMode};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backlog_stops_at_the_window_end_and_is_counted() {
    let sim = common::fixed_sim().await;
    let out = tempfile::tempdir().unwrap();
    // 2 slots × ~95 ms per request ≈ 21 req/s of capacity; offer 100 for 1 s.
    let mut config = common::config(&sim.base_url(), out.path(), &[100.0], 1.0);
    config.load_mode = LoadMode::Rate;
    config.arrival = Arrival::Constant;
    config.max_inflight = 2;
    config.warmup = Duration::ZERO;
    config.cooldown = Duration::ZERO;
    let outcome = common::run(config).await;
    let step = &outcome.steps[0];
    // About 100 arrivals, about 21 sent: the rest were not sent, and are counted.
    let sent = common::rows(&outcome.run_dir);
    assert!(step.unsent_arrivals > 50, "{} unsent", step.unsent_arrivals);
    let scheduled = sent.len() as u64 + step.unsent_arrivals;
    assert!((95..=101).contains(&scheduled), "{scheduled} scheduled");
    // Nothing was sent after the window's end (the schedule's end: no cooldown).
    let last_start = sent
        .iter()
        .map(|r| r["start_s"].as_f64().unwrap())
        .fold(0.0, f64::max);
    assert!(
        last_start <= step.window_end_s + 0.01,
        "sent at {last_start} after the window ended at {}",
        step.window_end_s
    );
    let summary = common::json(&outcome.run_dir, "step_summary.json");
    assert_eq!(
        summary["steps"][0]["unsent_arrivals"].as_u64(),
        Some(step.unsent_arrivals)
    );
    assert!(
        outcome
            .warnings
            .iter()
            .any(|w| w.contains("scheduled arrivals were not sent")),
        "{:?}",
        outcome.warnings
    );
    sim.shutdown().await;
}
