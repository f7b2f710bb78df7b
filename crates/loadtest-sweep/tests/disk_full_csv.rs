//! A disk that fills while vllm_metrics.csv is written (issue 20): the lost rows are counted
//! in the outcome (the CLI exits 2 on them) and named in a warning. Its own test binary: the
//! output files' failure hook is process-wide.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_csv_rows_are_counted_and_reported() {
    let sim = common::fixed_sim().await;
    let out = tempfile::tempdir().unwrap();
    // 0.25 s polls over a 0.5 s warmup and a 1 s window: a dozen scrape rows; the third fails.
    let config = common::config(&sim.base_url(), out.path(), &[2.0], 1.0);
    loadtest_sweep::inject_write_failure("vllm_metrics.csv", 2);
    let outcome = common::run(config).await;
    assert!(outcome.csv_rows_not_written > 0, "{outcome:?}");
    // requests.jsonl is whole: only the CSV lost rows.
    assert_eq!(outcome.rows_not_written(), 0);
    let csv = std::fs::read_to_string(outcome.run_dir.join("vllm_metrics.csv")).unwrap();
    assert!(csv.lines().count() <= 3, "header + at most 2 rows:\n{csv}");
    let warning = outcome
        .warnings
        .iter()
        .find(|w| w.starts_with("vllm_metrics.csv is incomplete"))
        .unwrap_or_else(|| panic!("no warning: {:?}", outcome.warnings));
    assert!(
        warning.contains(&format!(
            "{} row(s) not written",
            outcome.csv_rows_not_written
        )),
        "{warning}"
    );
    sim.shutdown().await;
}
