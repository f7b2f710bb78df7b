//! Open-loop rate mode, SLO goodput and knee detection against the simulator.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use loadtest_run::Arrival;
use loadtest_run::LoadMode;
use loadtest_run::files;

fn cv(xs: &[f64]) -> f64 {
    let m = xs.iter().sum::<f64>() / xs.len() as f64;
    let var = xs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (xs.len() - 1) as f64;
    var.sqrt() / m
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn below_saturation_the_offered_rate_is_achieved() {
    let sim = common::fixed_sim().await;
    let out = tempfile::tempdir().unwrap();
    let mut config = common::config(&sim.base_url(), out.path(), &[50.0], 2.0);
    config.load_mode = LoadMode::Rate;
    config.arrival = Arrival::Constant;
    config.slo = Some("ttft=500ms,p99:e2e=2s".parse().unwrap());
    let outcome = common::run(config).await;
    let step = &outcome.steps[0];
    assert_eq!(step.offered_rps, Some(50.0));
    let achieved = step.achieved_rps;
    assert!(
        (achieved - 50.0).abs() <= 0.02 * 50.0,
        "achieved {achieved}"
    );
    let lag = step.dispatch_lag_s.unwrap();
    assert!(lag.p50 < 0.002, "dispatch lag p50 {}", lag.p50);
    let delay = step.sched_delay_s.unwrap();
    assert!(delay.p50 < 0.01, "sched delay p50 {}", delay.p50);
    let slo = step.slo.as_ref().unwrap();
    assert!(slo.met, "{slo:?}");
    assert!(slo.good_fraction.unwrap() > 0.95);
    assert!((slo.goodput_rps - step.rps).abs() < 0.15 * step.rps + 1.0);
    let summary = common::json(&outcome.run_dir, files::STEP_SUMMARY);
    assert_eq!(summary["slo_max_load"], 50.0);
    let rows = common::rows(&outcome.run_dir);
    assert!(rows.iter().all(|r| r["sched_delay_s"].is_number()));
    let md = std::fs::read_to_string(outcome.run_dir.join(files::SUMMARY_MD)).unwrap();
    assert!(md.contains("sched delay p50 / p99"), "{md}");
    assert!(md.contains("met up to load **50**"), "{md}");
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn above_saturation_delay_from_schedule_grows_while_service_time_stays_bounded() {
    let sim = common::fixed_sim().await;
    let out = tempfile::tempdir().unwrap();
    // 4 slots × ~95 ms per request ≈ 42 req/s of capacity; offer 80.
    let mut config = common::config(&sim.base_url(), out.path(), &[80.0], 3.0);
    config.load_mode = LoadMode::Rate;
    config.max_inflight = 4;
    config.warmup = Duration::ZERO;
    let outcome = common::run(config).await;
    let step = &outcome.steps[0];
    let ttft = step.ttft_s.unwrap();
    let ttft_sched = step.ttft_from_sched_s.unwrap();
    assert!(ttft.p99 < 0.2, "service TTFT stays bounded: {}", ttft.p99);
    assert!(
        ttft_sched.p99 > 5.0 * ttft.p99,
        "{} vs {}",
        ttft_sched.p99,
        ttft.p99
    );
    // The CO signal: delay from schedule grows over the window.
    let mut rows: Vec<(f64, f64)> = common::rows(&outcome.run_dir)
        .iter()
        .filter(|r| r["phase"] == "measure" && r["status"] == "ok")
        .map(|r| {
            let delay = r["sched_delay_s"].as_f64().unwrap();
            (r["start_s"].as_f64().unwrap() - delay, delay)
        })
        .collect();
    rows.sort_by(|a, b| a.0.total_cmp(&b.0));
    let quarter = rows.len() / 4;
    let early: f64 = rows[..quarter].iter().map(|r| r.1).sum::<f64>() / quarter as f64;
    let late: f64 = rows[rows.len() - quarter..]
        .iter()
        .map(|r| r.1)
        .sum::<f64>()
        / quarter as f64;
    assert!(late > 3.0 * early + 0.1, "early {early} late {late}");
    assert!(
        outcome
            .warnings
            .iter()
            .any(|w| w.contains("scheduled in the window")
                && w.contains("could not keep the schedule")),
        "achieved {} warnings {:?}",
        step.achieved_rps,
        outcome.warnings
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poisson_arrivals_have_unit_coefficient_of_variation() {
    let sim = common::fixed_sim().await;
    let out = tempfile::tempdir().unwrap();
    let mut config = common::config(&sim.base_url(), out.path(), &[100.0], 3.0);
    config.load_mode = LoadMode::Rate;
    config.warmup = Duration::ZERO;
    let outcome = common::run(config).await;
    let mut scheduled: Vec<f64> = common::rows(&outcome.run_dir)
        .iter()
        .map(|r| r["start_s"].as_f64().unwrap() - r["sched_delay_s"].as_f64().unwrap())
        .collect();
    scheduled.sort_by(f64::total_cmp);
    let gaps: Vec<f64> = scheduled.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(gaps.len() > 200, "{}", gaps.len());
    let cv = cv(&gaps);
    assert!((cv - 1.0).abs() < 0.2, "cv {cv}");
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_knee_is_found_at_the_simulators_capacity() {
    let sim = common::small_batching_sim().await;
    let out = tempfile::tempdir().unwrap();
    let config = common::config(
        &sim.base_url(),
        out.path(),
        &[1.0, 2.0, 4.0, 8.0, 16.0],
        2.0,
    );
    let outcome = common::run(config).await;
    let summary = common::json(&outcome.run_dir, files::STEP_SUMMARY);
    let knee = &summary["knee"];
    let load = knee["load"]
        .as_f64()
        .unwrap_or_else(|| panic!("no knee: {summary}"));
    assert!((4.0..=8.0).contains(&load), "knee at {load}: {knee}");
    let md = std::fs::read_to_string(outcome.run_dir.join(files::SUMMARY_MD)).unwrap();
    assert!(md.contains("**Knee at load"));
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn steps_auto_stops_after_the_knee() {
    let sim = common::small_batching_sim().await;
    let out = tempfile::tempdir().unwrap();
    let mut config = common::config(&sim.base_url(), out.path(), &[], 2.0);
    config.max_inflight = 256;
    config.steps = loadtest_sweep::auto_stop::doubling_steps(config.max_inflight);
    config.auto_stop = Some(loadtest_run::AutoStop::default());
    let outcome = common::run(config).await;
    let summary = common::json(&outcome.run_dir, files::STEP_SUMMARY);
    let stopped = &summary["auto_stopped"];
    let load = stopped["load"]
        .as_f64()
        .unwrap_or_else(|| panic!("did not stop: {summary}"));
    assert!((8.0..=16.0).contains(&load), "stopped at {load}: {stopped}");
    assert!(
        stopped["reason"].as_str().unwrap().contains("knee"),
        "{stopped}"
    );
    // Steps after the stop are not summarised, and the run took far less than 9 steps.
    assert_eq!(outcome.steps.last().unwrap().load, load);
    assert!(outcome.steps.len() < 9);
    assert!(!outcome.interrupted);
    let md = std::fs::read_to_string(outcome.run_dir.join(files::SUMMARY_MD)).unwrap();
    assert!(md.contains("`--steps auto` stopped after load"), "{md}");
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bursty_draw_with_few_arrivals_is_not_blamed_on_the_client() {
    // Plenty of capacity; gamma:0.5 at 4 req/s over 2 s may draw well under 8 arrivals. The
    // comparison is with the arrivals scheduled in the window, and nothing started late.
    let sim = common::fixed_sim().await;
    for seed in 0..4 {
        let out = tempfile::tempdir().unwrap();
        let mut config = common::config(&sim.base_url(), out.path(), &[4.0], 2.0);
        config.load_mode = LoadMode::Rate;
        config.arrival = loadtest_run::Arrival::Gamma { burstiness: 0.5 };
        config.warmup = Duration::ZERO;
        config.seed = seed;
        let outcome = common::run(config).await;
        let step = &outcome.steps[0];
        let scheduled = step.scheduled_rps.unwrap();
        assert!(
            (step.achieved_rps - scheduled).abs() <= 1.0,
            "seed {seed}: sent {} vs scheduled {scheduled}",
            step.achieved_rps
        );
        assert!(
            outcome
                .warnings
                .iter()
                .all(|w| !w.contains("scheduled in the window")),
            "seed {seed}: {:?}",
            outcome.warnings
        );
    }
    sim.shutdown().await;
}
