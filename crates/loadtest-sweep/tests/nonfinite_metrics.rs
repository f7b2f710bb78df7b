//! A `/metrics` that prints NaN, +Inf and -Inf in gauges, counters and histograms: the run
//! folder still reads back with the tool's own readers, vllm_metrics.csv holds no `NaN`/`inf`
//! text, the finite numbers survive and a warning says what was left out.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use loadtest_prom::{HistogramMetric, ScalarMetric};
use loadtest_run::files;
use tokio::io::AsyncWriteExt;

/// Scrape `n` of the hostile endpoint: vLLM names; generation tokens and the queue-time
/// histogram finite and growing, everything else NaN or ±Inf somewhere.
fn hostile_body(n: u64) -> String {
    let running = if n.is_multiple_of(2) { "2" } else { "NaN" };
    let tokens = 100 * n;
    let queue_sum = 0.001 * n as f64;
    format!(
        "# TYPE vllm:num_requests_running gauge\n\
         vllm:num_requests_running{{engine=\"0\"}} {running}\n\
         vllm:num_requests_waiting{{engine=\"0\"}} +Inf\n\
         vllm:kv_cache_usage_perc{{engine=\"0\"}} -Inf\n\
         # TYPE vllm:prompt_tokens_total counter\n\
         vllm:prompt_tokens_total{{engine=\"0\"}} NaN\n\
         vllm:generation_tokens_total{{engine=\"0\"}} {tokens}\n\
         vllm:request_success_total{{engine=\"0\",finished_reason=\"stop\"}} +Inf\n\
         vllm:num_preemptions_total{{engine=\"0\"}} -Inf\n\
         # TYPE vllm:e2e_request_latency_seconds histogram\n\
         vllm:e2e_request_latency_seconds_bucket{{engine=\"0\",le=\"1.0\"}} {n}\n\
         vllm:e2e_request_latency_seconds_bucket{{engine=\"0\",le=\"+Inf\"}} {n}\n\
         vllm:e2e_request_latency_seconds_count{{engine=\"0\"}} {n}\n\
         vllm:e2e_request_latency_seconds_sum{{engine=\"0\"}} NaN\n\
         vllm:time_to_first_token_seconds_bucket{{engine=\"0\",le=\"0.1\"}} {n}\n\
         vllm:time_to_first_token_seconds_bucket{{engine=\"0\",le=\"+Inf\"}} {n}\n\
         vllm:time_to_first_token_seconds_count{{engine=\"0\"}} {n}\n\
         vllm:time_to_first_token_seconds_sum{{engine=\"0\"}} +Inf\n\
         vllm:inter_token_latency_seconds_bucket{{engine=\"0\",le=\"0.1\"}} {n}\n\
         vllm:inter_token_latency_seconds_bucket{{engine=\"0\",le=\"+Inf\"}} {n}\n\
         vllm:inter_token_latency_seconds_count{{engine=\"0\"}} {n}\n\
         vllm:inter_token_latency_seconds_sum{{engine=\"0\"}} -Inf\n\
         vllm:request_prefill_time_seconds_bucket{{engine=\"0\",le=\"0.1\"}} NaN\n\
         vllm:request_prefill_time_seconds_bucket{{engine=\"0\",le=\"+Inf\"}} {n}\n\
         vllm:request_prefill_time_seconds_count{{engine=\"0\"}} {n}\n\
         vllm:request_prefill_time_seconds_sum{{engine=\"0\"}} 0.5\n\
         vllm:request_queue_time_seconds_bucket{{engine=\"0\",le=\"0.3\"}} {n}\n\
         vllm:request_queue_time_seconds_bucket{{engine=\"0\",le=\"+Inf\"}} {n}\n\
         vllm:request_queue_time_seconds_count{{engine=\"0\"}} {n}\n\
         vllm:request_queue_time_seconds_sum{{engine=\"0\"}} {queue_sum}\n"
    )
}

/// A loopback `/metrics` (port 0) answering [`hostile_body`] with a growing `n`; keeps
/// connections alive. Returns its base URL.
async fn hostile_metrics_server() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let count = Arc::new(AtomicU64::new(1));
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let count = Arc::clone(&count);
            tokio::spawn(async move {
                let mut pending = Vec::new();
                while common::read_head(&mut socket, &mut pending).await.is_some() {
                    let body = hostile_body(count.fetch_add(1, Ordering::Relaxed));
                    let answer = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: text/plain; version=0.0.4\r\ncontent-length: {}\r\n\r\n{body}",
                        body.len()
                    );
                    if socket.write_all(answer.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    format!("http://{addr}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nan_and_inf_on_metrics_leave_a_readable_run_folder() {
    let sim = common::fixed_sim().await;
    let metrics = hostile_metrics_server().await;
    let out = tempfile::tempdir().unwrap();
    let mut config = common::config(&sim.base_url(), out.path(), &[1.0, 2.0], 0.5);
    config.warmup = Duration::from_millis(200);
    config.poll_interval = Duration::from_millis(100);
    config.target.metrics_url = Some(format!("{metrics}/metrics"));
    let outcome = common::run(config).await;
    let dir = &outcome.run_dir;

    // vllm_metrics.csv: rows for the scrapes, never NaN or inf text, finite values kept.
    let csv = std::fs::read_to_string(dir.join(files::VLLM_METRICS)).unwrap();
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert!(rows.len() >= 5, "{csv}");
    let column = |name: &str| header.iter().position(|c| *c == name).unwrap();
    for row in &rows {
        assert_eq!(row.len(), header.len(), "{row:?}");
        for cell in row {
            let lower = cell.to_ascii_lowercase();
            assert!(!lower.contains("nan") && !lower.contains("inf"), "{row:?}");
        }
        for empty in [
            "requests_waiting",
            "kv_cache_usage",
            "prompt_tokens_total",
            "request_success_total",
            "preemptions_total",
            "e2e_sum_s",
            "ttft_sum_s",
            "itl_sum_s",
        ] {
            assert_eq!(row[column(empty)], "", "{empty} in {row:?}");
        }
        assert!(
            !row[column("generation_tokens_total")].is_empty(),
            "{row:?}"
        );
        assert!(!row[column("e2e_count")].is_empty(), "{row:?}");
    }
    // NaN on every other scrape: some rows have it, some an empty cell.
    let running = column("requests_running");
    assert!(rows.iter().any(|r| r[running] == "2"), "{csv}");
    assert!(rows.iter().any(|r| r[running].is_empty()), "{csv}");

    // The tool's own readers take the folder back.
    let summary = loadtest_run::read_step_summary(dir).unwrap();
    let deltas = loadtest_run::read_step_deltas(dir).unwrap();
    assert_eq!(summary.steps.len(), 2);
    assert_eq!(deltas.steps.len(), 2);
    for (step, entry) in summary.steps.iter().zip(&deltas.steps) {
        let d = &entry.deltas;
        // Left out: every non-finite counter, gauge and histogram …
        for m in [
            ScalarMetric::PromptTokensTotal,
            ScalarMetric::RequestSuccessTotal,
            ScalarMetric::PreemptionsTotal,
        ] {
            assert!(d.counter(m).is_none(), "{m:?}");
        }
        assert!(d.gauge(ScalarMetric::RequestsWaiting).is_none());
        assert!(d.gauge(ScalarMetric::KvCacheUsage).is_none());
        for m in [
            HistogramMetric::E2e,
            HistogramMetric::Ttft,
            HistogramMetric::Itl,
            HistogramMetric::Prefill,
        ] {
            assert!(d.histogram(m).is_none(), "{m:?}");
        }
        // … the finite ones kept.
        assert!(d.counter(ScalarMetric::GenerationTokensTotal).is_some());
        assert!(d.histogram(HistogramMetric::Queue).is_some());
        let server = step.server.as_ref().unwrap();
        assert!(server.generation_tokens_per_s.is_some_and(|r| r > 0.0));
        assert_eq!(server.requests_per_s, None);
        assert_eq!(server.prompt_tokens_per_s, None);
        assert!(server.queue_s.is_some());
        assert_eq!(
            (server.ttft_s, server.e2e_s, server.itl_s),
            (None, None, None)
        );
        // NaN running samples left out of the gauge; the finite ones give its statistics.
        assert_eq!(server.running_max, Some(2.0));
    }

    // The report was rendered: summary.md and charts.
    assert!(dir.join("summary.md").is_file());
    let charts: Vec<_> = std::fs::read_dir(dir.join("charts"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(charts.iter().any(|c| c.ends_with(".svg")), "{charts:?}");

    // One warning names what was left out.
    let warning: Vec<&String> = summary
        .warnings
        .iter()
        .filter(|w| w.contains("non-finite values (NaN/Inf)"))
        .collect();
    assert_eq!(warning.len(), 1, "{:?}", summary.warnings);
    let warning = warning[0];
    assert!(warning.starts_with("/metrics reported "), "{warning}");
    for name in [
        "requests_running",
        "requests_waiting",
        "kv_cache_usage",
        "prompt_tokens_total",
        "request_success_total",
        "preemptions_total",
        "ttft_s",
        "itl_s",
        "e2e_s",
        "prefill_s",
    ] {
        assert!(warning.contains(name), "{name}: {warning}");
    }
    for name in ["generation_tokens_total", "queue_s"] {
        assert!(!warning.contains(name), "{name}: {warning}");
    }
    assert!(outcome.warnings.contains(warning));
    sim.shutdown().await;
}
