//! `SweepConfig::num_prompts` / `warmup_requests` (`--num-prompts`, `--warmup-requests`):
//! steps that send exactly N measured requests and end when they have all finished, whatever
//! their outcome; in the closed and the open loop, sharded, and with `--steps auto`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use loadtest_run::{LoadMode, Shard, StepEnd};
use loadtest_sim::{Faults, SimConfig, Simulator};
use loadtest_sweep::config::SweepConfig;
use loadtest_sweep::validate::ConfigField;

/// A count config: `n` requests per step, `w` warmup requests.
fn counted(base_url: &str, out: &std::path::Path, steps: &[f64], n: u64, w: u64) -> SweepConfig {
    let mut c = common::config(base_url, out, steps, 60.0);
    c.num_prompts = Some(n);
    c.warmup_requests = Some(w);
    c.warmup = Duration::ZERO;
    c
}

async fn sweep(config: SweepConfig) -> loadtest_sweep::RunOutcome {
    tokio::time::timeout(Duration::from_secs(60), common::run(config))
        .await
        .expect("the sweep did not finish")
}

/// Rows of one step and phase.
fn of<'a>(rows: &'a [serde_json::Value], step: u64, phase: &str) -> Vec<&'a serde_json::Value> {
    rows.iter()
        .filter(|r| r["step"] == step && r["phase"] == phase)
        .collect()
}

fn ids(rows: &[&serde_json::Value]) -> Vec<u64> {
    let mut ids: Vec<u64> = rows.iter().map(|r| r["id"].as_u64().unwrap()).collect();
    ids.sort_unstable();
    ids
}

fn end_s(row: &serde_json::Value) -> f64 {
    row["start_s"].as_f64().unwrap() + row["total_s"].as_f64().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closed_loop_steps_send_exactly_n_and_end_at_the_last_completion() {
    let sim = common::fixed_sim().await;
    let out = tempfile::tempdir().unwrap();
    let outcome = sweep(counted(&sim.base_url(), out.path(), &[3.0, 2.0], 7, 4)).await;
    let rows = common::rows(&outcome.run_dir);
    // 4 warmup requests, then 7 per step, numbered in that order; nothing else.
    assert_eq!(rows.len(), 18, "{rows:?}");
    assert_eq!(ids(&of(&rows, 0, "warmup")), (0..4).collect::<Vec<_>>());
    assert_eq!(ids(&of(&rows, 0, "measure")), (4..11).collect::<Vec<_>>());
    assert_eq!(ids(&of(&rows, 1, "measure")), (11..18).collect::<Vec<_>>());
    assert!(rows.iter().all(|r| r["status"] == "ok"));
    let warmup_end = of(&rows, 0, "warmup")
        .into_iter()
        .map(end_s)
        .fold(0.0, f64::max);
    let mut previous_end = warmup_end;
    for (k, step) in outcome.steps.iter().enumerate() {
        assert_eq!(step.ended_by, StepEnd::Count);
        assert!(!step.partial);
        assert_eq!(step.counts.started, 7);
        assert_eq!(step.counts.ok, 7);
        assert_eq!(step.completed_in_window, 7);
        let measured = of(&rows, k as u64, "measure");
        let first_start = measured
            .iter()
            .map(|r| r["start_s"].as_f64().unwrap())
            .fold(f64::MAX, f64::min);
        let last_end = measured.iter().map(|r| end_s(r)).fold(0.0, f64::max);
        // The window: from the step's start (after the one before it ended) to its last
        // completion; its throughputs use it.
        assert!(step.window_start_s >= previous_end - 1e-3, "step {k}");
        assert!(step.window_start_s <= first_start + 1e-3, "step {k}");
        assert!(step.window_end_s >= last_end - 1e-6, "step {k}");
        assert!(step.window_end_s - last_end < 0.5, "step {k}");
        assert!((step.rps - 7.0 / step.window_s).abs() < 1e-9);
        assert!(step.inflight.unwrap().max <= step.load as u64);
        previous_end = step.window_end_s;
    }
    let summary = common::json(&outcome.run_dir, "step_summary.json");
    assert_eq!(summary["steps"][0]["ended_by"], "count");
    let config = common::json(&outcome.run_dir, "config.json");
    assert_eq!(config["settings"]["num_prompts"], 7);
    assert_eq!(config["settings"]["warmup_requests"], 4);
    let report = std::fs::read_to_string(outcome.run_dir.join("summary.md")).unwrap();
    assert!(report.contains("7 requests"), "{report}");
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn time_windows_keep_their_files() {
    let sim = common::fixed_sim().await;
    let out = tempfile::tempdir().unwrap();
    let outcome = sweep(common::config(&sim.base_url(), out.path(), &[1.0], 0.5)).await;
    assert_eq!(outcome.steps[0].ended_by, StepEnd::Window);
    let summary = common::json(&outcome.run_dir, "step_summary.json");
    assert!(summary["steps"][0].get("ended_by").is_none());
    let settings = &common::json(&outcome.run_dir, "config.json")["settings"];
    assert!(settings.get("num_prompts").is_none());
    assert!(settings.get("warmup_requests").is_none());
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_mode_sends_exactly_n_arrivals_per_step() {
    let sim = common::fixed_sim().await;
    let out = tempfile::tempdir().unwrap();
    let mut config = counted(&sim.base_url(), out.path(), &[40.0, 80.0], 12, 3);
    config.load_mode = LoadMode::Rate;
    let outcome = sweep(config).await;
    let rows = common::rows(&outcome.run_dir);
    assert_eq!(rows.len(), 3 + 12 + 12, "{rows:?}");
    assert_eq!(of(&rows, 0, "warmup").len(), 3);
    for (k, step) in outcome.steps.iter().enumerate() {
        let measured = of(&rows, k as u64, "measure");
        assert_eq!(measured.len(), 12, "step {k}");
        // Latency from the schedule: every request knows how late it started.
        assert!(measured.iter().all(|r| r["sched_delay_s"].is_number()));
        assert_eq!(step.ended_by, StepEnd::Count);
        assert_eq!(step.counts.started, 12);
        let last_end = measured.iter().map(|r| end_s(r)).fold(0.0, f64::max);
        assert!(step.window_end_s >= last_end - 1e-6);
    }
    // The same seed draws the same schedule, from each step's start.
    let again = {
        let mut c = counted(&sim.base_url(), out.path(), &[40.0, 80.0], 12, 3);
        c.load_mode = LoadMode::Rate;
        c.run_name = "again".into();
        sweep(c).await
    };
    let schedule = |outcome: &loadtest_sweep::RunOutcome| -> Vec<Vec<f64>> {
        let rows = common::rows(&outcome.run_dir);
        outcome
            .steps
            .iter()
            .enumerate()
            .map(|(k, step)| {
                let mut due: Vec<f64> = of(&rows, k as u64, "measure")
                    .iter()
                    .map(|r| {
                        r["start_s"].as_f64().unwrap()
                            - r["sched_delay_s"].as_f64().unwrap()
                            - step.window_start_s
                    })
                    .collect();
                due.sort_by(f64::total_cmp);
                due
            })
            .collect()
    };
    let (first, second) = (schedule(&outcome), schedule(&again));
    for (a, b) in first.iter().flatten().zip(second.iter().flatten()) {
        assert!((a - b).abs() < 2e-3, "{first:?} vs {second:?}");
    }
    // 12 arrivals at 40/s: the last one about 0.3 s after the step's start.
    assert!(
        first[0].iter().all(|&t| (-1e-3..3.0).contains(&t)),
        "{first:?}"
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_and_timed_out_requests_count_toward_n() {
    let mut sim_config = SimConfig::ephemeral();
    sim_config.profile = loadtest_sim::Profile::Fixed;
    sim_config.ttft = Duration::from_millis(20);
    sim_config.itl = Duration::from_millis(5);
    sim_config.seed = 3;
    sim_config.faults = Faults {
        http_500: 0.3,
        stall_probability: 0.3,
        stall: Duration::from_secs(30),
        ..Faults::default()
    };
    let sim = Simulator::start(sim_config).await.unwrap();
    let out = tempfile::tempdir().unwrap();
    let mut config = counted(&sim.base_url(), out.path(), &[3.0], 12, 0);
    config.target.client.request_timeout = Duration::from_millis(600);
    let outcome = sweep(config).await;
    let rows = common::rows(&outcome.run_dir);
    let measured = of(&rows, 0, "measure");
    assert_eq!(measured.len(), 12);
    let mut by_status: BTreeMap<String, u64> = BTreeMap::new();
    for r in &measured {
        *by_status
            .entry(r["status"].as_str().unwrap().to_owned())
            .or_default() += 1;
    }
    assert!(
        by_status.get("timeout").copied().unwrap_or(0) > 0,
        "{by_status:?}"
    );
    assert!(
        by_status.get("http_error").copied().unwrap_or(0) > 0,
        "{by_status:?}"
    );
    let step = &outcome.steps[0];
    assert_eq!(step.counts.started, 12);
    assert_eq!(step.counts.ok + step.counts.failed(), 12);
    assert_eq!(step.ended_by, StepEnd::Count);
    assert!(!step.partial);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shards_send_their_share_and_together_the_single_run() {
    let sim = common::fixed_sim().await;
    let out = tempfile::tempdir().unwrap();
    let config = |shard: Shard| {
        let mut c = counted(&sim.base_url(), out.path(), &[2.0, 4.0], 7, 3);
        c.shard = shard;
        c.run_name = format!("shard{}", shard.index());
        c
    };
    let (a, b) = tokio::join!(
        sweep(config("0/2".parse().unwrap())),
        sweep(config("1/2".parse().unwrap())),
    );
    let single = sweep(config(Shard::SINGLE)).await;
    // Request id → (step, phase, prompt tokens).
    let table = |dir: &std::path::Path| -> BTreeMap<u64, (String, String, u64)> {
        common::rows(dir)
            .iter()
            .map(|r| {
                (
                    r["id"].as_u64().unwrap(),
                    (
                        r["step"].to_string(),
                        r["phase"].to_string(),
                        r["prompt_tokens"].as_u64().unwrap(),
                    ),
                )
            })
            .collect()
    };
    let (ta, tb, ts) = (table(&a.run_dir), table(&b.run_dir), table(&single.run_dir));
    assert_eq!(ts.len(), 3 + 7 + 7);
    assert!(ta.keys().all(|id| id % 2 == 0) && tb.keys().all(|id| id % 2 == 1));
    // Shard 0: warmup 0, 2; step 0 of 3..10: 4, 6, 8; step 1 of 10..17: 10, 12, 14, 16.
    assert_eq!(ta.len(), 2 + 3 + 4);
    assert_eq!(tb.len(), 1 + 4 + 3);
    let mut union = ta.clone();
    union.extend(tb.clone());
    assert_eq!(union, ts);
    for shard in [&a, &b] {
        assert!(shard.steps.iter().all(|s| s.ended_by == StepEnd::Count));
    }
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_steps_are_count_steps() {
    let sim = common::small_batching_sim().await;
    let out = tempfile::tempdir().unwrap();
    let mut config = counted(&sim.base_url(), out.path(), &[], 16, 0);
    config.max_inflight = 32;
    config.steps = loadtest_sweep::auto_stop::doubling_steps(config.max_inflight);
    config.auto_stop = Some(loadtest_run::AutoStop::default());
    let outcome = sweep(config).await;
    assert!(outcome.steps.len() >= 2, "{:?}", outcome.steps.len());
    let rows = common::rows(&outcome.run_dir);
    for (k, step) in outcome.steps.iter().enumerate() {
        assert_eq!(step.ended_by, StepEnd::Count);
        assert_eq!(of(&rows, k as u64, "measure").len(), 16, "step {k}");
    }
    sim.shutdown().await;
}

#[test]
fn count_settings_are_checked() {
    let out = std::path::Path::new("unused");
    let field = |change: &dyn Fn(&mut SweepConfig)| {
        let mut c = counted("http://127.0.0.1:1", out, &[2.0], 5, 0);
        change(&mut c);
        c.validate().err().map(|e| e.field)
    };
    assert_eq!(field(&|_| {}), None);
    assert_eq!(
        field(&|c| c.num_prompts = Some(0)),
        Some(ConfigField::NumPrompts)
    );
    assert_eq!(
        field(&|c| c.ramp = Duration::from_secs(1)),
        Some(ConfigField::NumPrompts)
    );
    assert_eq!(
        field(&|c| {
            c.warmup_requests = Some(3);
            c.warmup = Duration::from_secs(1);
        }),
        Some(ConfigField::WarmupRequests)
    );
    assert_eq!(
        field(&|c| {
            c.num_prompts = None;
            c.warmup_requests = Some(3);
        }),
        Some(ConfigField::WarmupRequests)
    );
    assert_eq!(
        field(&|c| {
            c.steps = vec![4.0];
            c.shard = "1/4".parse().unwrap();
            c.num_prompts = Some(3);
        }),
        Some(ConfigField::NumPrompts)
    );
    // A time warmup before count steps is fine, and so is no warmup at all.
    assert_eq!(
        field(&|c| {
            c.warmup_requests = None;
            c.warmup = Duration::from_secs(1);
        }),
        None
    );
    let err = {
        let mut c = counted("http://127.0.0.1:1", out, &[2.0], 0, 0);
        c.num_prompts = Some(0);
        c.validate().unwrap_err()
    };
    assert_eq!(
        err.to_string(),
        "invalid num_prompts 0: expected a whole number >= 1"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gpu_samples_fall_in_the_count_windows() {
    use std::os::unix::fs::PermissionsExt;
    let sim = common::fixed_sim().await;
    let out = tempfile::tempdir().unwrap();
    let line = "0, GPU-00000000-aaaa-bbbb-cccc-dddddddddddd, NVIDIA H100 80GB HBM3, 70, 20, 30000, 81559, 500.00, 700.00, 55, 1980, 2619, P0";
    let bin = out.path().join("nvidia-smi");
    std::fs::write(
        &bin,
        format!(
            "#!/bin/sh\n[ -n \"$FAKE_NOOP\" ] && exit 0\necho '{line}'\ncase \" $* \" in *\" -lms \"*) while true; do sleep 0.05; echo '{line}'; done;; esac\n"
        ),
    )
    .unwrap();
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    // Another thread may fork while the write was open ("text file busy"): wait until it runs.
    for _ in 0..100 {
        let ran = std::process::Command::new(&bin)
            .env("FAKE_NOOP", "1")
            .status();
        if ran.is_ok() {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let mut config = counted(&sim.base_url(), out.path(), &[1.0, 2.0], 8, 0);
    config.gpu.enabled = true;
    config.gpu.nvidia_smi = bin;
    config.gpu.interval = Duration::from_millis(100);
    let outcome = sweep(config).await;
    for step in &outcome.steps {
        // About 0.1 s a request: each window holds several samples, of its own time only.
        let gpu = step.gpu.first().expect("a GPU block");
        assert!(gpu.samples >= 2, "{:?}", step.gpu);
        assert!(
            gpu.samples as f64 <= step.window_s / 0.05 + 3.0,
            "{:?}",
            step.gpu
        );
    }
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupt_cuts_a_count_step_and_keeps_every_request() {
    let sim = common::fixed_sim().await;
    let out = tempfile::tempdir().unwrap();
    let mut config = counted(&sim.base_url(), out.path(), &[2.0, 2.0], 1000, 0);
    config.max_output_tokens = "100".parse().unwrap(); // about 0.5 s a request
    let cancel = loadtest_sweep::CancelToken::new();
    let stopper = {
        let cancel = cancel.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(1200)).await;
            cancel.cancel();
        })
    };
    let options = loadtest_sweep::RunOptions {
        cancel,
        ..Default::default()
    };
    let outcome = tokio::time::timeout(
        Duration::from_secs(30),
        loadtest_sweep::run_sweep(config, options),
    )
    .await
    .expect("the sweep did not stop")
    .unwrap();
    stopper.await.unwrap();
    assert!(outcome.interrupted);
    assert_eq!(outcome.steps.len(), 1);
    let step = &outcome.steps[0];
    assert!(step.partial);
    assert_eq!(step.ended_by, StepEnd::Count);
    assert!(step.window_end_s < 5.0, "{}", step.window_end_s);
    // Every request sent is in requests.jsonl: the ones cut short as cancelled.
    let rows = common::rows(&outcome.run_dir);
    assert_eq!(rows.len() as u64, step.counts.started);
    assert!(step.counts.cancelled > 0 && step.counts.cancelled <= 2);
    sim.shutdown().await;
}

#[test]
fn the_status_line_counts_instead_of_the_time_left() {
    use loadtest_sweep::live_text::{LiveSnapshot, status_line};
    use loadtest_sweep::timeline::Timeline;
    let timeline = Timeline::counted(&[4.0, 8.0], 7, 0, Duration::ZERO, Duration::ZERO);
    let snap = LiveSnapshot {
        ok: 3,
        count: Some((3, 7)),
        ..LiveSnapshot::default()
    };
    let line = status_line(&timeline, Duration::from_secs(2), &snap, usize::MAX);
    assert!(
        line.starts_with("step 1/2 load 4 measure | 3/7 done |"),
        "{line}"
    );
    let narrow = status_line(&timeline, Duration::from_secs(2), &snap, 30);
    assert!(narrow.contains("3/7"), "{narrow}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_time_warmup_may_precede_count_steps() {
    let sim = common::fixed_sim().await;
    let out = tempfile::tempdir().unwrap();
    for mode in [LoadMode::Concurrency, LoadMode::Rate] {
        let mut config = counted(&sim.base_url(), out.path(), &[4.0], 6, 0);
        config.warmup_requests = None;
        config.warmup = Duration::from_millis(300);
        config.load_mode = mode;
        config.run_name = format!("{mode:?}");
        let outcome = sweep(config).await;
        let rows = common::rows(&outcome.run_dir);
        assert!(!of(&rows, 0, "warmup").is_empty(), "{mode:?}");
        assert_eq!(of(&rows, 0, "measure").len(), 6, "{mode:?}");
        let step = &outcome.steps[0];
        assert!(step.window_start_s >= 0.3 - 1e-9, "{mode:?}");
        assert_eq!(step.ended_by, StepEnd::Count);
        let settings = &common::json(&outcome.run_dir, "config.json")["settings"];
        assert!(settings.get("warmup_requests").is_none());
        assert_eq!(settings["warmup_s"], 0.3);
    }
    sim.shutdown().await;
}
