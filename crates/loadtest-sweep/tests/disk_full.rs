//! A disk that fills during the run (issue 20), simulated by the output files' test hook:
//! the rows that could not be written are counted, per step, in step_summary.json and in the
//! outcome (the CLI exits 2 on it), and a warning names the file. Its own test binary: the
//! hook is process-wide.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_that_could_not_be_written_are_counted_and_reported() {
    let sim = common::fixed_sim().await;
    let out = tempfile::tempdir().unwrap();
    let config = common::config(&sim.base_url(), out.path(), &[2.0], 0.6);
    loadtest_sweep::inject_write_failure("requests.jsonl", 5);
    let outcome = common::run(config).await;
    let lost = outcome.rows_not_written();
    assert!(lost > 0, "{outcome:?}");
    // The file holds exactly the rows the outcome says were written, whole lines only.
    let rows = common::rows(&outcome.run_dir);
    assert_eq!(rows.len() as u64, outcome.rows_written);
    assert!(outcome.rows_written <= 5);
    // Every request is either a row or counted as not written.
    let summary = common::json(&outcome.run_dir, "step_summary.json");
    let step = &summary["steps"][0];
    assert_eq!(step["rows_not_written"].as_u64(), Some(lost), "{step}");
    let started = step["counts"]["started"].as_u64().unwrap();
    assert!(started > 0);
    let warning = summary["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|w| w.as_str())
        .find(|w| w.starts_with("requests.jsonl is incomplete"))
        .unwrap_or_else(|| panic!("no warning: {summary}"));
    assert!(
        warning.contains(&format!("{lost} row(s) not written")),
        "{warning}"
    );
    assert!(warning.contains("No space left on device"), "{warning}");
}
