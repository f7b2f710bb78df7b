//! `connect_rate_per_s`: new connections open at most that fast, and a closed-loop step's
//! measure window starts only once its level can have been reached.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_window_starts_when_the_level_is_reached() {
    let sim = common::fixed_sim().await;
    let out = tempfile::tempdir().unwrap();
    // 24 streams at 24 new connections a second: the level takes 1 s to reach, the 0.5 s
    // warmup covers half of it, so the step's ramp is lengthened to 0.5 s.
    let mut config = common::config(&sim.base_url(), out.path(), &[24.0], 1.5);
    config.connect_rate_per_s = 24.0;
    config.max_output_tokens = "64".parse().unwrap();
    let outcome = common::run(config).await;
    let step = &outcome.steps[0];
    assert!(
        (step.window_start_s - 1.0).abs() < 1e-6,
        "window starts at {} s",
        step.window_start_s
    );
    // Every slot was streaming through the window: the level was held, not still ramping.
    let inflight = step.inflight.unwrap();
    assert!(inflight.mean >= 0.9 * 24.0, "in flight {inflight:?}");
    assert!(
        outcome.warnings.iter().any(|w| w
            .contains("step 0 (load 24): its ramp took 0.50 s instead of 0.00 s")
            && w.contains("--connect-rate")),
        "{:?}",
        outcome.warnings
    );
    let config_json = common::json(&outcome.run_dir, "config.json");
    assert_eq!(config_json["settings"]["connect_rate_per_s"], 24.0);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fast_rate_leaves_the_schedule_as_given() {
    let sim = common::fixed_sim().await;
    let out = tempfile::tempdir().unwrap();
    let mut config = common::config(&sim.base_url(), out.path(), &[2.0, 4.0], 0.5);
    config.ramp = Duration::from_millis(200);
    let outcome = common::run(config).await;
    let starts: Vec<f64> = outcome.steps.iter().map(|s| s.window_start_s).collect();
    // 0.5 s warmup, 0.2 s ramp, 0.5 s window, then 0.2 s ramp again.
    assert!(
        (starts[0] - 0.7).abs() < 1e-6 && (starts[1] - 1.4).abs() < 1e-6,
        "{starts:?}"
    );
    assert!(
        !outcome
            .warnings
            .iter()
            .any(|w| w.contains("--connect-rate"))
    );
    sim.shutdown().await;
}
