//! The fault matrix (§12): every fault the simulator can inject, alone and all at once, and
//! a broken nvidia-smi. For each, the sweep completes, every request the simulator received
//! is in requests.jsonl exactly once with the status its fault implies, summary.md lists the
//! errors by kind, and the warnings name the `/metrics` and GPU problems.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use loadtest_run::files;
use loadtest_sim::{Endpoint as SimEndpoint, FaultCounts, Faults, SimConfig, SimHandle, Simulator};
use loadtest_sweep::config::SweepConfig;
use loadtest_sweep::{RunOptions, RunOutcome, run_sweep};

/// A fixed-profile simulator (20 ms to first token, 5 ms per token) with `faults`.
async fn sim_with(faults: Faults) -> SimHandle {
    let mut config = SimConfig::ephemeral();
    config.profile = loadtest_sim::Profile::Fixed;
    config.ttft = Duration::from_millis(20);
    config.itl = Duration::from_millis(5);
    config.seed = 7;
    config.faults = faults;
    Simulator::start(config).await.unwrap()
}

/// One short step: 0.3 s warmup, then `load` for 1.5 s; a 1 s request deadline.
fn short_config(sim: &SimHandle, out: &Path, load: f64) -> SweepConfig {
    let mut config = common::config(&sim.base_url(), out, &[load], 1.5);
    config.warmup = Duration::from_millis(300);
    config.target.client.request_timeout = Duration::from_secs(1);
    config
}

async fn sweep(config: SweepConfig) -> RunOutcome {
    let outcome = tokio::time::timeout(
        Duration::from_secs(30),
        run_sweep(config, RunOptions::default()),
    )
    .await
    .expect("the sweep did not finish")
    .expect("the sweep failed");
    assert!(!outcome.interrupted);
    outcome
}

/// Rows by status (and HTTP status for `http_error`), after checking that every request the
/// simulator received is there exactly once and every file was written.
fn tally(sim: &SimHandle, outcome: &RunOutcome) -> BTreeMap<String, u64> {
    let dir = &outcome.run_dir;
    for file in [
        files::CONFIG,
        files::REQUESTS,
        files::VLLM_METRICS,
        files::GPU_METRICS,
        files::STEP_SUMMARY,
        files::STEP_DELTAS,
        files::SUMMARY_MD,
    ] {
        assert!(dir.join(file).is_file(), "{file} missing");
    }
    let rows = common::rows(dir);
    let received = sim.counts().received(SimEndpoint::ChatCompletions);
    assert_eq!(rows.len() as u64, received, "rows vs requests received");
    assert_eq!(outcome.rows_written, received);
    let mut ids: Vec<u64> = rows.iter().map(|r| r["id"].as_u64().unwrap()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), rows.len(), "a request id appears twice");
    let mut by_status = BTreeMap::new();
    for row in &rows {
        let status = row["status"].as_str().unwrap();
        let key = match status {
            "http_error" => format!("http_{}", row["http_status"]),
            other => other.to_owned(),
        };
        *by_status.entry(key).or_insert(0) += 1;
        if status != "ok" {
            let error = row["error"].as_str().unwrap();
            assert!(!error.is_empty() && !error.contains('\n'), "{error:?}");
        }
    }
    by_status
}

fn count(tally: &BTreeMap<String, u64>, key: &str) -> u64 {
    tally.get(key).copied().unwrap_or(0)
}

/// summary.md has an Errors table row for each status, and step_summary.json agrees.
fn assert_errors_listed(outcome: &RunOutcome, statuses: &[&str]) {
    let md = std::fs::read_to_string(outcome.run_dir.join(files::SUMMARY_MD)).unwrap();
    assert!(md.contains("## Errors"), "{md}");
    let summary = common::json(&outcome.run_dir, files::STEP_SUMMARY);
    let listed: Vec<&str> = summary["steps"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["errors"].as_array().unwrap())
        .map(|e| e["status"].as_str().unwrap())
        .collect();
    for status in statuses {
        assert!(
            md.contains(&format!("| {status} |")),
            "{status} not in\n{md}"
        );
        assert!(listed.contains(status), "{status} not in {listed:?}");
    }
}

fn warnings(outcome: &RunOutcome) -> Vec<String> {
    let summary = common::json(&outcome.run_dir, files::STEP_SUMMARY);
    let file: Vec<String> = summary["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(file, outcome.warnings);
    let md = std::fs::read_to_string(outcome.run_dir.join(files::SUMMARY_MD)).unwrap();
    for w in &file {
        assert!(md.contains(&w.replace('|', "/")), "{w} not in summary.md");
    }
    file
}

fn total_faults(f: &FaultCounts) -> u64 {
    f.http_500 + f.http_429 + f.disconnect + f.stall + f.malformed
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_500_and_429_are_http_errors() {
    for (faults, key, status) in [
        (
            Faults {
                http_500: 0.3,
                ..Faults::default()
            },
            "http_500",
            500,
        ),
        (
            Faults {
                http_429: 0.3,
                ..Faults::default()
            },
            "http_429",
            429,
        ),
    ] {
        let sim = sim_with(faults).await;
        let out = tempfile::tempdir().unwrap();
        let outcome = sweep(short_config(&sim, out.path(), 2.0)).await;
        let tally = tally(&sim, &outcome);
        let truth = sim.truth().faults;
        let injected = if status == 500 {
            truth.http_500
        } else {
            truth.http_429
        };
        assert!(injected > 0, "no fault injected");
        assert_eq!(count(&tally, key), injected, "{tally:?}");
        assert_eq!(
            sim.counts().answered(SimEndpoint::ChatCompletions, status),
            injected
        );
        assert_eq!(count(&tally, "ok") + injected, tally.values().sum::<u64>());
        assert_errors_listed(&outcome, &["http_error"]);
        let md = std::fs::read_to_string(outcome.run_dir.join(files::SUMMARY_MD)).unwrap();
        assert!(md.contains(&format!("HTTP {status}")), "{md}");
        sim.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disconnect_and_malformed_events_are_stream_errors() {
    for faults in [
        Faults {
            disconnect: 0.3,
            ..Faults::default()
        },
        Faults {
            malformed: 0.3,
            ..Faults::default()
        },
    ] {
        let sim = sim_with(faults.clone()).await;
        let out = tempfile::tempdir().unwrap();
        let outcome = sweep(short_config(&sim, out.path(), 2.0)).await;
        let tally = tally(&sim, &outcome);
        let truth = sim.truth().faults;
        let injected = truth.disconnect + truth.malformed;
        assert!(injected > 0, "no fault injected");
        assert_eq!(count(&tally, "stream_error"), injected, "{tally:?}");
        assert_eq!(count(&tally, "ok") + injected, tally.values().sum::<u64>());
        assert_errors_listed(&outcome, &["stream_error"]);
        let rows = common::rows(&outcome.run_dir);
        let message = if faults.malformed > 0.0 {
            "invalid JSON chunk"
        } else {
            "before any finish_reason"
        };
        assert!(
            rows.iter()
                .filter(|r| r["status"] == "stream_error")
                .all(|r| r["error"].as_str().unwrap().contains(message)
                    || r["error"].as_str().unwrap().contains("connection dropped")),
            "{message}"
        );
        sim.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stall_past_the_deadline_is_a_timeout() {
    let sim = sim_with(Faults {
        stall_probability: 0.3,
        stall: Duration::from_secs(3),
        ..Faults::default()
    })
    .await;
    let out = tempfile::tempdir().unwrap();
    let outcome = sweep(short_config(&sim, out.path(), 2.0)).await;
    let tally = tally(&sim, &outcome);
    let stalls = sim.truth().faults.stall;
    assert!(stalls > 0, "no stall injected");
    assert_eq!(count(&tally, "timeout"), stalls, "{tally:?}");
    assert_eq!(count(&tally, "ok") + stalls, tally.values().sum::<u64>());
    assert_errors_listed(&outcome, &["timeout"]);
    // A timed-out request took its whole deadline, no more.
    for row in common::rows(&outcome.run_dir) {
        if row["status"] == "timeout" {
            let total = row["total_s"].as_f64().unwrap();
            assert!((0.95..2.0).contains(&total), "timeout after {total} s");
        }
    }
    sim.shutdown().await;
}

/// Every stream held and sent whole at its end: every ok request is one read with TTFT = e2e,
/// the step's buffered_share is 1 and the run warns; with the fault off, no warning and 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn buffered_streams_are_a_warning() {
    for buffer in [1.0, 0.0] {
        let sim = sim_with(Faults {
            buffer,
            ..Faults::default()
        })
        .await;
        let out = tempfile::tempdir().unwrap();
        let outcome = sweep(short_config(&sim, out.path(), 2.0)).await;
        let tally = tally(&sim, &outcome);
        assert_eq!(tally.keys().collect::<Vec<_>>(), ["ok"], "{tally:?}");
        let rows = common::rows(&outcome.run_dir);
        for row in &rows {
            let reads = row["reads"].as_u64().unwrap();
            assert_eq!(row["chunks"], 16, "{row}");
            if buffer > 0.0 {
                assert_eq!(reads, 1, "{row}");
                assert_eq!(row["ttft_s"], row["e2e_s"], "{row}");
            } else {
                assert!(reads > 8, "{row}");
            }
        }
        let share = outcome.steps[0].buffered_share.unwrap();
        let summary = common::json(&outcome.run_dir, files::STEP_SUMMARY);
        assert_eq!(summary["steps"][0]["buffered_share"], share);
        let warnings = warnings(&outcome);
        let buffered: Vec<_> = warnings
            .iter()
            .filter(|w| w.contains("in one burst"))
            .collect();
        if buffer > 0.0 {
            assert_eq!(share, 1.0);
            assert_eq!(buffered.len(), 1, "{warnings:?}");
            assert!(
                buffered[0].contains("step 0 (100 %)")
                    && buffered[0].contains("proxy_buffering")
                    && buffered[0].contains("CPU-starved"),
                "{buffered:?}"
            );
            // The simulator's truth agrees: first token written at the end, gaps of 0.
            let truth = sim.truth();
            assert!(truth.ttft_us.p50 >= 90_000, "{:?}", truth.ttft_us);
            assert!(truth.gap_us.p99 < 1_000, "{:?}", truth.gap_us);
        } else {
            assert_eq!(share, 0.0);
            assert!(buffered.is_empty(), "{warnings:?}");
        }
        sim.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_metrics_is_a_warning_and_requests_are_unaffected() {
    // Each answer takes 0.6 s, longer than the 0.25 s poll interval (but within the 2 s
    // scrape timeout): scrapes overlap, and every one still lands.
    let sim = sim_with(Faults {
        metrics_delay: Duration::from_millis(600),
        ..Faults::default()
    })
    .await;
    let out = tempfile::tempdir().unwrap();
    let outcome = sweep(short_config(&sim, out.path(), 2.0)).await;
    let tally = tally(&sim, &outcome);
    assert_eq!(tally.keys().collect::<Vec<_>>(), ["ok"], "{tally:?}");
    let warnings = warnings(&outcome);
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("/metrics") && w.contains("slow")),
        "{warnings:?}"
    );
    // The scrapes still span the window.
    let step = &outcome.steps[0];
    assert!(step.server.is_some(), "no server block");
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_past_the_scrape_timeout_is_a_warning() {
    // 2.5 s: past the scrape timeout (the 1 s request deadline here); every scrape fails.
    let sim = sim_with(Faults {
        metrics_delay: Duration::from_millis(2500),
        ..Faults::default()
    })
    .await;
    let out = tempfile::tempdir().unwrap();
    let mut config = short_config(&sim, out.path(), 1.0);
    config.step_duration = Duration::from_secs(1);
    let outcome = sweep(config).await;
    let tally = tally(&sim, &outcome);
    assert_eq!(tally.keys().collect::<Vec<_>>(), ["ok"], "{tally:?}");
    let warnings = warnings(&outcome);
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("/metrics failed every time") && w.contains("within")),
        "{warnings:?}"
    );
    assert!(outcome.steps[0].server.is_none());
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_metrics_is_a_warning() {
    let sim = sim_with(Faults {
        metrics_garbage: 0.5,
        ..Faults::default()
    })
    .await;
    let out = tempfile::tempdir().unwrap();
    let outcome = sweep(short_config(&sim, out.path(), 2.0)).await;
    let tally = tally(&sim, &outcome);
    assert_eq!(tally.keys().collect::<Vec<_>>(), ["ok"], "{tally:?}");
    assert!(sim.truth().faults.metrics_garbage > 0);
    let warnings = warnings(&outcome);
    assert!(
        warnings.iter().any(|w| w.contains("/metrics")),
        "{warnings:?}"
    );
    // Garbage rows are empty cells, never half-parsed numbers.
    let csv = std::fs::read_to_string(outcome.run_dir.join(files::VLLM_METRICS)).unwrap();
    let width = csv.lines().next().unwrap().split(',').count();
    assert!(csv.lines().all(|l| l.split(',').count() == width), "{csv}");
    sim.shutdown().await;
}

/// Writes an executable fake nvidia-smi into `dir`: `body` runs with `$LOOP` set to 1 when
/// called with `-lms` (the long-lived sampler) and 0 for the probe.
fn fake_nvidia_smi(dir: &Path, body: &str) -> PathBuf {
    let path = dir.join("nvidia-smi");
    let script = format!(
        "#!/bin/sh\n[ -n \"$FAKE_NOOP\" ] && exit 0\ncase \" $* \" in *\" -lms \"*) LOOP=1;; *) LOOP=0;; esac\n{body}\n"
    );
    std::fs::write(&path, script).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    // Another thread may fork while our write fd is open ("text file busy"): wait until it runs.
    for _ in 0..100 {
        if std::process::Command::new(&path)
            .env("FAKE_NOOP", "1")
            .status()
            .is_ok()
        {
            return path;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("fake nvidia-smi never became executable");
}

const GPU_LINE: &str = "0, GPU-00000000-aaaa-bbbb-cccc-dddddddddddd, NVIDIA H100 80GB HBM3, 70, 20, 30000, 81559, 500.00, 700.00, 55, 1980, 2619, P0";

fn with_gpu(config: &mut SweepConfig, nvidia_smi: PathBuf) {
    config.gpu.enabled = true;
    config.gpu.nvidia_smi = nvidia_smi;
    config.gpu.interval = Duration::from_millis(100);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_nvidia_smi_is_one_warning() {
    let sim = sim_with(Faults::default()).await;
    let out = tempfile::tempdir().unwrap();
    let mut config = short_config(&sim, out.path(), 1.0);
    config.step_duration = Duration::from_secs(1);
    with_gpu(&mut config, out.path().join("no-such-nvidia-smi"));
    let outcome = sweep(config).await;
    let tally = tally(&sim, &outcome);
    assert_eq!(tally.keys().collect::<Vec<_>>(), ["ok"], "{tally:?}");
    let warnings = warnings(&outcome);
    let gpu: Vec<_> = warnings.iter().filter(|w| w.contains("GPU")).collect();
    assert_eq!(gpu.len(), 1, "{warnings:?}");
    assert!(gpu[0].contains("no-such-nvidia-smi"), "{gpu:?}");
    let csv = std::fs::read_to_string(outcome.run_dir.join(files::GPU_METRICS)).unwrap();
    assert_eq!(csv.lines().count(), 1, "header only: {csv}");
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dying_nvidia_smi_is_a_warning_and_the_run_goes_on() {
    let sim = sim_with(Faults::default()).await;
    let out = tempfile::tempdir().unwrap();
    // The probe answers; the sampler prints two samples and is killed (SIGKILL) each time.
    let bin = fake_nvidia_smi(
        out.path(),
        &format!(
            "echo '{GPU_LINE}'\nif [ \"$LOOP\" = 1 ]; then sleep 0.1; echo '{GPU_LINE}'; kill -9 $$; fi"
        ),
    );
    let mut config = short_config(&sim, out.path(), 1.0);
    with_gpu(&mut config, bin);
    let outcome = sweep(config).await;
    let tally = tally(&sim, &outcome);
    assert_eq!(tally.keys().collect::<Vec<_>>(), ["ok"], "{tally:?}");
    let warnings = warnings(&outcome);
    assert!(
        warnings.iter().any(|w| w.contains("nvidia-smi")),
        "{warnings:?}"
    );
    let csv = std::fs::read_to_string(outcome.run_dir.join(files::GPU_METRICS)).unwrap();
    assert!(csv.lines().count() > 1, "samples before it died: {csv}");
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fault_at_ten_percent_at_once() {
    let sim = sim_with(Faults {
        http_500: 0.1,
        http_429: 0.1,
        disconnect: 0.1,
        stall_probability: 0.1,
        stall: Duration::from_secs(3),
        malformed: 0.1,
        buffer: 0.1,
        metrics_delay: Duration::from_millis(300),
        metrics_garbage: 0.1,
    })
    .await;
    let out = tempfile::tempdir().unwrap();
    let bin = fake_nvidia_smi(
        out.path(),
        &format!("echo '{GPU_LINE}'\nif [ \"$LOOP\" = 1 ]; then sleep 0.2; exit 15; fi"),
    );
    let mut config = short_config(&sim, out.path(), 4.0);
    with_gpu(&mut config, bin);
    let outcome = sweep(config).await;
    let tally = tally(&sim, &outcome);
    let truth = sim.truth().faults;
    assert!(total_faults(&truth) > 0);
    assert_eq!(
        count(&tally, "http_500"),
        truth.http_500,
        "{tally:?} {truth:?}"
    );
    assert_eq!(
        count(&tally, "http_429"),
        truth.http_429,
        "{tally:?} {truth:?}"
    );
    assert_eq!(
        count(&tally, "stream_error"),
        truth.disconnect + truth.malformed,
        "{tally:?} {truth:?}"
    );
    assert_eq!(count(&tally, "timeout"), truth.stall, "{tally:?} {truth:?}");
    assert_eq!(
        count(&tally, "ok") + total_faults(&truth),
        tally.values().sum::<u64>(),
        "{tally:?} {truth:?}"
    );
    let mut kinds = Vec::new();
    if truth.http_500 + truth.http_429 > 0 {
        kinds.push("http_error");
    }
    if truth.disconnect + truth.malformed > 0 {
        kinds.push("stream_error");
    }
    if truth.stall > 0 {
        kinds.push("timeout");
    }
    assert_errors_listed(&outcome, &kinds);
    let warnings = warnings(&outcome);
    assert!(
        warnings.iter().any(|w| w.contains("/metrics")),
        "{warnings:?}"
    );
    assert!(
        warnings.iter().any(|w| w.contains("nvidia-smi")),
        "{warnings:?}"
    );
    // Measure-phase counts in step_summary.json add up to the measure-phase rows.
    let rows = common::rows(&outcome.run_dir);
    let measured = rows.iter().filter(|r| r["phase"] == "measure").count() as u64;
    let counts = &outcome.steps[0].counts;
    assert_eq!(counts.started, measured);
    assert_eq!(
        counts.ok
            + counts.http_error
            + counts.timeout
            + counts.connect_error
            + counts.stream_error
            + counts.cancelled,
        counts.started
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_dies_and_comes_back() {
    let first = sim_with(Faults::default()).await;
    let addr = first.local_addr();
    let out = tempfile::tempdir().unwrap();
    let mut config = short_config(&first, out.path(), 2.0);
    config.step_duration = Duration::from_secs(3);
    let run = tokio::spawn(sweep(config));
    // Warmup 0.3 s, then 1 s into the window: the server dies; 1 s later it is back.
    tokio::time::sleep(Duration::from_millis(1300)).await;
    let before = first.counts().received(SimEndpoint::ChatCompletions);
    first.shutdown().await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mut again = SimConfig::ephemeral();
    again.profile = loadtest_sim::Profile::Fixed;
    again.ttft = Duration::from_millis(20);
    again.itl = Duration::from_millis(5);
    again.port = addr.port();
    let second = Simulator::start(again).await.unwrap();
    let outcome = run.await.unwrap();
    let after = second.counts().received(SimEndpoint::ChatCompletions);
    assert!(before > 0 && after > 0, "{before} then {after}");

    let rows = common::rows(&outcome.run_dir);
    let status = |s: &str| rows.iter().filter(|r| r["status"] == s).count() as u64;
    let connect_errors = status("connect_error");
    assert!(
        connect_errors > 0,
        "no connect_error while the server was down"
    );
    // Every row is a request one of the servers received, one that never connected, or one
    // cut before its response head (which the dying server may or may not have counted).
    let headless_stream_errors = rows
        .iter()
        .filter(|r| r["status"] == "stream_error" && r["http_status"].is_null())
        .count() as u64;
    let n = rows.len() as u64;
    assert!(n >= before + after + connect_errors, "{n} rows");
    assert!(
        n <= before + after + connect_errors + headless_stream_errors + status("stream_error"),
        "{n} rows"
    );
    assert_eq!(
        n,
        status("ok") + connect_errors + status("stream_error"),
        "only ok, connect_error and stream_error expected"
    );
    // The sweep went on after the restart.
    let last_ok = rows
        .iter()
        .filter(|r| r["status"] == "ok")
        .map(|r| r["start_s"].as_f64().unwrap())
        .fold(0.0, f64::max);
    assert!(last_ok > 2.5, "no ok request after the restart ({last_ok})");
    // The counters went back to zero inside the window: a reset, in both files.
    let server = outcome.steps[0].server.as_ref().expect("server block");
    assert!(server.reset, "reset not detected: {server:?}");
    let deltas = common::json(&outcome.run_dir, files::STEP_DELTAS);
    let entry = &deltas["steps"][0]["deltas"];
    let counters_reset = entry["counters"]
        .as_object()
        .unwrap()
        .values()
        .any(|c| c["reset"] == true);
    assert!(entry["restarted"] == true || counters_reset, "{entry}");
    assert_errors_listed(&outcome, &["connect_error"]);
    eprintln!(
        "server restart: {n} rows, {connect_errors} connect_error, {} stream_error",
        status("stream_error")
    );
    second.shutdown().await;
}
