//! Saturation named without `--slo`, and `--steps auto` counting the requests that outlive a
//! window as censored rather than absent.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use loadtest_run::files;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quadrupled_step_past_capacity_is_called_saturated() {
    // At most 4 sequences run: load 8 queues half of its requests.
    let sim = common::small_batching_sim().await;
    let out = tempfile::tempdir().unwrap();
    let config = common::config(&sim.base_url(), out.path(), &[1.0, 2.0, 8.0], 1.5);
    let outcome = common::run(config).await;
    let summary = common::json(&outcome.run_dir, files::STEP_SUMMARY);
    let sat = &summary["saturation"];
    assert_eq!(sat["load"], 8.0, "{summary}");
    assert_eq!(sat["below_load"], 2.0, "{sat}");
    // Doubling below capacity is not saturation.
    assert!(sat["throughput_gain"].as_f64().unwrap() < 1.5, "{sat}");
    let (waiting, running) = (
        sat["server_waiting_running"][0].as_f64().unwrap(),
        sat["server_waiting_running"][1].as_f64().unwrap(),
    );
    assert!(waiting >= 0.5 * running, "{sat}");
    let md = std::fs::read_to_string(outcome.run_dir.join(files::SUMMARY_MD)).unwrap();
    assert!(md.contains("**Saturated at load 8**"), "{md}");
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn below_capacity_nothing_is_called_saturated() {
    let sim = common::small_batching_sim().await;
    let out = tempfile::tempdir().unwrap();
    let config = common::config(&sim.base_url(), out.path(), &[1.0, 2.0, 4.0], 1.5);
    let outcome = common::run(config).await;
    let summary = common::json(&outcome.run_dir, files::STEP_SUMMARY);
    assert!(summary["saturation"].is_null(), "{summary}");
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn steps_auto_sees_saturation_when_requests_outlive_the_window() {
    // Requests of 128 tokens at >= 8 ms per iteration last over a second: longer than the
    // 0.5 s windows. Finished requests alone would be the fast ones (or none).
    let sim = common::small_batching_sim().await;
    let out = tempfile::tempdir().unwrap();
    let mut config = common::config(&sim.base_url(), out.path(), &[], 0.5);
    config.max_inflight = 4096;
    config.steps = loadtest_sweep::auto_stop::doubling_steps(config.max_inflight);
    config.auto_stop = Some(loadtest_run::AutoStop::default());
    config.max_output_tokens = "128".parse().unwrap();
    config.target.client.request_timeout = Duration::from_secs(60);
    let t0 = Instant::now();
    let outcome = common::run(config).await;
    let summary = common::json(&outcome.run_dir, files::STEP_SUMMARY);
    let stopped = &summary["auto_stopped"];
    let load = stopped["load"]
        .as_f64()
        .unwrap_or_else(|| panic!("did not stop: {summary}"));
    assert!(load <= 64.0, "stopped only at {load}: {stopped}");
    // The unfinished requests are reported per step.
    let last = summary["steps"].as_array().unwrap().last().unwrap().clone();
    assert!(
        last["unfinished_at_window_end"].as_u64().unwrap() > 0,
        "{last}"
    );
    assert!(
        t0.elapsed() < Duration::from_secs(60),
        "took {:?}",
        t0.elapsed()
    );
    sim.shutdown().await;
}
