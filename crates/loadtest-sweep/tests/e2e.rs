//! End-to-end sweeps against the in-process simulator.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use loadtest_run::files;
use loadtest_sim::Endpoint as SimEndpoint;
use loadtest_sweep::inputs::InputSource;
use loadtest_sweep::{CancelToken, RunOptions, run_sweep};

const ALL_FILES: [&str; 7] = [
    files::CONFIG,
    files::REQUESTS,
    files::VLLM_METRICS,
    files::GPU_METRICS,
    files::STEP_SUMMARY,
    files::STEP_DELTAS,
    files::SUMMARY_MD,
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_steps_write_every_file_and_count_every_request() {
    let sim = common::fixed_sim().await;
    let out = tempfile::tempdir().unwrap();
    let config = common::config(&sim.base_url(), out.path(), &[1.0, 2.0, 4.0], 1.5);
    let outcome = common::run(config).await;
    let dir = &outcome.run_dir;
    for file in ALL_FILES {
        assert!(dir.join(file).is_file(), "{file} missing");
    }
    assert!(!outcome.interrupted);

    // Every request the simulator received is in requests.jsonl, once.
    let rows = common::rows(dir);
    let received = sim.counts().received(SimEndpoint::ChatCompletions);
    assert_eq!(rows.len() as u64, received);
    assert_eq!(outcome.rows_written, received);
    let mut ids: Vec<u64> = rows.iter().map(|r| r["id"].as_u64().unwrap()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), rows.len());
    assert!(
        rows.iter().all(|r| r["status"] == "ok"),
        "all ok against the fixed profile"
    );

    // Warmup requests are recorded but excluded from the step statistics.
    let warmup = rows.iter().filter(|r| r["phase"] == "warmup").count();
    assert!(warmup > 0);
    let summary = common::json(dir, files::STEP_SUMMARY);
    let steps = summary["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 3);
    for (k, step) in steps.iter().enumerate() {
        let measured = rows
            .iter()
            .filter(|r| r["phase"] == "measure" && r["step"] == k)
            .count() as u64;
        assert_eq!(step["counts"]["started"].as_u64().unwrap(), measured);
        assert_eq!(step["counts"]["ok"].as_u64().unwrap(), measured);
        // Concurrency held: in-flight sampled in the window averages the level.
        let load = step["load"].as_f64().unwrap();
        let inflight = step["inflight"]["mean"].as_f64().unwrap();
        assert!(
            (inflight - load).abs() <= 0.35 * load,
            "step {k}: {inflight} vs {load}"
        );
        assert_eq!(step["inflight"]["max"].as_f64().unwrap(), load);
        // One sample at the window's start, then one every 100 ms of it, however late the
        // watcher was (±1: an instant on the window's end may fall either side of it).
        let window = step["window_s"].as_f64().unwrap();
        let samples = step["inflight"]["samples"].as_f64().unwrap();
        assert!(
            (samples - (window / 0.1 + 1.0)).abs() <= 1.0 + 1e-6,
            "step {k}: {samples} samples in {window} s"
        );
        // 16 tokens at 20 ms + 15 × 5 ms ≈ 95 ms per request.
        let ttft = step["ttft_s"]["p50"].as_f64().unwrap();
        assert!((0.015..0.1).contains(&ttft), "ttft {ttft}");
        let tpot = step["tpot_s"]["p50"].as_f64().unwrap();
        assert!((0.003..0.03).contains(&tpot), "tpot {tpot}");
        assert!(step["itl_s"]["count"].as_u64().unwrap() > 0);
        let rps = step["rps"].as_f64().unwrap();
        assert!(rps > 0.5 * load / 0.1, "step {k}: rps {rps}");
        // The server's own counters agree with the client's.
        let server = &step["server"];
        let generated = server["generation_tokens_per_s"].as_f64().unwrap();
        let client = step["output_tokens_per_s"].as_f64().unwrap();
        assert!(
            (generated - client).abs() <= 0.25 * client,
            "step {k}: {generated} vs {client}"
        );
    }
    // Server deltas exist per step, and the CSV has a row per scrape.
    let deltas = common::json(dir, files::STEP_DELTAS);
    assert_eq!(deltas["steps"].as_array().unwrap().len(), 3);
    let csv = std::fs::read_to_string(dir.join(files::VLLM_METRICS)).unwrap();
    assert!(csv.lines().count() > 10, "{csv}");
    let md = std::fs::read_to_string(dir.join(files::SUMMARY_MD)).unwrap();
    assert!(md.contains("## Steps") && !md.contains("NaN"));
    // The one report renderer: a library caller gets the charts the command line gets.
    for chart in ["throughput.svg", "latency.svg", "server.svg"] {
        assert!(dir.join(files::CHARTS_DIR).join(chart).is_file(), "{chart}");
    }
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_mid_step_writes_partial_outputs() {
    let sim = common::fixed_sim().await;
    let out = tempfile::tempdir().unwrap();
    let config = common::config(&sim.base_url(), out.path(), &[2.0, 4.0], 3.0);
    let cancel = CancelToken::new();
    let trigger = cancel.clone();
    tokio::spawn(async move {
        // Warmup 0.5 s + 1 s into the first window.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        trigger.cancel();
    });
    let options = RunOptions {
        cancel,
        ..RunOptions::default()
    };
    let outcome = run_sweep(config, options).await.unwrap();
    assert!(outcome.interrupted);
    let dir = &outcome.run_dir;
    for file in ALL_FILES {
        assert!(dir.join(file).is_file(), "{file} missing");
    }
    let summary = common::json(dir, files::STEP_SUMMARY);
    let steps = summary["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 1, "only the interrupted step ran");
    assert_eq!(steps[0]["partial"], true);
    assert!(steps[0]["window_s"].as_f64().unwrap() < 1.5);
    let rows = common::rows(dir);
    assert_eq!(
        rows.len() as u64,
        sim.counts().received(SimEndpoint::ChatCompletions)
    );
    assert!(rows.iter().any(|r| r["status"] == "cancelled"));
    // Requests the interrupt cancelled are counted apart: not failures, not errors.
    let counts = &steps[0]["counts"];
    assert!(counts["cancelled"].as_u64().unwrap() > 0, "{counts}");
    assert_eq!(outcome.failed_requests, 0);
    assert!(outcome.cancelled_requests > 0);
    assert_eq!(outcome.error_rate(), 0.0);
    assert!(
        steps[0]["errors"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["status"] != "cancelled"),
        "{}",
        steps[0]["errors"]
    );
    let md = std::fs::read_to_string(dir.join(files::SUMMARY_MD)).unwrap();
    assert!(md.contains("cancelled by the tool"), "{md}");
    let config = common::json(dir, files::CONFIG);
    assert_eq!(config["interrupted"], true);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prompt_file_rows_of_every_kind_are_sent() {
    let sim = common::fixed_sim().await;
    let out = tempfile::tempdir().unwrap();
    let file = out.path().join("prompts.jsonl");
    std::fs::write(
        &file,
        "plain text prompt\n\"a json string\"\n{\"prompt\": \"p\"}\n\n{\"text\": \"t t\"}\n{\"messages\": [{\"role\": \"user\", \"content\": \"m m m\"}]}\n",
    )
    .unwrap();
    let prompts = loadtest_sweep::prompt_file::read_prompt_file(&file).unwrap();
    assert_eq!(prompts.len(), 5);
    let mut config = common::config(&sim.base_url(), out.path(), &[1.0], 1.0);
    config.input = InputSource::PromptFile(prompts.into());
    config.warmup = Duration::ZERO;
    let outcome = common::run(config).await;
    let rows = common::rows(&outcome.run_dir);
    assert!(rows.len() >= 5, "{}", rows.len());
    // The simulator counts words as tokens: the rows cycle 3, 3, 1, 2, 3 words (+ template).
    let prompt_tokens: Vec<u64> = rows
        .iter()
        .take(5)
        .map(|r| r["prompt_tokens"].as_u64().unwrap())
        .collect();
    assert_eq!(prompt_tokens.len(), 5);
    assert!(rows.iter().all(|r| r["status"] == "ok"));
    sim.shutdown().await;
}

#[tokio::test]
async fn unreachable_server_is_an_error_before_anything_is_written() {
    let out = tempfile::tempdir().unwrap();
    // A port nobody listens on: bind, note it, close.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = common::config(&format!("http://127.0.0.1:{port}"), out.path(), &[1.0], 1.0);
    let err = run_sweep(config, RunOptions::default()).await.unwrap_err();
    assert!(
        matches!(err, loadtest_sweep::SweepError::Unreachable { .. }),
        "{err}"
    );
    assert_eq!(std::fs::read_dir(out.path()).unwrap().count(), 0);
}
