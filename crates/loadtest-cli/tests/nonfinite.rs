//! A run against a `/metrics` that prints NaN and ±Inf reads back: `report` and `compare`
//! exit 0 on its folder, and the sweep warns once about what was left out.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};

use common::{BIN, TINY_RUN, canned_server, start_sim};

/// Scrape `n`: finite generation tokens, NaN/±Inf in a gauge, counters and histogram sums.
fn hostile_metrics(n: u64) -> String {
    format!(
        "vllm:num_requests_running{{engine=\"0\"}} NaN\n\
         vllm:kv_cache_usage_perc{{engine=\"0\"}} +Inf\n\
         vllm:generation_tokens_total{{engine=\"0\"}} {tokens}\n\
         vllm:prompt_tokens_total{{engine=\"0\"}} -Inf\n\
         vllm:request_success_total{{engine=\"0\",finished_reason=\"stop\"}} NaN\n\
         vllm:e2e_request_latency_seconds_bucket{{engine=\"0\",le=\"1.0\"}} {n}\n\
         vllm:e2e_request_latency_seconds_bucket{{engine=\"0\",le=\"+Inf\"}} {n}\n\
         vllm:e2e_request_latency_seconds_count{{engine=\"0\"}} {n}\n\
         vllm:e2e_request_latency_seconds_sum{{engine=\"0\"}} NaN\n\
         vllm:time_to_first_token_seconds_bucket{{engine=\"0\",le=\"+Inf\"}} {n}\n\
         vllm:time_to_first_token_seconds_count{{engine=\"0\"}} {n}\n\
         vllm:time_to_first_token_seconds_sum{{engine=\"0\"}} -Inf\n",
        tokens = 10 * n,
    )
}

#[test]
fn report_and_compare_read_a_run_whose_metrics_had_nan_and_inf() {
    let (mut sim, url) = start_sim(&[]);
    let scrapes = AtomicU64::new(1);
    let (metrics, _) = canned_server(move |_, _| {
        let n = scrapes.fetch_add(1, Ordering::Relaxed);
        ("200 OK", "text/plain; version=0.0.4", hostile_metrics(n))
    });
    let out = tempfile::tempdir().unwrap();
    let o = Command::new(BIN)
        .args(["--base-url", &url, "--prompt-text", "hi"])
        .args(["--metrics-url", &format!("{metrics}/metrics")])
        .args(TINY_RUN)
        .args(["--poll-interval-s", "0.1", "--output-dir"])
        .arg(out.path())
        .env_remove("OPENAI_API_KEY")
        .env_remove("VLLM_API_KEY")
        .output()
        .unwrap();
    sim.kill().unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    assert_eq!(
        stderr.matches("non-finite values (NaN/Inf)").count(),
        1,
        "{stderr}"
    );
    let dirs: Vec<PathBuf> = std::fs::read_dir(out.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    let dir = &dirs[0];
    let csv = std::fs::read_to_string(dir.join("vllm_metrics.csv")).unwrap();
    assert!(csv.lines().count() > 2, "{csv}");
    let lower = csv.to_ascii_lowercase();
    assert!(!lower.contains("nan") && !lower.contains("inf"), "{csv}");

    let report = Command::new(BIN).arg("report").arg(dir).output().unwrap();
    assert_eq!(
        report.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&report.stderr)
    );
    assert!(dir.join("summary.md").is_file());
    assert!(dir.join("charts").is_dir());

    let compare = Command::new(BIN)
        .arg("compare")
        .arg(dir)
        .arg(dir)
        .output()
        .unwrap();
    assert_eq!(
        compare.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&compare.stderr)
    );
}
